// Package breaker tracks a shared dependency that callers can do without
// for a while (Redis behind the rate limiter or the match cache). After a
// failure the breaker is open: callers go around the dependency, except one
// per probe interval, who tries it again, so that a dead or hung dependency
// costs neither a timeout per request nor a pile of waiting calls. The
// first success closes it. The log gets a warning at most once a minute and
// an info line when a warned-of outage ends.
package breaker

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// LogInterval spaces the warnings of a long or flapping outage.
const LogInterval = time.Minute

// Breaker is safe for concurrent use.
type Breaker struct {
	probeEvery        time.Duration
	log               *slog.Logger
	warning, recovery string

	open      atomic.Bool
	nextProbe atomic.Int64 // unix nanoseconds; an open breaker lets one caller try from then
	lastWarn  atomic.Int64 // unix nanoseconds of the last warning
	warned    atomic.Bool  // the current outage was logged, so its end will be
}

// New returns a closed breaker that, once open, lets one caller per
// probeEvery try the dependency. warning and recovery are the log messages
// of an outage and of its end; log nil discards them.
func New(probeEvery time.Duration, log *slog.Logger, warning, recovery string) *Breaker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Breaker{probeEvery: probeEvery, log: log, warning: warning, recovery: recovery}
}

// Open reports whether the dependency failed and has not answered since.
func (b *Breaker) Open() bool { return b.open.Load() }

// Try reports whether this caller may use the dependency: always while the
// breaker is closed, else only the first caller of each probe interval.
func (b *Breaker) Try() bool {
	if !b.open.Load() {
		return true
	}
	now := time.Now().UnixNano()
	next := b.nextProbe.Load()
	return now >= next && b.nextProbe.CompareAndSwap(next, now+int64(b.probeEvery))
}

// Failed opens the breaker after a failed call; attrs go with the warning
// (slog key-value pairs or Attrs).
func (b *Breaker) Failed(ctx context.Context, attrs ...any) {
	now := time.Now().UnixNano()
	b.nextProbe.Store(now + int64(b.probeEvery))
	b.open.Store(true)
	last := b.lastWarn.Load()
	if (last != 0 && now-last < int64(LogInterval)) || !b.lastWarn.CompareAndSwap(last, now) {
		return
	}
	b.warned.Store(true)
	b.log.WarnContext(ctx, b.warning, append(attrs, slog.Duration("retry_every", b.probeEvery))...)
}

// Succeeded closes the breaker after a call that worked; attrs go with the
// info line that ends a warned-of outage.
func (b *Breaker) Succeeded(ctx context.Context, attrs ...any) {
	if b.open.Swap(false) && b.warned.Swap(false) {
		b.log.InfoContext(ctx, b.recovery, attrs...)
	}
}
