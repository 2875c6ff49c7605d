package grpcserver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/store/sqlite"
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
		{name: "plain", paths: []string{"display_name", "cpv_codes"}, want: []string{"display_name", "cpv_codes"}},
		{name: "camelCase", paths: []string{"displayName", "cpvCodes", "regionsServed"}, want: []string{"display_name", "cpv_codes", "regions_served"}},
		{name: "both spellings of one field", paths: []string{"founding_year", "foundingYear"}, want: []string{"founding_year"}},
		{name: "sub-paths of lists fold", paths: []string{"products.licence", "products.display_name", "references.year"}, want: []string{"products", "references"}},
		{name: "sub-paths in camelCase", paths: []string{"products.displayName"}, want: []string{"products"}},
		{name: "name and etag change nothing", paths: []string{"etag", "name", "kind"}, want: []string{"kind"}},
		{name: "wildcard", paths: []string{"*"}, want: profile.UpdatableFields},
		{name: "output-only, snake_case", paths: []string{"kind", "verification_status", "external_id"}, wantViolations: []string{
			`update_mask.paths[1]: "verification_status" is output only and cannot be updated`,
			`update_mask.paths[2]: "external_id" is output only and cannot be updated`,
		}},
		{name: "output-only, camelCase", paths: []string{"verificationStatus", "ownerOrganization", "verifyTime", "createTime"}, wantViolations: []string{
			`update_mask.paths[0]: "verificationStatus" is output only and cannot be updated`,
			`update_mask.paths[1]: "ownerOrganization" is output only and cannot be updated`,
			`update_mask.paths[2]: "verifyTime" is output only and cannot be updated`,
			`update_mask.paths[3]: "createTime" is output only and cannot be updated`,
		}},
		{name: "sub-path of a scalar", paths: []string{"website.host"}, wantViolations: []string{
			`update_mask.paths[0]: "website.host" is not an updatable field`,
		}},
		{name: "unknown field", paths: []string{"colour", "DisplayName", "display-name"}, wantViolations: []string{
			`update_mask.paths[0]: "colour" is not a field of Vendor`,
			`update_mask.paths[1]: "DisplayName" is not a field of Vendor`,
			`update_mask.paths[2]: "display-name" is not a field of Vendor`,
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

// TestEnumsMatch keeps the domain's enum numbers equal to the API's, which
// the conversion relies on.
func TestEnumsMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc protoreflect.EnumDescriptor
		max  int
	}{
		{vendorsv1.Vendor_KIND_UNSPECIFIED.Descriptor(), int(profile.KindOther)},
		{vendorsv1.Vendor_SIZE_BAND_UNSPECIFIED.Descriptor(), int(profile.SizeLarge)},
		{vendorsv1.Vendor_VERIFICATION_STATUS_UNSPECIFIED.Descriptor(), int(profile.Rejected)},
		{vendorsv1.Product_MATURITY_UNSPECIFIED.Descriptor(), int(profile.MaturityInProduction)},
		{vendorsv1.Product_HOSTING_UNSPECIFIED.Descriptor(), int(profile.HostingOther)},
	}
	for _, tt := range tests {
		if n := tt.desc.Values().Len(); n != tt.max+1 {
			t.Errorf("%s has %d values, the domain %d", tt.desc.FullName(), n, tt.max+1)
		}
	}
	if vendorsv1.Vendor_KIND_RESEARCH_INSTITUTION != vendorsv1.Vendor_Kind(profile.KindResearchInstitution) ||
		vendorsv1.Vendor_VERIFICATION_STATUS_VERIFIED != vendorsv1.Vendor_VerificationStatus(profile.Verified) ||
		vendorsv1.Product_HOSTING_ON_PREMISES != vendorsv1.Product_Hosting(profile.HostingOnPremises) ||
		vendorsv1.Product_MATURITY_PILOT_READY != vendorsv1.Product_Maturity(profile.MaturityPilotReady) ||
		vendorsv1.Vendor_SIZE_BAND_MEDIUM != vendorsv1.Vendor_SizeBand(profile.SizeMedium) {
		t.Error("enum numbers differ between API and domain")
	}
}

// TestConvertRoundTrip checks that every writable field survives the trip
// from domain to protobuf and back, and output-only fields reach the API.
func TestConvertRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 9, 30, 0, 123000, time.UTC)
	v := &profile.Vendor{
		ID: "civic-code",
		Fields: profile.Fields{
			DisplayName: "Civic Code", Kind: profile.KindCivicTech, FoundingYear: 2015, SizeBand: profile.SizeMicro,
			Headquarters: "06531005", RegionsServed: []string{"DE7", "06531"}, Nationwide: true, Remote: true,
			Languages: []string{"de"}, Website: "https://x.de", Description: "d", Capabilities: []string{"open-data"},
			CPVCodes: []string{"72212000"}, Certifications: []string{"iso-27001"},
			Products: []profile.Product{{Name: "P", Description: "pd", Maturity: profile.MaturityPilotReady,
				Hosting: profile.HostingEU, Licence: "MIT"}},
			References: []profile.Reference{{ClientOrganization: "Stadt", Year: 2020, Delivered: "x", Outcome: "y"}},
		},
		ExternalID: "cfv1", OwnerOrg: "govtech-hh", Verification: profile.Verified, VerificationNote: "ok",
		VerifyTime: now, CreateTime: now, UpdateTime: now, Revision: 3,
	}
	p := ToProto(v)
	if p.GetName() != "vendors/civic-code" || p.GetEtag() != "r3" || p.GetOwnerOrganization() != "govtech-hh" ||
		p.GetExternalId() != "cfv1" || p.GetVerificationStatus() != vendorsv1.Vendor_VERIFICATION_STATUS_VERIFIED ||
		!p.GetVerifyTime().AsTime().Equal(now) {
		t.Errorf("toProto lost output fields: %v", p)
	}
	if diff := cmp.Diff(v.Fields, fieldsFromProto(p)); diff != "" {
		t.Errorf("round trip of writable fields (-want +got):\n%s", diff)
	}
}

// TestBatchThroughServer imports through the gRPC edge into SQLite: a bad
// item names its index and writes nothing, and a resent batch returns the
// same vendors.
func TestBatchThroughServer(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := New(profile.NewService(st))
	ctx := identity.NewContext(context.Background(), identity.Principal{Subject: "u", Org: "govtech-hh",
		Roles: []identity.Role{identity.RoleVentureUnit}})
	item := func(ext string, codes ...string) *vendorsv1.CreateVendorRequest {
		return &vendorsv1.CreateVendorRequest{ExternalId: ext, Vendor: &vendorsv1.Vendor{
			DisplayName: "Vendor " + ext, Kind: vendorsv1.Vendor_KIND_OTHER, CpvCodes: codes,
			Products: []*vendorsv1.Product{{DisplayName: "p", Licence: "Apache-2.0 OR MIT"}},
		}}
	}
	bad := &vendorsv1.BatchCreateVendorsRequest{Requests: []*vendorsv1.CreateVendorRequest{
		item("a", "72212000"), item("b", "0000"), {ExternalId: "c"},
	}}
	_, err = srv.BatchCreateVendors(ctx, bad)
	var ve *errdefs.ValidationError
	if !errors.As(err, &ve) || ve.Violations[0].Field != "requests[2].vendor" {
		t.Fatalf("missing vendor: %v", err)
	}
	bad.Requests[2] = item("c")
	_, err = srv.BatchCreateVendors(ctx, bad)
	if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Field != "requests[1].vendor.cpv_codes[0]" {
		t.Fatalf("bad code: %v", err)
	}
	if list, _ := srv.ListVendors(ctx, &vendorsv1.ListVendorsRequest{}); len(list.GetVendors()) != 0 {
		t.Fatalf("failed batch wrote %d vendors", len(list.GetVendors()))
	}
	good := &vendorsv1.BatchCreateVendorsRequest{Requests: []*vendorsv1.CreateVendorRequest{item("a", "72212000"), item("b"), item("c")}}
	first, err := srv.BatchCreateVendors(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	if !first.GetVendors()[0].GetProducts()[0].GetOpenSource() {
		t.Error("Apache-2.0 OR MIT product is not open source")
	}
	second, err := srv.BatchCreateVendors(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first.GetVendors() {
		if first.GetVendors()[i].GetName() != second.GetVendors()[i].GetName() {
			t.Errorf("resent batch item %d: %s, first %s", i, second.GetVendors()[i].GetName(), first.GetVendors()[i].GetName())
		}
	}
	list, err := srv.ListVendors(ctx, &vendorsv1.ListVendorsRequest{OpenSource: true, CpvCodes: []string{"72000000"}})
	if err != nil || len(list.GetVendors()) != 1 {
		t.Errorf("list: %v, %v", list, err)
	}
}

// TestUpdateMaskSpellings updates through the gRPC edge into SQLite: a
// camelCase mask changes what its snake_case twin changes, and an
// output-only field is refused in either spelling with nothing written.
func TestUpdateMaskSpellings(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := New(profile.NewService(st))
	ctx := identity.NewContext(context.Background(), identity.Principal{Subject: "a@civic", Org: "civic-code",
		Roles: []identity.Role{identity.RoleVendor}})
	if _, err := srv.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{Vendor: &vendorsv1.Vendor{
		DisplayName: "Civic Code e.V.", Kind: vendorsv1.Vendor_KIND_CIVIC_TECH,
	}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		paths          []string
		wantViolations []string
		wantRemote     bool
	}{
		{"snake_case", []string{"remote"}, nil, true},
		{"camelCase", []string{"foundingYear", "remote"}, nil, true},
		{"output-only, snake_case", []string{"remote", "verification_status"}, []string{
			`update_mask.paths[1]: "verification_status" is output only and cannot be updated`}, false},
		{"output-only, camelCase", []string{"remote", "verificationStatus"}, []string{
			`update_mask.paths[1]: "verificationStatus" is output only and cannot be updated`}, false},
	}
	for _, tt := range tests {
		// Sequential: each case starts from remote false.
		v, err := srv.UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{
			Vendor: &vendorsv1.Vendor{Name: "vendors/civic-code", Remote: true, FoundingYear: 2015,
				VerificationStatus: vendorsv1.Vendor_VERIFICATION_STATUS_VERIFIED},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: tt.paths},
		})
		if diff := cmp.Diff(tt.wantViolations, violations(err)); diff != "" {
			t.Errorf("%s: violations (-want +got):\n%s", tt.name, diff)
		}
		got, err := srv.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: "vendors/civic-code"})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetRemote() != tt.wantRemote || got.GetVerificationStatus() != vendorsv1.Vendor_VERIFICATION_STATUS_UNVERIFIED {
			t.Errorf("%s: stored remote %v, %v; want remote %v, UNVERIFIED", tt.name, got.GetRemote(), got.GetVerificationStatus(), tt.wantRemote)
		}
		if v != nil {
			if _, err := srv.UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{
				Vendor: &vendorsv1.Vendor{Name: "vendors/civic-code"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"remote"}},
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
}
