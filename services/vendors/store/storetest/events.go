package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/outbox"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/vendorevents"
)

// Events is what the engines' WithEvents options take.
type Events interface {
	ForVendor(ctx context.Context, version int64, before, after *profile.Vendor) ([]outbox.Record, error)
}

// EventStore is a store with its outbox, as the composition root sees it.
type EventStore interface {
	profile.Store
	Outbox() outbox.Store
	OnCommit(func())
}

// RunEvents runs the outbox contract: with events on, every write leaves
// exactly its events in the outbox, in the write's transaction; a failed
// write leaves none; with events off (ev nil) writes leave nothing.
// newStore must return a new, empty store whose writes emit the events of
// ev.
func RunEvents(t *testing.T, newStore func(t *testing.T, ev Events) EventStore) {
	t.Run("Writes", func(t *testing.T) { t.Parallel(); testEventWrites(t, newStore) })
	t.Run("FailedWrites", func(t *testing.T) { t.Parallel(); testEventFailedWrites(t, newStore) })
	t.Run("CreatedAgain", func(t *testing.T) { t.Parallel(); testEventCreatedAgain(t, newStore) })
	t.Run("EventsFail", func(t *testing.T) { t.Parallel(); testEventsFail(t, newStore) })
	t.Run("Off", func(t *testing.T) { t.Parallel(); testEventsOff(t, newStore) })
}

// event is what the suite compares of an outbox row.
type event struct {
	Type    string
	ID      string
	Version int64
	Actor   string
	Changed []string // VendorUpdated and VendorClaimed
}

const actor = "auth0|sachbearbeiterin"

func actorCtx() context.Context {
	return identity.NewContext(context.Background(), identity.Principal{Subject: actor, Roles: []identity.Role{identity.RoleAdmin}})
}

// drain takes every row out of the outbox, checking the envelope on the
// way, and returns them in seq order.
func drain(t *testing.T, ob outbox.Store) []event {
	t.Helper()
	ctx := context.Background()
	sess, err := ob.Lease(ctx)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	defer sess.Close()
	recs, err := sess.Fetch(ctx, 10_000)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	var out []event
	var seqs []int64
	for _, r := range recs {
		seqs = append(seqs, r.Seq)
		ev, err := eventbus.Decode(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetSource() != vendorevents.Source || ev.GetAggregateType() != vendorevents.AggregateType ||
			r.EventType != ev.GetType() || r.AggregateID != ev.GetAggregateId() || r.AggregateVersion != ev.GetAggregateVersion() {
			t.Errorf("row %d: columns %+v disagree with envelope %v", r.Seq, r, ev)
		}
		msg, err := anypb.UnmarshalNew(ev.GetPayload(), proto.UnmarshalOptions{})
		if err != nil {
			t.Fatalf("payload of %s: %v", ev.GetType(), err)
		}
		e := event{Type: ev.GetType(), ID: ev.GetAggregateId(), Version: ev.GetAggregateVersion(), Actor: ev.GetActor()}
		switch p := msg.(type) {
		case *vendorsv1.VendorUpdated:
			e.Changed = p.GetChangedFields().GetPaths()
		case *vendorsv1.VendorClaimed:
			e.Changed = p.GetChangedFields().GetPaths()
		}
		out = append(out, e)
	}
	if len(seqs) > 0 {
		if err := sess.Delete(ctx, seqs); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	return out
}

// commits counts the calls of the OnCommit hook.
func commits(s EventStore) *atomic.Int64 {
	var n atomic.Int64
	s.OnCommit(func() { n.Add(1) })
	return &n
}

const (
	created  = "govmatch.vendors.v1.VendorCreated"
	updated  = "govmatch.vendors.v1.VendorUpdated"
	verified = "govmatch.vendors.v1.VendorVerified"
	claimed  = "govmatch.vendors.v1.VendorClaimed"
	deleted  = "govmatch.vendors.v1.VendorDeleted"
)

func testEventWrites(t *testing.T, newStore func(*testing.T, Events) EventStore) {
	ctx := actorCtx()
	s := newStore(t, vendorevents.Recorder{})
	ob := s.Outbox()
	n := commits(s)

	// The import was seen before: only the new vendors of a batch emit.
	imported := minimalVendor("importiert")
	imported.ExternalID, imported.OwnerOrg = "cfv-1", "govtech-hh"
	if _, err := s.Create(ctx, []*profile.Vendor{imported}, noExisting); err != nil {
		t.Fatal(err)
	}
	again := minimalVendor("importiert-neu")
	again.ExternalID = "cfv-1"
	if _, err := s.Create(ctx, []*profile.Vendor{minimalVendor("a"), again, fullVendor("b")},
		func(int, *profile.Vendor) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, []*profile.Vendor{again}, func(int, *profile.Vendor) error { return nil }); err != nil {
		t.Fatal(err)
	}

	edit := func(id string, f func(*profile.Vendor)) {
		t.Helper()
		if _, err := s.Update(ctx, id, func(v *profile.Vendor) error { f(v); v.Revision++; return nil }); err != nil {
			t.Fatalf("Update(%q): %v", id, err)
		}
	}
	edit("importiert", func(v *profile.Vendor) {
		v.Verification, v.VerificationNote, v.VerifyTime = profile.Verified, "geprüft", t0.Add(time.Hour)
	})
	edit("importiert", func(v *profile.Vendor) { v.OwnerOrg = v.ID; v.Website = "https://importiert.de/" })
	edit("importiert", func(v *profile.Vendor) { v.Description, v.CPVCodes = "Neu", []string{"72212000"} })
	edit("importiert", func(*profile.Vendor) {})
	if err := s.Delete(ctx, "importiert", func(*profile.Vendor) error { return nil }); err != nil {
		t.Fatal(err)
	}

	want := []event{
		{Type: created, ID: "importiert", Version: 1, Actor: actor},
		{Type: created, ID: "a", Version: 1, Actor: actor},
		{Type: created, ID: "b", Version: 7, Actor: actor},
		{Type: verified, ID: "importiert", Version: 2, Actor: actor},
		{Type: claimed, ID: "importiert", Version: 3, Actor: actor, Changed: []string{profile.FieldWebsite}},
		{Type: updated, ID: "importiert", Version: 4, Actor: actor, Changed: []string{profile.FieldDescription, profile.FieldCPVCodes}},
		{Type: updated, ID: "importiert", Version: 5, Actor: actor},
		{Type: deleted, ID: "importiert", Version: 6, Actor: actor},
	}
	if diff := cmp.Diff(want, drain(t, ob)); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
	// Every write but the batch that created nothing.
	if got := n.Load(); got != 8-1 {
		t.Errorf("OnCommit called %d times, want 7", got)
	}
}

// testEventCreatedAgain checks that the versions of a vendor created
// again under the id of a deleted one, whose revisions start anew,
// continue above the deleted vendor's, so that consumers which drop events
// not newer than the last they applied (eventbus.Idempotent) apply all of
// them; and that other vendors keep their revisions as versions.
func testEventCreatedAgain(t *testing.T, newStore func(*testing.T, Events) EventStore) {
	ctx := actorCtx()
	s := newStore(t, vendorevents.Recorder{})
	edit := func(id string) {
		t.Helper()
		if _, err := s.Update(ctx, id, func(v *profile.Vendor) error { v.Description += "!"; v.Revision++; return nil }); err != nil {
			t.Fatalf("Update(%q): %v", id, err)
		}
	}
	del := func(id string) {
		t.Helper()
		if err := s.Delete(ctx, id, func(*profile.Vendor) error { return nil }); err != nil {
			t.Fatalf("Delete(%q): %v", id, err)
		}
	}
	create := func(vendors ...*profile.Vendor) {
		t.Helper()
		if _, err := s.Create(ctx, vendors, noExisting); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	create(minimalVendor("wieder"), minimalVendor("daneben"))
	edit("wieder")
	del("wieder")
	// The organisation registers again: revision 1, in a batch with a
	// vendor new to the store.
	create(minimalVendor("wieder"), minimalVendor("neu"))
	edit("wieder")
	edit("daneben")
	del("wieder")
	// Created again with a revision above the last version: the revision
	// is the version again.
	create(fullVendor("wieder"))
	edit("wieder")
	// A failed write uses no version.
	if err := s.Delete(ctx, "wieder", func(*profile.Vendor) error { return errVeto }); !errors.Is(err, errVeto) {
		t.Fatalf("Delete with veto: %v", err)
	}
	del("wieder")

	want := []event{
		{Type: created, ID: "wieder", Version: 1, Actor: actor},
		{Type: created, ID: "daneben", Version: 1, Actor: actor},
		{Type: updated, ID: "wieder", Version: 2, Actor: actor, Changed: []string{profile.FieldDescription}},
		{Type: deleted, ID: "wieder", Version: 3, Actor: actor},
		{Type: created, ID: "wieder", Version: 4, Actor: actor},
		{Type: created, ID: "neu", Version: 1, Actor: actor},
		{Type: updated, ID: "wieder", Version: 5, Actor: actor, Changed: []string{profile.FieldDescription}},
		{Type: updated, ID: "daneben", Version: 2, Actor: actor, Changed: []string{profile.FieldDescription}},
		{Type: deleted, ID: "wieder", Version: 6, Actor: actor},
		{Type: created, ID: "wieder", Version: 7, Actor: actor},
		{Type: updated, ID: "wieder", Version: 8, Actor: actor, Changed: []string{profile.FieldDescription}},
		{Type: deleted, ID: "wieder", Version: 9, Actor: actor},
	}
	got := drain(t, s.Outbox())
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}

	// What a consumer makes of them, delivered in order.
	d := eventbus.NewMemoryDedupe(0)
	applied := 0
	h := eventbus.Idempotent(d, func(context.Context, *eventsv1.Event) error { applied++; return nil })
	for i, e := range got {
		ev := &eventsv1.Event{Id: fmt.Sprint(i), Source: vendorevents.Source, AggregateType: vendorevents.AggregateType,
			AggregateId: e.ID, AggregateVersion: e.Version, Type: e.Type}
		if err := h(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if applied != len(got) {
		t.Errorf("an idempotent consumer applied %d of %d events", applied, len(got))
	}
}

func testEventFailedWrites(t *testing.T, newStore func(*testing.T, Events) EventStore) {
	ctx := actorCtx()
	s := newStore(t, vendorevents.Recorder{})
	create(t, s, minimalVendor("besetzt"), fullVendor("importiert"))
	drain(t, s.Outbox())
	n := commits(s)

	// A taken id late in a batch.
	if _, err := s.Create(ctx, []*profile.Vendor{minimalVendor("neu-1"), minimalVendor("besetzt")}, noExisting); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("batch with a taken id: %v", err)
	}
	// existing vetoes.
	again := fullVendor("neu-2")
	again.ExternalID = "ext-importiert"
	if _, err := s.Create(ctx, []*profile.Vendor{minimalVendor("neu-1"), again},
		func(int, *profile.Vendor) error { return errVeto }); !errors.Is(err, errVeto) {
		t.Errorf("batch whose existing vetoes: %v", err)
	}
	if _, err := s.Update(ctx, "besetzt", func(v *profile.Vendor) error { v.Revision++; return errVeto }); !errors.Is(err, errVeto) {
		t.Errorf("Update with veto: %v", err)
	}
	if err := s.Delete(ctx, "besetzt", func(*profile.Vendor) error { return errVeto }); !errors.Is(err, errVeto) {
		t.Errorf("Delete with veto: %v", err)
	}
	if _, err := s.Update(ctx, "fehlt", func(v *profile.Vendor) error { v.Revision++; return nil }); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Update of a missing vendor: %v", err)
	}
	// A write that keeps the revision would emit an event consumers drop
	// as outdated: vendorevents refuses it, and so the write fails.
	if _, err := s.Update(ctx, "besetzt", func(v *profile.Vendor) error { v.DisplayName = "Gleich"; return nil }); err == nil {
		t.Error("Update without a new revision succeeded")
	}
	if got := get(t, s, "besetzt").DisplayName; got == "Gleich" {
		t.Error("Update whose event failed was written")
	}
	if got := drain(t, s.Outbox()); len(got) != 0 {
		t.Errorf("failed writes left events: %+v", got)
	}
	if got := n.Load(); got != 0 {
		t.Errorf("OnCommit called %d times after failed writes", got)
	}
}

// failingEvents fails every event, like a payload that cannot be built.
type failingEvents struct{}

var errEvents = errors.New("kein Ereignis")

func (failingEvents) ForVendor(context.Context, int64, *profile.Vendor, *profile.Vendor) ([]outbox.Record, error) {
	return nil, errEvents
}

// testEventsFail checks that a write whose event cannot be made is not
// made either: no acknowledged write without its event.
func testEventsFail(t *testing.T, newStore func(*testing.T, Events) EventStore) {
	ctx := actorCtx()
	s := newStore(t, failingEvents{})
	if _, err := s.Create(ctx, []*profile.Vendor{minimalVendor("neu")}, noExisting); err == nil {
		t.Error("Create succeeded without its event")
	}
	if _, err := s.Get(ctx, "neu"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get after Create without event: %v, want ErrNotFound", err)
	}
	if got := drain(t, s.Outbox()); len(got) != 0 {
		t.Errorf("outbox: %+v", got)
	}
}

func testEventsOff(t *testing.T, newStore func(*testing.T, Events) EventStore) {
	ctx := actorCtx()
	s := newStore(t, nil)
	n := commits(s)
	create(t, s, minimalVendor("a"), fullVendor("b"))
	if _, err := s.Update(ctx, "a", func(v *profile.Vendor) error { v.Revision++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "b", func(*profile.Vendor) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, s.Outbox()); len(got) != 0 {
		t.Errorf("outbox without events: %+v", got)
	}
	if got := n.Load(); got != 0 {
		t.Errorf("OnCommit called %d times without events", got)
	}
}
