package ratelimit_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/ratelimit"
	"github.com/govmatch/govmatch/pkg/testdb"
)

// fakePrimary answers as told and counts its calls.
type fakePrimary struct {
	calls atomic.Int64
	err   atomic.Pointer[error] // nil: answer
	block chan struct{}         // non-nil: hang until closed, ignoring ctx
	// atDeadline, when set, is returned at ctx's deadline, as go-redis with
	// ContextTimeoutEnabled returns its connection's "i/o timeout": the
	// connection's timer may fire before the context's.
	atDeadline error
}

var primaryAnswer = ratelimit.Result{Allowed: true, Remaining: 99, Limit: ratelimit.Limit{Rate: 100, Burst: 100}}

func (p *fakePrimary) Allow(ctx context.Context, _ string) (ratelimit.Result, error) {
	p.calls.Add(1)
	if p.atDeadline != nil {
		if deadline, ok := ctx.Deadline(); ok {
			time.Sleep(time.Until(deadline))
		}
		return ratelimit.Result{}, p.atDeadline
	}
	if p.block != nil {
		<-p.block
	}
	if err := p.err.Load(); err != nil {
		return ratelimit.Result{}, *err
	}
	return primaryAnswer, nil
}

func (p *fakePrimary) fail(err error) { p.err.Store(&err) }
func (p *fakePrimary) heal()          { p.err.Store(nil) }

// logRecorder keeps the messages logged through it.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}

func (r *logRecorder) levels() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, m[:4]) // "WARN" or "INFO"
	}
	return out
}

// degradedCounts reads DegradedMetric by reason.
func degradedCounts(t *testing.T, reader sdkmetric.Reader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != ratelimit.DegradedMetric {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is %T, want a counter", m.Name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				reason, _ := dp.Attributes.Value(attribute.Key("reason"))
				counts[reason.AsString()] += dp.Value
			}
		}
	}
	return counts
}

type failOpenFixture struct {
	primary *fakePrimary
	limiter *ratelimit.FailOpen
	logs    *logRecorder
	metrics *sdkmetric.ManualReader
}

// The fallback allows 2 requests per key, so that its answers differ from
// the primary's.
var fallbackLimit = ratelimit.Limit{Rate: 0.001, Burst: 2}

func newFailOpen(t *testing.T, primary *fakePrimary, opts ...ratelimit.FailOpenOption) *failOpenFixture {
	t.Helper()
	f := &failOpenFixture{primary: primary, logs: &logRecorder{}, metrics: sdkmetric.NewManualReader()}
	opts = append(opts, ratelimit.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.metrics))))
	f.limiter = ratelimit.NewFailOpen(primary, ratelimit.NewMemory(fallbackLimit), slog.New(f.logs), opts...)
	return f
}

func TestFailOpen(t *testing.T) {
	t.Parallel()
	broken := errors.New("redis: connection refused")
	tests := []struct {
		name    string
		prepare func(p *fakePrimary)
		// requests are made one after another for key "k".
		requests int

		wantAllowed      []bool
		wantFromPrimary  bool
		wantDegraded     bool
		wantPrimaryCalls int64
		wantCounts       map[string]int64
		wantLogs         []string
	}{
		{
			name: "primary answers", requests: 3,
			wantAllowed: []bool{true, true, true}, wantFromPrimary: true, wantPrimaryCalls: 3,
			wantCounts: map[string]int64{},
		},
		{
			name: "primary fails: the fallback decides, the primary is left alone", prepare: func(p *fakePrimary) { p.fail(broken) },
			requests:    3,
			wantAllowed: []bool{true, true, false}, wantDegraded: true, wantPrimaryCalls: 1,
			wantCounts: map[string]int64{"error": 1, "backoff": 2},
			wantLogs:   []string{"WARN"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := &fakePrimary{}
			if tt.prepare != nil {
				tt.prepare(p)
			}
			f := newFailOpen(t, p, ratelimit.WithProbeInterval(time.Hour))
			var allowed []bool
			for range tt.requests {
				res, err := f.limiter.Allow(t.Context(), "k")
				if err != nil {
					t.Fatalf("Allow: %v", err)
				}
				allowed = append(allowed, res.Allowed)
				if fromPrimary := res == primaryAnswer; fromPrimary != tt.wantFromPrimary {
					t.Errorf("answer %+v from the primary: %v, want %v", res, fromPrimary, tt.wantFromPrimary)
				}
			}
			if diff := cmp.Diff(tt.wantAllowed, allowed); diff != "" {
				t.Errorf("decisions (-want +got):\n%s", diff)
			}
			if got := f.limiter.Degraded(); got != tt.wantDegraded {
				t.Errorf("Degraded() = %v, want %v", got, tt.wantDegraded)
			}
			if got := p.calls.Load(); got != tt.wantPrimaryCalls {
				t.Errorf("primary called %d times, want %d", got, tt.wantPrimaryCalls)
			}
			if diff := cmp.Diff(tt.wantCounts, degradedCounts(t, f.metrics)); diff != "" {
				t.Errorf("%s by reason (-want +got):\n%s", ratelimit.DegradedMetric, diff)
			}
			if diff := cmp.Diff(tt.wantLogs, f.logs.levels()); diff != "" {
				t.Errorf("logs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFailOpenBoundsAHangingPrimary(t *testing.T) {
	t.Parallel()
	// The primary ignores its context, as go-redis does without
	// ContextTimeoutEnabled: the bound must hold anyway.
	p := &fakePrimary{block: make(chan struct{})}
	t.Cleanup(func() { close(p.block) })
	f := newFailOpen(t, p, ratelimit.WithTimeout(20*time.Millisecond))

	// The primary hangs until the test ends, so Allow returning at all is
	// the bound holding; the "timeout" count below says which bound.
	res, err := f.limiter.Allow(t.Context(), "k")
	if err != nil || !res.Allowed {
		t.Errorf("Allow = %+v, %v; want allowed by the fallback", res, err)
	}
	if !f.limiter.Degraded() {
		t.Error("not degraded after a timeout")
	}
	if diff := cmp.Diff(map[string]int64{"timeout": 1}, degradedCounts(t, f.metrics)); diff != "" {
		t.Errorf("%s by reason (-want +got):\n%s", ratelimit.DegradedMetric, diff)
	}
}

func TestFailOpenPrimaryFailingAtTheDeadline(t *testing.T) {
	t.Parallel()
	// A client that honours the deadline fails with its own error at the
	// same moment FailOpen's bound ends: that is still a timeout.
	p := &fakePrimary{atDeadline: &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}}
	f := newFailOpen(t, p, ratelimit.WithTimeout(time.Millisecond), ratelimit.WithProbeInterval(time.Nanosecond))
	for range 20 {
		if _, err := f.limiter.Allow(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
	}
	got := degradedCounts(t, f.metrics)
	if got["error"] != 0 || got["timeout"] == 0 {
		t.Errorf("%s by reason = %v; want timeouts only", ratelimit.DegradedMetric, got)
	}
}

func TestFailOpenRecovers(t *testing.T) {
	t.Parallel()
	p := &fakePrimary{}
	p.fail(errors.New("redis: i/o timeout"))
	f := newFailOpen(t, p, ratelimit.WithProbeInterval(10*time.Millisecond))
	ctx := t.Context()

	for range 5 {
		_, _ = f.limiter.Allow(ctx, "k")
	}
	if !f.limiter.Degraded() {
		t.Fatal("not degraded while the primary fails")
	}
	p.heal()
	time.Sleep(20 * time.Millisecond) // past the probe interval
	res, err := f.limiter.Allow(ctx, "k")
	if err != nil || res != primaryAnswer {
		t.Errorf("after recovery Allow = %+v, %v; want the primary's answer", res, err)
	}
	if f.limiter.Degraded() {
		t.Error("still degraded after the primary answered")
	}
	if diff := cmp.Diff([]string{"WARN", "INFO"}, f.logs.levels()); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
}

func TestFailOpenLogsOncePerInterval(t *testing.T) {
	t.Parallel()
	// A flapping primary: every probe fails, but the log gets one warning.
	p := &fakePrimary{}
	p.fail(errors.New("redis: connection reset"))
	f := newFailOpen(t, p, ratelimit.WithProbeInterval(time.Nanosecond))
	for range 50 {
		if _, err := f.limiter.Allow(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.calls.Load(); got != 50 {
		t.Fatalf("primary called %d times, want every request to probe", got)
	}
	if diff := cmp.Diff([]string{"WARN"}, f.logs.levels()); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
}

func TestFailOpenCallerCancelled(t *testing.T) {
	t.Parallel()
	// A caller that gave up says nothing about Redis.
	p := &fakePrimary{block: make(chan struct{})}
	t.Cleanup(func() { close(p.block) })
	f := newFailOpen(t, p, ratelimit.WithTimeout(time.Minute))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := f.limiter.Allow(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if f.limiter.Degraded() {
		t.Error("degraded because the caller cancelled")
	}
}

// TestFailOpenRedisOutage stops and pauses a real Redis under a FailOpen,
// with DegradedMetric recorded by the global meter provider.
func TestFailOpenRedisOutage(t *testing.T) {
	// Not parallel: it reads the global meter provider's counter.
	reader := sdkmetric.NewManualReader()
	setGlobalMeterProvider(t, sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))

	srv := testdb.RedisServer(t)
	client := newClient(t, srv.URL())
	limit := ratelimit.Limit{Rate: 0.001, Burst: 3}
	logs := &logRecorder{}
	l := ratelimit.NewFailOpen(
		ratelimit.NewRedis(client, limit, "govmatch:"),
		ratelimit.NewMemory(limit),
		slog.New(logs),
		ratelimit.WithProbeInterval(20*time.Millisecond),
		// Far above what a loaded machine needs for a round trip to a
		// healthy Redis (DefaultTimeout is not: the first call dials and
		// loads the script), so that only the hung Redis times out.
		ratelimit.WithTimeout(2*time.Second),
	)
	ctx := t.Context()

	allow := func(key string) ratelimit.Result {
		t.Helper()
		res, err := l.Allow(ctx, key)
		if err != nil {
			t.Fatalf("Allow: %v", err)
		}
		return res
	}
	// recovered polls until the limiter answers from Redis again.
	recovered := func() {
		t.Helper()
		await.True(t, "the limiter answers from Redis again", func() bool {
			if l.Degraded() {
				allow("probe")
			}
			return !l.Degraded()
		})
	}
	degraded := func() int64 {
		var n int64
		for _, v := range degradedCounts(t, reader) {
			n += v
		}
		return n
	}

	// Healthy: Redis decides.
	if res := allow("a"); !res.Allowed || res.Remaining != 2 {
		t.Fatalf("healthy: %+v", res)
	}
	if n, _ := client.Exists(ctx, "rate:govmatch:{a}").Result(); n != 1 {
		t.Fatal("healthy, but Redis holds no bucket")
	}
	if l.Degraded() || degraded() != 0 {
		t.Fatalf("degraded while Redis is up (%d fallback decisions)", degraded())
	}

	// Redis dies: requests are still answered, and limited, in process.
	srv.Stop()
	var got []bool
	for range 4 {
		got = append(got, allow("b").Allowed)
	}
	if diff := cmp.Diff([]bool{true, true, true, false}, got); diff != "" {
		t.Errorf("decisions while Redis is down (-want +got):\n%s", diff)
	}
	if !l.Degraded() {
		t.Error("not degraded while Redis is down")
	}
	if n := degraded(); n != 4 {
		t.Errorf("%s = %d, want 4", ratelimit.DegradedMetric, n)
	}

	// Redis is back (empty): the limiter returns to it.
	srv.Start()
	recovered()
	before := degraded()
	if res := allow("c"); !res.Allowed || res.Remaining != 2 {
		t.Errorf("recovered: %+v", res)
	}
	if n, _ := client.Exists(ctx, "rate:govmatch:{c}").Result(); n != 1 {
		t.Error("recovered, but Redis holds no bucket")
	}
	if after := degraded(); after != before {
		t.Errorf("%s grew from %d to %d after recovery", ratelimit.DegradedMetric, before, after)
	}

	// Redis hangs: a request waits the timeout, then the fallback decides.
	// Redis stays paused until Resume, so Allow returning is the bound
	// holding.
	srv.Pause()
	allow("d")
	if !l.Degraded() {
		t.Error("not degraded while Redis hangs")
	}
	if c := degradedCounts(t, reader); c["timeout"] == 0 {
		t.Errorf("no timeouts counted while Redis hangs: %v", c)
	}
	srv.Resume()
	recovered()

	want := []string{"WARN", "INFO"} // the pause falls within the minute of the first warning
	if diff := cmp.Diff(want, logs.levels()); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
}

// setGlobalMeterProvider makes mp the global provider for the rest of the
// test binary; FailOpens made without WithMeterProvider record through it.
func setGlobalMeterProvider(t *testing.T, mp *sdkmetric.MeterProvider) {
	t.Helper()
	otel.SetMeterProvider(mp)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
}
