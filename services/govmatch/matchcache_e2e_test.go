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
	"github.com/govmatch/govmatch/pkg/identity"
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
	// A timeout above the 50 ms default keeps a loaded machine's slow
	// Redis calls from counting as failures: this test stops Redis, which
	// fails calls at once (TestRedisHangs in matchcache covers the
	// timeout).
	sys := startMonolith(t, "", true, "REDIS_URL", rs.URL(), "GOVMATCH_REDIS_PREFIX", prefix,
		"GOVMATCH_MATCH_CACHE_TIMEOUT", "2s")
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	cachedPages := func() int {
		keys, _ := rdb.Keys(context.Background(), prefix+"match:{*").Result()
		return len(keys)
	}
	const path = "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches"
	await.True(t, "matches once the index is built", func() bool {
		return sys.call(t, "GET", path, "", nil).status == http.StatusOK
	})
	// Until the demo data's events are all in, every one changes the
	// model: a page computed across a change is not stored, and the next
	// request asks for another key. After these nothing changes it.
	awaitNeedsApplied(t, sys, sys.token(t, "stadt-giessen", identity.RoleBuyer))
	awaitVendorsApplied(t, sys)
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
	// A query not asked before (a new page size) is computed and its page
	// stored before it is answered; its repetition is answered from the
	// cache, and that answer must equal the one computed just before. (The
	// repetition is a revalidation of the gateway's copy, which the cache
	// answers from the page's tag alone: whether the page is in Redis,
	// which a store error or a slow Redis prevents, is asked of Redis.)
	var first, again response
	asked := 0
	await.NoError(t, "a repeated request answered from the cache", func() error {
		size := 7 + asked%94 // 7 to 100
		asked++
		q := fmt.Sprintf("%s?pageSize=%d", path, size)
		first = sys.call(t, "GET", q, "", nil).expect(t, "matches", http.StatusOK)
		before := hits()
		again = sys.call(t, "GET", q, "", nil).expect(t, "matches again", http.StatusOK)
		if n := cachedPages(); hits() != before+1 || n == 0 {
			return fmt.Errorf("pageSize=%d asked twice: hits %v before the second, %v after; %d pages in Redis; %v",
				size, before, hits(), n, matchCacheCounts(t, sys))
		}
		return nil
	})
	if !metricsHave("govmatch_matchcache_lookup_duration_seconds") {
		t.Fatal("/metrics lacks the lookup latency")
	}
	if !bytes.Equal(first.raw, again.raw) {
		t.Errorf("the cached answer differs from the computed one:\n%s\n%s", first.raw, again.raw)
	}

	// Redis stops: every request is still answered, and the failing
	// store makes the cache say it is degraded. (await paces the requests:
	// revalidated answers are fast enough to reach the rate limit.)
	rs.Stop()
	i := 0
	matchesWhileStopped := func() {
		sys.call(t, "GET", fmt.Sprintf("%s?pageSize=%d", path, 1+i%20), "", nil).expect(t, "matches while Redis is stopped", http.StatusOK)
		i++
	}
	await.NoError(t, "/readyz says the match cache is degraded while Redis is stopped", func() error {
		matchesWhileStopped()
		r := sys.call(t, "GET", "/readyz", "", nil).expect(t, "readiness while Redis is stopped", http.StatusOK)
		if !strings.Contains(string(r.raw), "match cache degraded") {
			return fmt.Errorf("/readyz %q; %v", r.raw, matchCacheCounts(t, sys))
		}
		return nil
	})
	// Degraded, requests are still answered, new queries and repeated
	// ones (revalidations of the gateway's copies) alike: two rounds of
	// the twenty page sizes.
	for range 40 {
		matchesWhileStopped()
	}
	if !metricsHave("govmatch_matchcache_degraded") {
		t.Error("/metrics lacks govmatch_matchcache_degraded")
	}

	// Redis is back (empty): the cache recovers by itself. (Queries not
	// asked before, each by a caller of another organisation, which is
	// part of the key: a repeated one is a revalidation, which needs no
	// page in the store.)
	rs.Start()
	i = 0
	await.NoError(t, "the cache recovers once Redis is back", func() error {
		caller := sys.token(t, fmt.Sprintf("nach-dem-ausfall-%d", i), identity.RoleBuyer)
		sys.call(t, "GET", path+"?pageSize=21", caller, nil).expect(t, "matches after Redis is back", http.StatusOK)
		i++
		ready := string(sys.call(t, "GET", "/readyz", "", nil).expect(t, "readiness", http.StatusOK).raw)
		if n := cachedPages(); strings.Contains(ready, "match cache degraded") || n == 0 {
			return fmt.Errorf("/readyz %q, %d pages cached; %v", ready, n, matchCacheCounts(t, sys))
		}
		return nil
	})
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
	await.True(t, "matches once the index is built", func() bool {
		return sys.call(t, "GET", path, "", nil).status == http.StatusOK
	})
	// Until the demo data's events are all in, every one changes the
	// model: a page computed across a change is not stored (stores
	// "stale"), and the next request asks for another key. After these
	// nothing changes it.
	awaitNeedsApplied(t, sys, sys.token(t, "stadt-giessen", identity.RoleBuyer))
	awaitVendorsApplied(t, sys)

	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	// pages is the number of keys in the cluster (nothing else is in it).
	pages := func() string {
		var keys atomic.Int64 // ForEachMaster calls concurrently
		if err := rdb.ForEachMaster(t.Context(), func(ctx context.Context, c *redis.Client) error {
			n, err := c.DBSize(ctx).Result()
			keys.Add(n)
			return err
		}); err != nil {
			return err.Error()
		}
		return fmt.Sprint(keys.Load())
	}

	// A computed page is stored before it is answered, so the same query
	// asked again is a hit. Should it not be, the counts say why: a stale
	// store (the model changed), a store or lookup error or bypass (the
	// cluster failed or was slow, and the cache's breaker opened).
	q := path + "?pageSize=7"
	await.NoError(t, "a repeated query answered from the Redis Cluster", func() error {
		before := matchCacheCounts(t, sys)
		sys.call(t, "GET", q, "", nil).expect(t, "matches", http.StatusOK)
		sys.call(t, "GET", q, "", nil).expect(t, "matches again", http.StatusOK)
		after := matchCacheCounts(t, sys)
		if after.lookups["hit"] > before.lookups["hit"] {
			return nil
		}
		return fmt.Errorf("asked twice, no hit: before %v; after %v; pages in the cluster: %s", before, after, pages())
	})
	if n := pages(); n == "0" {
		t.Errorf("a hit, but no page in the cluster: %v", matchCacheCounts(t, sys))
	}
}

// lookups is govmatch_matchcache_lookups_total of one result on /metrics.
func lookups(t *testing.T, sys *system, result string) float64 {
	t.Helper()
	return byResult(string(sys.metrics(t).raw), "govmatch_matchcache_lookups_total")[result]
}

// cacheCounts are the match cache's instruments on /metrics: lookups and
// stores by result, and the degraded gauge. A test that waits in vain
// for a hit shows them, which tells why.
type cacheCounts struct {
	lookups  map[string]float64 // hit, miss, error, bypass, revalidated
	stores   map[string]float64 // stored, stale, error, bypass
	degraded float64
}

func (c cacheCounts) String() string {
	s := fmt.Sprintf("lookups %v, stores %v, degraded %v", c.lookups, c.stores, c.degraded)
	if len(c.lookups)+len(c.stores) == 0 {
		// As when another system started in this process took over
		// OpenTelemetry's global meter provider before the cache's.
		s += " (no match cache series on /metrics)"
	}
	return s
}

func matchCacheCounts(t *testing.T, sys *system) cacheCounts {
	t.Helper()
	raw := string(sys.metrics(t).raw)
	c := cacheCounts{lookups: byResult(raw, "govmatch_matchcache_lookups_total"), stores: byResult(raw, "govmatch_matchcache_stores_total")}
	for _, line := range strings.Split(raw, "\n") {
		if strings.HasPrefix(line, "govmatch_matchcache_degraded{") {
			c.degraded, _ = strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		}
	}
	return c
}

// byResult sums the series of the metric name in raw by their result.
func byResult(raw, name string) map[string]float64 {
	out := map[string]float64{}
	for _, line := range strings.Split(raw, "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		_, r, ok := strings.Cut(line, `result="`)
		if !ok {
			continue
		}
		result, _, _ := strings.Cut(r, `"`)
		v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		out[result] += v
	}
	return out
}
