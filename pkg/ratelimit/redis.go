package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a Limiter whose buckets live in Redis, so that all replicas that
// share the Redis share the limit. It runs GCRA (github.com/go-redis/redis_rate)
// as one Lua script per request: one round trip, atomic, with the time
// taken from the Redis server so that replicas' clocks do not matter, and
// each key set to expire once its bucket is full again, so Redis holds only
// the clients active within one fill time.
//
// Redis does not bound its own calls: wrap it in FailOpen, which does, and
// decides in process while Redis is unavailable.
type Redis struct {
	limiter *redis_rate.Limiter
	gcra    redis_rate.Limit
	limit   Limit
	prefix  string
}

// NewRedis returns a limiter that gives every key l, in client's Redis under
// keys "rate:" + prefix + "{" + key + "}" (the "rate:" is redis_rate's).
//
// The braces are a Redis Cluster hash tag: a key's slot is decided by the
// client key alone. redis_rate's script touches one key, so Cluster needs
// nothing more; the tag keeps the slot independent of the prefix, and is why
// prefix must not contain braces itself: the first braces of a key win, and
// a tag in the prefix would put every client in one slot.
//
// NewRedis panics if l is invalid (see Limit.Validate) or prefix contains a
// brace.
func NewRedis(client redis.UniversalClient, l Limit, prefix string) *Redis {
	if err := l.Validate(); err != nil {
		panic(err)
	}
	if strings.ContainsAny(prefix, "{}") {
		panic(fmt.Sprintf("ratelimit: Redis key prefix %q contains a brace; the limiter adds the Cluster hash tag itself", prefix))
	}
	return &Redis{
		limiter: redis_rate.NewLimiter(client),
		// GCRA needs only the emission interval (Period/Rate); one request
		// per period expresses any float rate.
		gcra:   redis_rate.Limit{Rate: 1, Period: seconds(1 / l.Rate), Burst: l.Burst},
		limit:  l,
		prefix: prefix,
	}
}

// Allow takes a token from key's bucket in Redis. It fails when Redis does,
// and waits for Redis as long as ctx and the client's timeouts let it.
func (r *Redis) Allow(ctx context.Context, key string) (Result, error) {
	res, err := r.limiter.Allow(ctx, r.prefix+"{"+key+"}", r.gcra)
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	out := Result{
		Allowed:    res.Allowed > 0,
		Remaining:  res.Remaining,
		ResetAfter: max(res.ResetAfter, 0),
		Limit:      r.limit,
	}
	if !out.Allowed {
		out.RetryAfter = max(res.RetryAfter, time.Nanosecond)
	}
	return out, nil
}
