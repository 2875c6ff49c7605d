package main

import (
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/matchcache"
	"github.com/govmatch/govmatch/services/matching/readmodel"
)

// newMatchRanker is the matching service in its answer cache: in Redis
// when the process has one, so that matching replicas share it, else in
// process. cache is nil when GOVMATCH_MATCH_CACHE=off.
func newMatchRanker(cfg Config, rdb *redis.Client, rm *readmodel.Model, log *slog.Logger) (match.Ranker, *matchcache.Cache, error) {
	svc := match.NewService(rm)
	if !cfg.matchCache() {
		return svc, nil, nil
	}
	var store matchcache.Store = matchcache.NewMemory(0)
	if rdb != nil {
		store = matchcache.NewRedis(rdb)
	}
	c, err := matchcache.New(svc, rm, store, matchcache.Options{Prefix: cfg.RedisPrefix, Build: version(), Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("match cache: %w", err)
	}
	return c, c, nil
}

// degradedNotes names what works at reduced capacity in this process, for
// /readyz (gateway) and /healthz (admin): both stay 200 and show them.
func degradedNotes(cache *matchcache.Cache) func() []string {
	return func() []string {
		if cache != nil && cache.Degraded() {
			return []string{"match cache degraded: store unavailable, computing answers directly"}
		}
		return nil
	}
}
