package refdata

import (
	"cmp"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

var (
	//go:embed data/nuts3_de.csv
	nutsCSV string
	//go:embed data/gemeinden_ags_ars.csv
	gemeindenCSV string
)

// RegionKind tells which scheme and level a Region belongs to, so callers can
// render or group places without parsing codes. The values start at 1 so
// that the zero Region from a failed lookup has no kind; persist Region.Code,
// not the kind's number.
type RegionKind int

const (
	// Country is Germany as a whole ("DE"), for needs open to the whole
	// country.
	Country RegionKind = iota + 1
	// Land is a NUTS level-1 region, which in Germany is exactly one Land
	// ("DE1" is Baden-Württemberg).
	Land
	// NUTS2 is a NUTS level-2 region (mostly a Regierungsbezirk, "DE11").
	NUTS2
	// NUTS3 is a NUTS level-3 region, a Kreis or kreisfreie Stadt ("DE111").
	NUTS3
	// Municipality is a Gemeinde identified by its 8-digit AGS ("02000000").
	// About 200 of them are gemeindefreie Gebiete (uninhabited forests,
	// lakes, coastal waters), which Destatis numbers like municipalities and
	// which can still be a place of performance.
	Municipality
)

// String names the kind for logs and test output.
func (k RegionKind) String() string {
	switch k {
	case Country:
		return "country"
	case Land:
		return "Land"
	case NUTS2:
		return "NUTS-2"
	case NUTS3:
		return "NUTS-3"
	case Municipality:
		return "municipality"
	}
	return fmt.Sprintf("RegionKind(%d)", int(k))
}

// Region is a German place of performance or an area a filter can name.
// LandAGS and NUTS1 are filled in for everything below the country, so that
// both numbering schemes can be joined at Land level, the finest level at
// which the source data links them.
type Region struct {
	// Code is the canonical form: "DE", an upper-case NUTS code, or an
	// 8-digit AGS.
	Code string
	// Kind says which of those Code is.
	Kind RegionKind
	// Name is the German name from the source data. The data has no names
	// for NUTS-2 regions, so Name is empty for those, except where the region
	// is a whole Land and carries the Land's name.
	Name string
	// LandAGS is the 2-digit AGS code of the Land the region lies in; empty
	// for the country.
	LandAGS string
	// NUTS1 is the NUTS level-1 code of that Land; empty for the country.
	NUTS1 string
	// NUTS3 is, for a municipality, the NUTS-3 region of its Kreis; empty
	// for areas outside every Kreis (coastal waters) and other kinds.
	NUTS3 string
}

// regionTable holds every known place, built once.
type regionTable struct {
	byCode       map[string]Region   // "DE", NUTS 1–3 and AGS
	all          []Region            // NUTS 1–3 and AGS, by kind then code
	kreise       map[string]struct{} // 5-digit AGS prefixes that occur
	kreiseOf     map[string][]string // NUTS-3 code → its Kreise (5-digit AGS), see kreisNUTS3
	nuts3OfKreis map[string]string   // the reverse
	landNames    map[string]string   // foldName(name) → NUTS-1 code
	stats        map[string]MunicipalityStats
}

// MunicipalityStats is what the source data says about a municipality
// beyond its name, for showing a place to a user. The fields are zero where
// the data has nothing, as for most gemeindefreie Gebiete.
type MunicipalityStats struct {
	// Postcode is one postcode of the municipality (large ones have many),
	// e.g. the one of the town hall.
	Postcode string
	// Population is the number of inhabitants on 31.12.2019.
	Population int
}

// LookupMunicipalityStats returns the postcode and population of a
// municipality by its canonical 8-digit AGS. It is kept apart from Region
// so that Region stays a small comparable value for matching.
func LookupMunicipalityStats(ags string) (MunicipalityStats, bool) {
	s, ok := loadRegions().stats[ags]
	return s, ok
}

var loadRegions = sync.OnceValue(func() *regionTable {
	t, err := parseRegions(nutsCSV, gemeindenCSV)
	if err != nil {
		panic("refdata: embedded region data is corrupt: " + err.Error())
	}
	return t
})

func parseRegions(nuts, gemeinden string) (*regionTable, error) {
	const nutsName, agsName = "nuts3_de.csv", "gemeinden_ags_ars.csv"
	nutsRows, err := readCSV(nutsName, nuts, ',', []string{"nuts3_code", "name", "deu_label", "eng_label"})
	if err != nil {
		return nil, err
	}
	agsRows, err := readCSV(agsName, gemeinden, ',', []string{"ags", "ars", "gemeindename", "plz", "bevoelkerung"})
	if err != nil {
		return nil, err
	}

	t := &regionTable{
		byCode:    make(map[string]Region, len(nutsRows)*2+len(agsRows)),
		kreise:    make(map[string]struct{}),
		landNames: make(map[string]string, 2*len(laender)),
		stats:     make(map[string]MunicipalityStats, len(agsRows)),
	}
	t.byCode["DE"] = Region{Code: "DE", Kind: Country, Name: "Deutschland"}
	add := func(r Region) error {
		if _, dup := t.byCode[r.Code]; dup {
			return fmt.Errorf("duplicate region %s", r.Code)
		}
		t.byCode[r.Code] = r
		t.all = append(t.all, r)
		return nil
	}
	for _, l := range laender {
		if err := add(Region{Code: l.NUTS1, Kind: Land, Name: l.Name, LandAGS: l.AGS, NUTS1: l.NUTS1}); err != nil {
			return nil, err
		}
		t.landNames[foldName(l.Name)] = l.NUTS1
		t.landNames[foldName(l.NameEN)] = l.NUTS1
	}

	nuts2PerLand := map[string]int{}
	for _, row := range nutsRows {
		code, name := row[0], row[2]
		if strings.HasPrefix(code, "DEZ") {
			continue // extra-regio: statistics outside any territory, not a place
		}
		l := landByNUTS1(code[:min(3, len(code))])
		if len(code) != 5 || upperASCII(code) != code || !isASCIIAlnum(code) || l == nil || name == "" {
			return nil, fmt.Errorf("%s: bad row %q", nutsName, row)
		}
		nuts2 := code[:4]
		if _, ok := t.byCode[nuts2]; !ok {
			if err := add(Region{Code: nuts2, Kind: NUTS2, LandAGS: l.AGS, NUTS1: l.NUTS1}); err != nil {
				return nil, err
			}
			nuts2PerLand[l.NUTS1]++
		}
		if err := add(Region{Code: code, Kind: NUTS3, Name: name, LandAGS: l.AGS, NUTS1: l.NUTS1}); err != nil {
			return nil, fmt.Errorf("%s: %w", nutsName, err)
		}
	}
	// A NUTS-2 region that is the only one in its Land is that Land (Berlin,
	// Hamburg, Saarland, ...), so its name is known after all.
	for i, r := range t.all {
		if r.Kind == NUTS2 && nuts2PerLand[r.NUTS1] == 1 {
			r.Name = landByNUTS1(r.NUTS1).Name
			t.all[i] = r
			t.byCode[r.Code] = r
		}
	}

	for _, row := range agsRows {
		ags, name := row[0], row[2]
		if !isDigits(ags, 8) || name == "" {
			return nil, fmt.Errorf("%s: bad row %q", agsName, row)
		}
		l := landByAGS(ags[:2])
		if l == nil {
			return nil, fmt.Errorf("%s: AGS %s is in no Land", agsName, ags)
		}
		if err := add(Region{Code: ags, Kind: Municipality, Name: name, LandAGS: l.AGS, NUTS1: l.NUTS1}); err != nil {
			return nil, fmt.Errorf("%s: %w", agsName, err)
		}
		t.kreise[ags[:5]] = struct{}{}
		st := MunicipalityStats{Postcode: row[3]}
		if row[4] != "" {
			if st.Population, err = strconv.Atoi(row[4]); err != nil || st.Population < 0 {
				return nil, fmt.Errorf("%s: bad population in row %q", agsName, row)
			}
		}
		if st.Postcode != "" && !isDigits(st.Postcode, 5) {
			return nil, fmt.Errorf("%s: bad postcode in row %q", agsName, row)
		}
		t.stats[ags] = st
	}

	nuts3 := map[string]string{}
	municipalities := map[string][]string{}
	for _, r := range t.all {
		switch r.Kind {
		case NUTS3:
			nuts3[r.Code] = r.Name
		case Municipality:
			municipalities[r.Code[:5]] = append(municipalities[r.Code[:5]], r.Name)
		}
	}
	kreisRegions, err := kreisNUTS3(nuts3, municipalities)
	if err != nil {
		return nil, fmt.Errorf("NUTS-3 of the Kreise: %w", err)
	}
	t.kreiseOf = map[string][]string{}
	t.nuts3OfKreis = kreisRegions
	for k, c := range kreisRegions {
		t.kreiseOf[c] = append(t.kreiseOf[c], k)
	}
	for _, ks := range t.kreiseOf {
		slices.Sort(ks)
	}
	for i, r := range t.all {
		if r.Kind != Municipality {
			continue
		}
		if c, ok := kreisRegions[r.Code[:5]]; ok {
			r.NUTS3 = c
			t.all[i] = r
			t.byCode[r.Code] = r
		}
	}

	slices.SortFunc(t.all, func(a, b Region) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), strings.Compare(a.Code, b.Code))
	})
	t.all = slices.Clip(t.all)
	return t, nil
}

// foldName makes Land names comparable the way people type them: any case,
// "ue" for "ü" on keyboards without umlauts, decomposed umlauts as macOS
// sends them, and a space or a dash in double names.
func foldName(s string) string {
	s = strings.ToLower(s)
	s = nameFolder().Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

// nameFolder is built on first use like the tables, to keep the import free.
var nameFolder = sync.OnceValue(func() *strings.Replacer {
	return strings.NewReplacer(
		"ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss",
		"a\u0308", "ae", "o\u0308", "oe", "u\u0308", "ue",
		"-", " ",
	)
})

// maxLandName bounds the input that is worth folding and comparing against
// Land names; the longest name is far shorter.
const maxLandName = 64

// LookupRegion finds a place by its canonical code only ("DE", an upper-case
// NUTS code or an 8-digit AGS), cheaply enough for matching; run user input
// through NormalizeRegion first.
func LookupRegion(code string) (Region, bool) {
	r, ok := loadRegions().byCode[code]
	return r, ok
}

// Regions returns every NUTS region of level 1–3 and every municipality,
// ordered by kind and then code, for search and autocomplete endpoints. The
// country itself is left out; LookupRegion("DE") has it. The slice is
// shared: do not modify it.
func Regions() []Region {
	return loadRegions().all
}

// NormalizeRegion validates a place of performance as a user or an upstream
// notice gives it and returns it in canonical form, so that places are stored
// in one spelling. Accepted are "DE" for the whole of Germany, a German NUTS
// code of level 1–3 in any letter case ("de6", "DE11", "DE111"), and the
// 8-digit AGS of a municipality ("02000000"). Extra-regio (DEZ, DEZZ,
// DEZZZ) is rejected because no work is performed there, and a Kreis-level
// AGS prefix is rejected because a place should be as precise as the user
// knows it: use the Kreis's NUTS-3 code instead.
func NormalizeRegion(s string) (Region, error) {
	in := strings.TrimSpace(s)
	switch {
	case in == "":
		return Region{}, errors.New("region is empty")
	case allDigits(in):
		if len(in) != 8 {
			return Region{}, fmt.Errorf("malformed AGS %s: a place needs the 8-digit AGS of a municipality, e.g. \"02000000\"", quote(in))
		}
		r, ok := LookupRegion(in)
		if !ok {
			return Region{}, fmt.Errorf("unknown AGS %q", in)
		}
		return r, nil
	case nutsShaped(in):
		return lookupNUTS(upperASCII(in))
	}
	return Region{}, fmt.Errorf(`malformed region %s: want "DE", a NUTS code such as "DE11" or an 8-digit AGS such as "02000000"`, quote(in))
}

// RegionKeys returns the match keys of a canonical place: the place and all
// areas containing it, so that a need's place matches a filter iff the
// filter's key (from RegionFilterKey) is among them. NUTS keys are plain
// codes, AGS keys carry an "AGS:" prefix so the two schemes cannot collide.
//
//	"06531005" → DE, DE7, DE72, DE721, AGS:06, AGS:06531, AGS:06531005
//	"DE721"    → DE, DE7, DE72, DE721, AGS:06, AGS:06531
//	"DE72"     → DE, DE7, DE72, AGS:06
//
// A Kreis is a NUTS-3 region (see kreisNUTS3), so the schemes meet there: a
// municipality matches the NUTS filters of its Kreis and a NUTS-3 place the
// AGS filter of its Kreis. A NUTS-2 region has no AGS of its own and
// matches AGS filters only for its Land. The result is nil for anything
// LookupRegion does not know.
func RegionKeys(code string) []string {
	r, ok := LookupRegion(code)
	if !ok {
		return nil
	}
	switch r.Kind {
	case Country:
		return []string{"DE"}
	case Municipality:
		keys := []string{"DE", r.NUTS1}
		if r.NUTS3 != "" {
			keys = append(keys, r.NUTS3[:4], r.NUTS3)
		}
		return append(keys, "AGS:"+code[:2], "AGS:"+code[:5], "AGS:"+code)
	}
	keys := make([]string, 0, 6)
	keys = append(keys, "DE")
	for n := 3; n <= len(code); n++ {
		keys = append(keys, code[:n])
	}
	keys = append(keys, "AGS:"+r.LandAGS)
	if r.Kind == NUTS3 {
		for _, k := range loadRegions().kreiseOf[code] {
			keys = append(keys, "AGS:"+k)
		}
	}
	return keys
}

// RegionFilterKey turns a region filter as a user types it into the key that
// RegionKeys produces for every place inside it. It accepts "DE"; a NUTS code
// of level 1–3 in any case; an AGS prefix of 2 digits (a Land, 01–16),
// 5 digits (a Kreis that has municipalities) or 8 digits (a municipality),
// with or without the "AGS:" prefix, so keys re-normalise to themselves; and
// the name of a Land in German or English, in any case, with "ue" for "ü"
// and a space for the dash ("bayern", "Baden-Wuerttemberg", "Thuringia"),
// which becomes the Land's NUTS-1 key.
func RegionFilterKey(s string) (string, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return "", errors.New("region filter is empty")
	}
	if len(in) >= 4 && strings.EqualFold(in[:4], "AGS:") {
		return agsFilterKey(in[4:])
	}
	if allDigits(in) {
		return agsFilterKey(in)
	}
	// Names before NUTS codes: "Hesse" is shaped like a NUTS code.
	if len(in) <= maxLandName {
		if nuts1, ok := loadRegions().landNames[foldName(in)]; ok {
			return nuts1, nil
		}
	}
	if nutsShaped(in) {
		r, err := lookupNUTS(upperASCII(in))
		if err != nil {
			return "", err
		}
		return r.Code, nil
	}
	return "", fmt.Errorf(`unknown region filter %s: want a NUTS code such as "DE11", an AGS of 2, 5 or 8 digits, or the name of a Land`, quote(in))
}

// agsFilterKey validates the digits of an AGS filter at whichever level they
// name.
func agsFilterKey(d string) (string, error) {
	if !allDigits(d) {
		return "", fmt.Errorf("malformed AGS %s: want 2 digits (Land), 5 (Kreis) or 8 (municipality)", quote(d))
	}
	switch len(d) {
	case 2:
		if landByAGS(d) == nil {
			return "", fmt.Errorf("unknown AGS Land code %q: Länder are numbered 01 to 16", d)
		}
	case 5:
		if _, ok := loadRegions().kreise[d]; !ok {
			return "", fmt.Errorf("unknown AGS Kreis %q", d)
		}
	case 8:
		if r, ok := LookupRegion(d); !ok || r.Kind != Municipality {
			return "", fmt.Errorf("unknown AGS %q", d)
		}
	default:
		return "", fmt.Errorf("malformed AGS %s: want 2 digits (Land), 5 (Kreis) or 8 (municipality)", quote(d))
	}
	return "AGS:" + d, nil
}

// lookupNUTS resolves an upper-case NUTS code and explains the ways it can be
// wrong, since "not found" alone does not help someone who typed "FR101".
func lookupNUTS(code string) (Region, error) {
	switch {
	case !strings.HasPrefix(code, "DE"):
		return Region{}, fmt.Errorf("unknown NUTS code %q: only German regions (DE…) are supported", code)
	case strings.HasPrefix(code, "DEZ"):
		return Region{}, fmt.Errorf("NUTS code %q is extra-regio, which is not a place in Germany", code)
	}
	r, ok := LookupRegion(code)
	if !ok || r.Kind == Municipality {
		return Region{}, fmt.Errorf("unknown NUTS code %q", code)
	}
	return r, nil
}

// nutsShaped reports whether s looks like a NUTS code of level 0–3 (two
// letters, then up to three letters or digits), so that input which cannot be
// one gets a "malformed" message instead of "unknown".
func nutsShaped(s string) bool {
	if len(s) < 2 || len(s) > 5 || !isASCIIAlnum(s) {
		return false
	}
	isLetter := func(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
	return isLetter(s[0]) && isLetter(s[1])
}

// allDigits reports whether s is a non-empty run of ASCII digits.
func allDigits(s string) bool {
	return s != "" && isDigits(s, len(s))
}
