package refsearch

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/govmatch/govmatch/pkg/refdata"
)

// refSearchCPVWords is searchWords as it was before the one-letter lists
// (cpvIndex.byLetter): rank every candidate, then sort them all.
func refSearchCPVWords(x *cpvIndex, qs []string) []int32 {
	var ranks []uint64
	for _, i := range x.words.candidates(len(x.codes), qs) {
		e := &x.entries[i]
		best := uint64(math.MaxUint64)
		for _, l := range e.labels {
			if pos, pre, ok := l.match(qs); ok {
				best = min(best, cpvRank(pos, pre, e.level, len(l.translit), i))
			}
		}
		if best != math.MaxUint64 {
			ranks = append(ranks, best)
		}
	}
	slices.Sort(ranks)
	out := make([]int32, len(ranks))
	for k, r := range ranks {
		out[k] = int32(uint32(r))
	}
	return out
}

// refSearchRegions is regionIndex.search as it was before it walked
// x.defaults: find the tiers, then sort the matches by tier and
// compareEqual.
func refSearchRegions(x *regionIndex, q regionQuery, kind refdata.RegionKind) []int32 {
	keep := func(i int32) bool { return kind == 0 || x.regions[i].Kind == kind }
	if q.code == "" && len(q.words) == 0 {
		return x.search(q, kind) // unchanged
	}
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
	var out []int32
	for i, t := range tier {
		if t != 0 {
			out = append(out, int32(i))
		}
	}
	slices.SortFunc(out, func(a, b int32) int {
		return cmp.Or(cmp.Compare(tier[a], tier[b]), x.compareEqual(a, b))
	})
	return out
}

// sampleQueries returns queries for an index with vocabulary vocab: every
// first letter and every third two-letter prefix of its words, some whole
// words and pairs of words, letters and digits that begin no word, and the
// benchmark's queries.
func sampleQueries(vocab []string, extra ...string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(q string) {
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	for _, q := range extra {
		add(q)
	}
	for _, q := range []string{"a", "Ä", "ä", "ß", "é", "ж", "x", "q", "0", "1", "7", "9", "a b", "s s", "b ä"} {
		add(q)
	}
	var twos []string
	for k, w := range vocab {
		_, n := utf8.DecodeRuneInString(w)
		add(w[:n])
		if rest := w[n:]; rest != "" {
			_, m := utf8.DecodeRuneInString(rest)
			twos = append(twos, w[:n+m])
		}
		if k%97 == 0 {
			add(w)
			add(w[:n] + " " + vocab[(k*31+7)%len(vocab)])
		}
	}
	slices.Sort(twos)
	twos = slices.Compact(twos)
	for k, q := range twos {
		if k%3 == 0 {
			add(q)
		}
	}
	return out
}

// TestSearchUnchanged checks that the cheap paths for short queries (the
// one-letter lists of cpvIndex, the tier pass of regionIndex.search)
// return exactly the results, in exactly the order, of ranking and sorting
// every match.
func TestSearchUnchanged(t *testing.T) {
	t.Parallel()
	t.Run("cpv", func(t *testing.T) {
		t.Parallel()
		x := loadCPVIndex()
		for _, s := range sampleQueries(x.words.vocab, "Software", "Programmierung Anwendersoftware", "application software programming", "s") {
			q, err := parseCPVQuery(s)
			if err != nil {
				t.Fatalf("parseCPVQuery(%q): %v", s, err)
			}
			if len(q.words) == 0 {
				continue // codes take another path, unchanged
			}
			if got, want := x.search(q), refSearchCPVWords(x, q.words); !slices.Equal(got, want) {
				t.Errorf("query %q: %s", s, diffPositions(want, got))
			}
		}
		if n := len(x.byLetter); n < 26 {
			t.Errorf("one-letter lists for %d letters, want at least 26", n)
		}
	})
	for _, kind := range []refdata.RegionKind{0, refdata.Land, refdata.NUTS2, refdata.NUTS3, refdata.Municipality} {
		name := "any"
		if kind != 0 {
			name = kind.String()
		}
		t.Run("regions/"+name, func(t *testing.T) {
			t.Parallel()
			x := loadRegionIndex()
			for _, s := range sampleQueries(x.words.vocab, "Muenchen", "Gießen", "frankfurt am", "b", "06", "DE7", "de", "DEA2", "0653") {
				q, err := parseRegionQuery(s)
				if err != nil {
					t.Fatalf("parseRegionQuery(%q): %v", s, err)
				}
				if got, want := x.search(q, kind), refSearchRegions(x, q, kind); !slices.Equal(got, want) {
					t.Errorf("query %q: %s", s, diffPositions(want, got))
				}
			}
		})
	}
}

// diffPositions describes where two rankings part.
func diffPositions(want, got []int32) string {
	for k := range min(len(want), len(got)) {
		if want[k] != got[k] {
			return fmt.Sprintf("%d and %d results, first difference at %d: got %d, want %d", len(got), len(want), k, got[k], want[k])
		}
	}
	return fmt.Sprintf("got %d results, want %d", len(got), len(want))
}
