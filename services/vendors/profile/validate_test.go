package profile

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/refdata"
)

func violations(f Fields) []string {
	var v errdefs.Violations
	normalize(&f, UpdatableFields, 2026, "", &v)
	return fieldsOf(v.Err())
}

func TestValidateFields(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name   string
		change func(*Fields)
		want   []string
	}{
		{"valid", func(*Fields) {}, nil},
		{"name required", func(f *Fields) { f.DisplayName = "  " }, []string{"vendor.display_name"}},
		{"name too long", func(f *Fields) { f.DisplayName = long(MaxNameLen + 1) }, []string{"vendor.display_name"}},
		{"name one line", func(f *Fields) { f.DisplayName = "a\nb" }, []string{"vendor.display_name"}},
		{"name not UTF-8", func(f *Fields) { f.DisplayName = "\xff" }, []string{"vendor.display_name"}},
		{"kind required", func(f *Fields) { f.Kind = KindUnspecified }, []string{"vendor.kind"}},
		{"kind unknown", func(f *Fields) { f.Kind = 7 }, []string{"vendor.kind"}},
		{"founding year unset", func(f *Fields) { f.FoundingYear = 0 }, nil},
		{"founding year in the future", func(f *Fields) { f.FoundingYear = 2027 }, []string{"vendor.founding_year"}},
		{"founding year too early", func(f *Fields) { f.FoundingYear = 1799 }, []string{"vendor.founding_year"}},
		{"size band unknown", func(f *Fields) { f.SizeBand = 5 }, []string{"vendor.size_band"}},
		{"headquarters optional", func(f *Fields) { f.Headquarters = "" }, nil},
		{"headquarters unknown AGS", func(f *Fields) { f.Headquarters = "99999999" }, []string{"vendor.headquarters"}},
		{"headquarters not a municipality", func(f *Fields) { f.Headquarters = "DE7" }, []string{"vendor.headquarters"}},
		{"region unknown", func(f *Fields) { f.RegionsServed = []string{"DE7", "FR1"} }, []string{"vendor.regions_served[1]"}},
		{"region malformed AGS", func(f *Fields) { f.RegionsServed = []string{"065"} }, []string{"vendor.regions_served[0]"}},
		{"too many regions", func(f *Fields) { f.RegionsServed = make([]string, MaxRegions+1) }, []string{"vendor.regions_served"}},
		{"language unknown", func(f *Fields) { f.Languages = []string{"de", "deu", "xx"} }, []string{"vendor.languages[1]", "vendor.languages[2]"}},
		{"website ftp", func(f *Fields) { f.Website = "ftp://example.de" }, []string{"vendor.website"}},
		{"website relative", func(f *Fields) { f.Website = "example.de" }, []string{"vendor.website"}},
		{"website without host", func(f *Fields) { f.Website = "https://" }, []string{"vendor.website"}},
		{"website with credentials", func(f *Fields) { f.Website = "https://a:b@example.de" }, []string{"vendor.website"}},
		{"website with space", func(f *Fields) { f.Website = "https://example.de/a b" }, []string{"vendor.website"}},
		{"description optional", func(f *Fields) { f.Description = "" }, nil},
		{"description at the limit", func(f *Fields) { f.Description = strings.Repeat("ü", MaxDescriptionLen) }, nil},
		{"description too long", func(f *Fields) { f.Description = long(MaxDescriptionLen + 1) }, []string{"vendor.description"}},
		{"description control character", func(f *Fields) { f.Description = "a\x00b" }, []string{"vendor.description"}},
		{"capability empty tag", func(f *Fields) { f.Capabilities = []string{"ok", "--"} }, []string{"vendor.capabilities[1]"}},
		{"cpv unknown", func(f *Fields) { f.CPVCodes = []string{"72212000", "12345678"} }, []string{"vendor.cpv_codes[1]"}},
		{"cpv wrong check digit", func(f *Fields) { f.CPVCodes = []string{"72212000-9"} }, []string{"vendor.cpv_codes[0]"}},
		{"cpv none", func(f *Fields) { f.CPVCodes = nil }, nil},
		{"certification too long", func(f *Fields) { f.Certifications = []string{long(MaxTagLen + 1)} }, []string{"vendor.certifications[0]"}},
		{"product name required", func(f *Fields) { f.Products[0].Name = "" }, []string{"vendor.products[0].display_name"}},
		{"product description too long", func(f *Fields) { f.Products[0].Description = long(MaxProductDescLen + 1) }, []string{"vendor.products[0].description"}},
		{"product maturity unknown", func(f *Fields) { f.Products[0].Maturity = 4 }, []string{"vendor.products[0].maturity"}},
		{"product hosting unknown", func(f *Fields) { f.Products[0].Hosting = -1 }, []string{"vendor.products[0].hosting"}},
		{"product licence invalid", func(f *Fields) {
			f.Products = append(f.Products, Product{Name: "B", Licence: "NOT-A-LICENSE"})
		}, []string{"vendor.products[1].licence"}},
		{"too many products", func(f *Fields) { f.Products = make([]Product, MaxProducts+1) }, []string{"vendor.products"}},
		{"reference client required", func(f *Fields) { f.References[0].ClientOrganization = "" }, []string{"vendor.references[0].client_organization"}},
		{"reference delivered required", func(f *Fields) { f.References[0].Delivered = "" }, []string{"vendor.references[0].delivered"}},
		{"reference year", func(f *Fields) { f.References[0].Year = 1989 }, []string{"vendor.references[0].year"}},
		{"reference outcome too long", func(f *Fields) { f.References[0].Outcome = long(MaxReferenceTextLen + 1) }, []string{"vendor.references[0].outcome"}},
		{"every problem at once", func(f *Fields) {
			f.DisplayName, f.Kind, f.CPVCodes = "", 0, []string{"x"}
		}, []string{"vendor.display_name", "vendor.kind", "vendor.cpv_codes[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := validFields()
			tt.change(&f)
			if diff := cmp.Diff(tt.want, violations(f)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNormalizeLicence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		canonical string
		open      bool
		wantErr   bool
	}{
		{in: "MIT", canonical: "MIT", open: true},
		{in: "Apache-2.0 OR MIT", canonical: "Apache-2.0 OR MIT", open: true},
		{in: "apache-2.0", canonical: "Apache-2.0", open: true},
		{in: "EUPL-1.2", canonical: "EUPL-1.2", open: true},
		{in: "GPL-3.0-or-later", canonical: "GPL-3.0-or-later", open: true},
		{in: "GPL-2.0+", canonical: "GPL-2.0+", open: true},
		{in: "GPL-2.0-only WITH Classpath-exception-2.0", canonical: "GPL-2.0-only WITH Classpath-exception-2.0", open: true},
		{in: "(MIT AND BSD-3-Clause) OR Apache-2.0", open: true},
		{in: "AGPL-3.0-only", canonical: "AGPL-3.0-only", open: true},
		{in: "LicenseRef-proprietary", canonical: "LicenseRef-proprietary", open: false},
		{in: "MIT OR LicenseRef-proprietary", open: false},
		{in: "MIT AND LicenseRef-proprietary", open: false},
		{in: "CC-BY-NC-4.0", canonical: "CC-BY-NC-4.0", open: false},
		{in: "NOT-A-LICENSE", wantErr: true},
		{in: "", wantErr: true},
		{in: "MIT OR", wantErr: true},
		{in: "(MIT", wantErr: true},
		{in: strings.Repeat("MIT OR ", 100) + "MIT", wantErr: true},
	}
	for _, tt := range tests {
		canonical, open, err := NormalizeLicence(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("NormalizeLicence(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		if open != tt.open {
			t.Errorf("NormalizeLicence(%q) open source = %v, want %v", tt.in, open, tt.open)
		}
		if tt.canonical != "" && canonical != tt.canonical {
			t.Errorf("NormalizeLicence(%q) = %q, want %q", tt.in, canonical, tt.canonical)
		}
		// Canonical is a fixed point.
		if again, _, err := NormalizeLicence(canonical); err != nil || again != canonical {
			t.Errorf("NormalizeLicence(%q) = %q, %v; not a fixed point", canonical, again, err)
		}
	}
}

func TestProductOpenSourceIsDerived(t *testing.T) {
	t.Parallel()
	f := validFields()
	f.Products = []Product{{Name: "a", Licence: "LicenseRef-x", OpenSource: true}, {Name: "b", OpenSource: true}, {Name: "c", Licence: "MIT"}}
	var v errdefs.Violations
	normalize(&f, []string{FieldProducts}, 2026, "", &v)
	got := []bool{f.Products[0].OpenSource, f.Products[1].OpenSource, f.Products[2].OpenSource}
	if diff := cmp.Diff([]bool{false, false, true}, got); diff != "" || v.Len() > 0 {
		t.Errorf("open_source (-want +got):\n%s %v", diff, v.Err())
	}
}

func TestServesRegion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		served     []string
		nationwide bool
		filter     string
		want       bool
	}{
		{served: []string{"DE7"}, filter: "DE712", want: true}, // filter inside served
		{served: []string{"DE712"}, filter: "DE7", want: true}, // served inside filter
		{served: []string{"06531005"}, filter: "AGS:06531", want: true},
		{served: []string{"06531"}, filter: "AGS:06531005", want: true},
		{served: []string{"06531"}, filter: "DE7", want: true}, // Land links the schemes
		{served: []string{"DE7"}, filter: "AGS:06531", want: true},
		{served: []string{"DE7"}, filter: "DE1", want: false},
		{served: []string{"DE712"}, filter: "AGS:06412", want: true},  // Frankfurt: the Kreis is its NUTS-3 region
		{served: []string{"DE712"}, filter: "AGS:06411", want: false}, // not Darmstadt
		{served: []string{"06531"}, filter: "DE72", want: true},       // Landkreis Gießen lies in Regierungsbezirk Gießen
		{served: []string{"06531"}, filter: "DE722", want: false},
		{served: []string{"DE712"}, filter: "DE711", want: false},
		{served: nil, nationwide: true, filter: "DE1", want: true},
		{served: nil, filter: "DE", want: false},
		{served: []string{"DE"}, filter: "AGS:09162000", want: true},
	}
	for _, tt := range tests {
		v := &Vendor{Fields: Fields{RegionsServed: tt.served, Nationwide: tt.nationwide}}
		if got := v.ServesRegion(tt.filter); got != tt.want {
			t.Errorf("vendor serving %v (nationwide %v) serves %s = %v, want %v", tt.served, tt.nationwide, tt.filter, got, tt.want)
		}
	}
}

// TestAwardsVendorsImportable checks that records of the award data set,
// mapped as an import would map them, are valid vendors. testdata holds a
// sample of /work/shared/data/eval/awards-en/vendors.jsonl; set
// AWARDS_VENDORS to a path to check a whole file.
func TestAwardsVendorsImportable(t *testing.T) {
	t.Parallel()
	path := "testdata/awards_vendors_sample.jsonl"
	if p := os.Getenv("AWARDS_VENDORS"); p != "" {
		path = p
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var reqs []CreateRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			ID          string   `json:"id"`
			Name        string   `json:"name"`
			Description string   `json:"description"`
			CPVCodes    []string `json:"cpvCodes"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, CreateRequest{ExternalID: rec.ID, Fields: Fields{
			DisplayName: rec.Name, Description: rec.Description, CPVCodes: rec.CPVCodes, Kind: KindOther,
		}})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(reqs) < 50 {
		t.Fatalf("only %d records in %s", len(reqs), path)
	}
	s, st := newTestService(t)
	for start := 0; start < len(reqs); start += MaxBatch {
		if _, err := s.BatchCreate(as(venture), reqs[start:min(start+MaxBatch, len(reqs))]); err != nil {
			t.Fatalf("import of %s: %v", path, err)
		}
	}
	if st.len() != len(reqs) {
		t.Errorf("imported %d of %d records", st.len(), len(reqs))
	}
}

func FuzzValidateFields(f *testing.F) {
	f.Add("Civic Code", "https://x.de", "DE7", "de", "72212000-4", "ISO 27001", "MIT", "06531005", 2020)
	f.Add("", "ftp://", "AGS:0", "xx", "1", "--", "NOT-A-LICENSE", "DE", 0)
	f.Add("\xff", "https://a:b@c", "hessen", "EN", "72000000", "BITV 2.0", "(MIT OR Apache-2.0) AND LicenseRef-a", "", -1)
	f.Fuzz(func(t *testing.T, name, website, region, lang, cpv, cert, licence, hq string, year int) {
		fl := Fields{DisplayName: name, Kind: KindOther, Website: website, RegionsServed: []string{region},
			Languages: []string{lang}, CPVCodes: []string{cpv}, Certifications: []string{cert}, Headquarters: hq,
			FoundingYear: year, Products: []Product{{Name: name, Licence: licence}},
			References: []Reference{{ClientOrganization: name, Delivered: name, Year: year}}}
		var v errdefs.Violations
		normalize(&fl, UpdatableFields, 2026, "", &v)
		if v.Len() > 0 {
			return
		}
		// What passes is canonical: validating again changes nothing.
		again := fl.Clone()
		var v2 errdefs.Violations
		normalize(&again, UpdatableFields, 2026, "", &v2)
		if v2.Len() > 0 {
			t.Fatalf("normalised fields fail validation: %v", v2.Err())
		}
		if diff := cmp.Diff(fl, again); diff != "" {
			t.Fatalf("normalising twice differs:\n%s", diff)
		}
		for _, r := range fl.RegionsServed {
			if len(upKeys(r)) == 0 {
				t.Fatalf("served region %q has no keys", r)
			}
			if _, err := refdata.RegionFilterKey(r); err != nil {
				t.Fatalf("served region %q is no filter key: %v", r, err)
			}
		}
	})
}

func FuzzNormalizeLicence(f *testing.F) {
	for _, s := range []string{"MIT", "Apache-2.0 OR MIT", "LicenseRef-proprietary", "NOT-A-LICENSE", "GPL-2.0+ WITH x", "((", "DocumentRef-a:LicenseRef-b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		canonical, open, err := NormalizeLicence(s)
		if err != nil {
			return
		}
		again, open2, err := NormalizeLicence(canonical)
		if err != nil || again != canonical || open2 != open {
			t.Fatalf("NormalizeLicence(%q) = %q, %v; again %q, %v, %v", s, canonical, open, again, open2, err)
		}
	})
}
