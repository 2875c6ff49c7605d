package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"

	"github.com/govmatch/govmatch/pkg/auth"
	"github.com/govmatch/govmatch/pkg/grpcx"
	matchingv1 "github.com/govmatch/govmatch/proto/govmatch/matching/v1"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/gateway/gateway"
	"github.com/govmatch/govmatch/services/matching/grpcserver"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/matchcache"
	"github.com/govmatch/govmatch/services/matching/readmodel"
	"github.com/govmatch/govmatch/services/matching/score"
)

// corpusLister hands the generated corpus to readmodel.Rebuild as the
// registries' List APIs would: loading 100,000 vendors through the REST API
// would measure the registries, not matching.
type corpusLister struct {
	vendors []score.Vendor
	needs   []score.Need
}

func needID(i int) string { return fmt.Sprintf("n%05d", i) }

func (l corpusLister) ListVendors(_ context.Context, fn func(*vendorsv1.Vendor) error) error {
	for _, v := range l.vendors {
		pv := &vendorsv1.Vendor{
			Name: "vendors/" + v.ID, Etag: "1", DisplayName: v.Name, Kind: vendorsv1.Vendor_KIND_START_UP,
			Description: v.Description, Capabilities: v.Capabilities, Certifications: v.Certifications,
			CpvCodes: v.CPVCodes, RegionsServed: v.Regions,
			VerificationStatus: vendorsv1.Vendor_VERIFICATION_STATUS_VERIFIED,
		}
		if l := v.ProductFacts["licence"]; l != "" {
			pv.Products = []*vendorsv1.Product{{DisplayName: v.Name, Licence: l}}
		}
		if err := fn(pv); err != nil {
			return err
		}
	}
	return nil
}

func (l corpusLister) ListNeeds(_ context.Context, fn func(*needsv1.Need) error) error {
	for i, n := range l.needs {
		pn := &needsv1.Need{
			Name: "needs/" + needID(i), Etag: "1", Title: n.Title, ProblemStatement: n.Description,
			CpvCodes: n.CPVCodes, RequiredCertifications: n.Certifications,
			OwnerOrganization: "benchmatch", State: needsv1.Need_STATE_PUBLISHED,
		}
		if n.Region != "" {
			pn.PlacesOfPerformance = []string{n.Region}
		}
		if err := fn(pn); err != nil {
			return err
		}
	}
	return nil
}

// system is matching behind the REST gateway, on loopback ports, as the
// monolith runs them: the gRPC server with govmatch's interceptors (auth
// included), the match cache around the service, the gateway in front.
// Telemetry is not set up (no exporter), for the cached and the trivial
// endpoint alike.
type system struct {
	base  string
	cache *matchcache.Cache
	stop  func()
}

func startSystem(ctx context.Context, rm *readmodel.Model, store matchcache.Store, prefix string, copyBytes int64) (_ *system, err error) {
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var closers []func()
	stop := func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()

	cache, err := matchcache.New(match.NewService(rm), rm, store, matchcache.Options{Prefix: prefix, Logger: log})
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { _ = cache.Close() })

	dir, err := os.MkdirTemp("", "benchmatch-")
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { _ = os.RemoveAll(dir) })
	iss, err := auth.LoadOrCreateDevIssuer(filepath.Join(dir, "dev-issuer.pem"), "http://localhost/dev-issuer")
	if err != nil {
		return nil, err
	}
	verifier := iss.Verifier("", "")
	srv := grpcx.NewServer(log,
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(verifier)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(verifier)))
	matchingv1.RegisterMatchingServiceServer(srv.Server, grpcserver.New(cache))
	vendorsv1.RegisterVendorsServiceServer(srv.Server, trivialVendors{})
	glis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() { _ = srv.Serve(glis) }()
	closers = append(closers, srv.Stop)

	addr := glis.Addr().String()
	gw, err := gateway.New(ctx, gateway.Config{NeedsAddr: addr, VendorsAddr: addr, MatchingAddr: addr, CopyBytes: copyBytes}, log)
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { _ = gw.Close() })
	hlis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(hlis) }()
	closers = append(closers, func() { _ = hs.Close() })
	return &system{base: "http://" + hlis.Addr().String(), cache: cache, stop: stop}, nil
}

// Load is what one load run measured.
type Load struct {
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	RPS      float64 `json:"rps"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	// MeanBytes is the mean size of a response body.
	MeanBytes float64 `json:"mean_bytes,omitempty"`
}

// load sends GETs of path(r) from clients workers for d, each waiting for
// its answer before the next, and measures them. A request running at the
// end is waited for, not cut off, and counts.
func load(ctx context.Context, client *http.Client, base string, clients int, d time.Duration, path func(r *rand.Rand) string) Load {
	end := time.Now().Add(d)
	lats := make([][]time.Duration, clients)
	errs := make([]int, clients)
	sizes := make([]int64, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for ctx.Err() == nil && time.Now().Before(end) {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path(r), nil)
				t := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					var n int64
					n, err = io.Copy(io.Discard, resp.Body)
					sizes[w] += n
					_ = resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs[w]++
					continue
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	l := summarize(lats, elapsed)
	var bytes int64
	for w := range clients {
		l.Errors += errs[w]
		bytes += sizes[w]
	}
	if l.Requests > 0 {
		l.MeanBytes = float64(bytes) / float64(l.Requests)
	}
	return l
}

// summarize merges the latencies of several clients over elapsed.
func summarize(lats [][]time.Duration, elapsed time.Duration) Load {
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	l := Load{Requests: len(all), RPS: float64(len(all)) / elapsed.Seconds()}
	if len(all) > 0 {
		l.P50Ms = ms(quantile(all, 0.50))
		l.P99Ms = ms(quantile(all, 0.99))
	}
	return l
}

// callLoad measures the cache alone: the same cached rankings as
// cachedLoad, asked of the cache by Go calls from as many goroutines, for
// d. The difference to cachedLoad is the price of HTTP, the gateway, gRPC
// and JSON.
func callLoad(ctx context.Context, c config, cache *matchcache.Cache, d time.Duration) (Load, error) {
	ids := hotNeeds(c)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	lats := make([][]time.Duration, c.Clients)
	errs := make([]error, c.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range c.Clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 4))
			for ctx.Err() == nil {
				t := time.Now()
				if _, err := cache.NeedMatches(context.Background(), ids[r.IntN(len(ids))], match.Query{PageSize: 20}); err != nil {
					errs[w] = err
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	return summarize(lats, time.Since(start)), errors.Join(errs...)
}

// hotNeeds are the ids of the needs whose rankings the loads request.
func hotNeeds(c config) []string {
	ids := make([]string, c.HotNeeds)
	for i := range ids {
		ids[i] = needID(i * (c.Needs / c.HotNeeds))
	}
	return ids
}

// newClient is an HTTP client that keeps a connection per load client.
func newClient(clients int) *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConns: clients, MaxIdleConnsPerHost: clients, IdleConnTimeout: time.Minute,
	}}
}

// cachedLoad measures a cached ranking: the vendors for one of c.HotNeeds
// needs, each ranked once before the measurement, so that every measured
// request is a cache hit.
func cachedLoad(ctx context.Context, c config, client *http.Client, base string) (Load, error) {
	ids := hotNeeds(c)
	matches := func(id string) string { return fmt.Sprintf("/v1/needs/%s/matches?pageSize=20", id) }
	for _, id := range ids {
		resp, err := client.Get(base + matches(id))
		if err != nil {
			return Load{}, fmt.Errorf("warm the cache: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return Load{}, fmt.Errorf("warm the cache: GET %s: status %d", matches(id), resp.StatusCode)
		}
	}
	l := load(ctx, client, base, c.Clients, c.Duration, func(r *rand.Rand) string { return matches(ids[r.IntN(len(ids))]) })
	if l.Errors > 0 {
		return l, fmt.Errorf("%d cached ranking requests failed", l.Errors)
	}
	return l, nil
}

// trivialVendors answers GetVendor with a constant small vendor: the
// trivial API endpoint, which costs what every API request costs (HTTP,
// the gateway, gRPC with govmatch's interceptors, JSON) and nothing more.
type trivialVendors struct {
	vendorsv1.UnimplementedVendorsServiceServer
}

func (trivialVendors) GetVendor(_ context.Context, req *vendorsv1.GetVendorRequest) (*vendorsv1.Vendor, error) {
	return &vendorsv1.Vendor{Name: req.GetName(), DisplayName: "Trivial GmbH", Etag: "1"}, nil
}

// Paths of the two references.
const (
	trivialAPIPath = "/v1/vendors/trivial"
	healthzPath    = "/healthz"
)

// trivialLoad measures a reference under the same load: path is the
// trivial API endpoint or the gateway's /healthz, which answers "ok"
// without a backend.
func trivialLoad(ctx context.Context, c config, client *http.Client, base, path string) (Load, error) {
	l := load(ctx, client, base, c.Clients, c.Duration, func(*rand.Rand) string { return path })
	if l.Errors > 0 {
		return l, fmt.Errorf("%d %s requests failed", l.Errors, path)
	}
	return l, nil
}

// systemFigures loads the corpus into a read model and measures matching
// through the REST gateway: cached with the in-process store (the
// monolith), with Redis when one answers at c.RedisURL (microservices),
// and the trivial endpoint.
func systemFigures(ctx context.Context, c config, vendors []score.Vendor, needs []score.Need, f *Figures) error {
	rm := readmodel.New(score.DefaultWeights)
	start := time.Now()
	if err := rm.Rebuild(ctx, corpusLister{vendors: vendors, needs: needs}); err != nil {
		return err
	}
	f.ModelLoadSeconds = time.Since(start).Seconds()
	f.Clients, f.LoadSeconds, f.HotNeeds = c.Clients, c.Duration.Seconds(), c.HotNeeds

	sys, err := startSystem(ctx, rm, matchcache.NewMemory(0), "", 0)
	if err != nil {
		return err
	}
	defer sys.stop()
	client := newClient(c.Clients)
	defer client.CloseIdleConnections()
	if f.CachedREST, err = cachedLoad(ctx, c, client, sys.base); err != nil {
		return err
	}
	if err := func() error {
		nsys, err := startSystem(ctx, rm, matchcache.NewMemory(0), "", -1)
		if err != nil {
			return err
		}
		defer nsys.stop()
		nclient := newClient(c.Clients)
		defer nclient.CloseIdleConnections()
		f.CachedRESTNoCopies, err = cachedLoad(ctx, c, nclient, nsys.base)
		return err
	}(); err != nil {
		return err
	}
	if f.TrivialREST, err = trivialLoad(ctx, c, client, sys.base, trivialAPIPath); err != nil {
		return err
	}
	if f.HealthzREST, err = trivialLoad(ctx, c, client, sys.base, healthzPath); err != nil {
		return err
	}
	if f.CachedCall, err = callLoad(ctx, c, sys.cache, c.Duration/5); err != nil {
		return err
	}
	if f.TrivialREST.RPS > 0 {
		f.CachedToTrivial = f.CachedREST.RPS / f.TrivialREST.RPS
	}
	if f.HealthzREST.RPS > 0 {
		f.CachedToHealthz = f.CachedREST.RPS / f.HealthzREST.RPS
	}

	if c.RedisURL == "" {
		f.RedisSkipped = "no REDIS_URL"
		return nil
	}
	opts, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	opts.PoolSize = c.Clients
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err = rdb.Ping(pctx).Err()
	cancel()
	if err != nil {
		f.RedisSkipped = fmt.Sprintf("Redis at REDIS_URL unreachable: %v", err)
		return nil
	}
	rsys, err := startSystem(ctx, rm, matchcache.NewRedis(rdb), fmt.Sprintf("benchmatch:%d:", time.Now().UnixNano()), -1)
	if err != nil {
		return err
	}
	defer rsys.stop()
	rclient := newClient(c.Clients)
	defer rclient.CloseIdleConnections()
	l, err := cachedLoad(ctx, c, rclient, rsys.base)
	if err != nil {
		return err
	}
	if rsys.cache.Degraded() {
		return errors.New("the Redis cache degraded during the run: its figures are of uncached answers")
	}
	f.CachedRESTRedis = &l
	return nil
}
