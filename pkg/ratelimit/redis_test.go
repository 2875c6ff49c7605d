package ratelimit_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/redis/go-redis/v9"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/ratelimit"
	"github.com/govmatch/govmatch/pkg/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// newClient connects to url the way a service should: bounded by the
// caller's context, not only by the client's 3 s read timeout.
func newClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// redisLimiter is a Redis limiter in this test's own key space, and a client
// to look at that space with.
func redisLimiter(t *testing.T, l ratelimit.Limit) (*ratelimit.Redis, *redis.Client, string) {
	t.Helper()
	url, prefix := testdb.Redis(t)
	c := newClient(t, url)
	return ratelimit.NewRedis(c, l, prefix), c, prefix
}

func TestRedis(t *testing.T) {
	t.Parallel()
	// Real time passes between requests, so durations are checked against
	// bounds; one request per 10 s leaves 10 s of slack per token, which a
	// loaded machine does not use up between requests.
	limit := ratelimit.Limit{Rate: 0.1, Burst: 3}
	type want struct {
		Allowed   bool
		Remaining int
	}
	tests := []struct {
		name string
		keys []string
		want []want
	}{
		{
			name: "burst, then refused",
			keys: []string{"a", "a", "a", "a", "a"},
			want: []want{{true, 2}, {true, 1}, {true, 0}, {false, 0}, {false, 0}},
		},
		{
			name: "keys are independent",
			keys: []string{"a", "a", "a", "a", "b", "ip:203.0.113.7"},
			want: []want{{true, 2}, {true, 1}, {true, 0}, {false, 0}, {true, 2}, {true, 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, _, _ := redisLimiter(t, limit)
			var got []want
			for _, key := range tt.keys {
				res, err := l.Allow(t.Context(), key)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, want{res.Allowed, res.Remaining})
				if res.Limit != limit {
					t.Errorf("Limit = %+v, want %+v", res.Limit, limit)
				}
				if res.ResetAfter <= 0 || res.ResetAfter > 30*time.Second {
					t.Errorf("ResetAfter = %v, want in (0, 30s]", res.ResetAfter)
				}
				switch {
				case res.Allowed && res.RetryAfter != 0:
					t.Errorf("allowed with RetryAfter %v, want 0", res.RetryAfter)
				case !res.Allowed && (res.RetryAfter <= 0 || res.RetryAfter > 10*time.Second):
					t.Errorf("refused with RetryAfter %v, want in (0, 10s]", res.RetryAfter)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decisions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedisRefills(t *testing.T) {
	t.Parallel()
	l, _, _ := redisLimiter(t, ratelimit.Limit{Rate: 20, Burst: 1})
	ctx := t.Context()
	if res, err := l.Allow(ctx, "a"); err != nil || !res.Allowed {
		t.Fatalf("first request: %+v, %v", res, err)
	}
	// A token is back every 50 ms: on a loaded machine the next request
	// may come later than that and be allowed, so ask until one is refused.
	var res ratelimit.Result
	await.True(t, "a request refused", func() bool {
		var err error
		if res, err = l.Allow(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		return !res.Allowed
	})
	time.Sleep(res.RetryAfter + 10*time.Millisecond) // at most 60 ms; longer only refills more
	if res, err := l.Allow(ctx, "a"); err != nil || !res.Allowed {
		t.Errorf("after RetryAfter: %+v, %v; want allowed", res, err)
	}
}

func TestRedisIsSharedByReplicas(t *testing.T) {
	t.Parallel()
	// Two gateways: two clients, two limiters, one Redis and prefix.
	url, prefix := testdb.Redis(t)
	limit := ratelimit.Limit{Rate: 0.1, Burst: 2}
	a := ratelimit.NewRedis(newClient(t, url), limit, prefix)
	b := ratelimit.NewRedis(newClient(t, url), limit, prefix)
	var got []bool
	for _, l := range []*ratelimit.Redis{a, b, a, b} {
		res, err := l.Allow(t.Context(), "client")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Allowed)
	}
	if diff := cmp.Diff([]bool{true, true, false, false}, got); diff != "" {
		t.Errorf("decisions across replicas (-want +got):\n%s", diff)
	}
}

func TestRedisKeys(t *testing.T) {
	t.Parallel()
	// A key expires one emission interval (10 s) after its one request: far
	// more than a loaded machine needs to get to the Scan.
	l, c, prefix := redisLimiter(t, ratelimit.Limit{Rate: 0.1, Burst: 5})
	ctx := t.Context()
	for _, key := range []string{"ip:203.0.113.7", "tok:abc"} {
		if _, err := l.Allow(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	keys, _, err := c.Scan(ctx, 0, "*"+prefix+"*", 1000).Result()
	if err != nil {
		t.Fatal(err)
	}
	// The client key, and nothing else, is the Cluster hash tag.
	want := []string{"rate:" + prefix + "{ip:203.0.113.7}", "rate:" + prefix + "{tok:abc}"}
	if diff := cmp.Diff(want, keys, cmpSorted); diff != "" {
		t.Errorf("Redis keys (-want +got):\n%s", diff)
	}
	// Redis forgets a key once its bucket is full again.
	for _, k := range keys {
		if ttl, err := c.TTL(ctx, k).Result(); err != nil || ttl <= 0 || ttl > 50*time.Second {
			t.Errorf("TTL of %s = %v, %v; want in (0, 50s]", k, ttl, err)
		}
	}
}

func TestNewRedisRefusesBracesInPrefix(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("NewRedis accepted a prefix with a hash tag")
		}
	}()
	ratelimit.NewRedis(redis.NewClient(&redis.Options{}), ratelimit.Limit{Rate: 1, Burst: 1}, "{govmatch}:")
}

var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })
