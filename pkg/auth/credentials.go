package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"

	"github.com/govmatch/govmatch/pkg/identity"
)

// TokenSource returns the bearer token a service presents on its calls to
// other services.
type TokenSource func(ctx context.Context) (string, error)

// FileTokenSource reads the token from path on every call, so a token that
// a sidecar or a mounted secret rotates is picked up without a restart.
func FileTokenSource(path string) TokenSource {
	return func(context.Context) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("auth: service token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("auth: service token: %s is empty", path)
		}
		return tok, nil
	}
}

// serviceTokenTTL is how long a minted service token lives; a fresh one is
// minted once less than half of that is left.
const serviceTokenTTL = 10 * time.Minute

// ServiceTokenSource mints admin tokens for subject from the development
// issuer: services of the embedded and local setups read what only an
// administrator may see (drafts, to rebuild an index) without a human's
// token.
func (d *DevIssuer) ServiceTokenSource(subject string) TokenSource {
	type minted struct {
		token  string
		expiry time.Time
	}
	cache := make(chan minted, 1)
	cache <- minted{}
	return func(context.Context) (string, error) {
		m := <-cache
		defer func() { cache <- m }()
		if time.Until(m.expiry) > serviceTokenTTL/2 {
			return m.token, nil
		}
		tok, err := d.Mint(subject, "", []identity.Role{identity.RoleAdmin}, serviceTokenTTL)
		if err != nil {
			return "", err
		}
		m = minted{token: tok, expiry: time.Now().Add(serviceTokenTTL)}
		return tok, nil
	}
}

// PerRPCCredentials sends a token from src as "authorization: Bearer …" on
// every call. It does not require transport security: the services talk
// over the cluster network, as the gateway does when it forwards a
// caller's token.
func PerRPCCredentials(src TokenSource) credentials.PerRPCCredentials {
	return bearerCredentials{src: src}
}

type bearerCredentials struct{ src TokenSource }

func (c bearerCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	tok, err := c.src(ctx)
	if err != nil {
		return nil, err
	}
	if tok == "" {
		return nil, errors.New("auth: empty service token")
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

func (bearerCredentials) RequireTransportSecurity() bool { return false }
