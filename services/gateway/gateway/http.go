package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/govmatch/govmatch/pkg/ratelimit"
)

// checkBody guards the API: bodies over the limit are refused before they
// are read, with 413, and writes must be JSON, or 415. Both answers are
// google.rpc.Status JSON written by the same error handler as every other
// API error, with code INVALID_ARGUMENT.
func (g *Gateway) checkBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > g.cfg.MaxBodyBytes {
			g.writeError(w, r, http.StatusRequestEntityTooLarge, g.tooLarge())
			return
		}
		if r.ContentLength != 0 && isWrite(r.Method) {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				g.writeError(w, r, http.StatusUnsupportedMediaType,
					status.Error(codes.InvalidArgument, "Content-Type must be application/json"))
				return
			}
		}
		if r.Body != nil && r.Body != http.NoBody {
			// Without a Content-Length the size is known only once read:
			// cap the reader and let handleError turn the decode error it
			// causes into a 413.
			body := &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes)}
			r = r.WithContext(context.WithValue(r.Context(), limitedBodyKey{}, body))
			r.Body = body
		}
		next.ServeHTTP(w, r)
	})
}

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return true
	}
	return false
}

func (g *Gateway) tooLarge() error {
	return status.Errorf(codes.InvalidArgument, "request body exceeds the limit of %d bytes", g.cfg.MaxBodyBytes)
}

type limitedBodyKey struct{}

// limitedBody remembers whether the limit of http.MaxBytesReader was hit,
// which the error the gateway's decoder returns no longer shows.
type limitedBody struct {
	io.ReadCloser
	hit atomic.Bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.hit.Store(true)
	}
	return n, err
}

// writeError answers r with err as a google.rpc.Status through the API's
// error handler, with httpStatus instead of the one the code maps to.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, httpStatus int, err error) {
	_, out := runtime.MarshalerForRequest(g.api, r)
	runtime.HTTPError(r.Context(), g.api, out, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err})
}

// handleError is grpc-gateway's default error handler (google.rpc.Status
// JSON, its code→HTTP mapping), except that a body cut off by the size
// limit is answered with 413, a failure on the way to a backend does not
// show how it failed (hideTransport), and no error is kept by any cache: it
// would outlive its cause.
func (g *Gateway) handleError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if body, ok := ctx.Value(limitedBodyKey{}).(*limitedBody); ok && body.hit.Load() {
		err = &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: g.tooLarge()}
	}
	err = g.hideTransport(ctx, r, err)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Del("ETag") // set before a later step failed; it names no content of this answer
	if st, ok := status.FromError(err); ok && st.Code() == codes.Unauthenticated {
		// The runtime would put the bare message there.
		w = challengeWriter{w, wwwAuthenticate(r, st.Message())}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// challengeWriter sets WWW-Authenticate to its challenge as the status is
// written.
type challengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (c challengeWriter) WriteHeader(code int) {
	c.Header().Set("WWW-Authenticate", c.challenge)
	c.ResponseWriter.WriteHeader(code)
}

// wwwAuthenticate is the challenge of a 401 (RFC 6750 § 3): without
// credentials just the scheme; with a token the services refused, why
// (pkg/auth's reason, such as "token expired"), so that a client knows
// whether to refresh it or to sign in again.
func wwwAuthenticate(r *http.Request, reason string) string {
	const challenge = `Bearer realm="govmatch"`
	header := r.Header.Get("Authorization")
	if header == "" {
		return challenge
	}
	code := "invalid_token"
	if scheme, _, _ := strings.Cut(strings.TrimSpace(header), " "); !strings.EqualFold(scheme, "Bearer") || len(r.Header.Values("Authorization")) > 1 {
		code = "invalid_request"
	}
	// A quoted-string holds no quote, backslash or control character.
	reason = strings.Map(func(c rune) rune {
		if c == '"' || c == '\\' || c < 0x20 || c == 0x7f {
			return -1
		}
		return c
	}, reason)
	return fmt.Sprintf(`%s, error=%q, error_description=%q`, challenge, code, reason)
}

// routeTelemetry names the otelhttp span after the grpc-gateway route
// ("POST /v1/{name=needs/*}:publish") and labels the HTTP metrics with it,
// so neither carries resource names.
func routeTelemetry(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if p, ok := runtime.HTTPPattern(r.Context()); ok {
			route := semconv.HTTPRoute(p.String())
			span := trace.SpanFromContext(r.Context())
			span.SetName(r.Method + " " + p.String())
			span.SetAttributes(route)
			if l, ok := otelhttp.LabelerFromContext(r.Context()); ok {
				l.Add(route)
			}
		}
		next(w, r, params)
	}
}

// readyTimeout bounds a readiness probe, whatever the prober's own timeout.
const readyTimeout = 3 * time.Second

// readyz is 200 "ok" when Config.Ready and the gRPC health of every backend
// say so, else 503 with the first reason. Details stay in the log: the
// reason must not show internal addresses to whoever can reach the port.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if reason := g.notReady(ctx); reason != "" {
		writeText(w, http.StatusServiceUnavailable, reason)
		return
	}
	// Degraded is still ready: requests are served (and limited, only per
	// replica). Taking every gateway out of service because Redis is down
	// would turn a loosened limit or a cold cache into an outage.
	var notes []string
	if g.limiterDegraded() {
		notes = append(notes, "rate limiting per replica: shared limiter unavailable")
	}
	if g.cfg.Degraded != nil {
		notes = append(notes, g.cfg.Degraded()...)
	}
	if len(notes) > 0 {
		writeText(w, http.StatusOK, "ok ("+strings.Join(notes, "; ")+")")
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// limiterDegraded reports whether a limiter that can tell (ratelimit.FailOpen)
// is deciding in process because the shared one is unavailable.
func (g *Gateway) limiterDegraded() bool {
	for _, l := range []ratelimit.Limiter{g.cfg.Limiter, g.cfg.TokenAddrLimiter} {
		if d, ok := l.(interface{ Degraded() bool }); ok && d.Degraded() {
			return true
		}
	}
	return false
}

func (g *Gateway) notReady(ctx context.Context) string {
	if g.cfg.Ready != nil {
		if err := g.cfg.Ready(ctx); err != nil {
			return "not ready: " + err.Error()
		}
	}
	for _, b := range g.backends {
		// The overall status (""), which grpcx.Server.Shutdown turns to
		// NOT_SERVING; per-service statuses are the backend's own business.
		resp, err := healthpb.NewHealthClient(b.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		switch {
		case err != nil:
			g.log.WarnContext(ctx, "gateway backend not ready", "backend", b.name, "addr", b.addr, "err", err)
			return fmt.Sprintf("%s: %s", b.name, status.Code(err))
		case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
			g.log.WarnContext(ctx, "gateway backend not ready", "backend", b.name, "addr", b.addr, "status", resp.GetStatus().String())
			return fmt.Sprintf("%s: %s", b.name, resp.GetStatus())
		}
	}
	return ""
}
