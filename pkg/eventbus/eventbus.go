// Package eventbus carries domain events (govmatch.events.v1.Event) from the
// outbox relay of the service that emitted them (pkg/outbox) to the
// consumers of other services.
//
// Two implementations share one contract (Bus):
//
//   - Memory, in-process, for the monolithic mode: Publish hands every event
//     to every consumer group's handler before it returns.
//   - RedisStreams, for the microservices mode: one Redis stream per source
//     service, consumer groups with XREADGROUP/XACK/XAUTOCLAIM.
//
// # Guarantees
//
// Delivery is at least once: an event is handed to a group's handler until
// the handler returns nil. A handler error means "redeliver": the group
// stops at that event and retries it (and everything after it) with
// backoff, so a group sees a stream in the order the relay published it.
// The relay publishes in outbox order and is the only writer of a stream,
// so a group sees the events of one aggregate in the order they were
// committed, with one caveat: after a relay or bus failure an event may
// come again, after events that followed it. Consumers must therefore be
// idempotent; Idempotent with a Dedupe does it (skip ids already seen and
// versions not newer than the last one applied for the aggregate).
//
// # Dead letters
//
// On its own a bus redelivers a failing event forever, and its group waits
// behind it: one event that can never be processed (a poison event) stops
// the group for good. WithDeadLetters wraps a Subscriber, either bus, so
// that the handler is tried Attempts times (default 5) with a doubling
// backoff in between (100ms up to 5s); then the event moves to a
// DeadLetters store (stream, group, id, aggregate, type, attempts, last
// error, first and last failure, the event itself), is counted in
// eventbus.consumer.deadlettered, and the group goes on with the next
// event. An error that is errdefs.ErrUnavailable (the consumer's database
// or a service it calls is down, as the stores report outages) is no fault
// of the event: it goes back to the bus, which redelivers as before,
// without counting towards the attempts; nor does anything count while
// the subscription shuts down. An event that cannot be stored as a dead
// letter is redelivered too: an event is processed, dead-lettered or still
// on its way, never lost.
//
// The stores are SQLiteDeadLetters (a file beside the monolith's
// databases) and RedisDeadLetters (beside the streams). Replay is asked
// for in the store (RequestReplay, `govmatch events replay`); each running
// subscription looks for requests of its own group every ReplayInterval
// and hands those events to its handler once more, never at the same time
// as an event from the bus: success removes the dead letter, failure puts
// it back with the attempt counted and the request withdrawn.
//
// Order: the events after a dead letter are applied before it, and a
// replay comes after them. A replay goes through the same handler, so an
// Idempotent consumer skips it when it has applied a newer version of the
// aggregate meanwhile; the replay then counts as done and the dead letter
// is removed. That is right for this system's events, each of which
// carries the whole resource after its change: the newer state the
// consumer holds already contains what the dead letter would have
// applied. A consumer of events that each carry only a delta could not
// skip a stale one and would have to bypass its version check for
// replays; govmatch has none.
package eventbus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
)

// Message is one event on its way to the bus: the marshalled envelope and
// the fields the bus routes by, so that publishing needs no unmarshalling.
type Message struct {
	Stream string // the source service, e.g. "needs": one stream per source
	ID     string // the envelope's id
	Data   []byte // the marshalled eventsv1.Event
}

// Handler processes one event for a consumer group. Returning an error
// means the event was not processed and must be delivered again; the
// group does not go past it until the handler succeeds.
type Handler func(ctx context.Context, ev *eventsv1.Event) error

// Publisher is what the outbox relay needs.
type Publisher interface {
	// Publish appends msgs, in order, to their streams. When it returns nil
	// every message is safely with the bus and the relay may forget it.
	// When it returns an error some, all or none of them may have been
	// delivered: the relay publishes them again, and consumers see
	// duplicates.
	Publish(ctx context.Context, msgs []Message) error
}

// Subscriber is what a consumer needs.
type Subscriber interface {
	// Subscribe delivers the events of stream to h as consumer group
	// group, in stream order, until ctx is done; then it returns nil. It
	// returns an error only when it cannot subscribe at all. A group
	// resumes where it left off: events published while no Subscribe of
	// the group ran are delivered when one runs again.
	Subscribe(ctx context.Context, stream, group string, h Handler) error
}

// Bus is an event bus.
type Bus interface {
	Publisher
	Subscriber
	// Lag reports, per consumer group of stream, how far it is behind.
	Lag(ctx context.Context, stream string) ([]GroupLag, error)
}

// GroupLag is how far one consumer group is behind its stream.
type GroupLag struct {
	Group string
	// Pending is the number of events delivered to the group's consumers
	// and not yet acknowledged (being processed, or failed and waiting for
	// redelivery).
	Pending int64
	// Lag is the number of events in the stream not yet delivered to the
	// group; -1 when the bus cannot tell (Redis after trimming an
	// undelivered part of the stream).
	Lag int64
	// Consumers is the number of consumers of the group the bus knows.
	Consumers int64
}

// ErrNoConsumer is returned by Memory's Publish while a declared consumer
// group has no running handler: the relay keeps the events and retries.
var ErrNoConsumer = errors.New("eventbus: consumer group has no running handler")

// Decode unmarshals an envelope.
func Decode(data []byte) (*eventsv1.Event, error) {
	ev := new(eventsv1.Event)
	if err := proto.Unmarshal(data, ev); err != nil {
		return nil, fmt.Errorf("eventbus: decode event: %w", err)
	}
	return ev, nil
}

const instrumentation = "github.com/govmatch/govmatch/pkg/eventbus"

// The counter of handler errors, which DeadLetterSubscriber adds to as
// well: one instrument needs one name and description.
const (
	errorsName        = "eventbus.consumer.errors"
	errorsDescription = "Failed handler calls, each followed by another attempt or (WithDeadLetters, after the last attempt) a dead letter."
)

// consumeMetrics are recorded by both implementations for every handled
// event.
type consumeMetrics struct {
	handled metric.Int64Counter
	failed  metric.Int64Counter
	latency metric.Float64Histogram
}

func newConsumeMetrics(mp metric.MeterProvider) consumeMetrics {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(instrumentation)
	var cm consumeMetrics
	// Instrument creation fails only for invalid names; a no-op instrument
	// is returned then, which is all we could do anyway.
	cm.handled, _ = m.Int64Counter("eventbus.consumer.handled",
		metric.WithDescription("Events a consumer group's handler processed successfully."))
	cm.failed, _ = m.Int64Counter(errorsName, metric.WithDescription(errorsDescription))
	cm.latency, _ = m.Float64Histogram("eventbus.consumer.latency",
		metric.WithUnit("s"),
		metric.WithDescription("Time from the write (occur_time) until the handler finished."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
	return cm
}

// handle runs h for ev in a consumer span linked to the write's trace, and
// records the metrics.
func (cm consumeMetrics) handle(ctx context.Context, stream, group string, ev *eventsv1.Event, h Handler) error {
	attrs := []attribute.KeyValue{
		attribute.String("messaging.destination.name", stream),
		attribute.String("messaging.consumer.group.name", group),
	}
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(append(attrs,
			attribute.String("messaging.message.id", ev.GetId()),
			attribute.String("govmatch.event.type", ev.GetType()),
			attribute.String("govmatch.aggregate.id", ev.GetAggregateId()),
			attribute.Int64("govmatch.aggregate.version", ev.GetAggregateVersion()))...),
	}
	// A link rather than a parent: the consumer's work is its own trace,
	// started by the event, not a part of the request that wrote it.
	if tp := ev.GetTraceparent(); tp != "" {
		carrier := propagation.MapCarrier{"traceparent": tp}
		if sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier)); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
	}
	ctx, span := otel.Tracer(instrumentation).Start(ctx, "process "+stream, opts...)
	defer span.End()

	err := h(ctx, ev)
	set := metric.WithAttributes(attrs...)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "handler failed")
		cm.failed.Add(ctx, 1, set)
		return err
	}
	cm.handled.Add(ctx, 1, set)
	if t := ev.GetOccurTime(); t != nil {
		cm.latency.Record(ctx, time.Since(t.AsTime()).Seconds(), set)
	}
	return nil
}

// backoff doubles a delay from min up to max.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	switch {
	case b.cur == 0:
		b.cur = b.min
	case b.cur < b.max:
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
