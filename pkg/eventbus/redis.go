package eventbus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
)

// RedisStreams is the bus of the microservices mode: each source service
// has one Redis stream (key Prefix+"events:"+stream), which its outbox
// relay is the only writer of, and each consumer group is a Redis consumer
// group of that stream.
//
// Publishing appends a batch with one MULTI/EXEC of XADDs, each entry
// holding the envelope id (field "id") and the envelope (field "data"),
// trimmed with MAXLEN ~ MaxLen so a stream cannot grow without bound.
// Trimming drops the oldest entries whether or not every group has read
// them, so MaxLen must exceed the longest backlog a consumer may build up
// (the default, a million events, is weeks of registry writes).
//
// A subscriber reads with XREADGROUP and acknowledges (XACK) an event only
// after its handler returned nil. It first works through the events it was
// given before and did not acknowledge (after a handler error or a
// restart), then takes over events that another consumer of the group has
// held unacknowledged for longer than ClaimMinIdle (XAUTOCLAIM: that
// consumer is presumed dead), then reads new ones.
//
// Order per aggregate needs a group to process one stream sequentially,
// which one consumer per group does: by default the consumer is named
// after the group, so a restarted process picks up its own unacknowledged
// events first, in order. Several replicas subscribing to one group with
// distinct Consumer names share the work but give up that order.
//
// Durability: an event the relay handed to Redis is deleted from the
// outbox, so from then on it is as durable as Redis is. Run Redis with
// appendonly yes (appendfsync everysec loses at most a second of events
// on a crash of the Redis host; always loses none).
type RedisStreams struct {
	c       redis.UniversalClient
	opts    RedisOptions
	metrics consumeMetrics
	log     *slog.Logger
}

var _ Bus = (*RedisStreams)(nil)

// RedisOptions configure RedisStreams; the zero value gives the defaults.
type RedisOptions struct {
	// Prefix is put before every key, e.g. "govmatch:" (the default).
	Prefix string
	// MaxLen is the approximate number of events a stream keeps; default
	// 1,000,000.
	MaxLen int64
	// Consumer names this process within its groups; default: the group's
	// name, i.e. one consumer per group.
	Consumer string
	// Count is the number of events read at once; default 100.
	Count int64
	// Block is how long a read waits for new events; it also bounds how
	// long Subscribe takes to return after its context is done. Default 1s.
	Block time.Duration
	// ClaimMinIdle is how long another consumer's event must have been
	// unacknowledged before this one takes it over; default 1 minute.
	ClaimMinIdle time.Duration
	// MinBackoff and MaxBackoff bound the wait after a handler or Redis
	// error; defaults 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration

	MeterProvider metric.MeterProvider // default: otel's global one
	Logger        *slog.Logger         // default: slog.Default()
}

// NewRedisStreams returns a bus on the Redis that c talks to. Instrument c
// with redisotel if its commands should be traced. c stays the caller's to
// close.
func NewRedisStreams(c redis.UniversalClient, opts RedisOptions) *RedisStreams {
	opts.Prefix = cmp.Or(opts.Prefix, "govmatch:")
	opts.MaxLen = cmp.Or(opts.MaxLen, 1_000_000)
	opts.Count = cmp.Or(opts.Count, 100)
	opts.Block = cmp.Or(opts.Block, time.Second)
	opts.ClaimMinIdle = cmp.Or(opts.ClaimMinIdle, time.Minute)
	opts.MinBackoff = cmp.Or(opts.MinBackoff, 100*time.Millisecond)
	opts.MaxBackoff = cmp.Or(opts.MaxBackoff, 5*time.Second)
	return &RedisStreams{
		c:       c,
		opts:    opts,
		metrics: newConsumeMetrics(opts.MeterProvider),
		log:     cmp.Or(opts.Logger, slog.Default()),
	}
}

// Key is the Redis key of stream.
func (r *RedisStreams) Key(stream string) string { return r.opts.Prefix + "events:" + stream }

// Field names of a stream entry.
const (
	fieldID   = "id"
	fieldData = "data"
)

// Publish implements Publisher. The batch is one transaction: Redis appends
// all of it or, if the connection fails before EXEC, none of it.
func (r *RedisStreams) Publish(ctx context.Context, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range msgs {
			p.XAdd(ctx, &redis.XAddArgs{
				Stream: r.Key(m.Stream),
				MaxLen: r.opts.MaxLen,
				Approx: true,
				Values: []any{fieldID, m.ID, fieldData, m.Data},
			})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("eventbus: publish %d events to Redis: %w", len(msgs), err)
	}
	return nil
}

// Subscribe implements Subscriber; see RedisStreams for how it reads.
func (r *RedisStreams) Subscribe(ctx context.Context, stream, group string, h Handler) error {
	s := &redisSub{
		r:        r,
		key:      r.Key(stream),
		stream:   stream,
		group:    group,
		consumer: cmp.Or(r.opts.Consumer, group),
		h:        h,
		b:        backoff{min: r.opts.MinBackoff, max: r.opts.MaxBackoff},
	}
	// A bad configuration fails now; an unreachable Redis is waited for
	// like any later outage.
	if err := s.createGroup(ctx); err != nil && !isConnErr(err) {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("eventbus: subscribe %q to %q: %w", group, stream, err)
	}
	s.run(ctx)
	return nil
}

type redisSub struct {
	r                            *RedisStreams
	key, stream, group, consumer string
	h                            Handler
	b                            backoff
	lastClaim                    time.Time
}

// createGroup creates the group at the start of the stream, creating the
// stream if need be: a new group, or one lost with a Redis that restarted
// empty, gets every event the stream holds.
func (s *redisSub) createGroup(ctx context.Context) error {
	err := s.r.c.XGroupCreateMkStream(ctx, s.key, s.group, "0").Err()
	if err != nil && strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return nil
	}
	return err
}

func (s *redisSub) run(ctx context.Context) {
	own := true // work through our own unacknowledged events first
	for ctx.Err() == nil {
		var err error
		switch {
		case own:
			var n int
			n, err = s.read(ctx, "0", -1)
			if err == nil && n == 0 {
				own = false
			}
		case time.Since(s.lastClaim) >= s.r.opts.ClaimMinIdle/2:
			// Claimed events join our own; the next round handles them.
			var n int
			n, err = s.claim(ctx)
			own = n > 0
		default:
			_, err = s.read(ctx, ">", s.r.opts.Block)
		}
		if err == nil {
			s.b.reset()
			continue
		}
		if ctx.Err() != nil {
			return
		}
		own = true // redeliver from the failed event on
		if isNoGroup(err) {
			err = s.createGroup(ctx)
			if err == nil {
				continue
			}
		}
		s.r.log.WarnContext(ctx, "eventbus: consumer waits before retrying",
			"stream", s.stream, "group", s.group, "error", err)
		sleep(ctx, s.b.next())
	}
}

// read reads up to Count events from id on ("0": our own pending ones;
// ">": new ones) and handles them in order, acknowledging each. It returns
// the number read, and stops at the first failure.
func (s *redisSub) read(ctx context.Context, id string, block time.Duration) (int, error) {
	res, err := s.r.c.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group:    s.group,
		Consumer: s.consumer,
		Streams:  []string{s.key, id},
		Count:    s.r.opts.Count,
		Block:    block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil // blocked without news
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, st := range res {
		n += len(st.Messages)
		if err := s.handle(ctx, st.Messages); err != nil {
			return n, err
		}
	}
	return n, nil
}

// claim takes over events that other consumers of the group have held
// for longer than ClaimMinIdle.
func (s *redisSub) claim(ctx context.Context) (int, error) {
	s.lastClaim = time.Now()
	n := 0
	start := "0-0"
	for {
		msgs, next, err := s.r.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream:   s.key,
			Group:    s.group,
			Consumer: s.consumer,
			MinIdle:  s.r.opts.ClaimMinIdle,
			Start:    start,
			Count:    s.r.opts.Count,
		}).Result()
		if err != nil {
			return n, err
		}
		n += len(msgs)
		if next == "0-0" || next == "" {
			return n, nil
		}
		start = next
	}
}

func (s *redisSub) handle(ctx context.Context, msgs []redis.XMessage) error {
	for _, m := range msgs {
		data, ok := m.Values[fieldData].(string)
		if !ok {
			// A pending entry that trimming removed comes back without
			// values; nothing can be done for it but to let it go.
			s.r.log.ErrorContext(ctx, "eventbus: dropping an event that is gone from the stream",
				"stream", s.stream, "group", s.group, "entry", m.ID)
		} else if ev, err := Decode([]byte(data)); err != nil {
			s.r.log.ErrorContext(ctx, "eventbus: dropping undecodable event",
				"stream", s.stream, "group", s.group, "entry", m.ID, "error", err)
		} else if err := s.r.metrics.handle(ctx, s.stream, s.group, ev, s.h); err != nil {
			return fmt.Errorf("handle event %s: %w", ev.GetId(), err)
		}
		if err := s.r.c.XAck(ctx, s.key, s.group, m.ID).Err(); err != nil {
			return fmt.Errorf("acknowledge %s: %w", m.ID, err)
		}
	}
	return nil
}

// Lag implements Bus with XINFO GROUPS (Redis 7 reports the lag).
func (r *RedisStreams) Lag(ctx context.Context, stream string) ([]GroupLag, error) {
	groups, err := r.c.XInfoGroups(ctx, r.Key(stream)).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return nil, nil // no event published and no group yet
		}
		return nil, fmt.Errorf("eventbus: lag of %q: %w", stream, err)
	}
	lags := make([]GroupLag, len(groups))
	for i, g := range groups {
		lags[i] = GroupLag{Group: g.Name, Pending: g.Pending, Lag: g.Lag, Consumers: g.Consumers}
	}
	sortLags(lags)
	return lags, nil
}

func sortLags(l []GroupLag) {
	slices.SortFunc(l, func(a, b GroupLag) int { return strings.Compare(a.Group, b.Group) })
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

// isConnErr tells errors of reaching Redis from errors Redis answered.
func isConnErr(err error) bool {
	var re redis.Error
	return !errors.As(err, &re)
}
