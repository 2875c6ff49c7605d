package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/testdb"
)

// TestMatchCacheRedisOutage runs the system with its match cache in Redis
// and stops Redis mid-test: no matching request fails, /readyz stays 200
// and says the cache is degraded, and once Redis is back the cache stores
// pages again and the note goes away.
// Not parallel: it reads /metrics, and OpenTelemetry's providers are
// process globals.
func TestMatchCacheRedisOutage(t *testing.T) {
	rs := testdb.RedisServer(t)
	prefix := fmt.Sprintf("cache-%d:", time.Now().UnixNano())
	sys := startMonolith(t, "", true, "REDIS_URL", rs.URL(), "GOVMATCH_REDIS_PREFIX", prefix)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	cachedPages := func() int {
		keys, _ := rdb.Keys(context.Background(), prefix+"match:{*").Result()
		return len(keys)
	}
	const path = "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if sys.call(t, "GET", path, "", nil).status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no matches within 20 s of the start")
		}
	}
	metricsHave := func(names ...string) bool {
		m := sys.metrics(t)
		for _, n := range names {
			if !bytes.Contains(m.raw, []byte(n)) {
				return false
			}
		}
		return true
	}
	// hits is the number of answers from the cache /metrics reports so
	// far: hits, and revalidations of the gateway's copy (a repeated GET
	// through the gateway is one).
	hits := func() float64 { return lookups(t, sys, "hit") + lookups(t, sys, "revalidated") }
	// The demo data's events may still be arriving after the rebuild, and
	// each changes the model's digest: ask a query not asked before (a new
	// page size) until its repetition is answered from the cache, and
	// check that answer equals the one computed just before.
	var first, again response
	hit := false
	for size := 7; !hit && size <= 100; size++ {
		q := fmt.Sprintf("%s?pageSize=%d", path, size)
		first = sys.call(t, "GET", q, "", nil).expect(t, "matches", http.StatusOK)
		before := hits()
		again = sys.call(t, "GET", q, "", nil).expect(t, "matches again", http.StatusOK)
		hit = hits() == before+1
		time.Sleep(50 * time.Millisecond)
	}
	if !hit || !metricsHave("govmatch_matchcache_lookup_duration_seconds") {
		t.Fatal("no repeated request was answered from the cache, or /metrics lacks the lookup latency")
	}
	if !bytes.Equal(first.raw, again.raw) {
		t.Errorf("the cached answer differs from the computed one:\n%s\n%s", first.raw, again.raw)
	}
	if cachedPages() == 0 {
		t.Fatal("no page cached in Redis")
	}

	// Redis stops: every request is still answered.
	rs.Stop()
	sawDegraded := false
	// (Paced: revalidated answers are fast enough to reach the rate limit.)
	for i, until := 0, time.Now().Add(3*time.Second); time.Now().Before(until); i++ {
		time.Sleep(5 * time.Millisecond)
		sys.call(t, "GET", fmt.Sprintf("%s?pageSize=%d", path, 1+i%20), "", nil).expect(t, "matches while Redis is stopped", http.StatusOK)
		if i%10 == 0 {
			r := sys.call(t, "GET", "/readyz", "", nil).expect(t, "readiness while Redis is stopped", http.StatusOK)
			sawDegraded = sawDegraded || strings.Contains(string(r.raw), "match cache degraded")
		}
	}
	if !sawDegraded {
		t.Error("/readyz never said the match cache is degraded while Redis was stopped")
	}
	if !metricsHave("govmatch_matchcache_degraded") {
		t.Error("/metrics lacks govmatch_matchcache_degraded")
	}

	// Redis is back (empty): the cache recovers by itself. (Queries not
	// asked before: a repeated one is a revalidation, which needs no page
	// in the store.)
	rs.Start()
	var ready string
	for i, deadline := 0, time.Now().Add(15*time.Second); ; i++ {
		time.Sleep(50 * time.Millisecond)
		sys.call(t, "GET", fmt.Sprintf("%s?pageSize=%d", path, 21+i%80), "", nil).expect(t, "matches after Redis is back", http.StatusOK)
		ready = string(sys.call(t, "GET", "/readyz", "", nil).expect(t, "readiness", http.StatusOK).raw)
		if !strings.Contains(ready, "match cache degraded") && cachedPages() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after Redis restarted: /readyz %q, %d pages cached", ready, cachedPages())
		}
	}
}

// TestAdminHealthzShowsCacheDegraded: a matching process without gateway
// shows a degraded cache on its admin /healthz, which stays 200.
func TestAdminHealthzShowsCacheDegraded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		notes []string
		want  string
	}{
		{name: "healthy", want: "ok\n"},
		{name: "degraded", notes: []string{"match cache degraded: store unavailable"}, want: "ok (match cache degraded: store unavailable)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := adminHandler(http.NotFoundHandler(), func() []string { return tt.notes })
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/healthz", nil))
			if rec.Code != http.StatusOK || rec.Body.String() != tt.want {
				t.Errorf("/healthz = %d %q, want 200 %q", rec.Code, rec.Body, tt.want)
			}
		})
	}
}

// TestMatchCacheOnRedisCluster: with GOVMATCH_MATCH_CACHE_REDIS_CLUSTER
// the monolith keeps its match cache in a Redis Cluster, and a repeated
// query is answered from there.
//
// Not parallel: it reads /metrics, and OpenTelemetry's providers are
// process globals. The cache takes the global meter provider while the
// system starts; a system that a parallel test starts meanwhile replaces
// it, and this system's /metrics then never shows its cache's lookups.
// (That, not the cluster, made this test fail on a loaded machine, with
// the pages stored in the cluster.)
func TestMatchCacheOnRedisCluster(t *testing.T) {
	addrs := testdb.RedisCluster(t, 3)
	url := "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
	// Without the gateway's copies every repeated request reaches the
	// cache; a timeout above the 50 ms default keeps a loaded machine's
	// slow cluster calls from counting as failures (TestRedisHangs in
	// matchcache covers the timeout).
	sys := startMonolith(t, "", true, "GOVMATCH_MATCH_CACHE_REDIS_CLUSTER", url, "GOVMATCH_GATEWAY_COPY_BYTES", "0",
		"GOVMATCH_MATCH_CACHE_TIMEOUT", "2s")
	const path = "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches"
	for deadline := time.Now().Add(20 * time.Second); sys.call(t, "GET", path, "", nil).status != http.StatusOK; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no matches within 20 s of the start")
		}
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	var keys atomic.Int64
	countKeys := func() int64 {
		keys.Store(0)
		if err := rdb.ForEachMaster(t.Context(), func(ctx context.Context, c *redis.Client) error {
			n, err := c.DBSize(ctx).Result()
			keys.Add(n)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return keys.Load()
	}
	// New queries until pages are stored (the demo data's events may
	// still change the digest at first), then a repeated query is a hit.
	for size := 7; countKeys() == 0; size++ {
		if size > 100 {
			t.Fatal("no page stored in the cluster")
		}
		sys.call(t, "GET", fmt.Sprintf("%s?pageSize=%d", path, size), "", nil).expect(t, "matches", http.StatusOK)
	}
	// A repeated query is a hit. (Until the demo data's last events are in,
	// answers are computed: the loop gives it time.)
	hitsBefore := lookups(t, sys, "hit")
	i := 0
	await.True(t, "a request answered from the Redis Cluster", func() bool {
		q := fmt.Sprintf("%s?pageSize=%d", path, 1+i%100)
		i++
		sys.call(t, "GET", q, "", nil).expect(t, "matches", http.StatusOK)
		sys.call(t, "GET", q, "", nil).expect(t, "matches again", http.StatusOK)
		return lookups(t, sys, "hit") > hitsBefore
	})
}

// lookups is govmatch_matchcache_lookups_total of one result on /metrics.
func lookups(t *testing.T, sys *system, result string) float64 {
	t.Helper()
	total := 0.0
	for _, line := range strings.Split(string(sys.metrics(t).raw), "\n") {
		if strings.HasPrefix(line, "govmatch_matchcache_lookups_total{") && strings.Contains(line, `result="`+result+`"`) {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			total += v
		}
	}
	return total
}
