package vendorevents_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/identity"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/store/sqlite"
	"github.com/govmatch/govmatch/services/vendors/vendorevents"
)

// TestVerificationResetThroughStore: a verified vendor that renames itself
// is stored Unverified with the reason in its note, and the edit's event,
// written in the same transaction, says which checked fields voided the
// verification.
func TestVerificationResetThroughStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vendors.db"), sqlite.WithEvents(vendorevents.Recorder{}))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := profile.NewService(store)
	var (
		admin     = as(identity.Principal{Subject: "root", Roles: []identity.Role{identity.RoleAdmin}})
		ownVendor = as(identity.Principal{Subject: "a@civic", Org: "civic-code", Roles: []identity.Role{identity.RoleVendor}})
	)
	if _, err := svc.Create(ownVendor, profile.CreateRequest{Fields: profile.Fields{
		DisplayName: "Civic Code e.V.", Kind: profile.KindCivicTech, Certifications: []string{"ISO 27001"},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Verify(admin, "civic-code", profile.Verified, "Vereinsregister geprüft", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(ownVendor, "civic-code", profile.Fields{DisplayName: "Civic Code GmbH", Certifications: []string{"ISO 27001", "BSI C5"}},
		[]string{profile.FieldDisplayName, profile.FieldCertifications}, ""); err != nil {
		t.Fatal(err)
	}

	stored, err := svc.Get(ctx, "civic-code")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Verification != profile.Unverified || stored.VerifyTime.IsZero() {
		t.Errorf("stored: %v verified at %v, want UNVERIFIED keeping the time of the check", stored.Verification, stored.VerifyTime)
	}

	sess, err := store.Outbox().Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	recs, err := sess.Fetch(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("outbox holds %d events, want 3 (created, verified, updated)", len(recs))
	}
	ev, err := eventbus.Decode(recs[2].Data)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := anypb.UnmarshalNew(ev.GetPayload(), proto.UnmarshalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	updated, ok := payload.(*vendorsv1.VendorUpdated)
	if !ok {
		t.Fatalf("the edit's event is %s, want VendorUpdated", ev.GetType())
	}
	want := &vendorsv1.VerificationReset{
		PreviousStatus: vendorsv1.Vendor_VERIFICATION_STATUS_VERIFIED,
		Fields:         mask(profile.FieldDisplayName, profile.FieldCertifications),
	}
	if diff := cmp.Diff(want, updated.GetVerificationReset(), protocmp.Transform()); diff != "" {
		t.Errorf("verification_reset (-want +got):\n%s", diff)
	}
	if got := updated.GetVendor(); got.GetVerificationStatus() != vendorsv1.Vendor_VERIFICATION_STATUS_UNVERIFIED ||
		got.GetVerificationNote() != stored.VerificationNote {
		t.Errorf("event's vendor: %v %q, want UNVERIFIED %q", got.GetVerificationStatus(), got.GetVerificationNote(), stored.VerificationNote)
	}
}
