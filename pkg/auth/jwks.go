package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

const (
	// jwksMinRefetchInterval limits how often a token with an unknown key id
	// makes us refetch the issuer's JWKS. go-oidc refetches on every unknown
	// kid, so without a limit anyone could make the services hammer the
	// identity provider with junk tokens.
	jwksMinRefetchInterval = 10 * time.Second
	// jwksFailureBackoff limits refetches while the JWKS endpoint fails.
	jwksFailureBackoff = time.Second
	// maxJWKSBytes bounds the JWKS response we buffer.
	maxJWKSBytes = 1 << 20
)

// jwksTransport is the HTTP transport of the client used only by the remote
// key set, so every GET through it is a JWKS fetch (or a redirect hop of
// one). It serves the last good key set from memory if that is younger than
// minInterval (go-oidc then finds no matching key and reports a bad
// signature), and it records whether the endpoint currently works, so that
// verification can tell "keys unavailable" from "signature invalid".
type jwksTransport struct {
	base        http.RoundTripper
	minInterval time.Duration

	mu        sync.Mutex
	body      []byte // last good JWKS document
	header    http.Header
	fetchedAt time.Time // of body
	failedAt  time.Time // of the last failed fetch; zero if the last fetch succeeded
}

func newJWKSTransport(base http.RoundTripper, minInterval time.Duration) *jwksTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &jwksTransport{base: base, minInterval: minInterval}
}

// failing reports whether the most recent JWKS fetch failed.
func (t *jwksTransport) failing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.failedAt.IsZero()
}

func (t *jwksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet {
		return t.base.RoundTrip(req)
	}
	now := time.Now()
	t.mu.Lock()
	switch {
	case !t.failedAt.IsZero() && now.Sub(t.failedAt) < jwksFailureBackoff:
		t.mu.Unlock()
		return nil, errors.New("JWKS endpoint failed recently; not retrying yet")
	case t.failedAt.IsZero() && t.body != nil && now.Sub(t.fetchedAt) < t.minInterval:
		body, header := t.body, t.header.Clone()
		t.mu.Unlock()
		return okResponse(req, body, header), nil
	}
	t.mu.Unlock()

	resp, err := t.base.RoundTrip(req)
	if err != nil {
		t.recordFailure()
		return nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
		return resp, nil // the client follows it, through this transport
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	switch {
	case err != nil:
		t.recordFailure()
		return nil, fmt.Errorf("reading JWKS: %w", err)
	case resp.StatusCode != http.StatusOK:
		t.recordFailure()
		return nil, fmt.Errorf("JWKS endpoint returned %s", resp.Status)
	case len(body) > maxJWKSBytes:
		t.recordFailure()
		return nil, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil || set.Keys == nil {
		t.recordFailure()
		return nil, errors.New("JWKS endpoint returned no JSON key set")
	}

	t.mu.Lock()
	t.body, t.header, t.fetchedAt, t.failedAt = body, resp.Header.Clone(), time.Now(), time.Time{}
	t.mu.Unlock()
	return okResponse(req, body, resp.Header.Clone()), nil
}

func (t *jwksTransport) recordFailure() {
	t.mu.Lock()
	t.failedAt = time.Now()
	t.mu.Unlock()
}

func okResponse(req *http.Request, body []byte, header http.Header) *http.Response {
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
