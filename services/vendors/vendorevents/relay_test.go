package vendorevents_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/outbox"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/store/sqlite"
	"github.com/govmatch/govmatch/services/vendors/vendorevents"
)

// seen is what the consumer got of an event.
type seen struct {
	ID, Type string
	Version  int64
}

// TestRelayToConsumer runs the whole path of the monolithic mode: service,
// SQLite store with events, outbox relay, in-memory bus and an idempotent
// consumer, which sees every write's event once, in order, with growing
// versions.
func TestRelayToConsumer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vendors.db"), sqlite.WithEvents(vendorevents.Recorder{}))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	bus := eventbus.NewMemory(eventbus.MemoryOptions{})
	bus.Declare(vendorevents.Source, "matching")
	var (
		mu  sync.Mutex
		got []seen
	)
	const want = 6
	handler := eventbus.Idempotent(eventbus.NewMemoryDedupe(0), func(_ context.Context, ev *eventsv1.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, seen{ev.GetAggregateId(), ev.GetType(), ev.GetAggregateVersion()})
		return nil
	})
	relay := outbox.NewRelay(store.Outbox(), bus, outbox.RelayOptions{PollInterval: 20 * time.Millisecond})
	store.OnCommit(relay.Notify)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		if err := bus.Subscribe(ctx, vendorevents.Source, "matching", handler); err != nil {
			t.Errorf("Subscribe: %v", err)
		}
	})
	wg.Go(func() {
		if err := relay.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	var (
		venture   = as(identity.Principal{Subject: "d@govtech", Org: "govtech-hh", Roles: []identity.Role{identity.RoleVentureUnit}})
		admin     = as(identity.Principal{Subject: "root", Roles: []identity.Role{identity.RoleAdmin}})
		ownVendor = as(identity.Principal{Subject: "a@civic", Org: "civic-code", Roles: []identity.Role{identity.RoleVendor}})
	)
	svc := profile.NewService(store)
	batch := []profile.CreateRequest{
		{ID: "civic-code", ExternalID: "cfv-1", Fields: profile.Fields{DisplayName: "Civic Code e.V.", Kind: profile.KindCivicTech}},
		{ID: "stadtwerk", ExternalID: "cfv-2", Fields: profile.Fields{DisplayName: "Stadtwerk Digital", Kind: profile.KindStartUp}},
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"import", func() error { _, err := svc.BatchCreate(venture, batch); return err }},
		{"import again: no events", func() error { _, err := svc.BatchCreate(venture, batch); return err }},
		{"verify", func() error {
			_, err := svc.Verify(admin, "civic-code", profile.Verified, "Handelsregister geprüft", "")
			return err
		}},
		{"claim", func() error {
			_, err := svc.Update(ownVendor, "civic-code", profile.Fields{Remote: true}, []string{profile.FieldRemote}, "")
			return err
		}},
		{"edit", func() error {
			_, err := svc.Update(ownVendor, "civic-code", profile.Fields{DisplayName: "Civic Code"}, []string{profile.FieldDisplayName}, "")
			return err
		}},
		{"vetoed edit: no event", func() error {
			_, err := svc.Update(ownVendor, "stadtwerk", profile.Fields{Remote: true}, []string{profile.FieldRemote}, "")
			if err == nil {
				t.Error("civic-code edited stadtwerk")
			}
			return nil
		}},
		{"delete", func() error { return svc.Delete(ownVendor, "civic-code", "") }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}

	await.NoError(t, "the consumer got every event", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < want {
			return fmt.Errorf("got %d of %d: %v", len(got), want, got)
		}
		return nil
	})
	const p = "govmatch.vendors.v1."
	wantSeen := []seen{
		{"civic-code", p + "VendorCreated", 1},
		{"stadtwerk", p + "VendorCreated", 1},
		{"civic-code", p + "VendorVerified", 2},
		{"civic-code", p + "VendorClaimed", 3},
		{"civic-code", p + "VendorUpdated", 4},
		{"civic-code", p + "VendorDeleted", 5},
	}
	// Wait for the relay to empty the outbox: then nothing else is coming.
	await.NoError(t, "the outbox drained", func() error {
		b, err := store.Outbox().Backlog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.Count != 0 {
			return fmt.Errorf("outbox still holds %d events", b.Count)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(wantSeen, got); diff != "" {
		t.Errorf("consumer saw (-want +got):\n%s", diff)
	}
}

func as(p identity.Principal) context.Context { return identity.NewContext(context.Background(), p) }
