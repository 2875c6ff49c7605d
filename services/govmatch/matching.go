package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"

	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/matchcache"
	"github.com/govmatch/govmatch/services/matching/readmodel"
)

// newMatchRanker is the matching service in its answer cache: in the
// Redis Cluster of GOVMATCH_MATCH_CACHE_REDIS_CLUSTER, else in Redis when
// the process has one, so that matching replicas share it, else in
// process. cache is nil when GOVMATCH_MATCH_CACHE=off; closeCache releases
// what the cache holds.
func newMatchRanker(cfg Config, rdb *redis.Client, rm *readmodel.Model, log *slog.Logger) (_ match.Ranker, cache *matchcache.Cache, closeCache func(), err error) {
	svc := match.NewService(rm)
	if !cfg.matchCache() {
		return svc, nil, func() {}, nil
	}
	var store matchcache.Store = matchcache.NewMemory(0)
	var cluster *redis.ClusterClient
	switch {
	case cfg.MatchCacheRedisCluster != "":
		if cluster, err = newRedisCluster(cfg.MatchCacheRedisCluster); err != nil {
			return nil, nil, nil, err
		}
		store = matchcache.NewRedis(cluster)
	case rdb != nil:
		store = matchcache.NewRedis(rdb)
	}
	c, err := matchcache.New(svc, rm, store, matchcache.Options{Prefix: cfg.RedisPrefix, Build: version(), Timeout: cfg.MatchCacheTimeout, Logger: log})
	if err != nil {
		if cluster != nil {
			_ = cluster.Close()
		}
		return nil, nil, nil, fmt.Errorf("match cache: %w", err)
	}
	return c, c, func() {
		_ = c.Close()
		if cluster != nil {
			_ = cluster.Close()
		}
	}, nil
}

// newRedisCluster connects to the Redis Cluster of a go-redis cluster URL
// (validated by loadConfig) with tracing and metrics.
func newRedisCluster(url string) (*redis.ClusterClient, error) {
	opts, err := redis.ParseClusterURL(url)
	if err != nil {
		return nil, err
	}
	opts.ContextTimeoutEnabled = true // as in newRedis
	client := redis.NewClusterClient(opts)
	if err := errors.Join(redisotel.InstrumentTracing(client), redisotel.InstrumentMetrics(client)); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis cluster telemetry: %w", err)
	}
	return client, nil
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
