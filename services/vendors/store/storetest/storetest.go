// Package storetest is the contract every profile.Store must meet, written
// once and run against each engine:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) profile.Store { … })
//	}
//
// The vendors carry canonical codes that refdata knows, so region keys and
// CPV prefixes work as in production.
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
	"github.com/govmatch/govmatch/services/vendors/profile"
)

// Run runs the contract suite. newStore must return a new, empty store for
// each call and close it when t ends; it is called from parallel tests.
func Run(t *testing.T, newStore func(t *testing.T) profile.Store) {
	t.Run("CreateGet", func(t *testing.T) { t.Parallel(); testCreateGet(t, newStore) })
	t.Run("CreateBatch", func(t *testing.T) { t.Parallel(); testCreateBatch(t, newStore) })
	t.Run("CreateBatchRollsBack", func(t *testing.T) { t.Parallel(); testCreateBatchRollsBack(t, newStore) })
	t.Run("ExternalID", func(t *testing.T) { t.Parallel(); testExternalID(t, newStore) })
	t.Run("Update", func(t *testing.T) { t.Parallel(); testUpdate(t, newStore) })
	t.Run("Delete", func(t *testing.T) { t.Parallel(); testDelete(t, newStore) })
	t.Run("ConcurrentUpdates", func(t *testing.T) { t.Parallel(); testConcurrentUpdates(t, newStore) })
	t.Run("List", func(t *testing.T) { t.Parallel(); testList(t, newStore) })
	t.Run("Pagination", func(t *testing.T) { t.Parallel(); testPagination(t, newStore) })
	t.Run("Audit", func(t *testing.T) { t.Parallel(); testAudit(t, newStore) })
}

// t0 is a Monday morning in Hamburg; fixtures count from it.
var t0 = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

var errVeto = errors.New("veto: das Profil ist gesperrt")

// fullVendor has every field set, lists in an order that is not sorted, and
// times with microseconds.
func fullVendor(id string) *profile.Vendor {
	return &profile.Vendor{
		ID: id,
		Fields: profile.Fields{
			DisplayName:    "Stadtwerk Digital GmbH",
			Kind:           profile.KindStartUp,
			FoundingYear:   2019,
			SizeBand:       profile.SizeSmall,
			Headquarters:   "06531005",
			RegionsServed:  []string{"DE7", "02", "06412"},
			Remote:         true,
			Languages:      []string{"de", "en"},
			Website:        "https://stadtwerk-digital.de/",
			Description:    "Wir bauen barrierefreie Terminbuchung und Formularlösungen für Kommunen.",
			Capabilities:   []string{"terminbuchung", "open-data"},
			CPVCodes:       []string{"72212000", "48000000"},
			Certifications: []string{"iso-27001", "bitv-2-0"},
			Products: []profile.Product{
				{Name: "Termin", Description: "Terminbuchung fürs Bürgeramt", Maturity: profile.MaturityInProduction,
					Hosting: profile.HostingGermany, Licence: "EUPL-1.2", OpenSource: true},
				{Name: "Formular Pro", Licence: "LicenseRef-proprietary"},
			},
			References: []profile.Reference{
				{ClientOrganization: "Stadt Gießen", Year: 2024, Delivered: "Online-Terminbuchung", Outcome: "Wartezeit halbiert"},
			},
		},
		ExternalID:       "ext-" + id,
		OwnerOrg:         "govtech-hh",
		Verification:     profile.Verified,
		VerificationNote: "Handelsregister geprüft",
		VerifyTime:       t0.Add(3*time.Hour + 333*time.Microsecond),
		CreateTime:       t0.Add(1*time.Hour + 111*time.Microsecond),
		UpdateTime:       t0.Add(72*time.Hour + 222*time.Microsecond),
		Revision:         7,
	}
}

// minimalVendor has only what every vendor has.
func minimalVendor(id string) *profile.Vendor {
	return &profile.Vendor{
		ID:           id,
		Fields:       profile.Fields{DisplayName: "Civic Code e.V.", Kind: profile.KindCivicTech},
		OwnerOrg:     id,
		Verification: profile.Unverified,
		CreateTime:   t0,
		UpdateTime:   t0,
		Revision:     1,
	}
}

func noExisting(i int, old *profile.Vendor) error {
	return fmt.Errorf("unexpected existing vendor %q for item %d", old.ID, i)
}

func create(t *testing.T, s profile.Store, vendors ...*profile.Vendor) {
	t.Helper()
	if _, err := s.Create(context.Background(), vendors, noExisting); err != nil {
		t.Fatalf("Create: %v", err)
	}
}

func get(t *testing.T, s profile.Store, id string) *profile.Vendor {
	t.Helper()
	v, err := s.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return v
}

func ids(t *testing.T, s profile.Store, q profile.ListQuery) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	vendors, err := s.List(context.Background(), q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	var ids []string
	for _, v := range vendors {
		ids = append(ids, v.ID)
	}
	slices.Sort(ids)
	return ids
}

func testCreateGet(t *testing.T, newStore func(*testing.T) profile.Store) {
	tests := []struct {
		name string
		in   *profile.Vendor
		want *profile.Vendor
	}{
		{"every field set", fullVendor("stadtwerk"), fullVendor("stadtwerk")},
		{"only required fields", minimalVendor("civic-code"), minimalVendor("civic-code")},
		{
			name: "empty lists come back nil",
			in: func() *profile.Vendor {
				v := minimalVendor("leer")
				v.RegionsServed, v.Languages, v.Capabilities, v.CPVCodes, v.Certifications = []string{}, []string{}, []string{}, []string{}, []string{}
				v.Products, v.References = []profile.Product{}, []profile.Reference{}
				return v
			}(),
			want: minimalVendor("leer"),
		},
		{
			name: "times kept to the microsecond, in UTC",
			in: func() *profile.Vendor {
				v := minimalVendor("zeit")
				v.CreateTime = time.Date(2025, 3, 3, 9, 15, 30, 123456789, time.FixedZone("CET", 3600))
				return v
			}(),
			want: func() *profile.Vendor {
				v := minimalVendor("zeit")
				v.CreateTime = time.Date(2025, 3, 3, 8, 15, 30, 123456000, time.UTC)
				return v
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			got, err := s.Create(context.Background(), []*profile.Vendor{tt.in}, noExisting)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]*profile.Vendor{tt.want}, got); diff != "" {
				t.Errorf("Create result (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, get(t, s, tt.want.ID)); diff != "" {
				t.Errorf("Get (-want +got):\n%s", diff)
			}
			if tm := get(t, s, tt.want.ID).CreateTime; tm.Location() != time.UTC {
				t.Errorf("CreateTime in %v, want UTC", tm.Location())
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		create(t, s, minimalVendor("civic-code"))
		if _, err := s.Create(context.Background(), []*profile.Vendor{minimalVendor("civic-code")}, noExisting); !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Errorf("Create of a taken id: %v, want ErrAlreadyExists", err)
		}
		if _, err := s.Get(context.Background(), "fehlt"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Get of a missing id: %v, want ErrNotFound", err)
		}
		if _, err := s.Update(context.Background(), "fehlt", func(*profile.Vendor) error { return nil }); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Update of a missing id: %v, want ErrNotFound", err)
		}
		if err := s.Delete(context.Background(), "fehlt", func(*profile.Vendor) error { return nil }); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Delete of a missing id: %v, want ErrNotFound", err)
		}
	})
}

func testCreateBatch(t *testing.T, newStore func(*testing.T) profile.Store) {
	s := newStore(t)
	const n = 300
	batch := make([]*profile.Vendor, n)
	for i := range batch {
		batch[i] = fullVendor(fmt.Sprintf("v-%03d", i))
		batch[i].CreateTime = t0.Add(time.Duration(i) * time.Second)
	}
	got, err := s.Create(context.Background(), batch, noExisting)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("Create returned %d vendors, want %d", len(got), n)
	}
	if all := ids(t, s, profile.ListQuery{Limit: n + 1}); len(all) != n {
		t.Errorf("List finds %d vendors after a batch of %d", len(all), n)
	}
	if diff := cmp.Diff(batch[n-1], get(t, s, batch[n-1].ID)); diff != "" {
		t.Errorf("last vendor of the batch (-want +got):\n%s", diff)
	}
}

// testCreateBatchRollsBack checks all or nothing: a taken id late in a
// batch, and an error of existing, leave no vendor of the batch behind.
func testCreateBatchRollsBack(t *testing.T, newStore func(*testing.T) profile.Store) {
	s := newStore(t)
	create(t, s, minimalVendor("besetzt"))
	imported := fullVendor("importiert")
	create(t, s, imported)

	batch := []*profile.Vendor{minimalVendor("neu-1"), fullVendor("neu-2"), minimalVendor("besetzt")}
	if _, err := s.Create(context.Background(), batch, noExisting); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("batch with a taken id: %v, want ErrAlreadyExists", err)
	}
	again := fullVendor("neu-3")
	again.ExternalID = imported.ExternalID
	_, err := s.Create(context.Background(), []*profile.Vendor{minimalVendor("neu-1"), again},
		func(int, *profile.Vendor) error { return errVeto })
	if !errors.Is(err, errVeto) {
		t.Errorf("batch whose existing vetoes: %v, want the veto unchanged", err)
	}
	if diff := cmp.Diff([]string{"besetzt", "importiert"}, ids(t, s, profile.ListQuery{})); diff != "" {
		t.Errorf("vendors after failed batches (-want +got):\n%s", diff)
	}
	for _, id := range []string{"neu-1", "neu-2", "neu-3"} {
		if _, err := s.Get(context.Background(), id); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Get(%q) after rollback: %v, want ErrNotFound", id, err)
		}
	}
	// Nothing of the failed batches lingers in the child tables or the
	// search index.
	if got := ids(t, s, profile.ListQuery{Words: []string{"stadtwerk"}}); !slices.Equal(got, []string{"importiert"}) {
		t.Errorf("search after rollback finds %v", got)
	}
}

// testExternalID checks that a repeated external id yields the existing
// vendor, in its place in the result, and inserts the rest.
func testExternalID(t *testing.T, newStore func(*testing.T) profile.Store) {
	s := newStore(t)
	first := []*profile.Vendor{fullVendor("a"), fullVendor("b")}
	if _, err := s.Create(context.Background(), first, noExisting); err != nil {
		t.Fatal(err)
	}
	retry := fullVendor("a-neu")
	retry.ExternalID = "ext-a"
	retry.DisplayName = "anders"
	fresh := fullVendor("c")
	var seen []int
	got, err := s.Create(context.Background(), []*profile.Vendor{retry, fresh}, func(i int, old *profile.Vendor) error {
		seen = append(seen, i)
		if old.ID != "a" {
			t.Errorf("existing(%d) got %q, want a", i, old.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{0}, seen); diff != "" {
		t.Errorf("existing called for (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]*profile.Vendor{fullVendor("a"), fullVendor("c")}, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, ids(t, s, profile.ListQuery{})); diff != "" {
		t.Errorf("vendors (-want +got):\n%s", diff)
	}
	// Vendors without external id never collide on it.
	create(t, s, minimalVendor("ohne-1"), minimalVendor("ohne-2"))
}

func testUpdate(t *testing.T, newStore func(*testing.T) profile.Store) {
	s := newStore(t)
	create(t, s, minimalVendor("civic-code"), fullVendor("stadtwerk"))
	want := fullVendor("civic-code")
	want.ExternalID = "" // Update does not change the external id
	got, err := s.Update(context.Background(), "civic-code", func(v *profile.Vendor) error {
		ext := v.ExternalID
		*v = *fullVendor("anders")
		v.ExternalID = ext
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Update result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, get(t, s, "civic-code")); diff != "" {
		t.Errorf("Get after Update (-want +got):\n%s", diff)
	}
	// Child rows follow: the new codes, regions and tags are found, and
	// emptied lists are gone.
	if got := ids(t, s, profile.ListQuery{CPVPrefixes: []string{"72212"}}); !slices.Equal(got, []string{"civic-code", "stadtwerk"}) {
		t.Errorf("CPV filter after Update: %v", got)
	}
	_, err = s.Update(context.Background(), "stadtwerk", func(v *profile.Vendor) error {
		v.CPVCodes, v.Capabilities, v.RegionsServed, v.Products = nil, nil, nil, nil
		v.DisplayName, v.Description = "Umbenannt", ""
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]profile.ListQuery{
		"cpv":        {CPVPrefixes: []string{"72212"}},
		"capability": {Capabilities: []string{"terminbuchung"}},
		"region":     {Regions: &profile.RegionMatch{Keys: []string{"DE7"}, Within: []string{"DE", "DE7"}}},
		"open":       {OpenSource: true},
		"words":      {Words: []string{"stadtwerk"}},
	} {
		if got := ids(t, s, q); !slices.Equal(got, []string{"civic-code"}) {
			t.Errorf("%s filter after emptying stadtwerk: %v, want [civic-code]", name, got)
		}
	}
	// A veto writes nothing.
	before := get(t, s, "civic-code")
	if _, err := s.Update(context.Background(), "civic-code", func(v *profile.Vendor) error {
		v.DisplayName = "nie"
		return errVeto
	}); !errors.Is(err, errVeto) {
		t.Errorf("Update with veto: %v", err)
	}
	if diff := cmp.Diff(before, get(t, s, "civic-code")); diff != "" {
		t.Errorf("veto changed the vendor:\n%s", diff)
	}
}

func testDelete(t *testing.T, newStore func(*testing.T) profile.Store) {
	s := newStore(t)
	create(t, s, fullVendor("weg"), fullVendor("bleibt"))
	if err := s.Delete(context.Background(), "bleibt", func(*profile.Vendor) error { return errVeto }); !errors.Is(err, errVeto) {
		t.Errorf("Delete with veto: %v", err)
	}
	if err := s.Delete(context.Background(), "weg", func(*profile.Vendor) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, s, profile.ListQuery{Words: []string{"stadtwerk"}}); !slices.Equal(got, []string{"bleibt"}) {
		t.Errorf("search after Delete: %v", got)
	}
	// Its external id is free again.
	create(t, s, fullVendor("weg"))
}

func testConcurrentUpdates(t *testing.T, newStore func(*testing.T) profile.Store) {
	s := newStore(t)
	create(t, s, minimalVendor("zaehler"))
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.Update(context.Background(), "zaehler", func(v *profile.Vendor) error {
				v.Revision++
				return nil
			}); err != nil {
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	if got := get(t, s, "zaehler").Revision; got != 1+n {
		t.Errorf("Revision after %d concurrent increments = %d, want %d: lost updates", n, got, 1+n)
	}
}

func testList(t *testing.T, newStore func(*testing.T) profile.Store) {
	s := newStore(t)
	mk := func(id string, kind profile.Kind, f func(*profile.Vendor)) *profile.Vendor {
		v := minimalVendor(id)
		v.Kind = kind
		f(v)
		return v
	}
	create(t, s,
		mk("hessen-it", profile.KindSME, func(v *profile.Vendor) {
			v.DisplayName = "Hessen IT"
			v.RegionsServed = []string{"DE7"}
			v.CPVCodes = []string{"72212000"}
			v.Capabilities = []string{"terminbuchung"}
			v.Products = []profile.Product{{Name: "Bürgerportal", Licence: "MIT", OpenSource: true}}
		}),
		mk("giessen-lab", profile.KindStartUp, func(v *profile.Vendor) {
			v.DisplayName = "Gießen Lab"
			v.RegionsServed = []string{"06531005"}
			v.CPVCodes = []string{"48000000"}
			v.Certifications = []string{"iso-27001"}
			v.Description = "Datenplattform für Kommunen"
		}),
		mk("bund-weit", profile.KindNGO, func(v *profile.Vendor) {
			v.DisplayName = "Bundesweit e.V."
			v.Nationwide = true
			v.Certifications = []string{"bitv-2-0"}
			v.Products = []profile.Product{{Name: "Formular", Description: "Barrierefreie Formulare", Licence: "LicenseRef-x"}}
		}),
		mk("hamburg-kreis", profile.KindStartUp, func(v *profile.Vendor) {
			v.DisplayName = "Hamburg Digital"
			v.RegionsServed = []string{"02000"}
		}),
	)
	region := func(keys ...string) *profile.RegionMatch {
		// What profile.matchRegions builds, spelt out for the engines.
		m := &profile.RegionMatch{Keys: keys}
		up := map[string][]string{
			"DE7": {"DE", "DE7", "AGS:06"}, "DE712": {"DE", "DE7", "DE71", "DE712", "AGS:06"},
			"AGS:06531": {"DE", "DE7", "DE72", "DE721", "AGS:06", "AGS:06531"}, "DE1": {"DE", "DE1", "AGS:08"},
			"DE": {"DE"}, "AGS:02": {"DE", "DE6", "AGS:02"},
			"DE72": {"DE", "DE7", "DE72", "AGS:06"}, "DE721": {"DE", "DE7", "DE72", "DE721", "AGS:06", "AGS:06531"},
			"DE722": {"DE", "DE7", "DE72", "DE722", "AGS:06", "AGS:06532"}, "DE600": {"DE", "DE6", "DE60", "DE600", "AGS:02", "AGS:02000"},
		}
		for _, k := range keys {
			m.Within = append(m.Within, up[k]...)
		}
		return m
	}
	tests := []struct {
		name string
		q    profile.ListQuery
		want []string
	}{
		{"everything", profile.ListQuery{}, []string{"bund-weit", "giessen-lab", "hamburg-kreis", "hessen-it"}},
		{"kinds OR", profile.ListQuery{Kinds: []profile.Kind{profile.KindStartUp, profile.KindNGO}}, []string{"bund-weit", "giessen-lab", "hamburg-kreis"}},
		{"cpv parent finds child", profile.ListQuery{CPVPrefixes: []string{"72"}}, []string{"hessen-it"}},
		{"cpv OR", profile.ListQuery{CPVPrefixes: []string{"722", "48"}}, []string{"giessen-lab", "hessen-it"}},
		{"region inside a served region", profile.ListQuery{Regions: region("DE712")}, []string{"bund-weit", "hessen-it"}},
		{"region containing a served municipality", profile.ListQuery{Regions: region("DE7")}, []string{"bund-weit", "giessen-lab", "hessen-it"}},
		{"Kreis AGS finds Land and municipality", profile.ListQuery{Regions: region("AGS:06531")}, []string{"bund-weit", "giessen-lab", "hessen-it"}},
		{"NUTS-2 containing a served municipality", profile.ListQuery{Regions: region("DE72")}, []string{"bund-weit", "giessen-lab", "hessen-it"}},
		{"NUTS-3 of a served municipality", profile.ListQuery{Regions: region("DE721")}, []string{"bund-weit", "giessen-lab", "hessen-it"}},
		{"a sibling NUTS-3: not the municipality", profile.ListQuery{Regions: region("DE722")}, []string{"bund-weit", "hessen-it"}},
		{"NUTS-3 of a served Kreis", profile.ListQuery{Regions: region("DE600")}, []string{"bund-weit", "hamburg-kreis"}},
		{"other Land: only nationwide", profile.ListQuery{Regions: region("DE1")}, []string{"bund-weit"}},
		{"Land AGS contains served Kreis", profile.ListQuery{Regions: region("AGS:02")}, []string{"bund-weit", "hamburg-kreis"}},
		{"DE finds every vendor with a region", profile.ListQuery{Regions: region("DE")}, []string{"bund-weit", "giessen-lab", "hamburg-kreis", "hessen-it"}},
		{"capabilities", profile.ListQuery{Capabilities: []string{"terminbuchung", "nichts"}}, []string{"hessen-it"}},
		{"certifications OR", profile.ListQuery{Certifications: []string{"iso-27001", "bitv-2-0"}}, []string{"bund-weit", "giessen-lab"}},
		{"certification is not a capability", profile.ListQuery{Capabilities: []string{"iso-27001"}}, nil},
		{"open source", profile.ListQuery{OpenSource: true}, []string{"hessen-it"}},
		{"words in name", profile.ListQuery{Words: []string{"hessen"}}, []string{"hessen-it"}},
		{"word prefix in description", profile.ListQuery{Words: []string{"datenplatt"}}, []string{"giessen-lab"}},
		{"product name and description", profile.ListQuery{Words: []string{"barrierefrei"}}, []string{"bund-weit"}},
		{"product name", profile.ListQuery{Words: []string{"bürgerportal"}}, []string{"hessen-it"}},
		{"capability word", profile.ListQuery{Words: []string{"terminbuch"}}, []string{"hessen-it"}},
		{"all words", profile.ListQuery{Words: []string{"gießen", "kommunen"}}, []string{"giessen-lab"}},
		{"AND across filters", profile.ListQuery{Kinds: []profile.Kind{profile.KindStartUp}, Regions: region("DE7")}, []string{"giessen-lab"}},
		{"LIKE wildcards are literal", profile.ListQuery{CPVPrefixes: []string{"%"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, ids(t, s, tt.q)); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
		})
	}
}

func testPagination(t *testing.T, newStore func(*testing.T) profile.Store) {
	s := newStore(t)
	var all []*profile.Vendor
	for i := range 7 {
		v := minimalVendor(fmt.Sprintf("v-%d", i))
		v.CreateTime = t0.Add(time.Duration(i/2) * time.Minute) // pairs share a time: ties by id
		all = append(all, v)
	}
	create(t, s, all...)
	for _, asc := range []bool{false, true} {
		var got []string
		q := profile.ListQuery{Limit: 3, Ascending: asc}
		for {
			page, err := s.List(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range page {
				got = append(got, v.ID)
			}
			if len(page) < q.Limit {
				break
			}
			last := page[len(page)-1]
			q.After = &profile.Cursor{CreateTime: last.CreateTime, ID: last.ID}
		}
		want := []string{"v-0", "v-1", "v-2", "v-3", "v-4", "v-5", "v-6"}
		if !asc {
			slices.Reverse(want)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pages ascending=%v (-want +got):\n%s", asc, diff)
		}
	}
}
