package auth

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServiceTokenSourceMintsAdminTokens(t *testing.T) {
	t.Parallel()
	iss := newTestIssuer(t, "http://localhost/dev-issuer")
	src := iss.ServiceTokenSource("service:matching")
	tok, err := src(context.Background())
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	p, err := iss.Verifier(DefaultAudience, DefaultOrgClaim).Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify(service token): %v (cause: %v)", err, Cause(err))
	}
	if p.Subject != "service:matching" || !p.IsAdmin() || p.Org != "" {
		t.Errorf("principal = %+v, want admin service:matching without organisation", p)
	}
}

// TestCachedTokensMintOnce counts the mints: two tokens minted within one
// second are identical (deterministic signatures, whole-second claims),
// so comparing tokens could not tell a cache from none.
func TestCachedTokensMintOnce(t *testing.T) {
	t.Parallel()
	mints := 0
	src := cachedTokens(func() (string, error) {
		mints++
		return fmt.Sprintf("token-%d", mints), nil
	})
	tok, err := src(context.Background())
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	again, err := src(context.Background())
	if err != nil {
		t.Fatalf("second token: %v", err)
	}
	if again != tok || mints != 1 {
		t.Errorf("tokens %q then %q after %d mints: a fresh token was minted although the first one has most of its lifetime left", tok, again, mints)
	}
}

func TestFileTokenSourceRereadsTheFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "token")
	src := FileTokenSource(path)
	if _, err := src(context.Background()); err == nil {
		t.Error("token from a missing file: want error")
	}
	for _, content := range []string{"  \n", "first\n", "second"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := src(context.Background())
		want := strings.TrimSpace(content)
		if want == "" {
			if err == nil {
				t.Errorf("token from a blank file = %q, want error", got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("token = %q, %v; want %q", got, err, want)
		}
	}
}

func TestPerRPCCredentialsSendsBearerToken(t *testing.T) {
	t.Parallel()
	creds := PerRPCCredentials(func(context.Context) (string, error) { return "abc", nil })
	md, err := creds.GetRequestMetadata(context.Background())
	if err != nil || md["authorization"] != "Bearer abc" {
		t.Errorf("metadata = %v, %v; want authorization: Bearer abc", md, err)
	}
	if creds.RequireTransportSecurity() {
		t.Error("RequireTransportSecurity = true; the services talk plain gRPC inside the cluster")
	}
}
