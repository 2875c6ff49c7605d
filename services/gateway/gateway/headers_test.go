package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/ratelimit"
)

// TestResponseHeaders: every answer has nosniff; answers to requests with
// credentials and error answers are never stored; public reads keep their
// caching.
func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		method      string
		target      string
		auth        string
		contentType string
		body        string
		limited     bool // a limiter with room for one request, taken before
		wantHTTP    int
		wantCache   string // Cache-Control; "" means none
	}{
		{name: "public read", method: "GET", target: "/v1/needs/open-data", wantHTTP: 200},
		{name: "read with credentials", method: "GET", target: "/v1/needs/open-data", auth: "Bearer tok", wantHTTP: 200, wantCache: "no-store"},
		{name: "list with credentials", method: "GET", target: "/v1/needs", auth: "Bearer tok", wantHTTP: 200, wantCache: "no-store"},
		{
			name: "write with credentials", method: "POST", target: "/v1/needs", auth: "Bearer tok",
			contentType: "application/json", body: `{"title": "x"}`, wantHTTP: 200, wantCache: "no-store",
		},
		{name: "public not found", method: "GET", target: "/v1/needs/missing", wantHTTP: 404, wantCache: "no-store"},
		{name: "public internal error", method: "GET", target: "/v1/needs/broken", wantHTTP: 500, wantCache: "no-store"},
		{name: "unknown route", method: "GET", target: "/v1/no-such-collection", wantHTTP: 404, wantCache: "no-store"},
		{
			name: "body over the limit", method: "POST", target: "/v1/needs", auth: "Bearer tok",
			contentType: "application/json", body: `{"title": "` + strings.Repeat("x", 2000) + `"}`, wantHTTP: 413, wantCache: "no-store",
		},
		{
			name: "not JSON", method: "POST", target: "/v1/needs", contentType: "text/plain", body: "x",
			wantHTTP: 415, wantCache: "no-store",
		},
		{name: "rate limited", method: "GET", target: "/v1/needs/open-data", limited: true, wantHTTP: 429, wantCache: "no-store"},
		{name: "liveness", method: "GET", target: "/healthz", wantHTTP: 200, wantCache: "no-store"},
		{name: "openapi", method: "GET", target: "/openapi.json", wantHTTP: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, func(c *Config) {
				if tt.limited {
					c.Limiter = ratelimit.NewMemory(ratelimit.Limit{Rate: never, Burst: 1})
				}
			})
			if tt.limited {
				f.serve(httptest.NewRequestWithContext(t.Context(), tt.method, tt.target, nil))
			}
			req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.target, strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := f.serve(req)
			type headers struct {
				Code         int
				NoSniff      string
				CacheControl string
			}
			want := headers{tt.wantHTTP, "nosniff", tt.wantCache}
			got := headers{rec.Code, rec.Header().Get("X-Content-Type-Options"), rec.Header().Get("Cache-Control")}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s\nbody: %s", diff, rec.Body)
			}
		})
	}
}

// TestAdminHeaders: the admin port sends nosniff too.
func TestAdminHeaders(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	rec := httptest.NewRecorder()
	f.admin.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/metrics", nil))
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
}

// TestResponseMetadataAllowlist: none of a backend's response metadata
// reaches the client, on success and on error; the request id the client
// sees is the one the gateway sent to the backend.
func TestResponseMetadataAllowlist(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		target   string
		wantHTTP int
	}{
		{target: "/v1/needs/chatty", wantHTTP: 200},
		{target: "/v1/needs/chatty-missing", wantHTTP: 404},
	} {
		t.Run(tt.target, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			req := httptest.NewRequestWithContext(t.Context(), "GET", tt.target, nil)
			// grpc-gateway sends trailers only to clients that ask for them.
			req.Header.Set("TE", "trailers")
			req.Header.Set("X-Request-Id", "client-7")
			rec := f.serve(req)
			if rec.Code != tt.wantHTTP {
				t.Fatalf("HTTP status = %d, want %d; body: %s", rec.Code, tt.wantHTTP, rec.Body)
			}
			if got := rec.Header().Values("X-Request-Id"); !cmp.Equal(got, []string{"client-7"}) {
				t.Errorf("X-Request-Id = %q, want the client's [client-7]", got)
			}
			all := http.Header{}
			for k, v := range rec.Result().Header {
				all[k] = v
			}
			for k, v := range rec.Result().Trailer {
				all["Trailer "+k] = v
			}
			for k, v := range all {
				for _, s := range append([]string{k}, v...) {
					l := strings.ToLower(s)
					if strings.Contains(l, "grpc") || strings.Contains(l, "10.0.0.5") || strings.Contains(l, "select") || strings.Contains(l, "upstream") {
						t.Errorf("header %s: %q passed on from the backend", k, v)
					}
				}
			}
		})
	}
}
