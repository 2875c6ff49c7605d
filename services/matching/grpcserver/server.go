// Package grpcserver is matching's gRPC edge: it turns protobuf requests
// into match calls and ranked results back into protobuf. Errors are
// returned as they are; pkg/grpcx maps them to statuses once.
package grpcserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/govmatch/govmatch/pkg/conditional"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/refdata"
	matchingv1 "github.com/govmatch/govmatch/proto/govmatch/matching/v1"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/readmodel"
	"github.com/govmatch/govmatch/services/matching/score"
)

// Server implements matchingv1.MatchingServiceServer on a match.Ranker.
type Server struct {
	matchingv1.UnimplementedMatchingServiceServer
	svc match.Ranker
}

var _ matchingv1.MatchingServiceServer = (*Server)(nil)

// New returns a Server for svc.
func New(svc match.Ranker) *Server { return &Server{svc: svc} }

// parseName returns the id of "{collection}/{id}".
func parseName(field, collection, name string) (string, error) {
	id, ok := strings.CutPrefix(name, collection+"/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", errdefs.Invalid(field, "must be of the form %s/{%s}, got %q", collection, strings.TrimSuffix(collection, "s"), name)
	}
	return id, nil
}

// pageRequest is what every request has in common.
type pageRequest interface {
	GetPageSize() int32
	GetPageToken() string
	GetFilter() *matchingv1.MatchFilter
	GetView() matchingv1.MatchView
}

// basicEvidence is how many pieces of evidence per component the basic
// view lists: the strongest reasons, enough for a list; the full view has
// them all.
const basicEvidence = 5

// viewFromProto checks a request's view and returns how many pieces of
// evidence per component to list (0: all).
func viewFromProto(r pageRequest) (int, error) {
	switch r.GetView() {
	case matchingv1.MatchView_MATCH_VIEW_UNSPECIFIED, matchingv1.MatchView_MATCH_VIEW_BASIC:
		return basicEvidence, nil
	case matchingv1.MatchView_MATCH_VIEW_FULL:
		return 0, nil
	}
	return 0, errdefs.Invalid("view", "must be MATCH_VIEW_BASIC or MATCH_VIEW_FULL, got %d", r.GetView())
}

// Limits on a filter. Every value is normalised and checked against the
// candidates, so an unbounded list would make a small request expensive to
// rank. The limits are the registries' own for their list filters and
// tags, which no sensible filter comes near.
const (
	// MaxFilterValues is the most values of one repeated filter field.
	MaxFilterValues = 20
	// MaxFilterValueLen is the most characters of one value: longer than
	// any region code, region name or certification tag.
	MaxFilterValueLen = 64
)

// checkFilterLimits bounds the lists of a filter before anything reads
// them.
func checkFilterLimits(f *matchingv1.MatchFilter) error {
	var v errdefs.Violations
	lists := []struct {
		field  string
		n      int
		values []string
	}{
		{"filter.vendor_kinds", len(f.GetVendorKinds()), nil},
		{"filter.regions", len(f.GetRegions()), f.GetRegions()},
		{"filter.certifications", len(f.GetCertifications()), f.GetCertifications()},
	}
	for _, l := range lists {
		if l.n > MaxFilterValues {
			v.Add(l.field, "at most %d values, got %d", MaxFilterValues, l.n)
			continue
		}
		for i, s := range l.values {
			if n := utf8.RuneCountInString(s); n > MaxFilterValueLen {
				v.Add(fmt.Sprintf("%s[%d]", l.field, i), "at most %d characters, got %d", MaxFilterValueLen, n)
			}
		}
	}
	return v.Err()
}

func queryFromProto(r pageRequest) (match.Query, error) {
	f := r.GetFilter()
	if err := checkFilterLimits(f); err != nil {
		return match.Query{}, err
	}
	q := match.Query{
		PageSize:  int(r.GetPageSize()),
		PageToken: r.GetPageToken(),
		Filters: match.Filters{
			Regions:        f.GetRegions(),
			OpenSource:     f.GetOpenSource(),
			Certifications: f.GetCertifications(),
		},
	}
	var v errdefs.Violations
	for i, k := range f.GetVendorKinds() {
		if k == vendorsv1.Vendor_KIND_UNSPECIFIED {
			v.Add(fmt.Sprintf("filter.vendor_kinds[%d]", i), "must be a kind")
			continue
		}
		q.Filters.VendorKinds = append(q.Filters.VendorKinds, k.String())
	}
	return q, v.Err()
}

// ListNeedMatches implements matchingv1.MatchingServiceServer.
func (s *Server) ListNeedMatches(ctx context.Context, req *matchingv1.ListNeedMatchesRequest) (*matchingv1.ListNeedMatchesResponse, error) {
	id, err := parseName("need", "needs", req.GetNeed())
	if err != nil {
		return nil, err
	}
	q, err := queryFromProto(req)
	if err != nil {
		return nil, err
	}
	evidence, err := viewFromProto(req)
	if err != nil {
		return nil, err
	}
	p, notModified, err := conditionally(ctx, evidence, func(ctx context.Context) (match.Page, error) {
		return s.svc.NeedMatches(ctx, id, q)
	})
	if err != nil {
		return nil, err
	}
	if notModified {
		return &matchingv1.ListNeedMatchesResponse{}, nil
	}
	excluded, total := ExclusionsToProto(p)
	return &matchingv1.ListNeedMatchesResponse{
		Matches: MatchesToProto(p.Results, vendorName, evidence), NextPageToken: p.NextPageToken, WeightsVersion: p.WeightsVersion,
		Excluded: excluded, ExcludedTotal: total,
	}, nil
}

// ListVendorMatches implements matchingv1.MatchingServiceServer.
func (s *Server) ListVendorMatches(ctx context.Context, req *matchingv1.ListVendorMatchesRequest) (*matchingv1.ListVendorMatchesResponse, error) {
	id, err := parseName("vendor", "vendors", req.GetVendor())
	if err != nil {
		return nil, err
	}
	q, err := queryFromProto(req)
	if err != nil {
		return nil, err
	}
	evidence, err := viewFromProto(req)
	if err != nil {
		return nil, err
	}
	p, notModified, err := conditionally(ctx, evidence, func(ctx context.Context) (match.Page, error) {
		return s.svc.VendorMatches(ctx, id, q)
	})
	if err != nil {
		return nil, err
	}
	if notModified {
		return &matchingv1.ListVendorMatchesResponse{}, nil
	}
	return &matchingv1.ListVendorMatchesResponse{Matches: MatchesToProto(p.Results, needName, evidence), NextPageToken: p.NextPageToken, WeightsVersion: p.WeightsVersion}, nil
}

// PreviewMatches implements matchingv1.MatchingServiceServer.
func (s *Server) PreviewMatches(ctx context.Context, req *matchingv1.PreviewMatchesRequest) (*matchingv1.PreviewMatchesResponse, error) {
	if req.GetNeed() == nil {
		return nil, errdefs.Invalid("need", "is required")
	}
	q, err := queryFromProto(req)
	if err != nil {
		return nil, err
	}
	evidence, err := viewFromProto(req)
	if err != nil {
		return nil, err
	}
	need, err := previewNeed(req.GetNeed())
	if err != nil {
		return nil, err
	}
	p, notModified, err := conditionally(ctx, evidence, func(ctx context.Context) (match.Page, error) {
		return s.svc.Preview(ctx, readmodel.MatchNeed(need), q)
	})
	if err != nil {
		return nil, err
	}
	if notModified {
		return &matchingv1.PreviewMatchesResponse{}, nil
	}
	excluded, total := ExclusionsToProto(p)
	return &matchingv1.PreviewMatchesResponse{
		Matches: MatchesToProto(p.Results, vendorName, evidence), NextPageToken: p.NextPageToken, WeightsVersion: p.WeightsVersion,
		Excluded: excluded, ExcludedTotal: total,
	}, nil
}

// conditionally answers a call with rank, conditionally on the caller's
// If-None-Match (package conditional), and names the answer's content in
// the response header. A response's tag is its page's and its view's: one
// page renders differently in the two views. When the caller holds the
// answer, notModified is true and the response message stays empty.
func conditionally(ctx context.Context, evidence int, rank func(context.Context) (match.Page, error)) (p match.Page, notModified bool, err error) {
	view := "-e" + strconv.Itoa(evidence)
	if tag, ok := strings.CutSuffix(conditional.IfNoneMatch(ctx), view); ok {
		ctx = match.WithIfNoneMatch(ctx, tag)
	}
	p, err = rank(ctx)
	switch {
	case errors.Is(err, match.ErrNotModified):
		conditional.SetNotModified(ctx, p.ETag+view)
		return p, true, nil
	case err != nil:
		return p, false, err
	case p.ETag != "":
		conditional.SetETag(ctx, p.ETag+view)
	}
	return p, false, nil
}

// hostings are the values of a KIND_HOSTING requirement after
// readmodel's normalising.
var hostings = []string{"germany", "eu", "on_premises"}

// previewNeed checks a preview's need, which unlike a saved one the needs
// registry has not checked, as far as matching reads it, and returns it with
// its codes and places in the canonical form the needs registry stores:
// a draft previews with the spellings it will be saved with ("72212000-4",
// "de111").
//
// The limits are the needs registry's, so that whatever can be saved can be
// previewed, and no preview costs more to rank than a saved need.
func previewNeed(n *needsv1.Need) (*needsv1.Need, error) {
	var v errdefs.Violations
	for _, l := range []struct {
		field string
		n     int
		max   int
		what  string
	}{
		{"need.title", utf8.RuneCountInString(n.GetTitle()), 200, "characters"},
		{"need.problem_statement", utf8.RuneCountInString(n.GetProblemStatement()), 20000, "characters"},
		{"need.desired_outcomes", len(n.GetDesiredOutcomes()), 20, "outcomes"},
		{"need.cpv_codes", len(n.GetCpvCodes()), 50, "codes"},
		{"need.places_of_performance", len(n.GetPlacesOfPerformance()), 50, "places"},
		{"need.required_certifications", len(n.GetRequiredCertifications()), 30, "certifications"},
		{"need.requirements", len(n.GetRequirements()), 30, "requirements"},
	} {
		if l.n > l.max {
			v.Add(l.field, "must have at most %d %s, got %d", l.max, l.what, l.n)
		}
	}
	for i, o := range n.GetDesiredOutcomes() {
		if c := utf8.RuneCountInString(o); c > 500 {
			v.Add(fmt.Sprintf("need.desired_outcomes[%d]", i), "must have at most 500 characters, got %d", c)
		}
	}
	if v.Len() > 0 {
		return nil, v.Err()
	}
	n = proto.CloneOf(n)
	for i, c := range n.GetCpvCodes() {
		code, err := refdata.NormalizeCPV(c)
		if err != nil {
			v.Add(fmt.Sprintf("need.cpv_codes[%d]", i), "%v", err)
		}
		n.CpvCodes[i] = code
	}
	for i, p := range n.GetPlacesOfPerformance() {
		r, err := refdata.NormalizeRegion(p)
		if err != nil {
			v.Add(fmt.Sprintf("need.places_of_performance[%d]", i), "%v", err)
		}
		n.PlacesOfPerformance[i] = r.Code
	}
	checkRequirements(&v, n.GetRequirements())
	return n, v.Err()
}

// checkRequirements validates a preview's requirements.
func checkRequirements(v *errdefs.Violations, rs []*needsv1.Requirement) {
	for i, r := range rs {
		field := fmt.Sprintf("need.requirements[%d]", i)
		switch r.GetKind() {
		case needsv1.Requirement_KIND_CERTIFICATION, needsv1.Requirement_KIND_CAPABILITY:
			if strings.TrimSpace(r.GetValue()) == "" {
				v.Add(field+".value", "is required for %s", r.GetKind())
			}
		case needsv1.Requirement_KIND_HOSTING:
			if !slices.Contains(hostings, readmodel.RequirementValue(r)) {
				v.Add(field+".value", "must be one of %s", strings.Join(hostings, ", "))
			}
		case needsv1.Requirement_KIND_SERVES_REGION, needsv1.Requirement_KIND_OPEN_SOURCE:
			if r.GetValue() != "" {
				v.Add(field+".value", "must be empty for %s", r.GetKind())
			}
		default:
			v.Add(field+".kind", "must be a kind of requirement")
		}
	}
}

// ExclusionsToProto converts what a page says about the vendors its
// must-have requirements left out.
func ExclusionsToProto(p match.Page) ([]*matchingv1.Exclusion, int32) {
	var out []*matchingv1.Exclusion
	for _, l := range p.LeftOut {
		out = append(out, &matchingv1.Exclusion{
			Requirement: &needsv1.Requirement{Kind: needsv1.Requirement_Kind(l.Requirement.Kind), Value: l.Requirement.Value, MustHave: true},
			VendorCount: int32(l.Count),
		})
	}
	return out, int32(p.LeftOutTotal)
}

// ListSimilarNeeds implements matchingv1.MatchingServiceServer.
func (s *Server) ListSimilarNeeds(ctx context.Context, req *matchingv1.ListSimilarNeedsRequest) (*matchingv1.ListSimilarNeedsResponse, error) {
	id, err := parseName("need", "needs", req.GetNeed())
	if err != nil {
		return nil, err
	}
	q, err := queryFromProto(req)
	if err != nil {
		return nil, err
	}
	evidence, err := viewFromProto(req)
	if err != nil {
		return nil, err
	}
	p, notModified, err := conditionally(ctx, evidence, func(ctx context.Context) (match.Page, error) {
		return s.svc.SimilarNeeds(ctx, id, q)
	})
	if err != nil {
		return nil, err
	}
	if notModified {
		return &matchingv1.ListSimilarNeedsResponse{}, nil
	}
	return &matchingv1.ListSimilarNeedsResponse{Matches: MatchesToProto(p.Results, needName, evidence), NextPageToken: p.NextPageToken, WeightsVersion: p.WeightsVersion}, nil
}

func vendorName(id string, m *matchingv1.Match) {
	m.Target = &matchingv1.Match_Vendor{Vendor: "vendors/" + id}
}
func needName(id string, m *matchingv1.Match) { m.Target = &matchingv1.Match_Need{Need: "needs/" + id} }

// MatchesToProto converts results; name sets the result's resource name,
// and at most evidence pieces of evidence per component are listed (0:
// all).
func MatchesToProto(rs []match.Result, name func(id string, m *matchingv1.Match), evidence int) []*matchingv1.Match {
	out := make([]*matchingv1.Match, len(rs))
	for i, r := range rs {
		m := &matchingv1.Match{Score: r.Score, Explanation: ExplanationToProto(r.Explanation, evidence)}
		name(r.ID, m)
		out[i] = m
	}
	return out
}

// evidenceKind names the kind of a component's evidence.
var evidenceKind = map[string]string{
	score.ComponentText:           "term",
	score.ComponentCPV:            "cpv",
	score.ComponentCPVBridge:      "cpv",
	score.ComponentCapabilities:   "capability",
	score.ComponentCertifications: "certification",
	score.ComponentRegion:         "region",
	score.ComponentProductFacts:   "productFact",
}

// ExplanationToProto converts an explanation, listing at most evidence
// pieces of evidence per component (0: all): the strongest, in their
// original order; the others are counted in omitted_matches and
// omitted_points, so contributions still add up.
func ExplanationToProto(e score.Explanation, evidence int) *matchingv1.Explanation {
	out := &matchingv1.Explanation{
		WeightsVersion: e.WeightsVersion,
		Language:       string(e.Language),
		Components:     make([]*matchingv1.Component, len(e.Components)),
	}
	for i, c := range e.Components {
		pc := &matchingv1.Component{
			Name:            c.Component,
			Weight:          c.Weight,
			EffectiveWeight: c.Effective,
			Value:           c.Value,
			Contribution:    c.Points,
		}
		kind := evidenceKind[c.Component]
		if kind == "" {
			kind = c.Component
		}
		keep := strongest(c.Matches, evidence)
		pc.Matches = make([]*matchingv1.Evidence, 0, len(c.Matches))
		for j, m := range c.Matches {
			if keep != nil && !keep[j] {
				pc.OmittedMatches++
				pc.OmittedPoints += m.Points
				continue
			}
			pc.Matches = append(pc.Matches, &matchingv1.Evidence{
				Kind:        kind,
				QueryValue:  m.Need,
				ResultValue: m.Vendor,
				Level:       m.Level,
				Inferred:    m.Inferred,
				Points:      m.Points,
			})
		}
		out.Components[i] = pc
	}
	return out
}

// strongest marks the n matches with the most points (ties: the earlier),
// or returns nil when all are to be kept.
func strongest(ms []score.Match, n int) []bool {
	if n == 0 || len(ms) <= n {
		return nil
	}
	order := make([]int, len(ms))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ms[b].Points, ms[a].Points) })
	keep := make([]bool, len(ms))
	for _, i := range order[:n] {
		keep[i] = true
	}
	return keep
}

// ExplanationFromProto is the inverse of ExplanationToProto, for clients
// and tests.
func ExplanationFromProto(p *matchingv1.Explanation) score.Explanation {
	e := score.Explanation{WeightsVersion: p.GetWeightsVersion(), Language: score.Language(p.GetLanguage())}
	for _, pc := range p.GetComponents() {
		c := score.Contribution{
			Component: pc.GetName(),
			Weight:    pc.GetWeight(),
			Effective: pc.GetEffectiveWeight(),
			Value:     pc.GetValue(),
			Points:    pc.GetContribution(),
		}
		for _, m := range pc.GetMatches() {
			c.Matches = append(c.Matches, score.Match{
				Need:     m.GetQueryValue(),
				Vendor:   m.GetResultValue(),
				Level:    m.GetLevel(),
				Inferred: m.GetInferred(),
				Points:   m.GetPoints(),
			})
		}
		e.Components = append(e.Components, c)
	}
	return e
}
