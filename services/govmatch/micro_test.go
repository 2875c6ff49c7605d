package main

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
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
	"github.com/sethvargo/go-envconfig"

	"github.com/govmatch/govmatch/pkg/auth"
	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/testdb"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
)

// binary builds the govmatch command once per test run, for tests that
// start it as separate processes.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "govmatch-bin-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "govmatch")
	out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: out, err: err}
	}
	return path, nil
})

type buildError struct {
	out []byte
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

func TestMain(m *testing.M) {
	code := m.Run()
	if path, err := binary(); err == nil {
		_ = os.RemoveAll(filepath.Dir(path))
	}
	testdb.Cleanup()
	os.Exit(code)
}

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a process that binds it later. The port is drawn below Linux's
// ephemeral range (32768 and up): the kernel hands ports of that range to
// outgoing connections (the tests' own, to PostgreSQL and Redis) and to
// listeners on port 0, either of which could take it before the process
// binds it.
func freeAddr(t testing.TB) string {
	t.Helper()
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(12000)))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port between 20000 and 32000")
	return ""
}

// process is a govmatch process started by a test; its output is shown
// when the test fails.
type process struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

func startProcess(t *testing.T, name string, env map[string]string) *process {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatalf("build govmatch: %v", err)
	}
	p := &process{cmd: exec.Command(bin, "serve")}
	p.cmd.Env = os.Environ()
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s exited with %v", name, err)
			}
		case <-time.After(await.Bound): // a safety net: it stops long before
			_ = p.cmd.Process.Kill()
			t.Errorf("%s did not stop within %v of SIGTERM", name, await.Bound)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// eventLog collects the event types a consumer group received.
type eventLog struct {
	mu    sync.Mutex
	types map[string]int
}

func (l *eventLog) waitFor(t *testing.T, typ string) {
	t.Helper()
	await.True(t, "a "+typ+" event reaches the consumer", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.types[typ] > 0
	})
}

// consumeEvents subscribes a consumer group to the needs and vendors
// streams until the test ends.
func consumeEvents(t *testing.T, redisURL, prefix, group string) *eventLog {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	bus := eventbus.NewRedisStreams(rdb, eventbus.RedisOptions{Prefix: prefix, Block: 200 * time.Millisecond})
	log := &eventLog{types: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, stream := range []string{"needs", "vendors"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = bus.Subscribe(ctx, stream, group, eventbus.Idempotent(eventbus.NewMemoryDedupe(10000), func(_ context.Context, ev *eventsv1.Event) error {
				log.mu.Lock()
				log.types[ev.GetType()]++
				log.mu.Unlock()
				return nil
			}))
		}()
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		rdb.Close()
	})
	return log
}

// TestMicroservices runs the needs service, the vendor registry and the
// gateway as separate processes against PostgreSQL and Redis, and walks the
// buyer and vendor stories through REST.
func TestMicroservices(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts processes; skipped with -short")
	}
	dsn := testdb.Postgres(t)
	redisURL, prefix := testdb.Redis(t)
	dir := t.TempDir() // holds the development issuer's key both processes share
	grpcAddr, adminAddr, httpAddr := freeAddr(t), freeAddr(t), freeAddr(t)
	vendorsAddr, vendorsAdmin := freeAddr(t), freeAddr(t)
	matchingAddr, matchingAdmin := freeAddr(t), freeAddr(t)
	common := map[string]string{
		"GOVMATCH_REDIS_PREFIX": prefix,
		"REDIS_URL":             redisURL,
		"GOVMATCH_DATA_DIR":     dir,
		"LOG_LEVEL":             "warn",
		// The processes share the development issuer's key in dir.
		"GOVMATCH_UNSAFE_DEV_ISSUER": "true",
	}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{}
		for k, v := range common {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	startProcess(t, "needs", with(map[string]string{
		"GOVMATCH_TARGET":     TargetNeeds,
		"GOVMATCH_GRPC_ADDR":  grpcAddr,
		"GOVMATCH_ADMIN_ADDR": adminAddr,
		"DATABASE_URL":        dsn,
	}))
	startProcess(t, "vendors", with(map[string]string{
		"GOVMATCH_TARGET":     TargetVendors,
		"GOVMATCH_GRPC_ADDR":  vendorsAddr,
		"GOVMATCH_ADMIN_ADDR": vendorsAdmin,
		"DATABASE_URL":        dsn,
	}))
	startProcess(t, "matching", with(map[string]string{
		"GOVMATCH_TARGET":       TargetMatching,
		"GOVMATCH_GRPC_ADDR":    matchingAddr,
		"GOVMATCH_ADMIN_ADDR":   matchingAdmin,
		"GOVMATCH_NEEDS_ADDR":   grpcAddr,
		"GOVMATCH_VENDORS_ADDR": vendorsAddr,
	}))
	startProcess(t, "gateway", with(map[string]string{
		"GOVMATCH_TARGET":        TargetGateway,
		"GOVMATCH_HTTP_ADDR":     httpAddr,
		"GOVMATCH_ADMIN_ADDR":    freeAddr(t),
		"GOVMATCH_NEEDS_ADDR":    grpcAddr,
		"GOVMATCH_VENDORS_ADDR":  vendorsAddr,
		"GOVMATCH_MATCHING_ADDR": matchingAddr,
		"REDIS_URL":              redisURL,
		// A slow refill and a deep bucket: the stories never wait, and a
		// bucket key, which expires once its bucket is full again, lives
		// about a second per request made, long enough to be seen below.
		"GOVMATCH_RATE_LIMIT": "1",
		"GOVMATCH_RATE_BURST": "5000",
	}))
	waitHTTP(t, "http://"+adminAddr+"/healthz")
	waitHTTP(t, "http://"+vendorsAdmin+"/healthz")
	waitHTTP(t, "http://"+matchingAdmin+"/healthz")
	waitHTTP(t, "http://"+httpAddr+"/readyz")

	// A consumer in this test process, like matching will be: every write
	// of the stories below must reach it through Redis Streams.
	seen := consumeEvents(t, redisURL, prefix, "e2e")

	iss, err := auth.LoadOrCreateDevIssuer(filepath.Join(dir, "dev-issuer.pem"), "http://localhost:8080/dev-issuer")
	if err != nil {
		t.Fatal(err)
	}
	sys := &system{base: "http://" + httpAddr, issuer: iss}
	buyerStory(t, sys)
	vendorStory(t, sys)

	// The gateways share their rate limits through Redis. (Checked right
	// after the stories: a bucket key expires once its bucket is full
	// again, about a second per request made.)
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	keys, err := rdb.Keys(context.Background(), "rate:"+prefix+"*").Result()
	if err != nil || len(keys) == 0 {
		t.Errorf("no rate-limit keys in Redis (%v): the gateway does not use REDIS_URL", err)
	}

	// The needs process has no demo data by default, and its metrics are
	// served on the admin address.
	res, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("needs /metrics: status %d", res.StatusCode)
	}
	for _, want := range []string{
		"govmatch.needs.v1.NeedCreated", "govmatch.needs.v1.NeedPublished", "govmatch.needs.v1.NeedJoined",
		"govmatch.needs.v1.ResponseSubmitted", "govmatch.needs.v1.NeedClosed",
		"govmatch.vendors.v1.VendorCreated", "govmatch.vendors.v1.VendorUpdated", "govmatch.vendors.v1.VendorVerified",
	} {
		seen.waitFor(t, want)
	}
	var status bytes.Buffer
	env := envconfig.MapLookuper(map[string]string{"DATABASE_URL": dsn, "REDIS_URL": redisURL, "GOVMATCH_REDIS_PREFIX": prefix})
	if err := run(context.Background(), []string{"events", "status"}, env, &status, io.Discard); err != nil {
		t.Fatalf("govmatch events status: %v", err)
	}
	for _, want := range []string{"needs", "vendors", "e2e"} {
		if !strings.Contains(status.String(), want) {
			t.Errorf("events status lacks %q:\n%s", want, status.String())
		}
	}

	// The matching process built its index before terminfix registered: it
	// knows it only through the vendors' event stream in Redis.
	await.True(t, "matching learns of vendors/terminfix", func() bool {
		return sys.call(t, "GET", "/v1/vendors/terminfix/matches", "", nil).status == http.StatusOK
	})

	list := sys.call(t, "GET", "/v1/needs?pageSize=100", "", nil).expect(t, "list", http.StatusOK)
	if n := len(list.body["needs"].([]any)); n != 1 {
		t.Errorf("microservice needs: %d public needs, want only the story's one (no demo data): %s", n, strconv.Quote(string(list.raw)))
	}
}
