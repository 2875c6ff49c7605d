package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/identity"
)

func TestDevIssuerRoundTrip(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	v := d.Verifier("", "")
	tests := []struct {
		name    string
		subject string
		org     string
		roles   []identity.Role
		want    identity.Principal
	}{
		{
			name:    "buyer",
			subject: "user-1", org: "stadt-giessen", roles: []identity.Role{identity.RoleBuyer},
			want: identity.Principal{Subject: "user-1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}},
		},
		{
			name:    "vendor",
			subject: "user-2", org: "acme-gmbh", roles: []identity.Role{identity.RoleVendor},
			want: identity.Principal{Subject: "user-2", Org: "acme-gmbh", Roles: []identity.Role{identity.RoleVendor}},
		},
		{
			name:    "venture unit",
			subject: "user-3", org: "govtech-campus", roles: []identity.Role{identity.RoleVentureUnit},
			want: identity.Principal{Subject: "user-3", Org: "govtech-campus", Roles: []identity.Role{identity.RoleVentureUnit}},
		},
		{
			name:    "admin without org",
			subject: "ops", roles: []identity.Role{identity.RoleAdmin},
			want: identity.Principal{Subject: "ops", Roles: []identity.Role{identity.RoleAdmin}},
		},
		{
			name:    "several roles are deduplicated and ordered",
			subject: "user-4", org: "stadt-giessen",
			roles: []identity.Role{identity.RoleAdmin, identity.RoleBuyer, identity.RoleAdmin},
			want:  identity.Principal{Subject: "user-4", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer, identity.RoleAdmin}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tok, err := d.Mint(tc.subject, tc.org, tc.roles, time.Hour)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			got, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify: %v (cause: %v)", err, Cause(err))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("principal mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMintTokenShape(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	before := time.Now().Unix()
	tok, err := d.Mint("user-1", "stadt-giessen", []identity.Role{identity.RoleBuyer}, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Header
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(d.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(
		map[string]any{"alg": "EdDSA", "kid": set.Keys[0].KeyID, "typ": "JWT"},
		map[string]any{"alg": h.Algorithm, "kid": h.KeyID, "typ": h.ExtraHeaders["typ"]},
	); diff != "" {
		t.Errorf("header mismatch (-want +got):\n%s", diff)
	}
	var c map[string]any
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		t.Fatal(err)
	}
	iat := int64(c["iat"].(float64))
	if iat < before || iat > time.Now().Unix() {
		t.Errorf("iat %d not within the test's run time", iat)
	}
	want := map[string]any{
		"iss":          testIssuer,
		"sub":          "user-1",
		"aud":          "govmatch",
		"org":          "stadt-giessen",
		"realm_access": map[string]any{"roles": []any{"buyer"}},
		"iat":          float64(iat),
		"nbf":          float64(iat),
		"exp":          float64(iat + 15*60),
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("claims mismatch (-want +got):\n%s", diff)
	}
}

func TestMintRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	tests := []struct {
		name    string
		subject string
		org     string
		roles   []identity.Role
		ttl     time.Duration
	}{
		{name: "empty subject", org: "acme", roles: []identity.Role{identity.RoleVendor}, ttl: time.Hour},
		{name: "no roles", subject: "u", org: "acme", ttl: time.Hour},
		{name: "unknown role", subject: "u", org: "acme", roles: []identity.Role{"superuser"}, ttl: time.Hour},
		{name: "buyer without org", subject: "u", roles: []identity.Role{identity.RoleBuyer}, ttl: time.Hour},
		{name: "invalid org", subject: "u", org: "Stadt Gießen", roles: []identity.Role{identity.RoleBuyer}, ttl: time.Hour},
		{name: "zero ttl", subject: "u", org: "acme", roles: []identity.Role{identity.RoleVendor}},
		{name: "negative ttl", subject: "u", org: "acme", roles: []identity.Role{identity.RoleVendor}, ttl: -time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tok, err := d.Mint(tc.subject, tc.org, tc.roles, tc.ttl); err == nil {
				t.Errorf("Mint succeeded with %q, want error", tok)
			}
		})
	}
}

func TestDevIssuerJWKS(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(d.JWKS(), &set); err != nil {
		t.Fatalf("JWKS is not a JSON key set: %v", err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if diff := cmp.Diff(
		map[string]any{"public": true, "alg": "EdDSA", "use": "sig", "key": d.key.Public()},
		map[string]any{"public": k.IsPublic(), "alg": k.Algorithm, "use": k.Use, "key": k.Key},
	); diff != "" {
		t.Errorf("JWKS key mismatch (-want +got):\n%s", diff)
	}
	if bytes.Contains(d.JWKS(), []byte(`"d"`)) {
		t.Errorf("JWKS contains private key material: %s", d.JWKS())
	}
	// The returned slice is a copy.
	j := d.JWKS()
	j[0] = 'x'
	if d.JWKS()[0] != '{' {
		t.Error("JWKS returned the internal buffer")
	}
}

func TestLoadOrCreateDevIssuerPersistsKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "nested", "deeper", "dev-issuer.pem")

	first, err := LoadOrCreateDevIssuer(path, testIssuer)
	if err != nil {
		t.Fatalf("first LoadOrCreateDevIssuer: %v", err)
	}
	tok, err := first.Mint("user-1", "stadt-giessen", []identity.Role{identity.RoleBuyer}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	second, err := LoadOrCreateDevIssuer(path, testIssuer)
	if err != nil {
		t.Fatalf("second LoadOrCreateDevIssuer: %v", err)
	}
	if diff := cmp.Diff(first.JWKS(), second.JWKS()); diff != "" {
		t.Errorf("key changed across loads (-first +second):\n%s", diff)
	}
	got, err := second.Verifier("", "").Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("token from first issuer rejected by second: %v", err)
	}
	if diff := cmp.Diff(identity.Principal{Subject: "user-1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}}, got); diff != "" {
		t.Errorf("principal mismatch (-want +got):\n%s", diff)
	}

	type modes struct{ File, Dir, Parent os.FileMode }
	fileInfo, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	dirInfo, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	parentInfo, err := os.Stat(filepath.Join(dir, "nested"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(
		modes{File: 0o600, Dir: 0o700, Parent: 0o700},
		modes{File: fileInfo.Mode().Perm(), Dir: dirInfo.Mode().Perm(), Parent: parentInfo.Mode().Perm()},
	); diff != "" {
		t.Errorf("permissions mismatch (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key (temp files left behind?)", len(entries))
	}
}

func TestLoadOrCreateDevIssuerConcurrent(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys", "dev-issuer.pem")
	const n = 16
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		jwks  = make([]string, n)
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			d, err := LoadOrCreateDevIssuer(path, testIssuer)
			if err != nil {
				errs[i] = err
				return
			}
			jwks[i] = string(d.JWKS())
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("goroutine %d: %v", i, err)
		}
	}
	for i := 1; i < n; i++ {
		if diff := cmp.Diff(jwks[0], jwks[i]); diff != "" {
			t.Errorf("goroutine %d got a different key (-0 +%d):\n%s", i, i, diff)
		}
	}
}

const helperKeyPathEnv = "GOVMATCH_AUTH_TEST_DEV_KEY_PATH"

// TestHelperProcessLoadOrCreate is run as a child process by
// TestLoadOrCreateDevIssuerAcrossProcesses.
func TestHelperProcessLoadOrCreate(t *testing.T) {
	t.Parallel()
	path := os.Getenv(helperKeyPathEnv)
	if path == "" {
		t.Skip("helper process for TestLoadOrCreateDevIssuerAcrossProcesses")
	}
	d, err := LoadOrCreateDevIssuer(path, testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("\nJWKS=%s\n", d.JWKS())
}

func TestLoadOrCreateDevIssuerAcrossProcesses(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "dev-issuer.pem")
	const n = 4
	var wg sync.WaitGroup
	outs := make([][]byte, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessLoadOrCreate$", "-test.count=1")
			cmd.Env = append(os.Environ(), helperKeyPathEnv+"="+path)
			outs[i], errs[i] = cmd.CombinedOutput()
		})
	}
	wg.Wait()
	var keys []string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
		sc := bufio.NewScanner(bytes.NewReader(outs[i]))
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "JWKS="); ok {
				keys = append(keys, s)
			}
		}
	}
	if len(keys) != n {
		t.Fatalf("got %d keys from %d processes", len(keys), n)
	}
	for i := 1; i < n; i++ {
		if diff := cmp.Diff(keys[0], keys[i]); diff != "" {
			t.Errorf("process %d got a different key (-0 +%d):\n%s", i, i, diff)
		}
	}
	d, err := LoadOrCreateDevIssuer(path, testIssuer)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(keys[0], string(d.JWKS())); diff != "" {
		t.Errorf("parent loads a different key (-children +parent):\n%s", diff)
	}
}

func TestLoadOrCreateDevIssuerErrors(t *testing.T) {
	t.Parallel()
	pemFile := func(t *testing.T, typ string, der []byte, mode os.FileMode) string {
		path := filepath.Join(t.TempDir(), "key.pem")
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // umask-proof
			t.Fatal(err)
		}
		return path
	}
	ed25519DER := func(t *testing.T) []byte {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name   string
		path   func(t *testing.T) string
		issuer string
	}{
		{name: "empty path", path: func(*testing.T) string { return "" }, issuer: testIssuer},
		{name: "empty issuer", path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "k.pem") }},
		{name: "relative issuer", path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "k.pem") }, issuer: "/realms/dev"},
		{name: "non-http issuer", path: func(t *testing.T) string { return filepath.Join(t.TempDir(), "k.pem") }, issuer: "ftp://dev"},
		{
			name:   "group-readable key",
			path:   func(t *testing.T) string { return pemFile(t, "PRIVATE KEY", ed25519DER(t), 0o640) },
			issuer: testIssuer,
		},
		{
			name:   "world-readable key",
			path:   func(t *testing.T) string { return pemFile(t, "PRIVATE KEY", ed25519DER(t), 0o644) },
			issuer: testIssuer,
		},
		{
			name:   "wrong PEM type",
			path:   func(t *testing.T) string { return pemFile(t, "CERTIFICATE", ed25519DER(t), 0o600) },
			issuer: testIssuer,
		},
		{
			name:   "not PKCS#8",
			path:   func(t *testing.T) string { return pemFile(t, "PRIVATE KEY", []byte("garbage"), 0o600) },
			issuer: testIssuer,
		},
		{
			name: "RSA key",
			path: func(t *testing.T) string {
				der, err := x509.MarshalPKCS8PrivateKey(pooledRSAKey(t, 0))
				if err != nil {
					t.Fatal(err)
				}
				return pemFile(t, "PRIVATE KEY", der, 0o600)
			},
			issuer: testIssuer,
		},
		{
			name: "empty file",
			path: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "key.pem")
				if err := os.WriteFile(path, nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return path
			},
			issuer: testIssuer,
		},
		{name: "directory", path: func(t *testing.T) string { return t.TempDir() }, issuer: testIssuer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path(t)
			d, err := LoadOrCreateDevIssuer(path, tc.issuer)
			if err == nil {
				t.Fatalf("LoadOrCreateDevIssuer(%q, %q) = %v, want error", path, tc.issuer, d)
			}
		})
	}
}
