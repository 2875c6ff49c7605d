package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/services/vendors/profile"
)

// testAudit: every write appends one entry to the vendor's chain with the
// caller and the fields it changed; a vetoed write appends nothing.
func testAudit(t *testing.T, newStore func(*testing.T) profile.Store) {
	s := newStore(t)
	ctx := identity.NewContext(context.Background(), identity.Principal{
		Subject: "jonas", Org: "terminfix", Roles: []identity.Role{identity.RoleVendor}})
	ctx = audit.WithRequest(ctx, "/govmatch.vendors.v1.VendorsService/UpdateVendor", "req-9")
	v := fullVendor("terminfix")
	if _, err := s.Create(ctx, []*profile.Vendor{v}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, v.ID, func(v *profile.Vendor) error { v.DisplayName = "Terminfix GmbH"; v.Revision++; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, v.ID, func(*profile.Vendor) error { return errVeto }); err == nil {
		t.Fatal("vetoed update succeeded")
	}
	if err := s.Delete(ctx, v.ID, func(*profile.Vendor) error { return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := s.AuditTrail(ctx, audit.Query{Resource: "vendors/" + v.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, e := range got {
		summary = append(summary, fmt.Sprintf("%s#%d %d fields", e.Resource, e.Seq, len(e.Changes)))
		if e.Actor.Subject != "jonas" || e.Actor.Organization != "terminfix" || e.RequestID != "req-9" || e.Hash == "" {
			t.Errorf("%s#%d: actor %+v, request %q, hash %q", e.Resource, e.Seq, e.Actor, e.RequestID, e.Hash)
		}
	}
	if len(got) != 3 || got[2].PrevHash != got[1].Hash {
		t.Fatalf("trail = %v, want create, update, delete chained", summary)
	}
	before, _ := json.Marshal(v.DisplayName)
	want := []audit.Change{{Field: "display_name", Before: before, After: json.RawMessage(`"Terminfix GmbH"`)}}
	if diff := cmp.Diff(want, got[1].Changes); diff != "" {
		t.Errorf("update's changes (-want +got):\n%s", diff)
	}
}
