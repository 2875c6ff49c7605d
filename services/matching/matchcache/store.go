package matchcache

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/govmatch/govmatch/services/matching/match"
)

// Store holds cached pages by key. Pages a Store returns may be shared
// with other callers and must not be modified.
type Store interface {
	// Get returns the page under key; ok is false when there is none.
	Get(ctx context.Context, key string) (p match.Page, ok bool, err error)
	// Set stores p under key for ttl.
	Set(ctx context.Context, key string, p match.Page, ttl time.Duration) error
	// Name names the store in metrics: "memory" or "redis".
	Name() string
}

// ErrUnencodable is what a Store's Set returns for a page it cannot
// encode (a NaN score, say): the page is not cached, and the store is not
// counted as failing.
var ErrUnencodable = errors.New("matchcache: page cannot be encoded")

// DefaultMemoryEntries bounds a Memory store when NewMemory is given 0: a
// page of 20 explained results takes about 10 kB.
const DefaultMemoryEntries = 4096

// Memory is an in-process Store: a least-recently-used map of at most a
// fixed number of pages, kept as values (no encoding). Entries expire
// after their ttl too, although keys of an old digest are never asked for
// again and simply age out of the LRU. It never fails.
type Memory struct {
	max       int
	evictions atomic.Uint64

	mu    sync.Mutex
	ll    *list.List // front: most recently used
	items map[string]*list.Element
}

type memEntry struct {
	key     string
	page    match.Page
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns a Memory store of at most entries pages
// (DefaultMemoryEntries when 0 or less).
func NewMemory(entries int) *Memory {
	if entries <= 0 {
		entries = DefaultMemoryEntries
	}
	return &Memory{max: entries, ll: list.New(), items: map[string]*list.Element{}}
}

// Name implements Store.
func (*Memory) Name() string { return "memory" }

// Get implements Store.
func (m *Memory) Get(_ context.Context, key string) (match.Page, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[key]
	if !ok {
		return match.Page{}, false, nil
	}
	e := el.Value.(*memEntry)
	if time.Now().After(e.expires) {
		m.ll.Remove(el)
		delete(m.items, key)
		return match.Page{}, false, nil
	}
	m.ll.MoveToFront(el)
	return e.page, true, nil
}

// Set implements Store.
func (m *Memory) Set(_ context.Context, key string, p match.Page, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp := time.Now().Add(ttl)
	if el, ok := m.items[key]; ok {
		e := el.Value.(*memEntry)
		e.page, e.expires = p, exp
		m.ll.MoveToFront(el)
		return nil
	}
	m.items[key] = m.ll.PushFront(&memEntry{key: key, page: p, expires: exp})
	for m.ll.Len() > m.max {
		old := m.ll.Back()
		m.ll.Remove(old)
		delete(m.items, old.Value.(*memEntry).key)
		m.evictions.Add(1)
	}
	return nil
}

// Len is the number of pages held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ll.Len()
}

// Evictions counts the pages dropped to make room.
func (m *Memory) Evictions() uint64 { return m.evictions.Load() }

// Redis is a Store in Redis, shared by every matching replica. Pages are
// stored as JSON, so a field added to match.Page is carried without a
// change here (and changes the key, see Key). It works with a single
// node or a Redis Cluster (redis.Cmdable is either client): every
// operation touches one key.
//
// The client should be created with ContextTimeoutEnabled, so that the
// cache's per-call deadline also ends a call that hangs.
type Redis struct {
	rdb redis.Cmdable
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store on rdb.
func NewRedis(rdb redis.Cmdable) *Redis { return &Redis{rdb: rdb} }

// Name implements Store.
func (*Redis) Name() string { return "redis" }

// Get implements Store.
func (r *Redis) Get(ctx context.Context, key string) (match.Page, bool, error) {
	b, err := r.rdb.Get(ctx, key).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return match.Page{}, false, nil
	case err != nil:
		return match.Page{}, false, err
	}
	var p match.Page
	if err := json.Unmarshal(b, &p); err != nil {
		// Not a store failure: the entry is unusable, so a miss; it is
		// overwritten by the next Set.
		return match.Page{}, false, nil
	}
	return p, true, nil
}

// Set implements Store.
func (r *Redis) Set(ctx context.Context, key string, p match.Page, ttl time.Duration) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnencodable, err)
	}
	return r.rdb.Set(ctx, key, b, ttl).Err()
}
