package auth

import (
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testIssuer = "https://dev.govmatch.test"

// newTestIssuer returns a dev issuer with a fresh key in a temp dir.
func newTestIssuer(tb testing.TB, issuerURL string) *DevIssuer {
	tb.Helper()
	d, err := LoadOrCreateDevIssuer(filepath.Join(tb.TempDir(), "dev-issuer.pem"), issuerURL)
	if err != nil {
		tb.Fatalf("LoadOrCreateDevIssuer: %v", err)
	}
	return d
}

// claims is a token payload under construction.
type claims map[string]any

// validClaims returns the payload of a valid buyer token from issuer.
func validClaims(issuer string) claims {
	now := time.Now()
	return claims{
		"iss":          issuer,
		"sub":          "user-1",
		"aud":          DefaultAudience,
		"iat":          now.Unix(),
		"nbf":          now.Unix(),
		"exp":          now.Add(time.Hour).Unix(),
		"org":          "stadt-giessen",
		"realm_access": map[string]any{"roles": []string{"buyer", "offline_access"}},
	}
}

// with returns a copy of c with key set to v, or deleted if v is nil.
func (c claims) with(key string, v any) claims {
	out := make(claims, len(c))
	for k, x := range c {
		out[k] = x
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

// signClaims signs arbitrary claims with the dev issuer's key (Mint refuses
// to produce invalid tokens).
func signClaims(tb testing.TB, d *DevIssuer, c any) string {
	tb.Helper()
	tok, err := d.sign(c)
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
	return tok
}

func b64(v any) string {
	var b []byte
	switch v := v.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// rawJWS assembles a compact JWS from parts without signing.
func rawJWS(header, payload any, sig []byte) string {
	return b64(header) + "." + b64(payload) + "." + b64(sig)
}

// tamperSignature flips one bit in the middle of the signature.
func tamperSignature(tb testing.TB, tok string) string {
	tb.Helper()
	parts := strings.Split(tok, ".")
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		tb.Fatal(err)
	}
	sig[len(sig)/2] ^= 0x01
	return parts[0] + "." + parts[1] + "." + b64(sig)
}

// tamperPayload replaces the payload, keeping header and signature.
func tamperPayload(tok string, c claims) string {
	parts := strings.Split(tok, ".")
	return parts[0] + "." + b64(c) + "." + parts[2]
}
