// Package matchcache caches matching answers: a match.Ranker that answers
// from a Store (Redis, shared by the replicas, or in process) and asks the
// ranker it wraps on a miss.
//
// A cached page can never be served after a change it does not reflect:
// its key holds the digest of the read model's content (readmodel's
// DigestVersion), read before the page is computed, and the page is stored
// only if the model did not change while it was computed. After a change
// requests read the new digest, and so new keys; entries of old digests
// are never asked for again and expire. Identical concurrent requests are
// computed once. When the store fails or is slow, requests are answered
// by the wrapped ranker, and the cache reports itself degraded until the
// store answers again.
//
// Since a key names one content, a page's ETag is its key's hash: a caller
// that holds the page of the current key (match.WithIfNoneMatch) gets
// match.ErrNotModified without a lookup. The gateway revalidates its
// rendered copies this way on every request.
package matchcache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/sync/singleflight"

	"github.com/govmatch/govmatch/pkg/breaker"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/services/matching/match"
)

// Defaults of Options.
const (
	// DefaultTTL is how long a page stays in the store. Entries of an old
	// digest are dead once the model changed; this only bounds their
	// memory.
	DefaultTTL = 10 * time.Minute
	// DefaultTimeout bounds each call of the store: a slower store counts
	// as down, since computing is faster than waiting for it.
	DefaultTimeout = 50 * time.Millisecond
	// DefaultRetryAfter is how long a degraded cache waits before one
	// request tries the store again.
	DefaultRetryAfter = time.Second
)

// Metric names; every instrument carries the attribute "store" ("memory"
// or "redis").
const (
	// MetricLookups counts requests by "result": "hit", "miss", "error"
	// (the store failed or was slow), "bypass" (degraded: the store was
	// not asked) or "revalidated" (the caller held the current page, see
	// match.ErrNotModified: nothing was read).
	MetricLookups = "govmatch.matchcache.lookups"
	// MetricLookupDuration is the latency of the store's Get, in seconds.
	MetricLookupDuration = "govmatch.matchcache.lookup.duration"
	// MetricStores counts computed pages by "result": "stored", "stale"
	// (the model changed while the page was computed, so it was not
	// stored), "error" (the store failed) or "bypass" (degraded).
	MetricStores = "govmatch.matchcache.stores"
	// MetricEvictions counts pages an in-process store dropped to make
	// room. Redis evicts and expires on its own; its INFO stats
	// (evicted_keys, expired_keys) tell.
	MetricEvictions = "govmatch.matchcache.evictions"
	// MetricDegraded is 1 while the store is failing and requests are
	// computed directly, else 0.
	MetricDegraded = "govmatch.matchcache.degraded"

	scope = "github.com/govmatch/govmatch/services/matching/matchcache"
)

// Source is what the cache needs of the read model besides the ranker.
type Source interface {
	// DigestVersion returns the content digest, equal across replicas
	// with equal content, and a version that changes with every change in
	// this process, read together.
	DigestVersion() (digest string, version uint64)
	// WeightsVersion is the version of the scoring weights.
	WeightsVersion() string
}

// Options configure a Cache; zero values mean the defaults.
type Options struct {
	// Prefix starts every key, e.g. "govmatch:".
	Prefix string
	// Build identifies the code that computes the pages (the VCS
	// revision): replicas of two builds, during a rollout, then share no
	// pages, even if a change of the scorer kept the weights version.
	Build      string
	TTL        time.Duration
	Timeout    time.Duration
	RetryAfter time.Duration
	// Logger gets the outages; nil discards them.
	Logger *slog.Logger
	// MeterProvider records the metrics; nil means otel's global one.
	MeterProvider metric.MeterProvider
}

// Cache is a match.Ranker that caches another one's pages in a Store. The
// pages it returns may be shared with other callers and must not be
// modified.
type Cache struct {
	next  match.Ranker
	src   Source
	store Store
	opts  Options
	log   *slog.Logger
	group singleflight.Group
	// ver is the weights version and build every key holds; both are fixed
	// for the life of the process.
	ver string

	// br is open while the store fails: the cache is degraded.
	br *breaker.Breaker

	lookups              metric.Int64Counter
	lookupDuration       metric.Float64Histogram
	stores               metric.Int64Counter
	storeAttr            metric.MeasurementOption
	hit, miss, err, skip metric.AddOption
	revalidated          metric.AddOption
	stored, stale, serr  metric.AddOption
	reg                  metric.Registration
}

var _ match.Ranker = (*Cache)(nil)

// New returns a Cache of next's answers in store, keyed by src's digest.
func New(next match.Ranker, src Source, store Store, opts Options) (*Cache, error) {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	c := &Cache{next: next, src: src, store: store, opts: opts, log: opts.Logger, ver: src.WeightsVersion()}
	if opts.Build != "" {
		c.ver += "+" + opts.Build
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.br = breaker.New(opts.RetryAfter, c.log,
		"match cache degraded: store failed, computing answers directly until it recovers",
		"match cache recovered: store answers again")
	if err := c.instrument(); err != nil {
		return nil, fmt.Errorf("matchcache: metrics: %w", err)
	}
	return c, nil
}

func (c *Cache) instrument() error {
	m := c.opts.MeterProvider.Meter(scope)
	storeKV := attribute.String("store", c.store.Name())
	with := func(k, v string) metric.AddOption {
		return metric.WithAttributeSet(attribute.NewSet(storeKV, attribute.String(k, v)))
	}
	c.storeAttr = metric.WithAttributeSet(attribute.NewSet(storeKV))
	c.hit, c.miss, c.err, c.skip = with("result", "hit"), with("result", "miss"), with("result", "error"), with("result", "bypass")
	c.revalidated = with("result", "revalidated")
	c.stored, c.stale, c.serr = with("result", "stored"), with("result", "stale"), with("result", "error")
	var errs [5]error
	c.lookups, errs[0] = m.Int64Counter(MetricLookups,
		metric.WithDescription("Match cache lookups by result (hit, miss, error, bypass, revalidated)."), metric.WithUnit("{lookup}"))
	c.lookupDuration, errs[1] = m.Float64Histogram(MetricLookupDuration,
		metric.WithDescription("Latency of match cache lookups."), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1))
	c.stores, errs[2] = m.Int64Counter(MetricStores,
		metric.WithDescription("Computed match pages by what became of them in the cache (stored, stale, error, bypass)."), metric.WithUnit("{page}"))
	evictions, err := m.Int64ObservableCounter(MetricEvictions,
		metric.WithDescription("Match pages an in-process cache dropped to make room."), metric.WithUnit("{page}"))
	errs[3] = err
	degraded, err := m.Int64ObservableGauge(MetricDegraded,
		metric.WithDescription("1 while the match cache's store fails and answers are computed directly."))
	errs[4] = err
	if err := errors.Join(errs[:]...); err != nil {
		return err
	}
	obs := metric.WithAttributeSet(attribute.NewSet(storeKV))
	c.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		var d int64
		if c.br.Open() {
			d = 1
		}
		o.ObserveInt64(degraded, d, obs)
		if e, ok := c.store.(interface{ Evictions() uint64 }); ok {
			o.ObserveInt64(evictions, int64(e.Evictions()), obs)
		}
		return nil
	}, degraded, evictions)
	return err
}

// Close unregisters the cache's metric callback.
func (c *Cache) Close() error { return c.reg.Unregister() }

// Degraded reports whether the store failed and has not answered since:
// answers are then computed for every request. They are still correct, so
// a health check should report it without failing.
func (c *Cache) Degraded() bool { return c.br.Open() }

// NeedMatches implements match.Ranker.
func (c *Cache) NeedMatches(ctx context.Context, needID string, q match.Query) (match.Page, error) {
	return c.page(ctx, "need-matches\x00"+needID, q, func(ctx context.Context) (match.Page, error) {
		return c.next.NeedMatches(ctx, needID, q)
	})
}

// VendorMatches implements match.Ranker.
func (c *Cache) VendorMatches(ctx context.Context, vendorID string, q match.Query) (match.Page, error) {
	return c.page(ctx, "vendor-matches\x00"+vendorID, q, func(ctx context.Context) (match.Page, error) {
		return c.next.VendorMatches(ctx, vendorID, q)
	})
}

// SimilarNeeds implements match.Ranker.
func (c *Cache) SimilarNeeds(ctx context.Context, needID string, q match.Query) (match.Page, error) {
	return c.page(ctx, "similar-needs\x00"+needID, q, func(ctx context.Context) (match.Page, error) {
		return c.next.SimilarNeeds(ctx, needID, q)
	})
}

// Preview implements match.Ranker. The whole unsaved need is the subject.
func (c *Cache) Preview(ctx context.Context, n match.Need, q match.Query) (match.Page, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return c.next.Preview(ctx, n, q)
	}
	return c.page(ctx, "preview\x00"+string(b), q, func(ctx context.Context) (match.Page, error) {
		return c.next.Preview(ctx, n, q)
	})
}

// page answers one request: from the store when it holds the key, else by
// compute, once for all identical requests in flight, storing the page if
// the model did not change meanwhile.
func (c *Cache) page(ctx context.Context, subject string, q match.Query, compute func(context.Context) (match.Page, error)) (match.Page, error) {
	digest, version := c.src.DigestVersion()
	key := Key(c.opts.Prefix, subject, digest, c.ver, q, identity.FromContext(ctx))
	// Every page under one key is the same page (the key holds the
	// content's digest and everything else the page depends on), so the
	// key names the content: a caller holding the page of this key needs
	// nothing, whether or not the store still has it.
	tag := ETag(key)
	if match.IfNoneMatch(ctx) == tag {
		// While degraded, a revalidation is the probe when one is due:
		// else a cache whose traffic is all revalidations would not
		// notice that its store is back.
		if c.br.Open() && c.br.Try() {
			_, _, _ = c.get(ctx, key)
		}
		c.lookups.Add(ctx, 1, c.revalidated)
		return match.Page{ETag: tag}, match.ErrNotModified
	}

	useStore := c.br.Try()
	if useStore {
		p, ok, err := c.lookup(ctx, key)
		if ok {
			p.ETag = tag
			return p, nil
		}
		useStore = err == nil
	} else {
		c.lookups.Add(ctx, 1, c.skip)
	}

	// The computation is shared, so it must not end with the first
	// caller's context; each caller waits only as long as its own allows.
	ch := c.group.DoChan(key, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		p, err := compute(ctx)
		if err != nil {
			return nil, err // errors are never cached
		}
		// A page computed across a change may hold some of it: it is
		// neither stored nor named by the key's tag.
		if _, now := c.src.DigestVersion(); now != version {
			c.stores.Add(ctx, 1, c.stale)
			return p, nil
		}
		p.ETag = tag
		c.save(ctx, key, useStore, p)
		return p, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return match.Page{}, r.Err
		}
		return r.Val.(match.Page), nil
	case <-ctx.Done():
		return match.Page{}, ctx.Err()
	}
}

// lookup asks the store for key and counts the answer. An error means the
// store failed.
func (c *Cache) lookup(ctx context.Context, key string) (match.Page, bool, error) {
	p, ok, err := c.get(ctx, key)
	switch {
	case err != nil:
		c.lookups.Add(ctx, 1, c.err)
	case ok:
		c.lookups.Add(ctx, 1, c.hit)
	default:
		c.lookups.Add(ctx, 1, c.miss)
	}
	return p, ok, err
}

// get asks the store for key within the timeout and tells the breaker how
// it went.
func (c *Cache) get(ctx context.Context, key string) (match.Page, bool, error) {
	sctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	start := time.Now()
	p, ok, err := c.store.Get(sctx, key)
	c.lookupDuration.Record(ctx, time.Since(start).Seconds(), c.storeAttr)
	if err != nil {
		if ctx.Err() == nil { // else the caller gave up, which says nothing about the store
			c.br.Failed(ctx, "store", c.store.Name(), "op", "get", "error", err)
		}
		return match.Page{}, false, err
	}
	c.br.Succeeded(ctx, "store", c.store.Name())
	return p, ok, nil
}

// save stores p under key; the caller checked that the model is still at
// the version key's digest was read with.
func (c *Cache) save(ctx context.Context, key string, useStore bool, p match.Page) {
	if !useStore {
		c.stores.Add(ctx, 1, c.skip)
		return
	}
	sctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	err := c.store.Set(sctx, key, p, c.opts.TTL)
	switch {
	case errors.Is(err, ErrUnencodable):
		c.stores.Add(ctx, 1, c.serr)
		c.log.WarnContext(ctx, "match cache: page not cached", slog.Any("error", err))
	case err != nil:
		c.stores.Add(ctx, 1, c.serr)
		c.br.Failed(ctx, "store", c.store.Name(), "op", "set", "error", err)
	default:
		c.stores.Add(ctx, 1, c.stored)
	}
}
