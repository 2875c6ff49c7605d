package readmodel

import (
	"slices"
	"strings"

	"github.com/govmatch/govmatch/pkg/refdata"
	"github.com/govmatch/govmatch/pkg/tags"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/score"
)

// Product facts that nice-to-have requirements ask for (see NeedQuery):
// factOpenSource is "yes" for a vendor with an open-source product, and
// factHosting+h is "yes" for each hosting h of its products.
const (
	factOpenSource = "open_source"
	factHosting    = "hosting_"
	factYes        = "yes"
)

// hostingNames are the requirement values of the products' hostings; a
// product hosted in Germany is hosted in the EU too.
var hostingNames = map[vendorsv1.Product_Hosting][]string{
	vendorsv1.Product_HOSTING_GERMANY:     {"germany", "eu"},
	vendorsv1.Product_HOSTING_EU:          {"eu"},
	vendorsv1.Product_HOSTING_ON_PREMISES: {"on_premises"},
}

// vendorFromProto is what matching reads of a vendor. Products add their
// names and descriptions to the text, and the first stated licence becomes
// the "licence" product fact; open source and hosting become facts too.
func vendorFromProto(v *vendorsv1.Vendor) match.Vendor {
	id := strings.TrimPrefix(v.GetName(), "vendors/")
	desc := []string{v.GetDescription()}
	facts := map[string]string{}
	open := false
	var hosting []string
	for _, p := range v.GetProducts() {
		desc = append(desc, p.GetDisplayName(), p.GetDescription())
		open = open || p.GetOpenSource()
		if l := p.GetLicence(); l != "" && facts["licence"] == "" {
			facts["licence"] = l
		}
		for _, h := range hostingNames[p.GetHosting()] {
			if !slices.Contains(hosting, h) {
				hosting = append(hosting, h)
				facts[factHosting+h] = factYes
			}
		}
	}
	if open {
		facts[factOpenSource] = factYes
	}
	if len(facts) == 0 {
		facts = nil
	}
	regions := v.GetRegionsServed()
	if v.GetNationwide() {
		regions = append(append([]string(nil), regions...), "DE")
	}
	var keys []string
	for _, r := range regions {
		// The registry accepts only known regions; the scorer rejects a
		// vendor with another, so skipping one here changes nothing.
		if k, err := refdata.RegionFilterKey(r); err == nil {
			keys = append(keys, k)
		}
	}
	return match.Vendor{
		ID:         id,
		Kind:       v.GetKind().String(),
		OpenSource: open,
		Remote:     v.GetRemote(),
		RegionKeys: keys,
		Hosting:    hosting,
		Profile: score.Vendor{
			ID:             id,
			Name:           v.GetDisplayName(),
			Description:    joinNonEmpty(desc),
			Capabilities:   v.GetCapabilities(),
			Certifications: v.GetCertifications(),
			CPVCodes:       v.GetCpvCodes(),
			Regions:        regions,
			ProductFacts:   facts,
		},
	}
}

// needFromProto is what matching reads of a need, as a query (match.Need)
// and as a document of the needs index. The scorer takes one region: the
// first place of performance, which the registry keeps as the main one.
func needFromProto(n *needsv1.Need) (match.Need, score.Vendor) {
	mn := MatchNeed(n)
	q := mn.Profile
	return mn, score.Vendor{
		ID:             mn.ID,
		Name:           q.Title,
		Description:    q.Description,
		Certifications: q.Certifications,
		CPVCodes:       q.CPVCodes,
		Regions:        n.GetPlacesOfPerformance(),
	}
}

// MatchNeed is a need as matching sees it: its scoring query (NeedQuery)
// and its must-have requirements. grpcserver uses it for previews too, so
// a preview scores and leaves out vendors exactly as the saved need will.
func MatchNeed(n *needsv1.Need) match.Need {
	mn := match.Need{
		ID:        strings.TrimPrefix(n.GetName(), "needs/"),
		OwnerOrg:  n.GetOwnerOrganization(),
		Draft:     n.GetState() == needsv1.Need_STATE_DRAFT,
		Published: n.GetState() == needsv1.Need_STATE_PUBLISHED,
		Profile:   NeedQuery(n),
	}
	for _, r := range n.GetRequirements() {
		if !r.GetMustHave() || !knownKind(r.GetKind()) {
			continue
		}
		mr := match.Requirement{Kind: match.RequirementKind(r.GetKind()), Value: RequirementValue(r)}
		if r.GetKind() == needsv1.Requirement_KIND_SERVES_REGION {
			mr.Places, mr.Remote = n.GetPlacesOfPerformance(), n.GetRemotePossible()
		}
		mn.MustHave = append(mn.MustHave, mr)
	}
	return mn
}

// NeedQuery is a need's profile as a scoring query: its text, codes and
// main place, and the nice-to-have requirements, which add points.
// required_certifications count as nice-to-have certifications and
// open_source_required as a nice-to-have open source requirement. A
// nice-to-have KIND_SERVES_REGION adds nothing: the region component
// already scores the main place whenever there is one.
func NeedQuery(n *needsv1.Need) score.Need {
	var region string
	if p := n.GetPlacesOfPerformance(); len(p) > 0 {
		region = p[0]
	}
	q := score.Need{
		Title:          n.GetTitle(),
		Description:    joinNonEmpty(append([]string{n.GetProblemStatement()}, n.GetDesiredOutcomes()...)),
		CPVCodes:       n.GetCpvCodes(),
		Certifications: n.GetRequiredCertifications(),
		Region:         region,
	}
	facts := map[string]string{}
	if n.GetOpenSourceRequired() {
		facts[factOpenSource] = factYes
	}
	for _, r := range n.GetRequirements() {
		if r.GetMustHave() {
			continue
		}
		v := RequirementValue(r)
		switch r.GetKind() {
		case needsv1.Requirement_KIND_CERTIFICATION:
			if !slices.Contains(q.Certifications, v) {
				q.Certifications = append(slices.Clip(q.Certifications), v)
			}
		case needsv1.Requirement_KIND_CAPABILITY:
			if !slices.Contains(q.Capabilities, v) {
				q.Capabilities = append(q.Capabilities, v)
			}
		case needsv1.Requirement_KIND_OPEN_SOURCE:
			facts[factOpenSource] = factYes
		case needsv1.Requirement_KIND_HOSTING:
			facts[factHosting+v] = factYes
		}
	}
	if len(facts) > 0 {
		q.ProductFacts = facts
	}
	return q
}

func knownKind(k needsv1.Requirement_Kind) bool {
	return k > needsv1.Requirement_KIND_UNSPECIFIED && k <= needsv1.Requirement_KIND_HOSTING
}

// RequirementValue is r's value in the form the needs registry stores it,
// so that a preview's unnormalised values behave like a saved need's.
func RequirementValue(r *needsv1.Requirement) string {
	v := r.GetValue()
	switch r.GetKind() {
	case needsv1.Requirement_KIND_CERTIFICATION, needsv1.Requirement_KIND_CAPABILITY:
		if t, err := tags.Normalize(v, maxTagLen); err == nil {
			return t
		}
	case needsv1.Requirement_KIND_HOSTING:
		return strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(v)))
	}
	return v
}

// maxTagLen bounds a normalised requirement value; the registry allows 64
// characters, so this only guards a preview.
const maxTagLen = 200

func joinNonEmpty(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p)
		}
	}
	return b.String()
}
