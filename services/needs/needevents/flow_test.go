package needevents_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/outbox"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
	"github.com/govmatch/govmatch/services/needs/need"
	"github.com/govmatch/govmatch/services/needs/needevents"
	"github.com/govmatch/govmatch/services/needs/store/sqlite"
)

// TestFlow runs a need's life through the service and an SQLite store with
// events, the outbox relay and the in-process bus, to an idempotent
// consumer, as the monolith wires them: the consumer sees each write's
// event once, in order, with growing versions.
func TestFlow(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "needs.db"), sqlite.WithEvents(needevents.Recorder{}))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus := eventbus.NewMemory(eventbus.MemoryOptions{MeterProvider: noop.NewMeterProvider(), Logger: quiet})
	bus.Declare(needevents.Source, "matching")
	relay := outbox.NewRelay(store.Outbox(), bus, outbox.RelayOptions{
		PollInterval: time.Minute, // OnCommit must wake it
		MinBackoff:   time.Millisecond, MaxBackoff: 10 * time.Millisecond,
		MeterProvider: noop.NewMeterProvider(), Logger: quiet,
	})
	store.OnCommit(relay.Notify)

	type seen struct {
		Type    string
		Version int64
		Actor   string
	}
	var (
		mu  sync.Mutex
		got []seen
	)
	consumer := eventbus.Idempotent(eventbus.NewMemoryDedupe(0), func(_ context.Context, ev *eventsv1.Event) error {
		mu.Lock()
		got = append(got, seen{ev.GetType(), ev.GetAggregateVersion(), ev.GetActor()})
		mu.Unlock()
		return nil
	})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := bus.Subscribe(ctx, needevents.Source, "matching", consumer); err != nil {
			t.Errorf("Subscribe: %v", err)
		}
	})
	wg.Go(func() {
		if err := relay.Run(ctx); err != nil {
			t.Errorf("Relay: %v", err)
		}
	})
	defer wg.Wait()
	defer cancel()

	svc := need.NewService(store)
	as := func(sub, org string, role identity.Role) context.Context {
		return identity.NewContext(ctx, identity.Principal{Subject: sub, Org: org, Roles: []identity.Role{role}})
	}
	owner := as("anna", "stadt-giessen", identity.RoleBuyer)
	n, err := svc.Create(owner, need.Fields{Title: "Terminvergabe im Bürgeramt", ProblemStatement: "Wartezeiten von Wochen."}, "stadt-giessen.bedarf-termine")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Publish(owner, n.ID, time.Now().Add(30*24*time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Join(as("ben", "kreis-giessen", identity.RoleBuyer), n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SubmitResponse(as("carla", "civic-coop", identity.RoleVendor), n.ID,
		need.ResponseFields{Summary: "Wir betreiben Terminbuchung für 40 Kommunen.", ContactEmail: "team@civic.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Close(owner, n.ID, "Bedarf entfallen", ""); err != nil {
		t.Fatal(err)
	}

	want := []seen{
		{"govmatch.needs.v1.NeedCreated", 1, "anna"},
		{"govmatch.needs.v1.NeedPublished", 2, "anna"},
		{"govmatch.needs.v1.NeedJoined", 3, "ben"},
		{"govmatch.needs.v1.ResponseSubmitted", 4, "carla"},
		{"govmatch.needs.v1.NeedClosed", 5, "anna"},
	}
	await.NoError(t, "the consumer saw every event", func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < len(want) {
			return fmt.Errorf("saw only %v", got)
		}
		return nil
	})
	// A redelivery of an old event (as after a relay crash) is skipped.
	first, err := needevents.ForNeed(owner, 1, nil, n)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, []eventbus.Message{{Stream: needevents.Source, ID: first[0].EventID, Data: first[0].Data}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("consumer saw (-want +got):\n%s", diff)
	}
	mu.Unlock()
	// The relay deletes what the bus acknowledged.
	await.NoError(t, "the outbox drained", func() error {
		b, err := relay.Backlog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b.Count != 0 {
			return fmt.Errorf("outbox still holds %d events", b.Count)
		}
		return nil
	})
}
