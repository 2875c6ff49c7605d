package gateway

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWWWAuthenticate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		headers []string
		reason  string
		want    string
	}{
		{"no credentials", nil, "sign in to create needs", `Bearer realm="govmatch"`},
		{"expired", []string{"Bearer abc"}, "token expired", `Bearer realm="govmatch", error="invalid_token", error_description="token expired"`},
		{"not bearer", []string{"Basic dXNlcg=="}, `authorization header must be "Bearer <token>"`,
			`Bearer realm="govmatch", error="invalid_request", error_description="authorization header must be Bearer <token>"`},
		{"two headers", []string{"Bearer a", "Bearer b"}, "more than one authorization header",
			`Bearer realm="govmatch", error="invalid_request", error_description="more than one authorization header"`},
		{"control characters dropped", []string{"Bearer a"}, "bad\r\ntoken\\", `Bearer realm="govmatch", error="invalid_token", error_description="badtoken"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/needs", nil)
			for _, h := range tc.headers {
				r.Header.Add("Authorization", h)
			}
			if got := wwwAuthenticate(r, tc.reason); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestUnauthenticatedChallenges: a 401 through the gateway carries the
// challenge; other errors do not.
func TestUnauthenticatedChallenges(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	req := httptest.NewRequest("POST", "/v1/needs", strings.NewReader(`{"title": "x"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := f.serve(req)
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != `Bearer realm="govmatch"` {
		t.Errorf("create without token: %d, WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	rec = f.serve(httptest.NewRequest("GET", "/v1/needs/missing", nil))
	if rec.Code != 404 || rec.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("not found: %d, WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}
