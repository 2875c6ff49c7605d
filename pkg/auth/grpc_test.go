package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/govmatch/govmatch/pkg/identity"
)

// whoami is a tiny gRPC service that reports the caller's principal.
type whoami struct{ calls atomic.Int32 }

func (w *whoami) reply(ctx context.Context) *wrapperspb.StringValue {
	w.calls.Add(1)
	b, err := json.Marshal(identity.FromContext(ctx))
	if err != nil {
		panic(err)
	}
	return wrapperspb.String(string(b))
}

var whoamiDesc = grpc.ServiceDesc{
	ServiceName: "govmatch.test.Whoami",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Who",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, _ any) (any, error) { return srv.(*whoami).reply(ctx), nil }
			if interceptor == nil {
				return h(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/govmatch.test.Whoami/Who"}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "WhoStream",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return stream.SendMsg(srv.(*whoami).reply(stream.Context()))
		},
	}},
}

// startServer runs a gRPC server with the auth interceptors, the whoami
// service and the standard health service on an in-memory listener.
func startServer(t *testing.T, v Verifier) (*grpc.ClientConn, *whoami) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(v)),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(v)),
	)
	w := &whoami{}
	srv.RegisterService(&whoamiDesc, w)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return conn, w
}

func callUnary(ctx context.Context, conn *grpc.ClientConn) (identity.Principal, error) {
	out := new(wrapperspb.StringValue)
	if err := conn.Invoke(ctx, "/govmatch.test.Whoami/Who", wrapperspb.String("hi"), out); err != nil {
		return identity.Principal{}, err
	}
	var p identity.Principal
	if err := json.Unmarshal([]byte(out.GetValue()), &p); err != nil {
		return identity.Principal{}, err
	}
	return p, nil
}

func callStream(ctx context.Context, conn *grpc.ClientConn) (identity.Principal, error) {
	stream, err := conn.NewStream(ctx, &whoamiDesc.Streams[0], "/govmatch.test.Whoami/WhoStream")
	if err != nil {
		return identity.Principal{}, err
	}
	if err := stream.SendMsg(wrapperspb.String("hi")); err != nil {
		return identity.Principal{}, err
	}
	if err := stream.CloseSend(); err != nil {
		return identity.Principal{}, err
	}
	out := new(wrapperspb.StringValue)
	if err := stream.RecvMsg(out); err != nil {
		return identity.Principal{}, err
	}
	var p identity.Principal
	if err := json.Unmarshal([]byte(out.GetValue()), &p); err != nil {
		return identity.Principal{}, err
	}
	return p, nil
}

func TestInterceptors(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	v := d.Verifier("", "")
	good, err := d.Mint("user-1", "stadt-giessen", []identity.Role{identity.RoleBuyer}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	expired := signClaims(t, d, validClaims(testIssuer).with("exp", time.Now().Add(-time.Minute).Unix()))
	otherKey := signClaims(t, newTestIssuer(t, testIssuer), validClaims(testIssuer))
	buyer := identity.Principal{Subject: "user-1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}}

	tests := []struct {
		name     string
		auth     []string // authorization metadata values
		want     identity.Principal
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "no header is anonymous", want: identity.Principal{}},
		{name: "valid token", auth: []string{"Bearer " + good}, want: buyer},
		{name: "lower-case scheme", auth: []string{"bearer " + good}, want: buyer},
		{name: "upper-case scheme", auth: []string{"BEARER " + good}, want: buyer},
		{name: "malformed token", auth: []string{"Bearer not-a-jwt"}, wantCode: codes.Unauthenticated, wantMsg: "token malformed"},
		{name: "expired token", auth: []string{"Bearer " + expired}, wantCode: codes.Unauthenticated, wantMsg: "token expired"},
		{name: "foreign key", auth: []string{"Bearer " + otherKey}, wantCode: codes.Unauthenticated, wantMsg: "token signature invalid"},
		{name: "basic scheme", auth: []string{"Basic dXNlcjpwYXNz"}, wantCode: codes.Unauthenticated, wantMsg: `authorization header must be "Bearer <token>"`},
		{name: "token without scheme", auth: []string{good}, wantCode: codes.Unauthenticated, wantMsg: `authorization header must be "Bearer <token>"`},
		{name: "scheme without token", auth: []string{"Bearer "}, wantCode: codes.Unauthenticated, wantMsg: `authorization header must be "Bearer <token>"`},
		{name: "empty header", auth: []string{""}, wantCode: codes.Unauthenticated, wantMsg: `authorization header must be "Bearer <token>"`},
		{name: "two headers", auth: []string{"Bearer " + good, "Bearer " + good}, wantCode: codes.Unauthenticated, wantMsg: "more than one authorization header"},
	}
	calls := map[string]func(context.Context, *grpc.ClientConn) (identity.Principal, error){
		"unary":  callUnary,
		"stream": callStream,
	}
	for _, tc := range tests {
		for kind, call := range calls {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				t.Parallel()
				conn, w := startServer(t, v)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				for _, a := range tc.auth {
					ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
				}
				got, err := call(ctx, conn)
				if tc.wantCode == codes.OK {
					if err != nil {
						t.Fatalf("call: %v", err)
					}
					if diff := cmp.Diff(tc.want, got); diff != "" {
						t.Errorf("principal in handler mismatch (-want +got):\n%s", diff)
					}
					if diff := cmp.Diff(int32(1), w.calls.Load()); diff != "" {
						t.Errorf("handler calls mismatch (-want +got):\n%s", diff)
					}
					return
				}
				type result struct {
					Code  codes.Code
					Msg   string
					Calls int32
				}
				st, _ := status.FromError(err)
				if diff := cmp.Diff(result{tc.wantCode, tc.wantMsg, 0}, result{st.Code(), st.Message(), w.calls.Load()}); diff != "" {
					t.Errorf("result mismatch (-want +got):\n%s", diff)
				}
			})
		}
	}
}

func TestInterceptorSkipsHealth(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	conn, _ := startServer(t, d.Verifier("", ""))
	tests := []struct {
		name string
		auth string
	}{
		{name: "no token"},
		{name: "garbage token", auth: "Bearer garbage"},
		{name: "wrong scheme", auth: "Basic x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if tc.auth != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tc.auth)
			}
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if diff := cmp.Diff(healthpb.HealthCheckResponse_SERVING, resp.GetStatus()); diff != "" {
				t.Errorf("health status mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnauthenticatedMethod(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method string
		skip   bool
	}{
		{method: "/grpc.health.v1.Health/Check", skip: true},
		{method: "/grpc.health.v1.Health/Watch", skip: true},
		{method: "/grpc.health.v1.Health/List", skip: true},
		{method: "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", skip: true},
		{method: "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", skip: true},
		{method: "/govmatch.needs.v1.NeedService/CreateNeed"},
		{method: "/grpc.health.v1.HealthX/Check"},
		{method: "/grpc.healthy.v1.Health/Check"},
		{method: "/x/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"},
	}
	for _, tc := range tests {
		t.Run(tc.method, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.skip, unauthenticatedMethod(tc.method)); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// verifierFunc adapts a function to Verifier.
type verifierFunc func(context.Context, string) (identity.Principal, error)

func (f verifierFunc) Verify(ctx context.Context, tok string) (identity.Principal, error) {
	return f(ctx, tok)
}

func TestVerifyStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		err      error
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "rejection", err: reject(ErrExpired, errors.New("exp 12345")), wantCode: codes.Unauthenticated, wantMsg: "token expired"},
		{name: "bare reason", err: ErrNoRole, wantCode: codes.Unauthenticated, wantMsg: "token has no govmatch role"},
		{name: "wrapped reason keeps only the reason", err: fmt.Errorf("secret internal detail: %w", ErrAudience), wantCode: codes.Unauthenticated, wantMsg: "token audience not accepted"},
		{name: "foreign error is not echoed", err: errors.New("dial tcp 10.0.0.5:8443: connection refused"), wantCode: codes.Unauthenticated, wantMsg: "token invalid"},
		{name: "keys unavailable", err: reject(ErrKeysUnavailable, errors.New("503 from keycloak")), wantCode: codes.Unavailable, wantMsg: "token signing keys unavailable"},
		{name: "canceled", err: context.Canceled, wantCode: codes.Canceled, wantMsg: context.Canceled.Error()},
		{name: "deadline", err: fmt.Errorf("waiting for keys: %w", context.DeadlineExceeded), wantCode: codes.DeadlineExceeded, wantMsg: "waiting for keys: " + context.DeadlineExceeded.Error()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Through a real server, so the status is what a client sees.
			conn, w := startServer(t, verifierFunc(func(context.Context, string) (identity.Principal, error) {
				return identity.Principal{}, tc.err
			}))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer x")
			_, err := callUnary(ctx, conn)
			st, _ := status.FromError(err)
			type result struct {
				Code  codes.Code
				Msg   string
				Calls int32
			}
			if diff := cmp.Diff(result{tc.wantCode, tc.wantMsg, 0}, result{st.Code(), st.Message(), w.calls.Load()}); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterceptorReplacesPrincipalFromEarlierInterceptor(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	smuggle := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(identity.NewContext(ctx, identity.Principal{Subject: "mallory", Roles: []identity.Role{identity.RoleAdmin}}), req)
	}
	var got identity.Principal
	_, err := smuggle(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/govmatch.test.Whoami/Who"},
		func(ctx context.Context, req any) (any, error) {
			return UnaryServerInterceptor(d.Verifier("", ""))(ctx, req, &grpc.UnaryServerInfo{FullMethod: "/govmatch.test.Whoami/Who"},
				func(ctx context.Context, _ any) (any, error) {
					got = identity.FromContext(ctx)
					return nil, nil
				})
		})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(identity.Principal{}, got); diff != "" {
		t.Errorf("principal mismatch (-want +got):\n%s", diff)
	}
}

func TestInterceptorsRejectNilVerifier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    func()
	}{
		{name: "unary", f: func() { UnaryServerInterceptor(nil) }},
		{name: "stream", f: func() { StreamServerInterceptor(nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
}
