package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
)

// TestGRPCDefaultsByTarget: the monolith's gRPC port is for its own
// gateway, so it listens on loopback and trusts no peer; a service target
// is reached by its peers in the cluster.
func TestGRPCDefaultsByTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		env            map[string]string
		wantAddr       string
		wantReflection bool
		wantPeers      int
	}{
		{name: "monolith", env: map[string]string{}, wantAddr: "127.0.0.1:9090", wantReflection: true},
		{name: "needs service", env: map[string]string{"GOVMATCH_TARGET": "needs"}, wantAddr: ":9090", wantPeers: len(privateNetworks)},
		{name: "peers named", env: map[string]string{"GOVMATCH_TARGET": "needs", "GOVMATCH_GRPC_TRUSTED_PEERS": "10.1.0.0/16"}, wantAddr: ":9090", wantPeers: 1},
		{name: "no peer trusted", env: map[string]string{"GOVMATCH_TARGET": "needs", "GOVMATCH_GRPC_TRUSTED_PEERS": "none"}, wantAddr: ":9090"},
		{name: "address and reflection set", env: map[string]string{"GOVMATCH_GRPC_ADDR": ":9999", "GOVMATCH_GRPC_REFLECTION": "false"}, wantAddr: ":9999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			peers, err := cfg.grpcTrustedPeers()
			if err != nil {
				t.Fatal(err)
			}
			wantAdmin := ":9091"
			if cfg.Target == TargetAll {
				wantAdmin = "127.0.0.1:9091"
			}
			if cfg.AdminAddr != wantAdmin {
				t.Errorf("admin address %q, want %q", cfg.AdminAddr, wantAdmin)
			}
			if cfg.GRPCAddr != tt.wantAddr || cfg.grpcReflection() != tt.wantReflection || len(peers) != tt.wantPeers {
				t.Errorf("addr %q, reflection %v, %d trusted peers; want %q, %v, %d",
					cfg.GRPCAddr, cfg.grpcReflection(), len(peers), tt.wantAddr, tt.wantReflection, tt.wantPeers)
			}
		})
	}
}

// TestDevIssuerOnlyWhereSafe: without OIDC_ISSUER_URL, a configuration
// that looks like production refuses to start instead of trusting a key
// file on disk.
func TestDevIssuerOnlyWhereSafe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		wantErr bool
	}{
		{name: "monolith on SQLite", env: map[string]string{}},
		{name: "monolith on PostgreSQL", env: map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/x"}, wantErr: true},
		{name: "monolith with Redis", env: map[string]string{"REDIS_URL": "redis://127.0.0.1:1"}, wantErr: true},
		{name: "a service on its own", env: map[string]string{"GOVMATCH_TARGET": "needs"}, wantErr: true},
		{name: "said to be unsafe", env: map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/x", "GOVMATCH_UNSAFE_DEV_ISSUER": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.env["GOVMATCH_DATA_DIR"] = t.TempDir()
			cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = newVerifier(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			switch {
			case tt.wantErr && (err == nil || !strings.Contains(err.Error(), "OIDC_ISSUER_URL")):
				t.Errorf("newVerifier = %v, want an error naming OIDC_ISSUER_URL", err)
			case !tt.wantErr && err != nil:
				t.Errorf("newVerifier: %v", err)
			}
		})
	}
}

// TestGRPCPortHasTheGatewaysLimits: a client that talks gRPC directly is
// rate-limited and size-limited as it would be through REST, while the
// gateway's own calls are not counted against it.
func TestGRPCPortHasTheGatewaysLimits(t *testing.T) {
	t.Parallel()
	sys := startMonolith(t, "", false,
		"GOVMATCH_RATE_LIMIT", "0.001", "GOVMATCH_RATE_BURST", "3",
		"GOVMATCH_MAX_BODY_BYTES", "4096", "GOVMATCH_GRPC_REFLECTION", "false")
	conn, err := grpc.NewClient(sys.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	needs := needsv1.NewNeedsServiceClient(conn)
	ctx := t.Context()

	// Reflection is off as configured.
	refl, err := grpc_reflection_v1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err == nil {
		// A Send that finds the stream ended says io.EOF; Recv has the
		// status.
		_ = refl.Send(&grpc_reflection_v1.ServerReflectionRequest{
			MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{}})
		_, err = refl.Recv()
	}
	if got := status.Code(err); got != codes.Unimplemented {
		t.Errorf("reflection: %v, want Unimplemented", err)
	}
	// gRPC refuses an oversize message before any handler or interceptor
	// runs, so it costs no token.
	_, err = needs.ListNeeds(ctx, &needsv1.ListNeedsRequest{Query: strings.Repeat("x", 8192)})
	if got := status.Code(err); got != codes.ResourceExhausted || !strings.Contains(err.Error(), "larger than max") {
		t.Errorf("8 KiB request: %v, want ResourceExhausted for its size", err)
	}
	var codesSeen []codes.Code
	for range 4 {
		_, err := needs.ListNeeds(ctx, &needsv1.ListNeedsRequest{})
		codesSeen = append(codesSeen, status.Code(err))
	}
	want := []codes.Code{codes.OK, codes.OK, codes.OK, codes.ResourceExhausted}
	if !equalCodes(codesSeen, want) {
		t.Errorf("four anonymous gRPC calls with a burst of 3: %v, want %v", codesSeen, want)
	}
	// REST has a bucket of its own, and the gateway's calls to gRPC carry
	// the process's internal key.
	if r := sys.call(t, http.MethodGet, "/v1/needs", "", nil); r.status != http.StatusOK {
		t.Errorf("REST after the gRPC client ran out: %d %s", r.status, r.raw)
	}
}

func equalCodes(a, b []codes.Code) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
