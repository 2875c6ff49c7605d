package ratelimit

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemory(t *testing.T) {
	t.Parallel()
	// 2 requests per second, 3 at once: a token every 500 ms, which float64
	// represents exactly.
	limit := Limit{Rate: 2, Burst: 3}
	allowed := func(remaining int, reset time.Duration) Result {
		return Result{Allowed: true, Remaining: remaining, ResetAfter: reset, Limit: limit}
	}
	denied := func(retry, reset time.Duration) Result {
		return Result{Allowed: false, RetryAfter: retry, ResetAfter: reset, Limit: limit}
	}
	type step struct {
		wait time.Duration // before the request
		key  string
		want Result
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "burst, then refused until a token is back",
			steps: []step{
				{key: "a", want: allowed(2, 500*time.Millisecond)},
				{key: "a", want: allowed(1, time.Second)},
				{key: "a", want: allowed(0, 1500*time.Millisecond)},
				{key: "a", want: denied(500*time.Millisecond, 1500*time.Millisecond)},
				{wait: 200 * time.Millisecond, key: "a", want: denied(300*time.Millisecond, 1300*time.Millisecond)},
			},
		},
		{
			name: "refill at the rate",
			steps: []step{
				{key: "a", want: allowed(2, 500*time.Millisecond)},
				{key: "a", want: allowed(1, time.Second)},
				{key: "a", want: allowed(0, 1500*time.Millisecond)},
				{wait: 500 * time.Millisecond, key: "a", want: allowed(0, 1500*time.Millisecond)},
				{key: "a", want: denied(500*time.Millisecond, 1500*time.Millisecond)},
				{wait: time.Second, key: "a", want: allowed(1, time.Second)},
			},
		},
		{
			name: "refill stops at the burst",
			steps: []step{
				{key: "a", want: allowed(2, 500*time.Millisecond)},
				{wait: time.Hour, key: "a", want: allowed(2, 500*time.Millisecond)},
				{key: "a", want: allowed(1, time.Second)},
				{key: "a", want: allowed(0, 1500*time.Millisecond)},
				{key: "a", want: denied(500*time.Millisecond, 1500*time.Millisecond)},
			},
		},
		{
			name: "keys are independent",
			steps: []step{
				{key: "a", want: allowed(2, 500*time.Millisecond)},
				{key: "a", want: allowed(1, time.Second)},
				{key: "a", want: allowed(0, 1500*time.Millisecond)},
				{key: "a", want: denied(500*time.Millisecond, 1500*time.Millisecond)},
				{key: "b", want: allowed(2, 500*time.Millisecond)},
				{key: "", want: allowed(2, 500*time.Millisecond)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			m := NewMemory(limit, withClock(clock.Now))
			for i, s := range tt.steps {
				clock.Advance(s.wait)
				got, err := m.Allow(t.Context(), s.key)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if diff := cmp.Diff(s.want, got); diff != "" {
					t.Errorf("step %d (key %q after %v): result (-want +got):\n%s", i, s.key, s.wait, diff)
				}
			}
		})
	}
}

func TestMemoryFractionalRate(t *testing.T) {
	t.Parallel()
	// One request a minute: RetryAfter is rounded up, never early.
	clock := newFakeClock()
	m := NewMemory(Limit{Rate: 1.0 / 60, Burst: 1}, withClock(clock.Now))
	if res, _ := m.Allow(t.Context(), "a"); !res.Allowed {
		t.Fatalf("first request refused: %+v", res)
	}
	clock.Advance(20 * time.Second)
	res, _ := m.Allow(t.Context(), "a")
	if res.Allowed || res.RetryAfter < 40*time.Second || res.RetryAfter > 40*time.Second+time.Microsecond {
		t.Errorf("after 20s: %+v, want refused with RetryAfter 40s", res)
	}
	clock.Advance(res.RetryAfter)
	if res, _ := m.Allow(t.Context(), "a"); !res.Allowed {
		t.Errorf("refused after waiting RetryAfter: %+v", res)
	}
}

func TestMemoryBoundsKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		maxKeys int
		keys    int
		wait    time.Duration // between requests
		wantLen int
	}{
		// 100 keys within a second of each other: none has refilled.
		{name: "active keys up to the bound are kept", maxKeys: 200, keys: 100, wait: time.Millisecond, wantLen: 100},
		{name: "more active keys than the bound evict", maxKeys: 10, keys: 100, wait: time.Millisecond, wantLen: 10},
		// A key's bucket is full again 0.5 s after its one request, and the
		// shard sweeps every 1.5 s (the fill time), so it holds the keys of
		// the last 2 s at most: 20 at 10 keys a second, and one at the edge.
		{name: "refilled keys are swept", maxKeys: 1000, keys: 100, wait: 100 * time.Millisecond, wantLen: 21},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			m := NewMemory(Limit{Rate: 2, Burst: 3}, withClock(clock.Now), WithMaxKeys(tt.maxKeys))
			for i := range tt.keys {
				clock.Advance(tt.wait)
				if res, _ := m.Allow(t.Context(), fmt.Sprint("key-", i)); !res.Allowed {
					t.Fatalf("key %d refused on its first request: %+v", i, res)
				}
			}
			if got := m.len(); got > tt.wantLen {
				t.Errorf("holds %d keys, want at most %d", got, tt.wantLen)
			}
		})
	}
}

func TestMemoryEvictionKeepsDecisions(t *testing.T) {
	t.Parallel()
	// A key whose bucket was swept because it was full decides like one
	// that was kept. (A bound of 10 keys is one shard, which "other" sweeps.)
	clock := newFakeClock()
	m := NewMemory(Limit{Rate: 2, Burst: 2}, withClock(clock.Now), WithMaxKeys(10))
	for range 2 {
		if res, _ := m.Allow(t.Context(), "a"); !res.Allowed {
			t.Fatal("burst refused")
		}
	}
	clock.Advance(time.Minute) // full again, and due for a sweep
	if _, err := m.Allow(t.Context(), "other"); err != nil {
		t.Fatal(err)
	}
	if got := m.len(); got != 1 {
		t.Fatalf("holds %d keys after the sweep, want 1", got)
	}
	want := []bool{true, true, false}
	var got []bool
	for range want {
		res, _ := m.Allow(t.Context(), "a")
		got = append(got, res.Allowed)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decisions after the sweep (-want +got):\n%s", diff)
	}
}

func TestMemoryConcurrent(t *testing.T) {
	t.Parallel()
	// Many goroutines on one key take exactly the burst (no refill: the
	// clock stands still).
	clock := newFakeClock()
	m := NewMemory(Limit{Rate: 1, Burst: 50}, withClock(clock.Now))
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
	)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				res, _ := m.Allow(t.Context(), "shared")
				if res.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Errorf("allowed %d of 160 requests, want the burst of 50", allowed)
	}
}

func TestLimitValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		limit   Limit
		wantErr bool
	}{
		{name: "ok", limit: Limit{Rate: 10, Burst: 20}},
		{name: "slow", limit: Limit{Rate: 0.001, Burst: 1}},
		{name: "zero rate", limit: Limit{Rate: 0, Burst: 1}, wantErr: true},
		{name: "negative rate", limit: Limit{Rate: -1, Burst: 1}, wantErr: true},
		{name: "NaN rate", limit: Limit{Rate: math.NaN(), Burst: 1}, wantErr: true},
		{name: "infinite rate", limit: Limit{Rate: math.Inf(1), Burst: 1}, wantErr: true},
		{name: "zero burst", limit: Limit{Rate: 1, Burst: 0}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.limit.Validate(); (err != nil) != tt.wantErr {
				t.Errorf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}
