package need

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
)

// memStore is a map-backed Store for the domain's own tests; the real
// engines pass the contract suite in ../store/storetest.
type memStore struct {
	mu        sync.Mutex
	needs     map[string]*Need
	responses map[[2]string]*Response
	trail     []audit.Entry // what AuditTrail returns
}

func newMemStore() *memStore {
	return &memStore{needs: map[string]*Need{}, responses: map[[2]string]*Response{}}
}

func (m *memStore) UpdateResponse(_ context.Context, needID, vendor string, fn func(*Need, *Response) (*Response, error)) (*Response, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.needs[needID]
	if !ok {
		return nil, NotFound(needID)
	}
	var cur *Response
	if r, ok := m.responses[[2]string{needID, vendor}]; ok {
		c := *r
		cur = &c
	}
	r, err := fn(n.Clone(), cur)
	if err != nil {
		return nil, err
	}
	c := *r
	m.responses[[2]string{needID, vendor}] = &c
	return r, nil
}

func (m *memStore) GetResponse(_ context.Context, needID, vendor string) (*Response, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.responses[[2]string{needID, vendor}]
	if !ok {
		return nil, ResponseNotFound(needID, vendor)
	}
	c := *r
	return &c, nil
}

func (m *memStore) AuditTrail(_ context.Context, q audit.Query) ([]audit.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []audit.Entry
	for _, e := range m.trail {
		if e.Resource != q.Resource && (!q.Children || !strings.HasPrefix(e.Resource, q.Resource+"/")) {
			continue
		}
		if a := q.After; a != nil && (e.Time.Before(a.Time) || e.Time.Equal(a.Time) && (e.Resource < a.Resource || e.Resource == a.Resource && e.Seq <= a.Seq)) {
			continue
		}
		if len(out) < q.Limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memStore) ListResponses(context.Context, ResponseQuery) ([]*Response, error) {
	return nil, errors.New("memStore does not list; the contract suite tests ListResponses")
}

func (m *memStore) Create(_ context.Context, n *Need) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.needs[n.ID]; ok {
		return errdefs.AlreadyExists("need %q exists", n.ID)
	}
	m.needs[n.ID] = n.Clone()
	return nil
}

func (m *memStore) Get(_ context.Context, id string) (*Need, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.needs[id]
	if !ok {
		return nil, NotFound(id)
	}
	return n.Clone(), nil
}

func (m *memStore) Update(_ context.Context, id string, fn func(*Need) error) (*Need, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.needs[id]
	if !ok {
		return nil, NotFound(id)
	}
	c := n.Clone()
	if err := fn(c); err != nil {
		return nil, err
	}
	m.needs[id] = c.Clone()
	return c, nil
}

func (m *memStore) Delete(_ context.Context, id string, fn func(*Need) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.needs[id]
	if !ok {
		return NotFound(id)
	}
	if err := fn(n.Clone()); err != nil {
		return err
	}
	delete(m.needs, id)
	return nil
}

func (m *memStore) List(context.Context, ListQuery) ([]*Need, error) {
	return nil, errors.New("memStore does not list; the contract suite tests List")
}

var (
	t0         = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	giessen    = identity.Principal{Subject: "a@giessen", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}}
	marburg    = identity.Principal{Subject: "b@marburg", Org: "stadt-marburg", Roles: []identity.Role{identity.RoleBuyer}}
	vendor     = identity.Principal{Subject: "c@startup", Org: "civic-startup", Roles: []identity.Role{identity.RoleVendor}}
	admin      = identity.Principal{Subject: "root", Roles: []identity.Role{identity.RoleAdmin}}
	anonymous  = identity.Principal{}
	validInput = Fields{
		Title:            "Online-Terminbuchung",
		ProblemStatement: "Lange Wartezeiten im Bürgerbüro.",
		CPVCodes:         []string{"72212000-4", "48000000"},
		Places:           []string{"06531005", "de7"},
		Certifications:   []string{"ISO 27001"},
		BudgetMinEUR:     1000,
		BudgetMaxEUR:     5000,
	}
)

func as(p identity.Principal) context.Context {
	return identity.NewContext(context.Background(), p)
}

func newTestService(t *testing.T) *Service {
	t.Helper()
	return NewService(newMemStore(), WithClock(func() time.Time { return t0 }))
}

// fieldsOf lists the fields of a validation error, or the kind of another
// error, so cases can say what they expect in one string slice.
func fieldsOf(err error) []string {
	var ve *errdefs.ValidationError
	if errors.As(err, &ve) {
		var out []string
		for _, v := range ve.Violations {
			out = append(out, v.Field)
		}
		return out
	}
	if err != nil {
		return []string{"!" + err.Error()}
	}
	return nil
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	mutate := func(f func(*Fields)) Fields {
		in := validInput
		in.CPVCodes = append([]string(nil), validInput.CPVCodes...)
		in.Places = append([]string(nil), validInput.Places...)
		f(&in)
		return in
	}
	tests := []struct {
		name       string
		in         Fields
		id         string
		wantFields []string
	}{
		{name: "valid", in: validInput},
		{name: "empty title", in: mutate(func(f *Fields) { f.Title = "  " }), wantFields: []string{"need.title"}},
		{name: "multi-line title", in: mutate(func(f *Fields) { f.Title = "a\nb" }), wantFields: []string{"need.title"}},
		{name: "long title", in: mutate(func(f *Fields) { f.Title = strings.Repeat("ä", MaxTitleLen+1) }), wantFields: []string{"need.title"}},
		{name: "problem at limit", in: mutate(func(f *Fields) { f.ProblemStatement = strings.Repeat("ü", MaxProblemLen) })},
		{name: "problem over limit", in: mutate(func(f *Fields) { f.ProblemStatement = strings.Repeat("ü", MaxProblemLen+1) }), wantFields: []string{"need.problem_statement"}},
		{name: "invalid utf8", in: mutate(func(f *Fields) { f.ProblemStatement = "\xff" }), wantFields: []string{"need.problem_statement"}},
		{name: "control character", in: mutate(func(f *Fields) { f.ProblemStatement = "a\x00b" }), wantFields: []string{"need.problem_statement"}},
		{name: "unknown cpv", in: mutate(func(f *Fields) { f.CPVCodes = []string{"72212000", "99999999"} }), wantFields: []string{"need.cpv_codes[1]"}},
		{name: "wrong cpv check digit", in: mutate(func(f *Fields) { f.CPVCodes = []string{"72212000-3"} }), wantFields: []string{"need.cpv_codes[0]"}},
		{name: "malformed cpv", in: mutate(func(f *Fields) { f.CPVCodes = []string{"7221"} }), wantFields: []string{"need.cpv_codes[0]"}},
		{name: "unknown nuts", in: mutate(func(f *Fields) { f.Places = []string{"DE999"} }), wantFields: []string{"need.places_of_performance[0]"}},
		{name: "unknown ags", in: mutate(func(f *Fields) { f.Places = []string{"99999999"} }), wantFields: []string{"need.places_of_performance[0]"}},
		{name: "budget min over max", in: mutate(func(f *Fields) { f.BudgetMinEUR, f.BudgetMaxEUR = 10, 5 }), wantFields: []string{"need.estimated_budget.min_eur"}},
		{name: "open-ended budget", in: mutate(func(f *Fields) { f.BudgetMinEUR, f.BudgetMaxEUR = 10, 0 })},
		{name: "negative budget", in: mutate(func(f *Fields) { f.BudgetMinEUR = -1 }), wantFields: []string{"need.estimated_budget.min_eur"}},
		{name: "end before start", in: mutate(func(f *Fields) {
			f.StartDate, f.EndDate = Date{2027, 5, 1}, Date{2027, 4, 30}
		}), wantFields: []string{"need.timeline.end_date"}},
		{name: "impossible date", in: mutate(func(f *Fields) { f.StartDate = Date{2027, 2, 30} }), wantFields: []string{"need.timeline.start_date"}},
		{name: "deadline on create", in: mutate(func(f *Fields) { f.ResponseDeadline = t0.Add(time.Hour) }), wantFields: []string{"need.response_deadline"}},
		{name: "bad certification", in: mutate(func(f *Fields) { f.Certifications = []string{"--"} }), wantFields: []string{"need.required_certifications[0]"}},
		{name: "bad need id", in: validInput, id: "Bad ID", wantFields: []string{"need_id"}},
		{name: "many errors at once", in: mutate(func(f *Fields) {
			f.Title, f.CPVCodes, f.BudgetMinEUR, f.BudgetMaxEUR = "", []string{"1"}, 9, 1
		}), wantFields: []string{"need.title", "need.cpv_codes[0]", "need.estimated_budget.min_eur"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			store := newMemStore()
			svc := NewService(store, WithClock(func() time.Time { return t0 }))
			_, err := svc.Create(as(giessen), tc.in, tc.id)
			if diff := cmp.Diff(tc.wantFields, fieldsOf(err)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
			if err != nil && len(store.needs) != 0 {
				t.Errorf("a rejected create wrote %d needs", len(store.needs))
			}
		})
	}
}

func TestCreateNormalises(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	in := validInput
	in.CPVCodes = []string{"72212000-4", "72212000", " 48000000 "}
	n, err := svc.Create(as(giessen), in, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Need{
		ID:     n.ID,
		Fields: in,
		State:  StateDraft, OwnerOrg: "stadt-giessen",
		CreateTime: t0, UpdateTime: t0, Revision: 1,
	}
	want.CPVCodes = []string{"72212000", "48000000"}
	want.Places = []string{"06531005", "DE7"}
	want.Certifications = []string{"iso-27001"}
	if diff := cmp.Diff(&want, n); diff != "" {
		t.Errorf("created need (-want +got):\n%s", diff)
	}
}

func TestAccess(t *testing.T) {
	t.Parallel()
	deadline := t0.Add(7 * 24 * time.Hour)
	tests := []struct {
		name     string
		state    State // the state the need is brought into, owned by Gießen
		caller   identity.Principal
		action   func(context.Context, *Service, string) error
		wantKind error // nil: allowed
	}{
		{"anonymous reads published", StatePublished, anonymous, get, nil},
		{"anonymous cannot read draft", StateDraft, anonymous, get, errdefs.ErrNotFound},
		{"other org cannot read draft", StateDraft, marburg, get, errdefs.ErrNotFound},
		{"owner reads draft", StateDraft, giessen, get, nil},
		{"admin reads draft", StateDraft, admin, get, nil},
		{"anonymous cannot create", StateDraft, anonymous, create, errdefs.ErrUnauthenticated},
		{"vendor cannot create", StateDraft, vendor, create, errdefs.ErrPermissionDenied},
		{"anonymous cannot edit", StatePublished, anonymous, edit, errdefs.ErrUnauthenticated},
		{"other org cannot edit", StatePublished, marburg, edit, errdefs.ErrPermissionDenied},
		{"vendor cannot edit", StatePublished, vendor, edit, errdefs.ErrPermissionDenied},
		{"owner edits draft", StateDraft, giessen, edit, nil},
		{"owner edits published", StatePublished, giessen, edit, nil},
		{"owner cannot edit awarded", StateAwarded, giessen, edit, errdefs.ErrFailedPrecondition},
		{"other org cannot publish", StateDraft, marburg, publishIt(deadline), errdefs.ErrNotFound},
		{"owner publishes", StateDraft, giessen, publishIt(deadline), nil},
		{"republish fails", StatePublished, giessen, publishIt(deadline), errdefs.ErrFailedPrecondition},
		{"other org cannot close", StatePublished, marburg, closeIt, errdefs.ErrPermissionDenied},
		{"owner closes", StatePublished, giessen, closeIt, nil},
		{"closed cannot close", StateClosed, giessen, closeIt, errdefs.ErrFailedPrecondition},
		{"awarded cannot close", StateAwarded, giessen, closeIt, errdefs.ErrFailedPrecondition},
		{"draft cannot start procurement", StateDraft, giessen, startProcurement, errdefs.ErrFailedPrecondition},
		{"published cannot be awarded", StatePublished, giessen, awardIt, errdefs.ErrFailedPrecondition},
		{"other org joins published", StatePublished, marburg, join, nil},
		{"owner cannot join", StatePublished, giessen, join, errdefs.ErrFailedPrecondition},
		{"vendor cannot join", StatePublished, vendor, join, errdefs.ErrPermissionDenied},
		{"cannot join draft", StateDraft, marburg, join, errdefs.ErrNotFound},
		{"cannot join in procurement", StateInProcurement, marburg, join, errdefs.ErrFailedPrecondition},
		{"non-member cannot leave", StatePublished, marburg, leave, errdefs.ErrFailedPrecondition},
		{"owner deletes draft", StateDraft, giessen, deleteIt, nil},
		{"published cannot be deleted", StatePublished, giessen, deleteIt, errdefs.ErrFailedPrecondition},
		{"other org cannot delete", StatePublished, marburg, deleteIt, errdefs.ErrPermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := newTestService(t)
			id := bringTo(t, svc, tc.state)
			before, _ := svc.store.Get(context.Background(), id)
			err := tc.action(as(tc.caller), svc, id)
			switch {
			case tc.wantKind == nil && err != nil:
				t.Fatalf("want success, got %v", err)
			case tc.wantKind != nil && !errors.Is(err, tc.wantKind):
				t.Fatalf("want %v, got %v", tc.wantKind, err)
			}
			if tc.wantKind != nil {
				after, _ := svc.store.Get(context.Background(), id)
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("a rejected call changed the need (-before +after):\n%s", diff)
				}
			}
		})
	}
}

func get(ctx context.Context, s *Service, id string) error { _, err := s.Get(ctx, id); return err }
func create(ctx context.Context, s *Service, _ string) error {
	_, err := s.Create(ctx, validInput, "")
	return err
}
func edit(ctx context.Context, s *Service, id string) error {
	_, err := s.Update(ctx, id, Fields{Title: "Neu"}, []string{FieldTitle}, "")
	return err
}
func publishIt(deadline time.Time) func(context.Context, *Service, string) error {
	return func(ctx context.Context, s *Service, id string) error {
		_, err := s.Publish(ctx, id, deadline, "")
		return err
	}
}
func closeIt(ctx context.Context, s *Service, id string) error {
	_, err := s.Close(ctx, id, "nicht mehr benötigt", "")
	return err
}
func startProcurement(ctx context.Context, s *Service, id string) error {
	_, err := s.StartProcurement(ctx, id, "")
	return err
}
func awardIt(ctx context.Context, s *Service, id string) error {
	_, err := s.Award(ctx, id, Award{VendorName: "Start-up GmbH", ValueEUR: 1}, "")
	return err
}
func join(ctx context.Context, s *Service, id string) error { _, err := s.Join(ctx, id); return err }
func leave(ctx context.Context, s *Service, id string) error {
	_, err := s.Leave(ctx, id)
	return err
}
func deleteIt(ctx context.Context, s *Service, id string) error { return s.Delete(ctx, id, "") }

// bringTo creates a need owned by Gießen and moves it to state.
func bringTo(t *testing.T, s *Service, state State) string {
	t.Helper()
	ctx := as(giessen)
	n, err := s.Create(ctx, validInput, "")
	if err != nil {
		t.Fatal(err)
	}
	steps := map[State][]func(context.Context, *Service, string) error{
		StateDraft:         nil,
		StatePublished:     {publishIt(t0.Add(time.Hour))},
		StateInProcurement: {publishIt(t0.Add(time.Hour)), startProcurement},
		StateAwarded:       {publishIt(t0.Add(time.Hour)), startProcurement, awardIt},
		StateClosed:        {publishIt(t0.Add(time.Hour)), closeIt},
	}
	for _, step := range steps[state] {
		if err := step(ctx, s, n.ID); err != nil {
			t.Fatalf("bring to %s: %v", state, err)
		}
	}
	return n.ID
}

func TestPublishDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		deadline   time.Time
		wantFields []string
	}{
		{"future", t0.Add(24 * time.Hour), nil},
		{"past", t0.Add(-time.Second), []string{"response_deadline"}},
		{"now", t0, []string{"response_deadline"}},
		{"too far", t0.Add(3 * 365 * 24 * time.Hour), []string{"response_deadline"}},
		{"missing", time.Time{}, []string{"response_deadline"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := newTestService(t)
			id := bringTo(t, svc, StateDraft)
			_, err := svc.Publish(as(giessen), id, tc.deadline, "")
			if diff := cmp.Diff(tc.wantFields, fieldsOf(err)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEtag(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	id := bringTo(t, svc, StateDraft)
	n, _ := svc.Get(as(giessen), id)
	stale := n.ETag()
	if _, err := svc.Update(as(giessen), id, Fields{Title: "Erste Änderung"}, []string{FieldTitle}, stale); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Update(as(giessen), id, Fields{Title: "Zweite Änderung"}, []string{FieldTitle}, stale)
	if !errors.Is(err, errdefs.ErrAborted) {
		t.Fatalf("stale etag: want ErrAborted, got %v", err)
	}
	got, _ := svc.Get(as(giessen), id)
	if got.Title != "Erste Änderung" {
		t.Errorf("title = %q after a rejected update", got.Title)
	}
}

func TestJoinLeave(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	id := bringTo(t, svc, StatePublished)
	n, err := svc.Join(as(marburg), id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"stadt-marburg"}, n.CoBuyers); diff != "" {
		t.Errorf("co-buyers after join (-want +got):\n%s", diff)
	}
	if _, err := svc.Join(as(marburg), id); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("second join: want ErrAlreadyExists, got %v", err)
	}
	n, err = svc.Leave(as(marburg), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.CoBuyers) != 0 {
		t.Errorf("co-buyers after leave = %v", n.CoBuyers)
	}
}

func TestUpdateMask(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	id := bringTo(t, svc, StateDraft)
	_, err := svc.Update(as(giessen), id, Fields{Title: "Nur der Titel", CPVCodes: []string{"99999999"}}, []string{FieldTitle}, "")
	if err != nil {
		t.Fatalf("fields outside the mask must be ignored, got %v", err)
	}
	got, _ := svc.Get(as(giessen), id)
	if got.Title != "Nur der Titel" || got.ProblemStatement != validInput.ProblemStatement {
		t.Errorf("update changed more or less than the mask: %+v", got)
	}
	for _, tc := range []struct {
		name       string
		mask       []string
		wantFields []string
	}{
		{"empty mask", nil, []string{"update_mask"}},
		{"unknown path", []string{"state"}, []string{"update_mask.paths[0]"}},
		{"deadline of a draft", []string{FieldResponseDeadline}, []string{"need.response_deadline"}},
	} {
		_, err := svc.Update(as(giessen), id, Fields{ResponseDeadline: t0.Add(time.Hour)}, tc.mask, "")
		if diff := cmp.Diff(tc.wantFields, fieldsOf(err)); diff != "" {
			t.Errorf("%s: violations (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestRequirementValidation(t *testing.T) {
	t.Parallel()
	req := func(k RequirementKind, value string, must bool) Requirement {
		return Requirement{Kind: k, Value: value, MustHave: must}
	}
	many := make([]Requirement, MaxRequirements+1)
	for i := range many {
		many[i] = req(RequirementCapability, "faehigkeit-"+strconv.Itoa(i), false)
	}
	tests := []struct {
		name       string
		in         []Requirement
		want       []Requirement // after normalising, when valid
		wantFields []string
	}{
		{name: "none"},
		{
			name: "every kind, normalised",
			in: []Requirement{
				req(RequirementCertification, "ISO 27001", true), req(RequirementCapability, " Barrierefreiheit ", false),
				req(RequirementServesRegion, "", true), req(RequirementOpenSource, "", false), req(RequirementHosting, "On-Premises", true),
			},
			want: []Requirement{
				req(RequirementCertification, "iso-27001", true), req(RequirementCapability, "barrierefreiheit", false),
				req(RequirementServesRegion, "", true), req(RequirementOpenSource, "", false), req(RequirementHosting, "on_premises", true),
			},
		},
		{name: "kind missing", in: []Requirement{req(RequirementUnspecified, "x", true)}, wantFields: []string{"need.requirements[0].kind"}},
		{name: "kind unknown", in: []Requirement{req(RequirementHosting, "eu", true), req(RequirementKind(99), "", true)}, wantFields: []string{"need.requirements[1].kind"}},
		{name: "certification without value", in: []Requirement{req(RequirementCertification, " ", true)}, wantFields: []string{"need.requirements[0].value"}},
		{name: "capability without value", in: []Requirement{req(RequirementCapability, "--", false)}, wantFields: []string{"need.requirements[0].value"}},
		{name: "hosting without value", in: []Requirement{req(RequirementHosting, "", true)}, wantFields: []string{"need.requirements[0].value"}},
		{name: "unknown hosting", in: []Requirement{req(RequirementHosting, "usa", true)}, wantFields: []string{"need.requirements[0].value"}},
		{name: "value on open source", in: []Requirement{req(RequirementOpenSource, "eupl", true)}, wantFields: []string{"need.requirements[0].value"}},
		{name: "value on serves region", in: []Requirement{req(RequirementServesRegion, "DE7", true)}, wantFields: []string{"need.requirements[0].value"}},
		{
			name:       "duplicate after normalising, whatever must_have says",
			in:         []Requirement{req(RequirementCertification, "ISO 27001", true), req(RequirementOpenSource, "", true), req(RequirementCertification, "iso-27001", false)},
			wantFields: []string{"need.requirements[2]"},
		},
		{name: "same value, other kind", in: []Requirement{req(RequirementCertification, "bitv", true), req(RequirementCapability, "bitv", true)},
			want: []Requirement{req(RequirementCertification, "bitv", true), req(RequirementCapability, "bitv", true)}},
		{name: "too many", in: many, wantFields: []string{"need.requirements"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := newTestService(t)
			in := validInput
			in.Requirements = tc.in
			n, err := svc.Create(as(giessen), in, "")
			if diff := cmp.Diff(tc.wantFields, fieldsOf(err)); diff != "" {
				t.Fatalf("violations (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, n.Requirements, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("requirements (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateRequirements(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	id := bringTo(t, svc, StateDraft)
	want := []Requirement{{Kind: RequirementCertification, Value: "bsi-c5", MustHave: true}}
	n, err := svc.Update(as(giessen), id, Fields{Requirements: []Requirement{{Kind: RequirementCertification, Value: "BSI C5", MustHave: true}}},
		[]string{FieldRequirements}, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, n.Requirements); diff != "" {
		t.Errorf("requirements after update (-want +got):\n%s", diff)
	}
	_, err = svc.Update(as(giessen), id, Fields{Requirements: []Requirement{{Kind: RequirementOpenSource, Value: "x"}}}, []string{FieldRequirements}, "")
	if diff := cmp.Diff([]string{"need.requirements[0].value"}, fieldsOf(err)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

func FuzzValidateFields(f *testing.F) {
	f.Add("Titel", "Problem", "72212000-4", "DE7", "ISO 27001", int64(1), int64(2), 1, "ISO 27001", true)
	f.Add("", "\xff", "7221", "99999999", "--", int64(-1), int64(0), 5, "On Premises", false)
	f.Add("Titel", "Problem", "72212000", "DE", "bsi", int64(0), int64(0), 3, "", true)
	f.Fuzz(func(t *testing.T, title, problem, cpv, place, cert string, lo, hi int64, kind int, value string, must bool) {
		in := Fields{Title: title, ProblemStatement: problem, CPVCodes: []string{cpv}, Places: []string{place},
			Certifications: []string{cert}, BudgetMinEUR: lo, BudgetMaxEUR: hi,
			Requirements: []Requirement{
				{Kind: RequirementKind(kind), Value: value, MustHave: must},
				{Kind: RequirementCertification, Value: cert, MustHave: !must},
			}}
		var v errdefs.Violations
		normalize(&in, UpdatableFields, &v)
		if v.Len() > 0 {
			return
		}
		// Whatever passes must pass again unchanged: normalisation is
		// idempotent, so stored values re-validate.
		again := in.Clone()
		var v2 errdefs.Violations
		normalize(&again, UpdatableFields, &v2)
		if err := v2.Err(); err != nil {
			t.Fatalf("normalised input rejected: %v", err)
		}
		if diff := cmp.Diff(in, again); diff != "" {
			t.Fatalf("normalisation not idempotent (-first +second):\n%s", diff)
		}
	})
}
