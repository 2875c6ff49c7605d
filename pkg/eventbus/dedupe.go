package eventbus

import (
	"context"
	"sync"

	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
)

// Dedupe remembers which events a consumer has applied, so that a
// redelivered or outdated event is skipped. It belongs to the consumer and
// lives where the consumer's effects live: a consumer that writes to its
// database records the event in the same transaction as its effects (a
// table of event ids and one of aggregate versions), or else a crash
// between the two either loses the event or applies it twice. MemoryDedupe
// suits consumers whose effects are in memory too (caches, projections
// rebuilt on start).
type Dedupe interface {
	// Seen reports whether ev was applied already: its id was recorded, or
	// a version of its aggregate at least as new was.
	Seen(ctx context.Context, ev *eventsv1.Event) (bool, error)
	// Record remembers that ev was applied.
	Record(ctx context.Context, ev *eventsv1.Event) error
}

// Idempotent wraps h so that it runs at most once per event and never for
// an event older than one it already applied for the same aggregate (an
// event redelivered after newer ones). It records the event after h
// succeeded; for effects in a database, do both in h's transaction with a
// Dedupe that uses it, and let Record be a no-op.
func Idempotent(d Dedupe, h Handler) Handler {
	return func(ctx context.Context, ev *eventsv1.Event) error {
		seen, err := d.Seen(ctx, ev)
		if err != nil || seen {
			return err
		}
		if err := h(ctx, ev); err != nil {
			return err
		}
		return d.Record(ctx, ev)
	}
}

// AggregateKey identifies ev's aggregate across sources.
func AggregateKey(ev *eventsv1.Event) string {
	return ev.GetSource() + "/" + ev.GetAggregateType() + "/" + ev.GetAggregateId()
}

// MemoryDedupe is a Dedupe in memory. It keeps the last applied version of
// every aggregate, and the ids of the last MaxIDs events (those matter only
// for events without a version, or duplicates of one version).
type MemoryDedupe struct {
	mu       sync.Mutex
	versions map[string]int64
	ids      map[string]struct{}
	order    []string // ids in the order recorded, a ring of maxIDs
	next     int
	maxIDs   int
}

var _ Dedupe = (*MemoryDedupe)(nil)

// NewMemoryDedupe returns an empty MemoryDedupe that remembers up to maxIDs
// event ids (100,000 if maxIDs < 1).
func NewMemoryDedupe(maxIDs int) *MemoryDedupe {
	if maxIDs < 1 {
		maxIDs = 100_000
	}
	return &MemoryDedupe{
		versions: make(map[string]int64),
		ids:      make(map[string]struct{}),
		maxIDs:   maxIDs,
	}
}

// Seen implements Dedupe.
func (d *MemoryDedupe) Seen(_ context.Context, ev *eventsv1.Event) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.ids[ev.GetId()]; ok {
		return true, nil
	}
	if v := ev.GetAggregateVersion(); v > 0 {
		if last, ok := d.versions[AggregateKey(ev)]; ok && v <= last {
			return true, nil
		}
	}
	return false, nil
}

// Record implements Dedupe.
func (d *MemoryDedupe) Record(_ context.Context, ev *eventsv1.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if v := ev.GetAggregateVersion(); v > 0 {
		k := AggregateKey(ev)
		d.versions[k] = max(d.versions[k], v)
	}
	id := ev.GetId()
	if _, ok := d.ids[id]; ok {
		return nil
	}
	if len(d.order) < d.maxIDs {
		d.order = append(d.order, id)
	} else {
		delete(d.ids, d.order[d.next])
		d.order[d.next] = id
		d.next = (d.next + 1) % d.maxIDs
	}
	d.ids[id] = struct{}{}
	return nil
}
