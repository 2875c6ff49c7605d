package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/identity"
)

// testKey is a signing key published (or not) by the fake provider.
type testKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key crypto.Signer
}

// rsaPool holds lazily generated RSA keys shared by tests, because RSA key
// generation is slow, especially under the race detector.
var rsaPool [3]struct {
	once sync.Once
	key  *rsa.PrivateKey
	err  error
}

// pooledRSAKey returns the i-th shared RSA key; distinct i give distinct keys.
func pooledRSAKey(tb testing.TB, i int) *rsa.PrivateKey {
	tb.Helper()
	p := &rsaPool[i]
	p.once.Do(func() { p.key, p.err = rsa.GenerateKey(rand.Reader, 2048) })
	if p.err != nil {
		tb.Fatal(p.err)
	}
	return p.key
}

// newRSAKey returns an RS256 test key using shared RSA key number i.
func newRSAKey(tb testing.TB, kid string, i int) testKey {
	tb.Helper()
	return testKey{kid: kid, alg: jose.RS256, key: pooledRSAKey(tb, i)}
}

func newECKey(tb testing.TB, kid string) testKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return testKey{kid: kid, alg: jose.ES256, key: k}
}

// mint signs claims with k under algorithm alg (default k.alg).
func (k testKey) mint(tb testing.TB, c any, alg ...jose.SignatureAlgorithm) string {
	tb.Helper()
	a := k.alg
	if len(alg) > 0 {
		a = alg[0]
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: a, Key: jose.JSONWebKey{Key: k.key, KeyID: k.kid}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	payload, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// fakeProvider is a minimal Keycloak stand-in: discovery plus JWKS.
type fakeProvider struct {
	srv        *httptest.Server
	jwksHits   atomic.Int32
	jwksStatus atomic.Int32           // 0 means 200
	jwksBody   atomic.Pointer[string] // overrides the key set if set

	mu   sync.Mutex
	jwks []byte
}

func newFakeProvider(tb testing.TB, keys ...testKey) *fakeProvider {
	tb.Helper()
	p := &fakeProvider{}
	p.setKeys(tb, keys...)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                p.srv.URL,
			"authorization_endpoint":                p.srv.URL + "/protocol/openid-connect/auth",
			"token_endpoint":                        p.srv.URL + "/protocol/openid-connect/token",
			"jwks_uri":                              p.srv.URL + "/protocol/openid-connect/certs",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "PS256", "HS256"},
		})
	})
	mux.HandleFunc("GET /protocol/openid-connect/certs", func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		if s := p.jwksStatus.Load(); s != 0 {
			http.Error(w, "unavailable", int(s))
			return
		}
		if b := p.jwksBody.Load(); b != nil {
			w.Write([]byte(*b))
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(p.jwks)
	})
	mux.HandleFunc("GET /moved/certs", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/protocol/openid-connect/certs", http.StatusFound)
	})
	p.srv = httptest.NewServer(mux)
	tb.Cleanup(func() {
		p.srv.Client().CloseIdleConnections()
		p.srv.Close()
	})
	return p
}

func (p *fakeProvider) setKeys(tb testing.TB, keys ...testKey) {
	tb.Helper()
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.key.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		tb.Fatal(err)
	}
	p.mu.Lock()
	p.jwks = b
	p.mu.Unlock()
}

func (p *fakeProvider) verifier(tb testing.TB, minRefetch time.Duration) *OIDCVerifier {
	tb.Helper()
	v, err := newOIDCVerifier(context.Background(), OIDCConfig{
		IssuerURL:  p.srv.URL,
		Audience:   "govmatch",
		HTTPClient: p.srv.Client(),
	}, minRefetch)
	if err != nil {
		tb.Fatalf("newOIDCVerifier: %v", err)
	}
	return v
}

func TestOIDCVerifier(t *testing.T) {
	t.Parallel()
	rsaKey := newRSAKey(t, "rsa-1", 0)
	ecKey := newECKey(t, "ec-1")
	unpublished := newRSAKey(t, "rsa-unpublished", 1)
	impostor := newRSAKey(t, "rsa-1", 2) // reuses a published kid
	p := newFakeProvider(t, rsaKey, ecKey)
	v := p.verifier(t, jwksMinRefetchInterval)

	now := time.Now()
	valid := validClaims(p.srv.URL)
	buyer := identity.Principal{Subject: "user-1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}}
	tests := []struct {
		name    string
		token   string
		want    identity.Principal
		wantErr error
	}{
		{name: "valid RS256", token: rsaKey.mint(t, valid), want: buyer},
		{name: "valid ES256", token: ecKey.mint(t, valid), want: buyer},
		{
			name: "keycloak-shaped access token",
			token: rsaKey.mint(t, valid.with("aud", []string{"govmatch", "account"}).
				with("azp", "govmatch-web").with("typ", "Bearer").with("scope", "openid profile").
				with("realm_access", map[string]any{"roles": []string{"default-roles-govmatch", "offline_access", "vendor"}}).
				with("resource_access", map[string]any{"account": map[string]any{"roles": []string{"manage-account"}}}).
				with("org", "acme-gmbh")),
			want: identity.Principal{Subject: "user-1", Org: "acme-gmbh", Roles: []identity.Role{identity.RoleVendor}},
		},
		{name: "expired", token: rsaKey.mint(t, valid.with("exp", now.Add(-time.Second).Unix())), wantErr: ErrExpired},
		{name: "not yet valid", token: rsaKey.mint(t, valid.with("nbf", now.Add(10*time.Minute).Unix())), wantErr: ErrNotYetValid},
		{name: "keycloak default audience only", token: rsaKey.mint(t, valid.with("aud", "account")), wantErr: ErrAudience},
		{name: "wrong issuer", token: rsaKey.mint(t, valid.with("iss", "https://login.example/realms/other")), wantErr: ErrIssuer},
		{name: "tampered signature", token: tamperSignature(t, rsaKey.mint(t, valid)), wantErr: ErrSignature},
		{name: "unknown kid", token: unpublished.mint(t, valid), wantErr: ErrSignature},
		{name: "known kid, wrong key", token: impostor.mint(t, valid), wantErr: ErrSignature},
		{name: "PS256 not accepted", token: rsaKey.mint(t, valid, jose.PS256), wantErr: ErrAlgorithm},
		{name: "RS512 not accepted", token: rsaKey.mint(t, valid, jose.RS512), wantErr: ErrAlgorithm},
		{name: "alg none", token: rawJWS(map[string]any{"alg": "none", "kid": "rsa-1"}, valid, nil), wantErr: ErrAlgorithm},
		{name: "unknown role only", token: rsaKey.mint(t, valid.with("realm_access", map[string]any{"roles": []string{"offline_access"}})), wantErr: ErrNoRole},
		{name: "missing org for buyer", token: rsaKey.mint(t, valid.with("org", nil)), wantErr: ErrOrg},
		{
			name:  "admin without org",
			token: rsaKey.mint(t, valid.with("org", nil).with("realm_access", map[string]any{"roles": []string{"admin"}})),
			want:  identity.Principal{Subject: "user-1", Roles: []identity.Role{identity.RoleAdmin}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(context.Background(), tc.token)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v (cause: %v)", err, Cause(err))
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("principal mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify error = %v (cause: %v), want %v", err, Cause(err), tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantErr.Error(), err.Error()); diff != "" {
				t.Errorf("error text mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewOIDCVerifierErrors(t *testing.T) {
	t.Parallel()
	p := newFakeProvider(t, newECKey(t, "k"))
	noJWKS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": "http://" + r.Host})
	}))
	t.Cleanup(func() { noJWKS.Client().CloseIdleConnections(); noJWKS.Close() })
	tests := []struct {
		name string
		cfg  OIDCConfig
	}{
		{name: "no issuer", cfg: OIDCConfig{Audience: "govmatch"}},
		{name: "no audience", cfg: OIDCConfig{IssuerURL: p.srv.URL, HTTPClient: p.srv.Client()}},
		{name: "issuer mismatch", cfg: OIDCConfig{IssuerURL: p.srv.URL + "/", Audience: "govmatch", HTTPClient: p.srv.Client()}},
		{name: "no discovery document", cfg: OIDCConfig{IssuerURL: p.srv.URL + "/realms/missing", Audience: "govmatch", HTTPClient: p.srv.Client()}},
		{name: "no jwks_uri", cfg: OIDCConfig{IssuerURL: noJWKS.URL, Audience: "govmatch", HTTPClient: noJWKS.Client()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if v, err := NewOIDCVerifier(context.Background(), tc.cfg); err == nil {
				t.Errorf("NewOIDCVerifier = %v, want error", v)
			}
		})
	}
}

func TestOIDCVerifierKeysUnavailable(t *testing.T) {
	t.Parallel()
	k := newRSAKey(t, "k1", 0)
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{name: "503", status: http.StatusServiceUnavailable},
		{name: "404", status: http.StatusNotFound},
		{name: "HTML instead of JSON", body: "<html>login</html>"},
		{name: "JSON without keys", body: `{"error":"realm disabled"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newFakeProvider(t, k)
			v := p.verifier(t, jwksMinRefetchInterval)
			p.jwksStatus.Store(int32(tc.status))
			if tc.body != "" {
				p.jwksBody.Store(&tc.body)
			}
			_, err := v.Verify(context.Background(), k.mint(t, validClaims(p.srv.URL)))
			if !errors.Is(err, ErrKeysUnavailable) {
				t.Fatalf("Verify = %v (cause: %v), want %v", err, Cause(err), ErrKeysUnavailable)
			}
			if diff := cmp.Diff(ErrKeysUnavailable.Error(), err.Error()); diff != "" {
				t.Errorf("error text mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOIDCVerifierJWKSRedirect(t *testing.T) {
	t.Parallel()
	k := newRSAKey(t, "k1", 0)
	p := newFakeProvider(t, k)
	client := p.srv.Client()
	jt := newJWKSTransport(client.Transport, jwksMinRefetchInterval)
	keyClient := *client
	keyClient.Transport = jt
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), &keyClient), p.srv.URL+"/moved/certs")
	v := newVerifier(p.srv.URL, keys, "govmatch", "", jt)
	if _, err := v.Verify(context.Background(), k.mint(t, validClaims(p.srv.URL))); err != nil {
		t.Fatalf("Verify via redirected JWKS: %v (cause: %v)", err, Cause(err))
	}
}

func TestOIDCVerifierKeysRecover(t *testing.T) {
	t.Parallel()
	k, rotated := newRSAKey(t, "k1", 0), newRSAKey(t, "k2", 1)
	p := newFakeProvider(t, k)
	v := p.verifier(t, 0) // no refetch throttling, only the failure backoff
	tok := k.mint(t, validClaims(p.srv.URL))
	rotatedTok := rotated.mint(t, validClaims(p.srv.URL))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify: %v (cause: %v)", err, Cause(err))
	}

	// The provider rotates its key but its JWKS endpoint is down: the new
	// kid forces a refetch, which fails.
	p.setKeys(t, k, rotated)
	p.jwksStatus.Store(http.StatusServiceUnavailable)
	// go-oidc coalesces fetches: until the goroutine of the first fetch has
	// cleared its in-flight marker (just after the first Verify returned),
	// a new kid gets that fetch's old keys, i.e. "signature invalid",
	// without asking the endpoint. Wait for it to finish.
	var err error
	await.True(t, "Verify(new kid) past the first fetch", func() bool {
		_, err = v.Verify(context.Background(), rotatedTok)
		return !errors.Is(err, ErrSignature)
	})
	if !errors.Is(err, ErrKeysUnavailable) || err.Error() != ErrKeysUnavailable.Error() {
		t.Fatalf("Verify(new kid) while JWKS is down = %v (cause: %v), want %v", err, Cause(err), ErrKeysUnavailable)
	}
	// Known keys keep working from the cache during the outage.
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify(cached kid) while JWKS is down: %v (cause: %v)", err, Cause(err))
	}

	p.jwksStatus.Store(0)
	time.Sleep(jwksFailureBackoff + 100*time.Millisecond)
	if _, err := v.Verify(context.Background(), rotatedTok); err != nil {
		t.Fatalf("Verify(new kid) after JWKS recovered = %v (cause: %v)", err, Cause(err))
	}
	// A bad signature is a bad signature again, not an outage.
	if _, err := v.Verify(context.Background(), tamperSignature(t, tok)); !errors.Is(err, ErrSignature) {
		t.Fatalf("Verify(tampered) = %v, want %v", err, ErrSignature)
	}
}

func TestOIDCVerifierThrottlesJWKSRefetch(t *testing.T) {
	t.Parallel()
	k := newRSAKey(t, "k1", 0)
	p := newFakeProvider(t, k)
	v := p.verifier(t, time.Hour)
	if _, err := v.Verify(context.Background(), k.mint(t, validClaims(p.srv.URL))); err != nil {
		t.Fatalf("Verify: %v (cause: %v)", err, Cause(err))
	}
	for i := range 20 {
		junk := newECKey(t, "junk").mint(t, validClaims(p.srv.URL))
		if _, err := v.Verify(context.Background(), junk); !errors.Is(err, ErrSignature) {
			t.Fatalf("junk token %d: Verify = %v, want %v", i, err, ErrSignature)
		}
	}
	if diff := cmp.Diff(int32(1), p.jwksHits.Load()); diff != "" {
		t.Errorf("JWKS fetches mismatch (-want +got):\n%s", diff)
	}
}

func TestOIDCVerifierPicksUpRotatedKey(t *testing.T) {
	t.Parallel()
	oldKey, newKey := newRSAKey(t, "old", 0), newRSAKey(t, "new", 1)
	p := newFakeProvider(t, oldKey)
	v := p.verifier(t, 0)
	if _, err := v.Verify(context.Background(), oldKey.mint(t, validClaims(p.srv.URL))); err != nil {
		t.Fatalf("Verify(old): %v", err)
	}
	p.setKeys(t, oldKey, newKey)
	// go-oidc coalesces fetches: until the goroutine of the first fetch has
	// cleared its in-flight marker (just after the first Verify returned),
	// a new kid gets that fetch's old keys without asking the endpoint, so
	// the first try may see "signature invalid". Wait for it to finish.
	newTok := newKey.mint(t, validClaims(p.srv.URL))
	var err error
	await.True(t, "Verify(new) past the first fetch", func() bool {
		_, err = v.Verify(context.Background(), newTok)
		return !errors.Is(err, ErrSignature)
	})
	if err != nil {
		t.Fatalf("Verify(new) after rotation: %v (cause: %v)", err, Cause(err))
	}
	if diff := cmp.Diff(int32(2), p.jwksHits.Load()); diff != "" {
		t.Errorf("JWKS fetches mismatch (-want +got):\n%s", diff)
	}
}

// TestOIDCVerifierWithDevJWKS checks that the JWKS the gateway publishes for
// the dev issuer works with the production verification path.
func TestOIDCVerifierWithDevJWKS(t *testing.T) {
	t.Parallel()
	var dev atomic.Pointer[DevIssuer]
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":   dev.Load().IssuerURL(),
			"jwks_uri": dev.Load().IssuerURL() + "/.well-known/jwks.json",
		})
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(dev.Load().JWKS())
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Client().CloseIdleConnections(); srv.Close() })
	dev.Store(newTestIssuer(t, srv.URL))

	v, err := NewOIDCVerifier(context.Background(), OIDCConfig{IssuerURL: srv.URL, Audience: DefaultAudience, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := dev.Load().Mint("user-1", "stadt-giessen", []identity.Role{identity.RoleBuyer}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v (cause: %v)", err, Cause(err))
	}
	if diff := cmp.Diff(identity.Principal{Subject: "user-1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}}, got); diff != "" {
		t.Errorf("principal mismatch (-want +got):\n%s", diff)
	}
}
