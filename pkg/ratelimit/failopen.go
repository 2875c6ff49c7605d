package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/govmatch/govmatch/pkg/breaker"
)

const (
	// DefaultTimeout bounds each call of FailOpen's primary: a rate limit
	// check must not add more than this to a request.
	DefaultTimeout = 50 * time.Millisecond
	// DefaultProbeInterval is how often a degraded FailOpen lets one request
	// try the primary again.
	DefaultProbeInterval = time.Second
	// DegradedMetric counts the decisions a FailOpen's fallback made, with
	// attribute "reason": "error" or "timeout" for a failed call of the
	// primary, "backoff" for a request that did not try the primary because
	// it had failed recently. Any increase means limiting is per replica.
	DegradedMetric = "govmatch.ratelimit.degraded"

	scope = "github.com/govmatch/govmatch/pkg/ratelimit"
)

// FailOpen is a Limiter that asks a primary (Redis, shared by all replicas)
// and, when that fails or takes longer than its timeout, decides with a
// fallback (Memory, this replica alone) instead. It never turns a failure of
// the primary into an error or a refusal.
//
// After a failure it is degraded (its breaker.Breaker is open): requests go
// straight to the fallback, and one request per probe interval tries the
// primary again. Degraded reports the state and the DegradedMetric counter
// counts the fallback's decisions.
type FailOpen struct {
	primary, fallback Limiter
	timeout           time.Duration
	br                *breaker.Breaker

	decisions                     metric.Int64Counter
	byError, byTimeout, byBackoff metric.AddOption
}

// FailOpenOption configures a FailOpen.
type FailOpenOption func(*failOpenOptions)

type failOpenOptions struct {
	timeout    time.Duration
	probeEvery time.Duration
	meter      metric.MeterProvider
}

// WithTimeout bounds each call of the primary (DefaultTimeout).
func WithTimeout(d time.Duration) FailOpenOption {
	return func(o *failOpenOptions) { o.timeout = d }
}

// WithProbeInterval sets how often a degraded FailOpen tries the primary
// (DefaultProbeInterval).
func WithProbeInterval(d time.Duration) FailOpenOption {
	return func(o *failOpenOptions) { o.probeEvery = d }
}

// WithMeterProvider records DegradedMetric with mp instead of the global
// provider.
func WithMeterProvider(mp metric.MeterProvider) FailOpenOption {
	return func(o *failOpenOptions) { o.meter = mp }
}

// NewFailOpen returns a limiter that asks primary and falls back to fallback
// when primary fails or is slow. log gets the outages; nil discards them.
//
// The bound holds whatever the Redis client's settings, but the client
// should be created with ContextTimeoutEnabled so that an abandoned call
// also ends then, rather than at the client's read timeout.
func NewFailOpen(primary, fallback Limiter, log *slog.Logger, opts ...FailOpenOption) *FailOpen {
	o := failOpenOptions{timeout: DefaultTimeout, probeEvery: DefaultProbeInterval}
	for _, opt := range opts {
		opt(&o)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	if o.probeEvery <= 0 {
		o.probeEvery = DefaultProbeInterval
	}
	if o.meter == nil {
		o.meter = otel.GetMeterProvider()
	}
	decisions, err := o.meter.Meter(scope).Int64Counter(DegradedMetric,
		metric.WithDescription("Rate limit decisions made by the in-process fallback because the shared limiter failed or was slow."),
		metric.WithUnit("{decision}"))
	if err != nil {
		otel.Handle(err)
		decisions = noop.Int64Counter{}
	}
	reason := func(r string) metric.AddOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
	}
	return &FailOpen{
		primary:  primary,
		fallback: fallback,
		timeout:  o.timeout,
		br: breaker.New(o.probeEvery, log,
			"rate limiter degraded: shared limiter failed, limiting per replica until it recovers",
			"rate limiter recovered: shared limiter answers again"),
		decisions: decisions,
		byError:   reason("error"),
		byTimeout: reason("timeout"),
		byBackoff: reason("backoff"),
	}
}

// Degraded reports whether the primary failed and has not answered since:
// limits are then enforced per replica. A readiness probe should report it
// but stay ready, since requests are still served and limited.
func (f *FailOpen) Degraded() bool { return f.br.Open() }

// Allow asks the primary, or the fallback when the primary fails, is slow,
// or has failed within the probe interval. It returns an error only if the
// fallback does; Memory never does.
func (f *FailOpen) Allow(ctx context.Context, key string) (Result, error) {
	if !f.br.Try() {
		f.decisions.Add(ctx, 1, f.byBackoff)
		return f.fallback.Allow(ctx, key)
	}
	res, err := f.askPrimary(ctx, key)
	switch {
	case err == nil:
		f.br.Succeeded(ctx)
		return res, nil
	case ctx.Err() != nil:
		// The caller gave up, which says nothing about the primary.
		return f.fallback.Allow(ctx, key)
	case errors.Is(err, context.DeadlineExceeded):
		f.br.Failed(ctx, slog.Any("err", fmt.Errorf("no answer within %v", f.timeout)))
		f.decisions.Add(ctx, 1, f.byTimeout)
	default:
		f.br.Failed(ctx, slog.Any("err", err))
		f.decisions.Add(ctx, 1, f.byError)
	}
	return f.fallback.Allow(ctx, key)
}

// askPrimary calls the primary with a deadline it enforces itself: a client
// that ignores the context (go-redis does, unless ContextTimeoutEnabled)
// finishes its call in the background, bounded by its own timeouts, and
// since a failure turns further requests to the fallback, few calls are
// ever left behind like that.
//
// A failure at or past the deadline is reported as context.DeadlineExceeded
// whatever the primary returned: a client that honours the deadline sets it
// on its connection, whose timer may fire before the context's, and answers
// "i/o timeout" — which is this bound, not a broken primary.
func (f *FailOpen) askPrimary(ctx context.Context, key string) (Result, error) {
	deadline := time.Now().Add(f.timeout)
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	type answer struct {
		res Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		res, err := f.primary.Allow(ctx, key)
		done <- answer{res, err}
	}()
	select {
	case a := <-done:
		if a.err != nil && !time.Now().Before(deadline) {
			return Result{}, fmt.Errorf("%w: %w", context.DeadlineExceeded, a.err)
		}
		return a.res, a.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}
