package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the keys a Memory holds unless WithMaxKeys says
// otherwise. A bucket costs about 200 bytes with its key, so this is about
// 20 MB at most.
const DefaultMaxKeys = 100_000

// Memory is a Limiter with a token bucket per key in this process. Its
// memory is bounded twice:
//
//   - A bucket that has refilled completely is dropped, which changes no
//     decision: a full bucket is what a new key gets. Each shard sweeps itself
//     for them while it serves requests, at most once per fill time (clamped
//     to between a second and a minute), so there is no goroutine to stop.
//   - A shard that is full nonetheless (more clients active within one fill
//     time than the bound allows, as with an attacker rotating addresses)
//     evicts a random bucket for a new one. That key starts over with a full
//     bucket, so under such load a client may get more than its limit; the
//     memory stays bounded.
//
// The zero value is not usable; call NewMemory.
type Memory struct {
	limit      Limit
	now        func() time.Time // the fake clock of tests
	seed       maphash.Seed
	sweepEvery time.Duration
	shards     []shard
}

type shard struct {
	mu        sync.Mutex
	buckets   map[string]*rate.Limiter
	max       int
	nextSweep time.Time
}

// MemoryOption configures a Memory.
type MemoryOption func(*memoryOptions)

type memoryOptions struct {
	maxKeys int
	now     func() time.Time
}

// WithMaxKeys bounds the number of keys (buckets) the Memory holds; n < 1
// means DefaultMaxKeys.
func WithMaxKeys(n int) MemoryOption {
	return func(o *memoryOptions) { o.maxKeys = n }
}

// withClock makes the Memory read the time from now, for tests.
func withClock(now func() time.Time) MemoryOption {
	return func(o *memoryOptions) { o.now = now }
}

// maxShards spreads lock contention; keysPerShard keeps small bounds exact
// (a bound of 10 is one shard of 10, not 64 shards of 1).
const (
	maxShards    = 64
	keysPerShard = 1024
)

// NewMemory returns an in-process limiter that gives every key l. It panics
// if l is invalid (see Limit.Validate).
func NewMemory(l Limit, opts ...MemoryOption) *Memory {
	if err := l.Validate(); err != nil {
		panic(err)
	}
	o := memoryOptions{maxKeys: DefaultMaxKeys, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxKeys < 1 {
		o.maxKeys = DefaultMaxKeys
	}
	n := min(max(o.maxKeys/keysPerShard, 1), maxShards)
	m := &Memory{
		limit:      l,
		now:        o.now,
		seed:       maphash.MakeSeed(),
		sweepEvery: min(max(l.fillTime(), time.Second), time.Minute),
		shards:     make([]shard, n),
	}
	for i := range m.shards {
		m.shards[i] = shard{
			buckets: make(map[string]*rate.Limiter),
			// Round up, so that the shards together hold at least maxKeys.
			max: (o.maxKeys + n - 1) / n,
		}
	}
	return m
}

// Allow takes a token from key's bucket. It never fails.
func (m *Memory) Allow(_ context.Context, key string) (Result, error) {
	now := m.now()
	s := &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]

	// The bucket is used under the shard lock, so a sweep cannot drop it
	// between lookup and decision (which would lose the token taken).
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(s.nextSweep) {
		s.sweep(now, m.limit.Burst)
		s.nextSweep = now.Add(m.sweepEvery)
	}
	b, ok := s.buckets[key]
	if !ok {
		if len(s.buckets) >= s.max {
			for k := range s.buckets { // a random one: map order is random
				delete(s.buckets, k)
				break
			}
		}
		b = rate.NewLimiter(rate.Limit(m.limit.Rate), m.limit.Burst)
		s.buckets[key] = b
	}

	allowed := b.AllowN(now, 1)
	tokens := b.TokensAt(now) // after the one taken, if it was
	res := Result{
		Allowed:    allowed,
		Remaining:  int(tokens),
		ResetAfter: seconds((float64(m.limit.Burst) - tokens) / m.limit.Rate),
		Limit:      m.limit,
	}
	if !allowed {
		res.RetryAfter = seconds((1 - tokens) / m.limit.Rate)
	}
	return res, nil
}

// sweep drops the buckets that are full at now: they decide exactly as a new
// bucket would.
func (s *shard) sweep(now time.Time, burst int) {
	for k, b := range s.buckets {
		if b.TokensAt(now) >= float64(burst) {
			delete(s.buckets, k)
		}
	}
}

// len is the number of buckets held, for tests.
func (m *Memory) len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.buckets)
		s.mu.Unlock()
	}
	return n
}
