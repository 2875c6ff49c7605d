package grpcx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	otelcodes "go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/telemetry"
)

// spans records every span of the package's tests; tests find theirs by
// trace id.
var spans = tracetest.NewSpanRecorder()

func TestMain(m *testing.M) {
	// otelgrpc uses the global provider; set it once, before any test runs.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	goleak.VerifyTestMain(m)
}

// fakeService runs behave for every unary and server-streaming call.
type fakeService struct {
	testpb.UnimplementedTestServiceServer
	behave func(ctx context.Context) error
}

func (f *fakeService) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := f.behave(ctx); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{}, nil
}

func (f *fakeService) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	return f.behave(stream.Context())
}

// logBuffer is written by server goroutines and read by the test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines decodes the JSON log lines written so far.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b.buf.Bytes()))
	for {
		var m map[string]any
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("log is not JSON lines: %v\n%s", err, b.buf.String())
		}
		out = append(out, m)
	}
}

type testServer struct {
	srv  *Server
	conn *grpc.ClientConn
	logs *logBuffer
}

func (s *testServer) client() testpb.TestServiceClient { return testpb.NewTestServiceClient(s.conn) }

// start serves a fakeService with behave on a loopback port.
func start(t *testing.T, behave func(context.Context) error, opts ...grpc.ServerOption) *testServer {
	t.Helper()
	return startWith(t, behave, nil, opts...)
}

// startWith is start with setup run on the server before it serves.
func startWith(t *testing.T, behave func(context.Context) error, setup func(*Server), opts ...grpc.ServerOption) *testServer {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(telemetry.NewTraceHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	srv := NewServer(log, opts...)
	testpb.RegisterTestServiceServer(srv, &fakeService{behave: behave})
	if setup != nil {
		setup(srv)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	conn, err := Dial(t.Context(), lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Error(err)
		}
		srv.Stop()
		// ErrServerStopped: a test stopped the server before it served.
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Error(err)
		}
	})
	return &testServer{srv: srv, conn: conn, logs: logs}
}

func validationError() error {
	var v errdefs.Violations
	v.Add("need.title", "must not be empty")
	v.Add("need.estimated_budget.max_eur", "must be at least min_eur")
	return v.Err()
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	badRequest := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: "need.title", Description: "must not be empty"},
		{Field: "need.estimated_budget.max_eur", Description: "must be at least min_eur"},
	}}
	tests := []struct {
		name      string
		behave    func(context.Context) error
		want      *spb.Status // nil: OK
		wantLevel string
		// wantLog are substrings of the log output, e.g. the hidden cause.
		wantLog []string
	}{
		{name: "ok", behave: func(context.Context) error { return nil }, want: nil, wantLevel: "INFO"},
		{
			name:      "validation",
			behave:    func(context.Context) error { return validationError() },
			want:      statusProto(t, codes.InvalidArgument, validationError().Error(), badRequest),
			wantLevel: "WARN",
		},
		{
			name: "not found",
			behave: func(context.Context) error {
				return fmt.Errorf("get: %w", errdefs.NotFound("need %q not found", "needs/x"))
			},
			want:      statusProto(t, codes.NotFound, `need "needs/x" not found`),
			wantLevel: "WARN",
		},
		{
			name:      "unknown error",
			behave:    func(context.Context) error { return errors.New("dial tcp 10.1.2.3:5432: connection refused") },
			want:      statusProto(t, codes.Internal, "internal error"),
			wantLevel: "ERROR",
			wantLog:   []string{"dial tcp 10.1.2.3:5432: connection refused"},
		},
		{
			name:      "panic",
			behave:    func(context.Context) error { panic("nil map in handler") },
			want:      statusProto(t, codes.Internal, "internal error"),
			wantLevel: "ERROR",
			wantLog:   []string{"grpc panic", "nil map in handler", "goroutine ", "server_test.go"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, rpc := range []string{"unary", "stream"} {
				ts := start(t, tt.behave)
				var err error
				switch rpc {
				case "unary":
					_, err = ts.client().UnaryCall(t.Context(), &testpb.SimpleRequest{})
				case "stream":
					var stream grpc.ServerStreamingClient[testpb.StreamingOutputCallResponse]
					if stream, err = ts.client().StreamingOutputCall(t.Context(), &testpb.StreamingOutputCallRequest{}); err == nil {
						_, err = stream.Recv()
						if errors.Is(err, io.EOF) {
							err = nil
						}
					}
				}
				if diff := cmp.Diff(tt.want, status.Convert(err).Proto(), protocmp.Transform()); diff != "" {
					t.Errorf("%s: status (-want +got):\n%s", rpc, diff)
				}
				// The server is still alive after a panic.
				if _, err := healthpb.NewHealthClient(ts.conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
					t.Errorf("%s: health check after call: %v", rpc, err)
				}

				out, _ := json.Marshal(ts.logs.lines(t))
				for _, want := range tt.wantLog {
					if !strings.Contains(string(out), want) {
						t.Errorf("%s: log lacks %q:\n%s", rpc, want, out)
					}
				}
				var levels []string
				for _, l := range ts.logs.lines(t) {
					if l["method"] != "/grpc.health.v1.Health/Check" {
						levels = append(levels, l["level"].(string))
					}
				}
				if !slices.Contains(levels, tt.wantLevel) {
					t.Errorf("%s: log levels %v, want a line at %s", rpc, levels, tt.wantLevel)
				}
			}
		})
	}
}

func TestServerLogsOneLinePerCallWithTrace(t *testing.T) {
	t.Parallel()
	cause := errors.New("redis: connection pool timeout")
	ts := start(t, func(context.Context) error { return cause })

	_, err := ts.client().UnaryCall(t.Context(), &testpb.SimpleRequest{})
	if status.Code(err) != codes.Internal {
		t.Fatalf("code = %v, want Internal", status.Code(err))
	}

	lines := ts.logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("got %d log lines, want 1: %v", len(lines), lines)
	}
	line := lines[0]
	traceID, _ := line["trace_id"].(string)
	if traceID == "" || line["span_id"] == "" {
		t.Fatalf("log line has no trace_id/span_id: %v", line)
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("log line has no duration_ms: %v", line)
	}
	got := map[string]any{"msg": line["msg"], "level": line["level"], "method": line["method"], "code": line["code"], "error": line["error"], "cause": line["cause"]}
	want := map[string]any{
		"msg":    "grpc call",
		"level":  "ERROR",
		"method": "/grpc.testing.TestService/UnaryCall",
		"code":   "Internal",
		"error":  "internal error",
		"cause":  cause.Error(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log line (-want +got):\n%s", diff)
	}

	// The server span of that trace records the cause.
	var server sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.SpanContext().TraceID().String() == traceID && s.Name() == "grpc.testing.TestService/UnaryCall" && s.SpanKind().String() == "server" {
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no server span with trace id %s", traceID)
	}
	if server.Status().Code != otelcodes.Error {
		t.Errorf("span status = %v, want Error", server.Status())
	}
	var recorded bool
	for _, ev := range server.Events() {
		for _, a := range ev.Attributes {
			if a.Key == "exception.message" && a.Value.AsString() == cause.Error() {
				recorded = true
			}
		}
	}
	if !recorded {
		t.Errorf("span events %v do not record the cause", server.Events())
	}
}

func TestServerInterceptorOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler error
		// caller is the caller's interceptor: it gets the handler's error
		// and returns what the client should then see.
		caller func(handlerErr error) error
		// wantSeen is the code the caller's interceptor saw from the handler.
		wantSeen codes.Code
		want     *spb.Status
	}{
		{
			name:     "caller sees mapped handler error",
			handler:  errdefs.Aborted("etag is stale"),
			caller:   func(err error) error { return err },
			wantSeen: codes.Aborted,
			want:     statusProto(t, codes.Aborted, "etag is stale"),
		},
		{
			name:     "caller's domain error is mapped",
			caller:   func(error) error { return errdefs.Unauthenticated("token expired") },
			wantSeen: codes.OK,
			want:     statusProto(t, codes.Unauthenticated, "token expired"),
		},
		{
			name:     "caller's unknown error is hidden",
			caller:   func(error) error { return errors.New("jwks fetch: 502 from 10.0.0.1") },
			wantSeen: codes.OK,
			want:     statusProto(t, codes.Internal, "internal error"),
		},
		{
			name:     "caller's panic is recovered",
			caller:   func(error) error { panic("interceptor bug") },
			wantSeen: codes.OK,
			want:     statusProto(t, codes.Internal, "internal error"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seen := make(chan codes.Code, 1)
			caller := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				resp, err := handler(ctx, req)
				if _, isStatus := status.FromError(err); err != nil && !isStatus {
					t.Errorf("caller's interceptor got unmapped error %v", err)
				}
				seen <- status.Code(err)
				return resp, tt.caller(err)
			}
			ts := start(t, func(context.Context) error { return tt.handler }, grpc.ChainUnaryInterceptor(caller))

			_, err := ts.client().UnaryCall(t.Context(), &testpb.SimpleRequest{})
			if diff := cmp.Diff(tt.want, status.Convert(err).Proto(), protocmp.Transform()); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if got := <-seen; got != tt.wantSeen {
				t.Errorf("caller's interceptor saw %v, want %v", got, tt.wantSeen)
			}
		})
	}
}

func TestServerHealthAndReflection(t *testing.T) {
	t.Parallel()
	ts := startWith(t, func(context.Context) error { return nil }, (*Server).RegisterReflection)

	resp, err := healthpb.NewHealthClient(ts.conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health = %v, want SERVING", resp.GetStatus())
	}
	for _, s := range spans.Ended() {
		if strings.HasPrefix(s.Name(), "grpc.health.v1.Health/") {
			t.Errorf("health check traced: span %q", s.Name())
		}
	}

	stream, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, s := range r.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	slices.Sort(services)
	want := []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "grpc.testing.TestService"}
	if diff := cmp.Diff(want, services); diff != "" {
		t.Errorf("reflected services (-want +got):\n%s", diff)
	}
}

func TestServerShutdown(t *testing.T) {
	t.Parallel()
	ts := start(t, func(context.Context) error { return nil })
	ts.srv.Shutdown(t.Context())

	resp, err := ts.srv.Health.Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health after Shutdown = %v, want NOT_SERVING", resp.GetStatus())
	}
	if _, err := ts.client().UnaryCall(t.Context(), &testpb.SimpleRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("call after Shutdown: %v, want Unavailable", err)
	}
}

// Reflection lists every method to whoever reaches the port: only an
// operator's choice turns it on.
func TestServerNoReflectionByDefault(t *testing.T) {
	t.Parallel()
	ts := start(t, func(context.Context) error { return nil })
	stream, err := reflectionpb.NewServerReflectionClient(ts.conn).ServerReflectionInfo(t.Context())
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection without RegisterReflection: %v, want Unimplemented", err)
	}
}
