package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/govmatch/govmatch/pkg/conditional"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/grpcx"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
)

// taggedNeeds answers GetNeed of "needs/tagged" with a need whose content
// is its version, tagged "v{version}", and answers not-modified when the
// caller holds that tag, as matching does for rankings. "needs/plain" is
// answered without a tag.
type taggedNeeds struct {
	needsv1.UnimplementedNeedsServiceServer

	mu          sync.Mutex
	version     int
	gone        bool
	seen        []string // the If-None-Match of each call
	full        int
	notModified int
}

func (f *taggedNeeds) GetNeed(ctx context.Context, req *needsv1.GetNeedRequest) (*needsv1.Need, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	inm := conditional.IfNoneMatch(ctx)
	f.seen = append(f.seen, inm)
	if req.GetName() == "needs/plain" {
		return &needsv1.Need{Name: req.GetName(), Title: "Untagged"}, nil
	}
	if f.gone {
		return nil, grpcx.ToStatus(errdefs.NotFound("need %q not found", req.GetName()))
	}
	tag := fmt.Sprintf("v%d", f.version)
	if inm == tag {
		f.notModified++
		conditional.SetNotModified(ctx, tag)
		return &needsv1.Need{}, nil
	}
	f.full++
	conditional.SetETag(ctx, tag)
	return &needsv1.Need{Name: req.GetName(), Title: fmt.Sprintf("Version %d", f.version)}, nil
}

// set changes the content; lastSeen returns the If-None-Match of the
// latest call and the counts of full and not-modified answers.
func (f *taggedNeeds) set(version int, gone bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.version, f.gone = version, gone
}

func (f *taggedNeeds) lastSeen() (inm string, full, notModified int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[len(f.seen)-1], f.full, f.notModified
}

func newTaggedFixture(t *testing.T, copyBytes int64) (*taggedNeeds, http.Handler) {
	t.Helper()
	needs := &taggedNeeds{version: 1}
	_, addr := serveBackend(t, func(s *grpcx.Server) { needsv1.RegisterNeedsServiceServer(s, needs) })
	gw, err := New(t.Context(), Config{NeedsAddr: addr, VendorsAddr: addr, CopyBytes: copyBytes}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := gw.Close(); err != nil {
			t.Error(err)
		}
	})
	return needs, gw.Handler()
}

// compact removes the whitespace protojson adds at random.
func compact(t *testing.T, s string) string {
	t.Helper()
	if s == "" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
	return b.String()
}

func get(h http.Handler, path string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

// TestCopies walks one URL through the life of its copy: rendered, served
// on the backend's word, replaced after a change, 304 for a client that
// holds it, and never served when the backend does not vouch for it.
func TestCopies(t *testing.T) {
	t.Parallel()
	needs, h := newTaggedFixture(t, 0)
	const path = "/v1/needs/tagged"
	body := func(v int) string { return fmt.Sprintf(`{"name":"needs/tagged","title":"Version %d"}`, v) }
	type want struct {
		code        int
		body        string
		etag        string
		sent        string // If-None-Match the backend got
		full, notMo int    // the backend's answers so far
	}
	steps := []struct {
		name   string
		change func()
		header []string
		want   want
	}{
		{name: "first GET renders", want: want{200, body(1), `W/"v1"`, "", 1, 0}},
		{name: "second GET is revalidated", want: want{200, body(1), `W/"v1"`, "v1", 1, 1}},
		{name: "after a change the new content", change: func() { needs.set(2, false) }, want: want{200, body(2), `W/"v2"`, "v1", 2, 1}},
		{name: "the new copy is revalidated", want: want{200, body(2), `W/"v2"`, "v2", 2, 2}},
		{name: "client holding it gets 304", header: []string{"If-None-Match", `W/"v2"`}, want: want{304, "", `W/"v2"`, "v2", 2, 3}},
		{name: "strong form and lists match too", header: []string{"If-None-Match", `"x", "v2"`}, want: want{304, "", `W/"v2"`, "v2", 2, 4}},
		{name: "client holding an old one gets the body", header: []string{"If-None-Match", `W/"v1"`}, want: want{200, body(2), `W/"v2"`, "v2", 2, 5}},
		{name: "another caller has a copy of its own", header: []string{"Authorization", "Bearer other"}, want: want{200, body(2), `W/"v2"`, "", 3, 5}},
		{name: "gone: the backend's error, not the copy", change: func() { needs.set(2, true) }, want: want{404, "", "", "v2", 3, 5}},
		{name: "back with the same tag", change: func() { needs.set(2, false) }, want: want{200, body(2), `W/"v2"`, "v2", 3, 6}},
	}
	for _, s := range steps {
		if s.change != nil {
			s.change()
		}
		rec := get(h, path, s.header...)
		sent, full, notMo := needs.lastSeen()
		got := want{rec.Code, "", rec.Header().Get("ETag"), sent, full, notMo}
		if rec.Code != http.StatusNotFound {
			got.body = compact(t, rec.Body.String())
		}
		if got.body != s.want.body || got.code != s.want.code || got.etag != s.want.etag || got.sent != s.want.sent ||
			got.full != s.want.full || got.notMo != s.want.notMo {
			t.Fatalf("%s: got %+v, want %+v", s.name, got, s.want)
		}
		if rec.Code == http.StatusOK {
			wantCC := "private, no-cache"
			if slices.Contains(s.header, "Authorization") {
				wantCC = "no-store" // nothing a caller with credentials reads is stored
			}
			if cc := rec.Header().Get("Cache-Control"); cc != wantCC {
				t.Errorf("%s: Cache-Control %q, want %q", s.name, cc, wantCC)
			}
			if h := rec.Header().Get("Grpc-Metadata-" + conditional.NotModifiedKey); h != "" {
				t.Errorf("%s: internal header leaked: %q", s.name, h)
			}
		}
	}

	// An untagged answer is rendered each time and has no validators.
	for range 2 {
		rec := get(h, "/v1/needs/plain")
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") != "" || !strings.Contains(rec.Body.String(), "Untagged") {
			t.Fatalf("untagged: %d %q %s", rec.Code, rec.Header().Get("ETag"), rec.Body)
		}
		if sent, _, _ := needs.lastSeen(); sent != "" {
			t.Fatalf("untagged: sent If-None-Match %q", sent)
		}
	}
}

// TestCopiesOff: without copies nothing is revalidated, but clients still
// get validators and 304.
func TestCopiesOff(t *testing.T) {
	t.Parallel()
	needs, h := newTaggedFixture(t, -1)
	for range 2 {
		rec := get(h, "/v1/needs/tagged")
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") != `W/"v1"` {
			t.Fatalf("got %d %q", rec.Code, rec.Header().Get("ETag"))
		}
	}
	if rec := get(h, "/v1/needs/tagged", "If-None-Match", `W/"v1"`); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Fatalf("If-None-Match: %d %q", rec.Code, rec.Body)
	}
	if sent, full, notMo := needs.lastSeen(); sent != "" || full != 3 || notMo != 0 {
		t.Fatalf("backend got If-None-Match %q, answered %d full, %d not modified", sent, full, notMo)
	}
}

// TestCopiesUnderChange: while the content changes, every answer's body is
// the content its ETag names.
func TestCopiesUnderChange(t *testing.T) {
	t.Parallel()
	needs, h := newTaggedFixture(t, 0)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if w == 0 && i%10 == 0 {
					needs.set(i/10+1, false)
				}
				rec := get(h, "/v1/needs/tagged")
				var v int
				if _, err := fmt.Sscanf(rec.Header().Get("ETag"), `W/"v%d"`, &v); err != nil || rec.Code != http.StatusOK {
					t.Errorf("answer %d, ETag %q", rec.Code, rec.Header().Get("ETag"))
					return
				}
				if want := fmt.Sprintf(`"title":"Version %d"`, v); !strings.Contains(rec.Body.String(), want) {
					t.Errorf("ETag %q with body %s", rec.Header().Get("ETag"), rec.Body)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCopiesBound(t *testing.T) {
	t.Parallel()
	c := newCopies(800)
	put := func(key string, n int) { c.put(&rendered{key: key, tag: "t", body: make([]byte, n)}) }
	put("a", 40)
	put("b", 40)
	put("c", 40)
	if c.get("a") == nil { // a is now the most recently used
		t.Fatal("a missing")
	}
	put("huge", 200) // over an eighth of the bound: not kept
	if c.get("huge") != nil {
		t.Fatal("a copy over an eighth of the bound was kept")
	}
	for i := range 18 { // 18 × 42 B push out b and c, not a...
		put(fmt.Sprint("k", i), 40)
		c.get("a")
	}
	if c.get("a") == nil || c.get("b") != nil || c.get("c") != nil {
		t.Fatalf("eviction order: a %v b %v c %v", c.get("a") != nil, c.get("b") != nil, c.get("c") != nil)
	}
	put("a", 10) // ...and a replaced copy's size is its new one
	var total int64
	for e := c.ll.Front(); e != nil; e = e.Next() {
		total += e.Value.(*rendered).cost()
	}
	if total != c.size || c.size > c.max {
		t.Fatalf("size %d, sum of copies %d, bound %d", c.size, total, c.max)
	}
	var none *copies
	none.put(&rendered{key: "x"})
	if none.get("x") != nil {
		t.Fatal("nil copies kept something")
	}
}

func TestMatchesETag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{`"t"`, true},
		{`W/"t"`, true},
		{`*`, true},
		{`"a", W/"t"`, true},
		{`"a",W/"b"`, false},
		{`t`, false},
		{`"tt"`, false},
		{`W/"`, false},
		{`"`, false},
	} {
		if got := matchesETag(tc.header, "t"); got != tc.want {
			t.Errorf("matchesETag(%q, t) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

func FuzzMatchesETag(f *testing.F) {
	for _, s := range []string{`"t"`, `W/"t", "u"`, `*`, `W/"`, ``} {
		f.Add(s, "t")
	}
	f.Fuzz(func(t *testing.T, header, tag string) {
		got := matchesETag(header, tag)
		if tag != "" && !strings.ContainsAny(tag, `",`) && !matchesETag(header+`, W/"`+tag+`"`, tag) {
			t.Fatalf("%q plus its weak tag does not match %q", header, tag)
		}
		if got && header != "" && !strings.Contains(header, tag) && !strings.Contains(header, "*") {
			t.Fatalf("%q matched %q without naming it", header, tag)
		}
	})
}
