package grpcx

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/govmatch/govmatch/pkg/ratelimit"
)

// callCodes makes n unary calls on c with ctx and returns their codes.
func callCodes(ctx context.Context, t *testing.T, c testpb.TestServiceClient, n int) []codes.Code {
	t.Helper()
	out := make([]codes.Code, n)
	for i := range out {
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{})
		out[i] = status.Code(err)
	}
	return out
}

func codesOf(c ...codes.Code) []codes.Code { return c }

func TestLimitsRateLimitPerCaller(t *testing.T) {
	t.Parallel()
	ok, limited := codes.OK, codes.ResourceExhausted
	key, err := NewInternalKey()
	if err != nil {
		t.Fatal(err)
	}
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	bearer := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
	}
	tests := []struct {
		name    string
		limits  func() Limits
		dial    []grpc.DialOption
		callers []context.Context // each makes its calls in turn
		calls   int
		want    [][]codes.Code
	}{{
		name:    "anonymous callers share their address's bucket",
		limits:  func() Limits { return Limits{Limiter: ratelimit.NewMemory(ratelimit.Limit{Rate: 0.001, Burst: 2})} },
		callers: []context.Context{t.Context(), t.Context()},
		calls:   2,
		want:    [][]codes.Code{codesOf(ok, ok), codesOf(limited, limited)},
	}, {
		name:    "a token has a bucket of its own, and the address's too",
		limits:  func() Limits { return Limits{Limiter: ratelimit.NewMemory(ratelimit.Limit{Rate: 0.001, Burst: 3})} },
		callers: []context.Context{bearer("a"), bearer("b")},
		calls:   2,
		// b's bucket is full, the address's has one call left.
		want: [][]codes.Code{codesOf(ok, ok), codesOf(ok, limited)},
	}, {
		name: "trusted peers are not limited",
		limits: func() Limits {
			return Limits{Limiter: ratelimit.NewMemory(ratelimit.Limit{Rate: 0.001, Burst: 1}), TrustedPeers: []netip.Prefix{loopback}}
		},
		callers: []context.Context{t.Context()},
		calls:   3,
		want:    [][]codes.Code{codesOf(ok, ok, ok)},
	}, {
		name: "the process's own calls are not limited",
		limits: func() Limits {
			return Limits{Limiter: ratelimit.NewMemory(ratelimit.Limit{Rate: 0.001, Burst: 1}), Internal: key}
		},
		dial:    []grpc.DialOption{key.DialOption()},
		callers: []context.Context{t.Context()},
		calls:   3,
		want:    [][]codes.Code{codesOf(ok, ok, ok)},
	}, {
		name: "another process's key counts for nothing",
		limits: func() Limits {
			other, err := NewInternalKey()
			if err != nil {
				t.Fatal(err)
			}
			return Limits{Limiter: ratelimit.NewMemory(ratelimit.Limit{Rate: 0.001, Burst: 1}), Internal: other}
		},
		dial:    []grpc.DialOption{key.DialOption()},
		callers: []context.Context{t.Context()},
		calls:   2,
		want:    [][]codes.Code{codesOf(ok, limited)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := start(t, func(context.Context) error { return nil }, tt.limits().ServerOptions()...)
			conn := s.conn
			if tt.dial != nil {
				var err error
				if conn, err = Dial(t.Context(), s.conn.Target(), tt.dial...); err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
			}
			c := testpb.NewTestServiceClient(conn)
			var got [][]codes.Code
			for _, ctx := range tt.callers {
				got = append(got, callCodes(ctx, t, c, tt.calls))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("codes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLimitsRefusalTellsWhenToRetry(t *testing.T) {
	t.Parallel()
	s := start(t, func(context.Context) error { return nil },
		Limits{Limiter: ratelimit.NewMemory(ratelimit.Limit{Rate: 0.5, Burst: 1})}.ServerOptions()...)
	c := s.client()
	if _, err := c.UnaryCall(t.Context(), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err := c.UnaryCall(t.Context(), &testpb.SimpleRequest{})
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "retry in 2 s") {
		t.Fatalf("second call: %v, want ResourceExhausted retry in 2 s", err)
	}
	var delay *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri
		}
	}
	if delay == nil || delay.GetRetryDelay().AsDuration().Seconds() != 2 {
		t.Errorf("RetryInfo = %v, want 2s", delay)
	}
}

func TestLimitsMessageSize(t *testing.T) {
	t.Parallel()
	s := start(t, func(context.Context) error { return nil }, Limits{MaxMessageBytes: 1024}.ServerOptions()...)
	c := s.client()
	small := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: make([]byte, 512)}}
	if _, err := c.UnaryCall(t.Context(), small); err != nil {
		t.Fatalf("512 bytes: %v", err)
	}
	large := &testpb.SimpleRequest{Payload: &testpb.Payload{Body: make([]byte, 2048)}}
	if _, err := c.UnaryCall(t.Context(), large); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("2048 bytes: %v, want ResourceExhausted", err)
	}
}
