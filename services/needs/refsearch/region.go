package refsearch

import (
	"cmp"
	"slices"
	"strings"
	"sync"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/refdata"
)

// RegionListRequest is what a caller asks of ListRegions.
type RegionListRequest struct {
	Query string
	// Kind, when not zero, keeps only regions of that kind.
	Kind      refdata.RegionKind
	PageSize  int
	PageToken string
}

// RegionDetail is a region with what the data says about it besides.
type RegionDetail struct {
	refdata.Region
	// LandName is the German name of the Land; empty for the country.
	LandName string
	// Stats is set for municipalities where the data has it.
	Stats refdata.MunicipalityStats
}

// regionEntry is a region prepared for search.
type regionEntry struct {
	codes      []string // the code, and for a Land also its 2-digit AGS
	labels     []label  // the German name; for a Land also the English one
	population int      // where known: municipalities, and Länder as their sum
}

type regionIndex struct {
	regions  []refdata.Region // refdata.Regions(): by kind, then code
	entries  []regionEntry
	words    invertedIndex
	defaults []int32 // every region in the order of equal matches
}

// landNamesEN are the English names refdata accepts as Land filters, so
// that the search finds them too.
var landNamesEN = map[string]string{
	"DE1": "Baden-Württemberg", "DE2": "Bavaria", "DE7": "Hesse", "DE8": "Mecklenburg-Western Pomerania",
	"DE9": "Lower Saxony", "DEA": "North Rhine-Westphalia", "DEB": "Rhineland-Palatinate",
	"DED": "Saxony", "DEE": "Saxony-Anhalt", "DEG": "Thuringia",
}

// loadRegionIndex builds the index on first use.
var loadRegionIndex = onceRegions()

func onceRegions() func() *regionIndex { return sync.OnceValue(buildRegionIndex) }

func buildRegionIndex() *regionIndex {
	regions := refdata.Regions()
	x := &regionIndex{regions: regions, entries: make([]regionEntry, len(regions))}
	landPop := map[string]int{}
	for i, r := range regions {
		e := regionEntry{codes: []string{r.Code}}
		if r.Name != "" {
			e.labels = append(e.labels, newLabel(r.Name))
		}
		switch r.Kind {
		case refdata.Land:
			e.codes = append(e.codes, r.LandAGS)
			if en, ok := landNamesEN[r.Code]; ok {
				e.labels = append(e.labels, newLabel(en))
			}
		case refdata.Municipality:
			st, _ := refdata.LookupMunicipalityStats(r.Code)
			e.population = st.Population
			landPop[r.NUTS1] += st.Population
		}
		x.entries[i] = e
	}
	for i, r := range regions {
		if r.Kind == refdata.Land {
			x.entries[i].population = landPop[r.Code]
		}
	}
	x.words = buildIndex(len(regions), func(i int) []label { return x.entries[i].labels })
	x.defaults = make([]int32, len(regions))
	for i := range x.defaults {
		x.defaults[i] = int32(i)
	}
	slices.SortStableFunc(x.defaults, x.compareEqual)
	return x
}

// compareEqual orders regions that match equally well: larger units first,
// then more inhabitants, then by code.
func (x *regionIndex) compareEqual(a, b int32) int {
	ra, rb := x.regions[a], x.regions[b]
	return cmp.Or(cmp.Compare(ra.Kind, rb.Kind),
		cmp.Compare(x.entries[b].population, x.entries[a].population),
		strings.Compare(ra.Code, rb.Code))
}

// Tiers of a region match, best first.
const (
	tierExactCode = iota
	tierCodePrefix
	tierNamePrefix
	tierWordPrefix
	tierNone
)

// regionQuery is a parsed query.
type regionQuery struct {
	code  string // upper-case, when the query has the shape of an AGS or NUTS code
	words []string
}

func (q regionQuery) key(kind refdata.RegionKind) string {
	return "region\x00" + q.code + "\x00" + strings.Join(q.words, " ") + "\x00" + kind.String()
}

// parseRegionQuery finds what a query may be: a code (1–8 digits of an AGS,
// or a NUTS code "DE…" of up to 5 characters) and words. A code-shaped
// query is matched both ways, since "DE7" could only be a code but nothing
// stops a place from having digits in its name.
func parseRegionQuery(s string) (regionQuery, error) {
	in := strings.TrimSpace(s)
	var q regionQuery
	switch u := strings.ToUpper(in); {
	case isDigits(in) && len(in) <= 8:
		q.code = in
	case len(in) >= 2 && len(in) <= 5 && strings.HasPrefix(u, "DE") && isAlnum(u):
		q.code = u
	}
	q.words = queryWords(in)
	if len(q.words) > MaxQueryWords {
		return regionQuery{}, errdefs.Invalid("query", "must have at most %d words, got %d", MaxQueryWords, len(q.words))
	}
	return q, nil
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// ListRegions searches regions. See ListRegionsRequest.query in the API
// for the ranking.
func ListRegions(r RegionListRequest) (Page[refdata.Region], error) {
	var v errdefs.Violations
	size := checkCommon(&v, r.PageSize, r.Query)
	switch r.Kind {
	case 0, refdata.Land, refdata.NUTS2, refdata.NUTS3, refdata.Municipality:
	default:
		v.Add("kind", "must be one of LAND, NUTS2, NUTS3 or MUNICIPALITY, got %v", r.Kind)
	}
	if err := v.Err(); err != nil {
		return Page[refdata.Region]{}, err
	}
	q, err := parseRegionQuery(r.Query)
	if err != nil {
		return Page[refdata.Region]{}, err
	}
	fp := fingerprint(q.key(r.Kind))
	offset, err := decodeOffset(r.PageToken, fp)
	if err != nil {
		return Page[refdata.Region]{}, err
	}
	x := loadRegionIndex()
	ranked := x.search(q, r.Kind)
	return paginate(ranked, offset, size, fp, func(i int32) refdata.Region { return x.regions[i] }), nil
}

func (x *regionIndex) search(q regionQuery, kind refdata.RegionKind) []int32 {
	keep := func(i int32) bool { return kind == 0 || x.regions[i].Kind == kind }
	if q.code == "" && len(q.words) == 0 {
		out := make([]int32, 0, len(x.defaults))
		for _, i := range x.defaults {
			if keep(i) {
				out = append(out, i)
			}
		}
		return out
	}
	// tier[i] is 0 for regions that do not match, else the match tier + 1.
	tier := make([]uint8, len(x.regions))
	set := func(i int32, t int) {
		if tier[i] == 0 || int(tier[i]) > t+1 {
			tier[i] = uint8(t + 1)
		}
	}
	if q.code != "" {
		for i, e := range x.entries {
			if !keep(int32(i)) {
				continue
			}
			for _, c := range e.codes {
				switch {
				case c == q.code:
					set(int32(i), tierExactCode)
				case strings.HasPrefix(c, q.code):
					set(int32(i), tierCodePrefix)
				}
			}
		}
	}
	if len(q.words) > 0 {
		for _, i := range x.words.candidates(len(x.regions), q.words) {
			if !keep(i) {
				continue
			}
			best := tierNone
			for _, l := range x.entries[i].labels {
				switch {
				case l.hasPrefix(q.words):
					best = min(best, tierNamePrefix)
				case best == tierNone:
					if _, _, ok := l.match(q.words); ok {
						best = tierWordPrefix
					}
				}
			}
			if best != tierNone {
				set(i, best)
			}
		}
	}
	// The matches best tier first, then in compareEqual order. x.defaults
	// is every region in that order, so one pass through it puts each
	// tier's matches in order: no sort, whose comparisons cost
	// milliseconds when a short query matches thousands of regions.
	var start [tierNone + 1]int // start[t] is where tier t begins in out
	for _, t := range tier {
		if t != 0 {
			start[t]++
		}
	}
	for t := 1; t < len(start); t++ {
		start[t] += start[t-1]
	}
	if start[tierNone] == 0 {
		return nil
	}
	out := make([]int32, start[tierNone])
	for _, i := range x.defaults {
		if t := tier[i]; t != 0 {
			out[start[t-1]] = i
			start[t-1]++
		}
	}
	return out
}

// GetRegion returns a region by its code; field names the request field
// for errors.
func GetRegion(field, s string) (RegionDetail, error) {
	r, err := refdata.NormalizeRegion(s)
	if err != nil {
		in := strings.TrimSpace(s)
		// Well-formed but unknown codes do not exist; anything else is a
		// mistake in the request.
		if isDigits(in) && len(in) == 8 || len(in) >= 2 && len(in) <= 5 && isAlnum(strings.ToUpper(in)) && !isDigits(in[:2]) {
			return RegionDetail{}, errdefs.NotFound("region %q does not exist", strings.ToUpper(in))
		}
		return RegionDetail{}, errdefs.Invalid(field, "%s", err.Error())
	}
	d := RegionDetail{Region: r}
	if r.NUTS1 != "" {
		if l, ok := refdata.LookupRegion(r.NUTS1); ok {
			d.LandName = l.Name
		}
	}
	if r.Kind == refdata.Municipality {
		d.Stats, _ = refdata.LookupMunicipalityStats(r.Code)
	}
	return d, nil
}
