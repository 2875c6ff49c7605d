package eventbus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/metric"
)

// Memory is the in-process bus of the monolithic mode. It keeps no events
// of its own: the outbox is the queue, and Publish is delivery.
//
// Publish calls, for each message in order, the handler of every consumer
// group of the message's stream, and returns nil only when every group's
// handler returned nil for every message. So when the relay deletes the
// outbox rows after a successful Publish, every group has processed them.
// When a handler fails, or a group is known but has no running Subscribe
// (ErrNoConsumer), Publish returns an error and the relay keeps the rows
// and publishes them again later. A group that did process some of those
// messages is not handed them again on that retry (Memory remembers them
// until the batch succeeds); after a process restart it may be, which
// Idempotent handles.
//
// A group is known once Declare or Subscribe named it, and stays known for
// the life of the Memory: Declare every group before the relay starts, or
// events published before its Subscribe runs are not delivered to it.
// Messages of a stream that has no known group are dropped, as nobody
// wants them.
//
// Handlers run on the publisher's goroutine, one at a time: a slow handler
// slows the relay (and thereby only the events, never the writes).
type Memory struct {
	metrics consumeMetrics
	log     *slog.Logger

	// deliver serialises Publish and guards handler calls, so that no
	// handler runs after its Subscribe returned.
	deliver sync.Mutex

	mu     sync.Mutex
	groups map[string]map[string]*memGroup // stream → group → state
}

type memGroup struct {
	handler Handler             // nil while no Subscribe runs
	done    map[string]struct{} // ids handled during Publishes that failed
}

var _ Bus = (*Memory)(nil)

// MemoryOptions configure a Memory; the zero value is fine.
type MemoryOptions struct {
	MeterProvider metric.MeterProvider // default: otel's global one
	Logger        *slog.Logger         // default: slog.Default()
}

// NewMemory returns an in-process bus.
func NewMemory(opts MemoryOptions) *Memory {
	return &Memory{
		metrics: newConsumeMetrics(opts.MeterProvider),
		log:     cmp.Or(opts.Logger, slog.Default()),
		groups:  make(map[string]map[string]*memGroup),
	}
}

// Declare makes group a known consumer group of stream: from now on Publish
// fails for the stream's events until a Subscribe of the group runs.
func (m *Memory) Declare(stream, group string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.group(stream, group)
}

// group returns the state of a group, creating it; m.mu must be held.
func (m *Memory) group(stream, group string) *memGroup {
	gs := m.groups[stream]
	if gs == nil {
		gs = make(map[string]*memGroup)
		m.groups[stream] = gs
	}
	g := gs[group]
	if g == nil {
		g = &memGroup{done: make(map[string]struct{})}
		gs[group] = g
	}
	return g
}

// Subscribe implements Subscriber. Only one Subscribe per group may run at a
// time.
func (m *Memory) Subscribe(ctx context.Context, stream, group string, h Handler) error {
	m.mu.Lock()
	g := m.group(stream, group)
	if g.handler != nil {
		m.mu.Unlock()
		return fmt.Errorf("eventbus: group %q of stream %q is subscribed already", group, stream)
	}
	g.handler = h
	m.mu.Unlock()

	<-ctx.Done()

	// Wait for a Publish in flight, so h is not called after we return.
	m.deliver.Lock()
	defer m.deliver.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	g.handler = nil
	return nil
}

// Publish implements Publisher; see Memory for what it guarantees.
func (m *Memory) Publish(ctx context.Context, msgs []Message) error {
	m.deliver.Lock()
	defer m.deliver.Unlock()

	type target struct {
		stream, group string
		g             *memGroup
		h             Handler
	}
	var errs []error
	var targets []target
	m.mu.Lock()
	for stream, gs := range m.groups {
		for name, g := range gs {
			targets = append(targets, target{stream, name, g, g.handler})
		}
	}
	m.mu.Unlock()

	// Decode once per message; each handler gets its own copy below, so one
	// consumer cannot change what another sees.
	for _, t := range targets {
		if t.h == nil {
			if hasStream(msgs, t.stream) {
				errs = append(errs, fmt.Errorf("group %q of stream %q: %w", t.group, t.stream, ErrNoConsumer))
			}
			continue
		}
		for _, msg := range msgs {
			if msg.Stream != t.stream {
				continue
			}
			if _, ok := t.g.done[msg.ID]; ok {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			ev, err := Decode(msg.Data)
			if err != nil {
				// Not an event this bus can ever deliver; failing would stop
				// the stream for good, so it is dropped loudly.
				m.log.ErrorContext(ctx, "eventbus: dropping undecodable event",
					"stream", t.stream, "group", t.group, "event_id", msg.ID, "error", err)
				t.g.done[msg.ID] = struct{}{}
				continue
			}
			if err := m.metrics.handle(ctx, t.stream, t.group, ev, t.h); err != nil {
				errs = append(errs, fmt.Errorf("group %q of stream %q, event %s: %w", t.group, t.stream, msg.ID, err))
				break // the rest of the stream waits for this event
			}
			t.g.done[msg.ID] = struct{}{}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Everything was delivered: the relay forgets the batch, so do we.
	for _, t := range targets {
		for _, msg := range msgs {
			delete(t.g.done, msg.ID)
		}
	}
	return nil
}

func hasStream(msgs []Message, stream string) bool {
	for _, m := range msgs {
		if m.Stream == stream {
			return true
		}
	}
	return false
}

// Lag implements Bus. Delivery is synchronous, so nothing is ever waiting
// in Memory: a group that cannot keep up holds events back in the outbox,
// whose backlog says how many. Pending counts the events a group processed
// while the batch they belong to failed for another group.
func (m *Memory) Lag(_ context.Context, stream string) ([]GroupLag, error) {
	m.deliver.Lock() // done is written during Publish
	defer m.deliver.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	var lags []GroupLag
	for name, g := range m.groups[stream] {
		l := GroupLag{Group: name, Pending: int64(len(g.done))}
		if g.handler != nil {
			l.Consumers = 1
		}
		lags = append(lags, l)
	}
	sortLags(lags)
	return lags, nil
}
