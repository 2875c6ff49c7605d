package grpcserver

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	"github.com/govmatch/govmatch/services/needs/need"
)

func TestMaskPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		paths   []string
		want    []string
		wantErr bool
	}{
		{name: "plain", paths: []string{"title", "cpv_codes"}, want: []string{"title", "cpv_codes"}},
		{name: "sub-paths fold into their message", paths: []string{"estimated_budget.min_eur", "estimated_budget.max_eur"}, want: []string{"estimated_budget"}},
		{name: "output-only and etag ignored", paths: []string{"etag", "name", "state", "create_time", "title"}, want: []string{"title"}},
		{name: "wildcard", paths: []string{"*"}, want: need.UpdatableFields},
		{name: "sub-path of a scalar", paths: []string{"title.x"}, wantErr: true},
		{name: "unknown passes to the domain", paths: []string{"colour"}, want: []string{"colour"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := maskPaths(tc.paths)
			var ve *errdefs.ValidationError
			if tc.wantErr != errors.As(err, &ve) {
				t.Fatalf("maskPaths(%v) error = %v, wantErr %v", tc.paths, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("maskPaths(%v) (-want +got):\n%s", tc.paths, diff)
			}
		})
	}
}

// TestConvertRoundTrip checks that every writable field survives the trip
// from domain to protobuf and back, and output-only fields reach the API.
func TestConvertRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 9, 30, 0, 123000, time.UTC)
	n := &need.Need{
		ID: "terminbuchung",
		Fields: need.Fields{
			Title: "Terminbuchung", ProblemStatement: "Wartezeiten",
			DesiredOutcomes: []string{"kürzer"}, CPVCodes: []string{"72212000"},
			Places: []string{"DE7", "06531005"}, RemotePossible: true,
			BudgetMinEUR: 10, BudgetMaxEUR: 20,
			StartDate: need.Date{Year: 2027, Month: 1, Day: 2}, EndDate: need.Date{Year: 2027, Month: 12, Day: 31},
			Certifications: []string{"iso-27001"}, OpenSourceRequired: true,
			ResponseDeadline: now.Add(time.Hour),
			Requirements: []need.Requirement{
				{Kind: need.RequirementCertification, Value: "bsi-c5", MustHave: true},
				{Kind: need.RequirementServesRegion},
				{Kind: need.RequirementHosting, Value: "eu", MustHave: true},
			},
		},
		OwnerOrg: "stadt-giessen", CoBuyers: []string{"stadt-marburg"},
		State: need.StateAwarded, CloseReason: "",
		Award:      &need.Award{VendorName: "Start-up GmbH", Vendor: "vendors/start-up", ValueEUR: 15, Date: need.Date{Year: 2027, Month: 2, Day: 1}},
		CreateTime: now, UpdateTime: now, PublishTime: now, CloseTime: now, Revision: 7,
	}
	p := NeedToProto(n)
	if p.GetName() != "needs/terminbuchung" || p.GetEtag() != "r7" || p.GetOwnerOrganization() != "stadt-giessen" ||
		p.GetAward().GetVendorName() != "Start-up GmbH" || !p.GetCreateTime().AsTime().Equal(now) {
		t.Errorf("toProto lost output fields: %v", p)
	}
	f, err := fieldsFromProto(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(n.Fields, f); diff != "" {
		t.Errorf("round trip of writable fields (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(p, NeedToProto(n), protocmp.Transform()); diff != "" {
		t.Errorf("toProto is not deterministic:\n%s", diff)
	}
	if k := p.GetRequirements()[2].GetKind(); k != needsv1.Requirement_KIND_HOSTING {
		t.Errorf("the domain's hosting kind is %v in the API: the numbers differ", k)
	}
}
