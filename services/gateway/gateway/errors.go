package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// Errors of the transport. When a backend cannot be reached, gRPC makes up
// the status on the gateway's side, and its message tells how the dial or
// the stream failed: "connection error: desc = "transport: Error while
// dialing: dial tcp 10.0.0.5:9090: connect: connection refused"". That is
// the operators' business, not the client's. A status the backend sent is
// another matter: the services' own messages are written for clients
// ("the matching index is being built; retry in a few seconds"), and
// grpcx.ToStatus already hides their internal errors.
//
// Nothing in a status says where it was made, but gRPC tells a client
// stats handler when a call's status arrives in the backend's trailers
// (stats.InTrailer), and what the attempt ended with (stats.End). So each
// API request carries a backendStatus, which backendStatusHandler fills in,
// and handleError replaces the message of a failure the backend did not
// report itself. A status the backend did report is passed on as the
// backend sent it: after retries, gRPC prefixes it with "max retries
// exhausted: failed after 3 attempts: rpc error: ...".

// unavailableMessage is all a client learns about a failure on the way to
// a backend.
const unavailableMessage = "service temporarily unavailable"

// backendStatus is the status a request's backend sent in the last attempt
// of its call, if it sent one. Attempts (grpcx retries reads) run one after
// the other, each starting with stats.Begin; within one, InTrailer comes
// before End.
type backendStatus struct {
	mu      sync.Mutex
	trailer bool           // the current attempt received the backend's trailers
	sent    *status.Status // nil: the last attempt got no status from the backend
}

type backendStatusKey struct{}

// trackBackendStatus is the runtime middleware that gives each API request
// its backendStatus. The gRPC call's context derives from the request's.
func trackBackendStatus(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		ctx := context.WithValue(r.Context(), backendStatusKey{}, &backendStatus{})
		next(w, r.WithContext(ctx), params)
	}
}

// statusFromBackend returns the status the backend sent in the last call
// under ctx, or nil.
func statusFromBackend(ctx context.Context) *status.Status {
	bs, ok := ctx.Value(backendStatusKey{}).(*backendStatus)
	if !ok {
		return nil
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.sent
}

// backendStatusHandler is the client stats handler that fills in the
// backendStatus of a call's context.
type backendStatusHandler struct{}

// TagRPC implements stats.Handler.
func (backendStatusHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}

// HandleRPC implements stats.Handler.
func (backendStatusHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	bs, ok := ctx.Value(backendStatusKey{}).(*backendStatus)
	if !ok {
		return // not an API request: readiness checks
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	switch e := s.(type) {
	case *stats.Begin:
		// A retry: only the last attempt's status reaches the client.
		bs.trailer, bs.sent = false, nil
	case *stats.InTrailer:
		bs.trailer = true
	case *stats.End:
		if bs.trailer {
			bs.sent = status.Convert(e.Error)
			if bs.sent == nil { // Convert(nil) is nil, not OK
				bs.sent = status.New(codes.OK, "")
			}
		}
	}
}

// TagConn implements stats.Handler.
func (backendStatusHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

// HandleConn implements stats.Handler.
func (backendStatusHandler) HandleConn(context.Context, stats.ConnStats) {}

// hideTransport returns err, unless it is of a kind the transport reports
// (Unavailable, Internal, Unknown, DeadlineExceeded): then the status the
// backend sent, if it sent this one, else the same code with
// unavailableMessage, and the original goes to the log. The gateway's own
// failures (not a status at all, such as an answer it could not render) are
// hidden the same way.
func (g *Gateway) hideTransport(ctx context.Context, r *http.Request, err error) error {
	inner := err
	var custom *runtime.HTTPStatusError
	if errors.As(err, &custom) {
		inner = custom.Err
	}
	st, isStatus := status.FromError(inner)
	switch st.Code() {
	case codes.Unavailable, codes.Internal, codes.Unknown, codes.DeadlineExceeded:
	default:
		return err
	}
	if sent := statusFromBackend(ctx); isStatus && sent != nil && sent.Code() == st.Code() {
		return rewrap(custom, sent.Err())
	}
	route := ""
	if p, ok := runtime.HTTPPattern(ctx); ok {
		route = p.String()
	}
	g.log.ErrorContext(ctx, "gateway: backend call failed",
		slog.String("method", r.Method), slog.String("route", route),
		slog.String("code", st.Code().String()), slog.Any("err", inner))
	return rewrap(custom, status.Error(st.Code(), unavailableMessage))
}

// rewrap puts err into a copy of custom, if there is one.
func rewrap(custom *runtime.HTTPStatusError, err error) error {
	if custom == nil {
		return err
	}
	return &runtime.HTTPStatusError{HTTPStatus: custom.HTTPStatus, Err: err}
}
