package outbox

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/govmatch/govmatch/pkg/eventbus"
)

// RelayOptions configure a Relay; the zero value gives the defaults.
type RelayOptions struct {
	// BatchSize is the number of rows published at once; default 100.
	BatchSize int
	// PollInterval is how often the relay looks at the table without being
	// notified, as a safety net; default 1s.
	PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the exponential wait after the bus
	// or the database failed; defaults 50ms and 5s. MaxBackoff is also how
	// long it may take to notice that the bus is back.
	MinBackoff, MaxBackoff time.Duration

	MeterProvider metric.MeterProvider // default: otel's global one
	Logger        *slog.Logger         // default: slog.Default()
}

// Relay publishes the rows of an outbox to a bus, in seq order, and
// deletes them once the bus acknowledged them.
type Relay struct {
	store Store
	bus   eventbus.Publisher
	opts  RelayOptions
	log   *slog.Logger
	wake  chan struct{}

	meter     metric.Meter
	published metric.Int64Counter
	errors    metric.Int64Counter
}

// NewRelay returns a relay from store to bus; Run runs it.
func NewRelay(store Store, bus eventbus.Publisher, opts RelayOptions) *Relay {
	opts.BatchSize = cmp.Or(opts.BatchSize, 100)
	opts.PollInterval = cmp.Or(opts.PollInterval, time.Second)
	opts.MinBackoff = cmp.Or(opts.MinBackoff, 50*time.Millisecond)
	opts.MaxBackoff = cmp.Or(opts.MaxBackoff, 5*time.Second)
	mp := opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	r := &Relay{
		store: store,
		bus:   bus,
		opts:  opts,
		log:   cmp.Or(opts.Logger, slog.Default()),
		wake:  make(chan struct{}, 1),
		meter: mp.Meter("github.com/govmatch/govmatch/pkg/outbox"),
	}
	r.published, _ = r.meter.Int64Counter("outbox.published",
		metric.WithDescription("Events the bus acknowledged."))
	r.errors, _ = r.meter.Int64Counter("outbox.publish.errors",
		metric.WithDescription("Failed attempts to publish a batch of events."))
	return r
}

// Notify tells the relay that a transaction inserted into the outbox and
// committed. It never blocks; call it after every such commit.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default: // a wake-up is pending already
	}
}

// Backlog returns what the outbox holds, for the status command.
func (r *Relay) Backlog(ctx context.Context) (Backlog, error) { return r.store.Backlog(ctx) }

// Run relays until ctx is done, then returns nil. Failures of the bus or
// the database are logged and retried with backoff; the rows stay in the
// outbox meanwhile.
func (r *Relay) Run(ctx context.Context) error {
	reg, err := r.observeBacklog()
	if err != nil {
		return err
	}
	defer func() { _ = reg.Unregister() }()

	var wg sync.WaitGroup
	defer wg.Wait()
	if l, ok := r.store.(Listener); ok {
		wg.Go(func() { l.Listen(ctx, r.Notify) })
	}

	b := backoff{min: r.opts.MinBackoff, max: r.opts.MaxBackoff}
	for ctx.Err() == nil {
		sess, err := r.store.Lease(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.WarnContext(ctx, "outbox: cannot lease the outbox", "error", err)
				sleep(ctx, b.next())
			}
			continue
		}
		r.relay(ctx, sess, &b)
		sess.Close()
	}
	return nil
}

// relay drains the outbox through sess and waits for more, until ctx is
// done or the database fails (then the caller leases anew).
func (r *Relay) relay(ctx context.Context, sess Session, b *backoff) {
	poll := time.NewTicker(r.opts.PollInterval)
	defer poll.Stop()
	for ctx.Err() == nil {
		n, err := r.batch(ctx, sess)
		switch {
		case errors.Is(err, errStore):
			sleep(ctx, b.next())
			return
		case err != nil:
			sleep(ctx, b.next())
			continue
		}
		b.reset()
		if n == r.opts.BatchSize {
			continue // more is waiting
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-poll.C:
		}
	}
}

// errStore says the database failed; other errors are the bus's.
var errStore = errors.New("outbox: database failed")

// batch publishes the oldest rows and deletes them; it returns how many.
func (r *Relay) batch(ctx context.Context, sess Session) (int, error) {
	recs, err := sess.Fetch(ctx, r.opts.BatchSize)
	if err != nil {
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "outbox: cannot read the outbox", "error", err)
		}
		return 0, errStore
	}
	if len(recs) == 0 {
		return 0, nil
	}
	msgs := make([]eventbus.Message, len(recs))
	seqs := make([]int64, len(recs))
	for i, rec := range recs {
		msgs[i] = eventbus.Message{Stream: rec.Source, ID: rec.EventID, Data: rec.Data}
		seqs[i] = rec.Seq
	}
	if err := r.bus.Publish(ctx, msgs); err != nil {
		r.errors.Add(ctx, 1)
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "outbox: cannot publish; events wait in the outbox",
				"events", len(msgs), "error", err)
		}
		return 0, err
	}
	r.published.Add(ctx, int64(len(msgs)))
	// Should this fail, or the process die now, the rows are published
	// again: a duplicate, never a loss.
	if err := sess.Delete(ctx, seqs); err != nil {
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "outbox: published events not deleted; they will be published again",
				"events", len(seqs), "error", err)
		}
		return 0, errStore
	}
	return len(recs), nil
}

// observeBacklog reports the backlog as gauges while Run runs.
func (r *Relay) observeBacklog() (metric.Registration, error) {
	size, err := r.meter.Int64ObservableGauge("outbox.backlog",
		metric.WithDescription("Events committed and not yet acknowledged by the bus."))
	if err != nil {
		return nil, err
	}
	age, err := r.meter.Float64ObservableGauge("outbox.backlog.oldest_age",
		metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest event not yet acknowledged by the bus; 0 when none waits."))
	if err != nil {
		return nil, err
	}
	return r.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		bl, err := r.store.Backlog(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(size, bl.Count)
		o.ObserveFloat64(age, bl.OldestAge.Seconds())
		return nil
	}, size, age)
}

// backoff doubles a delay from min up to max.
type backoff struct{ min, max, cur time.Duration }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
