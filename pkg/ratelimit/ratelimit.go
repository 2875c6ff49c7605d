// Package ratelimit decides whether a client may make one more request.
//
// Three Limiters share one interface:
//
//   - Memory keeps a token bucket per key in this process. It needs nothing
//     installed, which makes it the limiter of the monolithic mode, and the
//     fallback of the other two.
//   - Redis keeps the buckets in Redis (GCRA), so that every replica of the
//     gateway enforces one limit per client rather than one each.
//   - FailOpen decorates a shared limiter: when Redis fails or is slow it
//     decides with an in-process fallback instead, so that a Redis outage
//     loosens limiting to per replica but never fails or delays a request.
//
// Keys are opaque: the caller decides what a client is (an address, a token
// hash) and namespaces its keys.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Limiter decides whether the client named key may make a request now.
type Limiter interface {
	// Allow takes one request from key's allowance if there is one left.
	// An error means the limiter could not decide; callers that serve the
	// public should then serve the request (fail open) rather than refuse it.
	Allow(ctx context.Context, key string) (Result, error)
}

// Limit is a token bucket: a key may make Burst requests back to back, and
// one more every 1/Rate seconds after that.
type Limit struct {
	// Rate is the sustained number of requests per second.
	Rate float64
	// Burst is the size of the bucket: the requests allowed at once by a key
	// that has been quiet. At least 1.
	Burst int
}

// Validate reports whether l can limit anything. The constructors panic on a
// Limit that fails it, so check a configured Limit before.
func (l Limit) Validate() error {
	var errs []error
	if !(l.Rate > 0) || math.IsInf(l.Rate, 0) {
		errs = append(errs, fmt.Errorf("rate %v is not a positive number of requests per second", l.Rate))
	}
	if l.Burst < 1 {
		errs = append(errs, fmt.Errorf("burst %d is less than 1", l.Burst))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ratelimit: %w", err)
	}
	return nil
}

// fillTime is how long an empty bucket takes to fill.
func (l Limit) fillTime() time.Duration { return seconds(float64(l.Burst) / l.Rate) }

// Result is a limiter's decision, with what a client needs to pace itself
// (the gateway turns it into RateLimit-* and Retry-After headers).
type Result struct {
	// Allowed says whether the request may go ahead.
	Allowed bool
	// Remaining is how many more requests the key may make right now.
	Remaining int
	// RetryAfter is, when the request was refused, how long until one more
	// would be allowed; zero when it was allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key's bucket is full again, that is
	// until Remaining equals Limit.Burst.
	ResetAfter time.Duration
	// Limit is the limit that decided. With FailOpen it is the fallback's
	// while the primary is unavailable.
	Limit Limit
}

// seconds converts s to a Duration, rounding up, so that a client that waits
// RetryAfter is never early.
func seconds(s float64) time.Duration {
	if s <= 0 {
		return 0
	}
	ns := math.Ceil(s * float64(time.Second))
	if ns >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(ns)
}
