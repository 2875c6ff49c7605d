package matchcache_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/testdb"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/matchcache"
)

func newCache(t testing.TB, next match.Ranker, src matchcache.Source, store matchcache.Store, opts matchcache.Options) *matchcache.Cache {
	t.Helper()
	c, err := matchcache.New(next, src, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestKey(t *testing.T) {
	t.Parallel()
	buyer := identity.Principal{Subject: "u1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}}
	base := matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w1", match.Query{}, buyer)
	if !regexp.MustCompile(`^govmatch:match:\{[0-9a-f]{16}\}:d1:[0-9a-f]{32}$`).MatchString(base) {
		t.Errorf("key %q does not have the layout prefix match:{subject}:digest:query", base)
	}
	tag := regexp.MustCompile(`\{[^}]*\}`)
	tests := []struct {
		name    string
		key     string
		sameTag bool // same Redis Cluster slot
	}{
		{"another digest", matchcache.Key("govmatch:", "need-matches\x00n1", "d2", "w1", match.Query{}, buyer), true},
		{"other weights", matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w2", match.Query{}, buyer), true},
		{"a page size", matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w1", match.Query{PageSize: 5}, buyer), true},
		{"a page token", matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w1", match.Query{PageToken: "t"}, buyer), true},
		{"a filter", matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w1", match.Query{Filters: match.Filters{OpenSource: true}}, buyer), true},
		{"another organisation", matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w1", match.Query{}, identity.Principal{Subject: "u1", Org: "stadt-marburg"}), true},
		{"anonymous", matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w1", match.Query{}, identity.Principal{}), true},
		{"signed in without organisation", matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w1", match.Query{}, identity.Principal{Subject: "u"}), true},
		{"an admin", matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w1", match.Query{}, identity.Principal{Subject: "u1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleAdmin}}), true},
		{"another need", matchcache.Key("govmatch:", "need-matches\x00n2", "d1", "w1", match.Query{}, buyer), false},
		{"another method", matchcache.Key("govmatch:", "similar-needs\x00n1", "d1", "w1", match.Query{}, buyer), false},
	}
	seen := map[string]string{base: "base"}
	for _, tt := range tests {
		if other, dup := seen[tt.key]; dup {
			t.Errorf("%s: same key as %s", tt.name, other)
		}
		seen[tt.key] = tt.name
		if got := tag.FindString(tt.key) == tag.FindString(base); got != tt.sameTag {
			t.Errorf("%s: same hash tag %v, want %v (%q vs %q)", tt.name, got, tt.sameTag, tt.key, base)
		}
	}
	// Another user of the same organisation and roles gets the same answer.
	colleague := identity.Principal{Subject: "u2", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}}
	if k := matchcache.Key("govmatch:", "need-matches\x00n1", "d1", "w1", match.Query{}, colleague); k != base {
		t.Errorf("a colleague's key %q differs from %q", k, base)
	}
}

// TestVersionSemantics checks that a page is stored only under the
// version it was computed at.
func TestVersionSemantics(t *testing.T) {
	t.Parallel()
	src := &fixedSource{digest: "d1", version: 1}
	inner := &fixedRanker{}
	c := newCache(t, inner, src, matchcache.NewMemory(0), matchcache.Options{})
	ctx := context.Background()
	get := func() string {
		t.Helper()
		p, err := c.NeedMatches(ctx, "n", match.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return p.Results[0].ID
	}
	steps := []struct {
		name string
		act  func()
		want string
	}{
		{"first request computes", nil, "n#1"},
		{"second is a hit", nil, "n#1"},
		{"a change recomputes", func() { src.set("d2", 2) }, "n#2"},
		{"and caches that", nil, "n#2"},
		{"a change undone gives back the old digest, whose page is right again", func() { src.set("d1", 3) }, "n#1"},
	}
	for _, s := range steps {
		if s.act != nil {
			s.act()
		}
		if got := get(); got != s.want {
			t.Errorf("%s: got %s, want %s", s.name, got, s.want)
		}
	}

	// A change while the page is computed: the answer is returned but not
	// stored, under either digest.
	src.set("d3", 4)
	stale := &fixedRanker{}
	c2 := newCache(t, &changing{Ranker: stale, during: func() { src.set("d4", 5) }}, src, matchcache.NewMemory(0), matchcache.Options{})
	if _, err := c2.NeedMatches(ctx, "n", match.Query{}); err != nil {
		t.Fatal(err)
	}
	src.set("d3", 4) // back to the digest the computation started at
	if _, err := c2.NeedMatches(ctx, "n", match.Query{}); err != nil {
		t.Fatal(err)
	}
	if n := stale.calls.Load(); n != 2 {
		t.Errorf("a page computed across a change was served from the cache: %d computations, want 2", n)
	}
}

// changing runs during in every call, before the answer.
type changing struct {
	match.Ranker
	during func()
}

func (c *changing) NeedMatches(ctx context.Context, id string, q match.Query) (match.Page, error) {
	p, err := c.Ranker.NeedMatches(ctx, id, q)
	c.during()
	return p, err
}

func TestErrorsNotCached(t *testing.T) {
	t.Parallel()
	inner := &fixedRanker{err: errdefs.NotFound("need %q not found", "needs/n")}
	c := newCache(t, inner, &fixedSource{digest: "d"}, matchcache.NewMemory(0), matchcache.Options{})
	for range 2 {
		if _, err := c.NeedMatches(context.Background(), "n", match.Query{}); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("got %v, want not found", err)
		}
	}
	if n := inner.calls.Load(); n != 2 {
		t.Errorf("%d calls reached the ranker, want 2: an error was cached", n)
	}
}

// TestRecomputedAfterUpdate uses the real read model: after a vendor
// update the next request sees it.
func TestRecomputedAfterUpdate(t *testing.T) {
	t.Parallel()
	m := newModel(t)
	m.seed(3)
	inner := &counting{Ranker: match.NewService(m.rm)}
	c := newCache(t, inner, m.rm, matchcache.NewMemory(0), matchcache.Options{})
	certified := match.Query{Filters: match.Filters{Certifications: []string{"iso-27001"}}}
	ask := func() []string {
		t.Helper()
		p, err := c.NeedMatches(giessen, "pub", certified)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range p.Results {
			ids = append(ids, r.ID)
		}
		return ids
	}
	if got := ask(); len(got) != 0 {
		t.Fatalf("certified vendors before the update: %v", got)
	}
	ask()
	if n := inner.calls.Load(); n != 1 {
		t.Errorf("second identical request computed again (%d computations)", n)
	}
	m.apply(&vendorsv1.VendorUpdated{Vendor: vendor("v01", "2", bookingDesc, "iso-27001")})
	if diff := cmp.Diff([]string{"v01"}, ask()); diff != "" {
		t.Errorf("after the update (-want +got):\n%s", diff)
	}
	if n := inner.calls.Load(); n != 2 {
		t.Errorf("%d computations after the update, want 2", n)
	}
}

// TestRevalidation: a caller holding the current page of a request is told
// so without a lookup or a computation; any other tag, another query or
// caller, or a change of the model gets the full page. A page computed
// across a change has no tag.
func TestRevalidation(t *testing.T) {
	t.Parallel()
	m := newModel(t)
	m.seed(3)
	inner := &counting{Ranker: match.NewService(m.rm)}
	c := newCache(t, inner, m.rm, matchcache.NewMemory(0), matchcache.Options{})
	q := match.Query{PageSize: 2}
	first, err := c.NeedMatches(anonymous, "pub", q)
	if err != nil || first.ETag == "" || len(first.Results) == 0 {
		t.Fatalf("first answer: tag %q, %d results, %v", first.ETag, len(first.Results), err)
	}
	again, err := c.NeedMatches(anonymous, "pub", q)
	if err != nil || again.ETag != first.ETag {
		t.Fatalf("cached answer: tag %q, want %q (%v)", again.ETag, first.ETag, err)
	}
	p, err := c.NeedMatches(match.WithIfNoneMatch(anonymous, first.ETag), "pub", q)
	if !errors.Is(err, match.ErrNotModified) || p.ETag != first.ETag || p.Results != nil {
		t.Fatalf("holding the current page: %+v, %v", p, err)
	}

	for _, tc := range []struct {
		name    string
		ctx     context.Context
		q       match.Query
		sameTag bool
	}{
		{"another tag", match.WithIfNoneMatch(anonymous, "0123"), q, true},
		{"another query", match.WithIfNoneMatch(anonymous, first.ETag), match.Query{PageSize: 3}, false},
		{"another caller", match.WithIfNoneMatch(giessen, first.ETag), q, false},
	} {
		p, err := c.NeedMatches(tc.ctx, "pub", tc.q)
		if err != nil || len(p.Results) == 0 || p.ETag == "" {
			t.Errorf("%s: %d results, tag %q, %v", tc.name, len(p.Results), p.ETag, err)
		}
		if (p.ETag == first.ETag) != tc.sameTag {
			t.Errorf("%s: tag %q, first answer's %q", tc.name, p.ETag, first.ETag)
		}
	}

	m.apply(&vendorsv1.VendorUpdated{Vendor: vendor("v01", "2", bookingDesc, "iso-27001")})
	p, err = c.NeedMatches(match.WithIfNoneMatch(anonymous, first.ETag), "pub", q)
	if err != nil || p.ETag == first.ETag || len(p.Results) == 0 {
		t.Fatalf("after a change: tag %q (held %q), %d results, %v", p.ETag, first.ETag, len(p.Results), err)
	}

	// A change while the page is computed: the page is answered, untagged.
	before := inner.calls.Load()
	inner.during = func() { m.apply(&vendorsv1.VendorUpdated{Vendor: vendor("v02", "2", bookingDesc)}) }
	p, err = c.NeedMatches(anonymous, "pub", match.Query{PageSize: 4})
	if err != nil || p.ETag != "" || len(p.Results) == 0 || inner.calls.Load() != before+1 {
		t.Fatalf("page computed across a change: tag %q, %d results, %v", p.ETag, len(p.Results), err)
	}
}

// TestDraftsPerOrganisation: a draft's cached matches never reach another
// organisation or an anonymous caller.
func TestDraftsPerOrganisation(t *testing.T) {
	t.Parallel()
	m := newModel(t)
	m.seed(3)
	c := newCache(t, match.NewService(m.rm), m.rm, matchcache.NewMemory(0), matchcache.Options{})
	if _, err := c.NeedMatches(giessen, "draft", match.Query{}); err != nil {
		t.Fatalf("owner: %v", err)
	}
	marburg := identity.NewContext(context.Background(), identity.Principal{Subject: "u2", Org: "stadt-marburg", Roles: []identity.Role{identity.RoleBuyer}})
	for name, ctx := range map[string]context.Context{"other org": marburg, "anonymous": anonymous} {
		if _, err := c.NeedMatches(ctx, "draft", match.Query{}); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s: got %v, want not found", name, err)
		}
	}
}

func TestSingleFlight(t *testing.T) {
	t.Parallel()
	const callers = 16
	m := newModel(t)
	m.seed(5)
	inner := &counting{Ranker: match.NewService(m.rm), gate: make(chan struct{})}
	store := &countingStore{Store: matchcache.NewMemory(0)}
	c := newCache(t, inner, m.rm, store, matchcache.Options{})
	want, err := match.NewService(m.rm).NeedMatches(anonymous, "pub", match.Query{PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]match.Page, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = c.NeedMatches(anonymous, "pub", match.Query{PageSize: 3}) })
	}
	// Every caller has missed (the computation waits for the gate, so
	// nothing is stored) and goes on to join the one computation.
	await.True(t, "every caller missed", func() bool { return store.calls.Load() >= callers })
	close(inner.gate)
	wg.Wait()
	if n := inner.calls.Load(); n != 1 {
		t.Errorf("%d concurrent identical requests made %d computations, want 1", callers, n)
	}
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if diff := cmp.Diff(want, got[i], approx); diff != "" {
			t.Errorf("caller %d (-want +got):\n%s", i, diff)
		}
	}

	// A caller that gives up gets its context's error; the others still
	// get the page.
	inner2 := &counting{Ranker: match.NewService(m.rm), gate: make(chan struct{})}
	c2 := newCache(t, inner2, m.rm, matchcache.NewMemory(0), matchcache.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var patient error
	wg.Go(func() { _, patient = c2.NeedMatches(anonymous, "pub", match.Query{}) })
	await.True(t, "the computation started", func() bool { return inner2.calls.Load() == 1 })
	go cancel()
	if _, err := c2.NeedMatches(ctx, "pub", match.Query{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: got %v, want context.Canceled", err)
	}
	close(inner2.gate)
	wg.Wait()
	if patient != nil {
		t.Errorf("the caller that waited: %v", patient)
	}
}

// TestConcurrentUpdates: while one goroutine updates a vendor through the
// read model, others ask for rankings through the cache. Every answer must
// equal the uncached answer at a content state that existed while the
// request ran. The updated vendor cycles through a few versions with
// distinct scores, so a page of an earlier state would be caught.
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) (matchcache.Store, string){
		"memory": func(*testing.T) (matchcache.Store, string) { return matchcache.NewMemory(64), "" },
		"redis": func(t *testing.T) (matchcache.Store, string) {
			url, prefix := testdb.Redis(t)
			return redisStore(t, url), prefix
		},
		"redis-cluster": func(t *testing.T) (matchcache.Store, string) { return clusterStore(t), "" },
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store, prefix := newStore(t)
			testConcurrentUpdates(t, store, prefix)
		})
	}
}

func redisStore(t testing.TB, url string) *matchcache.Redis {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.ContextTimeoutEnabled = true
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	return matchcache.NewRedis(rdb)
}

func testConcurrentUpdates(t *testing.T, store matchcache.Store, prefix string) {
	const states = 4
	variants := make([]*vendorsv1.Vendor, states)
	for i := range variants {
		// More words on booking raise its score with every variant.
		desc := bookingDesc
		for range i {
			desc += " Terminbuchung Bürgeramt online."
		}
		variants[i] = vendor("v00", fmt.Sprint("e", i), desc)
	}
	queries := []struct {
		ctx  context.Context
		need string
		q    match.Query
	}{
		{anonymous, "pub", match.Query{PageSize: 5}},
		{anonymous, "pub", match.Query{PageSize: 3}},
		{giessen, "draft", match.Query{PageSize: 5}},
	}

	// The uncached answers of every state, from a model of its own.
	want := make([][]match.Page, states)
	for s := range states {
		ref := newModel(t)
		ref.seed(8)
		ref.apply(&vendorsv1.VendorUpdated{Vendor: variants[s]})
		svc := match.NewService(ref.rm)
		for _, q := range queries {
			p, err := svc.NeedMatches(q.ctx, q.need, q.q)
			if err != nil {
				t.Fatal(err)
			}
			want[s] = append(want[s], p)
		}
	}
	for s := 1; s < states; s++ {
		if cmp.Equal(want[0][0], want[s][0], approx) {
			t.Fatalf("states 0 and %d rank alike; the test could not tell them apart", s)
		}
	}

	m := newModel(t)
	m.seed(8)
	m.apply(&vendorsv1.VendorUpdated{Vendor: variants[0]})
	base := m.rm.Version()
	// Every update adds one to the version, so version v is state
	// (v-base) mod states.
	stateAt := func(v uint64) int { return int((v - base) % states) }
	inner := &counting{Ranker: match.NewService(m.rm)}
	c := newCache(t, inner, m.rm, store, matchcache.Options{Prefix: prefix, Timeout: time.Second})

	// The run lasts 2 s, and longer until the cache was exercised: on a
	// loaded machine a store may at first be slower than the cache's
	// timeout.
	ctx, stop := context.WithCancel(context.Background())
	var mu sync.Mutex
	answers, failures, revalidated := 0, 0, 0
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	start := time.Now()
	wg.Go(func() {
		for i := 1; ctx.Err() == nil; i++ {
			m.apply(&vendorsv1.VendorUpdated{Vendor: variants[i%states]})
			// Bursts of changes, and pauses in which pages are cached and
			// revalidated. A pause lasts until the workers answered a few
			// more requests: counted in time alone, it would let a loaded
			// machine answer next to none from the cache.
			time.Sleep(time.Duration(i%5) * 3 * time.Millisecond)
			if i%10 == 0 {
				time.Sleep(25 * time.Millisecond)
				mu.Lock()
				until := answers + 12
				mu.Unlock()
				for ctx.Err() == nil {
					mu.Lock()
					n := answers
					mu.Unlock()
					if n >= until {
						break
					}
					time.Sleep(time.Millisecond)
				}
			}
		}
	})
	for w := range 4 {
		wg.Go(func() {
			// Like the gateway, every other request holds the last tagged
			// page of its query and asks conditionally: a not-modified
			// answer means the held page is the answer, and must be right.
			held := make([]match.Page, len(queries))
			for i := w; ctx.Err() == nil; i++ {
				qi := i % len(queries)
				q := queries[qi]
				qctx := q.ctx
				if i%2 == 0 {
					qctx = match.WithIfNoneMatch(qctx, held[qi].ETag)
				}
				before := m.rm.Version()
				got, err := c.NeedMatches(qctx, q.need, q.q)
				after := m.rm.Version()
				if errors.Is(err, match.ErrNotModified) {
					if got.ETag != held[qi].ETag {
						t.Errorf("not modified with tag %q, held %q", got.ETag, held[qi].ETag)
						return
					}
					got, err = held[qi], nil
					mu.Lock()
					revalidated++
					mu.Unlock()
				}
				if err != nil {
					t.Errorf("request: %v", err)
					return
				}
				if got.ETag != "" {
					held[qi] = got
				}
				ok := false
				for v := before; v <= after && !ok; v++ {
					ok = cmp.Equal(want[stateAt(v)][qi], got, approx)
				}
				mu.Lock()
				answers++
				if !ok {
					failures++
					if failures <= 3 {
						t.Errorf("query %d between versions %d and %d: answer of no state of that time:\n%s",
							qi, before, after, cmp.Diff(want[stateAt(after)][qi], got, approx))
					}
				}
				mu.Unlock()
			}
		})
	}
	await.NoError(t, "the cache exercised for 2 s", func() error {
		if t.Failed() {
			return nil // a worker gave up; what it said is the result
		}
		mu.Lock()
		defer mu.Unlock()
		if computed := int(inner.calls.Load()); answers < 40 || computed >= answers/2 || revalidated == 0 {
			return fmt.Errorf("%d answers, %d of them computed, %d revalidated", answers, computed, revalidated)
		}
		if d := time.Since(start); d < 2*time.Second {
			return fmt.Errorf("ran %v", d)
		}
		return nil
	})
	stop()
	wg.Wait()
	computed := int(inner.calls.Load())
	t.Logf("%d answers (%d computed, %d revalidated), %d wrong, %d updates", answers, computed, revalidated, failures, m.rm.Version()-base)
	if answers < 40 || computed >= answers/2 || revalidated == 0 {
		t.Errorf("%d answers, %d of them computed, %d revalidated: the test did not exercise the cache", answers, computed, revalidated)
	}
}
