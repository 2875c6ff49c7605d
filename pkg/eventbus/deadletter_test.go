package eventbus_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/eventbus"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
)

// deadLetterStores are the DeadLetters implementations, each on a store of
// the test's own.
var deadLetterStores = []struct {
	name string
	open func(t *testing.T) eventbus.DeadLetters
}{
	{"sqlite", func(t *testing.T) eventbus.DeadLetters {
		s, err := eventbus.OpenSQLiteDeadLetters(context.Background(), filepath.Join(t.TempDir(), "events.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
	{"redis", func(t *testing.T) eventbus.DeadLetters {
		c, bus := newRedis(t)
		return eventbus.NewRedisDeadLetters(c, testPrefix(bus))
	}},
}

// testPrefix is the test's own Redis key prefix, which bus has.
func testPrefix(bus *eventbus.RedisStreams) string { return strings.TrimSuffix(bus.Key(""), "events:") }

// now is the current time as the stores keep it.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// nextMicro waits until the clock has moved on by a microsecond, so that
// two replay requests get different times.
func nextMicro(t time.Time) {
	for !now().After(t) {
	}
}

func deadLetter(stream, group, id string, first time.Time) eventbus.DeadLetter {
	return eventbus.DeadLetter{
		Stream: stream, Group: group, ID: id,
		Aggregate: stream + "/x/a", Type: "govmatch.test.v1.Happened",
		Attempts: 5, LastError: "handler failed",
		FirstFailure: first, LastFailure: first.Add(time.Second),
		Data: []byte("event " + id),
	}
}

// pending ignores when a replay was requested, keeping only whether.
var pending = cmp.Transformer("pending", func(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.Time{}.Add(1)
})

// TestDeadLetterStores is the contract of DeadLetters, run against every
// implementation.
func TestDeadLetterStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := now()
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	list := func(t *testing.T, s eventbus.DeadLetters, f eventbus.Filter) []eventbus.DeadLetter {
		t.Helper()
		dls, err := s.List(ctx, f)
		must(t, err)
		return dls
	}
	replay := func(t *testing.T, s eventbus.DeadLetters, f eventbus.Filter, want int) {
		t.Helper()
		n, err := s.RequestReplay(ctx, f)
		must(t, err)
		if n != want {
			t.Errorf("RequestReplay(%+v) marked %d, want %d", f, n, want)
		}
	}
	cases := []struct {
		name string
		test func(t *testing.T, s eventbus.DeadLetters)
	}{
		{"a dead letter round-trips and is counted for its group", func(t *testing.T, s eventbus.DeadLetters) {
			dl := deadLetter("needs", "matching", "e1", t0)
			must(t, s.Put(ctx, dl))
			if diff := cmp.Diff([]eventbus.DeadLetter{dl}, list(t, s, eventbus.Filter{})); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			for _, c := range []struct {
				stream, group string
				want          int64
			}{{"needs", "matching", 1}, {"needs", "other", 0}, {"vendors", "matching", 0}} {
				n, err := s.Count(ctx, c.stream, c.group)
				must(t, err)
				if n != c.want {
					t.Errorf("Count(%s, %s) = %d, want %d", c.stream, c.group, n, c.want)
				}
			}
		}},
		{"another failure of the same event adds its attempts and keeps the first failure", func(t *testing.T, s eventbus.DeadLetters) {
			must(t, s.Put(ctx, deadLetter("needs", "matching", "e1", t0)))
			later := deadLetter("needs", "matching", "e1", t0.Add(time.Hour))
			later.Attempts, later.LastError = 1, "still failing"
			must(t, s.Put(ctx, later))
			want := deadLetter("needs", "matching", "e1", t0)
			want.Attempts, want.LastError, want.LastFailure = 6, "still failing", later.LastFailure
			if diff := cmp.Diff([]eventbus.DeadLetter{want}, list(t, s, eventbus.Filter{})); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		}},
		{"List filters by stream, group and id, oldest first", func(t *testing.T, s eventbus.DeadLetters) {
			a := deadLetter("needs", "g1", "a", t0.Add(2*time.Second))
			b := deadLetter("needs", "g2", "b", t0)
			c := deadLetter("vendors", "g1", "c", t0.Add(time.Second))
			for _, dl := range []eventbus.DeadLetter{a, b, c} {
				must(t, s.Put(ctx, dl))
			}
			for _, f := range []struct {
				filter eventbus.Filter
				want   []eventbus.DeadLetter
			}{
				{eventbus.Filter{}, []eventbus.DeadLetter{b, c, a}},
				{eventbus.Filter{Stream: "needs"}, []eventbus.DeadLetter{b, a}},
				{eventbus.Filter{Group: "g1"}, []eventbus.DeadLetter{c, a}},
				{eventbus.Filter{Stream: "needs", Group: "g1"}, []eventbus.DeadLetter{a}},
				{eventbus.Filter{ID: "c"}, []eventbus.DeadLetter{c}},
				{eventbus.Filter{ID: "nope"}, nil},
				{eventbus.Filter{ReplayRequested: true}, nil},
			} {
				if diff := cmp.Diff(f.want, list(t, s, f.filter), cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("List(%+v) (-want +got):\n%s", f.filter, diff)
				}
			}
		}},
		{"a replay request by id marks the event in every group; a group narrows it", func(t *testing.T, s eventbus.DeadLetters) {
			for _, g := range []string{"g1", "g2"} {
				must(t, s.Put(ctx, deadLetter("needs", g, "e1", t0)))
			}
			must(t, s.Put(ctx, deadLetter("needs", "g1", "e2", t0.Add(time.Second))))
			replay(t, s, eventbus.Filter{ID: "nope"}, 0)
			replay(t, s, eventbus.Filter{ID: "e1", Group: "g2"}, 1)
			got := list(t, s, eventbus.Filter{ReplayRequested: true})
			if len(got) != 1 || got[0].Group != "g2" || got[0].ReplayRequested.Before(t0) {
				t.Errorf("pending replays after a request in g2: %+v", got)
			}
			replay(t, s, eventbus.Filter{ID: "e1"}, 2)
			var ids []string
			for _, dl := range list(t, s, eventbus.Filter{ReplayRequested: true}) {
				ids = append(ids, dl.Group+"/"+dl.ID)
			}
			if diff := cmp.Diff([]string{"g1/e1", "g2/e1"}, ids); diff != "" {
				t.Errorf("pending replays (-want +got):\n%s", diff)
			}
			replay(t, s, eventbus.Filter{}, 3)
		}},
		{"a failed replay withdraws its own request, not a newer one", func(t *testing.T, s eventbus.DeadLetters) {
			must(t, s.Put(ctx, deadLetter("needs", "g", "e1", t0)))
			replay(t, s, eventbus.Filter{ID: "e1"}, 1)
			dl := list(t, s, eventbus.Filter{ReplayRequested: true})[0]
			failed := dl
			failed.Attempts, failed.LastError = 1, "replay failed"
			must(t, s.Put(ctx, failed))
			want := deadLetter("needs", "g", "e1", t0)
			want.Attempts, want.LastError = 6, "replay failed"
			if diff := cmp.Diff([]eventbus.DeadLetter{want}, list(t, s, eventbus.Filter{})); diff != "" {
				t.Errorf("after a failed replay (-want +got):\n%s", diff)
			}

			replay(t, s, eventbus.Filter{ID: "e1"}, 1)
			dl = list(t, s, eventbus.Filter{ReplayRequested: true})[0]
			nextMicro(dl.ReplayRequested)
			replay(t, s, eventbus.Filter{ID: "e1"}, 1) // while the first is being tried
			failed = dl
			failed.Attempts = 1
			must(t, s.Put(ctx, failed))
			got := list(t, s, eventbus.Filter{ReplayRequested: true})
			if len(got) != 1 || !got[0].ReplayRequested.After(dl.ReplayRequested) {
				t.Errorf("the newer request is gone: %+v", got)
			}
		}},
		{"Delete removes the letter and its request; again is no error", func(t *testing.T, s eventbus.DeadLetters) {
			must(t, s.Put(ctx, deadLetter("needs", "g", "e1", t0)))
			keep := deadLetter("needs", "g", "e2", t0)
			must(t, s.Put(ctx, keep))
			replay(t, s, eventbus.Filter{}, 2)
			must(t, s.Delete(ctx, "needs", "g", "e1"))
			must(t, s.Delete(ctx, "needs", "g", "e1"))
			keep.ReplayRequested = t0
			if diff := cmp.Diff([]eventbus.DeadLetter{keep}, list(t, s, eventbus.Filter{}), pending); diff != "" {
				t.Errorf("after Delete (-want +got):\n%s", diff)
			}
			replay(t, s, eventbus.Filter{ID: "e1"}, 0)
			must(t, s.Put(ctx, deadLetter("needs", "g", "e1", t0)))
			if got := list(t, s, eventbus.Filter{ID: "e1", ReplayRequested: true}); len(got) != 0 {
				t.Errorf("a deleted letter's request outlived it: %+v", got)
			}
		}},
	}
	for _, st := range deadLetterStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.test(t, st.open(t))
				})
			}
		})
	}
}

// TestSQLiteDeadLettersFile holds what the monolith relies on: the file is
// private to its owner and keeps the dead letters for the next process.
func TestSQLiteDeadLettersFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", "events.db")
	s, err := eventbus.OpenSQLiteDeadLetters(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	dl := deadLetter("needs", "matching", "e1", now())
	if err := s.Put(ctx, dl); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = eventbus.OpenSQLiteDeadLetters(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.List(ctx, eventbus.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]eventbus.DeadLetter{dl}, got); diff != "" {
		t.Errorf("after reopening (-want +got):\n%s", diff)
	}
}

// poisonHandler succeeds for every event but the poison one while
// poisoned, and records the calls.
type poisonHandler struct {
	poison string
	fail   error // what the poison event fails with

	mu       sync.Mutex
	poisoned bool
	applied  []string
	calls    []time.Time // of the poison event
}

func (p *poisonHandler) handle(_ context.Context, ev *eventsv1.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.GetId() == p.poison {
		p.calls = append(p.calls, time.Now())
		if p.poisoned {
			return p.fail
		}
	}
	p.applied = append(p.applied, ev.GetId())
	return nil
}

func (p *poisonHandler) cure() { p.mu.Lock(); p.poisoned = false; p.mu.Unlock() }

func (p *poisonHandler) got() ([]string, []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.applied), slices.Clone(p.calls)
}

// eventually polls cond until it holds, or fails with what it says.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	await.NoError(t, what, func() error {
		if ok, why := cond(); !ok {
			return errors.New(why)
		}
		return nil
	})
}

// sum adds the data points of the named int64 instrument.
func sum(t *testing.T, r *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					n += p.Value
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					n += p.Value
				}
			}
		}
	}
	return n
}

// deadLetterBus is a bus under test with WithDeadLetters: publish hands it
// messages, and returns once they are published (Memory: delivered).
type deadLetterBus struct {
	sub     eventbus.Subscriber
	publish func(t *testing.T, msgs []eventbus.Message) error
	store   eventbus.DeadLetters
	reader  *sdkmetric.ManualReader
}

// Fast enough for a test, slow enough that a missing backoff shows.
var testDeadLetterOptions = eventbus.DeadLetterOptions{
	Attempts:       4,
	MinBackoff:     5 * time.Millisecond,
	MaxBackoff:     10 * time.Millisecond,
	ReplayInterval: 10 * time.Millisecond,
}

var deadLetterBuses = []struct {
	name  string
	start func(t *testing.T, h eventbus.Handler) *deadLetterBus
}{
	{"memory bus, SQLite dead letters", func(t *testing.T, h eventbus.Handler) *deadLetterBus {
		m := eventbus.NewMemory(eventbus.MemoryOptions{})
		return startDeadLetterBus(t, m, deadLetterStores[0].open(t), h, func() { subscribed(t, m, "s", "g") },
			func(_ *testing.T, msgs []eventbus.Message) error { return m.Publish(context.Background(), msgs) })
	}},
	{"Redis bus, Redis dead letters", func(t *testing.T, h eventbus.Handler) *deadLetterBus {
		c, bus := newRedis(t)
		store := eventbus.NewRedisDeadLetters(c, testPrefix(bus))
		return startDeadLetterBus(t, bus, store, h, func() {},
			func(_ *testing.T, msgs []eventbus.Message) error { return bus.Publish(context.Background(), msgs) })
	}},
}

func startDeadLetterBus(t *testing.T, sub eventbus.Subscriber, store eventbus.DeadLetters, h eventbus.Handler,
	ready func(), publish func(*testing.T, []eventbus.Message) error) *deadLetterBus {
	reader := sdkmetric.NewManualReader()
	opts := testDeadLetterOptions
	opts.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	dsub := eventbus.WithDeadLetters(sub, store, opts)
	run(t, func(ctx context.Context) {
		if err := dsub.Subscribe(ctx, "s", "g", h); err != nil {
			t.Errorf("Subscribe: %v", err)
		}
	})
	ready()
	return &deadLetterBus{sub: dsub, publish: publish, store: store, reader: reader}
}

// TestPoisonEvent is the dead-letter story on both buses: an event whose
// handler fails every time is tried Attempts times with backoff and moved
// to the dead letters while the events behind it still arrive; once the
// handler is fixed, a replay applies it and the dead letter is gone.
func TestPoisonEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range deadLetterBuses {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &poisonHandler{poison: "s-b-1", poisoned: true, fail: errors.New("cannot apply b: " + strings.Repeat("ü", 2000))}
			bus := tc.start(t, p.handle)
			start := time.Now()
			msgs := []eventbus.Message{msg(t, "s", "a", 1), msg(t, "s", "b", 1), msg(t, "s", "a", 2), msg(t, "s", "c", 1)}
			if err := bus.publish(t, msgs); err != nil {
				t.Fatalf("Publish = %v; a poison event must not hold the events back", err)
			}
			behind := []string{"s-a-1", "s-a-2", "s-c-1"}
			eventually(t, "the events behind the poison event", func() (bool, string) {
				applied, _ := p.got()
				return slices.Equal(applied, behind), cmp.Diff(behind, applied)
			})
			var dl eventbus.DeadLetter
			eventually(t, "the dead letter", func() (bool, string) {
				dls, err := bus.store.List(ctx, eventbus.Filter{})
				if err != nil || len(dls) != 1 {
					return false, fmt.Sprintf("%+v, %v", dls, err)
				}
				dl = dls[0]
				return true, ""
			})
			took := time.Since(start)

			_, calls := p.got()
			if len(calls) != testDeadLetterOptions.Attempts {
				t.Errorf("poison event tried %d times, want %d", len(calls), testDeadLetterOptions.Attempts)
			}
			var gaps []time.Duration
			for i := 1; i < len(calls); i++ {
				gap := calls[i].Sub(calls[i-1])
				gaps = append(gaps, gap.Round(100*time.Microsecond))
				want := min(testDeadLetterOptions.MinBackoff<<(i-1), testDeadLetterOptions.MaxBackoff)
				if gap < want {
					t.Errorf("attempt %d came %v after the one before, want at least %v", i+1, gap, want)
				}
			}
			want := eventbus.DeadLetter{
				Stream: "s", Group: "g", ID: "s-b-1", Aggregate: "s/x/b", Attempts: testDeadLetterOptions.Attempts,
			}
			if diff := cmp.Diff(want, dl, cmpopts.IgnoreFields(eventbus.DeadLetter{}, "LastError", "FirstFailure", "LastFailure", "Data")); diff != "" {
				t.Errorf("dead letter (-want +got):\n%s", diff)
			}
			if len(dl.LastError) > eventbus.MaxErrorBytes || !utf8.ValidString(dl.LastError) || !strings.HasPrefix(dl.LastError, "cannot apply b: üü") {
				t.Errorf("last error not the handler's, cut to %d bytes of UTF-8: %d bytes %q…", eventbus.MaxErrorBytes, len(dl.LastError), dl.LastError[:min(40, len(dl.LastError))])
			}
			if ev, err := eventbus.Decode(dl.Data); err != nil || ev.GetId() != "s-b-1" {
				t.Errorf("dead letter's data = %v, %v; want the event", ev, err)
			}
			if d := dl.LastFailure.Sub(dl.FirstFailure); d < 15*time.Millisecond {
				t.Errorf("first to last failure %v, want at least the backoffs' 5+10+10ms", d)
			}
			if n := sum(t, bus.reader, "eventbus.consumer.deadlettered"); n != 1 {
				t.Errorf("eventbus.consumer.deadlettered = %d, want 1", n)
			}
			if n := sum(t, bus.reader, "eventbus.consumer.deadletters"); n != 1 {
				t.Errorf("eventbus.consumer.deadletters = %d, want 1", n)
			}
			t.Logf("poison event %s dead-lettered after %d attempts (gaps %v) within %v; events behind it applied: %v; last error %.40q…",
				dl.ID, dl.Attempts, gaps, took.Round(time.Millisecond), behind, dl.LastError)

			// The handler is fixed; the operator asks for a replay.
			p.cure()
			replayed := time.Now()
			if n, err := bus.store.RequestReplay(ctx, eventbus.Filter{ID: dl.ID}); err != nil || n != 1 {
				t.Fatalf("RequestReplay = %d, %v; want 1", n, err)
			}
			eventually(t, "the replay", func() (bool, string) {
				dls, err := bus.store.List(ctx, eventbus.Filter{})
				applied, _ := p.got()
				return err == nil && len(dls) == 0 && slices.Contains(applied, dl.ID),
					fmt.Sprintf("dead letters %+v (%v), applied %v", dls, err, applied)
			})
			if n := sum(t, bus.reader, "eventbus.consumer.deadletters"); n != 0 {
				t.Errorf("eventbus.consumer.deadletters = %d after the replay, want 0", n)
			}
			applied, _ := p.got()
			t.Logf("replayed within %v; applied in order: %v; dead letters left: 0", time.Since(replayed).Round(time.Millisecond), applied)
		})
	}
}

// TestDeadLetterReplayFails: a replay that fails again counts the attempt
// and withdraws the request, and the letter stays.
func TestDeadLetterReplayFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range deadLetterBuses {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &poisonHandler{poison: "s-b-1", poisoned: true, fail: errors.New("still broken")}
			bus := tc.start(t, p.handle)
			if err := bus.publish(t, []eventbus.Message{msg(t, "s", "b", 1)}); err != nil {
				t.Fatal(err)
			}
			list := func() ([]eventbus.DeadLetter, error) { return bus.store.List(ctx, eventbus.Filter{}) }
			eventually(t, "the dead letter", func() (bool, string) {
				dls, err := list()
				return err == nil && len(dls) == 1, fmt.Sprintf("%+v, %v", dls, err)
			})
			if n, err := bus.store.RequestReplay(ctx, eventbus.Filter{ID: "s-b-1"}); err != nil || n != 1 {
				t.Fatalf("RequestReplay = %d, %v; want 1", n, err)
			}
			want := testDeadLetterOptions.Attempts + 1
			eventually(t, "the failed replay", func() (bool, string) {
				dls, err := list()
				return err == nil && len(dls) == 1 && dls[0].Attempts == want && dls[0].ReplayRequested.IsZero(),
					fmt.Sprintf("%+v, %v; want %d attempts and no request", dls, err, want)
			})
			if _, calls := p.got(); len(calls) != want {
				t.Errorf("handler called %d times for the poison event, want %d", len(calls), want)
			}
		})
	}
}

// TestDeadLetterUnavailable: an error saying that a dependency is down is
// no fault of the event; the bus redelivers it as it would without dead
// letters, and nothing is dead-lettered.
func TestDeadLetterUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := &poisonHandler{poison: "s-b-1", poisoned: true, fail: errdefs.Unavailable("database down")}
	bus := deadLetterBuses[0].start(t, p.handle)
	msgs := []eventbus.Message{msg(t, "s", "b", 1), msg(t, "s", "c", 1)}
	for range testDeadLetterOptions.Attempts + 1 {
		if err := bus.publish(t, msgs); !errors.Is(err, errdefs.ErrUnavailable) {
			t.Fatalf("Publish = %v, want the handler's ErrUnavailable", err)
		}
	}
	p.cure()
	if err := bus.publish(t, msgs); err != nil {
		t.Fatal(err)
	}
	applied, calls := p.got()
	if diff := cmp.Diff([]string{"s-b-1", "s-c-1"}, applied); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if want := testDeadLetterOptions.Attempts + 2; len(calls) != want {
		t.Errorf("handler called %d times, want %d: once per delivery, no retries in place", len(calls), want)
	}
	if dls, err := bus.store.List(ctx, eventbus.Filter{}); err != nil || len(dls) != 0 {
		t.Errorf("dead letters = %+v, %v; want none", dls, err)
	}
}

// TestDeadLetterMetricNames pins the Prometheus names that the alert rules
// in deploy/prometheus use.
func TestDeadLetterMetricNames(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	m := eventbus.NewMemory(eventbus.MemoryOptions{})
	p := &poisonHandler{poison: "s-b-1", poisoned: true, fail: errors.New("poison")}
	opts := testDeadLetterOptions
	opts.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	sub := eventbus.WithDeadLetters(m, deadLetterStores[0].open(t), opts)
	run(t, func(ctx context.Context) { _ = sub.Subscribe(ctx, "s", "g", p.handle) })
	subscribed(t, m, "s", "g")
	if err := m.Publish(context.Background(), []eventbus.Message{msg(t, "s", "b", 1)}); err != nil {
		t.Fatal(err)
	}
	labels := `messaging_consumer_group_name="g",messaging_destination_name="s"`
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if strings.Contains(mf.GetName(), "dead") {
			for _, m := range mf.GetMetric() {
				var l []string
				for _, lp := range m.GetLabel() {
					if strings.HasPrefix(lp.GetName(), "messaging_") {
						l = append(l, lp.GetName()+"="+strconv.Quote(lp.GetValue()))
					}
				}
				got = append(got, mf.GetName()+"{"+strings.Join(l, ",")+"}")
			}
		}
	}
	want := []string{"eventbus_consumer_deadlettered_total{" + labels + "}", "eventbus_consumer_deadletters{" + labels + "}"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("series (-want +got):\n%s", diff)
	}

	// The alert rules shipped in deploy/ name only metrics that exist, so
	// that none of them silently never fires.
	rules, err := os.ReadFile("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, mf := range mfs {
		exported[mf.GetName()] = true
	}
	alerted := regexp.MustCompile(`\beventbus_[a-z_]+\b`).FindAllString(string(rules), -1)
	if len(alerted) < 2 {
		t.Errorf("deploy/prometheus/alerts.yaml names %v; want the dead-letter and error metrics", alerted)
	}
	for _, name := range alerted {
		if !exported[name] {
			t.Errorf("deploy/prometheus/alerts.yaml alerts on %s, which is not exported (have %v)", name, slices.Sorted(maps.Keys(exported)))
		}
	}
}
