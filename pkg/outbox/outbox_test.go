package outbox_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/pkg/testdb"
)

// TestDDLIsFrozen guards the statements that services' migrations run:
// editing one would make databases migrated before and after disagree.
// Add a new statement instead.
func TestDDLIsFrozen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, ddl, sum string
	}{
		{"PostgresDDL", outbox.PostgresDDL, "472c4d06e9565850a46e54e038899bccdb6353360c9485f9d5d1548eb763e087"},
		{"SQLiteDDL", outbox.SQLiteDDL, "84a2d009820f140dacf90a20e0acbba756550c17fee954fd72a4a37524622c5b"},
	} {
		sum := sha256.Sum256([]byte(tc.ddl))
		if got := hex.EncodeToString(sum[:]); got != tc.sum {
			t.Errorf("%s changed (sha256 %s): it is frozen, add a new statement and migration instead", tc.name, got)
		}
	}
}

// TestOrderedDelivery writes from many goroutines to several aggregates
// and checks that every consumer group applies every event once, in
// version order per aggregate, on each engine and each bus. With
// PostgreSQL two relays run, as two replicas would.
func TestOrderedDelivery(t *testing.T) {
	t.Parallel()
	buses := []struct {
		name string
		new  func(t *testing.T) eventbus.Bus
	}{
		{"Memory", func(*testing.T) eventbus.Bus { return eventbus.NewMemory(eventbus.MemoryOptions{}) }},
		{"RedisStreams", func(t *testing.T) eventbus.Bus { return sharedRedisBus(t) }},
	}
	for _, e := range engines {
		for _, b := range buses {
			t.Run(e.name+"/"+b.name, func(t *testing.T) {
				t.Parallel()
				d := e.open(t)
				bus := b.new(t)
				groups := []*collector{newCollector(), newCollector()}
				if m, ok := bus.(*eventbus.Memory); ok {
					m.Declare(source, "g0")
					m.Declare(source, "g1")
				}
				for i, c := range groups {
					run(t, func(ctx context.Context) {
						_ = bus.Subscribe(ctx, source, []string{"g0", "g1"}[i], c.handler())
					})
				}
				relays := 1
				if e.name == "PostgreSQL" {
					relays = 2
				}
				var notify []func()
				for range relays {
					r := fastRelay(d.store(), bus)
					notify = append(notify, r.Notify)
					run(t, func(ctx context.Context) { _ = r.Run(ctx) })
				}
				w := newWriter(d, 5)
				w.writeN(t, 400, func() {
					for _, n := range notify {
						n()
					}
				})
				for _, c := range groups {
					c.waitFor(t, w.total)
					c.check(t, w.want)
					if n := c.duplicates(); n != 0 {
						t.Errorf("%d duplicates without any failure", n)
					}
				}
				waitBacklog(t, d.store())
			})
		}
	}
}

// TestRedisOutage stops Redis while writes go on: the writes succeed, their
// events wait in the outbox and reach the consumer, exactly once and in
// order, once Redis is back.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			d := e.open(t)
			srv := testdb.RedisServer(t)
			bus := redisBus(t, srv.URL(), "outage:")
			c := newCollector()
			run(t, func(ctx context.Context) { _ = bus.Subscribe(ctx, source, "consumer", c.handler()) })
			store := d.store()
			m, mp := newMetrics()
			r := meteredRelay(store, bus, mp)
			run(t, func(ctx context.Context) { _ = r.Run(ctx) })

			w := newWriter(d, 4)
			w.writeN(t, 200, r.Notify)
			// The throwaway Redis has no persistence and restarts empty: what
			// it holds unread when stopped is lost with it (production runs
			// with appendonly), so the consumer catches up first.
			c.waitFor(t, w.total)

			srv.Stop()
			w.writeN(t, 200, r.Notify) // acknowledged writes while Redis is down
			b, err := store.Backlog(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if b.Count == 0 || b.OldestAge <= 0 {
				t.Errorf("backlog while Redis is down = %+v, want events waiting", b)
			}
			// The outage lasts until the relay has failed to publish.
			await.True(t, "the relay failed to publish while Redis is down", func() bool {
				return m.value(t, "outbox.publish.errors") > 0
			})
			if got := m.value(t, "outbox.backlog"); got == 0 {
				t.Errorf("outbox.backlog = %v while Redis is down, want events waiting", got)
			}
			srv.Start()
			w.writeN(t, 200, r.Notify)

			c.waitFor(t, w.total)
			waitBacklog(t, store)
			c.check(t, w.want)
			if got := m.value(t, "outbox.published"); got < float64(w.total) {
				t.Errorf("outbox.published = %v, want at least %d", got, w.total)
			}
			lags, err := bus.Lag(context.Background(), source)
			if err != nil {
				t.Fatal(err)
			}
			if len(lags) != 1 || lags[0].Lag != 0 || lags[0].Pending != 0 {
				t.Errorf("Lag = %+v, want one group, caught up", lags)
			}
		})
	}
}

// TestKilledBetweenCommitAndPublish commits events with no relay running,
// as if the process died right after its commits; a relay started later on
// the same database delivers all of them.
func TestKilledBetweenCommitAndPublish(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			d := e.open(t)
			w := newWriter(d, 3)
			w.writeN(t, 90, nil)

			store := d.store() // a new process: new connections
			b, err := store.Backlog(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if b.Count != int64(w.total) {
				t.Errorf("backlog after the crash = %d, want %d", b.Count, w.total)
			}
			bus := sharedRedisBus(t)
			c := newCollector()
			run(t, func(ctx context.Context) { _ = bus.Subscribe(ctx, source, "consumer", c.handler()) })
			r := fastRelay(store, bus)
			run(t, func(ctx context.Context) { _ = r.Run(ctx) })
			c.waitFor(t, w.total)
			waitBacklog(t, store)
			c.check(t, w.want)
		})
	}
}

// crashingStore fails the first Delete after a successful publish, as a
// relay that dies between publish and delete would.
type crashingStore struct {
	outbox.Store
	crashed atomic.Bool
}

func (s *crashingStore) Lease(ctx context.Context) (outbox.Session, error) {
	sess, err := s.Store.Lease(ctx)
	if err != nil {
		return nil, err
	}
	return &crashingSession{Session: sess, s: s}, nil
}

type crashingSession struct {
	outbox.Session
	s *crashingStore
}

func (s *crashingSession) Delete(ctx context.Context, seqs []int64) error {
	if s.s.crashed.CompareAndSwap(false, true) {
		return errors.New("crash before delete")
	}
	return s.Session.Delete(ctx, seqs)
}

// TestDuplicatePublish makes the relay publish a batch twice: the stream
// then holds duplicates, which the consumer sees and applies once.
func TestDuplicatePublish(t *testing.T) {
	t.Parallel()
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			d := e.open(t)
			w := newWriter(d, 2)
			w.writeN(t, 20, nil) // one batch, then the crash

			bus := sharedRedisBus(t)
			c := newCollector()
			run(t, func(ctx context.Context) { _ = bus.Subscribe(ctx, source, "consumer", c.handler()) })
			store := &crashingStore{Store: d.store()}
			r := fastRelay(store, bus)
			run(t, func(ctx context.Context) { _ = r.Run(ctx) })
			waitBacklog(t, store)
			c.waitFor(t, w.total)
			if !store.crashed.Load() {
				t.Fatal("the relay never deleted")
			}
			await.True(t, "the republished batch reached the consumer", func() bool { return c.duplicates() >= w.total })
			if got := c.duplicates(); got != w.total {
				t.Errorf("consumer got %d duplicates, want %d (the whole batch again)", got, w.total)
			}
			c.check(t, w.want)
		})
	}
}
