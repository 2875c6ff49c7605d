package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/identity"
)

func TestDevVerifier(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	other := newTestIssuer(t, testIssuer) // same issuer URL, different key
	otherURL := newTestIssuer(t, "https://evil.example")
	v := d.Verifier("", "")
	now := time.Now()
	valid := validClaims(testIssuer)
	validTok := signClaims(t, d, valid)
	buyer := identity.Principal{Subject: "user-1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}}

	tests := []struct {
		name     string
		verifier Verifier // default v
		token    string
		want     identity.Principal
		wantErr  error
	}{
		{name: "valid", token: validTok, want: buyer},
		{
			name:  "admin without org",
			token: signClaims(t, d, valid.with("org", nil).with("realm_access", map[string]any{"roles": []string{"admin"}})),
			want:  identity.Principal{Subject: "user-1", Roles: []identity.Role{identity.RoleAdmin}},
		},
		{
			name:  "top-level roles claim merged, unknown dropped",
			token: signClaims(t, d, valid.with("roles", []string{"vendor", "uma_authorization", "buyer"})),
			want:  identity.Principal{Subject: "user-1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer, identity.RoleVendor}},
		},
		{
			name:  "only top-level roles claim",
			token: signClaims(t, d, valid.with("realm_access", nil).with("roles", []string{"venture_unit"})),
			want:  identity.Principal{Subject: "user-1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleVentureUnit}},
		},
		{name: "audience array", token: signClaims(t, d, valid.with("aud", []string{"account", "govmatch"})), want: buyer},
		{name: "org as one-element array", token: signClaims(t, d, valid.with("org", []string{"stadt-giessen"})), want: buyer},
		{
			name:     "custom org claim",
			verifier: d.Verifier("", "tenant"),
			token:    signClaims(t, d, valid.with("org", nil).with("tenant", "stadt-giessen")),
			want:     buyer,
		},
		{name: "nbf within clock-skew leeway", token: signClaims(t, d, valid.with("nbf", now.Add(time.Minute).Unix())), want: buyer},

		{name: "expired", token: signClaims(t, d, valid.with("exp", now.Add(-time.Minute).Unix())), wantErr: ErrExpired},
		{name: "no expiry", token: signClaims(t, d, valid.with("exp", nil)), wantErr: ErrNoExpiry},
		{name: "not yet valid", token: signClaims(t, d, valid.with("nbf", now.Add(time.Hour).Unix())), wantErr: ErrNotYetValid},
		{name: "wrong audience", token: signClaims(t, d, valid.with("aud", "account")), wantErr: ErrAudience},
		{name: "no audience", token: signClaims(t, d, valid.with("aud", nil)), wantErr: ErrAudience},
		{name: "verifier for another audience", verifier: d.Verifier("needs-service", ""), token: validTok, wantErr: ErrAudience},
		{name: "wrong issuer", token: signClaims(t, d, valid.with("iss", "https://evil.example")), wantErr: ErrIssuer},
		{name: "issuer with trailing slash", token: signClaims(t, d, valid.with("iss", testIssuer+"/")), wantErr: ErrIssuer},
		{name: "tampered signature", token: tamperSignature(t, validTok), wantErr: ErrSignature},
		{
			name:    "tampered payload",
			token:   tamperPayload(validTok, valid.with("realm_access", map[string]any{"roles": []string{"admin"}})),
			wantErr: ErrSignature,
		},
		{name: "signed by a different key", token: signClaims(t, other, valid), wantErr: ErrSignature},
		{name: "other issuer's key and iss", token: signClaims(t, otherURL, validClaims("https://evil.example")), wantErr: ErrSignature},
		{name: "alg none", token: rawJWS(map[string]any{"alg": "none", "typ": "JWT"}, valid, nil), wantErr: ErrAlgorithm},
		{name: "alg none with signature", token: rawJWS(map[string]any{"alg": "none"}, valid, []byte("x")), wantErr: ErrAlgorithm},
		{name: "alg HS256", token: rawJWS(map[string]any{"alg": "HS256"}, valid, []byte("0123456789abcdef0123456789abcdef")), wantErr: ErrAlgorithm},
		{name: "alg RS512", token: rawJWS(map[string]any{"alg": "RS512"}, valid, []byte("sig")), wantErr: ErrAlgorithm},
		{name: "no alg", token: rawJWS(map[string]any{"typ": "JWT"}, valid, []byte("sig")), wantErr: ErrAlgorithm},
		{name: "unknown role only", token: signClaims(t, d, valid.with("realm_access", map[string]any{"roles": []string{"superuser"}})), wantErr: ErrNoRole},
		{name: "role with wrong case", token: signClaims(t, d, valid.with("realm_access", map[string]any{"roles": []string{"Admin"}})), wantErr: ErrNoRole},
		{name: "no roles at all", token: signClaims(t, d, valid.with("realm_access", nil)), wantErr: ErrNoRole},
		{name: "client roles are not realm roles", token: signClaims(t, d, valid.with("realm_access", nil).with("resource_access", map[string]any{"govmatch": map[string]any{"roles": []string{"admin"}}})), wantErr: ErrNoRole},
		{name: "missing org for buyer", token: signClaims(t, d, valid.with("org", nil)), wantErr: ErrOrg},
		{name: "empty org for vendor", token: signClaims(t, d, valid.with("org", "").with("realm_access", map[string]any{"roles": []string{"vendor"}})), wantErr: ErrOrg},
		{name: "missing org for venture unit", token: signClaims(t, d, valid.with("org", nil).with("realm_access", map[string]any{"roles": []string{"venture_unit"}})), wantErr: ErrOrg},
		{name: "missing org for admin who is also buyer", token: signClaims(t, d, valid.with("org", nil).with("realm_access", map[string]any{"roles": []string{"admin", "buyer"}})), wantErr: ErrOrg},
		{name: "invalid org", token: signClaims(t, d, valid.with("org", "Stadt Gießen")), wantErr: ErrOrg},
		{name: "invalid org for admin", token: signClaims(t, d, valid.with("org", "../etc").with("realm_access", map[string]any{"roles": []string{"admin"}})), wantErr: ErrOrg},
		{name: "org of wrong type", token: signClaims(t, d, valid.with("org", 42)), wantErr: ErrOrg},
		{name: "org array with two values", token: signClaims(t, d, valid.with("org", []string{"a1", "b2"})), wantErr: ErrOrg},
		{name: "org in default claim but verifier reads another", verifier: d.Verifier("", "tenant"), token: validTok, wantErr: ErrOrg},
		{name: "roles of wrong type", token: signClaims(t, d, valid.with("realm_access", map[string]any{"roles": "admin"})), wantErr: ErrClaims},
		{name: "top-level roles of wrong type", token: signClaims(t, d, valid.with("roles", map[string]any{"admin": true})), wantErr: ErrClaims},
		{name: "exp of wrong type", token: signClaims(t, d, valid.with("exp", "tomorrow")), wantErr: ErrClaims},
		{name: "no subject", token: signClaims(t, d, valid.with("sub", nil)), wantErr: ErrNoSubject},
		{name: "payload not an object", token: signClaims(t, d, []any{valid}), wantErr: ErrClaims},
		{name: "null payload", token: signClaims(t, d, nil), wantErr: ErrIssuer},

		{name: "empty", token: "", wantErr: ErrMalformed},
		{name: "garbage", token: "not-a-token", wantErr: ErrMalformed},
		{name: "empty segments", token: "..", wantErr: ErrMalformed},
		{name: "four segments", token: validTok + ".x", wantErr: ErrMalformed},
		{name: "JWE-like five segments", token: "a.b.c.d.e", wantErr: ErrMalformed},
		{name: "whitespace inside", token: validTok[:10] + " " + validTok[10:], wantErr: ErrMalformed},
		{name: "trailing newline", token: validTok + "\n", wantErr: ErrMalformed},
		{name: "padded base64", token: validTok + "==", wantErr: ErrMalformed},
		{name: "JSON serialization", token: `{"payload":"e30","protected":"eyJhbGciOiJFZERTQSJ9","signature":"AAAA"}`, wantErr: ErrMalformed},
		{name: "header not JSON", token: b64("nope") + "." + b64("{}") + "." + b64("sig"), wantErr: ErrMalformed},
		{name: "empty signature", token: strings.Join(strings.Split(validTok, ".")[:2], ".") + ".", wantErr: ErrMalformed},
		{name: "oversized", token: validTok + strings.Repeat("A", maxTokenBytes), wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ver := v
			if tc.verifier != nil {
				ver = tc.verifier
			}
			got, err := ver.Verify(context.Background(), tc.token)
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
			// The message is exactly the client-safe reason, nothing more.
			if diff := cmp.Diff(tc.wantErr.Error(), err.Error()); diff != "" {
				t.Errorf("error text mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(identity.Principal{}, got); diff != "" {
				t.Errorf("principal returned with error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyContextCanceled(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	tok, err := d.Mint("user-1", "acme", []identity.Role{identity.RoleVendor}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Static keys need no I/O, so a valid token still verifies; an invalid
	// one reports the cancellation rather than a token problem.
	if _, err := d.Verifier("", "").Verify(ctx, tok); err != nil {
		t.Errorf("Verify(valid, canceled ctx) = %v, want success", err)
	}
	if _, err := d.Verifier("", "").Verify(ctx, tamperSignature(t, tok)); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(tampered, canceled ctx) = %v, want context.Canceled", err)
	}
}

func TestCause(t *testing.T) {
	t.Parallel()
	d := newTestIssuer(t, testIssuer)
	tok := signClaims(t, d, validClaims("https://evil.example"))
	_, err := d.Verifier("", "").Verify(context.Background(), tok)
	if !errors.Is(err, ErrIssuer) {
		t.Fatalf("Verify = %v, want ErrIssuer", err)
	}
	cause := Cause(err)
	if cause == nil || !strings.Contains(cause.Error(), "https://evil.example") {
		t.Errorf("Cause = %v, want the go-oidc detail naming the issuer", cause)
	}
	if strings.Contains(err.Error(), "evil") {
		t.Errorf("client-facing error %q leaks the detail", err)
	}
	if Cause(errors.New("other")) != nil {
		t.Error("Cause of a foreign error is not nil")
	}
}

func FuzzVerify(f *testing.F) {
	d := newTestIssuer(f, testIssuer)
	v := d.Verifier("", "")
	minted := map[string]bool{}
	for _, c := range []struct {
		org   string
		roles []identity.Role
	}{
		{"stadt-giessen", []identity.Role{identity.RoleBuyer}},
		{"", []identity.Role{identity.RoleAdmin}},
		{"acme", []identity.Role{identity.RoleVendor, identity.RoleVentureUnit}},
	} {
		tok, err := d.Mint("user-1", c.org, c.roles, 24*time.Hour)
		if err != nil {
			f.Fatal(err)
		}
		minted[tok] = true
		f.Add(tok)
		f.Add(tamperSignature(f, tok))
	}
	valid := validClaims(testIssuer)
	for _, s := range []string{
		"", ".", "..", "a.b.c", "Bearer x", "e30.e30.e30",
		rawJWS(map[string]any{"alg": "none"}, valid, nil),
		rawJWS(map[string]any{"alg": "EdDSA"}, valid, []byte("sig")),
		rawJWS(map[string]any{"alg": "RS256", "kid": "x"}, valid, make([]byte, 256)),
		rawJWS(map[string]any{"alg": "ES256", "crit": []string{"b64"}, "b64": false}, valid, make([]byte, 64)),
		`{"payload":"e30","signatures":[]}`,
		signClaims(f, d, valid.with("iss", "https://evil.example")),
		signClaims(f, d, valid.with("exp", time.Now().Add(-time.Hour).Unix())),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(context.Background(), token)
		if err == nil {
			if !minted[token] {
				t.Fatalf("accepted a token that was never minted: %q -> %+v", token, p)
			}
			return
		}
		i := slices.IndexFunc(rejectionReasons, func(r error) bool { return errors.Is(err, r) })
		if i < 0 {
			t.Fatalf("error %v is not one of the client-safe reasons", err)
		}
		if err.Error() != rejectionReasons[i].Error() {
			t.Fatalf("error text %q, want exactly %q", err.Error(), rejectionReasons[i].Error())
		}
		if p.Authenticated() || p.Org != "" || p.Roles != nil {
			t.Fatalf("non-zero principal %+v returned with error", p)
		}
	})
}
