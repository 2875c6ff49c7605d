package grpcserver

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/store/sqlite"
)

func TestMaskPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		paths   []string
		want    []string
		wantErr bool
	}{
		{name: "plain", paths: []string{"display_name", "cpv_codes"}, want: []string{"display_name", "cpv_codes"}},
		{name: "sub-paths of lists fold", paths: []string{"products.licence", "products.display_name"}, want: []string{"products"}},
		{name: "output-only and etag ignored", paths: []string{"etag", "name", "verification_status", "external_id", "kind"}, want: []string{"kind"}},
		{name: "wildcard", paths: []string{"*"}, want: profile.UpdatableFields},
		{name: "sub-path of a scalar", paths: []string{"website.host"}, wantErr: true},
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
