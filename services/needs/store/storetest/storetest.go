// Package storetest is the contract every need.Store must meet, written once
// and run against each engine (and against decorators such as caches):
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) need.Store { … })
//	}
//
// RunEvents is the outbox contract of stores opened with WithEvents.
//
// The needs are realistic German public-sector needs with canonical codes
// that refdata knows, so region keys and CPV prefixes work as in production.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/refdata"
	"github.com/govmatch/govmatch/services/needs/need"
)

// Run runs the contract suite. newStore must return a new, empty store for
// each call, opened with its WithAudit option, and close it when t ends; it
// is called from parallel tests.
func Run(t *testing.T, newStore func(t *testing.T) need.Store) {
	t.Run("CreateGet", func(t *testing.T) { t.Parallel(); testCreateGet(t, newStore) })
	t.Run("Errors", func(t *testing.T) { t.Parallel(); testErrors(t, newStore) })
	t.Run("Update", func(t *testing.T) { t.Parallel(); testUpdate(t, newStore) })
	t.Run("UpdateRollback", func(t *testing.T) { t.Parallel(); testUpdateRollback(t, newStore) })
	t.Run("Delete", func(t *testing.T) { t.Parallel(); testDelete(t, newStore) })
	t.Run("ConcurrentUpdates", func(t *testing.T) { t.Parallel(); testConcurrentUpdates(t, newStore) })
	t.Run("List", func(t *testing.T) { t.Parallel(); testList(t, newStore) })
	t.Run("Pagination", func(t *testing.T) { t.Parallel(); testPagination(t, newStore) })
	t.Run("Responses", func(t *testing.T) { t.Parallel(); testResponses(t, newStore) })
	t.Run("Audit", func(t *testing.T) { t.Parallel(); testAudit(t, newStore) })
}

// t0 is a Monday morning in Frankfurt; fixtures count from it.
var t0 = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

// errVeto is what fn returns to refuse a change.
var errVeto = errors.New("veto: der Bedarf ist gesperrt")

// fullNeed has every field set, lists in an order that is not sorted, and
// times with microseconds.
func fullNeed(id string) *need.Need {
	return &need.Need{
		ID: id,
		Fields: need.Fields{
			Title:            "Onlinezugang für Gewerbeanmeldungen",
			ProblemStatement: "Gewerbetreibende müssen heute persönlich ins Ordnungsamt. Nach dem OZG sollen Anmeldung, Ummeldung und Abmeldung vollständig digital möglich sein.",
			DesiredOutcomes: []string{
				"Antrag in unter zehn Minuten",
				"Übergabe an das Fachverfahren ohne Medienbruch",
				"Barrierefrei nach BITV 2.0",
			},
			CPVCodes:           []string{"72212000", "48000000"},
			Places:             []string{"DE712", "06412000"},
			RemotePossible:     true,
			BudgetMinEUR:       80_000,
			BudgetMaxEUR:       250_000,
			StartDate:          need.Date{Year: 2025, Month: 9, Day: 1},
			EndDate:            need.Date{Year: 2026, Month: 12, Day: 31},
			Certifications:     []string{"iso-27001", "bsi-c5"},
			OpenSourceRequired: true,
			ResponseDeadline:   time.Date(2025, 6, 30, 21, 59, 59, 123456000, time.UTC),
			Requirements: []need.Requirement{
				{Kind: need.RequirementHosting, Value: "germany", MustHave: true},
				{Kind: need.RequirementCertification, Value: "iso-27001", MustHave: true},
				{Kind: need.RequirementServesRegion},
				{Kind: need.RequirementCapability, Value: "barrierefreiheit"},
				{Kind: need.RequirementOpenSource, MustHave: true},
			},
		},
		OwnerOrg:    "orgs/land-hessen",
		CoBuyers:    []string{"orgs/stadt-frankfurt", "orgs/kreis-offenbach"},
		State:       need.StateAwarded,
		Award:       &need.Award{VendorName: "Muster IT GmbH", Vendor: "vendors/muster-it", ValueEUR: 199_500, Date: need.Date{Year: 2025, Month: 8, Day: 14}},
		CreateTime:  t0.Add(1*time.Hour + 111*time.Microsecond),
		UpdateTime:  t0.Add(72*time.Hour + 222*time.Microsecond),
		PublishTime: t0.Add(2*time.Hour + 333*time.Microsecond),
		CloseTime:   t0.Add(48*time.Hour + 444*time.Microsecond),
		Revision:    7,
	}
}

// minimalNeed has only what every need has: lists nil, optional times zero,
// no award.
func minimalNeed(id string) *need.Need {
	return &need.Need{
		ID: id,
		Fields: need.Fields{
			Title:            "Terminvergabe im Bürgeramt",
			ProblemStatement: "Wartezeiten von mehreren Wochen.",
		},
		OwnerOrg:   "orgs/stadt-frankfurt",
		State:      need.StateDraft,
		CreateTime: t0,
		UpdateTime: t0,
		Revision:   1,
	}
}

func create(t *testing.T, s need.Store, needs ...*need.Need) {
	t.Helper()
	for _, n := range needs {
		if err := s.Create(context.Background(), n); err != nil {
			t.Fatalf("Create(%q): %v", n.ID, err)
		}
	}
}

func get(t *testing.T, s need.Store, id string) *need.Need {
	t.Helper()
	n, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return n
}

// ids lists needs matching q, by id.
func ids(t *testing.T, s need.Store, q need.ListQuery) []string {
	t.Helper()
	needs, err := s.List(context.Background(), q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	var ids []string
	for _, n := range needs {
		ids = append(ids, n.ID)
	}
	return ids
}

// requireUTC checks that the store hands out times in UTC; cmp compares
// times with Equal, which ignores the location.
func requireUTC(t *testing.T, n *need.Need) {
	t.Helper()
	for name, tm := range map[string]time.Time{
		"ResponseDeadline": n.ResponseDeadline, "CreateTime": n.CreateTime, "UpdateTime": n.UpdateTime,
		"PublishTime": n.PublishTime, "CloseTime": n.CloseTime,
	} {
		if tm.Location() != time.UTC {
			t.Errorf("%s is in %v, want UTC", name, tm.Location())
		}
	}
}

func testCreateGet(t *testing.T, newStore func(*testing.T) need.Store) {
	berlin := time.FixedZone("CET", 3600)
	nanos := func(id string) *need.Need {
		n := minimalNeed(id)
		n.CreateTime = time.Date(2025, 3, 3, 9, 15, 30, 123456789, berlin)
		n.ResponseDeadline = time.Date(2025, 4, 1, 12, 0, 0, 999999999, berlin)
		return n
	}
	awardNoVendor := func(id string) *need.Need {
		n := fullNeed(id)
		n.Award = &need.Award{VendorName: "Kommunale IT-Genossenschaft eG"}
		return n
	}
	tests := []struct {
		name string
		in   *need.Need
		want *need.Need
	}{
		{"every field set", fullNeed("n-gewerbe"), fullNeed("n-gewerbe")},
		{"only required fields", minimalNeed("n-termine"), minimalNeed("n-termine")},
		{"award of an unregistered vendor for nothing, without date", awardNoVendor("n-award"), awardNoVendor("n-award")},
		{
			name: "times kept to the microsecond, in UTC",
			in:   nanos("n-zeit"),
			want: func() *need.Need {
				n := nanos("n-zeit")
				n.CreateTime = time.Date(2025, 3, 3, 8, 15, 30, 123456000, time.UTC)
				n.ResponseDeadline = time.Date(2025, 4, 1, 11, 0, 0, 999999000, time.UTC)
				return n
			}(),
		},
		{
			name: "empty lists come back nil",
			in: func() *need.Need {
				n := minimalNeed("n-leer")
				n.DesiredOutcomes, n.CPVCodes, n.Places, n.Certifications, n.CoBuyers = []string{}, []string{}, []string{}, []string{}, []string{}
				n.Requirements = []need.Requirement{}
				return n
			}(),
			want: minimalNeed("n-leer"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			in := tt.in.Clone()
			create(t, s, tt.in)
			if diff := cmp.Diff(in, tt.in); diff != "" {
				t.Errorf("Create changed its argument (-before +after):\n%s", diff)
			}

			got := get(t, s, tt.want.ID)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Get (-want +got):\n%s", diff)
			}
			requireUTC(t, got)

			listed, err := s.List(context.Background(), need.ListQuery{AllDrafts: true, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]*need.Need{tt.want}, listed); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}

func testErrors(t *testing.T, newStore func(*testing.T) need.Store) {
	ctx := context.Background()
	noop := func(*need.Need) error {
		t.Error("fn called for a need that does not exist")
		return nil
	}
	tests := []struct {
		name string
		do   func(s need.Store) error
		want error
	}{
		{"get missing", func(s need.Store) error { _, err := s.Get(ctx, "n-fehlt"); return err }, errdefs.ErrNotFound},
		{"update missing", func(s need.Store) error { _, err := s.Update(ctx, "n-fehlt", noop); return err }, errdefs.ErrNotFound},
		{"delete missing", func(s need.Store) error { return s.Delete(ctx, "n-fehlt", noop) }, errdefs.ErrNotFound},
		{"create duplicate id", func(s need.Store) error { return s.Create(ctx, minimalNeed("n-gewerbe")) }, errdefs.ErrAlreadyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			create(t, s, fullNeed("n-gewerbe"))
			err := tt.do(s)
			if !errors.Is(err, tt.want) {
				t.Errorf("got error %v, want %v", err, tt.want)
			}
			// Whatever failed changed nothing.
			if diff := cmp.Diff(fullNeed("n-gewerbe"), get(t, s, "n-gewerbe")); diff != "" {
				t.Errorf("need changed (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("driver errors are no sentinels", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		create(t, s, fullNeed("n-gewerbe"))
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.Get(canceled, "n-gewerbe")
		if err == nil {
			t.Fatal("Get with a canceled context succeeded")
		}
		for _, sentinel := range []error{errdefs.ErrNotFound, errdefs.ErrAlreadyExists} {
			if errors.Is(err, sentinel) {
				t.Errorf("Get with a canceled context: %v is %v", err, sentinel)
			}
		}
	})
}

// changeEverything is an edit that touches every field and every child table.
func changeEverything(n *need.Need) {
	n.Title = "Onlinezugang für Wohngeldanträge"
	n.ProblemStatement = "Wohngeld wird in Hamburg noch auf Papier beantragt."
	n.DesiredOutcomes = []string{"Bescheid in zwei Wochen"}
	n.CPVCodes = []string{"48000000"}
	n.Places = []string{"02000000"}
	n.RemotePossible = false
	n.BudgetMinEUR, n.BudgetMaxEUR = 10_000, 0
	n.StartDate, n.EndDate = need.Date{}, need.Date{Year: 2027, Month: 3, Day: 31}
	n.Certifications = nil
	n.OpenSourceRequired = false
	n.ResponseDeadline = time.Time{}
	n.Requirements = []need.Requirement{{Kind: need.RequirementCapability, Value: "wohngeld", MustHave: true}}
	n.OwnerOrg = "orgs/fhh-hamburg"
	n.CoBuyers = []string{"orgs/kreis-offenbach", "orgs/land-hessen", "orgs/stadt-frankfurt"}
	n.State = need.StateClosed
	n.CloseReason = "Bedarf entfallen"
	n.Award = nil
	n.UpdateTime = n.UpdateTime.Add(time.Hour + time.Microsecond)
	n.PublishTime = time.Time{}
	n.Revision++
}

// findsBefore and findsAfter are queries that find fullNeed before and after
// changeEverything, and not the other.
var (
	findsBefore = map[string]need.ListQuery{
		"CPV 722":      {CPVPrefixes: []string{"722"}},
		"region DE7":   {RegionKeys: []string{"DE7"}},
		"owner Hessen": {Organization: "orgs/land-hessen", States: []need.State{need.StateAwarded}},
		"word gewerbe": {Words: []string{"gewerbe"}},
	}
	findsAfter = map[string]need.ListQuery{
		"CPV 48 only":        {CPVPrefixes: []string{"48"}, States: []need.State{need.StateClosed}},
		"region AGS:02000":   {RegionKeys: []string{"AGS:02000"}},
		"co-buyer Offenbach": {Organization: "orgs/kreis-offenbach", States: []need.State{need.StateClosed}},
		"word wohngeld":      {Words: []string{"wohngeld"}},
	}
)

// requireFinds checks which of the queries find the need id.
func requireFinds(t *testing.T, s need.Store, id string, queries map[string]need.ListQuery, want bool) {
	t.Helper()
	for name, q := range queries {
		q.AllDrafts, q.Limit = true, 10
		got := slices.Contains(ids(t, s, q), id)
		if got != want {
			t.Errorf("query %q finds %s: %v, want %v", name, id, got, want)
		}
	}
}

func testUpdate(t *testing.T, newStore func(*testing.T) need.Store) {
	s := newStore(t)
	create(t, s, fullNeed("n-gewerbe"))

	want := fullNeed("n-gewerbe")
	changeEverything(want)
	got, err := s.Update(context.Background(), "n-gewerbe", func(n *need.Need) error {
		if diff := cmp.Diff(fullNeed("n-gewerbe"), n); diff != "" {
			t.Errorf("fn got (-want +got):\n%s", diff)
		}
		changeEverything(n)
		return nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Update returned (-want +got):\n%s", diff)
	}
	requireUTC(t, got)
	if diff := cmp.Diff(want, get(t, s, "n-gewerbe")); diff != "" {
		t.Errorf("Get after Update (-want +got):\n%s", diff)
	}
	requireFinds(t, s, "n-gewerbe", findsBefore, false)
	requireFinds(t, s, "n-gewerbe", findsAfter, true)
}

func testUpdateRollback(t *testing.T, newStore func(*testing.T) need.Store) {
	s := newStore(t)
	create(t, s, fullNeed("n-gewerbe"))

	got, err := s.Update(context.Background(), "n-gewerbe", func(n *need.Need) error {
		changeEverything(n)
		return errVeto
	})
	if err != errVeto { //nolint:errorlint // the contract is: fn's error, unchanged
		t.Errorf("Update returned error %v, want fn's error %v unchanged", err, errVeto)
	}
	if got != nil {
		t.Errorf("Update returned %+v with an error", got)
	}
	if diff := cmp.Diff(fullNeed("n-gewerbe"), get(t, s, "n-gewerbe")); diff != "" {
		t.Errorf("need changed although fn failed (-want +got):\n%s", diff)
	}
	requireFinds(t, s, "n-gewerbe", findsBefore, true)
	requireFinds(t, s, "n-gewerbe", findsAfter, false)
}

func testDelete(t *testing.T, newStore func(*testing.T) need.Store) {
	t.Run("fn vetoes", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		create(t, s, fullNeed("n-gewerbe"))
		err := s.Delete(context.Background(), "n-gewerbe", func(n *need.Need) error {
			if diff := cmp.Diff(fullNeed("n-gewerbe"), n); diff != "" {
				t.Errorf("fn got (-want +got):\n%s", diff)
			}
			return errVeto
		})
		if err != errVeto { //nolint:errorlint // the contract is: fn's error, unchanged
			t.Errorf("Delete returned error %v, want fn's error %v unchanged", err, errVeto)
		}
		if diff := cmp.Diff(fullNeed("n-gewerbe"), get(t, s, "n-gewerbe")); diff != "" {
			t.Errorf("need changed although fn vetoed (-want +got):\n%s", diff)
		}
		requireFinds(t, s, "n-gewerbe", findsBefore, true)
	})

	t.Run("fn agrees", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		create(t, s, fullNeed("n-gewerbe"), minimalNeed("n-termine"))
		if err := s.Delete(context.Background(), "n-gewerbe", func(*need.Need) error { return nil }); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := s.Get(context.Background(), "n-gewerbe"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Get after Delete: error %v, want ErrNotFound", err)
		}
		requireFinds(t, s, "n-gewerbe", findsBefore, false)
		if diff := cmp.Diff([]string{"n-termine"}, ids(t, s, need.ListQuery{AllDrafts: true, Limit: 10})); diff != "" {
			t.Errorf("List after Delete (-want +got):\n%s", diff)
		}

		// The id is free again, and nothing of the old need's child rows
		// or search text comes back with it.
		create(t, s, minimalNeed("n-gewerbe"))
		if diff := cmp.Diff(minimalNeed("n-gewerbe"), get(t, s, "n-gewerbe")); diff != "" {
			t.Errorf("recreated need (-want +got):\n%s", diff)
		}
		requireFinds(t, s, "n-gewerbe", findsBefore, false)
	})
}

func testConcurrentUpdates(t *testing.T, newStore func(*testing.T) need.Store) {
	const writers = 20
	s := newStore(t)
	start := minimalNeed("n-sammelbeschaffung")
	start.State = need.StatePublished
	create(t, s, start)

	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, err := s.Update(context.Background(), start.ID, func(n *need.Need) error {
				n.Revision++
				n.CoBuyers = append(n.CoBuyers, fmt.Sprintf("orgs/gemeinde-%02d", i))
				return nil
			})
			if err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		})
	}
	wg.Wait()

	got := get(t, s, start.ID)
	if got.Revision != start.Revision+writers {
		t.Errorf("Revision = %d after %d increments from %d: updates were lost", got.Revision, writers, start.Revision)
	}
	// Child rows are read and written in the same transaction too.
	var want []string
	for i := range writers {
		want = append(want, fmt.Sprintf("orgs/gemeinde-%02d", i))
	}
	if diff := cmp.Diff(want, slices.Sorted(slices.Values(got.CoBuyers))); diff != "" {
		t.Errorf("co-buyers (-want +got):\n%s", diff)
	}
}

// The needs that List is tested on. Two share a create time, so the id
// decides their order.
const (
	idPortal   = "n-buergerportal-ffm"
	idAkte     = "n-eakte-darmstadt"
	idWohngeld = "n-wohngeld-hh"
	idChatbot  = "n-chatbot-ffm"
	idSchule   = "n-schule-hh"
	idGeodaten = "n-geodaten-of"
)

func listFixture() []*need.Need {
	n := func(id, owner string, state need.State, hours int, title, problem string, cpv, places []string, coBuyers ...string) *need.Need {
		return &need.Need{
			ID: id,
			Fields: need.Fields{
				Title: title, ProblemStatement: problem,
				CPVCodes: cpv, Places: places,
			},
			OwnerOrg:   owner,
			CoBuyers:   coBuyers,
			State:      state,
			CreateTime: t0.Add(time.Duration(hours) * time.Hour),
			UpdateTime: t0.Add(time.Duration(hours) * time.Hour),
			Revision:   1,
		}
	}
	wohngeld := n(idWohngeld, "orgs/fhh-hamburg", need.StateAwarded, 3,
		"Fachverfahren Wohngeld",
		"Das Serviceportal Hamburg soll ab 2026 Wohngeldanträge direkt an das Fachverfahren übergeben.",
		[]string{"48000000"}, []string{"02000000"})
	wohngeld.Award = &need.Award{VendorName: "Dataport AöR", ValueEUR: 1_200_000}
	return []*need.Need{
		n(idPortal, "orgs/stadt-frankfurt", need.StatePublished, 1,
			"Bürgerportal mit Online-Terminbuchung",
			"Bürgerinnen und Bürger sollen Termine im Bürgeramt rund um die Uhr buchen können.",
			[]string{"72212000"}, []string{"06412000"}, "orgs/kreis-offenbach"),
		n(idAkte, "orgs/land-hessen", need.StatePublished, 2,
			"Elektronische Akte für die Bauaufsicht",
			"Bauanträge werden auf Papier geführt; die Akte soll digital und revisionssicher werden.",
			[]string{"72000000"}, []string{"DE712"}),
		wohngeld,
		n(idChatbot, "orgs/stadt-frankfurt", need.StateDraft, 4,
			"Chatbot für Bürgeranfragen",
			"Häufige Fragen an das Bürgertelefon automatisch beantworten.",
			[]string{"72212000"}, []string{"DE712"}),
		n(idSchule, "orgs/fhh-hamburg", need.StateDraft, 5,
			"Digitale Schulverwaltung",
			"Zeugnisse und Stundenpläne in einem System statt in fünf.",
			[]string{"72200000"}, []string{"DE6"}),
		n(idGeodaten, "orgs/kreis-offenbach", need.StateClosed, 5,
			"Geodateninfrastruktur für Portal und Planung",
			"Geodaten der Kommunen sollen über ein gemeinsames Portal bereitstehen.",
			[]string{"48000000", "72212000"}, []string{"DE712", "02000000"}, "orgs/land-hessen", "orgs/stadt-frankfurt"),
	}
}

func testList(t *testing.T, newStore func(*testing.T) need.Store) {
	s := newStore(t)
	create(t, s, listFixture()...)

	cpv := func(codes ...string) []string {
		var prefixes []string
		for _, c := range codes {
			prefixes = append(prefixes, refdata.CPVPrefix(c))
		}
		return prefixes
	}
	at5 := t0.Add(5 * time.Hour)
	tests := []struct {
		name string
		q    need.ListQuery
		want []string
	}{
		// Order and drafts.
		{"all, newest first, equal create times by id", need.ListQuery{AllDrafts: true},
			[]string{idSchule, idGeodaten, idChatbot, idWohngeld, idAkte, idPortal}},
		{"all, oldest first", need.ListQuery{AllDrafts: true, Ascending: true},
			[]string{idPortal, idAkte, idWohngeld, idChatbot, idGeodaten, idSchule}},
		{"no viewer sees no drafts", need.ListQuery{},
			[]string{idGeodaten, idWohngeld, idAkte, idPortal}},
		{"viewer does not see drafts of others", need.ListQuery{ViewerOrg: "orgs/land-hessen"},
			[]string{idGeodaten, idWohngeld, idAkte, idPortal}},
		{"viewer sees own drafts", need.ListQuery{ViewerOrg: "orgs/stadt-frankfurt"},
			[]string{idGeodaten, idChatbot, idWohngeld, idAkte, idPortal}},

		// States.
		{"state published", need.ListQuery{AllDrafts: true, States: []need.State{need.StatePublished}},
			[]string{idAkte, idPortal}},
		{"state draft", need.ListQuery{AllDrafts: true, States: []need.State{need.StateDraft}},
			[]string{idSchule, idChatbot}},
		{"state draft, own only", need.ListQuery{ViewerOrg: "orgs/fhh-hamburg", States: []need.State{need.StateDraft}},
			[]string{idSchule}},
		{"states published or closed", need.ListQuery{AllDrafts: true, States: []need.State{need.StatePublished, need.StateClosed}},
			[]string{idGeodaten, idAkte, idPortal}},
		{"state awarded", need.ListQuery{AllDrafts: true, States: []need.State{need.StateAwarded}},
			[]string{idWohngeld}},
		{"state nobody is in", need.ListQuery{AllDrafts: true, States: []need.State{need.StateInProcurement}},
			nil},

		// CPV hierarchy.
		{"CPV division 72000000 finds its children", need.ListQuery{AllDrafts: true, CPVPrefixes: cpv("72000000")},
			[]string{idSchule, idGeodaten, idChatbot, idAkte, idPortal}},
		{"CPV group 72200000 finds 72212000 but not 72000000", need.ListQuery{AllDrafts: true, CPVPrefixes: cpv("72200000")},
			[]string{idSchule, idGeodaten, idChatbot, idPortal}},
		{"CPV leaf 72212000", need.ListQuery{AllDrafts: true, CPVPrefixes: cpv("72212000")},
			[]string{idGeodaten, idChatbot, idPortal}},
		{"CPV 48000000", need.ListQuery{AllDrafts: true, CPVPrefixes: cpv("48000000")},
			[]string{idGeodaten, idWohngeld}},
		{"CPV either of two", need.ListQuery{AllDrafts: true, CPVPrefixes: cpv("48000000", "72200000")},
			[]string{idSchule, idGeodaten, idChatbot, idWohngeld, idPortal}},
		{"CPV underscore is no wildcard", need.ListQuery{AllDrafts: true, CPVPrefixes: []string{"7_"}}, nil},
		{"CPV percent is no wildcard", need.ListQuery{AllDrafts: true, CPVPrefixes: []string{"%"}}, nil},
		{"CPV backslash is no escape", need.ListQuery{AllDrafts: true, CPVPrefixes: []string{`\7`}}, nil},

		// Regions.
		{"region DE7 (Hessen) finds NUTS DE712 and AGS 06412000", need.ListQuery{AllDrafts: true, RegionKeys: []string{"DE7"}},
			[]string{idGeodaten, idChatbot, idAkte, idPortal}},
		{"region AGS:06 (Hessen) finds the same", need.ListQuery{AllDrafts: true, RegionKeys: []string{"AGS:06"}},
			[]string{idGeodaten, idChatbot, idAkte, idPortal}},
		{"region AGS:06412 (Frankfurt) finds the municipality and the Kreis's NUTS-3 region", need.ListQuery{AllDrafts: true, RegionKeys: []string{"AGS:06412"}},
			[]string{idGeodaten, idChatbot, idAkte, idPortal}},
		{"region DE712 (Frankfurt) finds NUTS places and the Kreis's municipalities", need.ListQuery{AllDrafts: true, RegionKeys: []string{"DE712"}},
			[]string{idGeodaten, idChatbot, idAkte, idPortal}},
		{"region DE71 (Regierungsbezirk Darmstadt) finds the municipality too", need.ListQuery{AllDrafts: true, RegionKeys: []string{"DE71"}},
			[]string{idGeodaten, idChatbot, idAkte, idPortal}},
		{"region DE711 (Darmstadt) finds nothing in Frankfurt", need.ListQuery{AllDrafts: true, RegionKeys: []string{"DE711"}}, nil},
		{"region DE6 (Hamburg)", need.ListQuery{AllDrafts: true, RegionKeys: []string{"DE6"}},
			[]string{idSchule, idGeodaten, idWohngeld}},
		{"region either of two", need.ListQuery{AllDrafts: true, RegionKeys: []string{"DE6", "AGS:06412"}},
			[]string{idSchule, idGeodaten, idChatbot, idWohngeld, idAkte, idPortal}},
		{"region DE (Germany)", need.ListQuery{AllDrafts: true, RegionKeys: []string{"DE"}},
			[]string{idSchule, idGeodaten, idChatbot, idWohngeld, idAkte, idPortal}},

		// Organization.
		{"organization owns one, joined another", need.ListQuery{AllDrafts: true, Organization: "orgs/land-hessen"},
			[]string{idGeodaten, idAkte}},
		{"organization Frankfurt", need.ListQuery{AllDrafts: true, Organization: "orgs/stadt-frankfurt"},
			[]string{idGeodaten, idChatbot, idPortal}},
		{"organization Offenbach", need.ListQuery{AllDrafts: true, Organization: "orgs/kreis-offenbach"},
			[]string{idGeodaten, idPortal}},
		{"organization unknown", need.ListQuery{AllDrafts: true, Organization: "orgs/stadt-kassel"}, nil},

		// Words.
		{"word is a prefix, any case", need.ListQuery{AllDrafts: true, Words: []string{"Bürger"}},
			[]string{idChatbot, idPortal}},
		{"whole word", need.ListQuery{AllDrafts: true, Words: []string{"bürgerportal"}},
			[]string{idPortal}},
		{"upper-case umlaut", need.ListQuery{AllDrafts: true, Words: []string{"BÜRGERPORTAL"}},
			[]string{idPortal}},
		{"words AND", need.ListQuery{AllDrafts: true, Words: []string{"Bürger", "Termin"}},
			[]string{idPortal}},
		{"word only inside another word does not match", need.ListQuery{AllDrafts: true, Words: []string{"portal"}},
			[]string{idGeodaten}},
		{"umlaut is a letter of its own", need.ListQuery{AllDrafts: true, Words: []string{"burger"}}, nil},
		{"word starting with an umlaut", need.ListQuery{AllDrafts: true, Words: []string{"über"}},
			[]string{idGeodaten, idWohngeld}},
		{"hyphenated word is two words", need.ListQuery{AllDrafts: true, Words: []string{"Online-Terminbuchung"}},
			[]string{idPortal}},
		{"word in the problem statement", need.ListQuery{AllDrafts: true, Words: []string{"revisionssicher"}},
			[]string{idAkte}},
		{"word nobody uses", need.ListQuery{AllDrafts: true, Words: []string{"Raumfahrt"}}, nil},
		{"digits", need.ListQuery{AllDrafts: true, Words: []string{"2026"}}, []string{idWohngeld}},
		{"digits as a prefix", need.ListQuery{AllDrafts: true, Words: []string{"202"}}, []string{idWohngeld}},

		// Combined.
		{"everything at once", need.ListQuery{
			States:       []need.State{need.StatePublished, need.StateClosed},
			CPVPrefixes:  cpv("72000000"),
			RegionKeys:   []string{"DE7"},
			Organization: "orgs/land-hessen",
			Words:        []string{"akte"},
		}, []string{idAkte}},
		{"own draft among filters", need.ListQuery{
			ViewerOrg:   "orgs/stadt-frankfurt",
			CPVPrefixes: cpv("72212000"),
			RegionKeys:  []string{"DE7"},
			Words:       []string{"bürger"},
		}, []string{idChatbot, idPortal}},
		{"other's draft among filters", need.ListQuery{
			ViewerOrg:   "orgs/land-hessen",
			CPVPrefixes: cpv("72212000"),
			RegionKeys:  []string{"DE7"},
			Words:       []string{"bürger"},
		}, []string{idPortal}},
		{"organization oldest first", need.ListQuery{AllDrafts: true, Organization: "orgs/stadt-frankfurt", Ascending: true},
			[]string{idPortal, idChatbot, idGeodaten}},
		{"filters that exclude each other", need.ListQuery{AllDrafts: true, CPVPrefixes: cpv("48000000"), RegionKeys: []string{"DE71A"}}, nil},

		// Limit and cursor.
		{"limit", need.ListQuery{AllDrafts: true, Limit: 2},
			[]string{idSchule, idGeodaten}},
		{"after, newest first, tie on create time", need.ListQuery{AllDrafts: true, After: &need.Cursor{CreateTime: at5, ID: idSchule}},
			[]string{idGeodaten, idChatbot, idWohngeld, idAkte, idPortal}},
		{"after the second of a tie", need.ListQuery{AllDrafts: true, After: &need.Cursor{CreateTime: at5, ID: idGeodaten}},
			[]string{idChatbot, idWohngeld, idAkte, idPortal}},
		{"after, oldest first, tie on create time", need.ListQuery{AllDrafts: true, Ascending: true, After: &need.Cursor{CreateTime: at5, ID: idGeodaten}},
			[]string{idSchule}},
		{"after the last", need.ListQuery{AllDrafts: true, After: &need.Cursor{CreateTime: t0.Add(time.Hour), ID: idPortal}}, nil},
		{"after and filter", need.ListQuery{AllDrafts: true, CPVPrefixes: cpv("72212000"), Limit: 1, After: &need.Cursor{CreateTime: at5, ID: idGeodaten}},
			[]string{idChatbot}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := tt.q
			if q.Limit == 0 {
				q.Limit = 100
			}
			if diff := cmp.Diff(tt.want, ids(t, s, q)); diff != "" {
				t.Errorf("List(%+v) ids (-want +got):\n%s", q, diff)
			}
		})
	}
}

// testPagination pages through needs while newer ones arrive: keyset
// pagination must show every need that existed at the start exactly once.
func testPagination(t *testing.T, newStore func(*testing.T) need.Store) {
	tests := []struct {
		name      string
		ascending bool
	}{
		{"newest first", false},
		{"oldest first", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			// Seven needs, several with the same create time, so pages end
			// inside a tie.
			var existing []string
			for i, hours := range []int{1, 2, 2, 2, 3, 4, 4} {
				n := minimalNeed(fmt.Sprintf("n-alt-%d", i))
				n.State = need.StatePublished
				n.CreateTime = t0.Add(time.Duration(hours) * time.Hour)
				create(t, s, n)
				existing = append(existing, n.ID)
			}
			if !tt.ascending {
				slices.Reverse(existing) // ids ascend with create time here
			}

			var seen []string
			q := need.ListQuery{Ascending: tt.ascending, Limit: 2}
			for page := 0; ; page++ {
				if page > 20 {
					t.Fatal("pagination does not end")
				}
				needs, err := s.List(context.Background(), q)
				if err != nil {
					t.Fatal(err)
				}
				if len(needs) == 0 {
					break
				}
				for _, n := range needs {
					seen = append(seen, n.ID)
				}
				last := needs[len(needs)-1]
				q.After = &need.Cursor{CreateTime: last.CreateTime, ID: last.ID}

				// A newer need arrives between the pages of old ones (only
				// then: oldest first, paging would otherwise never end).
				if page < 3 {
					n := minimalNeed(fmt.Sprintf("n-neu-%d", page))
					n.State = need.StatePublished
					n.CreateTime = t0.Add(time.Duration(100+page) * time.Hour)
					create(t, s, n)
				}
			}

			// Newest first, new needs sort before the first page and are never
			// seen; oldest first, they come after the old ones.
			if diff := cmp.Diff(existing, seen[:min(len(existing), len(seen))]); diff != "" {
				t.Errorf("needs seen while paging (-want +got):\n%s", diff)
			}
			if !tt.ascending && len(seen) != len(existing) {
				t.Errorf("saw %d needs, want the %d that existed: %q", len(seen), len(existing), seen)
			}
			for _, id := range seen[min(len(existing), len(seen)):] {
				if slices.Contains(existing, id) {
					t.Errorf("need %s seen twice", id)
				}
			}
		})
	}
}
