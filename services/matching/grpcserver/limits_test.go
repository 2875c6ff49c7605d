package grpcserver_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	matchingv1 "github.com/govmatch/govmatch/proto/govmatch/matching/v1"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/grpcserver"
)

// TestFilterLimits: every call refuses a filter list longer than
// MaxFilterValues or a value longer than MaxFilterValueLen, naming the
// field, and accepts one at the limits.
func TestFilterLimits(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	buyer := identity.NewContext(context.Background(), identity.Principal{Subject: "u", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}})
	const n = grpcserver.MaxFilterValues
	long := strings.Repeat("ä", grpcserver.MaxFilterValueLen+1)
	calls := map[string]func(*matchingv1.MatchFilter) error{
		"ListNeedMatches": func(f *matchingv1.MatchFilter) error {
			_, err := s.ListNeedMatches(buyer, &matchingv1.ListNeedMatchesRequest{Need: "needs/n1", Filter: f})
			return err
		},
		"PreviewMatches": func(f *matchingv1.MatchFilter) error {
			_, err := s.PreviewMatches(buyer, &matchingv1.PreviewMatchesRequest{Need: &needsv1.Need{Title: "Terminbuchung"}, Filter: f})
			return err
		},
		// Needs as results take no vendor filters; regions are theirs too.
		"ListVendorMatches": func(f *matchingv1.MatchFilter) error {
			_, err := s.ListVendorMatches(buyer, &matchingv1.ListVendorMatchesRequest{Vendor: "vendors/alpha", Filter: &matchingv1.MatchFilter{Regions: f.GetRegions()}})
			return err
		},
		"ListSimilarNeeds": func(f *matchingv1.MatchFilter) error {
			_, err := s.ListSimilarNeeds(buyer, &matchingv1.ListSimilarNeedsRequest{Need: "needs/n1", Filter: &matchingv1.MatchFilter{Regions: f.GetRegions()}})
			return err
		},
	}
	tests := []struct {
		name   string
		filter *matchingv1.MatchFilter
		want   []string // violations, for the vendor-result calls
		// wantRegions are the violations of the need-result calls, which
		// pass on only the regions.
		wantRegions []string
	}{
		{"at the limits", &matchingv1.MatchFilter{
			VendorKinds:    slices.Repeat([]vendorsv1.Vendor_Kind{vendorsv1.Vendor_KIND_SME}, n),
			Regions:        slices.Repeat([]string{"DE7"}, n),
			Certifications: slices.Repeat([]string{strings.Repeat("a", grpcserver.MaxFilterValueLen)}, n),
		}, nil, nil},
		{"too many kinds", &matchingv1.MatchFilter{VendorKinds: slices.Repeat([]vendorsv1.Vendor_Kind{vendorsv1.Vendor_KIND_SME}, n+1)},
			[]string{"filter.vendor_kinds: at most 20 values, got 21"}, nil},
		{"too many regions", &matchingv1.MatchFilter{Regions: slices.Repeat([]string{"DE7"}, 10_000)},
			[]string{"filter.regions: at most 20 values, got 10000"}, []string{"filter.regions: at most 20 values, got 10000"}},
		{"too many certifications", &matchingv1.MatchFilter{Certifications: slices.Repeat([]string{"iso-27001"}, n+1)},
			[]string{"filter.certifications: at most 20 values, got 21"}, nil},
		{"long values", &matchingv1.MatchFilter{Regions: []string{"DE7", long}, Certifications: []string{long}},
			[]string{"filter.regions[1]: at most 64 characters, got 65", "filter.certifications[0]: at most 64 characters, got 65"},
			[]string{"filter.regions[1]: at most 64 characters, got 65"}},
	}
	for _, tt := range tests {
		for call, do := range calls {
			t.Run(tt.name+"/"+call, func(t *testing.T) {
				t.Parallel()
				want := tt.want
				if call == "ListVendorMatches" || call == "ListSimilarNeeds" {
					want = tt.wantRegions
				}
				if diff := cmp.Diff(want, violations(do(tt.filter))); diff != "" {
					t.Errorf("violations (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// violations lists err's field violations as "field: description", or its
// text when it is another error.
func violations(err error) []string {
	var ve *errdefs.ValidationError
	if !errors.As(err, &ve) {
		if err != nil {
			return []string{err.Error()}
		}
		return nil
	}
	var out []string
	for _, v := range ve.Violations {
		out = append(out, v.Field+": "+v.Description)
	}
	return out
}
