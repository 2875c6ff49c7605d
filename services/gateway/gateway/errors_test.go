package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
)

// lockedBuffer is a log destination tests read while the gateway may write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// unusedAddr is a loopback address nothing listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestBackendDown: a backend that cannot be reached is a 503 with a
// generic message; how the dial failed goes to the log only.
func TestBackendDown(t *testing.T) {
	t.Parallel()
	addr := unusedAddr(t)
	var logs lockedBuffer
	gw, err := New(t.Context(), Config{NeedsAddr: addr, VendorsAddr: addr}, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := gw.Close(); err != nil {
			t.Error(err)
		}
	})

	tests := []struct {
		name, method, target, body string
	}{
		{name: "read, retried", method: "GET", target: "/v1/needs/open-data"},
		{name: "list", method: "GET", target: "/v1/needs?pageSize=5"},
		{name: "write, not retried", method: "POST", target: "/v1/needs", body: `{"title": "x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.target, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer tok")
			}
			rec := httptest.NewRecorder()
			gw.Handler().ServeHTTP(rec, req)

			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("HTTP status = %d, want 503", rec.Code)
			}
			var got spb.Status
			if err := protojson.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body is not a google.rpc.Status: %v\n%s", err, rec.Body)
			}
			if diff := cmp.Diff(statusWith(codes.Unavailable, unavailableMessage), &got, protocmp.Transform()); diff != "" {
				t.Errorf("error body (-want +got):\n%s", diff)
			}
			for _, leak := range []string{"dial", "tcp", "127.0.0.1", "transport", "connection", addr} {
				if strings.Contains(strings.ToLower(rec.Body.String()), leak) {
					t.Errorf("body shows %q: %s", leak, rec.Body)
				}
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
		})
	}
	t.Cleanup(func() {
		// After the subtests: the operators learn what the clients did not.
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "backend call failed") && strings.Contains(line, "connection refused") && strings.Contains(line, addr) {
				return
			}
		}
		t.Errorf("the log does not name the cause:\n%s", logs.String())
	})
}

// TestBackendStatusKept: what a backend says itself reaches the client as
// it was said, whatever its code.
func TestBackendStatusKept(t *testing.T) {
	t.Parallel()
	tests := []struct {
		target   string
		wantHTTP int
		wantErr  *spb.Status
	}{
		{target: "/v1/needs/unavailable", wantHTTP: 503, wantErr: statusWith(codes.Unavailable, "the matching index is being built; retry in a few seconds")},
		{target: "/v1/needs/broken", wantHTTP: 500, wantErr: statusWith(codes.Internal, "internal error")},
		{target: "/v1/needs/missing", wantHTTP: 404, wantErr: statusWith(codes.NotFound, `need "needs/missing" not found`)},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			rec := f.serve(httptest.NewRequestWithContext(t.Context(), "GET", tt.target, nil))
			if rec.Code != tt.wantHTTP {
				t.Errorf("HTTP status = %d, want %d", rec.Code, tt.wantHTTP)
			}
			var got spb.Status
			if err := protojson.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body is not a google.rpc.Status: %v\n%s", err, rec.Body)
			}
			if diff := cmp.Diff(tt.wantErr, &got, protocmp.Transform()); diff != "" {
				t.Errorf("error body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHideTransport covers the decisions of hideTransport one by one,
// including the gateway's own failures, which no request provokes at will.
func TestHideTransport(t *testing.T) {
	t.Parallel()
	transport := status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.5:9090: connect: connection refused"`)
	building := status.New(codes.Unavailable, "index being built")
	tests := []struct {
		name string
		err  error
		sent *status.Status // what the backend sent, if it answered
		want error
	}{
		{name: "unreachable backend", err: transport, want: status.Error(codes.Unavailable, unavailableMessage)},
		{name: "backend's own unavailable", err: building.Err(), sent: building, want: building.Err()},
		{
			name: "backend's own unavailable, retried",
			err:  fmt.Errorf("max retries exhausted: failed after 3 attempts: %w", building.Err()),
			sent: building, want: building.Err(),
		},
		{name: "backend answered, then the client library failed", err: status.Error(codes.Internal, "grpc: error while marshaling"), sent: status.New(codes.OK, ""), want: status.Error(codes.Internal, unavailableMessage)},
		{name: "deadline on the way", err: status.Error(codes.DeadlineExceeded, "context deadline exceeded"), want: status.Error(codes.DeadlineExceeded, unavailableMessage)},
		{name: "unknown from a proxy's HTTP answer", err: status.Error(codes.Unknown, "unexpected HTTP status code received from server: 502 (Bad Gateway)"), want: status.Error(codes.Unknown, unavailableMessage)},
		{name: "internal made on the way", err: status.Error(codes.Internal, "transport: malformed grpc-status"), want: status.Error(codes.Internal, unavailableMessage)},
		{name: "gateway's own failure", err: errors.New("gateway: render 10.0.0.5"), sent: status.New(codes.OK, ""), want: status.Error(codes.Unknown, unavailableMessage)},
		{name: "client errors pass", err: status.Error(codes.InvalidArgument, "bad page token"), want: status.Error(codes.InvalidArgument, "bad page token")},
		{
			name: "own HTTP status kept",
			err:  &runtime.HTTPStatusError{HTTPStatus: http.StatusBadGateway, Err: transport},
			want: &runtime.HTTPStatusError{HTTPStatus: http.StatusBadGateway, Err: status.Error(codes.Unavailable, unavailableMessage)},
		},
	}
	g := &Gateway{log: slog.New(slog.DiscardHandler)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.WithValue(t.Context(), backendStatusKey{}, &backendStatus{sent: tt.sent})
			got := g.hideTransport(ctx, httptest.NewRequest("GET", "/v1/needs/x", nil), tt.err)
			if diff := cmp.Diff(describe(tt.want), describe(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// describe is what of an error reaches the client: its HTTP status, if
// set, its code and message.
func describe(err error) string {
	var custom *runtime.HTTPStatusError
	prefix := ""
	if errors.As(err, &custom) {
		prefix = http.StatusText(custom.HTTPStatus) + ": "
		err = custom.Err
	}
	st := status.Convert(err)
	return prefix + st.Code().String() + ": " + st.Message()
}

// TestBackendStatusHandler: the status of the last attempt counts, and only
// if the backend sent it.
func TestBackendStatusHandler(t *testing.T) {
	t.Parallel()
	refused := status.Error(codes.Unavailable, "connection refused")
	building := status.Error(codes.Unavailable, "index being built")
	begin := &stats.Begin{Client: true}
	trailer := &stats.InTrailer{Client: true}
	end := func(err error) *stats.End { return &stats.End{Client: true, Error: err} }
	tests := []struct {
		name   string
		events []stats.RPCStats
		want   string // describe of the status, "" for none
	}{
		{name: "no answer", events: []stats.RPCStats{begin, end(refused)}},
		{name: "answered", events: []stats.RPCStats{begin, trailer, end(building)}, want: "Unavailable: index being built"},
		{name: "answered OK", events: []stats.RPCStats{begin, trailer, end(nil)}, want: "OK: "},
		{name: "answered, then the retry found no backend", events: []stats.RPCStats{begin, trailer, end(building), begin, end(refused)}},
		{name: "no backend, then the retry answered", events: []stats.RPCStats{begin, end(refused), begin, trailer, end(building)}, want: "Unavailable: index being built"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.WithValue(t.Context(), backendStatusKey{}, &backendStatus{})
			var h backendStatusHandler
			ctx = h.TagRPC(ctx, &stats.RPCTagInfo{FullMethodName: "/govmatch.needs.v1.NeedsService/GetNeed"})
			for _, e := range tt.events {
				h.HandleRPC(ctx, e)
			}
			got := ""
			if st := statusFromBackend(ctx); st != nil {
				got = describe(st.Err())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("status from the backend (-want +got):\n%s", diff)
			}
		})
	}
	// Calls outside an API request (readiness) have no backendStatus.
	backendStatusHandler{}.HandleRPC(t.Context(), trailer)
}
