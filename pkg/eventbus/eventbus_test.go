package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/testdb"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testdb.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func msg(t testing.TB, stream, agg string, version int64) eventbus.Message {
	id := fmt.Sprintf("%s-%s-%d", stream, agg, version)
	data, err := proto.Marshal(&eventsv1.Event{Id: id, Source: stream, AggregateType: "x", AggregateId: agg, AggregateVersion: version})
	if err != nil {
		t.Fatal(err)
	}
	return eventbus.Message{Stream: stream, ID: id, Data: data}
}

// recorder is a handler that records event ids and fails on demand.
type recorder struct {
	mu   sync.Mutex
	ids  []string
	fail map[string]int // id → failures still to come
}

func (r *recorder) handle(_ context.Context, ev *eventsv1.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail[ev.GetId()] > 0 {
		r.fail[ev.GetId()]--
		return errors.New("handler failed")
	}
	r.ids = append(r.ids, ev.GetId())
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

func (r *recorder) waitFor(t *testing.T, n int) {
	t.Helper()
	await.NoError(t, fmt.Sprintf("%d events", n), func() error {
		if got := r.got(); len(got) < n {
			return fmt.Errorf("got %d: %v", len(got), got)
		}
		return nil
	})
}

func run(t *testing.T, f func(ctx context.Context)) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f(ctx) })
	stop := func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

// subscribed waits until Memory knows a running Subscribe of group.
func subscribed(t *testing.T, m *eventbus.Memory, stream, group string) {
	t.Helper()
	await.True(t, fmt.Sprintf("group %q subscribed", group), func() bool {
		lags, _ := m.Lag(context.Background(), stream)
		for _, l := range lags {
			if l.Group == group && l.Consumers == 1 {
				return true
			}
		}
		return false
	})
}

func TestMemory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	batch := func(t *testing.T) []eventbus.Message {
		return []eventbus.Message{msg(t, "s", "a", 1), msg(t, "s", "b", 1), msg(t, "s", "a", 2), msg(t, "other", "c", 1)}
	}
	all := []string{"s-a-1", "s-b-1", "s-a-2"}

	t.Run("every group gets every event in order before Publish returns", func(t *testing.T) {
		t.Parallel()
		m := eventbus.NewMemory(eventbus.MemoryOptions{})
		g1, g2 := &recorder{}, &recorder{}
		run(t, func(ctx context.Context) { _ = m.Subscribe(ctx, "s", "g1", g1.handle) })
		run(t, func(ctx context.Context) { _ = m.Subscribe(ctx, "s", "g2", g2.handle) })
		subscribed(t, m, "s", "g1")
		subscribed(t, m, "s", "g2")
		if err := m.Publish(ctx, batch(t)); err != nil {
			t.Fatal(err)
		}
		for _, g := range []*recorder{g1, g2} {
			if diff := cmp.Diff(all, g.got()); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
		}
	})

	t.Run("a handler error fails Publish; the retry resumes at the failed event", func(t *testing.T) {
		t.Parallel()
		m := eventbus.NewMemory(eventbus.MemoryOptions{})
		ok, failing := &recorder{}, &recorder{fail: map[string]int{"s-b-1": 1}}
		run(t, func(ctx context.Context) { _ = m.Subscribe(ctx, "s", "ok", ok.handle) })
		run(t, func(ctx context.Context) { _ = m.Subscribe(ctx, "s", "failing", failing.handle) })
		subscribed(t, m, "s", "ok")
		subscribed(t, m, "s", "failing")
		if err := m.Publish(ctx, batch(t)); err == nil {
			t.Fatal("Publish succeeded although a handler failed")
		}
		if diff := cmp.Diff([]string{"s-a-1"}, failing.got()); diff != "" {
			t.Errorf("failing group went past the failed event (-want +got):\n%s", diff)
		}
		if err := m.Publish(ctx, batch(t)); err != nil { // the relay's retry
			t.Fatal(err)
		}
		for name, g := range map[string]*recorder{"ok": ok, "failing": failing} {
			if diff := cmp.Diff(all, g.got()); diff != "" {
				t.Errorf("group %s got (-want +got):\n%s", name, diff)
			}
		}
	})

	t.Run("a declared group without a running handler holds Publish back", func(t *testing.T) {
		t.Parallel()
		m := eventbus.NewMemory(eventbus.MemoryOptions{})
		m.Declare("s", "late")
		if err := m.Publish(ctx, batch(t)); !errors.Is(err, eventbus.ErrNoConsumer) {
			t.Fatalf("Publish = %v, want ErrNoConsumer", err)
		}
		late := &recorder{}
		stop := run(t, func(ctx context.Context) { _ = m.Subscribe(ctx, "s", "late", late.handle) })
		subscribed(t, m, "s", "late")
		if err := m.Publish(ctx, batch(t)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(all, late.got()); diff != "" {
			t.Errorf("late group got (-want +got):\n%s", diff)
		}
		stop() // the group stays known: Publish fails again
		if err := m.Publish(ctx, batch(t)); !errors.Is(err, eventbus.ErrNoConsumer) {
			t.Errorf("Publish after Subscribe ended = %v, want ErrNoConsumer", err)
		}
	})

	t.Run("a stream nobody wants is dropped", func(t *testing.T) {
		t.Parallel()
		m := eventbus.NewMemory(eventbus.MemoryOptions{})
		if err := m.Publish(ctx, batch(t)); err != nil {
			t.Errorf("Publish = %v", err)
		}
	})
}

func newRedis(t *testing.T) (*redis.Client, *eventbus.RedisStreams) {
	url, prefix := testdb.Redis(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c, eventbus.NewRedisStreams(c, eventbus.RedisOptions{
		Prefix: prefix, Block: 50 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		ClaimMinIdle: 100 * time.Millisecond,
	})
}

func TestRedisStreams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("in order, redelivering from a failed event on", func(t *testing.T) {
		t.Parallel()
		_, bus := newRedis(t)
		var msgs []eventbus.Message
		var want []string
		for v := int64(1); v <= 50; v++ {
			m := msg(t, "s", "a", v)
			msgs, want = append(msgs, m), append(want, m.ID)
		}
		if err := bus.Publish(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		r := &recorder{fail: map[string]int{"s-a-7": 3, "s-a-30": 1}}
		run(t, func(ctx context.Context) { _ = bus.Subscribe(ctx, "s", "g", r.handle) })
		r.waitFor(t, len(want))
		if diff := cmp.Diff(want, r.got()); diff != "" {
			t.Errorf("delivered (-want +got):\n%s", diff)
		}
		await.NoError(t, "the group caught up", func() error {
			lags, err := bus.Lag(ctx, "s")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]eventbus.GroupLag{{Group: "g", Consumers: 1}}, lags); d != "" {
				return fmt.Errorf("Lag (-want +got):\n%s", d)
			}
			return nil
		})
	})

	t.Run("a new consumer takes over what a dead one left unacknowledged", func(t *testing.T) {
		t.Parallel()
		c, bus := newRedis(t)
		if err := bus.Publish(ctx, []eventbus.Message{msg(t, "s", "a", 1), msg(t, "s", "a", 2)}); err != nil {
			t.Fatal(err)
		}
		// A consumer reads both and dies without acknowledging.
		if err := c.XGroupCreateMkStream(ctx, bus.Key("s"), "g", "0").Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "dead", Streams: []string{bus.Key("s"), ">"}, Block: -1}).Err(); err != nil {
			t.Fatal(err)
		}
		lags, err := bus.Lag(ctx, "s")
		if err != nil || len(lags) != 1 || lags[0].Pending != 2 {
			t.Fatalf("Lag = %+v, %v; want 2 pending", lags, err)
		}
		r := &recorder{}
		run(t, func(ctx context.Context) { _ = bus.Subscribe(ctx, "s", "g", r.handle) })
		r.waitFor(t, 2)
		if diff := cmp.Diff([]string{"s-a-1", "s-a-2"}, r.got()); diff != "" {
			t.Errorf("delivered (-want +got):\n%s", diff)
		}
	})

	t.Run("Lag of a stream nobody published to", func(t *testing.T) {
		t.Parallel()
		_, bus := newRedis(t)
		lags, err := bus.Lag(ctx, "nothing")
		if err != nil || len(lags) != 0 {
			t.Errorf("Lag = %+v, %v; want none", lags, err)
		}
	})
}

func TestIdempotent(t *testing.T) {
	t.Parallel()
	ev := func(id, agg string, v int64) *eventsv1.Event {
		return &eventsv1.Event{Id: id, Source: "s", AggregateType: "x", AggregateId: agg, AggregateVersion: v}
	}
	for _, tc := range []struct {
		name   string
		events []*eventsv1.Event
		want   []string
	}{
		{"duplicates are applied once",
			[]*eventsv1.Event{ev("1", "a", 1), ev("1", "a", 1), ev("2", "a", 2), ev("2", "a", 2)},
			[]string{"1", "2"}},
		{"an older version after a newer one is skipped",
			[]*eventsv1.Event{ev("1", "a", 1), ev("2", "a", 2), ev("1", "a", 1), ev("3", "a", 3)},
			[]string{"1", "2", "3"}},
		{"aggregates are apart",
			[]*eventsv1.Event{ev("1", "a", 1), ev("2", "b", 1), ev("3", "a", 2)},
			[]string{"1", "2", "3"}},
		{"events without a version go by id",
			[]*eventsv1.Event{ev("1", "a", 0), ev("2", "a", 0), ev("1", "a", 0)},
			[]string{"1", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{}
			h := eventbus.Idempotent(eventbus.NewMemoryDedupe(0), r.handle)
			for _, e := range tc.events {
				if err := h(context.Background(), e); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(tc.want, r.got()); diff != "" {
				t.Errorf("applied (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a failed handler is not recorded", func(t *testing.T) {
		t.Parallel()
		r := &recorder{fail: map[string]int{"1": 1}}
		h := eventbus.Idempotent(eventbus.NewMemoryDedupe(0), r.handle)
		if err := h(context.Background(), ev("1", "a", 1)); err == nil {
			t.Fatal("want the handler's error")
		}
		if err := h(context.Background(), ev("1", "a", 1)); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"1"}, r.got()); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
	})
}
