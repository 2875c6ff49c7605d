package eventbus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/proto"

	"github.com/govmatch/govmatch/pkg/errdefs"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
)

// DeadLetter is an event that a consumer group's handler failed on every
// attempt, set aside so that the group could go on.
type DeadLetter struct {
	Stream string
	Group  string
	ID     string // the envelope's id; with Stream and Group the key
	// Aggregate is the event's AggregateKey, Type its payload type.
	Aggregate string
	Type      string
	// Attempts counts every failed handler call, replays included.
	Attempts int
	// LastError is the text of the handler's last error, cut to
	// MaxErrorBytes.
	LastError string
	// FirstFailure and LastFailure are in UTC at microsecond precision, as
	// the stores keep them.
	FirstFailure, LastFailure time.Time
	// ReplayRequested is when a replay was asked for and not yet tried;
	// zero when none is pending.
	ReplayRequested time.Time
	// Data is the marshalled eventsv1.Event.
	Data []byte
}

// MaxErrorBytes bounds DeadLetter.LastError: an error that quotes a whole
// payload must not bloat the store.
const MaxErrorBytes = 1024

// Filter selects dead letters; empty fields match everything.
type Filter struct {
	Stream, Group, ID string
	// ReplayRequested selects only those with a replay pending.
	ReplayRequested bool
}

func (f Filter) match(dl DeadLetter) bool {
	return (f.Stream == "" || f.Stream == dl.Stream) &&
		(f.Group == "" || f.Group == dl.Group) &&
		(f.ID == "" || f.ID == dl.ID) &&
		(!f.ReplayRequested || !dl.ReplayRequested.IsZero())
}

// DeadLetters stores dead letters: SQLiteDeadLetters in the monolith,
// RedisDeadLetters beside RedisStreams. Every method is safe for concurrent
// use, also by several processes (the CLI beside the server).
type DeadLetters interface {
	// Put records that dl's event failed dl.Attempts more times. When the
	// store holds the event for the group already, the attempts add up,
	// the first failure stays, and the error and last failure become dl's;
	// its pending replay is withdrawn if it is the one dl.ReplayRequested
	// names (the replay that just failed), while a newer request stays.
	Put(ctx context.Context, dl DeadLetter) error
	// List returns the dead letters f selects, oldest first failure first.
	List(ctx context.Context, f Filter) ([]DeadLetter, error)
	// Count returns how many dead letters the group of stream has.
	Count(ctx context.Context, stream, group string) (int64, error)
	// RequestReplay asks the running subscriptions to hand the dead
	// letters f selects to their handlers again, and returns how many it
	// marked.
	RequestReplay(ctx context.Context, f Filter) (int, error)
	// Delete removes a dead letter; removing one that is gone is no error.
	Delete(ctx context.Context, stream, group, id string) error
}

// DeadLetterOptions configure WithDeadLetters; the zero value gives the
// defaults.
type DeadLetterOptions struct {
	// Attempts is how often the handler is called for an event before the
	// event becomes a dead letter; default 5.
	Attempts int
	// MinBackoff and MaxBackoff bound the wait between attempts, which
	// doubles from MinBackoff; defaults 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// ReplayInterval is how often a subscription looks for replay
	// requests; default 1s.
	ReplayInterval time.Duration

	MeterProvider metric.MeterProvider // default: otel's global one
	Logger        *slog.Logger         // default: slog.Default()
}

// DeadLetterSubscriber is a Subscriber that moves an event its handler
// keeps failing on to a DeadLetters store, so that the group goes on with
// the next event, and replays dead letters on request. See the package
// doc, "Dead letters".
type DeadLetterSubscriber struct {
	sub   Subscriber
	store DeadLetters
	opts  DeadLetterOptions
	log   *slog.Logger

	meter        metric.Meter
	failed       metric.Int64Counter
	deadLettered metric.Int64Counter
	waiting      metric.Int64ObservableGauge
}

var _ Subscriber = (*DeadLetterSubscriber)(nil)

// WithDeadLetters returns sub with dead-letter handling in store.
func WithDeadLetters(sub Subscriber, store DeadLetters, opts DeadLetterOptions) *DeadLetterSubscriber {
	opts.Attempts = cmp.Or(max(opts.Attempts, 0), 5)
	opts.MinBackoff = cmp.Or(opts.MinBackoff, 100*time.Millisecond)
	opts.MaxBackoff = cmp.Or(opts.MaxBackoff, 5*time.Second)
	opts.ReplayInterval = cmp.Or(opts.ReplayInterval, time.Second)
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	d := &DeadLetterSubscriber{
		sub:   sub,
		store: store,
		opts:  opts,
		log:   cmp.Or(opts.Logger, slog.Default()),
		meter: mp.Meter(instrumentation),
	}
	// The same instrument as the buses' own: it counts the failed attempts
	// that a bus does not see because they were retried here.
	d.failed, _ = d.meter.Int64Counter(errorsName, metric.WithDescription(errorsDescription))
	d.deadLettered, _ = d.meter.Int64Counter("eventbus.consumer.deadlettered",
		metric.WithDescription("Events moved to the dead letters after their handler failed every attempt."))
	d.waiting, _ = d.meter.Int64ObservableGauge("eventbus.consumer.deadletters",
		metric.WithDescription("Dead letters of a consumer group waiting for a replay."))
	return d
}

// Subscribe implements Subscriber: it subscribes through the wrapped
// Subscriber and, while that runs, replays the group's dead letters on
// request. The handler is never called concurrently with itself.
func (d *DeadLetterSubscriber) Subscribe(ctx context.Context, stream, group string, h Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &deadLetterSub{d: d, done: ctx.Done(), stream: stream, group: group, h: h}
	attrs := metric.WithAttributes(
		attribute.String("messaging.destination.name", stream),
		attribute.String("messaging.consumer.group.name", group))
	reg, err := d.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		n, err := d.store.Count(ctx, stream, group)
		if err != nil {
			return err
		}
		o.ObserveInt64(d.waiting, n, attrs)
		return nil
	}, d.waiting)
	if err != nil {
		return fmt.Errorf("eventbus: dead-letter gauge: %w", err)
	}
	defer func() { _ = reg.Unregister() }()

	var wg sync.WaitGroup
	wg.Go(func() { s.replayLoop(ctx) })
	// The replay loop ends before Subscribe returns, so that no handler
	// runs afterwards, as Subscriber promises.
	defer wg.Wait()
	return d.sub.Subscribe(ctx, stream, group, s.handle)
}

type deadLetterSub struct {
	d             *DeadLetterSubscriber
	done          <-chan struct{} // the subscription's end
	stream, group string
	h             Handler

	// mu serialises the handler between the bus's deliveries and replays.
	mu sync.Mutex
}

func (s *deadLetterSub) attrs() metric.MeasurementOption {
	return metric.WithAttributes(
		attribute.String("messaging.destination.name", s.stream),
		attribute.String("messaging.consumer.group.name", s.group))
}

// handle is the handler the bus calls: it tries h up to Attempts times
// with backoff and then moves the event to the dead letters, returning
// nil so that the bus goes on. It returns h's error (the bus redelivers)
// only when the event could not be set aside, the subscription ends, or
// the error says a dependency is unavailable, which is no fault of the
// event.
func (s *deadLetterSub) handle(ctx context.Context, ev *eventsv1.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := backoff{min: s.d.opts.MinBackoff, max: s.d.opts.MaxBackoff}
	var first time.Time
	for attempt := 1; ; attempt++ {
		err := s.h(ctx, ev)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || errors.Is(err, errdefs.ErrUnavailable) {
			return err
		}
		if first.IsZero() {
			first = time.Now()
		}
		span := trace.SpanFromContext(ctx)
		if attempt >= s.d.opts.Attempts {
			dl, derr := newDeadLetter(s.stream, s.group, ev, attempt, err, first)
			if derr == nil {
				derr = s.d.store.Put(ctx, dl)
			}
			if derr != nil {
				return fmt.Errorf("%w (not moved to the dead letters: %w)", err, derr)
			}
			s.d.failed.Add(ctx, 1, s.attrs())
			s.d.deadLettered.Add(ctx, 1, s.attrs())
			span.AddEvent("dead-lettered", trace.WithAttributes(attribute.Int("govmatch.attempts", attempt)))
			s.d.log.ErrorContext(ctx, "eventbus: event moved to the dead letters after its handler failed every attempt",
				"stream", s.stream, "group", s.group, "event_id", ev.GetId(), "event_type", ev.GetType(),
				"aggregate", dl.Aggregate, "attempts", attempt, "error", err)
			return nil
		}
		s.d.failed.Add(ctx, 1, s.attrs())
		span.AddEvent("attempt failed", trace.WithAttributes(
			attribute.Int("govmatch.attempt", attempt), attribute.String("error", err.Error())))
		if !s.wait(ctx, b.next()) {
			return err
		}
	}
}

// wait waits d, and reports false if ctx or the subscription ended first.
// With Memory, ctx is the publisher's, so both matter.
func (s *deadLetterSub) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-s.done:
		return false
	case <-t.C:
		return true
	}
}

func newDeadLetter(stream, group string, ev *eventsv1.Event, attempts int, err error, first time.Time) (DeadLetter, error) {
	data, merr := proto.Marshal(ev)
	if merr != nil {
		return DeadLetter{}, merr
	}
	return DeadLetter{
		Stream:       stream,
		Group:        group,
		ID:           ev.GetId(),
		Aggregate:    AggregateKey(ev),
		Type:         ev.GetType(),
		Attempts:     attempts,
		LastError:    truncateError(err),
		FirstFailure: storeTime(first),
		LastFailure:  storeTime(time.Now()),
		Data:         data,
	}, nil
}

// truncateError is err's text cut to MaxErrorBytes at a rune boundary.
func truncateError(err error) string {
	s := err.Error()
	if len(s) <= MaxErrorBytes {
		return s
	}
	s = s[:MaxErrorBytes-len("…")]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// storeTime is t as both stores keep it.
func storeTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// replayLoop looks for replay requests every ReplayInterval until ctx is
// done.
func (s *deadLetterSub) replayLoop(ctx context.Context) {
	tick := time.NewTicker(s.d.opts.ReplayInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		dls, err := s.d.store.List(ctx, Filter{Stream: s.stream, Group: s.group, ReplayRequested: true})
		if err != nil {
			if ctx.Err() == nil {
				s.d.log.WarnContext(ctx, "eventbus: cannot read replay requests", "stream", s.stream, "group", s.group, "error", err)
			}
			continue
		}
		for _, dl := range dls {
			if ctx.Err() != nil {
				return
			}
			s.replay(ctx, dl)
		}
	}
}

// replay hands dl to the handler once: success removes it, failure puts
// it back with the attempt counted and the request withdrawn. Errors of
// the store leave the request pending, to be tried again.
func (s *deadLetterSub) replay(ctx context.Context, dl DeadLetter) {
	log := s.d.log.With("stream", s.stream, "group", s.group, "event_id", dl.ID)
	err := s.replayHandle(ctx, dl)
	switch {
	case err == nil:
		if err := s.d.store.Delete(ctx, dl.Stream, dl.Group, dl.ID); err != nil {
			// The replay request stays: the next round replays it again,
			// which the handler's idempotency makes harmless.
			log.WarnContext(ctx, "eventbus: replayed dead letter not removed", "error", err)
			return
		}
		log.InfoContext(ctx, "eventbus: dead letter replayed")
	case ctx.Err() != nil:
	case errors.Is(err, errdefs.ErrUnavailable):
		// Not the event's fault: the request stays for the next round.
		log.WarnContext(ctx, "eventbus: dead letter replay waits for a dependency", "error", err)
	default:
		now := storeTime(time.Now())
		dl.Attempts, dl.LastError, dl.FirstFailure, dl.LastFailure = 1, truncateError(err), now, now
		if err := s.d.store.Put(ctx, dl); err != nil {
			log.WarnContext(ctx, "eventbus: failed replay not recorded", "error", err)
			return
		}
		log.WarnContext(ctx, "eventbus: dead letter replay failed", "error", err)
	}
}

// replayHandle calls the handler for dl in a consumer span of its own. It
// bypasses the bus, so the bus's metrics (whose latency would be the age
// of the dead letter) do not count it.
func (s *deadLetterSub) replayHandle(ctx context.Context, dl DeadLetter) error {
	ctx, span := otel.Tracer(instrumentation).Start(ctx, "replay "+s.stream,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.destination.name", s.stream),
			attribute.String("messaging.consumer.group.name", s.group),
			attribute.String("messaging.message.id", dl.ID),
			attribute.String("govmatch.event.type", dl.Type)))
	defer span.End()
	ev, err := Decode(dl.Data)
	if err == nil {
		s.mu.Lock()
		err = s.h(ctx, ev)
		s.mu.Unlock()
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "replay failed")
	}
	return err
}
