package testdb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// whyNoRedis tells the reader of a skipped test how to run it.
const whyNoRedis = "set REDIS_URL or put redis-server on PATH"

// Redis returns the URL of a Redis server and a key prefix that belongs to
// this test alone: parallel tests and test binaries share the server, so
// every key a test writes must contain its prefix. When the test ends, every
// key that contains the prefix is deleted (contains, not starts with:
// libraries such as redis_rate put their own namespace in front).
//
// The server is the one in REDIS_URL (a single node) when that is set, and
// otherwise a throwaway redis-server from PATH that this test binary starts
// on first use and Cleanup (or Main) stops. Without either the test is
// skipped, or fails when GOVMATCH_REQUIRE_SERVICES=1 (see RequireOrSkip).
func Redis(tb testing.TB) (url, prefix string) {
	tb.Helper()
	url, err := sharedRedisURL()
	switch {
	case errors.Is(err, errNoRedis):
		RequireOrSkip(tb, "Redis", whyNoRedis)
		return "", "" // only reached with a testing.TB whose Skipf returns
	case err != nil:
		tb.Fatalf("testdb: %v", err)
	}
	// No glob metacharacters, so the prefix is its own SCAN pattern.
	prefix = "test:" + randomHex(8) + ":"
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := deleteKeys(ctx, url, "*"+prefix+"*"); err != nil {
			tb.Errorf("testdb: delete the test's Redis keys: %v", err)
		}
	})
	return url, prefix
}

// RedisServer starts a redis-server of this test's own, for tests that
// stop, pause or restart it; use Redis for everything else. It is killed
// when the test ends. Without redis-server on PATH the test is skipped (or
// fails, see RequireOrSkip), whatever REDIS_URL says.
func RedisServer(tb testing.TB) *RedisProcess {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		RequireOrSkip(tb, "redis-server", "put redis-server on PATH")
		return nil // only reached with a testing.TB whose Skipf returns
	}
	p, err := startRedis(bin)
	if err != nil {
		tb.Fatalf("testdb: %v", err)
	}
	p.tb = tb
	tb.Cleanup(func() {
		if err := p.close(); err != nil {
			tb.Errorf("testdb: %v", err)
		}
	})
	return p
}

// RedisProcess is a throwaway redis-server on a loopback port: no
// persistence, nothing kept after it stops.
type RedisProcess struct {
	bin  string
	dir  string // working directory and log
	port int
	args []string   // more redis-server arguments
	tb   testing.TB // fails Start and Stop; nil for the shared server

	mu     sync.Mutex
	cmd    *exec.Cmd     // nil while stopped
	exited chan struct{} // closed when cmd has exited
}

// URL is the server's redis:// URL. It stays the same across Stop and Start.
func (p *RedisProcess) URL() string { return fmt.Sprintf("redis://%s/0", p.Addr()) }

// Addr is the server's host:port.
func (p *RedisProcess) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// Stop kills the server, as a crash would: clients see their connections
// reset and new ones refused. It returns once the process is gone.
func (p *RedisProcess) Stop() {
	p.tb.Helper()
	if err := p.stop(); err != nil {
		p.tb.Fatalf("testdb: stop redis-server: %v", err)
	}
}

// Start starts a stopped server again on the same port, empty, and returns
// once it answers. Call it from the test's goroutine: it fails the test if
// the server does not come up.
func (p *RedisProcess) Start() {
	p.tb.Helper()
	if err := p.start(); err != nil {
		p.tb.Fatalf("testdb: restart redis-server: %v", err)
	}
}

// Pause freezes the server (SIGSTOP): connections stay open and new ones
// are accepted, but nothing is answered, as with a Redis that hangs.
func (p *RedisProcess) Pause() { p.signal(syscall.SIGSTOP) }

// Resume lets a paused server go on (SIGCONT).
func (p *RedisProcess) Resume() { p.signal(syscall.SIGCONT) }

func (p *RedisProcess) signal(sig syscall.Signal) {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		p.tb.Fatalf("testdb: signal %v: redis-server is stopped", sig)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.tb.Fatalf("testdb: signal %v to redis-server: %v", sig, err)
	}
}

// startRedis starts redis-server on a free port in a new temporary
// directory. Between picking a free port and binding it another process may
// take it, so it tries a few ports.
func startRedis(bin string, args ...string) (*RedisProcess, error) {
	dir, err := os.MkdirTemp("", "testdb-redis-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			lastErr = err
			break
		}
		p := &RedisProcess{bin: bin, dir: dir, port: port, args: args}
		if lastErr = p.start(); lastErr == nil {
			return p, nil
		}
	}
	_ = os.RemoveAll(dir)
	return nil, fmt.Errorf("start throwaway Redis (%s): %w", bin, lastErr)
}

func (p *RedisProcess) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("redis-server is running")
	}
	log, err := os.OpenFile(p.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close() // redis-server has its own descriptor
	cmd := exec.Command(p.bin,
		"--port", strconv.Itoa(p.port),
		"--bind", "127.0.0.1",
		// Durability is worthless for data that dies with the tests.
		"--save", "",
		"--appendonly", "no",
		"--dir", p.dir,
	)
	cmd.Args = append(cmd.Args, p.args...)
	cmd.Dir = p.dir
	cmd.Stdout = log
	cmd.Stderr = log
	// Should the test binary die without cleaning up (a panic, a timeout),
	// the server goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	var exitErr error // valid once exited is closed
	go func() {
		exitErr = cmd.Wait()
		close(exited)
	}()
	p.cmd, p.exited = cmd, exited

	deadline := time.Now().Add(30 * time.Second)
	for {
		err := ping(p.Addr())
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			p.cmd = nil
			return fmt.Errorf("redis-server exited: %v\n%s", exitErr, p.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.kill()
			return fmt.Errorf("redis-server did not answer within 30s: %w\n%s", err, p.logTail())
		}
	}
}

func (p *RedisProcess) stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return errors.New("redis-server is not running")
	}
	p.kill()
	return nil
}

// kill ends the server and waits for it; p.mu must be held.
func (p *RedisProcess) kill() {
	// SIGKILL ends a paused server too. It fails only for a process that
	// has exited already, which the wait below then sees.
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// close kills the server if it runs and removes its directory.
func (p *RedisProcess) close() error {
	p.mu.Lock()
	if p.cmd != nil {
		p.kill()
	}
	p.mu.Unlock()
	return os.RemoveAll(p.dir)
}

func (p *RedisProcess) logPath() string { return filepath.Join(p.dir, "redis.log") }

// logTail is the end of the server log, for error messages.
func (p *RedisProcess) logTail() string {
	b, _ := os.ReadFile(p.logPath())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// ping sends PING over a new connection and expects PONG, without a client
// library: all that is needed while waiting for a server to come up.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

var errNoRedis = errors.New("no Redis")

var (
	redisOnce   sync.Once
	redisURLStr string
	redisErr    error

	redisMu     sync.Mutex
	redisServer *RedisProcess // started by sharedRedisURL, stopped by Cleanup
)

// sharedRedisURL is REDIS_URL, checked once, or the URL of the throwaway
// server it starts on first use.
func sharedRedisURL() (string, error) {
	redisOnce.Do(func() {
		if url := os.Getenv("REDIS_URL"); url != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := withClient(url, func(c *redis.Client) error { return c.Ping(ctx).Err() }); err != nil {
				// Set but broken is a mistake to fix, not a reason to skip.
				redisErr = fmt.Errorf("REDIS_URL: %w", err)
				return
			}
			redisURLStr = url
			return
		}
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			redisErr = errNoRedis
			return
		}
		p, err := startRedis(bin)
		if err != nil {
			redisErr = err
			return
		}
		redisMu.Lock()
		redisServer = p
		redisMu.Unlock()
		redisURLStr = p.URL()
	})
	return redisURLStr, redisErr
}

// stopRedis stops the shared throwaway server, if this binary started one.
func stopRedis() {
	redisMu.Lock()
	p := redisServer
	redisServer = nil
	redisMu.Unlock()
	if p != nil {
		if err := p.close(); err != nil {
			fmt.Fprintf(os.Stderr, "testdb: stop Redis: %v\n", err)
		}
	}
}

func withClient(url string, f func(*redis.Client) error) error {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	return errors.Join(f(c), c.Close())
}

// deleteKeys deletes the keys that match pattern, in batches, without
// blocking the server the way KEYS would.
func deleteKeys(ctx context.Context, url, pattern string) error {
	return withClient(url, func(c *redis.Client) error {
		iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 1000 {
				if err := c.Unlink(ctx, batch...).Err(); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			return c.Unlink(ctx, batch...).Err()
		}
		return nil
	})
}
