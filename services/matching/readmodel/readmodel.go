// Package readmodel is matching's view of the registries: it keeps the
// vendors and needs that matching ranks, fed by the registries' events
// (full-state, so every event replaces what the model had) and, for a fresh
// start or a lost stream, rebuilt from their List APIs. It owns no truth:
// everything in it can be thrown away and built again.
//
// It is an edge of the service like grpcserver: it reads the registries'
// protobuf types and hands package match plain domain values.
package readmodel

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/govmatch/govmatch/pkg/eventbus"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/score"
)

// The streams the model reads, and the consumer group of a single
// matching process on them. Every replica keeps a whole index and so must
// see every event: each reads as a group of its own (its stable name, e.g.
// the StatefulSet pod "matching-0"), never as a consumer in a shared group,
// which would split the events between replicas.
const (
	StreamNeeds   = "needs"
	StreamVendors = "vendors"
	Group         = "matching"
)

// Model is the read model. It is safe for concurrent use.
//
// Vendors live in one score.Index, ranked for needs. Published needs live
// in a second score.Index with the roles swapped (a need indexed as a
// "vendor" document), which ranks them for a vendor's profile and for
// similar needs. Every need, drafts included, is kept in a map so that a
// draft's owner can have its vendors ranked; drafts never enter the needs
// index, so nobody else is ever shown one.
type Model struct {
	vendorIdx *score.Index
	needIdx   *score.Index
	dedupe    *eventbus.MemoryDedupe

	mu      sync.RWMutex
	vendors map[string]match.Vendor
	needs   map[string]match.Need
	// touched, while a Rebuild runs, holds the keys that events changed
	// since it started: their state is newer than the listing's.
	touched map[string]bool

	// digest is the content digest (see Digest): the XOR of the hash of
	// every vendor and need held, kept in parts so that it changes with
	// every put and remove at the cost of one hash. parts is each item's
	// hash, keyed like touched, to take it out again.
	digest [2]uint64
	parts  map[string][2]uint64

	version atomic.Uint64
	ready   atomic.Bool
}

var _ match.Index = (*Model)(nil)

// New returns an empty model that scores with w.
func New(w score.Weights) *Model {
	return &Model{
		vendorIdx: score.NewIndex(w),
		needIdx:   score.NewIndex(w),
		dedupe:    eventbus.NewMemoryDedupe(0),
		vendors:   map[string]match.Vendor{},
		needs:     map[string]match.Need{},
		parts:     map[string][2]uint64{},
	}
}

// Ready reports whether the model has been built once (Rebuild succeeded),
// so its answers are complete up to the events still in flight.
func (m *Model) Ready() bool { return m.ready.Load() }

// MarkReady declares the model complete without a Rebuild: for a process
// whose registries start empty and whose every event reaches the model.
func (m *Model) MarkReady() { m.ready.Store(true) }

// Version increases with every change applied to the model; tests and
// readiness probes use it to see that an event has arrived.
func (m *Model) Version() uint64 { return m.version.Load() }

// Handler is the idempotent event handler for both streams.
func (m *Model) Handler() eventbus.Handler { return eventbus.Idempotent(m.dedupe, m.Apply) }

// Run consumes both streams as consumer group group (Group, or a
// replica's own) until ctx is done or a subscription fails. With a Memory
// bus, Declare both streams' group before the outbox relays start.
func (m *Model) Run(ctx context.Context, sub eventbus.Subscriber, group string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := m.Handler()
	errs := make(chan error, 2)
	for _, stream := range []string{StreamNeeds, StreamVendors} {
		go func() {
			err := sub.Subscribe(ctx, stream, group, h)
			if err != nil && ctx.Err() == nil {
				err = fmt.Errorf("subscribe %s: %w", stream, err)
			} else {
				err = nil
			}
			errs <- err
		}()
	}
	err := <-errs
	cancel()
	return errors.Join(err, <-errs)
}

// Apply applies one event. Use Handler, which skips duplicates and
// outdated events, rather than Apply directly.
func (m *Model) Apply(_ context.Context, ev *eventsv1.Event) error {
	msg, err := anypb.UnmarshalNew(ev.GetPayload(), proto.UnmarshalOptions{})
	if err != nil {
		// A payload type this build does not know is one it does not
		// need (a newer event published beside an old one).
		if errors.Is(err, protoregistry.NotFound) {
			return nil
		}
		return fmt.Errorf("event %s (%s): %w", ev.GetId(), ev.GetType(), err)
	}
	switch p := msg.(type) {
	case *vendorsv1.VendorCreated:
		m.putVendor(p.GetVendor(), false)
	case *vendorsv1.VendorUpdated:
		m.putVendor(p.GetVendor(), false)
	case *vendorsv1.VendorVerified:
		m.putVendor(p.GetVendor(), false)
	case *vendorsv1.VendorClaimed:
		m.putVendor(p.GetVendor(), false)
	case *vendorsv1.VendorDeleted:
		m.deleteVendor(strings.TrimPrefix(p.GetName(), "vendors/"))
	case *needsv1.NeedCreated:
		m.putNeed(p.GetNeed(), false)
	case *needsv1.NeedUpdated:
		m.putNeed(p.GetNeed(), false)
	case *needsv1.NeedPublished:
		m.putNeed(p.GetNeed(), false)
	case *needsv1.NeedProcurementStarted:
		m.putNeed(p.GetNeed(), false)
	case *needsv1.NeedAwarded:
		m.putNeed(p.GetNeed(), false)
	case *needsv1.NeedClosed:
		m.putNeed(p.GetNeed(), false)
	case *needsv1.NeedJoined:
		m.putNeed(p.GetNeed(), false)
	case *needsv1.NeedLeft:
		m.putNeed(p.GetNeed(), false)
	case *needsv1.NeedDeleted:
		m.deleteNeed(strings.TrimPrefix(p.GetName(), "needs/"))
	}
	return nil
}

func vendorKey(id string) string { return "vendor:" + id }
func needKey(id string) string   { return "need:" + id }

// putVendor replaces a vendor. From a Rebuild it leaves alone a vendor that
// an event changed meanwhile. A vendor the scorer rejects (or the
// registry's verification rejected) is dropped rather than blocking the
// stream: it cannot be matched anyway.
func (m *Model) putVendor(pv *vendorsv1.Vendor, rebuild bool) {
	v := vendorFromProto(pv)
	if v.ID == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.mark(vendorKey(v.ID), rebuild) {
		return
	}
	m.version.Add(1)
	if pv.GetVerificationStatus() == vendorsv1.Vendor_VERIFICATION_STATUS_REJECTED {
		m.removeVendorLocked(v.ID)
		return
	}
	if err := m.vendorIdx.Add(v.Profile); err != nil {
		m.removeVendorLocked(v.ID)
		return
	}
	m.vendors[v.ID] = v
	m.setPartLocked(vendorKey(v.ID), itemHash("v", v.ID, pv.GetEtag(), "", pv))
}

func (m *Model) deleteVendor(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mark(vendorKey(id), false)
	m.version.Add(1)
	m.removeVendorLocked(id)
}

func (m *Model) removeVendorLocked(id string) {
	m.vendorIdx.Remove(id)
	delete(m.vendors, id)
	m.setPartLocked(vendorKey(id), [2]uint64{})
}

func (m *Model) putNeed(pn *needsv1.Need, rebuild bool) {
	n, doc := needFromProto(pn)
	if n.ID == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.mark(needKey(n.ID), rebuild) {
		return
	}
	m.version.Add(1)
	m.needs[n.ID] = n
	if !n.Published || m.needIdx.Add(doc) != nil {
		m.needIdx.Remove(n.ID)
	}
	m.setPartLocked(needKey(n.ID), itemHash("n", n.ID, pn.GetEtag(), pn.GetState().String(), pn))
}

func (m *Model) deleteNeed(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mark(needKey(id), false)
	m.version.Add(1)
	m.removeNeedLocked(id)
}

func (m *Model) removeNeedLocked(id string) {
	delete(m.needs, id)
	m.needIdx.Remove(id)
	m.setPartLocked(needKey(id), [2]uint64{})
}

// mark records an event's change of key during a Rebuild and reports
// whether a change may be applied: a Rebuild's must not overwrite an
// event's. m.mu must be held.
func (m *Model) mark(key string, rebuild bool) bool {
	if m.touched == nil {
		return true
	}
	if rebuild {
		return !m.touched[key]
	}
	m.touched[key] = true
	return true
}

// Need implements match.Index.
func (m *Model) Need(id string) (match.Need, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.needs[id]
	return n, ok
}

// Vendor implements match.Index.
func (m *Model) Vendor(id string) (match.Vendor, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v, ok := m.vendors[id]
	return v, ok
}

// RankVendors implements match.Index.
func (m *Model) RankVendors(n score.Need, k int, f score.Filters) ([]score.Result, error) {
	return m.vendorIdx.Rank(n, k, f)
}

// RankNeeds implements match.Index.
func (m *Model) RankNeeds(q score.Need, k int, f score.Filters) ([]score.Result, error) {
	return m.needIdx.Rank(q, k, f)
}

// EachVendor implements match.Index. It holds the read lock throughout, so
// fn sees one state of the model.
func (m *Model) EachVendor(fn func(match.Vendor) bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, v := range m.vendors {
		if !fn(v) {
			return
		}
	}
}

// WeightsVersion implements match.Index.
func (m *Model) WeightsVersion() string { return m.vendorIdx.Weights().Version }
