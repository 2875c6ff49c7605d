package vendorevents_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/identity"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/vendors/grpcserver"
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/vendorevents"
)

var t0 = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

func imported() *profile.Vendor {
	return &profile.Vendor{
		ID: "stadtwerk",
		Fields: profile.Fields{
			DisplayName: "Stadtwerk Digital GmbH", Kind: profile.KindStartUp,
			CPVCodes: []string{"72212000"}, Capabilities: []string{"terminbuchung"},
		},
		ExternalID:   "cfv-17",
		OwnerOrg:     "govtech-hh",
		Verification: profile.Unverified,
		CreateTime:   t0,
		UpdateTime:   t0,
		Revision:     1,
	}
}

// next is v after a write at t0+rev hours that f made.
func next(v *profile.Vendor, f func(*profile.Vendor)) *profile.Vendor {
	n := v.Clone()
	f(n)
	n.Revision++
	n.UpdateTime = t0.Add(time.Duration(n.Revision) * time.Hour)
	return n
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func TestForVendor(t *testing.T) {
	t.Parallel()
	v1 := imported()
	verified := next(v1, func(v *profile.Vendor) {
		v.Verification, v.VerificationNote, v.VerifyTime = profile.Rejected, "Kein Handelsregistereintrag", t0.Add(time.Hour)
	})
	claimed := next(v1, func(v *profile.Vendor) { v.OwnerOrg, v.Website = v.ID, "https://stadtwerk.de/" })
	edited := next(v1, func(v *profile.Vendor) {
		v.DisplayName, v.CPVCodes, v.Capabilities = "Stadtwerk", []string{"48000000"}, []string{}
		v.Products = []profile.Product{{Name: "Termin"}}
	})
	handedOver := next(v1, func(v *profile.Vendor) { v.OwnerOrg = "stadt-giessen" })
	checked := next(v1, func(v *profile.Vendor) {
		v.Verification, v.VerificationNote, v.VerifyTime = profile.Verified, "Handelsregister geprüft", t0.Add(time.Hour)
	})
	renamed := next(checked, func(v *profile.Vendor) {
		v.DisplayName, v.Certifications, v.Website = "Stadtwerk AG", []string{"iso-27001"}, "https://stadtwerk.de/"
		v.Verification, v.VerificationNote = profile.Unverified, "Verification reset"
	})
	renamedByClaim := next(checked, func(v *profile.Vendor) {
		v.OwnerOrg, v.Headquarters = v.ID, "06531005"
		v.Verification, v.VerificationNote = profile.Unverified, "Verification reset"
	})
	touched := next(v1, func(*profile.Vendor) {})
	emptied := next(v1, func(v *profile.Vendor) { v.Languages = []string{} }) // nil before: no change

	tests := []struct {
		name          string
		before, after *profile.Vendor
		version       int64     // given by the store, and so in the envelope
		wantTime      time.Time // zero: about now
		want          proto.Message
	}{
		{"created", nil, v1, 1, t0, &vendorsv1.VendorCreated{Vendor: grpcserver.ToProto(v1)}},
		{"verified (rejected too)", v1, verified, 2, verified.UpdateTime, &vendorsv1.VendorVerified{Vendor: grpcserver.ToProto(verified)}},
		{"verified", v1, checked, 2, checked.UpdateTime, &vendorsv1.VendorVerified{Vendor: grpcserver.ToProto(checked)}},
		{"verification reset by an edit", checked, renamed, 3, renamed.UpdateTime, &vendorsv1.VendorUpdated{
			Vendor: grpcserver.ToProto(renamed), ChangedFields: mask("display_name", "website", "certifications"),
			VerificationReset: &vendorsv1.VerificationReset{
				PreviousStatus: vendorsv1.Vendor_VERIFICATION_STATUS_VERIFIED, Fields: mask("display_name", "certifications")}}},
		{"verification reset by a claiming edit", checked, renamedByClaim, 3, renamedByClaim.UpdateTime, &vendorsv1.VendorClaimed{
			Vendor: grpcserver.ToProto(renamedByClaim), PreviousOwnerOrganization: "govtech-hh", ChangedFields: mask("headquarters"),
			VerificationReset: &vendorsv1.VerificationReset{
				PreviousStatus: vendorsv1.Vendor_VERIFICATION_STATUS_VERIFIED, Fields: mask("headquarters")}}},
		{"claimed by an edit of the vendor's organisation", v1, claimed, 2, claimed.UpdateTime, &vendorsv1.VendorClaimed{
			Vendor: grpcserver.ToProto(claimed), PreviousOwnerOrganization: "govtech-hh", ChangedFields: mask("website")}},
		{"updated fields, in update_mask order", v1, edited, 2, edited.UpdateTime, &vendorsv1.VendorUpdated{
			Vendor: grpcserver.ToProto(edited), ChangedFields: mask("display_name", "capabilities", "cpv_codes", "products")}},
		{"owner changed to another organisation", v1, handedOver, 2, handedOver.UpdateTime, &vendorsv1.VendorUpdated{
			Vendor: grpcserver.ToProto(handedOver), ChangedFields: mask("owner_organization")}},
		{"nothing changed but the revision", v1, touched, 2, touched.UpdateTime, &vendorsv1.VendorUpdated{
			Vendor: grpcserver.ToProto(touched), ChangedFields: mask()}},
		{"nil and empty lists are equal", v1, emptied, 2, emptied.UpdateTime, &vendorsv1.VendorUpdated{
			Vendor: grpcserver.ToProto(emptied), ChangedFields: mask()}},
		{"deleted", edited, nil, 3, time.Time{}, &vendorsv1.VendorDeleted{Name: "vendors/stadtwerk"}},
		// The store continues the versions of a deleted vendor's id.
		{"created again under a deleted vendor's id", nil, v1, 4, t0, &vendorsv1.VendorCreated{Vendor: grpcserver.ToProto(v1)}},
		{"updated after being created again", v1, touched, 5, touched.UpdateTime, &vendorsv1.VendorUpdated{
			Vendor: grpcserver.ToProto(touched), ChangedFields: mask()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := identity.NewContext(context.Background(), identity.Principal{Subject: "auth0|42", Org: "govtech-hh"})
			start := time.Now()
			recs, err := vendorevents.ForVendor(ctx, tt.version, tt.before, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1", len(recs))
			}
			r := recs[0]
			ev, err := eventbus.Decode(r.Data)
			if err != nil {
				t.Fatal(err)
			}
			wantType := string(tt.want.ProtoReflect().Descriptor().FullName())
			got := []any{ev.GetSource(), ev.GetAggregateType(), ev.GetAggregateId(), ev.GetAggregateVersion(), ev.GetActor(), ev.GetType(), r.EventType}
			want := []any{"vendors", "vendor", "stadtwerk", tt.version, "auth0|42", wantType, wantType}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("envelope (-want +got):\n%s", diff)
			}
			if occur := ev.GetOccurTime().AsTime(); tt.wantTime.IsZero() && occur.Before(start.Truncate(time.Microsecond)) ||
				!tt.wantTime.IsZero() && !occur.Equal(tt.wantTime) {
				t.Errorf("occur_time %v, want %v", occur, tt.wantTime)
			}
			payload, err := anypb.UnmarshalNew(ev.GetPayload(), proto.UnmarshalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, payload, protocmp.Transform()); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestForVendorRefuses(t *testing.T) {
	t.Parallel()
	v := imported()
	same := v.Clone()
	same.DisplayName = "Ohne neue Revision"
	other := v.Clone()
	other.ID, other.Revision = "anders", 2
	tests := []struct {
		name          string
		version       int64
		before, after *profile.Vendor
	}{
		{"nothing", 1, nil, nil},
		{"revision not raised", 2, v, same},
		{"another vendor", 2, v, other},
		{"no version", 0, nil, v},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if recs, err := vendorevents.ForVendor(context.Background(), tt.version, tt.before, tt.after); err == nil {
				t.Errorf("ForVendor = %d records, want an error", len(recs))
			}
		})
	}
}
