package grpcserver_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/grpcx"
	"github.com/govmatch/govmatch/pkg/identity"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
	matchingv1 "github.com/govmatch/govmatch/proto/govmatch/matching/v1"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/grpcserver"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/readmodel"
	"github.com/govmatch/govmatch/services/matching/score"
)

const desc = "Software für Terminbuchung und Terminvergabe in Behörden und Bürgerämtern."

// newServer returns a server on a model holding three booking vendors and
// one published booking need, "needs/n1".
func newServer(t *testing.T) *grpcserver.Server {
	t.Helper()
	rm := readmodel.New(score.DefaultWeights)
	rm.MarkReady() // fed only by the events below
	h := rm.Handler()
	apply := func(agg string, p proto.Message) {
		a, err := anypb.New(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := h(context.Background(), &eventsv1.Event{Id: agg, AggregateType: "x", AggregateId: agg, AggregateVersion: 1, Payload: a}); err != nil {
			t.Fatal(err)
		}
	}
	for i, name := range []string{"alpha", "beta", "gamma"} {
		apply(name, &vendorsv1.VendorCreated{Vendor: &vendorsv1.Vendor{
			Name: "vendors/" + name, DisplayName: name, Kind: vendorsv1.Vendor_KIND_SME,
			Description: desc + fmt.Sprintf(" Seit %d.", 2000+i), CpvCodes: []string{"72212000"},
		}})
	}
	apply("n1", &needsv1.NeedPublished{Need: &needsv1.Need{
		Name: "needs/n1", OwnerOrganization: "stadt-giessen", State: needsv1.Need_STATE_PUBLISHED,
		Title: "Online-Terminbuchung", ProblemStatement: "Termine im Bürgeramt online buchen.", CpvCodes: []string{"72212000"},
	}})
	return grpcserver.New(match.NewService(rm))
}

func code(err error) codes.Code { return status.Code(grpcx.ToStatus(err)) }

func TestValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := context.Background()
	buyer := identity.NewContext(ctx, identity.Principal{Subject: "u", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}})
	tests := []struct {
		name  string
		call  func() error
		want  codes.Code
		field string
	}{
		{"bad need name", func() error {
			_, err := s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "vendors/x"})
			return err
		}, codes.InvalidArgument, "need"},
		{"page size too big", func() error {
			_, err := s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", PageSize: 101})
			return err
		}, codes.InvalidArgument, "page_size"},
		{"negative page size", func() error {
			_, err := s.ListSimilarNeeds(ctx, &matchingv1.ListSimilarNeedsRequest{Need: "needs/n1", PageSize: -1})
			return err
		}, codes.InvalidArgument, "page_size"},
		{"unspecified kind", func() error {
			_, err := s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", Filter: &matchingv1.MatchFilter{VendorKinds: []vendorsv1.Vendor_Kind{0}}})
			return err
		}, codes.InvalidArgument, "filter.vendor_kinds[0]"},
		{"vendor filter on needs", func() error {
			_, err := s.ListVendorMatches(ctx, &matchingv1.ListVendorMatchesRequest{Vendor: "vendors/alpha", Filter: &matchingv1.MatchFilter{OpenSource: true}})
			return err
		}, codes.InvalidArgument, "filter.open_source"},
		{"unknown view", func() error {
			_, err := s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", View: 7})
			return err
		}, codes.InvalidArgument, "view"},
		{"garbage token", func() error {
			_, err := s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", PageToken: "!!"})
			return err
		}, codes.InvalidArgument, "page_token"},
		{"unknown need", func() error {
			_, err := s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "needs/nope"})
			return err
		}, codes.NotFound, ""},
		{"unknown vendor", func() error {
			_, err := s.ListVendorMatches(ctx, &matchingv1.ListVendorMatchesRequest{Vendor: "vendors/nope"})
			return err
		}, codes.NotFound, ""},
		{"preview with a bad code", func() error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{Title: "x", CpvCodes: []string{"123"}}})
			return err
		}, codes.InvalidArgument, "need.cpv_codes[0]"},
		{"preview with a wrong check digit", func() error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{Title: "x", CpvCodes: []string{"72212000-4", "72212000-1"}}})
			return err
		}, codes.InvalidArgument, "need.cpv_codes[1]"},
		{"preview with too many codes", func() error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{Title: "x", CpvCodes: slices.Repeat([]string{"72212000"}, 51)}})
			return err
		}, codes.InvalidArgument, "need.cpv_codes"},
		{"preview with a long outcome", func() error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{Title: "x", DesiredOutcomes: []string{"ok", strings.Repeat("ü", 501)}}})
			return err
		}, codes.InvalidArgument, "need.desired_outcomes[1]"},
		{"preview with an unknown place", func() error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{Title: "x", PlacesOfPerformance: []string{"DE7", "XX9"}}})
			return err
		}, codes.InvalidArgument, "need.places_of_performance[1]"},
		{"preview in the registry's spellings", func() error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{
				Title: "Terminbuchung", CpvCodes: []string{" 72212000-4"}, PlacesOfPerformance: []string{"de71", "06531005"},
			}})
			return err
		}, codes.OK, ""},
		{"empty preview", func() error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{}})
			return err
		}, codes.InvalidArgument, "need"},
		{"unknown filter region", func() error {
			_, err := s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", Filter: &matchingv1.MatchFilter{Regions: []string{"XX9"}}})
			return err
		}, codes.InvalidArgument, "filter.regions"},
		{"preview with an unknown hosting", func() error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{Title: "x", Requirements: []*needsv1.Requirement{
				{Kind: needsv1.Requirement_KIND_OPEN_SOURCE}, {Kind: needsv1.Requirement_KIND_HOSTING, Value: "mars", MustHave: true},
			}}})
			return err
		}, codes.InvalidArgument, "need.requirements[1].value"},
		{"preview with a requirement of no kind", func() error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{Title: "x", Requirements: []*needsv1.Requirement{{Value: "x"}}}})
			return err
		}, codes.InvalidArgument, "need.requirements[0].kind"},
		{"anonymous preview", func() error {
			_, err := s.PreviewMatches(ctx, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{Title: "x"}})
			return err
		}, codes.Unauthenticated, ""},
	}
	for _, tt := range tests {
		err := tt.call()
		if got := code(err); got != tt.want {
			t.Errorf("%s: code %v (%v), want %v", tt.name, got, err, tt.want)
			continue
		}
		if tt.field != "" {
			var ve *errdefs.ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != tt.field {
				t.Errorf("%s: %v, want one violation of %q", tt.name, err, tt.field)
			}
		}
	}
}

func TestPaging(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx := context.Background()
	var got []string
	token := ""
	for range 5 {
		resp, err := s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetWeightsVersion() != score.DefaultWeights.Version {
			t.Errorf("weights version %q", resp.GetWeightsVersion())
		}
		for _, m := range resp.GetMatches() {
			got = append(got, m.GetVendor())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	if diff := cmp.Diff([]string{"vendors/alpha", "vendors/beta", "vendors/gamma"}, slices.Sorted(slices.Values(got))); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}

	// A token is bound to its query.
	first, err := s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.ListNeedMatches(ctx, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", PageSize: 1, PageToken: first.GetNextPageToken(),
		Filter: &matchingv1.MatchFilter{Regions: []string{"DE7"}}})
	if code(err) != codes.InvalidArgument {
		t.Errorf("token of another query: %v, want InvalidArgument", err)
	}
}

func TestConversion(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	buyer := identity.NewContext(context.Background(), identity.Principal{Subject: "u", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}})

	preview, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{PageSize: 1, Need: &needsv1.Need{
		Title: "Online-Terminbuchung", ProblemStatement: "Termine im Bürgeramt online buchen.", CpvCodes: []string{"72212000"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.ListNeedMatches(buyer, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	// A preview scores exactly as the saved need does.
	if diff := cmp.Diff(stored.GetMatches(), preview.GetMatches(), protocmp.Transform()); diff != "" {
		t.Errorf("preview vs stored (-stored +preview):\n%s", diff)
	}
	m := stored.GetMatches()[0]
	if m.GetVendor() == "" || m.GetScore() <= 0 || m.GetScore() > 100 {
		t.Fatalf("match %v", m)
	}
	var sum float64
	for _, c := range m.GetExplanation().GetComponents() {
		sum += c.GetContribution()
		if c.GetName() == score.ComponentCPV {
			if ev := c.GetMatches(); len(ev) == 0 || ev[0].GetKind() != "cpv" || ev[0].GetLevel() != score.LevelExact {
				t.Errorf("cpv evidence %v", ev)
			}
		}
	}
	if d := sum - m.GetScore(); d > 1e-9 || d < -1e-9 {
		t.Errorf("contributions sum to %v, score %v", sum, m.GetScore())
	}

	similar, err := s.ListVendorMatches(buyer, &matchingv1.ListVendorMatchesRequest{Vendor: "vendors/alpha"})
	if err != nil {
		t.Fatal(err)
	}
	if len(similar.GetMatches()) != 1 || similar.GetMatches()[0].GetNeed() != "needs/n1" {
		t.Errorf("vendor matches %v, want needs/n1", similar.GetMatches())
	}
}

// TestExclusions checks that the vendors a must-have requirement leaves out
// are counted in the response, by requirement and in total.
func TestExclusions(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	buyer := identity.NewContext(context.Background(), identity.Principal{Subject: "u", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}})
	need := &needsv1.Need{Title: "Online-Terminbuchung", Requirements: []*needsv1.Requirement{
		{Kind: needsv1.Requirement_KIND_CERTIFICATION, Value: "ISO 27001", MustHave: true},
		{Kind: needsv1.Requirement_KIND_OPEN_SOURCE, MustHave: false},
		{Kind: needsv1.Requirement_KIND_HOSTING, Value: "On-Premises", MustHave: true},
	}}
	got, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: need})
	if err != nil {
		t.Fatal(err)
	}
	want := &matchingv1.PreviewMatchesResponse{
		WeightsVersion: score.DefaultWeights.Version,
		Excluded: []*matchingv1.Exclusion{
			{Requirement: &needsv1.Requirement{Kind: needsv1.Requirement_KIND_CERTIFICATION, Value: "iso-27001", MustHave: true}, VendorCount: 3},
			{Requirement: &needsv1.Requirement{Kind: needsv1.Requirement_KIND_HOSTING, Value: "on_premises", MustHave: true}, VendorCount: 3},
		},
		ExcludedTotal: 3,
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("preview (-want +got):\n%s", diff)
	}

	// Without must-haves nothing is left out and the fields stay empty.
	saved, err := s.ListNeedMatches(buyer, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(saved.GetMatches()) != 3 || saved.GetExcluded() != nil || saved.GetExcludedTotal() != 0 {
		t.Errorf("need without requirements: %d matches, excluded %v in total %d", len(saved.GetMatches()), saved.GetExcluded(), saved.GetExcludedTotal())
	}
}

func TestExplanationRoundTrip(t *testing.T) {
	t.Parallel()
	e := score.Explanation{
		WeightsVersion: "v1",
		Language:       score.German,
		Components: []score.Contribution{
			{Component: score.ComponentText, Weight: 50, Effective: 62.5, Value: 0.5, Points: 31.25, Matches: []score.Match{
				{Need: "termin", Vendor: "termin", Points: 20}, {Need: "buch", Vendor: "buchung", Points: 11.25},
			}},
			{Component: score.ComponentCPVBridge, Weight: 5, Effective: 6.25, Value: 0.8, Points: 5, Matches: []score.Match{
				{Need: "72212000", Vendor: "72212100", Level: score.LevelCategory, Inferred: true, Points: 5},
			}},
			{Component: score.ComponentRegion, Weight: 4, Effective: 5, Value: 0, Points: 0},
		},
	}
	p := grpcserver.ExplanationToProto(e, 0)
	if got := p.GetComponents()[1].GetMatches()[0].GetKind(); got != "cpv" {
		t.Errorf("bridge evidence kind %q, want cpv", got)
	}
	b, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back matchingv1.Explanation
	if err := proto.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, grpcserver.ExplanationFromProto(&back)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

// TestBasicView checks that the basic view lists a component's strongest
// pieces of evidence in their original order and accounts for the rest, so
// that contributions still add up.
func TestBasicView(t *testing.T) {
	t.Parallel()
	points := []float64{1, 7, 3, 9, 2, 8, 2, 6}
	var ms []score.Match
	total := 0.0
	for i, p := range points {
		ms = append(ms, score.Match{Need: fmt.Sprintf("w%d", i), Vendor: fmt.Sprintf("w%d", i), Points: p})
		total += p
	}
	e := score.Explanation{Components: []score.Contribution{
		{Component: score.ComponentText, Weight: 50, Effective: 50, Value: total / 50, Points: total, Matches: ms},
		{Component: score.ComponentCPV, Weight: 25, Effective: 25, Value: 0.4, Points: 10, Matches: []score.Match{{Need: "72212000", Vendor: "72212000", Points: 10}}},
	}}
	tests := []struct {
		name     string
		evidence int
		want     []string
		omitted  int32
	}{
		{name: "basic", evidence: 5, want: []string{"w1", "w2", "w3", "w5", "w7"}, omitted: 3},
		{name: "full", evidence: 0, want: []string{"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"}},
		{name: "more than there are", evidence: 20, want: []string{"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := grpcserver.ExplanationToProto(e, tt.evidence).GetComponents()[0]
			var got []string
			sum := c.GetOmittedPoints()
			for _, m := range c.GetMatches() {
				got = append(got, m.GetQueryValue())
				sum += m.GetPoints()
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("listed evidence (-want +got):\n%s", diff)
			}
			if c.GetOmittedMatches() != tt.omitted || sum != c.GetContribution() {
				t.Errorf("omitted %d (want %d); listed + omitted points %v, contribution %v", c.GetOmittedMatches(), tt.omitted, sum, c.GetContribution())
			}
			if cpv := grpcserver.ExplanationToProto(e, tt.evidence).GetComponents()[1]; len(cpv.GetMatches()) != 1 || cpv.GetOmittedMatches() != 0 {
				t.Errorf("a component with one piece of evidence lost it: %v", cpv)
			}
		})
	}
}
