package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/govmatch/govmatch/pkg/ratelimit"
)

// never refills within a test: decisions depend on the burst alone.
const never = 1e-6

// request is one request of a rate limiting scenario and its expected status.
type request struct {
	peer   string // RemoteAddr
	xff    string // X-Forwarded-For, if any
	auth   string // Authorization, if any
	target string // default /v1/needs/open-data
	want   int
}

func (q request) send(t *testing.T, f *fixture) *httptest.ResponseRecorder {
	t.Helper()
	target := q.target
	if target == "" {
		target = "/v1/needs/open-data"
	}
	req := httptest.NewRequestWithContext(t.Context(), "GET", target, nil)
	req.RemoteAddr = q.peer
	if q.xff != "" {
		req.Header.Set("X-Forwarded-For", q.xff)
	}
	if q.auth != "" {
		req.Header.Set("Authorization", q.auth)
	}
	return f.serve(req)
}

func TestRateLimitScenarios(t *testing.T) {
	t.Parallel()
	const (
		clientA = "198.51.100.1:40000"
		clientB = "198.51.100.2:40000"
		proxy   = "10.0.0.2:50000"
	)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		// tokenAddrBurst, when not zero, sets a TokenAddrLimiter.
		tokenAddrBurst int
		requests       []request
	}{
		{
			name:     "one client's burst is one request",
			requests: []request{{peer: clientA, want: 200}, {peer: clientA, want: 429}},
		},
		{
			name: "clients at separate addresses are independent",
			requests: []request{
				{peer: clientA, want: 200}, {peer: clientB, want: 200},
				{peer: clientA, want: 429}, {peer: clientB, want: 429},
			},
		},
		{
			name: "IPv6 clients are limited per /64",
			requests: []request{
				{peer: "[2001:db8:1:2::1]:40000", want: 200},
				{peer: "[2001:db8:1:2:aaaa::9]:40000", want: 429},
				{peer: "[2001:db8:1:3::1]:40000", want: 200},
			},
		},
		{
			name: "IPv4-mapped IPv6 peer is its IPv4 address",
			requests: []request{
				{peer: "[::ffff:198.51.100.1]:40000", want: 200},
				{peer: clientA, want: 429},
			},
		},
		{
			name: "X-Forwarded-For from an untrusted peer is ignored",
			requests: []request{
				{peer: clientA, xff: "203.0.113.1", want: 200},
				{peer: clientA, xff: "203.0.113.2", want: 429},
			},
		},
		{
			name: "X-Forwarded-For of a proxy is ignored unless the proxy is trusted",
			requests: []request{
				{peer: proxy, xff: "203.0.113.1", want: 200},
				{peer: proxy, xff: "203.0.113.2", want: 429},
			},
		},
		{
			name: "X-Forwarded-For from a trusted proxy names the client", trusted: trusted,
			requests: []request{
				{peer: proxy, xff: "203.0.113.1", want: 200},
				{peer: proxy, xff: "203.0.113.2", want: 200},
				{peer: proxy, xff: "203.0.113.1", want: 429},
				{peer: proxy, want: 200}, // the proxy itself is a client too
			},
		},
		{
			name: "entries a client wrote left of its own address are ignored", trusted: trusted,
			requests: []request{
				{peer: proxy, xff: "192.0.2.1, 203.0.113.1", want: 200},
				{peer: proxy, xff: "192.0.2.2, 203.0.113.1", want: 429},
				{peer: proxy, xff: "203.0.113.1, 192.0.2.3", want: 200}, // 192.0.2.3 is the client
			},
		},
		{
			name: "a chain of trusted proxies is skipped", trusted: trusted,
			requests: []request{
				{peer: proxy, xff: "203.0.113.1, 10.1.1.1", want: 200},
				{peer: proxy, xff: "203.0.113.1", want: 429},
				{peer: proxy, xff: "203.0.113.9:1234, 10.1.1.1:80", want: 200}, // with ports
				{peer: proxy, xff: "203.0.113.9", want: 429},
			},
		},
		{
			name: "an unreadable entry from a trusted proxy stops at the proxy", trusted: trusted,
			requests: []request{
				{peer: proxy, xff: "not-an-address", want: 200},
				{peer: proxy, want: 429},
			},
		},
		{
			name: "tokens share their address's bucket by default",
			requests: []request{
				{peer: clientA, auth: "Bearer alice", want: 200},
				{peer: clientA, auth: "Bearer made-up", want: 429},
				{peer: clientB, auth: "Bearer alice", want: 429}, // alice's own bucket is empty
				{peer: clientB, auth: "Bearer bob", want: 429},   // and that request cost B's address
				{peer: "198.51.100.3:40000", auth: "Bearer bob", want: 200},
			},
		},
		{
			name: "with TokenAddrLimiter, users behind one NAT each get a bucket", tokenAddrBurst: 3,
			requests: []request{
				{peer: clientA, auth: "Bearer alice", want: 200},
				{peer: clientA, auth: "Bearer bob", want: 200},
				{peer: clientA, auth: "Bearer alice", want: 429},   // alice's bucket
				{peer: clientA, want: 200},                         // the anonymous bucket is apart
				{peer: clientA, auth: "Bearer made-up", want: 429}, // the address's 3 token requests are used
				{peer: clientB, auth: "Bearer carol", want: 200},
			},
		},
		{
			name: "the operational endpoints are not limited",
			requests: []request{
				{peer: clientA, want: 200},
				{peer: clientA, target: "/healthz", want: 200},
				{peer: clientA, target: "/readyz", want: 200},
				{peer: clientA, target: "/openapi.json", want: 200},
				{peer: clientA, target: "/healthz", want: 200},
				{peer: clientA, want: 429},
			},
		},
		{
			name: "unknown routes are limited too",
			requests: []request{
				{peer: clientA, target: "/v1/no-such-collection", want: 404},
				{peer: clientA, target: "/v1/no-such-collection", want: 429},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(c *Config) {
				c.Limiter = ratelimit.NewMemory(ratelimit.Limit{Rate: never, Burst: 1})
				if tt.tokenAddrBurst > 0 {
					c.TokenAddrLimiter = ratelimit.NewMemory(ratelimit.Limit{Rate: never, Burst: tt.tokenAddrBurst})
				}
				c.TrustedProxies = tt.trusted
			})
			var want, got []string
			for _, q := range tt.requests {
				desc := fmt.Sprintf("%s from %s xff=%q auth=%q", q.target, q.peer, q.xff, q.auth)
				want = append(want, fmt.Sprint(desc, " → ", q.want))
				got = append(got, fmt.Sprint(desc, " → ", q.send(t, f).Code))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRateLimitResponse(t *testing.T) {
	t.Parallel()
	// Two requests, then one every 2 s: the third waits 2 s.
	f := newFixture(t, func(c *Config) {
		c.Limiter = ratelimit.NewMemory(ratelimit.Limit{Rate: 0.5, Burst: 2})
	})
	type response struct {
		Code    int
		Headers map[string]string
	}
	headers := []string{"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After", "Content-Type"}
	var got []response
	var last *httptest.ResponseRecorder
	for range 3 {
		last = request{peer: "198.51.100.1:40000"}.send(t, f)
		r := response{Code: last.Code, Headers: map[string]string{}}
		for _, h := range headers {
			if v := last.Header().Get(h); v != "" {
				r.Headers[h] = v
			}
		}
		got = append(got, r)
	}
	want := []response{
		{200, map[string]string{"RateLimit-Limit": "2", "RateLimit-Remaining": "1", "RateLimit-Reset": "2", "Content-Type": "application/json"}},
		{200, map[string]string{"RateLimit-Limit": "2", "RateLimit-Remaining": "0", "RateLimit-Reset": "4", "Content-Type": "application/json"}},
		{429, map[string]string{"RateLimit-Limit": "2", "RateLimit-Remaining": "0", "RateLimit-Reset": "4", "Retry-After": "2", "Content-Type": "application/json"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}

	var body spb.Status
	if err := protojson.Unmarshal(last.Body.Bytes(), &body); err != nil {
		t.Fatalf("429 body is not a google.rpc.Status: %v\n%s", err, last.Body)
	}
	st, _ := status.New(codes.ResourceExhausted, "rate limit exceeded, retry in 2 s").
		WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(2 * time.Second)})
	if diff := cmp.Diff(st.Proto(), &body, protocmp.Transform()); diff != "" {
		t.Errorf("429 body (-want +got):\n%s", diff)
	}
	if _, _, creates := f.needs.calls(); len(creates) != 0 {
		t.Errorf("refused request reached the backend: %v", creates)
	}
}

// failingLimiter fails every call, as Redis without FailOpen would.
type failingLimiter struct{}

func (failingLimiter) Allow(context.Context, string) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("redis: connection refused")
}

func TestRateLimitFailsOpen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		limiter     ratelimit.Limiter
		wantHeaders bool
		wantReadyz  string
	}{
		{
			name: "a failing limiter lets requests through", limiter: failingLimiter{},
			wantReadyz: "ok\n",
		},
		{
			// FailOpen's goroutine per call must not outlive it (goleak).
			name: "FailOpen decides in process instead",
			limiter: ratelimit.NewFailOpen(failingLimiter{},
				ratelimit.NewMemory(ratelimit.Limit{Rate: 1, Burst: 100}), slog.New(slog.DiscardHandler)),
			wantHeaders: true,
			wantReadyz:  "ok (rate limiting per replica: shared limiter unavailable)\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(c *Config) { c.Limiter = tt.limiter })
			for i := range 3 {
				rec := request{peer: "198.51.100.1:40000", auth: "Bearer tok"}.send(t, f)
				if rec.Code != 200 {
					t.Fatalf("request %d: HTTP status = %d, want 200; body: %s", i, rec.Code, rec.Body)
				}
				if diff := jsonDiff(t, openDataJSON, rec.Body.String()); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
				if got := rec.Header().Get("RateLimit-Limit") != ""; got != tt.wantHeaders {
					t.Errorf("RateLimit-Limit present: %v, want %v", got, tt.wantHeaders)
				}
			}
			rec := request{peer: "198.51.100.1:40000", target: "/readyz"}.send(t, f)
			if rec.Code != 200 || rec.Body.String() != tt.wantReadyz {
				t.Errorf("/readyz = %d %q, want 200 %q", rec.Code, rec.Body, tt.wantReadyz)
			}
		})
	}
}

func TestRateLimitConfig(t *testing.T) {
	t.Parallel()
	mem := ratelimit.NewMemory(ratelimit.Limit{Rate: 1, Burst: 1})
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "trusted proxies", cfg: Config{NeedsAddr: "localhost:1", VendorsAddr: "localhost:1", MatchingAddr: "localhost:1", Limiter: mem, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}},
		{name: "invalid trusted proxy", cfg: Config{NeedsAddr: "localhost:1", VendorsAddr: "localhost:1", MatchingAddr: "localhost:1", TrustedProxies: []netip.Prefix{{}}}, wantErr: true},
		{name: "TokenAddrLimiter without Limiter", cfg: Config{NeedsAddr: "localhost:1", VendorsAddr: "localhost:1", MatchingAddr: "localhost:1", TokenAddrLimiter: mem}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw, err := New(t.Context(), tt.cfg, slog.New(slog.DiscardHandler))
			if err == nil {
				err = gw.Close()
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("New: %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}
