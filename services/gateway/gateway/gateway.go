// Package gateway is govmatch's REST front door: a grpc-gateway that
// translates JSON over HTTP into calls of the gRPC services, plus the
// operational endpoints (health, readiness, OpenAPI document, the
// development issuer's JWKS). Metrics are served apart, by AdminHandler, for
// the operators' network only.
//
// The gateway holds no business logic and no identity of its own: it
// forwards the caller's Authorization header and the services decide. What
// it does decide is how often a client may call the API (Config.Limiter),
// since it is the one place that sees every request.
package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoregistry"

	// Error details (google.rpc.BadRequest, ...) are google.protobuf.Any;
	// the gateway can only render them as JSON if their types are linked.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/grpcx"
	"github.com/govmatch/govmatch/pkg/ratelimit"
	matchingv1 "github.com/govmatch/govmatch/proto/govmatch/matching/v1"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	refdatav1 "github.com/govmatch/govmatch/proto/govmatch/refdata/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/proto/openapi"
)

// DefaultMaxBodyBytes is the request body limit when Config leaves it zero.
const DefaultMaxBodyBytes = 1 << 20

// Config is what the gateway needs from main.
type Config struct {
	// NeedsAddr is the gRPC target of the needs service, e.g.
	// "dns:///needs:9090" or "localhost:9090". Required.
	NeedsAddr string
	// VendorsAddr is the gRPC target of the vendor registry.
	VendorsAddr string
	// MatchingAddr is the gRPC target of the matching service; without it
	// the gateway serves no matching routes.
	MatchingAddr string
	// DialOptions, when set, returns extra options for the connection to
	// a backend address (the monolith's key for its own gRPC server).
	DialOptions func(addr string) []grpc.DialOption
	// MaxBodyBytes limits request bodies; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MetricsHandler, when set, is served at /metrics of AdminHandler, never
	// of Handler: what the process measures is the operators' business.
	MetricsHandler http.Handler
	// JWKS, when set, is served at /.well-known/jwks.json: the public keys of
	// the development token issuer.
	JWKS []byte
	// Ready, when set, is asked by /readyz before the backends are; its
	// error text is shown to the prober.
	Ready func(ctx context.Context) error
	// Degraded, when set, is asked by /readyz once ready: each string it
	// returns names a part that works at reduced capacity but still
	// answers correctly (e.g. the match cache computing every answer
	// because its Redis is down). /readyz stays 200 and shows them.
	Degraded func() []string

	// Limiter, when set, rate-limits the API routes per client (the
	// operational endpoints are not limited): anonymous requests by client
	// address, requests with an Authorization header by token and by
	// address (see TokenAddrLimiter). Keys are namespaced ("ip:", "tok:"),
	// so one Limiter serves all of them. A Limiter that fails lets requests
	// through; wrap a shared one in ratelimit.FailOpen, which bounds its
	// latency and falls back to an in-process limiter.
	Limiter ratelimit.Limiter
	// TokenAddrLimiter, when set with Limiter, is the per-address bucket of
	// requests that carry a token, with a limit of its own: set it higher
	// than Limiter's so that many signed-in users behind one NAT (a city
	// hall) are not held to one anonymous client's share, while made-up
	// tokens from one address still cannot exceed it. When nil, requests
	// with a token share their address's anonymous bucket.
	TokenAddrLimiter ratelimit.Limiter
	// CopyBytes bounds the JSON the gateway keeps of answers their backend
	// tagged (see copies.go), in bytes; zero means DefaultCopyBytes, less
	// than zero keeps none.
	CopyBytes int64
	// TrustedProxies are the reverse proxies and load balancers whose
	// X-Forwarded-For the gateway believes when it names the client of a
	// request for rate limiting. Without them, the client is the direct
	// peer.
	TrustedProxies []netip.Prefix

	// httpTelemetry are extra options of the otelhttp handler, for tests
	// that need a meter provider of their own.
	httpTelemetry []otelhttp.Option
}

// backend is one gRPC service behind the gateway.
type backend struct {
	name     string // for readiness reasons and logs
	addr     string
	register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	conn     *grpc.ClientConn
}

// backends lists the services the gateway exposes. A new service is one
// line here and its address in Config.
func backends(cfg Config) []*backend {
	return []*backend{
		{name: "needs", addr: cfg.NeedsAddr, register: needsv1.RegisterNeedsServiceHandler},
		// Hosted by the needs process; backends on one address share a
		// connection.
		{name: "refdata", addr: cfg.NeedsAddr, register: refdatav1.RegisterReferenceDataServiceHandler},
		{name: "vendors", addr: cfg.VendorsAddr, register: vendorsv1.RegisterVendorsServiceHandler},
		{name: "matching", addr: cfg.MatchingAddr, register: matchingv1.RegisterMatchingServiceHandler},
	}
}

// Gateway serves the REST API and the operational endpoints.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	backends []*backend
	conns    []*grpc.ClientConn // one per distinct address
	api      *runtime.ServeMux
	handler  http.Handler
	admin    http.Handler
	json     runtime.Marshaler
	copies   *copies // nil: none kept
	queries  queryRoutes

	limiterWarned atomic.Int64 // unix nanoseconds of the last warning about a failing limiter
}

// New connects to the backends (lazily: a backend that is down makes
// /readyz fail, not New) and builds the handler. Close releases the
// connections.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Gateway, error) {
	if cfg.NeedsAddr == "" || cfg.VendorsAddr == "" {
		return nil, errors.New("gateway: NeedsAddr and VendorsAddr are required")
	}
	switch {
	case cfg.MaxBodyBytes == 0:
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	case cfg.MaxBodyBytes < 0:
		return nil, fmt.Errorf("gateway: MaxBodyBytes %d is negative", cfg.MaxBodyBytes)
	}
	if cfg.TokenAddrLimiter != nil && cfg.Limiter == nil {
		return nil, errors.New("gateway: TokenAddrLimiter needs Limiter")
	}
	trusted := make([]netip.Prefix, 0, len(cfg.TrustedProxies))
	for _, p := range cfg.TrustedProxies {
		if !p.IsValid() {
			return nil, fmt.Errorf("gateway: trusted proxy %q is not a valid prefix", p)
		}
		trusted = append(trusted, p.Masked())
	}
	cfg.TrustedProxies = trusted

	g := &Gateway{cfg: cfg, log: log, queries: newQueryRoutes(protoregistry.GlobalFiles)}
	for _, b := range backends(cfg) {
		if b.addr != "" { // else an optional service this installation does not run
			g.backends = append(g.backends, b)
		}
	}
	g.json = &runtime.JSONPb{
		MarshalOptions: protojson.MarshalOptions{
			EmitUnpopulated: false,
			UseProtoNames:   false, // camelCase, as the OpenAPI document says
		},
		// A misspelt field must fail loudly, not be dropped.
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}
	if cfg.CopyBytes >= 0 {
		g.copies = newCopies(cmp.Or(cfg.CopyBytes, DefaultCopyBytes))
	}
	g.api = runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: jsonCopies{g.json}}),
		runtime.WithIncomingHeaderMatcher(forwardNoHeaders),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithOutgoingTrailerMatcher(forwardNoTrailers),
		runtime.WithErrorHandler(g.handleError),
		runtime.WithMiddlewares(routeTelemetry, g.strictQuery, g.lookUpCopy, trackBackendStatus),
		runtime.WithMetadata(requestMetadata),
		runtime.WithForwardResponseOption(answerConditionally),
		runtime.WithForwardResponseRewriter(g.serveCopy),
	)

	byAddr := map[string]*grpc.ClientConn{}
	for _, b := range g.backends {
		conn, ok := byAddr[b.addr]
		if !ok {
			var err error
			opts := []grpc.DialOption{grpc.WithStatsHandler(backendStatusHandler{})}
			if cfg.DialOptions != nil {
				opts = append(opts, cfg.DialOptions(b.addr)...)
			}
			if conn, err = grpcx.Dial(ctx, b.addr, opts...); err != nil {
				return nil, errors.Join(fmt.Errorf("gateway: %s: %w", b.name, err), g.Close())
			}
			byAddr[b.addr] = conn
			g.conns = append(g.conns, conn)
		}
		b.conn = conn
		if err := b.register(ctx, g.api, conn); err != nil {
			return nil, errors.Join(fmt.Errorf("gateway: register %s: %w", b.name, err), g.Close())
		}
		log.InfoContext(ctx, "gateway backend", slog.String("backend", b.name), slog.String("addr", b.addr))
	}
	g.handler = g.routes()
	g.admin = g.adminRoutes()
	return g, nil
}

// Handler is the gateway's HTTP handler: mount it at the root of the
// public server. It serves the API, /healthz, /readyz, /openapi.json and
// the JWKS, and no metrics.
func (g *Gateway) Handler() http.Handler { return g.handler }

// AdminHandler serves /metrics, /healthz and /readyz for the operators:
// mount it on a listener that only they can reach (GOVMATCH_ADMIN_ADDR).
// It is neither traced nor rate-limited, as scrapers and probes call it
// every few seconds.
func (g *Gateway) AdminHandler() http.Handler { return g.admin }

// Close closes the connections to the backends.
func (g *Gateway) Close() error {
	var errs []error
	for _, c := range g.conns {
		errs = append(errs, c.Close())
	}
	g.conns = nil
	return errors.Join(errs...)
}

// forwardNoHeaders keeps every HTTP header out of the gRPC metadata. The
// grpc-gateway runtime forwards Authorization on its own (as
// "authorization"), which is the one header the services read; anything
// else a client sends must not be able to pose as something the gateway or
// an interceptor vouches for.
func forwardNoHeaders(string) (string, bool) { return "", false }

type requestIDKey struct{}

// withRequestID gives every API request an id: the client's X-Request-Id
// when it is a sane token (audit.ValidRequestID), so that a client's or a
// proxy's id finds its way into the services' logs and audit trails, else
// a new one. It goes to the services as x-request-id, and back to the
// client as X-Request-Id, also on errors and refusals, to be quoted in a
// report.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !audit.ValidRequestID(id) {
			id = audit.NewRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// requestMetadata is the metadata of a call to a service: the request id
// and the copies' validator.
func requestMetadata(ctx context.Context, r *http.Request) metadata.MD {
	md := copyMetadata(ctx, r)
	if id, ok := r.Context().Value(requestIDKey{}).(string); ok {
		md = metadata.Join(md, metadata.Pairs(audit.RequestIDHeader, id))
	}
	return md
}

// untraced are the endpoints probes hit every few seconds.
var untraced = map[string]bool{"/healthz": true, "/readyz": true}

// serverName is the server.address of the HTTP metrics and spans. Without
// it otelhttp takes the Host header, which every client writes as it
// likes: each new value would start new metric series, without bound. The
// port 0 is never reported, and keeps otelhttp from taking the port of the
// Host header instead.
const serverName = "gateway:0"

// routes puts the public operational endpoints next to the API and wraps
// what is not in untraced in otelhttp.
func (g *Gateway) routes() http.Handler {
	ops := http.NewServeMux()
	g.handleProbes(ops)
	ops.HandleFunc("GET /openapi.json", serveJSON(openapi.Document))
	if len(g.cfg.JWKS) > 0 {
		ops.HandleFunc("GET /.well-known/jwks.json", serveJSON(g.cfg.JWKS))
	}

	api := withRequestID(g.limit(g.checkBody(g.api)))
	root := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The API is not routed through ops with a "/" pattern: that would
		// set r.Pattern to "/" and otelhttp would name every API span
		// "GET /" and label every metric with it. routeTelemetry names them
		// by grpc-gateway route instead.
		if _, pattern := ops.Handler(r); pattern != "" {
			ops.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
	opts := append(slices.Clone(g.cfg.httpTelemetry),
		otelhttp.WithFilter(func(r *http.Request) bool { return !untraced[r.URL.Path] }),
		otelhttp.WithServerName(serverName),
	)
	return secureHeaders(otelhttp.NewHandler(root, "gateway", opts...))
}

// adminRoutes is the handler of AdminHandler.
func (g *Gateway) adminRoutes() http.Handler {
	mux := http.NewServeMux()
	g.handleProbes(mux)
	if g.cfg.MetricsHandler != nil {
		mux.Handle("GET /metrics", g.cfg.MetricsHandler)
	}
	return secureHeaders(mux)
}

// handleProbes serves liveness and readiness on mux: both the public and
// the admin server answer them, so that a load balancer can probe the port
// it sends traffic to.
func (g *Gateway) handleProbes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", g.readyz)
}

// secureHeaders sets the headers every answer carries, whoever writes it.
// Browsers must not guess another type than the Content-Type sent (a JSON
// answer that quotes a user's text would otherwise be rendered as HTML),
// and no cache, shared or the browser's, may keep an answer to a request
// with credentials: it may hold a draft or a price. Such answers keep
// their ETag, so a client that keeps its own copy may still ask with
// If-None-Match (answerConditionally).
func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if authenticated(r) {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// authenticated reports whether r carries credentials; whether they are
// valid is for the services to decide, and does not matter for caching.
func authenticated(r *http.Request) bool { return r.Header.Get("Authorization") != "" }

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = fmt.Fprintln(w, body)
}

func serveJSON(doc []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}
}
