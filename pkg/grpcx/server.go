// Package grpcx is the gRPC plumbing every govmatch service shares: a server
// with recovery, logging, tracing, health and reflection; the mapping of
// domain errors to gRPC statuses; and client connections for service-to-
// service and gateway calls.
package grpcx

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// Server is a gRPC server with govmatch's interceptors and the standard
// health service registered; reflection only on request
// (RegisterReflection).
type Server struct {
	*grpc.Server
	// Health is the server's grpc.health.v1 service. The overall status ("")
	// starts SERVING; set per-service statuses as dependencies come and go.
	Health *health.Server
}

// NewServer returns a server whose every call goes through, outermost
// first:
//
//  1. the otelgrpc stats handler (a span per call; health checks are left
//     out of traces),
//  2. panic recovery: a panic becomes Internal "internal error", its value
//     and stack are logged and recorded on the span,
//  3. logging: one line per call with method, code and duration (trace_id
//     and span_id come from the telemetry logger), at Info for OK, Warn for
//     errors the client caused and Error for the server's own; an Internal
//     error's hidden cause is logged and recorded on the span here,
//  4. the interceptors the caller passes in opts with
//     grpc.ChainUnaryInterceptor / grpc.ChainStreamInterceptor (auth, ...),
//  5. error mapping with ToStatus, so handlers return domain errors and the
//     caller's interceptors already see gRPC statuses.
//
// Errors the caller's interceptors return themselves are mapped by the
// logging layer, so nothing reaches the client unmapped. Do not pass
// grpc.UnaryInterceptor or grpc.StreamInterceptor: gRPC runs those before
// every chained interceptor, ahead of recovery.
func NewServer(log *slog.Logger, opts ...grpc.ServerOption) *Server {
	all := []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithFilter(filters.Not(filters.HealthCheck())),
		)),
		// Dial pings idle connections every 30s; without this policy the
		// server would answer them with GOAWAY "too_many_pings".
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             20 * time.Second,
			PermitWithoutStream: true,
		}),
		grpc.ChainUnaryInterceptor(unaryRecover(log), unaryLog(log)),
		grpc.ChainStreamInterceptor(streamRecover(log), streamLog(log)),
	}
	all = append(all, opts...)
	// gRPC appends chained interceptors in option order, so these run
	// innermost, right around the handler.
	all = append(all,
		grpc.ChainUnaryInterceptor(unaryMapErrors),
		grpc.ChainStreamInterceptor(streamMapErrors),
	)

	s := grpc.NewServer(all...)
	h := health.NewServer()
	healthpb.RegisterHealthServer(s, h)
	return &Server{Server: s, Health: h}
}

// RegisterReflection offers server reflection (grpcurl without proto
// files). It tells anyone who can reach the port every method, so it is a
// choice of the operator's; call it before Serve.
func (s *Server) RegisterReflection() { reflection.Register(s.Server) }

// Shutdown marks the server NOT_SERVING, so that load balancers and the
// gateway's readiness stop sending traffic, then stops gracefully: running
// calls finish unless ctx ends first, when the rest are cancelled.
func (s *Server) Shutdown(ctx context.Context) {
	s.Health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.Stop()
		<-done
	}
}

func unaryRecover(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if p := recover(); p != nil {
				err = recovered(ctx, log, info.FullMethod, p)
			}
		}()
		return handler(ctx, req)
	}
}

func streamRecover(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = recovered(ss.Context(), log, info.FullMethod, p)
			}
		}()
		return handler(srv, ss)
	}
}

func recovered(ctx context.Context, log *slog.Logger, method string, p any) error {
	stack := string(debug.Stack())
	log.LogAttrs(ctx, slog.LevelError, "grpc panic",
		slog.String("method", method),
		slog.String("panic", fmt.Sprint(p)),
		slog.String("stack", stack),
	)
	span := trace.SpanFromContext(ctx)
	span.RecordError(fmt.Errorf("panic: %v", p), trace.WithAttributes(
		attribute.String("exception.stacktrace", stack),
	))
	span.SetStatus(otelcodes.Error, "panic")
	return status.Error(codes.Internal, internalMessage)
}

func unaryLog(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		err = ToStatus(err)
		logCall(ctx, log, info.FullMethod, time.Since(start), err)
		return resp, err
	}
}

func streamLog(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		err := ToStatus(handler(srv, ss))
		logCall(ss.Context(), log, info.FullMethod, time.Since(start), err)
		return err
	}
}

func unaryMapErrors(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	return resp, ToStatus(err)
}

func streamMapErrors(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return ToStatus(handler(srv, ss))
}

// logCall writes the one line of a finished call. err is already a status.
func logCall(ctx context.Context, log *slog.Logger, method string, d time.Duration, err error) {
	st := status.Convert(err)
	level := levelFor(st.Code())
	if strings.HasPrefix(method, "/grpc.health.v1.Health/") {
		// Probes every few seconds would drown the calls that matter.
		level = slog.LevelDebug
	}
	attrs := []slog.Attr{
		slog.String("method", method),
		slog.String("code", st.Code().String()),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", st.Message()))
	}
	if cause := internalCause(err); cause != nil {
		attrs = append(attrs, slog.String("cause", cause.Error()))
		span := trace.SpanFromContext(ctx)
		span.RecordError(cause)
		span.SetStatus(otelcodes.Error, cause.Error())
	}
	log.LogAttrs(ctx, level, "grpc call", attrs...)
}

// levelFor logs what the client got wrong at Warn and what the server got
// wrong at Error, so alerts can key on Error.
func levelFor(c codes.Code) slog.Level {
	switch c {
	case codes.OK:
		return slog.LevelInfo
	case codes.Canceled, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition,
		codes.Aborted, codes.OutOfRange, codes.ResourceExhausted:
		return slog.LevelWarn
	default: // Unknown, DeadlineExceeded, Unimplemented, Internal, Unavailable, DataLoss
		return slog.LevelError
	}
}
