package testdb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/govmatch/govmatch/pkg/testdb"
)

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %q: %v", url, err)
	}
	opts.ContextTimeoutEnabled = true
	opts.MaxRetries = -1 // a stopped server must fail now, not after retries
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestRedisGivesEachTestItsOwnPrefix(t *testing.T) {
	t.Parallel()
	url1, p1 := testdb.Redis(t)
	url2, p2 := testdb.Redis(t)
	if url1 != url2 {
		t.Errorf("two URLs in one binary: %q, %q", url1, url2)
	}
	if p1 == p2 || strings.HasPrefix(p1, p2) || strings.HasPrefix(p2, p1) {
		t.Errorf("prefixes %q and %q overlap", p1, p2)
	}
	if err := redisClient(t, url1).Ping(t.Context()).Err(); err != nil {
		t.Errorf("PING: %v", err)
	}
}

func TestRedisDeletesTheTestsKeysWhenItEnds(t *testing.T) {
	t.Parallel()
	url, outer := testdb.Redis(t)
	c := redisClient(t, url)
	ctx := t.Context()
	if err := c.Set(ctx, outer+"kept", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	var inner string
	t.Run("user", func(t *testing.T) {
		_, inner = testdb.Redis(t)
		// Libraries put their own namespace in front of the prefix.
		for _, k := range []string{inner + "a", "rate:" + inner + "{b}"} {
			if err := c.Set(ctx, k, "1", time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
	})
	keys, _, err := c.Scan(ctx, 0, "*"+inner+"*", 1000).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("keys %q still exist after their test ended", keys)
	}
	if n, err := c.Exists(ctx, outer+"kept").Result(); err != nil || n != 1 {
		t.Errorf("a key of the still running test was deleted (%v)", err)
	}
}

func TestRedisServerStopStartPause(t *testing.T) {
	t.Parallel()
	srv := testdb.RedisServer(t)
	url := srv.URL()
	c := redisClient(t, url)
	// A server that runs answers, however long a loaded machine takes; a
	// stopped one refuses at once.
	ping := func() error { return c.Ping(t.Context()).Err() }
	// A paused server never answers: this waits for nothing that could
	// come, so its timeout cannot fail the test on a slow machine.
	pingPaused := func() error {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		return c.Ping(ctx).Err()
	}
	if err := ping(); err != nil {
		t.Fatalf("PING a started server: %v", err)
	}
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if err := ping(); err == nil {
		t.Fatal("PING a stopped server succeeded")
	}

	srv.Start()
	if srv.URL() != url {
		t.Errorf("URL after restart = %q, want %q", srv.URL(), url)
	}
	if err := ping(); err != nil {
		t.Fatalf("PING a restarted server: %v", err)
	}
	if n, _ := c.Exists(t.Context(), "k").Result(); n != 0 {
		t.Error("a restarted server kept data: it must start empty")
	}

	srv.Pause()
	if err := pingPaused(); err == nil {
		t.Fatal("PING a paused server succeeded")
	}
	srv.Resume()
	if err := ping(); err != nil {
		t.Fatalf("PING a resumed server: %v", err)
	}
}
