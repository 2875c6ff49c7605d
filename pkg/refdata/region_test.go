package refdata

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNormalizeRegion(t *testing.T) {
	t.Parallel()
	type result struct {
		Region Region
		Err    string
	}
	stuttgart := Region{Code: "DE111", Kind: NUTS3, Name: "Stuttgart, Stadtkreis", LandAGS: "08", NUTS1: "DE1"}
	hamburg := Region{Code: "02000000", Kind: Municipality, Name: "Hamburg, Freie und Hansestadt", LandAGS: "02", NUTS1: "DE6", NUTS3: "DE600"}
	tests := []struct {
		name string
		in   string
		want result
	}{
		{"country", "DE", result{Region: Region{Code: "DE", Kind: Country, Name: "Deutschland"}}},
		{"country lower-case", "de", result{Region: Region{Code: "DE", Kind: Country, Name: "Deutschland"}}},
		{"Land", "DE6", result{Region: Region{Code: "DE6", Kind: Land, Name: "Hamburg", LandAGS: "02", NUTS1: "DE6"}}},
		{"Land lower-case", "de6", result{Region: Region{Code: "DE6", Kind: Land, Name: "Hamburg", LandAGS: "02", NUTS1: "DE6"}}},
		{"Land with letter code", "DEA", result{Region: Region{Code: "DEA", Kind: Land, Name: "Nordrhein-Westfalen", LandAGS: "05", NUTS1: "DEA"}}},
		{"NUTS-2 without name", "DE11", result{Region: Region{Code: "DE11", Kind: NUTS2, LandAGS: "08", NUTS1: "DE1"}}},
		{"NUTS-2 that is a whole Land", "de30", result{Region: Region{Code: "DE30", Kind: NUTS2, Name: "Berlin", LandAGS: "11", NUTS1: "DE3"}}},
		{"NUTS-3", "DE111", result{Region: stuttgart}},
		{"NUTS-3 mixed case and spaces", " dE111\n", result{Region: stuttgart}},
		{"NUTS-3 with letter", "deb3k", result{Region: Region{Code: "DEB3K", Kind: NUTS3, Name: "Südwestpfalz", LandAGS: "07", NUTS1: "DEB"}}},
		{"municipality", "02000000", result{Region: hamburg}},
		{"municipality with spaces", "\t02000000 ", result{Region: hamburg}},
		{"gemeindefreies Gebiet", "01053105", result{Region: Region{Code: "01053105", Kind: Municipality, Name: "Sachsenwald (Forstgutsbez.),gemfr.Geb.", LandAGS: "01", NUTS1: "DEF", NUTS3: "DEF06"}}},

		{"empty", "", result{Err: "region is empty"}},
		{"only spaces", "   ", result{Err: "region is empty"}},
		{"unknown NUTS-3", "DE999", result{Err: `unknown NUTS code "DE999"`}},
		{"unknown NUTS-2", "DE19", result{Err: `unknown NUTS code "DE19"`}},
		{"unknown NUTS-1", "DEH", result{Err: `unknown NUTS code "DEH"`}},
		{"extra-regio NUTS-3", "DEZZZ", result{Err: `NUTS code "DEZZZ" is extra-regio, which is not a place in Germany`}},
		{"extra-regio NUTS-2", "DEZZ", result{Err: `NUTS code "DEZZ" is extra-regio, which is not a place in Germany`}},
		{"extra-regio NUTS-1", "dez", result{Err: `NUTS code "DEZ" is extra-regio, which is not a place in Germany`}},
		{"foreign NUTS", "FR101", result{Err: `unknown NUTS code "FR101": only German regions (DE…) are supported`}},
		{"unknown AGS", "99999999", result{Err: `unknown AGS "99999999"`}},
		{"AGS of a Kreis", "02000", result{Err: `malformed AGS "02000": a place needs the 8-digit AGS of a municipality, e.g. "02000000"`}},
		{"AGS of a Land", "02", result{Err: `malformed AGS "02": a place needs the 8-digit AGS of a municipality, e.g. "02000000"`}},
		{"ARS instead of AGS", "020000000000", result{Err: `malformed AGS "020000000000": a place needs the 8-digit AGS of a municipality, e.g. "02000000"`}},
		{"NUTS-4 length", "DE1111", result{Err: `malformed region "DE1111": want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`}},
		{"inner space", "DE 11", result{Err: `malformed region "DE 11": want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`}},
		{"Land name is a filter, not a place", "Hamburg", result{Err: `malformed region "Hamburg": want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`}},
		{"filter key is not a place", "AGS:02000000", result{Err: `malformed region "AGS:02000000": want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`}},
		{"fullwidth digits", "０２０００００", result{Err: `malformed region "０２０００００": want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`}},
		{"fullwidth letters", "ＤＥ", result{Err: `malformed region "ＤＥ": want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`}},
		{"dotless i does not upper-case into a code", "dı", result{Err: `malformed region "dı": want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`}},
		{"invalid utf-8", "DE\xff", result{Err: `malformed region "DE\xff": want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`}},
		{"very long digits", strings.Repeat("0", 100000), result{Err: `malformed AGS "` + strings.Repeat("0", 40) + `"…: a place needs the 8-digit AGS of a municipality, e.g. "02000000"`}},
		{"very long text", strings.Repeat("DE", 50000), result{Err: `malformed region "` + strings.Repeat("DE", 20) + `"…: want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := NormalizeRegion(tt.in)
			if diff := cmp.Diff(tt.want, result{Region: r, Err: errText(err)}); diff != "" {
				t.Errorf("NormalizeRegion(%s) mismatch (-want +got):\n%s", quote(tt.in), diff)
			}
		})
	}
}

func TestRegionKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"country", "DE", []string{"DE"}},
		{"Land", "DE6", []string{"DE", "DE6", "AGS:02"}},
		{"NUTS-2", "DE11", []string{"DE", "DE1", "DE11", "AGS:08"}},
		{"NUTS-3", "DE111", []string{"DE", "DE1", "DE11", "DE111", "AGS:08", "AGS:08111"}},
		{"NUTS-3 of two Kreise", "DEG0R", []string{"DE", "DEG", "DEG0", "DEG0R", "AGS:16", "AGS:16056", "AGS:16063"}},
		{"municipality", "02000000", []string{"DE", "DE6", "DE60", "DE600", "AGS:02", "AGS:02000", "AGS:02000000"}},
		{"municipality in a Regierungsbezirk", "06531005", []string{"DE", "DE7", "DE72", "DE721", "AGS:06", "AGS:06531", "AGS:06531005"}},
		{"municipality in a Landkreis", "08115003", []string{"DE", "DE1", "DE11", "DE112", "AGS:08", "AGS:08115", "AGS:08115003"}},
		{"not canonical: lower-case", "de111", nil},
		{"not canonical: spaces", " DE111", nil},
		{"filter key is not a place", "AGS:02", nil},
		{"unknown", "DE999", nil},
		{"extra-regio", "DEZZZ", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, RegionKeys(tt.in)); diff != "" {
				t.Errorf("RegionKeys(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestRegionFilterKey(t *testing.T) {
	t.Parallel()
	type result struct {
		Key, Err string
	}
	tests := []struct {
		name string
		in   string
		want result
	}{
		{"country", "DE", result{Key: "DE"}},
		{"Land", "DE6", result{Key: "DE6"}},
		{"Land lower-case", "de6", result{Key: "DE6"}},
		{"NUTS-2", "DE11", result{Key: "DE11"}},
		{"NUTS-3", "de111", result{Key: "DE111"}},
		{"AGS Land", "02", result{Key: "AGS:02"}},
		{"AGS Land with spaces", " 16 ", result{Key: "AGS:16"}},
		{"AGS Kreis", "02000", result{Key: "AGS:02000"}},
		{"AGS Landkreis", "08115", result{Key: "AGS:08115"}},
		{"AGS municipality", "02000000", result{Key: "AGS:02000000"}},
		{"key re-normalises", "AGS:02000", result{Key: "AGS:02000"}},
		{"key prefix any case", "ags:08", result{Key: "AGS:08"}},
		{"Land name", "Hamburg", result{Key: "DE6"}},
		{"Land name with umlaut", "Baden-Württemberg", result{Key: "DE1"}},
		{"Land name lower-case", "bayern", result{Key: "DE2"}},
		{"Land name upper-case umlaut", "THÜRINGEN", result{Key: "DEG"}},
		{"Land name transliterated", "Baden-Wuerttemberg", result{Key: "DE1"}},
		{"Land name decomposed umlaut", "Thu\u0308ringen", result{Key: "DEG"}},
		{"Land name with space for dash", "nordrhein westfalen", result{Key: "DEA"}},
		{"Land name with extra spaces", "  Sachsen -  Anhalt ", result{Key: "DEE"}},
		{"Sachsen is not Sachsen-Anhalt", "Sachsen", result{Key: "DED"}},
		{"English Land name", "Bavaria", result{Key: "DE2"}},
		{"English name shaped like a NUTS code", "hesse", result{Key: "DE7"}},
		{"English name with dash", "North Rhine-Westphalia", result{Key: "DEA"}},

		{"empty", "", result{Err: "region filter is empty"}},
		{"only spaces", "\t", result{Err: "region filter is empty"}},
		{"unknown NUTS", "DE999", result{Err: `unknown NUTS code "DE999"`}},
		{"extra-regio", "DEZ", result{Err: `NUTS code "DEZ" is extra-regio, which is not a place in Germany`}},
		{"foreign NUTS", "at13", result{Err: `unknown NUTS code "AT13": only German regions (DE…) are supported`}},
		{"AGS Land 00", "00", result{Err: `unknown AGS Land code "00": Länder are numbered 01 to 16`}},
		{"AGS Land 17", "17", result{Err: `unknown AGS Land code "17": Länder are numbered 01 to 16`}},
		{"unknown Kreis", "02001", result{Err: `unknown AGS Kreis "02001"`}},
		{"unknown AGS", "99999999", result{Err: `unknown AGS "99999999"`}},
		{"AGS of 3 digits", "021", result{Err: `malformed AGS "021": want 2 digits (Land), 5 (Kreis) or 8 (municipality)`}},
		{"empty key", "AGS:", result{Err: `malformed AGS "": want 2 digits (Land), 5 (Kreis) or 8 (municipality)`}},
		{"key with name", "AGS:Bayern", result{Err: `malformed AGS "Bayern": want 2 digits (Land), 5 (Kreis) or 8 (municipality)`}},
		{"key with space", "AGS: 02", result{Err: `malformed AGS " 02": want 2 digits (Land), 5 (Kreis) or 8 (municipality)`}},
		{"unknown name", "Preußen", result{Err: `unknown region filter "Preußen": want a NUTS code such as "DE11", an AGS of 2, 5 or 8 digits, or the name of a Land`}},
		{"city is not a Land", "München", result{Err: `unknown region filter "München": want a NUTS code such as "DE11", an AGS of 2, 5 or 8 digits, or the name of a Land`}},
		{"fullwidth digits", "０２", result{Err: `unknown region filter "０２": want a NUTS code such as "DE11", an AGS of 2, 5 or 8 digits, or the name of a Land`}},
		{"very long digits", strings.Repeat("1", 100000), result{Err: `malformed AGS "` + strings.Repeat("1", 40) + `"…: want 2 digits (Land), 5 (Kreis) or 8 (municipality)`}},
		{"very long name", strings.Repeat("Bayern ", 10000), result{Err: `unknown region filter "` + strings.Repeat("Bayern ", 5) + `Bayer"…: want a NUTS code such as "DE11", an AGS of 2, 5 or 8 digits, or the name of a Land`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := RegionFilterKey(tt.in)
			if diff := cmp.Diff(tt.want, result{Key: key, Err: errText(err)}); diff != "" {
				t.Errorf("RegionFilterKey(%s) mismatch (-want +got):\n%s", quote(tt.in), diff)
			}
		})
	}
}

// TestRegionFilterMatching pins how places and filters meet, including the
// documented gap: a municipality does not match NUTS-2 or NUTS-3 filters.
func TestRegionFilterMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		place, filter string
		want          bool
	}{
		{"NUTS-3 place in its Land", "DE111", "DE1", true},
		{"NUTS-3 place in its Land by name", "DE111", "Baden-Württemberg", true},
		{"NUTS-3 place in its AGS Land", "DE111", "08", true},
		{"NUTS-3 place not in another Land", "DE111", "DE2", false},
		{"NUTS-3 place in its Kreis", "DE111", "08111", true},
		{"NUTS-3 place not in another Kreis", "DE111", "08115", false},
		{"NUTS-2 place not in its NUTS-3", "DE11", "DE111", false},
		{"municipality in Germany", "02000000", "DE", true},
		{"municipality in its Land", "02000000", "Hamburg", true},
		{"municipality in its Kreis", "08115003", "08115", true},
		{"municipality in itself", "08115003", "08115003", true},
		{"municipality not in a sibling Kreis", "08115003", "08116", false},
		{"municipality in its NUTS-3 region", "02000000", "DE600", true},
		{"municipality in its NUTS-2 region", "06532023", "DE72", true},
		{"municipality in its NUTS-3 region (Wetzlar)", "06532023", "DE722", true},
		{"municipality not in a sibling NUTS-3", "06532023", "DE721", false},
		{"municipality not in another NUTS-2", "06531005", "DE71", false},
		{"country place does not match a Land", "DE", "DE6", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := RegionFilterKey(tt.filter)
			if err != nil {
				t.Fatalf("RegionFilterKey(%q): %v", tt.filter, err)
			}
			got := slices.Contains(RegionKeys(tt.place), key)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("place %s in filter %s mismatch (-want +got):\n%s", tt.place, tt.filter, diff)
			}
		})
	}
}

func TestLookupRegion(t *testing.T) {
	t.Parallel()
	type result struct {
		Region Region
		OK     bool
	}
	tests := []struct {
		name string
		in   string
		want result
	}{
		{"country", "DE", result{Region{Code: "DE", Kind: Country, Name: "Deutschland"}, true}},
		{"Land", "DEG", result{Region{Code: "DEG", Kind: Land, Name: "Thüringen", LandAGS: "16", NUTS1: "DEG"}, true}},
		{"NUTS-3", "DE600", result{Region{Code: "DE600", Kind: NUTS3, Name: "Hamburg", LandAGS: "02", NUTS1: "DE6"}, true}},
		{"municipality", "11000000", result{Region{Code: "11000000", Kind: Municipality, Name: "Berlin, Stadt", LandAGS: "11", NUTS1: "DE3", NUTS3: "DE300"}, true}},
		{"not canonical: lower-case", "de600", result{}},
		{"AGS prefix is not a region", "02000", result{}},
		{"extra-regio", "DEZZZ", result{}},
		{"empty", "", result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, ok := LookupRegion(tt.in)
			if diff := cmp.Diff(tt.want, result{r, ok}); diff != "" {
				t.Errorf("LookupRegion(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestRegions checks the whole list and that every place and every key it
// yields round-trips through the normalisers, so stored values stay valid.
func TestRegions(t *testing.T) {
	t.Parallel()
	all := Regions()
	counts := map[RegionKind]int{}
	for _, r := range all {
		counts[r.Kind]++
	}
	wantCounts := map[RegionKind]int{Land: 16, NUTS2: 38, NUTS3: 400, Municipality: 11004}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("regions per kind mismatch (-want +got):\n%s", diff)
	}
	if !slices.IsSortedFunc(all, func(a, b Region) int {
		if a.Kind != b.Kind {
			return int(a.Kind - b.Kind)
		}
		return strings.Compare(a.Code, b.Code)
	}) {
		t.Error("Regions is not sorted by kind and code")
	}
	for i, r := range all {
		if i > 0 && all[i-1].Code == r.Code {
			t.Errorf("duplicate region %s", r.Code)
		}
		got, err := NormalizeRegion(r.Code)
		if diff := cmp.Diff(r, got); diff != "" || err != nil {
			t.Errorf("NormalizeRegion(%q): err %v, mismatch (-want +got):\n%s", r.Code, err, diff)
		}
		if r.LandAGS == "" || r.NUTS1 == "" || landByAGS(r.LandAGS) != landByNUTS1(r.NUTS1) {
			t.Errorf("%s: inconsistent Land %q / %q", r.Code, r.LandAGS, r.NUTS1)
		}
		if r.Name == "" && r.Kind != NUTS2 {
			t.Errorf("%s has no name", r.Code)
		}
		for _, k := range RegionKeys(r.Code) {
			got, err := RegionFilterKey(k)
			if diff := cmp.Diff(k, got); diff != "" || err != nil {
				t.Errorf("key %q of %s: RegionFilterKey err %v, mismatch (-want +got):\n%s", k, r.Code, err, diff)
			}
		}
	}
}

// TestLaenderTable checks the hand-kept Land table against both data files:
// each Land must have as many NUTS-3 regions as Kreise, and the NUTS-3 names
// of a NUTS-1 region must share more names with the municipalities of its AGS
// Land than with those of any other Land, which a mix-up of two rows breaks.
func TestLaenderTable(t *testing.T) {
	t.Parallel()
	nuts3 := map[string]int{}              // NUTS-1 → number of NUTS-3 regions
	kreise := map[string]map[string]bool{} // AGS Land → Kreise
	nutsNames := map[string][]string{}     // NUTS-1 → NUTS-3 names
	placeNames := map[string]map[string]bool{}
	base := func(name string) string { // "Stuttgart, Stadtkreis" → "Stuttgart"
		b, _, _ := strings.Cut(name, ",")
		return strings.TrimSpace(b)
	}
	for _, r := range Regions() {
		switch r.Kind {
		case NUTS3:
			nuts3[r.NUTS1]++
			nutsNames[r.NUTS1] = append(nutsNames[r.NUTS1], base(r.Name))
		case Municipality:
			if kreise[r.LandAGS] == nil {
				kreise[r.LandAGS] = map[string]bool{}
				placeNames[r.LandAGS] = map[string]bool{}
			}
			// 07000 and 13000 hold only unincorporated areas, not a Kreis.
			if k := r.Code[:5]; k[2:] != "000" || k == "02000" || k == "11000" {
				kreise[r.LandAGS][k] = true
			}
			placeNames[r.LandAGS][base(r.Name)] = true
		}
	}
	for _, l := range laender {
		t.Run(l.Name, func(t *testing.T) {
			t.Parallel()
			want := nuts3[l.NUTS1]
			if l.AGS == "16" {
				want++ // the AGS data (2019) still has Eisenach, merged into the Wartburgkreis in 2021
			}
			if diff := cmp.Diff(want, len(kreise[l.AGS])); diff != "" {
				t.Errorf("Kreise in AGS %s vs NUTS-3 regions in %s mismatch (-want +got):\n%s", l.AGS, l.NUTS1, diff)
			}
			overlap := func(ags string) int {
				n := 0
				for _, name := range nutsNames[l.NUTS1] {
					if placeNames[ags][name] {
						n++
					}
				}
				return n
			}
			own := overlap(l.AGS)
			for _, other := range laender {
				if other.AGS != l.AGS && overlap(other.AGS) >= own {
					t.Errorf("NUTS-3 names of %s match AGS %s (%d) at least as well as AGS %s (%d)",
						l.NUTS1, other.AGS, overlap(other.AGS), l.AGS, own)
				}
			}
			for _, name := range []string{l.Name, l.NameEN} {
				got, err := RegionFilterKey(name)
				if diff := cmp.Diff(l.NUTS1, got); diff != "" || err != nil {
					t.Errorf("RegionFilterKey(%q): err %v, mismatch (-want +got):\n%s", name, err, diff)
				}
			}
		})
	}
}

func TestRegionKindString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind RegionKind
		want string
	}{
		{Country, "country"},
		{Land, "Land"},
		{NUTS2, "NUTS-2"},
		{NUTS3, "NUTS-3"},
		{Municipality, "municipality"},
		{0, "RegionKind(0)"},
		{42, "RegionKind(42)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.kind.String()); diff != "" {
				t.Errorf("String mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseRegionsRejectsCorruptData(t *testing.T) {
	t.Parallel()
	const (
		nutsHeader = "nuts3_code,name,deu_label,eng_label\n"
		agsHeader  = "ags,ars,gemeindename,plz,bevoelkerung\n"
		nutsOK     = nutsHeader + "DE600,Hamburg,Hamburg,Hamburg\n"
		agsOK      = agsHeader + "02000000,020000000000,Hamburg,20038,1\n"
	)
	tests := []struct {
		name, nuts, ags, wantErr string
	}{
		{"valid", nutsOK, agsOK, ""},
		{"wrong NUTS header", "code,name\n", agsOK, `nuts3_de.csv: header is ["code" "name"], want ["nuts3_code" "name" "deu_label" "eng_label"]`},
		{"wrong AGS header", nutsOK, "ags\n", `gemeinden_ags_ars.csv: header is ["ags"], want ["ags" "ars" "gemeindename" "plz" "bevoelkerung"]`},
		{"NUTS-2 code in NUTS-3 file", nutsHeader + "DE11,S,S,S\n", agsOK, `nuts3_de.csv: bad row ["DE11" "S" "S" "S"]`},
		{"lower-case NUTS", nutsHeader + "de111,S,S,S\n", agsOK, `nuts3_de.csv: bad row ["de111" "S" "S" "S"]`},
		{"foreign NUTS", nutsHeader + "FR101,S,S,S\n", agsOK, `nuts3_de.csv: bad row ["FR101" "S" "S" "S"]`},
		{"short NUTS", nutsHeader + "D,S,S,S\n", agsOK, `nuts3_de.csv: bad row ["D" "S" "S" "S"]`},
		{"duplicate NUTS", nutsOK + "DE600,S,S,S\n", agsOK, "nuts3_de.csv: duplicate region DE600"},
		{"NUTS-3 without a Kreis", nutsOK + "DE111,S,S,S\n", agsOK, "NUTS-3 of the Kreise: in Baden-Württemberg: NUTS-3 region DE111 (S) has no Kreis"},
		{"Kreis without a NUTS-3", nutsOK, agsOK + "08111000,,Stuttgart,,\n", "NUTS-3 of the Kreise: in Baden-Württemberg: no NUTS-3 region left for the Kreise [08111] (left: [])"},
		{"short AGS", nutsOK, agsHeader + "0200000,,x,,\n", `gemeinden_ags_ars.csv: bad row ["0200000" "" "x" "" ""]`},
		{"AGS in no Land", nutsOK, agsHeader + "17000000,,x,,\n", "gemeinden_ags_ars.csv: AGS 17000000 is in no Land"},
		{"duplicate AGS", nutsOK, agsOK + "02000000,,x,,\n", "gemeinden_ags_ars.csv: duplicate region 02000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseRegions(tt.nuts, tt.ags)
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Errorf("parseRegions error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"short", "abc", `"abc"`},
		{"exactly the limit", strings.Repeat("a", 40), `"` + strings.Repeat("a", 40) + `"`},
		{"cut at the limit", strings.Repeat("a", 41), `"` + strings.Repeat("a", 40) + `"…`},
		{"cut counts runes", strings.Repeat("ü", 41), `"` + strings.Repeat("ü", 40) + `"…`},
		{"control characters visible", "a\tb\x00", `"a\tb\x00"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, quote(tt.in)); diff != "" {
				t.Errorf("quote mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLookupMunicipalityStats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ags    string
		want   MunicipalityStats
		wantOK bool
	}{
		{"06531005", MunicipalityStats{Postcode: "35390", Population: 89802}, true},
		{"09162000", MunicipalityStats{Postcode: "80313", Population: 1484226}, true},
		{"DE7", MunicipalityStats{}, false},
		{"99999999", MunicipalityStats{}, false},
	}
	for _, tc := range tests {
		got, ok := LookupMunicipalityStats(tc.ags)
		if ok != tc.wantOK || got != tc.want {
			t.Errorf("LookupMunicipalityStats(%q) = %+v, %v; want %+v, %v", tc.ags, got, ok, tc.want, tc.wantOK)
		}
	}
}
