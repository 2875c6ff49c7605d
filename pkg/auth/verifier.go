// Package auth verifies OIDC bearer tokens (Keycloak in production, a local
// Ed25519 development issuer otherwise) and turns them into
// identity.Principal values, including gRPC server interceptors.
//
// Both issuers share one validation path: an *oidc.IDTokenVerifier (go-oidc)
// checks the signature, the algorithm, iss, aud, exp and nbf; this package
// then decodes the govmatch claims (roles and organisation).
package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/govmatch/govmatch/pkg/identity"
)

const (
	// DefaultAudience is the audience (OIDC client id) govmatch tokens are
	// issued for.
	DefaultAudience = "govmatch"
	// DefaultOrgClaim is the claim that carries the organisation id.
	DefaultOrgClaim = "org"

	// maxTokenBytes bounds the work done for a token before its signature is
	// checked. Keycloak access tokens are usually 1-3 KiB.
	maxTokenBytes = 16 << 10
)

// supportedAlgs are the accepted JWS algorithms, for both issuers.
var supportedAlgs = []string{oidc.RS256, oidc.ES256, oidc.EdDSA}

// Verifier authenticates a raw bearer token. Errors are safe to show to the
// client (see the Err* reasons); a context error is returned as is.
type Verifier interface {
	Verify(ctx context.Context, rawToken string) (identity.Principal, error)
}

// OIDCConfig configures NewOIDCVerifier.
type OIDCConfig struct {
	// IssuerURL is the issuer, e.g. "https://login.example.de/realms/govmatch".
	// It must equal the "issuer" of the discovery document and the "iss" of
	// tokens.
	IssuerURL string
	// Audience is the required "aud" value, the OIDC client id. Keycloak only
	// puts the client id into access tokens' "aud" if the client has an
	// audience mapper.
	Audience string
	// OrgClaim is the top-level claim holding the organisation id; default
	// DefaultOrgClaim ("org").
	OrgClaim string
	// HTTPClient is used for discovery and for fetching the JWKS; default
	// http.DefaultClient.
	HTTPClient *http.Client
}

// OIDCVerifier verifies bearer tokens with go-oidc. It is safe for
// concurrent use.
type OIDCVerifier struct {
	verifier *oidc.IDTokenVerifier
	issuer   string
	audience string
	orgClaim string
	// jwks is the transport that fetches remote keys; nil for static keys.
	jwks *jwksTransport
}

var _ Verifier = (*OIDCVerifier)(nil)

// NewOIDCVerifier performs OIDC discovery at cfg.IssuerURL and returns a
// verifier that checks tokens against the issuer's JWKS. Keys are fetched on
// first use and refetched (at most every few seconds) when a token names an
// unknown key id, so key rotation needs no restart. ctx bounds discovery
// only.
func NewOIDCVerifier(ctx context.Context, cfg OIDCConfig) (*OIDCVerifier, error) {
	return newOIDCVerifier(ctx, cfg, jwksMinRefetchInterval)
}

func newOIDCVerifier(ctx context.Context, cfg OIDCConfig, minRefetch time.Duration) (*OIDCVerifier, error) {
	if err := validIssuerURL(cfg.IssuerURL); err != nil {
		return nil, err
	}
	if cfg.Audience == "" {
		return nil, errors.New("auth: OIDCConfig.Audience is required")
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("auth: OIDC discovery for %s: %w", cfg.IssuerURL, err)
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("auth: OIDC discovery for %s: %w", cfg.IssuerURL, err)
	}
	if meta.JWKSURL == "" {
		return nil, fmt.Errorf("auth: OIDC discovery for %s: no jwks_uri", cfg.IssuerURL)
	}

	// The key set gets its own client whose transport throttles refetches
	// and records whether the key endpoint is reachable.
	jt := newJWKSTransport(client.Transport, minRefetch)
	keyClient := *client
	keyClient.Transport = jt
	// NewRemoteKeySet ignores the context's cancellation; it only carries the
	// HTTP client.
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), &keyClient), meta.JWKSURL)

	return newVerifier(cfg.IssuerURL, keys, cfg.Audience, cfg.OrgClaim, jt), nil
}

func newVerifier(issuer string, keys oidc.KeySet, audience, orgClaim string, jt *jwksTransport) *OIDCVerifier {
	if orgClaim == "" {
		orgClaim = DefaultOrgClaim
	}
	return &OIDCVerifier{
		verifier: oidc.NewVerifier(issuer, recordingKeySet{keys}, &oidc.Config{
			ClientID:             audience,
			SupportedSigningAlgs: supportedAlgs,
		}),
		issuer:   issuer,
		audience: audience,
		orgClaim: orgClaim,
		jwks:     jt,
	}
}

func validIssuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("auth: issuer URL %q must be an absolute http(s) URL", s)
	}
	return nil
}

// Verify checks rawToken (the JWT, without "Bearer ") and returns the
// principal it asserts.
func (v *OIDCVerifier) Verify(ctx context.Context, rawToken string) (identity.Principal, error) {
	if err := precheck(rawToken); err != nil {
		return identity.Principal{}, err
	}
	st := &verifyState{}
	tok, err := v.verifier.Verify(context.WithValue(ctx, verifyStateKey{}, st), rawToken)
	if err != nil {
		return identity.Principal{}, v.classify(ctx, st, err)
	}
	if tok.Subject == "" {
		return identity.Principal{}, reject(ErrNoSubject, nil)
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return identity.Principal{}, reject(ErrClaims, err)
	}
	return principalFromClaims(tok.Subject, claims, v.orgClaim)
}

// precheck rejects anything that is not a compact JWS with canonical
// base64url segments and an accepted algorithm, before go-oidc parses it.
// go-jose alone would also accept the JSON serialization and silently strip
// whitespace; insisting on the canonical form means exactly one string
// encodes a given token.
func precheck(raw string) error {
	if raw == "" {
		return reject(ErrMalformed, errors.New("empty token"))
	}
	if len(raw) > maxTokenBytes {
		return reject(ErrMalformed, fmt.Errorf("token is %d bytes, limit %d", len(raw), maxTokenBytes))
	}
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
		default:
			return reject(ErrMalformed, fmt.Errorf("byte %#x at offset %d is not base64url", c, i))
		}
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return reject(ErrMalformed, fmt.Errorf("%d segments, want 3", len(parts)))
	}
	enc := base64.RawURLEncoding.Strict()
	headerJSON, err := enc.DecodeString(parts[0])
	if err != nil {
		return reject(ErrMalformed, fmt.Errorf("header: %w", err))
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(headerJSON, &header); err != nil {
		return reject(ErrMalformed, fmt.Errorf("header: %w", err))
	}
	// Checked before the other segments so that e.g. alg "none" with an
	// empty signature is reported as what it is.
	if !slices.Contains(supportedAlgs, header.Alg) {
		return reject(ErrAlgorithm, fmt.Errorf("alg %q", header.Alg))
	}
	for i, p := range parts[1:] {
		b, err := enc.DecodeString(p)
		if err != nil || len(b) == 0 {
			return reject(ErrMalformed, fmt.Errorf("segment %d is not canonical non-empty base64url", i+1))
		}
	}
	return nil
}

// verifyState records, per Verify call, what the key set saw, so that a
// go-oidc error can be mapped to a precise reason without parsing its text.
type verifyState struct {
	called  bool   // the signature was checked at all
	sigErr  error  // signature check failed
	payload []byte // verified payload
}

type verifyStateKey struct{}

// recordingKeySet wraps a key set and records the outcome in the verifyState
// in the context. go-oidc passes our context (plus its own values) through.
type recordingKeySet struct{ oidc.KeySet }

func (k recordingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.KeySet.VerifySignature(ctx, jwt)
	if st, ok := ctx.Value(verifyStateKey{}).(*verifyState); ok {
		st.called, st.sigErr, st.payload = true, err, payload
	}
	return payload, err
}

// classify maps a go-oidc verification error to a client-safe reason. go-oidc
// decides whether the token is accepted; this only chooses the message, so a
// misclassification can never turn a rejection into an acceptance.
func (v *OIDCVerifier) classify(ctx context.Context, st *verifyState, err error) error {
	if expired, ok := errors.AsType[*oidc.TokenExpiredError](err); ok {
		if expired.Expiry.IsZero() {
			return reject(ErrNoExpiry, err)
		}
		return reject(ErrExpired, err)
	}
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if !st.called {
		return reject(ErrMalformed, err)
	}
	if st.sigErr != nil {
		if v.jwks != nil && v.jwks.failing() {
			return reject(ErrKeysUnavailable, err)
		}
		return reject(ErrSignature, err)
	}
	// The signature is valid, so one of the claim checks failed. Redo them
	// on the verified payload to name the one that did.
	var c struct {
		Issuer    string    `json:"iss"`
		Audience  audience  `json:"aud"`
		NotBefore *jsonTime `json:"nbf"`
	}
	if json.Unmarshal(st.payload, &c) != nil {
		return reject(ErrClaims, err)
	}
	switch {
	case c.Issuer != v.issuer:
		return reject(ErrIssuer, err)
	case !slices.Contains(c.Audience, v.audience):
		return reject(ErrAudience, err)
	case c.NotBefore != nil && time.Time(*c.NotBefore).After(time.Now()):
		return reject(ErrNotYetValid, err)
	}
	return reject(ErrClaims, err)
}

// audience decodes "aud", which is a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*a = ss
	return nil
}

// jsonTime decodes a NumericDate.
type jsonTime time.Time

// It accepts what go-oidc accepts: an integer or float, possibly quoted.
func (t *jsonTime) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	f, err := n.Float64()
	if err != nil {
		return err
	}
	*t = jsonTime(time.Unix(int64(f), 0))
	return nil
}

// principalFromClaims applies the govmatch claim rules to verified claims.
func principalFromClaims(subject string, claims map[string]json.RawMessage, orgClaim string) (identity.Principal, error) {
	var names []string
	if raw, ok := claims["realm_access"]; ok && !isNull(raw) {
		var ra struct {
			Roles []string `json:"roles"`
		}
		if err := json.Unmarshal(raw, &ra); err != nil {
			return identity.Principal{}, reject(ErrClaims, fmt.Errorf("realm_access: %w", err))
		}
		names = append(names, ra.Roles...)
	}
	if raw, ok := claims["roles"]; ok && !isNull(raw) {
		var rs []string
		if err := json.Unmarshal(raw, &rs); err != nil {
			return identity.Principal{}, reject(ErrClaims, fmt.Errorf("roles: %w", err))
		}
		names = append(names, rs...)
	}
	roles := knownRoles(names)
	if len(roles) == 0 {
		return identity.Principal{}, reject(ErrNoRole, nil)
	}

	org, err := orgFromClaim(claims[orgClaim])
	if err != nil {
		return identity.Principal{}, reject(ErrOrg, fmt.Errorf("claim %q: %w", orgClaim, err))
	}
	if org != "" {
		if err := identity.ValidOrgID(org); err != nil {
			return identity.Principal{}, reject(ErrOrg, err)
		}
	} else if slices.ContainsFunc(roles, needsOrg) {
		return identity.Principal{}, reject(ErrOrg, fmt.Errorf("claim %q missing", orgClaim))
	}
	return identity.Principal{Subject: subject, Org: org, Roles: roles}, nil
}

// needsOrg reports whether a role acts on behalf of an organisation.
func needsOrg(r identity.Role) bool { return r != identity.RoleAdmin }

// knownRoles returns the govmatch roles among names, deduplicated, in the
// canonical order buyer, vendor, venture_unit, admin.
func knownRoles(names []string) []identity.Role {
	var out []identity.Role
	for _, r := range []identity.Role{identity.RoleBuyer, identity.RoleVendor, identity.RoleVentureUnit, identity.RoleAdmin} {
		if slices.Contains(names, string(r)) {
			out = append(out, r)
		}
	}
	return out
}

// orgFromClaim decodes the organisation claim: a string, or an array holding
// exactly one string (Keycloak's multivalued user-attribute mapper). Absent
// or null yields "".
func orgFromClaim(raw json.RawMessage) (string, error) {
	if raw == nil || isNull(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return "", errors.New("not a string")
	}
	if len(ss) != 1 {
		return "", fmt.Errorf("%d values, want exactly one", len(ss))
	}
	return ss[0], nil
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
