package matchcache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/testdb"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/matchcache"
	"github.com/govmatch/govmatch/services/matching/score"
)

func page(id string) match.Page {
	return match.Page{
		Results: []match.Result{{ID: id, Score: 0.5, Explanation: score.Explanation{
			WeightsVersion: "w1",
			Components:     []score.Contribution{{Component: score.ComponentText, Weight: 40, Effective: 50, Value: 0.5}},
		}}},
		NextPageToken: "next", WeightsVersion: "w1",
	}
}

// TestStores is the contract of a Store, for every store.
func TestStores(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) (matchcache.Store, string){
		"memory": func(*testing.T) (matchcache.Store, string) { return matchcache.NewMemory(0), "" },
		"redis": func(t *testing.T) (matchcache.Store, string) {
			url, prefix := testdb.Redis(t)
			return redisStore(t, url), prefix
		},
		"redis-cluster": func(t *testing.T) (matchcache.Store, string) { return clusterStore(t), "" },
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, prefix := newStore(t)
			ctx := context.Background()
			if _, ok, err := s.Get(ctx, prefix+"a"); ok || err != nil {
				t.Fatalf("Get of nothing: ok %v, err %v", ok, err)
			}
			if err := s.Set(ctx, prefix+"a", page("a"), time.Minute); err != nil {
				t.Fatal(err)
			}
			got, ok, err := s.Get(ctx, prefix+"a")
			if !ok || err != nil {
				t.Fatalf("Get after Set: ok %v, err %v", ok, err)
			}
			if diff := cmp.Diff(page("a"), got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if err := s.Set(ctx, prefix+"short", page("short"), 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond)
			if _, ok, _ := s.Get(ctx, prefix+"short"); ok {
				t.Error("an entry outlived its ttl")
			}
		})
	}
}

func TestMemoryLRU(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := matchcache.NewMemory(3)
	for _, k := range []string{"a", "b", "c"} {
		if err := m.Set(ctx, k, page(k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	_, _, _ = m.Get(ctx, "a") // a is now the most recently used
	_ = m.Set(ctx, "d", page("d"), time.Minute)
	var held []string
	for _, k := range []string{"a", "b", "c", "d"} {
		if _, ok, _ := m.Get(ctx, k); ok {
			held = append(held, k)
		}
	}
	if diff := cmp.Diff([]string{"a", "c", "d"}, held); diff != "" {
		t.Errorf("held after one eviction (-want +got):\n%s", diff)
	}
	if m.Evictions() != 1 || m.Len() != 3 {
		t.Errorf("evictions %d, len %d; want 1, 3", m.Evictions(), m.Len())
	}
	for i := range 10 {
		_ = m.Set(ctx, fmt.Sprint(i), page("x"), time.Minute)
	}
	if m.Evictions() != 11 || m.Len() != 3 {
		t.Errorf("evictions %d, len %d; want 11, 3", m.Evictions(), m.Len())
	}
}

// clusterStore is a Redis store on a Redis Cluster of the test's own.
func clusterStore(t *testing.T) *matchcache.Redis {
	t.Helper()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testdb.RedisCluster(t, 3)})
	t.Cleanup(func() { _ = rdb.Close() })
	// Learn the slots and connect to every node before the test measures.
	if err := rdb.ForEachShard(t.Context(), func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() }); err != nil {
		t.Fatal(err)
	}
	return matchcache.NewRedis(rdb)
}

// TestClusterHashTags: every key of one subject, whatever the digest,
// query or caller, lands in one slot of a Redis Cluster (the "{…}" hash
// tag), and the subjects spread over the slots.
func TestClusterHashTags(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: testdb.RedisCluster(t, 3)})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := t.Context()
	slot := func(key string) int64 {
		t.Helper()
		s, err := rdb.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	slots := map[int64]bool{}
	for i := range 20 {
		subject := fmt.Sprintf("need-matches\x00n%d", i)
		first := slot(matchcache.Key("govmatch:", subject, "d0", "w1", match.Query{}, identity.Principal{}))
		for j, q := range []match.Query{{PageSize: 3}, {PageToken: "t"}, {Filters: match.Filters{OpenSource: true}}} {
			key := matchcache.Key("govmatch:", subject, fmt.Sprint("d", j+1), "w1", q, identity.Principal{Org: "o"})
			if s := slot(key); s != first {
				t.Fatalf("subject %d: key %q in slot %d, the subject's first in %d", i, key, s, first)
			}
		}
		slots[first] = true
	}
	if len(slots) < 10 {
		t.Errorf("20 subjects in %d slots", len(slots))
	}
	// And the store works there: a page round-trips across the nodes.
	s := matchcache.NewRedis(rdb)
	for i := range 20 {
		key := matchcache.Key("govmatch:", fmt.Sprint("s", i), "d", "w1", match.Query{}, identity.Principal{})
		if err := s.Set(ctx, key, page(key), time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := s.Get(ctx, key); err != nil || !ok || got.Results[0].ID != key {
			t.Fatalf("%s: ok %v, %v", key, ok, err)
		}
	}
}
