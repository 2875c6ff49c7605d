package readmodel

import (
	"strings"

	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/score"
)

// vendorFromProto is what matching reads of a vendor. Products add their
// names and descriptions to the text, and the first stated licence becomes
// the "licence" product fact.
func vendorFromProto(v *vendorsv1.Vendor) match.Vendor {
	id := strings.TrimPrefix(v.GetName(), "vendors/")
	desc := []string{v.GetDescription()}
	var facts map[string]string
	open := false
	for _, p := range v.GetProducts() {
		desc = append(desc, p.GetDisplayName(), p.GetDescription())
		open = open || p.GetOpenSource()
		if l := p.GetLicence(); l != "" && facts == nil {
			facts = map[string]string{"licence": l}
		}
	}
	regions := v.GetRegionsServed()
	if v.GetNationwide() {
		regions = append(append([]string(nil), regions...), "DE")
	}
	return match.Vendor{
		ID:         id,
		Kind:       v.GetKind().String(),
		OpenSource: open,
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
	id := strings.TrimPrefix(n.GetName(), "needs/")
	q := NeedQuery(n)
	return match.Need{
			ID:        id,
			OwnerOrg:  n.GetOwnerOrganization(),
			Draft:     n.GetState() == needsv1.Need_STATE_DRAFT,
			Published: n.GetState() == needsv1.Need_STATE_PUBLISHED,
			Profile:   q,
		}, score.Vendor{
			ID:             id,
			Name:           q.Title,
			Description:    q.Description,
			Certifications: q.Certifications,
			CPVCodes:       q.CPVCodes,
			Regions:        n.GetPlacesOfPerformance(),
		}
}

// NeedQuery is a need's profile as a scoring query; grpcserver uses it for
// previews too, so a preview scores exactly as the saved need will.
func NeedQuery(n *needsv1.Need) score.Need {
	var region string
	if p := n.GetPlacesOfPerformance(); len(p) > 0 {
		region = p[0]
	}
	return score.Need{
		Title:          n.GetTitle(),
		Description:    joinNonEmpty(append([]string{n.GetProblemStatement()}, n.GetDesiredOutcomes()...)),
		CPVCodes:       n.GetCpvCodes(),
		Certifications: n.GetRequiredCertifications(),
		Region:         region,
	}
}

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
