package eventbus

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisDeadLetters keeps dead letters in the Redis of the event streams,
// as durable as the streams are. Per stream and group it has a hash
// Prefix+"deadletters:"+stream+":"+group of the dead letters by event id
// (JSON) and a hash Prefix+"deadletters-replay:"+stream+":"+group of the
// pending replay requests (event id → microseconds since the Unix epoch),
// so that a subscription polls a small hash and never the events; the set
// Prefix+"deadletters" names the stream-group pairs that ever had one.
// Read-modify-writes are optimistic transactions (WATCH), so the CLI and
// the subscriptions may change them at once.
type RedisDeadLetters struct {
	c      redis.UniversalClient
	prefix string
}

var _ DeadLetters = (*RedisDeadLetters)(nil)

// NewRedisDeadLetters returns the dead letters under prefix (default
// "govmatch:", as RedisOptions.Prefix) in the Redis c talks to; c stays the
// caller's to close.
func NewRedisDeadLetters(c redis.UniversalClient, prefix string) *RedisDeadLetters {
	return &RedisDeadLetters{c: c, prefix: cmp.Or(prefix, "govmatch:")}
}

// Key is the key of the hash of the dead letters of group on stream.
func (r *RedisDeadLetters) Key(stream, group string) string {
	return r.prefix + "deadletters:" + stream + ":" + group
}

func (r *RedisDeadLetters) replayKey(stream, group string) string {
	return r.prefix + "deadletters-replay:" + stream + ":" + group
}

func (r *RedisDeadLetters) indexKey() string { return r.prefix + "deadletters" }

// streamGroup is a member of the index: JSON, so that no name can make
// two pairs look alike.
type streamGroup struct {
	Stream string `json:"stream"`
	Group  string `json:"group"`
}

func (sg streamGroup) member() string {
	b, _ := json.Marshal(sg) // two strings always marshal
	return string(b)
}

// redisRecord is a dead letter as the hash holds it; the replay request
// lives in the replay hash.
type redisRecord struct {
	Stream       string `json:"stream"`
	Group        string `json:"group"`
	ID           string `json:"id"`
	Aggregate    string `json:"aggregate"`
	Type         string `json:"type"`
	Attempts     int    `json:"attempts"`
	LastError    string `json:"last_error"`
	FirstFailure int64  `json:"first_failure"` // microseconds since the Unix epoch
	LastFailure  int64  `json:"last_failure"`
	Data         []byte `json:"data"`
}

func toRecord(dl DeadLetter) redisRecord {
	return redisRecord{
		Stream: dl.Stream, Group: dl.Group, ID: dl.ID, Aggregate: dl.Aggregate, Type: dl.Type,
		Attempts: dl.Attempts, LastError: dl.LastError,
		FirstFailure: dl.FirstFailure.UnixMicro(), LastFailure: dl.LastFailure.UnixMicro(),
		Data: dl.Data,
	}
}

func (rec redisRecord) deadLetter() DeadLetter {
	return DeadLetter{
		Stream: rec.Stream, Group: rec.Group, ID: rec.ID, Aggregate: rec.Aggregate, Type: rec.Type,
		Attempts: rec.Attempts, LastError: rec.LastError,
		FirstFailure: fromMicros(rec.FirstFailure), LastFailure: fromMicros(rec.LastFailure),
		Data: rec.Data,
	}
}

func decodeRecord(s string) (DeadLetter, error) {
	var rec redisRecord
	if err := json.Unmarshal([]byte(s), &rec); err != nil {
		return DeadLetter{}, fmt.Errorf("eventbus: decode dead letter: %w", err)
	}
	return rec.deadLetter(), nil
}

// watch runs f in an optimistic transaction on keys, again while another
// client changed them in between.
func (r *RedisDeadLetters) watch(ctx context.Context, f func(*redis.Tx) error, keys ...string) error {
	for range 100 {
		err := r.c.Watch(ctx, f, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return errors.New("eventbus: dead letters changed by others 100 times in a row")
}

// Put implements DeadLetters.
func (r *RedisDeadLetters) Put(ctx context.Context, dl DeadLetter) error {
	rk, qk := r.Key(dl.Stream, dl.Group), r.replayKey(dl.Stream, dl.Group)
	err := r.watch(ctx, func(tx *redis.Tx) error {
		merged := dl
		old, err := tx.HGet(ctx, rk, dl.ID).Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return err
		default:
			prev, err := decodeRecord(old)
			if err != nil {
				return err
			}
			merged.Attempts += prev.Attempts
			if prev.FirstFailure.Before(merged.FirstFailure) {
				merged.FirstFailure = prev.FirstFailure
			}
			if prev.LastFailure.After(merged.LastFailure) {
				merged.LastFailure = prev.LastFailure
			}
		}
		withdraw := false
		if !dl.ReplayRequested.IsZero() {
			req, err := tx.HGet(ctx, qk, dl.ID).Int64()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			withdraw = err == nil && req == dl.ReplayRequested.UnixMicro()
		}
		rec, err := json.Marshal(toRecord(merged))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, rk, dl.ID, rec)
			if withdraw {
				p.HDel(ctx, qk, dl.ID)
			}
			p.SAdd(ctx, r.indexKey(), streamGroup{dl.Stream, dl.Group}.member())
			return nil
		})
		return err
	}, rk, qk)
	if err != nil {
		return fmt.Errorf("eventbus: put dead letter %s: %w", dl.ID, err)
	}
	return nil
}

// groups are the stream-group pairs f may select.
func (r *RedisDeadLetters) groups(ctx context.Context, f Filter) ([]streamGroup, error) {
	if f.Stream != "" && f.Group != "" {
		return []streamGroup{{f.Stream, f.Group}}, nil
	}
	members, err := r.c.SMembers(ctx, r.indexKey()).Result()
	if err != nil {
		return nil, err
	}
	var out []streamGroup
	for _, m := range members {
		var sg streamGroup
		if err := json.Unmarshal([]byte(m), &sg); err != nil {
			return nil, fmt.Errorf("index member %q: %w", m, err)
		}
		if (f.Stream == "" || f.Stream == sg.Stream) && (f.Group == "" || f.Group == sg.Group) {
			out = append(out, sg)
		}
	}
	return out, nil
}

// List implements DeadLetters.
func (r *RedisDeadLetters) List(ctx context.Context, f Filter) ([]DeadLetter, error) {
	groups, err := r.groups(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("eventbus: list dead letters: %w", err)
	}
	var out []DeadLetter
	for _, sg := range groups {
		dls, err := r.list(ctx, sg, f)
		if err != nil {
			return nil, fmt.Errorf("eventbus: list dead letters of %s/%s: %w", sg.Stream, sg.Group, err)
		}
		out = append(out, dls...)
	}
	slices.SortFunc(out, func(a, b DeadLetter) int {
		return cmp.Or(a.FirstFailure.Compare(b.FirstFailure),
			cmp.Compare(a.Stream, b.Stream), cmp.Compare(a.Group, b.Group), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// list reads the dead letters of one group that f selects: from the replay
// hash when f wants pending replays only, which a subscription asks for
// every second.
func (r *RedisDeadLetters) list(ctx context.Context, sg streamGroup, f Filter) ([]DeadLetter, error) {
	rk, qk := r.Key(sg.Stream, sg.Group), r.replayKey(sg.Stream, sg.Group)
	replays, err := r.c.HGetAll(ctx, qk).Result()
	if err != nil {
		return nil, err
	}
	var ids []string
	switch {
	case f.ID != "":
		ids = []string{f.ID}
	case f.ReplayRequested:
		for id := range replays {
			ids = append(ids, id)
		}
	default:
		if ids, err = r.c.HKeys(ctx, rk).Result(); err != nil {
			return nil, err
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	vals, err := r.c.HMGet(ctx, rk, ids...).Result()
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // gone meanwhile, or a request that outlived its letter
		}
		dl, err := decodeRecord(s)
		if err != nil {
			return nil, err
		}
		if req, ok := replays[dl.ID]; ok {
			us, err := strconv.ParseInt(req, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("replay request of %s: %w", dl.ID, err)
			}
			dl.ReplayRequested = fromMicros(us)
		}
		if f.match(dl) {
			out = append(out, dl)
		}
	}
	return out, nil
}

// Count implements DeadLetters.
func (r *RedisDeadLetters) Count(ctx context.Context, stream, group string) (int64, error) {
	n, err := r.c.HLen(ctx, r.Key(stream, group)).Result()
	if err != nil {
		return 0, fmt.Errorf("eventbus: count dead letters: %w", err)
	}
	return n, nil
}

// RequestReplay implements DeadLetters. Watching the dead letters of each
// group while it marks them keeps a request from outliving a letter that a
// replay removed meanwhile.
func (r *RedisDeadLetters) RequestReplay(ctx context.Context, f Filter) (int, error) {
	groups, err := r.groups(ctx, f)
	if err != nil {
		return 0, fmt.Errorf("eventbus: request replay: %w", err)
	}
	now := strconv.FormatInt(time.Now().UnixMicro(), 10)
	total := 0
	for _, sg := range groups {
		rk, qk := r.Key(sg.Stream, sg.Group), r.replayKey(sg.Stream, sg.Group)
		var n int
		err := r.watch(ctx, func(tx *redis.Tx) error {
			var ids []string
			if f.ID != "" {
				ok, err := tx.HExists(ctx, rk, f.ID).Result()
				if err != nil {
					return err
				}
				if ok {
					ids = []string{f.ID}
				}
			} else {
				var err error
				if ids, err = tx.HKeys(ctx, rk).Result(); err != nil {
					return err
				}
			}
			n = len(ids)
			if n == 0 {
				return nil
			}
			fields := make([]any, 0, 2*n)
			for _, id := range ids {
				fields = append(fields, id, now)
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, qk, fields...)
				return nil
			})
			return err
		}, rk)
		if err != nil {
			return total, fmt.Errorf("eventbus: request replay in %s/%s: %w", sg.Stream, sg.Group, err)
		}
		total += n
	}
	return total, nil
}

// Delete implements DeadLetters.
func (r *RedisDeadLetters) Delete(ctx context.Context, stream, group, id string) error {
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HDel(ctx, r.Key(stream, group), id)
		p.HDel(ctx, r.replayKey(stream, group), id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("eventbus: delete dead letter %s: %w", id, err)
	}
	return nil
}
