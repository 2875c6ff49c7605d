package readmodel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/identity"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/readmodel"
	"github.com/govmatch/govmatch/services/matching/score"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness runs a Model on a Memory bus, as the monolith does.
type harness struct {
	t   *testing.T
	bus *eventbus.Memory
	rm  *readmodel.Model
	svc *match.Service
	seq int
}

// newHarness is a model whose registries start empty, so every event
// reaches it and it is complete from the start.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := newUnbuiltHarness(t)
	h.rm.MarkReady()
	return h
}

// newUnbuiltHarness is a model that has not been rebuilt yet.
func newUnbuiltHarness(t *testing.T) *harness {
	t.Helper()
	bus := eventbus.NewMemory(eventbus.MemoryOptions{})
	bus.Declare(readmodel.StreamNeeds, readmodel.Group)
	bus.Declare(readmodel.StreamVendors, readmodel.Group)
	rm := readmodel.New(score.DefaultWeights)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := rm.Run(ctx, bus, readmodel.Group); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &harness{t: t, bus: bus, rm: rm, svc: match.NewService(rm)}
}

// publish sends one event and returns once the model applied it (Memory
// delivers synchronously; it fails until the subscriptions run).
func (h *harness) publish(stream, aggID string, version int64, payload proto.Message) {
	h.t.Helper()
	h.seq++
	a, err := anypb.New(payload)
	if err != nil {
		h.t.Fatal(err)
	}
	ev := &eventsv1.Event{
		Id: fmt.Sprintf("ev-%d", h.seq), Source: stream, AggregateType: stream[:len(stream)-1],
		AggregateId: aggID, AggregateVersion: version, Type: string(payload.ProtoReflect().Descriptor().FullName()), Payload: a,
	}
	data, err := proto.Marshal(ev)
	if err != nil {
		h.t.Fatal(err)
	}
	msgs := []eventbus.Message{{Stream: stream, ID: ev.Id, Data: data}}
	// Until the model's Run has subscribed, the bus refuses the event; on a
	// loaded machine (the race detector, other test binaries) that can
	// take seconds.
	await.NoError(h.t, "publish "+ev.Id, func() error {
		err := h.bus.Publish(context.Background(), msgs)
		if err != nil && !errors.Is(err, eventbus.ErrNoConsumer) {
			h.t.Fatalf("publish: %v", err)
		}
		return err
	})
}

func vendor(id, name, desc string, cpv ...string) *vendorsv1.Vendor {
	return &vendorsv1.Vendor{
		Name: "vendors/" + id, DisplayName: name, Kind: vendorsv1.Vendor_KIND_START_UP,
		Description: desc, CpvCodes: cpv, RegionsServed: []string{"DE7"},
	}
}

func need(id, owner string, state needsv1.Need_State, title, problem string, cpv ...string) *needsv1.Need {
	return &needsv1.Need{
		Name: "needs/" + id, OwnerOrganization: owner, State: state,
		Title: title, ProblemStatement: problem, CpvCodes: cpv,
	}
}

func ids(p match.Page) []string {
	out := []string{}
	for _, r := range p.Results {
		out = append(out, r.ID)
	}
	return out
}

var (
	giessen   = identity.NewContext(context.Background(), identity.Principal{Subject: "u1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}})
	marburg   = identity.NewContext(context.Background(), identity.Principal{Subject: "u2", Org: "stadt-marburg", Roles: []identity.Role{identity.RoleBuyer}})
	anonymous = context.Background()
)

const (
	bookingNeedTitle = "Online-Terminbuchung für das Bürgeramt"
	bookingProblem   = "Bürgerinnen und Bürger sollen Termine im Bürgeramt online buchen können."
	bookingDesc      = "Software für Terminbuchung und Terminvergabe in Behörden und Bürgerämtern."
)

func TestEventsReachAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	h.publish("vendors", "termin", 1, &vendorsv1.VendorCreated{Vendor: vendor("termin", "TerminFix", bookingDesc, "72212000")})
	h.publish("needs", "n1", 1, &needsv1.NeedCreated{Need: need("n1", "stadt-giessen", needsv1.Need_STATE_DRAFT, bookingNeedTitle, bookingProblem, "72212000")})

	// A draft: its owner sees its matches, nobody else sees it at all.
	p, err := h.svc.NeedMatches(giessen, "n1", match.Query{})
	if err != nil {
		t.Fatalf("owner: %v", err)
	}
	if diff := cmp.Diff([]string{"termin"}, ids(p)); diff != "" {
		t.Errorf("owner's matches (-want +got):\n%s", diff)
	}
	if p.WeightsVersion != score.DefaultWeights.Version || p.Results[0].Explanation.WeightsVersion != score.DefaultWeights.Version {
		t.Errorf("weights version missing: page %q, explanation %q", p.WeightsVersion, p.Results[0].Explanation.WeightsVersion)
	}
	for name, ctx := range map[string]context.Context{"other org": marburg, "anonymous": anonymous} {
		if _, err := h.svc.NeedMatches(ctx, "n1", match.Query{}); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s: got %v, want not found", name, err)
		}
		if _, err := h.svc.SimilarNeeds(ctx, "n1", match.Query{}); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s similar: got %v, want not found", name, err)
		}
	}
	if p, err := h.svc.VendorMatches(anonymous, "termin", match.Query{}); err != nil || len(p.Results) != 0 {
		t.Errorf("vendor matches with only a draft: %v, %v; want none", ids(p), err)
	}

	// Published: public, and matched to vendors.
	h.publish("needs", "n1", 2, &needsv1.NeedPublished{Need: need("n1", "stadt-giessen", needsv1.Need_STATE_PUBLISHED, bookingNeedTitle, bookingProblem, "72212000")})
	if p, err := h.svc.NeedMatches(marburg, "n1", match.Query{}); err != nil || !slices.Equal(ids(p), []string{"termin"}) {
		t.Errorf("published need for another org: %v, %v", ids(p), err)
	}
	if p, err := h.svc.VendorMatches(anonymous, "termin", match.Query{}); err != nil || !slices.Equal(ids(p), []string{"n1"}) {
		t.Errorf("vendor matches: %v, %v; want [n1]", ids(p), err)
	}

	// An update is reflected by the next request.
	certFilter := match.Query{Filters: match.Filters{Certifications: []string{"iso-27001"}}}
	if p, _ := h.svc.NeedMatches(giessen, "n1", certFilter); len(p.Results) != 0 {
		t.Errorf("certified vendors before the update: %v", ids(p))
	}
	v := vendor("termin", "TerminFix", bookingDesc, "72212000")
	v.Certifications = []string{"iso-27001"}
	h.publish("vendors", "termin", 2, &vendorsv1.VendorUpdated{Vendor: v})
	if p, _ := h.svc.NeedMatches(giessen, "n1", certFilter); !slices.Equal(ids(p), []string{"termin"}) {
		t.Errorf("certified vendors after the update: %v, want [termin]", ids(p))
	}

	// A delete removes the vendor; an outdated create redelivered after it
	// does not bring it back.
	h.publish("vendors", "termin", 3, &vendorsv1.VendorDeleted{Name: "vendors/termin"})
	h.publish("vendors", "termin", 1, &vendorsv1.VendorCreated{Vendor: vendor("termin", "TerminFix", bookingDesc, "72212000")})
	if p, _ := h.svc.NeedMatches(giessen, "n1", match.Query{}); len(p.Results) != 0 {
		t.Errorf("matches after delete: %v, want none", ids(p))
	}
	if _, err := h.svc.VendorMatches(anonymous, "termin", match.Query{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("deleted vendor's matches: %v, want not found", err)
	}

	// Deleting a need removes it.
	h.publish("needs", "n2", 1, &needsv1.NeedCreated{Need: need("n2", "stadt-giessen", needsv1.Need_STATE_DRAFT, "x", "y")})
	h.publish("needs", "n2", 2, &needsv1.NeedDeleted{Name: "needs/n2"})
	if _, err := h.svc.NeedMatches(giessen, "n2", match.Query{}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("deleted need: %v, want not found", err)
	}
}

func TestSimilarNeedsAndFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pub := needsv1.Need_STATE_PUBLISHED
	h.publish("needs", "a", 1, &needsv1.NeedPublished{Need: need("a", "stadt-giessen", pub, bookingNeedTitle, bookingProblem, "72212000")})
	h.publish("needs", "b", 1, &needsv1.NeedPublished{Need: need("b", "stadt-marburg", pub, "Terminbuchung Kfz-Zulassung", "Termine für die Kfz-Zulassung online buchen.", "72212000")})
	h.publish("needs", "c", 1, &needsv1.NeedCreated{Need: need("c", "stadt-kassel", needsv1.Need_STATE_DRAFT, "Terminbuchung Standesamt", "Termine im Standesamt online buchen.", "72212000")})

	p, err := h.svc.SimilarNeeds(anonymous, "a", match.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b"}, ids(p)); diff != "" {
		t.Errorf("similar needs (-want +got):\n%s (the need itself and drafts are never among them)", diff)
	}

	open := vendor("open", "OpenTermin", bookingDesc, "72212000")
	open.Products = []*vendorsv1.Product{{DisplayName: "OpenTermin", OpenSource: true, Licence: "EUPL-1.2"}}
	h.publish("vendors", "open", 1, &vendorsv1.VendorCreated{Vendor: open})
	ngo := vendor("ngo", "Termine e.V.", bookingDesc, "72212000")
	ngo.Kind = vendorsv1.Vendor_KIND_NGO
	h.publish("vendors", "ngo", 1, &vendorsv1.VendorCreated{Vendor: ngo})

	tests := []struct {
		name string
		f    match.Filters
		want []string
	}{
		{"none", match.Filters{}, []string{"ngo", "open"}},
		{"open source", match.Filters{OpenSource: true}, []string{"open"}},
		{"kind", match.Filters{VendorKinds: []string{"KIND_NGO"}}, []string{"ngo"}},
		{"region", match.Filters{Regions: []string{"DE1"}}, []string{}},
	}
	for _, tt := range tests {
		p, err := h.svc.NeedMatches(anonymous, "a", match.Query{Filters: tt.f})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := ids(p)
		slices.Sort(got)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

type fakeLister struct {
	vendors []*vendorsv1.Vendor
	needs   []*needsv1.Need
}

func (f fakeLister) ListVendors(_ context.Context, fn func(*vendorsv1.Vendor) error) error {
	for _, v := range f.vendors {
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

func (f fakeLister) ListNeeds(_ context.Context, fn func(*needsv1.Need) error) error {
	for _, n := range f.needs {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

func TestRebuild(t *testing.T) {
	t.Parallel()
	h := newUnbuiltHarness(t)
	h.publish("vendors", "stale", 1, &vendorsv1.VendorCreated{Vendor: vendor("stale", "Stale", bookingDesc, "72212000")})
	if h.rm.Ready() {
		t.Fatal("ready before the first rebuild")
	}
	before := h.rm.Version()
	err := h.rm.Rebuild(context.Background(), fakeLister{
		vendors: []*vendorsv1.Vendor{vendor("fresh", "Fresh", bookingDesc, "72212000")},
		needs:   []*needsv1.Need{need("n1", "stadt-giessen", needsv1.Need_STATE_PUBLISHED, bookingNeedTitle, bookingProblem, "72212000")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !h.rm.Ready() || h.rm.Version() <= before {
		t.Errorf("after rebuild: ready %v, version %d (was %d)", h.rm.Ready(), h.rm.Version(), before)
	}
	p, err := h.svc.NeedMatches(anonymous, "n1", match.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"fresh"}, ids(p)); diff != "" {
		t.Errorf("matches after rebuild (-want +got):\n%s", diff)
	}
}

// eventDuringList applies an event to the model while a Rebuild lists:
// the event is newer than the listing and must win.
type eventDuringList struct {
	fakeLister
	during func()
}

func (e eventDuringList) ListVendors(ctx context.Context, fn func(*vendorsv1.Vendor) error) error {
	e.during()
	return e.fakeLister.ListVendors(ctx, fn)
}

func TestRebuildKeepsNewerEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.publish("needs", "n1", 1, &needsv1.NeedPublished{Need: need("n1", "stadt-giessen", needsv1.Need_STATE_PUBLISHED, bookingNeedTitle, bookingProblem, "72212000")})
	err := h.rm.Rebuild(context.Background(), eventDuringList{
		fakeLister: fakeLister{
			// The listing still has "gone" (deleted meanwhile) and an old
			// "kept" without the certification.
			vendors: []*vendorsv1.Vendor{vendor("gone", "Gone", bookingDesc, "72212000"), vendor("kept", "Kept", bookingDesc, "72212000")},
			needs:   []*needsv1.Need{need("n1", "stadt-giessen", needsv1.Need_STATE_PUBLISHED, bookingNeedTitle, bookingProblem, "72212000")},
		},
		during: func() {
			v := vendor("kept", "Kept", bookingDesc, "72212000")
			v.Certifications = []string{"iso-27001"}
			h.publish("vendors", "kept", 2, &vendorsv1.VendorUpdated{Vendor: v})
			h.publish("vendors", "gone", 2, &vendorsv1.VendorDeleted{Name: "vendors/gone"})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.svc.NeedMatches(anonymous, "n1", match.Query{Filters: match.Filters{Certifications: []string{"iso-27001"}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"kept"}, ids(p)); diff != "" {
		t.Errorf("after rebuild with concurrent events (-want +got):\n%s", diff)
	}
}
