package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/govmatch/govmatch/pkg/auth"
	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/testdb"
)

// system is a running govmatch as seen from outside: its REST base URL and
// a way to mint tokens its verifier accepts.
type system struct {
	base   string
	admin  string // base URL of the admin server: /metrics
	grpc   string // the gRPC address
	issuer *auth.DevIssuer
}

// testNoAudit in startMonolith's extraEnv, "true", starts the system
// without its audit trail (Config.noAudit).
const testNoAudit = "test:no-audit"

// startMonolith runs the whole system in this test process, on free
// ports, against SQLite in a temp dir or PostgreSQL when dsn is set.
func startMonolith(t testing.TB, dsn string, demo bool, extraEnv ...string) *system {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"GOVMATCH_TARGET":     TargetAll,
		"GOVMATCH_HTTP_ADDR":  "127.0.0.1:0",
		"GOVMATCH_GRPC_ADDR":  "127.0.0.1:0",
		"GOVMATCH_ADMIN_ADDR": "127.0.0.1:0",
		"GOVMATCH_DATA_DIR":   dir,
		"GOVMATCH_DEMO_DATA":  fmt.Sprint(demo),
		"DATABASE_URL":        dsn,
		"LOG_LEVEL":           "warn",
		// On PostgreSQL the development issuer needs saying so.
		"GOVMATCH_UNSAFE_DEV_ISSUER": "true",
		// Tests send bursts from one address; TestRateLimit checks limits.
		"GOVMATCH_RATE_LIMIT": "1000",
		"GOVMATCH_RATE_BURST": "1000",
	}
	for i := 0; i+1 < len(extraEnv); i += 2 {
		env[extraEnv[i]] = extraEnv[i+1]
	}
	noAudit := env[testNoAudit] == "true"
	delete(env, testNoAudit)
	cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(env))
	if err != nil {
		t.Fatal(err)
	}
	cfg.noAudit = noAudit
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan listening, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, ready) }()
	var addrs listening
	select {
	case addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(await.Bound): // a safety net: ready or done comes first
		cancel()
		t.Fatalf("system did not start within %v", await.Bound)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve returned %v", err)
		}
	})
	iss, err := auth.LoadOrCreateDevIssuer(cfg.devKeyPath(), cfg.DevIssuerURL)
	if err != nil {
		t.Fatal(err)
	}
	return &system{base: "http://" + addrs.HTTP, admin: "http://" + addrs.Admin, grpc: addrs.GRPC, issuer: iss}
}

// metrics returns what the admin server shows at /metrics.
func (s *system) metrics(t testing.TB) response {
	t.Helper()
	return (&system{base: s.admin}).call(t, "GET", "/metrics", "", nil)
}

func (s *system) token(t testing.TB, org string, role identity.Role) string {
	t.Helper()
	tok, err := s.issuer.Mint(string(role)+"@"+org, org, []identity.Role{role}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// response is what a REST call returned.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// call sends a JSON request; body may be nil, a string (sent as is) or a
// value to encode.
func (s *system) call(t testing.TB, method, path, token string, body any) response {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.body); err != nil {
			t.Fatalf("%s %s: response is not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	return out
}

// expect fails the test unless the call returned status.
func (r response) expect(t testing.TB, what string, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, r.status, status, r.raw)
	}
	return r
}

// violations lists the fields named by a google.rpc.BadRequest detail.
func (r response) violations() []string {
	var fields []string
	details, _ := r.body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		vs, _ := m["fieldViolations"].([]any)
		for _, v := range vs {
			fv, _ := v.(map[string]any)
			fields = append(fields, fmt.Sprint(fv["field"]))
		}
	}
	return fields
}

func str(v any) string { return fmt.Sprint(v) }

// backends runs f against the embedded SQLite and against PostgreSQL.
func backends(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		f(t, "")
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		f(t, testdb.Postgres(t))
	})
}

// TestBuyerStory walks the story of the README through REST: a buyer
// drafts, edits, publishes, a neighbour joins, anyone lists and searches,
// the buyer closes; every rule and error on the way.
func TestBuyerStory(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		sys := startMonolith(t, dsn, false)
		buyerStory(t, sys)
	})
}

func buyerStory(t *testing.T, sys *system) {
	giessen := sys.token(t, "stadt-giessen", identity.RoleBuyer)
	marburg := sys.token(t, "stadt-marburg", identity.RoleBuyer)
	vendor := sys.token(t, "civic-startup", identity.RoleVendor)

	draft := map[string]any{
		"title":                  "Online-Terminbuchung für Bürgerbüros",
		"problemStatement":       "Bürgerinnen und Bürger warten zu lange auf einen Termin im Bürgerbüro.",
		"desiredOutcomes":        []string{"Wartezeit halbiert"},
		"cpvCodes":               []string{"72212000-4"},
		"placesOfPerformance":    []string{"06531005"},
		"estimatedBudget":        map[string]any{"minEur": 40000, "maxEur": 90000},
		"requiredCertifications": []string{"BITV 2.0"},
	}
	// Writes need a valid token of a buyer.
	sys.call(t, "POST", "/v1/needs", "", draft).expect(t, "create without token", http.StatusUnauthorized)
	sys.call(t, "POST", "/v1/needs", "not-a-jwt", draft).expect(t, "create with forged token", http.StatusUnauthorized)
	sys.call(t, "POST", "/v1/needs", vendor, draft).expect(t, "create as vendor", http.StatusForbidden)

	created := sys.call(t, "POST", "/v1/needs", giessen, draft).expect(t, "create", http.StatusOK)
	name := str(created.body["name"])
	if got := created.body["cpvCodes"].([]any)[0]; got != "72212000" {
		t.Errorf("cpv code stored as %v, want canonical 72212000", got)
	}
	if created.body["state"] != "STATE_DRAFT" || created.body["ownerOrganization"] != "stadt-giessen" {
		t.Errorf("created need: %s", created.raw)
	}

	// Drafts are invisible to others.
	sys.call(t, "GET", "/v1/"+name, "", nil).expect(t, "anonymous get draft", http.StatusNotFound)
	sys.call(t, "GET", "/v1/"+name, marburg, nil).expect(t, "other org get draft", http.StatusNotFound)
	sys.call(t, "GET", "/v1/"+name, giessen, nil).expect(t, "owner get draft", http.StatusOK)

	// Edit with update mask from the body, and optimistic concurrency.
	etag := str(created.body["etag"])
	edited := sys.call(t, "PATCH", "/v1/"+name, giessen, map[string]any{
		"title": "Online-Terminbuchung für Bürgerbüros (IKZ)", "etag": etag,
	}).expect(t, "edit", http.StatusOK)
	if edited.body["problemStatement"] != draft["problemStatement"] {
		t.Errorf("edit of the title changed the problem statement: %s", edited.raw)
	}
	sys.call(t, "PATCH", "/v1/"+name, giessen, map[string]any{"title": "zu spät", "etag": etag}).
		expect(t, "edit with stale etag", http.StatusConflict)
	sys.call(t, "PATCH", "/v1/"+name, marburg, map[string]any{"title": "fremd"}).
		expect(t, "edit by other org", http.StatusNotFound)

	// Publish with a deadline.
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	sys.call(t, "POST", "/v1/"+name+":publish", giessen, map[string]any{"responseDeadline": past}).
		expect(t, "publish with past deadline", http.StatusBadRequest)
	deadline := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	pub := sys.call(t, "POST", "/v1/"+name+":publish", giessen, map[string]any{"responseDeadline": deadline}).
		expect(t, "publish", http.StatusOK)
	if pub.body["state"] != "STATE_PUBLISHED" || pub.body["responseDeadline"] == nil {
		t.Errorf("published need: %s", pub.raw)
	}
	sys.call(t, "POST", "/v1/"+name+":publish", giessen, map[string]any{"responseDeadline": deadline}).
		expect(t, "publish twice", http.StatusBadRequest)
	sys.call(t, "GET", "/v1/"+name, "", nil).expect(t, "anonymous reads published", http.StatusOK)
	sys.call(t, "POST", "/v1/"+name+":close", marburg, map[string]any{"reason": "fremd"}).
		expect(t, "close by other org", http.StatusForbidden)

	// A neighbouring municipality joins, and may leave again.
	joined := sys.call(t, "POST", "/v1/"+name+":join", marburg, map[string]any{}).expect(t, "join", http.StatusOK)
	if fmt.Sprint(joined.body["coBuyerOrganizations"]) != "[stadt-marburg]" {
		t.Errorf("co-buyers after join: %v", joined.body["coBuyerOrganizations"])
	}
	sys.call(t, "POST", "/v1/"+name+":join", marburg, map[string]any{}).expect(t, "join twice", http.StatusConflict)
	sys.call(t, "POST", "/v1/"+name+":leave", marburg, map[string]any{}).expect(t, "leave", http.StatusOK)
	sys.call(t, "POST", "/v1/"+name+":join", marburg, map[string]any{}).expect(t, "join again", http.StatusOK)

	// Anyone lists and searches published needs.
	for _, q := range []string{
		"states=STATE_PUBLISHED",
		"cpvCodes=72000000",
		"regions=DE7",
		"regions=Hessen",
		"regions=06531",
		"organization=stadt-marburg",
		"query=terminbuch",
		"query=B%C3%BCrgerb%C3%BCro",
	} {
		list := sys.call(t, "GET", "/v1/needs?"+q, "", nil).expect(t, "list "+q, http.StatusOK)
		needs, _ := list.body["needs"].([]any)
		if len(needs) != 1 || str(needs[0].(map[string]any)["name"]) != name {
			t.Errorf("list %s: want [%s], got %s", q, name, list.raw)
		}
	}
	for _, q := range []string{"cpvCodes=45000000", "regions=DE6", "query=parkraum", "states=STATE_DRAFT"} {
		list := sys.call(t, "GET", "/v1/needs?"+q, "", nil).expect(t, "list "+q, http.StatusOK)
		if needs, _ := list.body["needs"].([]any); len(needs) != 0 {
			t.Errorf("list %s: want nothing, got %s", q, list.raw)
		}
	}

	// Bad input names the field and writes nothing.
	for _, tc := range []struct {
		what, method, path string
		body               any
		wantStatus         int
		wantField          string
	}{
		{"unknown cpv", "POST", "/v1/needs", map[string]any{"title": "x", "problemStatement": "y", "cpvCodes": []string{"99999999"}}, 400, "need.cpv_codes[0]"},
		{"unknown nuts", "POST", "/v1/needs", map[string]any{"title": "x", "problemStatement": "y", "placesOfPerformance": []string{"DE999"}}, 400, "need.places_of_performance[0]"},
		{"empty title", "POST", "/v1/needs", map[string]any{"title": "", "problemStatement": "y"}, 400, "need.title"},
		{"long problem", "POST", "/v1/needs", map[string]any{"title": "x", "problemStatement": strings.Repeat("a", 20001)}, 400, "need.problem_statement"},
		{"budget min > max", "POST", "/v1/needs", map[string]any{"title": "x", "problemStatement": "y", "estimatedBudget": map[string]any{"minEur": 9, "maxEur": 1}}, 400, "need.estimated_budget.min_eur"},
		{"page size", "GET", "/v1/needs?pageSize=1000", nil, 400, "page_size"},
		{"bad page token", "GET", "/v1/needs?pageToken=abc", nil, 400, "page_token"},
		{"bad cpv filter", "GET", "/v1/needs?cpvCodes=12", nil, 400, "cpv_codes[0]"},
		{"bad region filter", "GET", "/v1/needs?regions=XX", nil, 400, "regions[0]"},
		{"unknown enum", "GET", "/v1/needs?states=STATE_NONSENSE", nil, 400, ""},
		{"unknown enum in body", "POST", "/v1/needs", `{"title": "x", "problemStatement": "y", "state": "STATE_NONSENSE"}`, 400, ""},
		{"wrong json type", "POST", "/v1/" + name + ":close", `{"reason": 7}`, 400, ""},
		{"malformed json", "POST", "/v1/needs", `{"title": `, 400, ""},
		{"unknown json field", "POST", "/v1/needs", `{"title": "x", "problemStatement": "y", "colour": "blue"}`, 400, ""},
		{"body too large", "POST", "/v1/needs", `{"title": "` + strings.Repeat("a", 2<<20) + `"}`, 413, ""},
		{"close without reason", "POST", "/v1/" + name + ":close", map[string]any{}, 400, "reason"},
	} {
		res := sys.call(t, tc.method, tc.path, giessen, tc.body).expect(t, tc.what, tc.wantStatus)
		if tc.wantField != "" && !strings.Contains(strings.Join(res.violations(), ","), tc.wantField) {
			t.Errorf("%s: violations %v do not name %s; body %s", tc.what, res.violations(), tc.wantField, res.raw)
		}
	}
	all := sys.call(t, "GET", "/v1/needs?organization=stadt-giessen", giessen, nil).expect(t, "list own", http.StatusOK)
	if needs, _ := all.body["needs"].([]any); len(needs) != 1 {
		t.Errorf("rejected requests wrote needs: %s", all.raw)
	}

	responseStory(t, sys, name, giessen, marburg)

	// Close with a reason; a closed need is read-only.
	closed := sys.call(t, "POST", "/v1/"+name+":close", giessen, map[string]any{"reason": "Gemeinsame Beschaffung über den Landkreis"}).
		expect(t, "close", http.StatusOK)
	if closed.body["state"] != "STATE_CLOSED" || closed.body["closeReason"] == nil {
		t.Errorf("closed need: %s", closed.raw)
	}
	sys.call(t, "PATCH", "/v1/"+name, giessen, map[string]any{"title": "zu"}).expect(t, "edit closed", http.StatusBadRequest)
}

// responseStory: a start-up answers the published need; its buyers see the
// response, nobody else does.
func responseStory(t *testing.T, sys *system, need, owner, coBuyer string) {
	startup := sys.token(t, "kommune-digital", identity.RoleVendor)
	other := sys.token(t, "andere-gmbh", identity.RoleVendor)
	resp := map[string]any{"summary": "Wir betreiben Online-Terminbuchung für 40 Kommunen, barrierefrei.",
		"indicativePriceEur": 45000, "contactEmail": "team@kommune-digital.example"}

	sys.call(t, "POST", "/v1/"+need+"/responses", owner, resp).expect(t, "buyer responds", http.StatusForbidden)
	sys.call(t, "POST", "/v1/"+need+"/responses", startup, map[string]any{"summary": ""}).expect(t, "empty response", http.StatusBadRequest)
	created := sys.call(t, "POST", "/v1/"+need+"/responses", startup, resp).expect(t, "vendor responds", http.StatusOK)
	rname := str(created.body["name"])
	if rname != need+"/responses/kommune-digital" || created.body["vendor"] != "vendors/kommune-digital" {
		t.Errorf("response: %s", created.raw)
	}
	sys.call(t, "POST", "/v1/"+need+"/responses", startup, resp).expect(t, "second response", http.StatusConflict)
	sys.call(t, "PATCH", "/v1/"+rname, startup, map[string]any{"summary": "Aktualisiert: 45 Kommunen.", "etag": created.body["etag"]}).
		expect(t, "vendor edits", http.StatusOK)
	sys.call(t, "PATCH", "/v1/"+rname, other, map[string]any{"summary": "fremd"}).expect(t, "other vendor edits", http.StatusForbidden)

	for _, tc := range []struct {
		who, token string
		want       int
	}{{"owner", owner, 200}, {"co-buyer", coBuyer, 200}, {"other vendor", other, 403}, {"anonymous", "", 401}} {
		res := sys.call(t, "GET", "/v1/"+need+"/responses", tc.token, nil).expect(t, tc.who+" lists responses", tc.want)
		if tc.want == 200 {
			rs, _ := res.body["responses"].([]any)
			if len(rs) != 1 || rs[0].(map[string]any)["summary"] != "Aktualisiert: 45 Kommunen." {
				t.Errorf("%s sees %s", tc.who, res.raw)
			}
		}
		sys.call(t, "GET", "/v1/"+rname, tc.token, nil).expect(t, tc.who+" gets the response", tc.want)
	}
	own := sys.call(t, "GET", "/v1/needs/-/responses", startup, nil).expect(t, "vendor lists own", http.StatusOK)
	if rs, _ := own.body["responses"].([]any); len(rs) != 1 {
		t.Errorf("vendor's own responses: %s", own.raw)
	}
	if rs, _ := sys.call(t, "GET", "/v1/needs/-/responses", other, nil).expect(t, "other vendor lists own", http.StatusOK).body["responses"].([]any); len(rs) != 0 {
		t.Errorf("other vendor sees responses it did not write: %v", rs)
	}
	sys.call(t, "GET", "/v1/needs/-/responses", owner, nil).expect(t, "buyer lists needs/-", http.StatusForbidden)
}

// TestRateLimit checks that a client over its budget gets 429 with a
// Retry-After and a google.rpc.Status body, and that probes stay open.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	// A token every 1000 s: however slow the four requests, none of the
	// burst is refilled before the fourth.
	sys := startMonolith(t, "", false, "GOVMATCH_RATE_LIMIT", "0.001", "GOVMATCH_RATE_BURST", "3")
	for i := range 3 {
		sys.call(t, "GET", "/v1/needs", "", nil).expect(t, fmt.Sprintf("request %d within burst", i), http.StatusOK)
	}
	res := sys.call(t, "GET", "/v1/needs", "", nil).expect(t, "request over the limit", http.StatusTooManyRequests)
	if res.body["code"] != float64(8) {
		t.Errorf("429 body: want google.rpc.Status with code 8 (RESOURCE_EXHAUSTED), got %s", res.raw)
	}
	sys.call(t, "GET", "/healthz", "", nil).expect(t, "liveness is not limited", http.StatusOK)
}

// TestPaginationStable pages through needs while new ones are created and
// checks that every need that existed before is seen exactly once.
func TestPaginationStable(t *testing.T) {
	t.Parallel()
	sys := startMonolith(t, "", false)
	tok := sys.token(t, "stadt-giessen", identity.RoleBuyer)
	create := func(i int) {
		sys.call(t, "POST", "/v1/needs", tok, map[string]any{"title": fmt.Sprintf("Bedarf %d", i), "problemStatement": "Text"}).
			expect(t, "create", http.StatusOK)
	}
	for i := range 7 {
		create(i)
	}
	seen := map[string]int{}
	pageToken := ""
	for page := 0; ; page++ {
		res := sys.call(t, "GET", "/v1/needs?pageSize=2&pageToken="+url.QueryEscape(pageToken), tok, nil).expect(t, "page", http.StatusOK)
		for _, n := range res.body["needs"].([]any) {
			seen[str(n.(map[string]any)["title"])]++
		}
		create(100 + page) // newer needs sort before the cursor
		pageToken, _ = res.body["nextPageToken"].(string)
		if pageToken == "" {
			break
		}
	}
	for i := range 7 {
		if c := seen[fmt.Sprintf("Bedarf %d", i)]; c != 1 {
			t.Errorf("Bedarf %d seen %d times", i, c)
		}
	}
}

// TestDemoDataAndRestart starts the monolith with demo data, restarts it on
// the same data directory and checks that everything survived.
func TestDemoDataAndRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := func() (*system, func()) {
		env := map[string]string{
			"GOVMATCH_HTTP_ADDR": "127.0.0.1:0", "GOVMATCH_GRPC_ADDR": "127.0.0.1:0", "GOVMATCH_ADMIN_ADDR": "127.0.0.1:0",
			"GOVMATCH_DATA_DIR": dir, "LOG_LEVEL": "warn",
		}
		cfg, err := loadConfig(context.Background(), envconfig.MapLookuper(env))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan listening, 1)
		done := make(chan error, 1)
		go func() { done <- serve(ctx, cfg, io.Discard, ready) }()
		var addrs listening
		select {
		case addrs = <-ready:
		case err := <-done:
			t.Fatalf("serve: %v", err)
		}
		iss, err := auth.LoadOrCreateDevIssuer(cfg.devKeyPath(), cfg.DevIssuerURL)
		if err != nil {
			t.Fatal(err)
		}
		return &system{base: "http://" + addrs.HTTP, issuer: iss}, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	sys, stop := start()
	list := sys.call(t, "GET", "/v1/needs?pageSize=100", "", nil).expect(t, "list demo", http.StatusOK)
	first := len(list.body["needs"].([]any))
	if first < 5 {
		t.Fatalf("demo data: %d public needs, want at least 5", first)
	}
	states := map[string]bool{}
	for _, n := range list.body["needs"].([]any) {
		states[str(n.(map[string]any)["state"])] = true
	}
	for _, s := range []string{"STATE_PUBLISHED", "STATE_IN_PROCUREMENT", "STATE_AWARDED", "STATE_CLOSED"} {
		if !states[s] {
			t.Errorf("demo data has no need in %s", s)
		}
	}
	vendors := sys.call(t, "GET", "/v1/vendors?pageSize=100", "", nil).expect(t, "list demo vendors", http.StatusOK)
	if n := len(vendors.body["vendors"].([]any)); n < 8 {
		t.Errorf("demo data: %d vendors, want at least 8", n)
	}
	giessen := sys.token(t, "stadt-giessen", identity.RoleBuyer)
	rs := sys.call(t, "GET", "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/responses", giessen, nil).expect(t, "demo responses", http.StatusOK)
	if n := len(rs.body["responses"].([]any)); n < 2 {
		t.Errorf("demo data: %d responses to the Gießen need, want at least 2", n)
	}
	tok := giessen
	made := sys.call(t, "POST", "/v1/needs", tok, map[string]any{"title": "Nach dem Neustart", "problemStatement": "Bleibt"}).
		expect(t, "create", http.StatusOK)
	// Wait until the draft's event reached matching, so that after the
	// restart only the rebuild can bring it back.
	matches := "/v1/" + str(made.body["name"]) + "/matches"
	await.True(t, "owner matches its new draft", func() bool {
		return sys.call(t, "GET", matches, tok, nil).status == http.StatusOK
	})
	stop()

	if _, err := os.Stat(filepath.Join(dir, "needs.db")); err != nil {
		t.Fatalf("no database file in the data dir: %v", err)
	}
	sys, stop = start()
	defer stop()
	sys.call(t, "GET", "/v1/"+str(made.body["name"]), tok, nil).expect(t, "token and need survive restart", http.StatusOK)
	list = sys.call(t, "GET", "/v1/needs?pageSize=100", "", nil).expect(t, "list after restart", http.StatusOK)
	if got := len(list.body["needs"].([]any)); got != first {
		t.Errorf("after restart %d public needs, want %d (demo data loaded twice?)", got, first)
	}
	// The draft reached matching's rebuilt index (matching lists the
	// registries as a service, not anonymously), for its owners only.
	// Until the index is rebuilt, matching answers 503.
	var res response
	await.True(t, "matching's index rebuilt after the restart", func() bool {
		res = sys.call(t, "GET", matches, tok, nil)
		return res.status != http.StatusServiceUnavailable
	})
	res.expect(t, "owner matches its draft after a restart", http.StatusOK)
	marburg := sys.token(t, "stadt-marburg", identity.RoleBuyer)
	sys.call(t, "GET", matches, marburg, nil).expect(t, "another organisation matches the draft", http.StatusNotFound)
}

// TestOpenAPIAndMetrics checks the public documents of the gateway.
// Not parallel: OpenTelemetry's providers are process globals, and other
// systems started by parallel tests would take them over.
func TestOpenAPIAndMetrics(t *testing.T) {
	sys := startMonolith(t, "", false)
	doc := sys.call(t, "GET", "/openapi.json", "", nil).expect(t, "openapi", http.StatusOK)
	paths, _ := doc.body["paths"].(map[string]any)
	if _, ok := paths["/v1/needs"]; !ok {
		t.Errorf("openapi.json has no /v1/needs: %.300s", doc.raw)
	}
	sys.call(t, "GET", "/v1/needs", "", nil).expect(t, "list", http.StatusOK)
	// Metrics are the operators' business: on the admin port only.
	sys.call(t, "GET", "/metrics", "", nil).expect(t, "metrics on the API port", http.StatusNotFound)
	// Instruments record when a call ends, which may be just after the
	// client has the response.
	want := []string{"rpc_server_call_duration_seconds", "http_server_request_duration_seconds", "db_client_operation_duration_seconds"}
	await.NoError(t, "/metrics has the call durations", func() error {
		m := sys.metrics(t).expect(t, "metrics", http.StatusOK)
		for _, name := range want {
			if !bytes.Contains(m.raw, []byte(name)) {
				return fmt.Errorf("/metrics lacks %s:\n%.2000s", name, m.raw)
			}
		}
		return nil
	})
}
