package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
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
	return cachedTokens(func() (string, error) {
		return d.Mint(subject, "", []identity.Role{identity.RoleAdmin}, serviceTokenTTL)
	})
}

// cachedTokens returns the token mint made last, and a new one from mint
// once less than half of serviceTokenTTL is left.
func cachedTokens(mint func() (string, error)) TokenSource {
	var (
		mu     sync.Mutex
		token  string
		expiry time.Time
	)
	return func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if time.Until(expiry) > serviceTokenTTL/2 {
			return token, nil
		}
		tok, err := mint()
		if err != nil {
			return "", err
		}
		token, expiry = tok, time.Now().Add(serviceTokenTTL)
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
