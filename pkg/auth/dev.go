package auth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/govmatch/govmatch/pkg/identity"
)

// DevIssuer is a local token issuer for development and tests. Its Ed25519
// key lives in a PEM file, so the server and the token CLI (separate
// processes) share it and tokens survive restarts. It must never be enabled
// in production. It is safe for concurrent use.
type DevIssuer struct {
	issuerURL string
	key       ed25519.PrivateKey
	kid       string
	jwks      []byte
}

const (
	pemTypePrivateKey = "PRIVATE KEY"
	maxKeyFileBytes   = 64 << 10
)

// LoadOrCreateDevIssuer loads the PKCS#8 PEM Ed25519 key at keyPath, creating
// it (mode 0600, parent directories 0700) if it does not exist. Concurrent
// callers, also in different processes, end up with the same key: a new key
// is written to a temporary file and hard-linked into place, which fails
// rather than clobbers if another process won the race; everybody then reads
// the file back. An existing key readable by group or others is refused.
func LoadOrCreateDevIssuer(keyPath, issuerURL string) (*DevIssuer, error) {
	if keyPath == "" {
		return nil, errors.New("auth: dev issuer key path is empty")
	}
	if err := validIssuerURL(issuerURL); err != nil {
		return nil, err
	}
	key, err := loadDevKey(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createDevKey(keyPath); err != nil {
			return nil, err
		}
		key, err = loadDevKey(keyPath)
	}
	if err != nil {
		return nil, err
	}
	return newDevIssuer(key, issuerURL)
}

func newDevIssuer(key ed25519.PrivateKey, issuerURL string) (*DevIssuer, error) {
	pub := key.Public().(ed25519.PublicKey)
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer key id: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key:       pub,
		KeyID:     kid,
		Algorithm: string(jose.EdDSA),
		Use:       "sig",
	}}})
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer JWKS: %w", err)
	}
	return &DevIssuer{issuerURL: issuerURL, key: key, kid: kid, jwks: jwks}, nil
}

func loadDevKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // keeps fs.ErrNotExist detectable
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("auth: dev issuer key %s is not a regular file", path)
	}
	// Windows does not report Unix permission bits meaningfully.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("auth: dev issuer key %s has mode %#o; it must not be accessible by group or others (chmod 600)", path, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer key %s: %w", path, err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("auth: dev issuer key %s: larger than %d bytes", path, maxKeyFileBytes)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemTypePrivateKey {
		return nil, fmt.Errorf("auth: dev issuer key %s: no %q PEM block", path, pemTypePrivateKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: dev issuer key %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: dev issuer key %s: %T, want an Ed25519 key", path, k)
	}
	return key, nil
}

// createDevKey writes a new key to path unless a file appears there first.
func createDevKey(path string) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("auth: creating dev issuer key directory: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("auth: generating dev issuer key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("auth: encoding dev issuer key: %w", err)
	}
	// CreateTemp creates the file with mode 0600.
	tmp, err := os.CreateTemp(dir, ".devissuer-*.tmp")
	if err != nil {
		return fmt.Errorf("auth: writing dev issuer key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: pemTypePrivateKey, Bytes: der}); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: writing dev issuer key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("auth: writing dev issuer key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("auth: writing dev issuer key: %w", err)
	}
	// Link, unlike Rename, fails if path exists: the first writer wins and
	// the others read the winner's key. The file is complete before it
	// becomes visible under path.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("auth: installing dev issuer key: %w", err)
	}
	return nil
}

// IssuerURL returns the "iss" of minted tokens.
func (d *DevIssuer) IssuerURL() string { return d.issuerURL }

// devClaims is the payload of a minted token, shaped like a Keycloak access
// token.
type devClaims struct {
	Issuer      string      `json:"iss"`
	Subject     string      `json:"sub"`
	Audience    string      `json:"aud"`
	IssuedAt    int64       `json:"iat"`
	NotBefore   int64       `json:"nbf"`
	Expiry      int64       `json:"exp"`
	Org         string      `json:"org,omitempty"`
	RealmAccess realmAccess `json:"realm_access"`
}

type realmAccess struct {
	Roles []identity.Role `json:"roles"`
}

// Mint returns a signed JWT for subject with the given organisation and roles,
// valid for ttl, with iss = the issuer URL, aud = DefaultAudience and the
// organisation in the DefaultOrgClaim claim. It refuses to mint tokens that
// verification would reject (unknown role, missing or invalid organisation).
func (d *DevIssuer) Mint(subject, org string, roles []identity.Role, ttl time.Duration) (string, error) {
	if subject == "" {
		return "", errors.New("auth: mint: empty subject")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("auth: mint: ttl %v must be positive", ttl)
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		if _, err := identity.ParseRole(string(r)); err != nil {
			return "", fmt.Errorf("auth: mint: %w", err)
		}
		names[i] = string(r)
	}
	known := knownRoles(names)
	if len(known) == 0 {
		return "", errors.New("auth: mint: at least one role is required")
	}
	if org != "" {
		if err := identity.ValidOrgID(org); err != nil {
			return "", fmt.Errorf("auth: mint: %w", err)
		}
	} else if slices.ContainsFunc(known, needsOrg) {
		return "", errors.New("auth: mint: roles other than admin require an organisation")
	}
	now := time.Now()
	return d.sign(devClaims{
		Issuer:      d.issuerURL,
		Subject:     subject,
		Audience:    DefaultAudience,
		IssuedAt:    now.Unix(),
		NotBefore:   now.Unix(),
		Expiry:      now.Add(ttl).Unix(),
		Org:         org,
		RealmAccess: realmAccess{Roles: known},
	})
}

// sign signs any JSON-encodable claims with the issuer key.
func (d *DevIssuer) sign(claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.EdDSA, Key: jose.JSONWebKey{Key: d.key, KeyID: d.kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("auth: mint: %w", err)
	}
	return jws.CompactSerialize()
}

// Verifier returns a Verifier for tokens of this issuer, with the same checks
// as the OIDC verifier. Empty audience and orgClaim mean DefaultAudience and
// DefaultOrgClaim.
func (d *DevIssuer) Verifier(audience, orgClaim string) Verifier {
	if audience == "" {
		audience = DefaultAudience
	}
	keys := &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{d.key.Public()}}
	return newVerifier(d.issuerURL, keys, audience, orgClaim, nil)
}

// JWKS returns the public key set as JSON, for /.well-known/jwks.json.
func (d *DevIssuer) JWKS() []byte { return slices.Clone(d.jwks) }
