package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/services/needs/need"
)

// testAudit: every write appends one entry to its resource's chain with
// the caller and the fields it changed; a vetoed write appends nothing;
// a need's trail includes its responses'.
func testAudit(t *testing.T, newStore func(*testing.T) need.Store) {
	s := newStore(t)
	ctx := identity.NewContext(context.Background(), identity.Principal{
		Subject: "anna", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}})
	ctx = audit.WithRequest(ctx, "/govmatch.needs.v1.NeedsService/UpdateNeed", "req-7")
	n := fullNeed("audited")
	if err := s.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, n.ID, func(n *need.Need) error { n.Title = "Gewerbe digital"; n.Revision++; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, n.ID, func(*need.Need) error { return errVeto }); err == nil {
		t.Fatal("vetoed update succeeded")
	}
	if _, err := s.UpdateResponse(ctx, n.ID, "terminfix", func(_ *need.Need, _ *need.Response) (*need.Response, error) {
		return &need.Response{ResponseFields: need.ResponseFields{Summary: "Wir können das."}, State: need.ResponseSubmitted,
			CreateTime: t0, UpdateTime: t0, Revision: 1}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, n.ID, func(*need.Need) error { return nil }); err != nil {
		t.Fatal(err)
	}

	got, err := s.AuditTrail(ctx, audit.Query{Resource: "needs/" + n.ID, Children: true, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, e := range got {
		var fields []string
		for _, c := range e.Changes {
			fields = append(fields, c.Field)
		}
		summary = append(summary, fmt.Sprintf("%s#%d %d fields", e.Resource, e.Seq, len(fields)))
		if e.Actor.Subject != "anna" || e.Actor.Organization != "stadt-giessen" || e.RequestID != "req-7" || e.Hash == "" {
			t.Errorf("%s#%d: actor %+v, request %q, hash %q", e.Resource, e.Seq, e.Actor, e.RequestID, e.Hash)
		}
	}
	if len(got) != 4 {
		t.Fatalf("trail = %v, want create, update, response, delete", summary)
	}
	upd := got[1]
	if diff := cmp.Diff([]audit.Change{{Field: "title", Before: jsonOf(t, n.Title), After: jsonOf(t, "Gewerbe digital")}}, upd.Changes); diff != "" {
		t.Errorf("update's changes (-want +got):\n%s", diff)
	}
	if got[2].Resource != "needs/audited/responses/terminfix" || got[3].Resource != "needs/audited" || got[3].Seq != 3 || got[3].PrevHash != upd.Hash {
		t.Errorf("trail = %v", summary)
	}
	for _, c := range got[3].Changes {
		if c.After != nil {
			t.Errorf("delete records %s after: %s", c.Field, c.After)
		}
	}
}

func jsonOf(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
