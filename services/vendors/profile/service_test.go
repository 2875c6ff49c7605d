package profile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
)

// memStore is a map-backed Store for the domain's own tests; the real
// engines pass the contract suite in ../store/storetest.
type memStore struct {
	mu      sync.Mutex
	vendors map[string]*Vendor
}

func newMemStore() *memStore { return &memStore{vendors: map[string]*Vendor{}} }

func (m *memStore) Create(_ context.Context, vs []*Vendor, existing func(int, *Vendor) error) ([]*Vendor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	staged := make(map[string]*Vendor)
	byExt := func(ext string) *Vendor {
		for _, all := range []map[string]*Vendor{m.vendors, staged} {
			for _, v := range all {
				if ext != "" && v.ExternalID == ext {
					return v
				}
			}
		}
		return nil
	}
	out := make([]*Vendor, len(vs))
	for i, v := range vs {
		if old := byExt(v.ExternalID); old != nil {
			if err := existing(i, old.Clone()); err != nil {
				return nil, err
			}
			out[i] = old.Clone()
			continue
		}
		if _, ok := m.vendors[v.ID]; ok {
			return nil, errdefs.AlreadyExists("vendor %q exists", v.ID)
		}
		if _, ok := staged[v.ID]; ok {
			return nil, errdefs.AlreadyExists("vendor %q exists", v.ID)
		}
		staged[v.ID] = v.Clone()
		out[i] = v.Clone()
	}
	for id, v := range staged {
		m.vendors[id] = v
	}
	return out, nil
}

func (m *memStore) Get(_ context.Context, id string) (*Vendor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vendors[id]
	if !ok {
		return nil, errdefs.NotFound("vendor %q not found", id)
	}
	return v.Clone(), nil
}

func (m *memStore) Update(_ context.Context, id string, fn func(*Vendor) error) (*Vendor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vendors[id]
	if !ok {
		return nil, errdefs.NotFound("vendor %q not found", id)
	}
	c := v.Clone()
	if err := fn(c); err != nil {
		return nil, err
	}
	m.vendors[id] = c.Clone()
	return c, nil
}

func (m *memStore) Delete(_ context.Context, id string, fn func(*Vendor) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vendors[id]
	if !ok {
		return errdefs.NotFound("vendor %q not found", id)
	}
	if err := fn(v.Clone()); err != nil {
		return err
	}
	delete(m.vendors, id)
	return nil
}

// AuditTrail: the domain's audit rules are tested through the stores.
func (m *memStore) AuditTrail(context.Context, audit.Query) ([]audit.Entry, error) { return nil, nil }

func (m *memStore) List(context.Context, ListQuery) ([]*Vendor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Vendor
	for _, v := range m.vendors {
		out = append(out, v.Clone())
	}
	return out, nil
}

func (m *memStore) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.vendors)
}

var (
	t0        = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	anonymous = identity.Principal{}
	ownVendor = identity.Principal{Subject: "a@civic", Org: "civic-code", Roles: []identity.Role{identity.RoleVendor}}
	other     = identity.Principal{Subject: "b@other", Org: "other-startup", Roles: []identity.Role{identity.RoleVendor}}
	buyer     = identity.Principal{Subject: "c@giessen", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}}
	venture   = identity.Principal{Subject: "d@govtech", Org: "govtech-hh", Roles: []identity.Role{identity.RoleVentureUnit}}
	admin     = identity.Principal{Subject: "root", Roles: []identity.Role{identity.RoleAdmin}}
)

func validFields() Fields {
	return Fields{
		DisplayName:    "Civic Code e.V.",
		Kind:           KindCivicTech,
		FoundingYear:   2015,
		SizeBand:       SizeMicro,
		Headquarters:   "06531005",
		RegionsServed:  []string{"Hessen", "de6", "06531"},
		Languages:      []string{"DE", "en"},
		Website:        "https://civic-code.example/",
		Description:    "Offene Software für Kommunen.",
		Capabilities:   []string{"Open Data", "Terminbuchung"},
		CPVCodes:       []string{"72212000-4", "48000000"},
		Certifications: []string{"ISO 27001", "BSI C5", "BITV 2.0"},
		Products: []Product{{Name: "Termin", Maturity: MaturityInProduction, Hosting: HostingGermany,
			Licence: "apache-2.0 OR mit", OpenSource: false}},
		References: []Reference{{ClientOrganization: "Stadt Gießen", Year: 2024, Delivered: "Terminbuchung"}},
	}
}

func as(p identity.Principal) context.Context { return identity.NewContext(context.Background(), p) }

func newTestService(t *testing.T) (*Service, *memStore) {
	t.Helper()
	st := newMemStore()
	return NewService(st, WithClock(func() time.Time { return t0 })), st
}

// fieldsOf lists the fields of a validation error, or the error text of
// another error, so cases can say what they expect in one string slice.
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

// kindOf names the errdefs kind of err, for the access matrix.
func kindOf(err error) string {
	var ve *errdefs.ValidationError
	for _, k := range []struct {
		name string
		err  error
	}{
		{"NotFound", errdefs.ErrNotFound}, {"AlreadyExists", errdefs.ErrAlreadyExists},
		{"Aborted", errdefs.ErrAborted}, {"Unauthenticated", errdefs.ErrUnauthenticated},
		{"PermissionDenied", errdefs.ErrPermissionDenied},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	switch {
	case err == nil:
		return "OK"
	case errors.As(err, &ve):
		return "Invalid: " + fmt.Sprint(fieldsOf(err))
	}
	return "other: " + err.Error()
}

func TestCreateNormalizes(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t)
	v, err := s.Create(as(ownVendor), CreateRequest{Fields: validFields()})
	if err != nil {
		t.Fatal(err)
	}
	want := &Vendor{
		ID: "civic-code",
		Fields: Fields{
			DisplayName: "Civic Code e.V.", Kind: KindCivicTech, FoundingYear: 2015, SizeBand: SizeMicro,
			Headquarters: "06531005", RegionsServed: []string{"DE7", "DE6", "06531"},
			Languages: []string{"de", "en"}, Website: "https://civic-code.example/",
			Description:    "Offene Software für Kommunen.",
			Capabilities:   []string{"open-data", "terminbuchung"},
			CPVCodes:       []string{"72212000", "48000000"},
			Certifications: []string{"iso-27001", "bsi-c5", "bitv-2-0"},
			Products: []Product{{Name: "Termin", Maturity: MaturityInProduction, Hosting: HostingGermany,
				Licence: "Apache-2.0 OR MIT", OpenSource: true}},
			References: []Reference{{ClientOrganization: "Stadt Gießen", Year: 2024, Delivered: "Terminbuchung"}},
		},
		OwnerOrg: "civic-code", Verification: Unverified, CreateTime: t0, UpdateTime: t0, Revision: 1,
	}
	if diff := cmp.Diff(want, v); diff != "" {
		t.Errorf("Create (-want +got):\n%s", diff)
	}
}

// TestAccessMatrix runs every action as every kind of caller against a
// vendor "civic-code" owned by itself and a vendor "imported" that the
// venture unit imported.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	type action func(context.Context, *Service) error
	create := func(id string) action {
		return func(ctx context.Context, s *Service) error {
			_, err := s.Create(ctx, CreateRequest{Fields: validFields(), ID: id})
			return err
		}
	}
	update := func(id string) action {
		return func(ctx context.Context, s *Service) error {
			_, err := s.Update(ctx, id, Fields{DisplayName: "Neu"}, []string{FieldDisplayName}, "")
			return err
		}
	}
	actions := map[string]action{
		"get": func(ctx context.Context, s *Service) error { _, err := s.Get(ctx, "civic-code"); return err },
		"list": func(ctx context.Context, s *Service) error {
			_, _, err := s.List(ctx, ListRequest{})
			return err
		},
		"create own":      create(""),
		"create other":    create("fremd-gmbh"),
		"update":          update("civic-code"),
		"update imported": update("imported"),
		"delete":          func(ctx context.Context, s *Service) error { return s.Delete(ctx, "civic-code", "") },
		"verify": func(ctx context.Context, s *Service) error {
			_, err := s.Verify(ctx, "civic-code", Verified, "geprüft", "")
			return err
		},
		"batchCreate": func(ctx context.Context, s *Service) error {
			_, err := s.BatchCreate(ctx, []CreateRequest{{Fields: validFields(), ExternalID: "x-1"}})
			return err
		},
	}
	const ok, unauth, denied = "OK", "Unauthenticated", "PermissionDenied"
	tests := []struct {
		who  string
		p    identity.Principal
		want map[string]string
	}{
		{"anonymous", anonymous, map[string]string{"get": ok, "list": ok, "create own": unauth, "create other": unauth,
			"update": unauth, "update imported": unauth, "delete": unauth, "verify": unauth, "batchCreate": unauth}},
		// create own: the vendor exists already (the fixture).
		{"vendor-own", ownVendor, map[string]string{"get": ok, "list": ok, "create own": "AlreadyExists", "create other": denied,
			"update": ok, "update imported": denied, "delete": ok, "verify": denied, "batchCreate": denied}},
		{"vendor-other", other, map[string]string{"get": ok, "list": ok, "create own": ok, "create other": denied,
			"update": denied, "update imported": denied, "delete": denied, "verify": denied, "batchCreate": denied}},
		{"buyer", buyer, map[string]string{"get": ok, "list": ok, "create own": denied, "create other": denied,
			"update": denied, "update imported": denied, "delete": denied, "verify": denied, "batchCreate": denied}},
		{"venture_unit", venture, map[string]string{"get": ok, "list": ok, "create own": ok, "create other": ok,
			"update": denied, "update imported": ok, "delete": denied, "verify": denied, "batchCreate": ok}},
		{"admin", admin, map[string]string{"get": ok, "list": ok, "create own": ok, "create other": ok,
			"update": ok, "update imported": ok, "delete": ok, "verify": ok, "batchCreate": ok}},
	}
	for _, tt := range tests {
		for name, act := range actions {
			t.Run(tt.who+"/"+name, func(t *testing.T) {
				t.Parallel()
				s, _ := newTestService(t)
				if _, err := s.Create(as(ownVendor), CreateRequest{Fields: validFields()}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Create(as(venture), CreateRequest{Fields: validFields(), ID: "imported"}); err != nil {
					t.Fatal(err)
				}
				if got := kindOf(act(as(tt.p), s)); got != tt.want[name] {
					t.Errorf("%s %s: got %s, want %s", tt.who, name, got, tt.want[name])
				}
			})
		}
	}
}

// TestClaim checks that the vendor's own organisation takes over an
// imported vendor by editing it, after which the importer may not edit it.
func TestClaim(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t)
	if _, err := s.BatchCreate(as(venture), []CreateRequest{{Fields: validFields(), ID: "civic-code", ExternalID: "cfv1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(as(venture), "civic-code", Fields{Remote: true}, []string{FieldRemote}, ""); err != nil {
		t.Fatalf("importer edits before the claim: %v", err)
	}
	v, err := s.Update(as(ownVendor), "civic-code", Fields{DisplayName: "Civic Code"}, []string{FieldDisplayName}, "r2")
	if err != nil {
		t.Fatalf("vendor claims: %v", err)
	}
	if v.OwnerOrg != "civic-code" || v.ExternalID != "cfv1" || !v.Remote {
		t.Errorf("after claim: owner %q, external id %q, remote %v", v.OwnerOrg, v.ExternalID, v.Remote)
	}
	if _, err := s.Update(as(venture), "civic-code", Fields{Remote: false}, []string{FieldRemote}, ""); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Errorf("importer edits after the claim: %v, want PermissionDenied", err)
	}
	if _, err := s.Update(as(ownVendor), "civic-code", Fields{Remote: false}, []string{FieldRemote}, "r2"); !errors.Is(err, errdefs.ErrAborted) {
		t.Errorf("stale etag: %v, want Aborted", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t)
	if _, err := s.Create(as(ownVendor), CreateRequest{Fields: validFields()}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		status Verification
		note   string
		want   []string
	}{
		{"verified without note", Verified, "", nil},
		{"rejected needs a note", Rejected, " ", []string{"note"}},
		{"rejected", Rejected, "Kein Handelsregistereintrag", nil},
		{"unverified is not an outcome", Unverified, "", []string{"status"}},
		{"unknown status", Verification(9), "", []string{"status"}},
	}
	for _, tt := range tests {
		_, err := s.Verify(as(admin), "civic-code", tt.status, tt.note, "")
		if diff := cmp.Diff(tt.want, fieldsOf(err)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	v, _ := s.Get(as(anonymous), "civic-code")
	if v.Verification != Rejected || v.VerificationNote != "Kein Handelsregistereintrag" || !v.VerifyTime.Equal(t0) {
		t.Errorf("after verify: %v %q %v", v.Verification, v.VerificationNote, v.VerifyTime)
	}
}

func TestBatchAllOrNothing(t *testing.T) {
	t.Parallel()
	s, st := newTestService(t)
	reqs := make([]CreateRequest, 40)
	for i := range reqs {
		reqs[i] = CreateRequest{Fields: validFields(), ExternalID: fmt.Sprintf("cfv%03d", i)}
	}
	reqs[17].Fields.CPVCodes = []string{"99999999"}
	reqs[23].Fields.Products = []Product{{Name: "X", Licence: "NOT-A-LICENSE"}}
	reqs[30].ID = "Bad_ID"
	reqs[31].ExternalID = "cfv000"
	_, err := s.BatchCreate(as(venture), reqs)
	want := []string{
		"requests[17].vendor.cpv_codes[0]",
		"requests[23].vendor.products[0].licence",
		"requests[30].vendor_id",
		"requests[31].external_id",
	}
	if diff := cmp.Diff(want, fieldsOf(err)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	if n := st.len(); n != 0 {
		t.Errorf("a failed batch wrote %d vendors", n)
	}
	// Limits.
	if _, err := s.BatchCreate(as(venture), nil); !slices.Equal(fieldsOf(err), []string{"requests"}) {
		t.Errorf("empty batch: %v", err)
	}
	if _, err := s.BatchCreate(as(venture), make([]CreateRequest, MaxBatch+1)); !slices.Equal(fieldsOf(err), []string{"requests"}) {
		t.Errorf("oversized batch: %v", err)
	}
	// A taken id aborts the whole batch in the store, too.
	if _, err := s.Create(as(admin), CreateRequest{Fields: validFields(), ID: "besetzt"}); err != nil {
		t.Fatal(err)
	}
	_, err = s.BatchCreate(as(venture), []CreateRequest{{Fields: validFields(), ID: "frei"}, {Fields: validFields(), ID: "besetzt"}})
	if !errors.Is(err, errdefs.ErrAlreadyExists) || st.len() != 1 {
		t.Errorf("batch with taken id: %v, %d vendors", err, st.len())
	}
}

func TestBatchResumesByExternalID(t *testing.T) {
	t.Parallel()
	s, st := newTestService(t)
	reqs := make([]CreateRequest, 10)
	for i := range reqs {
		reqs[i] = CreateRequest{Fields: validFields(), ExternalID: fmt.Sprintf("cfv%03d", i)}
	}
	first, err := s.BatchCreate(as(venture), reqs[:6]) // an import that stopped half-way
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.BatchCreate(as(venture), reqs) // sent again, whole
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, second[:6]); diff != "" {
		t.Errorf("resumed batch returns other vendors for the imported part (-first +second):\n%s", diff)
	}
	third, err := s.BatchCreate(as(venture), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(second, third); diff != "" {
		t.Errorf("repeated batch (-second +third):\n%s", diff)
	}
	if n := st.len(); n != len(reqs) {
		t.Errorf("%d vendors after resuming, want %d: duplicates", n, len(reqs))
	}
	// A single create with an imported external id also returns it.
	v, err := s.Create(as(venture), reqs[3])
	if err != nil || v.ID != second[3].ID {
		t.Errorf("Create with imported external id: %v, %v", v, err)
	}
	// But not when it names another vendor.
	_, err = s.Create(as(venture), CreateRequest{Fields: validFields(), ID: "anders", ExternalID: "cfv003"})
	if !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("external id of another vendor: %v, want AlreadyExists", err)
	}
}

func TestUpdateMask(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t)
	if _, err := s.Create(as(ownVendor), CreateRequest{Fields: validFields()}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mask []string
		f    Fields
		want []string
	}{
		{"empty mask", nil, Fields{}, []string{"update_mask"}},
		{"unknown field", []string{"colour"}, Fields{}, []string{"update_mask.paths[0]"}},
		{"only masked fields are validated", []string{FieldWebsite}, Fields{Website: "ftp://x", CPVCodes: []string{"bad"}}, []string{"vendor.website"}},
		{"kind must stay set", []string{FieldKind}, Fields{}, []string{"vendor.kind"}},
		{"good", []string{FieldCPVCodes, FieldNationwide}, Fields{CPVCodes: []string{"72000000"}, Nationwide: true}, nil},
	}
	for _, tt := range tests {
		_, err := s.Update(as(ownVendor), "civic-code", tt.f, tt.mask, "")
		if diff := cmp.Diff(tt.want, fieldsOf(err)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	v, _ := s.Get(as(anonymous), "civic-code")
	if !v.Nationwide || !slices.Equal(v.CPVCodes, []string{"72000000"}) || v.DisplayName != "Civic Code e.V." {
		t.Errorf("after update: %+v", v.Fields)
	}
}

// TestVendorUserOfImporterCannotEdit: a vendor user edits only its own
// vendor, even when its organisation imported others as a venture unit.
func TestVendorUserOfImporterCannotEdit(t *testing.T) {
	t.Parallel()
	s, _ := newTestService(t)
	if _, err := s.BatchCreate(as(venture), []CreateRequest{{Fields: validFields(), ID: "civic-code", ExternalID: "cfv1"}}); err != nil {
		t.Fatal(err)
	}
	vendorOfImporter := identity.Principal{Subject: "v@" + venture.Org, Org: venture.Org, Roles: []identity.Role{identity.RoleVendor}}
	if _, err := s.Update(as(vendorOfImporter), "civic-code", Fields{Remote: true}, []string{FieldRemote}, ""); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Errorf("vendor user of the importing organisation edits: %v, want PermissionDenied", err)
	}
	if err := s.Delete(as(vendorOfImporter), "civic-code", ""); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Errorf("vendor user of the importing organisation deletes: %v, want PermissionDenied", err)
	}
}

// TestValidateBatch: validation alone reports what BatchCreate would, and
// writes nothing either way.
func TestValidateBatch(t *testing.T) {
	t.Parallel()
	s, st := newTestService(t)
	bad := validFields()
	bad.CPVCodes = []string{"99999999"}
	reqs := []CreateRequest{{Fields: validFields(), ExternalID: "a"}, {Fields: bad, ExternalID: "b"}}
	if diff := cmp.Diff([]string{"requests[1].vendor.cpv_codes[0]"}, fieldsOf(s.ValidateBatch(as(venture), reqs))); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	if err := s.ValidateBatch(as(venture), reqs[:1]); err != nil {
		t.Errorf("valid batch: %v", err)
	}
	if err := s.ValidateBatch(as(ownVendor), reqs[:1]); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Errorf("vendor validates an import: %v, want PermissionDenied", err)
	}
	if n := st.len(); n != 0 {
		t.Errorf("validation wrote %d vendors", n)
	}
}
