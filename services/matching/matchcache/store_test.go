package matchcache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
