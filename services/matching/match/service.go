package match

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/pagetoken"
	"github.com/govmatch/govmatch/services/matching/score"
)

// Page sizes.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// maxOffset bounds how deep a client can page, and so the work one
	// request can ask of the scorer.
	maxOffset = 10_000
)

// Service answers matching queries from an Index.
type Service struct {
	idx Index
}

var _ Ranker = (*Service)(nil)

// NewService returns a Service on idx.
func NewService(idx Index) *Service { return &Service{idx: idx} }

func needNotFound(id string) error {
	return errdefs.NotFound("need %q not found", "needs/"+id)
}

// visibleNeed returns the need with id if the caller may match it: drafts
// only for members of the owning organisation (and admins), as in the
// needs registry; to anybody else a draft does not exist.
func (s *Service) visibleNeed(ctx context.Context, id string) (Need, error) {
	n, ok := s.idx.Need(id)
	if !ok {
		return Need{}, needNotFound(id)
	}
	if n.Draft {
		p := identity.FromContext(ctx)
		if !p.IsAdmin() && (p.Org == "" || p.Org != n.OwnerOrg) {
			return Need{}, needNotFound(id)
		}
	}
	return n, nil
}

// ready refuses to answer from an index still being built.
func (s *Service) ready() error {
	if !s.idx.Ready() {
		return errdefs.Unavailable("the matching index is being built; retry in a few seconds")
	}
	return nil
}

// NeedMatches ranks the vendors for a stored need.
func (s *Service) NeedMatches(ctx context.Context, needID string, q Query) (Page, error) {
	if err := s.ready(); err != nil {
		return Page{}, err
	}
	n, err := s.visibleNeed(ctx, needID)
	if err != nil {
		return Page{}, err
	}
	return s.vendorPage(ctx, "need:"+needID, n, q)
}

// Preview ranks the vendors for an unsaved need, with its must-have
// requirements, exactly as NeedMatches will once it is saved. It needs a
// signed-in caller: it is the most expensive query and has no resource to
// cache by.
func (s *Service) Preview(ctx context.Context, n Need, q Query) (Page, error) {
	if err := s.ready(); err != nil {
		return Page{}, err
	}
	if !identity.FromContext(ctx).Authenticated() {
		return Page{}, errdefs.Unauthenticated("previewing matches needs a signed-in caller")
	}
	if strings.TrimSpace(n.Profile.Title+n.Profile.Description) == "" && len(n.Profile.CPVCodes) == 0 {
		return Page{}, errdefs.Invalid("need", "needs a title, a problem statement or CPV codes")
	}
	b, err := json.Marshal(struct {
		P score.Need
		M []Requirement
	}{n.Profile, n.MustHave})
	if err != nil {
		return Page{}, fmt.Errorf("preview fingerprint: %w", err)
	}
	return s.vendorPage(ctx, "preview:"+string(b), n, q)
}

// VendorMatches ranks the published needs for a vendor. The vendor's
// profile is the query, so text and CPV codes count; capabilities,
// certifications and regions are a need's requirements and have no
// counterpart on this side. Needs with a must-have requirement the vendor
// lacks are left out, as the vendor is left out of theirs: a vendor should
// not be pointed to needs it cannot qualify for.
func (s *Service) VendorMatches(ctx context.Context, vendorID string, q Query) (Page, error) {
	if err := s.ready(); err != nil {
		return Page{}, err
	}
	v, ok := s.idx.Vendor(vendorID)
	if !ok {
		return Page{}, errdefs.NotFound("vendor %q not found", "vendors/"+vendorID)
	}
	qualifies := func(id string) bool {
		n, ok := s.idx.Need(id)
		return ok && metAll(prepareChecks(n.MustHave), &v)
	}
	return s.needPage(ctx, "vendor:"+vendorID, VendorQuery(v.Profile), qualifies, q)
}

// SimilarNeeds ranks the published needs like a need, without the need.
func (s *Service) SimilarNeeds(ctx context.Context, needID string, q Query) (Page, error) {
	if err := s.ready(); err != nil {
		return Page{}, err
	}
	n, err := s.visibleNeed(ctx, needID)
	if err != nil {
		return Page{}, err
	}
	return s.needPage(ctx, "similar:"+needID, n.Profile, func(id string) bool { return id != needID }, q)
}

// VendorQuery turns a vendor's profile into a query against needs.
func VendorQuery(v score.Vendor) score.Need {
	desc := v.Description
	if len(v.Capabilities) > 0 {
		desc += "\n" + strings.Join(v.Capabilities, "\n")
	}
	return score.Need{Title: v.Name, Description: desc, CPVCodes: v.CPVCodes}
}

// vendorPage ranks the vendors for n. Vendors lacking a must-have
// requirement are dropped like filtered ones, and counted over the whole
// index.
func (s *Service) vendorPage(ctx context.Context, subject string, n Need, q Query) (Page, error) {
	p, err := parseQuery(ctx, subject, q, true)
	if err != nil {
		return Page{}, err
	}
	checks := prepareChecks(n.MustHave)
	var keep func(string) bool
	if len(q.Filters.VendorKinds) > 0 || q.Filters.OpenSource || len(checks) > 0 {
		keep = func(id string) bool {
			v, ok := s.idx.Vendor(id)
			return ok && (len(q.Filters.VendorKinds) == 0 || slices.Contains(q.Filters.VendorKinds, v.Kind)) &&
				(!q.Filters.OpenSource || v.OpenSource) && metAll(checks, &v)
		}
	}
	f := score.Filters{Regions: q.Filters.Regions, Certifications: q.Filters.Certifications}
	if must := mustHaveCertifications(n.MustHave); len(must) > 0 {
		f.Certifications = append(slices.Clone(f.Certifications), must...)
	}
	out, err := s.page(p, keep, func(k int) ([]score.Result, error) { return s.idx.RankVendors(n.Profile, k, f) })
	if err != nil {
		return Page{}, err
	}
	out.LeftOut, out.LeftOutTotal = s.leftOut(checks)
	return out, nil
}

func (s *Service) needPage(ctx context.Context, subject string, n score.Need, keep func(string) bool, q Query) (Page, error) {
	p, err := parseQuery(ctx, subject, q, false)
	if err != nil {
		return Page{}, err
	}
	f := score.Filters{Regions: q.Filters.Regions}
	return s.page(p, keep, func(k int) ([]score.Result, error) { return s.idx.RankNeeds(n, k, f) })
}

// page ranks enough results for the page p asks for, drops those keep
// rejects and cuts the page out. While keep leaves the page short and the
// ranking had more, it ranks again with twice as many: a filter that drops
// few results costs little more than the page, one that drops most costs
// about two full rankings, never a rejected result too many.
func (s *Service) page(p pageReq, keep func(string) bool, rank func(k int) ([]score.Result, error)) (Page, error) {
	out := Page{WeightsVersion: s.idx.WeightsVersion()}
	want := p.offset + p.size + 1 // one more tells whether a next page exists
	var rs []score.Result
	for k := want; ; k *= 2 {
		ranked, err := rank(k)
		if err != nil {
			if errors.Is(err, score.ErrInvalidNeed) {
				// The query's codes or region, or a filter region, are not
				// known to the scorer; its message names the value.
				field, msg := "need", strings.TrimPrefix(err.Error(), "score: invalid need: ")
				if rest, ok := strings.CutPrefix(msg, "filter: "); ok {
					field, msg = "filter.regions", rest
				}
				return Page{}, errdefs.Invalid(field, "cannot be matched: %s", msg)
			}
			return Page{}, fmt.Errorf("rank: %w", err)
		}
		rs = ranked
		if keep != nil {
			rs = slices.DeleteFunc(rs, func(r score.Result) bool { return !keep(r.VendorID) })
		}
		if len(rs) >= want || len(ranked) < k {
			break
		}
	}
	if p.offset >= len(rs) {
		return out, nil
	}
	end := min(p.offset+p.size, len(rs))
	for _, r := range rs[p.offset:end] {
		out.Results = append(out.Results, Result{ID: r.VendorID, Score: r.Score, Explanation: r.Explanation})
	}
	if end < len(rs) && end < maxOffset {
		out.NextPageToken, _ = pagetoken.Encode(pageToken{Offset: end, Query: p.fingerprint}) // cannot fail for this type
	}
	return out, nil
}

type pageReq struct {
	size, offset int
	fingerprint  string
}

// pageToken is what a next_page_token holds: where the next page starts,
// and a fingerprint of the query it belongs to, so a token cannot be
// replayed against another query (or by another organisation, who may see
// other drafts).
type pageToken struct {
	Offset int    `json:"o"`
	Query  string `json:"q"`
}

func parseQuery(ctx context.Context, subject string, q Query, vendors bool) (pageReq, error) {
	var v errdefs.Violations
	size := q.PageSize
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0 || size > MaxPageSize:
		v.Add("page_size", "must be between 1 and %d, got %d", MaxPageSize, size)
	}
	f := q.Filters
	for i, r := range f.Regions {
		if strings.TrimSpace(r) == "" {
			v.Add(fmt.Sprintf("filter.regions[%d]", i), "must not be empty")
		}
	}
	for i, c := range f.Certifications {
		if strings.TrimSpace(c) == "" {
			v.Add(fmt.Sprintf("filter.certifications[%d]", i), "must not be empty")
		}
	}
	if !vendors {
		if len(f.VendorKinds) > 0 {
			v.Add("filter.vendor_kinds", "applies to vendor results only")
		}
		if f.OpenSource {
			v.Add("filter.open_source", "applies to vendor results only")
		}
		if len(f.Certifications) > 0 {
			v.Add("filter.certifications", "applies to vendor results only")
		}
	}
	for i, k := range f.VendorKinds {
		if k == "" {
			v.Add(fmt.Sprintf("filter.vendor_kinds[%d]", i), "must be a kind")
		}
	}
	fp := fingerprint(identity.FromContext(ctx).Org, subject, f)
	p := pageReq{size: size, fingerprint: fp}
	if q.PageToken != "" {
		var t pageToken
		switch {
		case pagetoken.Decode(q.PageToken, &t) != nil || t.Offset < 0 || t.Offset > maxOffset:
			v.Add("page_token", "is not a valid page token")
		case t.Query != fp:
			v.Add("page_token", "belongs to another query; keep the other fields the same between pages")
		default:
			p.offset = t.Offset
		}
	}
	if err := v.Err(); err != nil {
		return pageReq{}, err
	}
	return p, nil
}

func fingerprint(org, subject string, f Filters) string {
	return pagetoken.Fingerprint(struct {
		Org, Subject string
		F            Filters
	}{org, subject, f})
}
