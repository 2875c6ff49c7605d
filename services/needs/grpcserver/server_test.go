package grpcserver

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/grpcx"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	"github.com/govmatch/govmatch/services/needs/need"
)

// TestMaskPaths: every path means the same in its proto and its JSON
// spelling; output-only fields are rejected, naming the path, in both.
func TestMaskPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		paths []string
		want  []string
		// wantViolations are "field: description" of the error.
		wantViolations []string
	}{
		{name: "plain", paths: []string{"title", "cpv_codes"}, want: []string{"title", "cpv_codes"}},
		{name: "camelCase", paths: []string{"problemStatement", "cpvCodes", "responseDeadline"}, want: []string{"problem_statement", "cpv_codes", "response_deadline"}},
		{name: "both spellings of one field", paths: []string{"remote_possible", "remotePossible"}, want: []string{"remote_possible"}},
		{name: "sub-paths fold into their message", paths: []string{"estimated_budget.min_eur", "estimated_budget.max_eur"}, want: []string{"estimated_budget"}},
		{name: "sub-paths in camelCase", paths: []string{"estimatedBudget.minEur", "timeline.startDate"}, want: []string{"estimated_budget", "timeline"}},
		{name: "name and etag change nothing", paths: []string{"etag", "name", "title"}, want: []string{"title"}},
		{name: "wildcard", paths: []string{"*"}, want: need.UpdatableFields},
		{name: "output-only, snake_case", paths: []string{"title", "state", "create_time", "owner_organization"}, wantViolations: []string{
			`update_mask.paths[1]: "state" is output only and cannot be updated`,
			`update_mask.paths[2]: "create_time" is output only and cannot be updated`,
			`update_mask.paths[3]: "owner_organization" is output only and cannot be updated`,
		}},
		{name: "output-only, camelCase", paths: []string{"coBuyerOrganizations", "closeReason", "publishTime", "award.valueEur"}, wantViolations: []string{
			`update_mask.paths[0]: "coBuyerOrganizations" is output only and cannot be updated`,
			`update_mask.paths[1]: "closeReason" is output only and cannot be updated`,
			`update_mask.paths[2]: "publishTime" is output only and cannot be updated`,
			`update_mask.paths[3]: "award.valueEur" is output only and cannot be updated`,
		}},
		{name: "sub-path of a scalar", paths: []string{"title.x"}, wantViolations: []string{
			`update_mask.paths[0]: "title.x" is not an updatable field`,
		}},
		{name: "unknown field", paths: []string{"colour", "Title"}, wantViolations: []string{
			`update_mask.paths[0]: "colour" is not a field of Need`,
			`update_mask.paths[1]: "Title" is not a field of Need`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := maskPaths(tc.paths)
			if diff := cmp.Diff(tc.wantViolations, violations(err)); diff != "" {
				t.Errorf("maskPaths(%v) violations (-want +got):\n%s", tc.paths, diff)
			}
			if diff := cmp.Diff(tc.want, got); err == nil && diff != "" {
				t.Errorf("maskPaths(%v) (-want +got):\n%s", tc.paths, diff)
			}
		})
	}
}

// TestResponseMaskPaths: the masks of UpdateResponse follow the same rules.
func TestResponseMaskPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		paths          []string
		want           []string
		wantViolations []string
	}{
		{name: "both spellings", paths: []string{"summary", "indicativePriceEur", "contact_email"}, want: []string{"summary", "indicative_price_eur", "contact_email"}},
		{name: "wildcard", paths: []string{"*", "etag"}, want: need.UpdatableResponseFields},
		{name: "output-only, both spellings", paths: []string{"vendor", "state", "createTime", "update_time"}, wantViolations: []string{
			`update_mask.paths[0]: "vendor" is output only and cannot be updated`,
			`update_mask.paths[1]: "state" is output only and cannot be updated`,
			`update_mask.paths[2]: "createTime" is output only and cannot be updated`,
			`update_mask.paths[3]: "update_time" is output only and cannot be updated`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := grpcx.UpdateMask(responseDescriptor, tc.paths, need.UpdatableResponseFields)
			if diff := cmp.Diff(tc.wantViolations, violations(err)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, got); err == nil && diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
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
