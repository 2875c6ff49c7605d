package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/auth"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/grpcx"
	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/pkg/ratelimit"
	"github.com/govmatch/govmatch/pkg/telemetry"
	matchingv1 "github.com/govmatch/govmatch/proto/govmatch/matching/v1"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	refdatav1 "github.com/govmatch/govmatch/proto/govmatch/refdata/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/gateway/gateway"
	matchinggrpc "github.com/govmatch/govmatch/services/matching/grpcserver"
	"github.com/govmatch/govmatch/services/matching/matchcache"
	"github.com/govmatch/govmatch/services/matching/readmodel"
	"github.com/govmatch/govmatch/services/matching/score"
	"github.com/govmatch/govmatch/services/needs/demo"
	"github.com/govmatch/govmatch/services/needs/grpcserver"
	"github.com/govmatch/govmatch/services/needs/need"
	"github.com/govmatch/govmatch/services/needs/needevents"
	"github.com/govmatch/govmatch/services/needs/refdataserver"
	"github.com/govmatch/govmatch/services/needs/store/postgres"
	"github.com/govmatch/govmatch/services/needs/store/sqlite"
	vendordemo "github.com/govmatch/govmatch/services/vendors/demo"
	vendorsgrpc "github.com/govmatch/govmatch/services/vendors/grpcserver"
	"github.com/govmatch/govmatch/services/vendors/profile"
	vendorspg "github.com/govmatch/govmatch/services/vendors/store/postgres"
	vendorssqlite "github.com/govmatch/govmatch/services/vendors/store/sqlite"
	"github.com/govmatch/govmatch/services/vendors/vendorevents"
)

// shutdownTimeout bounds the graceful stop; in-flight requests get this
// long to finish.
const shutdownTimeout = 15 * time.Second

// listening reports the bound addresses, so tests can use port 0.
type listening struct {
	HTTP, GRPC, Admin string
}

// serve is the composition root: it opens every resource of the selected
// target in order and closes them in reverse when ctx ends.
func serve(ctx context.Context, cfg Config, logw io.Writer, ready chan<- listening) error {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by loadConfig
	tel, err := telemetry.Setup(ctx, telemetry.Config{
		ServiceName:    "govmatch-" + cfg.Target,
		ServiceVersion: version(),
		LogLevel:       level,
		LogWriter:      logw,
	})
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}()
	log := tel.Logger()
	log.Info("starting govmatch", "config", cfg, "version", version())

	verifier, devIssuer, err := newVerifier(ctx, cfg, log)
	if err != nil {
		return err
	}
	var jwks []byte
	if devIssuer != nil {
		jwks = devIssuer.JWKS()
	}

	// Redis carries the events and the gateway's rate limits in the
	// microservices mode; without it both stay in this process.
	var rdb *redis.Client
	if cfg.RedisURL != "" {
		redis.SetLogger(redisLogger{log})
		if rdb, err = newRedis(cfg); err != nil {
			return err
		}
		defer rdb.Close()
	}
	bus := newBus(rdb, cfg.RedisPrefix, log)
	// The in-process bus keeps events until every declared consumer group
	// took them, so matching's group is declared before any relay runs.
	if m, ok := bus.(*eventbus.Memory); ok && cfg.runs(TargetMatching) {
		m.Declare(readmodel.StreamNeeds, cfg.MatchingGroup)
		m.Declare(readmodel.StreamVendors, cfg.MatchingGroup)
	}
	var matchModel *readmodel.Model
	var matchCache *matchcache.Cache

	var addrs listening
	var servers []func(context.Context) error // graceful stops, in start order
	g, gctx := errgroup.WithContext(ctx)
	// Goroutines start only once everything is open, so that an error while
	// starting leaves nothing running against a closed store.
	var start []func() error

	// One limiter for the gateway and the gRPC servers: their buckets are
	// namespaced apart, and a client reaching a service directly meets the
	// same limits as through the gateway.
	limiter, err := newLimiter(cfg, rdb, log)
	if err != nil {
		return err
	}
	// The process's calls to its own gRPC server (the monolith's gateway
	// and matching) carry a key that exempts them from the gRPC limits:
	// the gateway limited them already.
	internal, err := grpcx.NewInternalKey()
	if err != nil {
		return err
	}
	ownDial := []grpc.DialOption{internal.DialOption()}

	// One gRPC server carries every service this process runs.
	if cfg.runsAnyService() {
		peers, _ := cfg.grpcTrustedPeers() // validated by loadConfig
		limits := grpcx.Limits{
			Limiter:         limiter,
			TrustedPeers:    peers,
			Internal:        internal,
			MaxMessageBytes: int(cfg.MaxBodyBytes),
			Log:             log,
		}
		// Limits before authentication, so that a flood of made-up tokens
		// costs no signature checks.
		srv := grpcx.NewServer(log, append(limits.ServerOptions(),
			// The audit trail records the caller, so it comes after
			// authentication.
			grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(verifier), audit.UnaryServerInterceptor()),
			grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(verifier)),
		)...)
		if cfg.grpcReflection() {
			srv.RegisterReflection()
		}
		serving := func(name string) {
			srv.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
		}

		var needsSvc *need.Service
		if cfg.runs(TargetNeeds) {
			store, err := openNeedsStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			relay := outbox.NewRelay(store.Outbox(), bus, relayOptions(log))
			store.OnCommit(relay.Notify)
			start = append(start, func() error { return runRelay(gctx, relay) })
			needs := need.NewService(store)
			needsSvc = needs
			if cfg.demo() {
				n, err := demo.Seed(ctx, needs)
				if err != nil {
					return fmt.Errorf("demo data: %w", err)
				}
				log.Info("demo data", "needs_created", n)
			}
			needsv1.RegisterNeedsServiceServer(srv.Server, grpcserver.New(needs))
			serving(needsv1.NeedsService_ServiceDesc.ServiceName)
			// The reference data lives where buyers write needs; its search
			// indexes are built on the first request.
			refdatav1.RegisterReferenceDataServiceServer(srv.Server, refdataserver.New())
			serving(refdatav1.ReferenceDataService_ServiceDesc.ServiceName)
		}

		if cfg.runs(TargetVendors) {
			store, err := openVendorsStore(ctx, cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			relay := outbox.NewRelay(store.Outbox(), bus, relayOptions(log))
			store.OnCommit(relay.Notify)
			start = append(start, func() error { return runRelay(gctx, relay) })
			vendors := profile.NewService(store)
			if cfg.demo() {
				n, err := vendordemo.Seed(ctx, vendors)
				if err != nil {
					return fmt.Errorf("demo vendors: %w", err)
				}
				log.Info("demo data", "vendors_created", n)
			}
			vendorsv1.RegisterVendorsServiceServer(srv.Server, vendorsgrpc.New(vendors))
			serving(vendorsv1.VendorsService_ServiceDesc.ServiceName)
		}

		if cfg.runs(TargetMatching) {
			rm := readmodel.New(score.DefaultWeights)
			matchModel = rm
			// An event matching keeps failing on is set aside, so that the
			// events behind it still arrive.
			deadLetters, closeDeadLetters, err := openDeadLetters(ctx, cfg, rdb)
			if err != nil {
				return err
			}
			defer closeDeadLetters()
			ranker, cache, closeCache, err := newMatchRanker(cfg, rdb, rm, log)
			if err != nil {
				return err
			}
			defer closeCache()
			matchCache = cache
			matchingv1.RegisterMatchingServiceServer(srv.Server, matchinggrpc.New(ranker))
			start = append(start,
				func() error {
					return rm.Run(gctx, eventbus.WithDeadLetters(bus, deadLetters, eventbus.DeadLetterOptions{Logger: log}), cfg.MatchingGroup)
				},
				func() error {
					return rebuildMatching(gctx, cfg, addrs.GRPC, ownDial, rm, serviceTokens(cfg, devIssuer, log), log, serving)
				})
		}

		// The demo vendors answer the demo needs once both exist.
		if cfg.demo() && needsSvc != nil && cfg.runs(TargetVendors) {
			n, err := demo.SeedResponses(ctx, needsSvc)
			if err != nil {
				return fmt.Errorf("demo responses: %w", err)
			}
			log.Info("demo data", "responses_created", n)
		}

		grpcLis, err := net.Listen("tcp", cfg.GRPCAddr)
		if err != nil {
			return fmt.Errorf("grpc listen: %w", err)
		}
		addrs.GRPC = grpcLis.Addr().String()
		log.Info("grpc listening", "addr", addrs.GRPC)
		defer grpcLis.Close() // if starting fails later; Serve closes it too
		start = append(start, func() error { return srv.Serve(grpcLis) })
		servers = append(servers, func(ctx context.Context) error {
			srv.Shutdown(ctx)
			return nil
		})
	}

	// The HTTP listeners: the gateway's public one, and the admin one
	// (metrics, probes) that every process has, for the operators only.
	type httpListener struct {
		name    string
		addr    string
		handler http.Handler
		bound   *string
	}
	var listeners []httpListener
	if cfg.runs(TargetGateway) {
		needsAddr := orLoopback(cfg.NeedsAddr, addrs.GRPC)
		vendorsAddr := orLoopback(cfg.VendorsAddr, addrs.GRPC)
		matchingAddr := orLoopback(cfg.MatchingAddr, addrs.GRPC)
		proxies, _ := cfg.trustedProxies() // validated by loadConfig
		gw, err := gateway.New(ctx, gateway.Config{
			NeedsAddr:    needsAddr,
			VendorsAddr:  vendorsAddr,
			MatchingAddr: matchingAddr,
			DialOptions: func(addr string) []grpc.DialOption {
				if addr == loopback(addrs.GRPC) {
					return ownDial
				}
				return nil
			},
			Ready: func(context.Context) error {
				if matchModel != nil && !matchModel.Ready() {
					return errors.New("matching index not built yet")
				}
				return nil
			},
			Degraded:       degradedNotes(matchCache),
			MaxBodyBytes:   cfg.MaxBodyBytes,
			CopyBytes:      cmp.Or(cfg.GatewayCopyBytes, -1), // 0 in the config: none
			MetricsHandler: tel.MetricsHandler(),
			JWKS:           jwks,
			Limiter:        limiter,
			TrustedProxies: proxies,
		}, log)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		defer gw.Close()
		listeners = append(listeners,
			httpListener{"http", cfg.HTTPAddr, gw.Handler(), &addrs.HTTP},
			httpListener{"admin", cfg.AdminAddr, gw.AdminHandler(), &addrs.Admin})
	} else {
		listeners = append(listeners,
			httpListener{"admin", cfg.AdminAddr, adminHandler(tel.MetricsHandler(), degradedNotes(matchCache)), &addrs.Admin})
	}
	var httpStops []func(context.Context) error
	for _, l := range listeners {
		lis, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("%s listen: %w", l.name, err)
		}
		defer lis.Close() // if starting fails later; Serve closes it too
		srv := &http.Server{
			Handler:           l.handler,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		*l.bound = lis.Addr().String()
		log.Info(l.name+" listening", "addr", *l.bound)
		start = append(start, func() error {
			if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		httpStops = append(httpStops, srv.Shutdown)
	}
	for _, f := range start {
		g.Go(f)
	}
	// The HTTP servers stop first so no new request reaches a stopped
	// backend.
	servers = append(httpStops, servers...)

	if addrs.HTTP != "" {
		log.Info(readyMessage(addrs.HTTP, devIssuer != nil))
	}
	if ready != nil {
		ready <- addrs
	}

	g.Go(func() error {
		<-gctx.Done()
		log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		var errs []error
		for _, stop := range servers {
			errs = append(errs, stop(sctx))
		}
		return errors.Join(errs...)
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

// needsStore is a need.Store that holds resources and an outbox.
type needsStore interface {
	need.Store
	eventSource
}

// eventSource is a store that writes events to its outbox.
type eventSource interface {
	Outbox() outbox.Store
	OnCommit(func())
	Close()
}

// openNeedsStore opens PostgreSQL when DATABASE_URL is set, else the
// embedded SQLite file; both apply their migrations.
func openNeedsStore(ctx context.Context, cfg Config) (needsStore, error) {
	if cfg.DatabaseURL != "" {
		opts := []postgres.Option{postgres.WithEvents(needevents.Recorder{})}
		if !cfg.noAudit {
			opts = append(opts, postgres.WithAudit())
		}
		s, err := postgres.Open(ctx, cfg.DatabaseURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("needs store (postgres): %w", err)
		}
		return s, nil
	}
	opts := []sqlite.Option{sqlite.WithEvents(needevents.Recorder{})}
	if !cfg.noAudit {
		opts = append(opts, sqlite.WithAudit())
	}
	s, err := sqlite.Open(ctx, cfg.sqlitePath("needs"), opts...)
	if err != nil {
		return nil, fmt.Errorf("needs store (sqlite): %w", err)
	}
	return s, nil
}

// vendorsStore is a profile.Store that holds resources and an outbox.
type vendorsStore interface {
	profile.Store
	eventSource
}

// openVendorsStore opens the vendor registry's own database: PostgreSQL
// when DATABASE_URL is set (its migrations are versioned apart from the
// needs registry's, so the two may share a database), else its own SQLite
// file.
func openVendorsStore(ctx context.Context, cfg Config) (vendorsStore, error) {
	if cfg.DatabaseURL != "" {
		opts := []vendorspg.Option{vendorspg.WithEvents(vendorevents.Recorder{})}
		if !cfg.noAudit {
			opts = append(opts, vendorspg.WithAudit())
		}
		s, err := vendorspg.Open(ctx, cfg.DatabaseURL, opts...)
		if err != nil {
			return nil, fmt.Errorf("vendors store (postgres): %w", err)
		}
		return s, nil
	}
	opts := []vendorssqlite.Option{vendorssqlite.WithEvents(vendorevents.Recorder{})}
	if !cfg.noAudit {
		opts = append(opts, vendorssqlite.WithAudit())
	}
	s, err := vendorssqlite.Open(ctx, cfg.sqlitePath("vendors"), opts...)
	if err != nil {
		return nil, fmt.Errorf("vendors store (sqlite): %w", err)
	}
	return s, nil
}

// newVerifier returns the token verifier: the configured OIDC issuer in
// production, else the development issuer, whose public keys the gateway
// publishes and which it returns too (nil with OIDC).
func newVerifier(ctx context.Context, cfg Config, log *slog.Logger) (auth.Verifier, *auth.DevIssuer, error) {
	if cfg.OIDCIssuerURL != "" {
		v, err := auth.NewOIDCVerifier(ctx, auth.OIDCConfig{
			IssuerURL: cfg.OIDCIssuerURL,
			Audience:  cfg.OIDCAudience,
			OrgClaim:  cfg.OIDCOrgClaim,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("oidc: %w", err)
		}
		return v, nil, nil
	}
	if !cfg.devIssuerAllowed() {
		// PostgreSQL, Redis or a single service look like production,
		// where a key file that mints admin tokens must not be the trust.
		return nil, nil, errors.New("OIDC_ISSUER_URL is required outside the monolith on SQLite; " +
			"GOVMATCH_UNSAFE_DEV_ISSUER=true uses the development issuer anyway, for tests on one machine")
	}
	log.Warn("using the development token issuer: anyone with access to the data directory can mint tokens; set OIDC_ISSUER_URL in production",
		"key", cfg.devKeyPath())
	iss, err := auth.LoadOrCreateDevIssuer(cfg.devKeyPath(), cfg.DevIssuerURL)
	if err != nil {
		return nil, nil, fmt.Errorf("development issuer: %w", err)
	}
	return iss.Verifier(cfg.OIDCAudience, cfg.OIDCOrgClaim), iss, nil
}

// newLimiter returns the per-client rate limiter of the gateway: shared
// through Redis across gateway replicas when there is one (falling back to
// per-replica limits while Redis is unreachable), else in-process.
func newLimiter(cfg Config, rdb *redis.Client, log *slog.Logger) (ratelimit.Limiter, error) {
	if cfg.RateLimit == 0 {
		return nil, nil // no limiting
	}
	lim := ratelimit.Limit{Rate: cfg.RateLimit, Burst: cfg.RateBurst}
	if err := lim.Validate(); err != nil {
		return nil, fmt.Errorf("rate limit: %w", err)
	}
	local := ratelimit.NewMemory(lim)
	if rdb == nil {
		return local, nil
	}
	return ratelimit.NewFailOpen(ratelimit.NewRedis(rdb, lim, cfg.RedisPrefix), local, log), nil
}

// newRedis connects to REDIS_URL with tracing and metrics.
func newRedis(cfg Config) (*redis.Client, error) {
	opts, err := redis.ParseURL(cfg.RedisURL) // validated by loadConfig
	if err != nil {
		return nil, err
	}
	// Without this go-redis ignores context deadlines, and a hung Redis
	// would hold requests for its full socket timeout.
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	if err := errors.Join(redisotel.InstrumentTracing(client), redisotel.InstrumentMetrics(client)); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("redis telemetry: %w", err)
	}
	return client, nil
}

// newBus is where the outbox relays publish: Redis Streams, so that
// consumers in other processes see every service's events, or in-process
// in the monolith.
// openDeadLetters opens the dead letters beside the bus: in Redis with
// the streams, else in an SQLite file of the data directory.
func openDeadLetters(ctx context.Context, cfg Config, rdb *redis.Client) (eventbus.DeadLetters, func(), error) {
	if rdb != nil {
		return eventbus.NewRedisDeadLetters(rdb, cfg.RedisPrefix), func() {}, nil
	}
	dl, err := eventbus.OpenSQLiteDeadLetters(ctx, cfg.deadLettersPath())
	if err != nil {
		return nil, nil, err
	}
	return dl, func() { _ = dl.Close() }, nil
}

func newBus(rdb *redis.Client, prefix string, log *slog.Logger) eventbus.Bus {
	if rdb == nil {
		return eventbus.NewMemory(eventbus.MemoryOptions{Logger: log})
	}
	return eventbus.NewRedisStreams(rdb, eventbus.RedisOptions{Prefix: prefix, Logger: log})
}

// relayOptions caps the relay's backoff at one second: after a Redis
// outage the backlog starts draining within a second of Redis answering.
func relayOptions(log *slog.Logger) outbox.RelayOptions {
	return outbox.RelayOptions{Logger: log, MaxBackoff: time.Second}
}

// redisLogger sends go-redis's own messages (failed dials during an
// outage) to the structured log instead of plain text on stderr.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// runRelay relays until ctx ends, which is no error.
func runRelay(ctx context.Context, r *outbox.Relay) error {
	if err := r.Run(ctx); err != nil && ctx.Err() == nil {
		return fmt.Errorf("outbox relay: %w", err)
	}
	return nil
}

// rebuildMatching loads the registries' current state into the matching
// index through their APIs (the event stream carries changes from then
// on) and marks the matching service serving once that is done.
func rebuildMatching(ctx context.Context, cfg Config, ownAddr string, own []grpc.DialOption, rm *readmodel.Model, tokens auth.TokenSource, log *slog.Logger, serving func(string)) error {
	nc, err := grpcx.Dial(ctx, orLoopback(cfg.NeedsAddr, ownAddr), ownOnly(cfg.NeedsAddr, own)...)
	if err != nil {
		return fmt.Errorf("matching: dial needs: %w", err)
	}
	defer nc.Close()
	vc, err := grpcx.Dial(ctx, orLoopback(cfg.VendorsAddr, ownAddr), ownOnly(cfg.VendorsAddr, own)...)
	if err != nil {
		return fmt.Errorf("matching: dial vendors: %w", err)
	}
	defer vc.Close()
	lister := readmodel.GRPCLister{Needs: needsv1.NewNeedsServiceClient(nc), Vendors: vendorsv1.NewVendorsServiceClient(vc)}
	if tokens != nil {
		lister.CallOptions = []grpc.CallOption{grpc.PerRPCCredentials(auth.PerRPCCredentials(tokens))}
	}
	if err := rm.RebuildUntilDone(ctx, lister, log); err != nil {
		return nil // only when ctx ended
	}
	serving(matchingv1.MatchingService_ServiceDesc.ServiceName)
	return nil
}

// serviceTokens is how matching authenticates to the registries to list
// everything, drafts included: a token file in production, else a token
// minted by the development issuer (dev, nil with OIDC). Nil means
// anonymous listing.
func serviceTokens(cfg Config, dev *auth.DevIssuer, log *slog.Logger) auth.TokenSource {
	switch {
	case cfg.ServiceTokenFile != "":
		if _, err := os.Stat(cfg.ServiceTokenFile); err != nil {
			// An optional secret that is not there: run, but say so.
			log.Warn("matching lists the registries anonymously: drafts reach it through events only", "error", err)
			return nil
		}
		return auth.FileTokenSource(cfg.ServiceTokenFile)
	case dev != nil:
		return dev.ServiceTokenSource("service:matching")
	default:
		log.Warn("GOVMATCH_SERVICE_TOKEN_FILE is not set: matching lists the registries anonymously, so drafts reach it through events only")
	}
	return nil
}

// ownOnly is own, the options of connections to this process's own gRPC
// server, when addr is empty (this process), else none: the internal key
// must never travel to another process.
func ownOnly(addr string, own []grpc.DialOption) []grpc.DialOption {
	if addr != "" {
		return nil
	}
	return own
}

// orLoopback is addr, or this process's own gRPC address when addr is
// empty (the monolith).
func orLoopback(addr, own string) string {
	if addr != "" {
		return addr
	}
	return loopback(own)
}

// loopback turns a listen address such as "[::]:9090" into one a client
// in the same process can dial.
func loopback(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// adminHandler serves metrics and liveness of a process without gateway.
// /healthz is 200 "ok", with what degraded names in parentheses, as the
// gateway's /readyz shows them.
func adminHandler(metrics http.Handler, degraded func() []string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if notes := degraded(); len(notes) > 0 {
			_, _ = io.WriteString(w, "ok ("+strings.Join(notes, "; ")+")\n")
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// readyMessage tells a newcomer where the server answers and, with the
// development issuer, how to get a token.
func readyMessage(httpAddr string, devIssuer bool) string {
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return "govmatch is ready on " + httpAddr
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	base := "http://" + net.JoinHostPort(host, port)
	msg := fmt.Sprintf("govmatch is ready: REST API %s/v1/needs, OpenAPI %s/openapi.json", base, base)
	if devIssuer {
		msg += "; a token for curl: make token ORG=stadt-giessen ROLE=buyer (README.md has the stories)"
	}
	return msg
}
