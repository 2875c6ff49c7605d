package match

import (
	"slices"

	"github.com/govmatch/govmatch/pkg/refdata"
	"github.com/govmatch/govmatch/services/matching/score"
)

// requirementCheck is a must-have requirement prepared for testing many
// vendors. Certifications and capabilities compare by score.CertKey: must-have
// certifications also go to score.Filters, so the two must agree.
type requirementCheck struct {
	Requirement
	key    string          // score.CertKey of Value, for certifications and capabilities
	region map[string]bool // refdata.RegionKeys of the places; nil: anywhere
}

func prepareChecks(must []Requirement) []requirementCheck {
	cs := make([]requirementCheck, len(must))
	for i, r := range must {
		c := requirementCheck{Requirement: r, key: score.CertKey(r.Value)}
		if r.Kind == RequireServesRegion && len(r.Places) > 0 {
			c.region = map[string]bool{}
			for _, p := range r.Places {
				for _, k := range refdata.RegionKeys(p) {
					c.region[k] = true
				}
			}
		}
		cs[i] = c
	}
	return cs
}

// met reports whether v meets the requirement.
func (c *requirementCheck) met(v *Vendor) bool {
	switch c.Kind {
	case RequireCertification:
		return slices.ContainsFunc(v.Profile.Certifications, func(s string) bool { return score.CertKey(s) == c.key })
	case RequireCapability:
		return slices.ContainsFunc(v.Profile.Capabilities, func(s string) bool { return score.CertKey(s) == c.key })
	case RequireServesRegion:
		if c.region == nil || c.Remote && v.Remote {
			return true
		}
		// A vendor serving a region serves every place in it; "DE" is
		// nationwide.
		return slices.ContainsFunc(v.RegionKeys, func(k string) bool { return k == "DE" || c.region[k] })
	case RequireOpenSource:
		return v.OpenSource
	case RequireHosting:
		return slices.Contains(v.Hosting, c.Value)
	}
	return true // an unknown kind excludes nobody; the edges reject it
}

func metAll(cs []requirementCheck, v *Vendor) bool {
	for i := range cs {
		if !cs[i].met(v) {
			return false
		}
	}
	return true
}

// leftOut counts, over every vendor of the index, those that lack each
// requirement and those that lack any.
func (s *Service) leftOut(cs []requirementCheck) ([]LeftOut, int) {
	if len(cs) == 0 {
		return nil, 0
	}
	out := make([]LeftOut, len(cs))
	for i, c := range cs {
		out[i].Requirement = c.Requirement
	}
	total := 0
	s.idx.EachVendor(func(v Vendor) bool {
		lacks := false
		for i := range cs {
			if !cs[i].met(&v) {
				out[i].Count++
				lacks = true
			}
		}
		if lacks {
			total++
		}
		return true
	})
	return out, total
}

// mustHaveCertifications are the certifications among the requirements,
// for score.Filters.
func mustHaveCertifications(must []Requirement) []string {
	var out []string
	for _, r := range must {
		if r.Kind == RequireCertification {
			out = append(out, r.Value)
		}
	}
	return out
}
