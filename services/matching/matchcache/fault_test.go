package matchcache_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/testdb"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/matchcache"
)

// gauge reads the degraded gauge.
func gauge(t *testing.T, r *sdkmetric.ManualReader) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == matchcache.MetricDegraded && len(g.DataPoints) == 1 {
				return g.DataPoints[0].Value
			}
		}
	}
	t.Fatalf("no %s", matchcache.MetricDegraded)
	return -1
}

// TestRedisStopped stops Redis while clients keep asking: no request
// fails, the cache reports itself degraded, and once Redis is back it
// caches again and is no longer degraded.
func TestRedisStopped(t *testing.T) {
	t.Parallel()
	rs := testdb.RedisServer(t)
	m := newModel(t)
	m.seed(5)
	inner := &counting{Ranker: match.NewService(m.rm)}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	// A stopped Redis refuses at once; the long timeout keeps a loaded
	// machine's slow answers from degrading the cache before the stop
	// (TestRedisHangs covers the timeout).
	c := newCache(t, inner, m.rm, redisStore(t, rs.URL()), matchcache.Options{Timeout: 2 * time.Second, RetryAfter: 100 * time.Millisecond, MeterProvider: mp})
	want, err := match.NewService(m.rm).NeedMatches(anonymous, "pub", match.Query{})
	if err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	var requests, failed atomic.Int64
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				got, err := c.NeedMatches(anonymous, "pub", match.Query{})
				requests.Add(1)
				if err != nil || !cmp.Equal(want, got, approx) {
					if failed.Add(1) <= 3 {
						t.Errorf("request failed or wrong while Redis was stopped or restarting: %v\n%s", err, cmp.Diff(want, got, approx))
					}
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	// Requests are answered with Redis up, before it stops.
	await.True(t, "requests answered while Redis is up", func() bool { return requests.Load() >= 20 })
	if c.Degraded() || gauge(t, reader) != 0 {
		t.Error("degraded before Redis stopped")
	}
	rs.Stop()
	await.True(t, "degraded after Redis stopped", c.Degraded)
	if gauge(t, reader) != 1 {
		t.Error("degraded gauge is not 1 while Redis is stopped")
	}
	during := inner.calls.Load()
	await.True(t, "an answer computed while Redis is stopped", func() bool { return inner.calls.Load() > during })
	rs.Start()
	await.True(t, "recovered after Redis started", func() bool { return !c.Degraded() })
	if gauge(t, reader) != 0 {
		t.Error("degraded gauge is not 0 after Redis is back")
	}
	// Caching again: once the page is stored, requests stop reaching the
	// ranker. Counted in requests, not in time, so that a slow machine
	// cannot pass it by answering none.
	calls, since := int64(-1), int64(0)
	await.True(t, "cached again: 20 requests in a row answered without the ranker", func() bool {
		n, r := inner.calls.Load(), requests.Load()
		if n != calls {
			calls, since = n, r
			return false
		}
		return r >= since+20
	})
	stop.Store(true)
	wg.Wait()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed", failed.Load(), requests.Load())
	}
	t.Logf("%d requests, %d computed", requests.Load(), inner.calls.Load())
}

// TestRedisHangs: a Redis that stops answering (SIGSTOP) costs at most the
// timeout, then nothing until it answers again.
func TestRedisHangs(t *testing.T) {
	t.Parallel()
	rs := testdb.RedisServer(t)
	m := newModel(t)
	m.seed(5)
	store := &countingStore{Store: redisStore(t, rs.URL())}
	// The timeout is far above what a loaded machine needs for a round
	// trip to a healthy Redis, and far below the hang, which lasts until
	// the test ends.
	c := newCache(t, match.NewService(m.rm), m.rm, store, matchcache.Options{Timeout: 2 * time.Second, RetryAfter: time.Hour})
	if _, err := c.NeedMatches(anonymous, "pub", match.Query{}); err != nil {
		t.Fatal(err)
	}
	if c.Degraded() {
		t.Fatal("degraded while Redis answers")
	}
	rs.Pause()
	defer rs.Resume()
	before := store.calls.Load()
	// Redis answers none of these: that they return at all is the timeout
	// holding.
	for range 20 {
		if _, err := c.NeedMatches(anonymous, "pub", match.Query{PageSize: 3}); err != nil {
			t.Fatal(err)
		}
	}
	if n := store.calls.Load() - before; n != 1 {
		t.Errorf("%d of 20 requests asked the hung Redis, want 1: the first waits the timeout, the others not at all", n)
	}
	if !c.Degraded() {
		t.Error("not degraded with a hung Redis")
	}
}

// countingStore counts the calls of a Store, once each has returned.
type countingStore struct {
	matchcache.Store
	calls atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) (match.Page, bool, error) {
	defer s.calls.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, p match.Page, ttl time.Duration) error {
	defer s.calls.Add(1)
	return s.Store.Set(ctx, key, p, ttl)
}

// switchable is a Store that fails while down.
type switchable struct {
	matchcache.Store
	down atomic.Bool
}

var errDown = errors.New("store down")

func (s *switchable) Get(ctx context.Context, key string) (match.Page, bool, error) {
	if s.down.Load() {
		return match.Page{}, false, errDown
	}
	return s.Store.Get(ctx, key)
}

func (s *switchable) Set(ctx context.Context, key string, p match.Page, ttl time.Duration) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.Set(ctx, key, p, ttl)
}

// TestRevalidationsProbe: a degraded cache whose requests are all
// revalidations still notices that its store is back.
func TestRevalidationsProbe(t *testing.T) {
	t.Parallel()
	m := newModel(t)
	m.seed(3)
	store := &switchable{Store: matchcache.NewMemory(0)}
	c := newCache(t, match.NewService(m.rm), m.rm, store, matchcache.Options{RetryAfter: 10 * time.Millisecond})
	p, err := c.NeedMatches(anonymous, "pub", match.Query{})
	if err != nil || p.ETag == "" {
		t.Fatalf("tag %q, %v", p.ETag, err)
	}
	store.down.Store(true)
	if _, err := c.NeedMatches(anonymous, "pub", match.Query{PageSize: 2}); err != nil || !c.Degraded() {
		t.Fatalf("with the store down: degraded %v, %v", c.Degraded(), err)
	}
	store.down.Store(false)
	await.True(t, "not degraded once the store is back, with revalidations only", func() bool {
		if !c.Degraded() {
			return true
		}
		if _, err := c.NeedMatches(match.WithIfNoneMatch(anonymous, p.ETag), "pub", match.Query{}); !errors.Is(err, match.ErrNotModified) {
			t.Fatalf("revalidation: %v", err)
		}
		return false
	})
}
