package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/grpcx"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
)

// spans and metrics record what every test reports; tests find theirs by
// trace id or route.
var (
	spans   = tracetest.NewSpanRecorder()
	metrics = sdkmetric.NewManualReader()
)

func TestMain(m *testing.M) {
	// otelhttp and otelgrpc use the global providers and propagator.
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(metrics)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	goleak.VerifyTestMain(m)
}

// fakeNeeds answers with canned needs and with errors made by
// grpcx.ToStatus, and records what reached it.
type fakeNeeds struct {
	needsv1.UnimplementedNeedsServiceServer

	mu      sync.Mutex
	md      []metadata.MD
	lists   []*needsv1.ListNeedsRequest
	creates []*needsv1.CreateNeedRequest
}

var openData = &needsv1.Need{
	Name:            "needs/open-data",
	Title:           "Open data portal",
	CpvCodes:        []string{"72212000"},
	EstimatedBudget: &needsv1.BudgetRange{MinEur: 10000, MaxEur: 50000},
	State:           needsv1.Need_STATE_PUBLISHED,
	CreateTime:      timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
	Etag:            "v1",
}

// openDataJSON is openData as the REST API shows it: camelCase, no
// unpopulated fields, int64 as strings.
const openDataJSON = `{
	"name": "needs/open-data",
	"title": "Open data portal",
	"cpvCodes": ["72212000"],
	"estimatedBudget": {"minEur": "10000", "maxEur": "50000"},
	"state": "STATE_PUBLISHED",
	"createTime": "2026-01-02T03:04:05Z",
	"etag": "v1"
}`

func twoViolations() error {
	var v errdefs.Violations
	v.Add("need.title", "must not be empty")
	v.Add("need.cpv_codes[0]", "unknown CPV code %q", "99999999")
	return v.Err()
}

func (f *fakeNeeds) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.md = append(f.md, md)
}

func (f *fakeNeeds) GetNeed(ctx context.Context, req *needsv1.GetNeedRequest) (*needsv1.Need, error) {
	f.record(ctx)
	switch req.GetName() {
	case openData.GetName():
		return openData, nil
	case "needs/invalid":
		return nil, grpcx.ToStatus(twoViolations())
	case "needs/stale":
		return nil, grpcx.ToStatus(errdefs.Aborted("etag %q is stale", "v0"))
	case "needs/broken":
		return nil, grpcx.ToStatus(fmt.Errorf("scan need: %w", errors.New(`pq: password "hunter2" rejected`)))
	case "needs/unavailable":
		return nil, grpcx.ToStatus(errdefs.Unavailable("the matching index is being built; retry in a few seconds"))
	case "needs/chatty", "needs/chatty-missing":
		// Response metadata of the kind a backend or a library in it
		// might send, and one key meant for clients.
		_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", "req-42", "x-upstream-host", "10.0.0.5:9090"))
		_ = grpc.SetTrailer(ctx, metadata.Pairs("x-debug-sql", "SELECT * FROM needs"))
		if req.GetName() == "needs/chatty" {
			return openData, nil
		}
		return nil, grpcx.ToStatus(errdefs.NotFound("need %q not found", req.GetName()))
	default:
		return nil, grpcx.ToStatus(errdefs.NotFound("need %q not found", req.GetName()))
	}
}

func (f *fakeNeeds) ListNeeds(ctx context.Context, req *needsv1.ListNeedsRequest) (*needsv1.ListNeedsResponse, error) {
	f.record(ctx)
	f.mu.Lock()
	f.lists = append(f.lists, req)
	f.mu.Unlock()
	return &needsv1.ListNeedsResponse{Needs: []*needsv1.Need{openData}, NextPageToken: "page-2"}, nil
}

func (f *fakeNeeds) CreateNeed(ctx context.Context, req *needsv1.CreateNeedRequest) (*needsv1.Need, error) {
	f.record(ctx)
	f.mu.Lock()
	f.creates = append(f.creates, req)
	f.mu.Unlock()
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("authorization")) == 0 {
		return nil, grpcx.ToStatus(errdefs.Unauthenticated("sign in to create needs"))
	}
	return &needsv1.Need{Name: "needs/new", Title: req.GetNeed().GetTitle(), State: needsv1.Need_STATE_DRAFT}, nil
}

func (f *fakeNeeds) calls() (md []metadata.MD, lists []*needsv1.ListNeedsRequest, creates []*needsv1.CreateNeedRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.md, f.lists, f.creates
}

type fixture struct {
	needs   *fakeNeeds
	backend *grpcx.Server
	handler http.Handler // the public one
	admin   http.Handler
}

// newFixture serves a fakeNeeds on a loopback port and puts a gateway with
// a 1 KiB body limit in front of it; mod adjusts the gateway's Config.
func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	needs := &fakeNeeds{}
	backend, addr := serveBackend(t, func(s *grpcx.Server) { needsv1.RegisterNeedsServiceServer(s, needs) })
	cfg := Config{
		NeedsAddr:    addr,
		VendorsAddr:  addr,
		MatchingAddr: addr,
		MaxBodyBytes: 1024,
		MetricsHandler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "govmatch_stub_total 1\n")
		}),
		JWKS: []byte(`{"keys":[{"kty":"EC","kid":"dev"}]}`),
	}
	if mod != nil {
		mod(&cfg)
	}
	gw, err := New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := gw.Close(); err != nil {
			t.Error(err)
		}
	})
	return &fixture{needs: needs, backend: backend, handler: gw.Handler(), admin: gw.AdminHandler()}
}

// serveBackend serves what register registers on a loopback port until
// the test ends, and returns the server and its address.
func serveBackend(t *testing.T, register func(*grpcx.Server)) (*grpcx.Server, string) {
	t.Helper()
	backend := grpcx.NewServer(slog.New(slog.DiscardHandler))
	register(backend)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- backend.Serve(lis) }()
	t.Cleanup(func() {
		backend.Stop()
		// ErrServerStopped: a test stopped the backend before it served.
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Error(err)
		}
	})
	return backend, lis.Addr().String()
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

// jsonDiff compares two JSON documents by value.
func jsonDiff(t *testing.T, want, got string) string {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return fmt.Sprintf("got is not JSON (%v): %s", err, got)
	}
	return cmp.Diff(w, g)
}

func statusWith(c codes.Code, msg string, details ...*errdetails.BadRequest) *spb.Status {
	st := status.New(c, msg)
	for _, d := range details {
		st, _ = st.WithDetails(d)
	}
	return st.Proto()
}

func TestAPI(t *testing.T) {
	t.Parallel()
	big := `{"title": "` + strings.Repeat("x", 2000) + `"}`
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		auth        string
		body        string
		// unknownLength sends the body without a Content-Length, as a
		// chunked request does.
		unknownLength bool

		wantHTTP int
		wantJSON string      // the body of a success
		wantErr  *spb.Status // the body of an error
		// anyMessage ignores the message of wantErr: it is grpc-gateway's.
		anyMessage bool
		check      func(t *testing.T, f *fakeNeeds)
	}{
		{name: "get need", method: "GET", target: "/v1/needs/open-data", wantHTTP: 200, wantJSON: openDataJSON},
		{
			name: "list needs with filters", method: "GET",
			target:   "/v1/needs?states=STATE_PUBLISHED&states=STATE_IN_PROCUREMENT&cpvCodes=72000000&pageSize=5",
			wantHTTP: 200, wantJSON: `{"needs": [` + openDataJSON + `], "nextPageToken": "page-2"}`,
			check: func(t *testing.T, f *fakeNeeds) {
				_, lists, _ := f.calls()
				want := []*needsv1.ListNeedsRequest{{
					PageSize: 5,
					States:   []needsv1.Need_State{needsv1.Need_STATE_PUBLISHED, needsv1.Need_STATE_IN_PROCUREMENT},
					CpvCodes: []string{"72000000"},
				}}
				if diff := cmp.Diff(want, lists, protocmp.Transform()); diff != "" {
					t.Errorf("ListNeeds requests (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "unknown enum in query", method: "GET", target: "/v1/needs?states=FOO",
			wantHTTP: 400, wantErr: statusWith(codes.InvalidArgument, ""), anyMessage: true,
			check: func(t *testing.T, f *fakeNeeds) {
				if _, lists, _ := f.calls(); len(lists) != 0 {
					t.Errorf("ListNeeds called with %v", lists)
				}
			},
		},
		{
			name: "validation error keeps every violation", method: "GET", target: "/v1/needs/invalid",
			wantHTTP: 400,
			wantErr: statusWith(codes.InvalidArgument, twoViolations().Error(), &errdetails.BadRequest{
				FieldViolations: []*errdetails.BadRequest_FieldViolation{
					{Field: "need.title", Description: "must not be empty"},
					{Field: "need.cpv_codes[0]", Description: `unknown CPV code "99999999"`},
				},
			}),
		},
		{name: "aborted", method: "GET", target: "/v1/needs/stale", wantHTTP: 409, wantErr: statusWith(codes.Aborted, `etag "v0" is stale`)},
		{name: "not found", method: "GET", target: "/v1/needs/missing", wantHTTP: 404, wantErr: statusWith(codes.NotFound, `need "needs/missing" not found`)},
		{name: "internal error is hidden", method: "GET", target: "/v1/needs/broken", wantHTTP: 500, wantErr: statusWith(codes.Internal, "internal error")},
		{
			name: "create without token", method: "POST", target: "/v1/needs", contentType: "application/json",
			body: `{"title": "Open data portal"}`, wantHTTP: 401, wantErr: statusWith(codes.Unauthenticated, "sign in to create needs"),
		},
		{
			name: "create", method: "POST", target: "/v1/needs?needId=open-data-2", contentType: "application/json; charset=utf-8",
			auth: "Bearer tok", body: `{"title": "Open data portal", "problemStatement": "We publish too little."}`,
			wantHTTP: 200, wantJSON: `{"name": "needs/new", "title": "Open data portal", "state": "STATE_DRAFT"}`,
			check: func(t *testing.T, f *fakeNeeds) {
				_, _, creates := f.calls()
				want := []*needsv1.CreateNeedRequest{{
					NeedId: "open-data-2",
					Need:   &needsv1.Need{Title: "Open data portal", ProblemStatement: "We publish too little."},
				}}
				if diff := cmp.Diff(want, creates, protocmp.Transform()); diff != "" {
					t.Errorf("CreateNeed requests (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "malformed JSON", method: "POST", target: "/v1/needs", contentType: "application/json", auth: "Bearer tok",
			body: `{"title": `, wantHTTP: 400, wantErr: statusWith(codes.InvalidArgument, ""), anyMessage: true,
		},
		{
			name: "unknown JSON field", method: "POST", target: "/v1/needs", contentType: "application/json", auth: "Bearer tok",
			body: `{"title": "x", "colour": "red"}`, wantHTTP: 400, wantErr: statusWith(codes.InvalidArgument, ""), anyMessage: true,
		},
		{
			name: "not JSON", method: "POST", target: "/v1/needs", contentType: "text/plain", auth: "Bearer tok",
			body: `title=x`, wantHTTP: 415, wantErr: statusWith(codes.InvalidArgument, "Content-Type must be application/json"),
		},
		{
			name: "body over the limit", method: "POST", target: "/v1/needs", contentType: "application/json", auth: "Bearer tok",
			body: big, wantHTTP: 413, wantErr: statusWith(codes.InvalidArgument, "request body exceeds the limit of 1024 bytes"),
		},
		{
			name: "body over the limit without length", method: "POST", target: "/v1/needs", contentType: "application/json", auth: "Bearer tok",
			body: big, unknownLength: true, wantHTTP: 413, wantErr: statusWith(codes.InvalidArgument, "request body exceeds the limit of 1024 bytes"),
		},
		{
			name: "body under the limit without length", method: "POST", target: "/v1/needs", contentType: "application/json", auth: "Bearer tok",
			body: `{"title": "Open data portal"}`, unknownLength: true,
			wantHTTP: 200, wantJSON: `{"name": "needs/new", "title": "Open data portal", "state": "STATE_DRAFT"}`,
		},
		{name: "unknown route", method: "GET", target: "/v1/no-such-collection", wantHTTP: 404, wantErr: statusWith(codes.NotFound, ""), anyMessage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.target, body)
			if tt.unknownLength {
				req.ContentLength = -1
				req.Body = io.NopCloser(strings.NewReader(tt.body)) // hide the length from net/http
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := f.serve(req)

			if rec.Code != tt.wantHTTP {
				t.Errorf("HTTP status = %d, want %d; body: %s", rec.Code, tt.wantHTTP, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			if tt.wantErr != nil {
				var got spb.Status
				if err := protojson.Unmarshal(rec.Body.Bytes(), &got); err != nil {
					t.Fatalf("body is not a google.rpc.Status: %v\n%s", err, rec.Body)
				}
				opts := []cmp.Option{protocmp.Transform()}
				if tt.anyMessage {
					opts = append(opts, protocmp.IgnoreFields(&spb.Status{}, "message"))
				}
				if diff := cmp.Diff(tt.wantErr, &got, opts...); diff != "" {
					t.Errorf("error body (-want +got):\n%s", diff)
				}
				if strings.Contains(rec.Body.String(), "hunter2") {
					t.Errorf("error body leaks the cause: %s", rec.Body)
				}
			} else if diff := jsonDiff(t, tt.wantJSON, rec.Body.String()); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if tt.check != nil {
				tt.check(t, f.needs)
			}
			if tt.wantHTTP == 413 || tt.wantHTTP == 415 {
				if _, _, creates := f.needs.calls(); len(creates) != 0 {
					t.Errorf("CreateNeed called with %v", creates)
				}
			}
		})
	}
}

func TestForwardsAuthorizationOnly(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	req := httptest.NewRequestWithContext(t.Context(), "POST", "/v1/needs", strings.NewReader(`{"title": "x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer real-token")
	// Attempts to pose as identity the services might trust.
	req.Header.Set("Grpc-Metadata-Authorization", "Bearer forged")
	req.Header.Set("Grpc-Metadata-X-Govmatch-Org", "stadt-giessen")
	req.Header.Set("X-Govmatch-Org", "stadt-giessen")
	req.Header.Set("Cookie", "session=admin")
	if rec := f.serve(req); rec.Code != 200 {
		t.Fatalf("HTTP status = %d; body: %s", rec.Code, rec.Body)
	}

	mds, _, _ := f.needs.calls()
	if len(mds) != 1 {
		t.Fatalf("got %d calls, want 1", len(mds))
	}
	md := mds[0]
	if diff := cmp.Diff([]string{"Bearer real-token"}, md.Get("authorization")); diff != "" {
		t.Errorf("authorization metadata (-want +got):\n%s", diff)
	}
	for k := range md {
		if strings.Contains(k, "govmatch") || strings.HasPrefix(k, "grpcgateway-") || k == "cookie" {
			t.Errorf("metadata %q=%q forwarded from a client header", k, md[k])
		}
	}
}

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		admin           bool // ask AdminHandler, not Handler
		target          string
		wantHTTP        int
		wantContentType string
		wantBody        string // exact, unless empty
		check           func(t *testing.T, body string)
	}{
		{name: "liveness", target: "/healthz", wantHTTP: 200, wantContentType: "text/plain; charset=utf-8", wantBody: "ok\n"},
		{name: "readiness", target: "/readyz", wantHTTP: 200, wantContentType: "text/plain; charset=utf-8", wantBody: "ok\n"},
		{name: "no metrics on the public port", target: "/metrics", wantHTTP: 404, wantContentType: "application/json"},
		{name: "admin metrics", admin: true, target: "/metrics", wantHTTP: 200, wantBody: "govmatch_stub_total 1\n"},
		{name: "admin liveness", admin: true, target: "/healthz", wantHTTP: 200, wantContentType: "text/plain; charset=utf-8", wantBody: "ok\n"},
		{name: "admin readiness", admin: true, target: "/readyz", wantHTTP: 200, wantContentType: "text/plain; charset=utf-8", wantBody: "ok\n"},
		{name: "no API on the admin port", admin: true, target: "/v1/needs/open-data", wantHTTP: 404},
		{name: "no OpenAPI on the admin port", admin: true, target: "/openapi.json", wantHTTP: 404},
		{name: "jwks", target: "/.well-known/jwks.json", wantHTTP: 200, wantContentType: "application/json", wantBody: `{"keys":[{"kty":"EC","kid":"dev"}]}`},
		{
			name: "openapi", target: "/openapi.json", wantHTTP: 200, wantContentType: "application/json",
			check: func(t *testing.T, body string) {
				var doc struct {
					Paths map[string]any `json:"paths"`
				}
				if err := json.Unmarshal([]byte(body), &doc); err != nil {
					t.Fatalf("openapi.json is not JSON: %v", err)
				}
				if _, ok := doc.Paths["/v1/needs"]; !ok {
					t.Errorf("openapi.json has no /v1/needs path; paths: %v", doc.Paths)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil)
			h := f.handler
			if tt.admin {
				h = f.admin
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", tt.target, nil))
			if rec.Code != tt.wantHTTP {
				t.Errorf("HTTP status = %d, want %d; body: %s", rec.Code, tt.wantHTTP, rec.Body)
			}
			if tt.wantContentType != "" {
				if got := rec.Header().Get("Content-Type"); got != tt.wantContentType {
					t.Errorf("Content-Type = %q, want %q", got, tt.wantContentType)
				}
			}
			if tt.wantBody != "" {
				if diff := cmp.Diff(tt.wantBody, rec.Body.String()); diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			}
			if tt.check != nil {
				tt.check(t, rec.Body.String())
			}
		})
	}
}

func TestOptionalEndpointsOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.MetricsHandler, c.JWKS = nil, nil })
	if rec := f.serve(httptest.NewRequestWithContext(t.Context(), "GET", "/.well-known/jwks.json", nil)); rec.Code != 404 {
		t.Errorf("GET /.well-known/jwks.json = %d, want 404", rec.Code)
	}
	rec := httptest.NewRecorder()
	f.admin.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("admin GET /metrics = %d, want 404", rec.Code)
	}
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mod      func(*Config)
		prepare  func(f *fixture)
		wantHTTP int
		wantBody string
	}{
		{name: "ready", wantHTTP: 200, wantBody: "ok\n"},
		{
			name:     "not ready itself",
			mod:      func(c *Config) { c.Ready = func(context.Context) error { return errors.New("draining") } },
			wantHTTP: 503, wantBody: "not ready: draining\n",
		},
		{
			name:     "degraded but ready",
			mod:      func(c *Config) { c.Degraded = func() []string { return []string{"match cache degraded"} } },
			wantHTTP: 200, wantBody: "ok (match cache degraded)\n",
		},
		{
			name:     "nothing degraded",
			mod:      func(c *Config) { c.Degraded = func() []string { return nil } },
			wantHTTP: 200, wantBody: "ok\n",
		},
		{
			name: "degraded and not ready",
			mod: func(c *Config) {
				c.Ready = func(context.Context) error { return errors.New("draining") }
				c.Degraded = func() []string { return []string{"match cache degraded"} }
			},
			wantHTTP: 503, wantBody: "not ready: draining\n",
		},
		{
			name:     "backend not serving",
			prepare:  func(f *fixture) { f.backend.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING) },
			wantHTTP: 503, wantBody: "needs: NOT_SERVING\n",
		},
		{
			name:     "backend down",
			prepare:  func(f *fixture) { f.backend.Stop() },
			wantHTTP: 503, wantBody: "needs: Unavailable\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tt.mod)
			if tt.prepare != nil {
				tt.prepare(f)
			}
			rec := f.serve(httptest.NewRequestWithContext(t.Context(), "GET", "/readyz", nil))
			got := struct {
				Code int
				Body string
			}{rec.Code, rec.Body.String()}
			want := struct {
				Code int
				Body string
			}{tt.wantHTTP, tt.wantBody}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("/readyz (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTracing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		name     string
		target   string
		wantSpan string // "" means: no span
	}{
		{name: "API route", target: "/v1/needs/open-data", wantSpan: "GET /v1/{name=needs/*}"},
		{name: "list route", target: "/v1/needs", wantSpan: "GET /v1/needs"},
		{name: "openapi", target: "/openapi.json", wantSpan: "GET /openapi.json"},
		{name: "liveness", target: "/healthz"},
		{name: "readiness", target: "/readyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: each case finds its span as the one that
			// appeared during its request, by a trace id it chose.
			tp := sdktrace.NewTracerProvider()
			ctx, parent := tp.Tracer("test").Start(t.Context(), "client")
			parent.End()
			// Only the header carries the trace: otelhttp would use the
			// provider of a span in the request's context.
			req := httptest.NewRequestWithContext(t.Context(), "GET", tt.target, nil)
			otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
			if rec := f.serve(req); rec.Code != 200 {
				t.Fatalf("HTTP status = %d; body: %s", rec.Code, rec.Body)
			}

			var names []string
			for _, s := range spans.Ended() {
				if s.SpanContext().TraceID() == parent.SpanContext().TraceID() && s.SpanKind() == trace.SpanKindServer && s.InstrumentationScope().Name != "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc" {
					names = append(names, s.Name())
				}
			}
			var want []string
			if tt.wantSpan != "" {
				want = []string{tt.wantSpan}
			}
			if diff := cmp.Diff(want, names); diff != "" {
				t.Errorf("HTTP server spans (-want +got):\n%s", diff)
			}
		})
	}

	// The trace continues into the backend.
	mds, _, _ := f.needs.calls()
	if len(mds) == 0 {
		t.Fatal("backend not called")
	}
	if tp := mds[0].Get("traceparent"); len(tp) != 1 {
		t.Errorf("backend got traceparent %v, want one", tp)
	}
}

func TestMetricsLabelledByRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for _, target := range []string{"/v1/needs/open-data", "/v1/needs/missing", "/openapi.json"} {
		f.serve(httptest.NewRequestWithContext(t.Context(), "GET", target, nil))
	}

	var rm metricdata.ResourceMetrics
	if err := metrics.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.request.duration" {
				continue
			}
			hist, ok := m.Data.(metricdata.Histogram[float64])
			if !ok {
				t.Fatalf("http.server.request.duration is %T", m.Data)
			}
			for _, dp := range hist.DataPoints {
				if v, ok := dp.Attributes.Value("http.route"); ok {
					routes[v.AsString()] = true
				}
			}
		}
	}
	for _, want := range []string{"/v1/{name=needs/*}", "/openapi.json"} {
		if !routes[want] {
			t.Errorf("no request duration for route %q; routes: %v", want, routes)
		}
	}
	for _, bad := range []string{"/", "/v1/needs/open-data", "/healthz"} {
		if routes[bad] {
			t.Errorf("request duration labelled with route %q", bad)
		}
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantMax int64
		wantErr bool
	}{
		{name: "default body limit", cfg: Config{NeedsAddr: "localhost:1", VendorsAddr: "localhost:1", MatchingAddr: "localhost:1"}, wantMax: DefaultMaxBodyBytes},
		{name: "own body limit", cfg: Config{NeedsAddr: "localhost:1", VendorsAddr: "localhost:1", MatchingAddr: "localhost:1", MaxBodyBytes: 4096}, wantMax: 4096},
		{name: "no needs address", cfg: Config{}, wantErr: true},
		{name: "negative body limit", cfg: Config{NeedsAddr: "localhost:1", VendorsAddr: "localhost:1", MatchingAddr: "localhost:1", MaxBodyBytes: -1}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			gw, err := New(t.Context(), tt.cfg, slog.New(slog.DiscardHandler))
			if tt.wantErr {
				if err == nil {
					t.Fatal("want error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := gw.Close(); err != nil {
					t.Error(err)
				}
			}()
			if gw.cfg.MaxBodyBytes != tt.wantMax {
				t.Errorf("MaxBodyBytes = %d, want %d", gw.cfg.MaxBodyBytes, tt.wantMax)
			}
		})
	}
}

// TestMetricsCardinality: whatever Host, method, path, user agent or
// forwarding headers clients send, the HTTP metrics have the same series.
func TestMetricsCardinality(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() {
		if err := mp.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	f := newFixture(t, func(c *Config) { c.httpTelemetry = []otelhttp.Option{otelhttp.WithMeterProvider(mp)} })

	// Each kind of request once, then each many times with what a client
	// is free to choose made different every time.
	kinds := []struct{ method, path string }{
		{"GET", "/v1/needs/open-data"},
		{"GET", "/v1/needs/missing-%d"},
		{"POST", "/v1/needs:search-%d"},
		{"FOO%d", "/v1/needs/open-data"},
		{"get", "/v1/needs/open-data"},
		{"GET", "/v1/unknown-%d"},
		{"GET", "/openapi.json"},
	}
	send := func(i int) {
		for _, k := range kinds {
			method := k.method
			if strings.Contains(method, "%d") {
				method = fmt.Sprintf(method, i)
			}
			path := k.path
			if strings.Contains(path, "%d") {
				path = fmt.Sprintf(path, i)
			}
			req := httptest.NewRequestWithContext(t.Context(), method, path, nil)
			req.Host = fmt.Sprintf("client-%d.example:%d", i, 1024+i)
			req.RemoteAddr = fmt.Sprintf("192.0.2.%d:%d", i%250+1, 40000+i)
			req.Header.Set("User-Agent", fmt.Sprintf("probe/%d", i))
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i%250+1))
			req.Header.Set("X-Forwarded-Host", fmt.Sprintf("forwarded-%d.example", i))
			f.serve(req)
		}
	}
	collect := func() (series map[string]int, servers map[string]bool) {
		t.Helper()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(t.Context(), &rm); err != nil {
			t.Fatal(err)
		}
		series, servers = map[string]int{}, map[string]bool{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				var sets []attribute.Set
				switch d := m.Data.(type) {
				case metricdata.Histogram[float64]:
					for _, dp := range d.DataPoints {
						sets = append(sets, dp.Attributes)
					}
				case metricdata.Histogram[int64]:
					for _, dp := range d.DataPoints {
						sets = append(sets, dp.Attributes)
					}
				default:
					t.Fatalf("%s is %T", m.Name, m.Data)
				}
				series[m.Name] = len(sets)
				for _, s := range sets {
					for _, kv := range s.ToSlice() {
						if kv.Key == "server.address" || kv.Key == "server.port" {
							servers[string(kv.Key)+"="+kv.Value.String()] = true
						}
					}
				}
			}
		}
		return series, servers
	}

	send(0)
	before, _ := collect()
	if before["http.server.request.duration"] == 0 {
		t.Fatalf("no request duration recorded: %v", before)
	}
	for i := 1; i <= 200; i++ {
		send(i)
	}
	after, servers := collect()
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("series per metric after 200 × %d requests from made-up clients (-before +after):\n%s", len(kinds), diff)
	}
	if diff := cmp.Diff(map[string]bool{"server.address=gateway": true}, servers); diff != "" {
		t.Errorf("server attributes (-want +got):\n%s", diff)
	}
}
