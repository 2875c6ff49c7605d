package matchcache_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/testdb"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/readmodel"
	"github.com/govmatch/govmatch/services/matching/score"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// Stop the throwaway Redis this binary may have started (without
	// REDIS_URL) before looking for leaks: its watcher is not one.
	testdb.Cleanup()
	if code == 0 {
		// go-redis's connection pool reaper outlives a closed client briefly.
		if err := goleak.Find(goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).reaper")); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

const (
	bookingTitle   = "Online-Terminbuchung für das Bürgeramt"
	bookingProblem = "Bürgerinnen und Bürger sollen Termine im Bürgeramt online buchen können."
	bookingDesc    = "Software für Terminbuchung und Terminvergabe in Behörden und Bürgerämtern."
)

var (
	giessen   = identity.NewContext(context.Background(), identity.Principal{Subject: "u1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}})
	anonymous = context.Background()
	// approx compares pages of two models with equal content, whose
	// floating-point sums may differ in the last bits, and leaves out the
	// ETag the cache adds to pages.
	approx = cmp.Options{cmpopts.EquateApprox(0, 1e-9), cmpopts.IgnoreFields(match.Page{}, "ETag")}
)

// model is a read model fed directly with events, as the bus would.
type model struct {
	t  testing.TB
	rm *readmodel.Model
}

func newModel(t testing.TB) *model {
	t.Helper()
	rm := readmodel.New(score.DefaultWeights)
	rm.MarkReady()
	return &model{t: t, rm: rm}
}

func (m *model) apply(payload proto.Message) {
	m.t.Helper()
	a, err := anypb.New(payload)
	if err != nil {
		m.t.Fatal(err)
	}
	if err := m.rm.Apply(context.Background(), &eventsv1.Event{Id: "ev", Payload: a}); err != nil {
		m.t.Fatal(err)
	}
}

func vendor(id, etag, desc string, certs ...string) *vendorsv1.Vendor {
	return &vendorsv1.Vendor{
		Name: "vendors/" + id, Etag: etag, DisplayName: "Vendor " + id, Kind: vendorsv1.Vendor_KIND_START_UP,
		Description: desc, CpvCodes: []string{"72212000"}, RegionsServed: []string{"DE7"}, Certifications: certs,
	}
}

func need(id, etag string, state needsv1.Need_State) *needsv1.Need {
	return &needsv1.Need{
		Name: "needs/" + id, Etag: etag, OwnerOrganization: "stadt-giessen", State: state,
		Title: bookingTitle, ProblemStatement: bookingProblem, CpvCodes: []string{"72212000"},
	}
}

// seed puts n vendors and a published and a draft need into m.
func (m *model) seed(n int) {
	for i := range n {
		m.apply(&vendorsv1.VendorCreated{Vendor: vendor(fmt.Sprintf("v%02d", i), "1", fmt.Sprintf("%s Variante %d, Bürgeramt %d.", bookingDesc, i, i%7))})
	}
	m.apply(&needsv1.NeedPublished{Need: need("pub", "1", needsv1.Need_STATE_PUBLISHED)})
	m.apply(&needsv1.NeedCreated{Need: need("draft", "1", needsv1.Need_STATE_DRAFT)})
}

// counting is a match.Ranker that counts the calls reaching it.
type counting struct {
	match.Ranker
	calls atomic.Int64
	// gate, when set, holds every call until it is closed.
	gate chan struct{}
	// during, when set, runs inside every call.
	during func()
}

func (c *counting) NeedMatches(ctx context.Context, id string, q match.Query) (match.Page, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	if c.during != nil {
		c.during()
	}
	return c.Ranker.NeedMatches(ctx, id, q)
}

// fixedSource is a Source whose digest and version the test sets.
type fixedSource struct {
	mu      sync.Mutex
	digest  string
	version uint64
}

func (s *fixedSource) DigestVersion() (string, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.digest, s.version
}

func (s *fixedSource) set(digest string, version uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.digest, s.version = digest, version
}

func (*fixedSource) WeightsVersion() string { return "w1" }

// fixedRanker answers every NeedMatches with a page naming its call.
type fixedRanker struct {
	match.Ranker
	calls atomic.Int64
	err   error
}

func (f *fixedRanker) NeedMatches(_ context.Context, id string, _ match.Query) (match.Page, error) {
	n := f.calls.Add(1)
	if f.err != nil {
		return match.Page{}, f.err
	}
	return match.Page{Results: []match.Result{{ID: fmt.Sprintf("%s#%d", id, n), Score: 1}}, WeightsVersion: "w1"}, nil
}
