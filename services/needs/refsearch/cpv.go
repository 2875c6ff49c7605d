package refsearch

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/refdata"
)

// CPVListRequest is what a caller asks of ListCpvCodes.
type CPVListRequest struct {
	Query     string
	PageSize  int
	PageToken string
}

// CPVDetail is a code with its place in the tree.
type CPVDetail struct {
	refdata.CPVCode
	Level refdata.CPVLevel
	// Parents runs from the nearest listed ancestor up to the division.
	Parents []refdata.CPVCode
	// Children are the codes directly below, in code order.
	Children []refdata.CPVCode
}

// cpvEntry is a code prepared for search.
type cpvEntry struct {
	labels [2]label // German, English
	level  refdata.CPVLevel
}

type cpvIndex struct {
	codes   []refdata.CPVCode // refdata.CPVCodes(), sorted by code
	entries []cpvEntry
	words   invertedIndex
	// byLetter is the result of every query of one single-letter word
	// that finds anything, keyed by the word. Such a query (the first
	// letter typed) matches most codes, and ranking them all on each
	// request took milliseconds, against microseconds for anything else.
	byLetter map[string][]int32
}

// loadCPVIndex builds the index on first use, so that a process that never
// searches pays nothing.
var loadCPVIndex = onceCPV()

func onceCPV() func() *cpvIndex { return sync.OnceValue(buildCPVIndex) }

func buildCPVIndex() *cpvIndex {
	codes := refdata.CPVCodes()
	x := &cpvIndex{codes: codes, entries: make([]cpvEntry, len(codes))}
	for i, c := range codes {
		x.entries[i] = cpvEntry{
			labels: [2]label{newLabel(c.NameDE), newLabel(c.NameEN)},
			level:  refdata.LevelOfCPV(c.Code),
		}
	}
	x.words = buildIndex(len(codes), func(i int) []label { return x.entries[i].labels[:] })
	x.byLetter = x.rankLetters()
	return x
}

// rankLetters ranks, in one pass over the labels, the codes that every
// one-letter word matches: exactly what searchWords would return for that
// word alone, since a label matches a one-letter word if and only if one
// of its words (in either form) starts with that letter.
func (x *cpvIndex) rankLetters() map[string][]int32 {
	ranks := map[string][]uint64{}
	best := map[string]uint64{} // of the current code, by letter
	for i := range x.entries {
		e := &x.entries[i]
		clear(best)
		for _, l := range e.labels {
			for _, forms := range [][]string{l.translit, l.stripped} {
				for _, w := range forms {
					_, n := utf8.DecodeRuneInString(w) // words are never empty
					c := w[:n]
					pos, pre, ok := l.match([]string{c})
					if !ok {
						continue // cannot happen: w starts with c
					}
					r := cpvRank(pos, pre, e.level, len(l.translit), int32(i))
					if b, seen := best[c]; !seen || r < b {
						best[c] = r
					}
				}
			}
		}
		for c, r := range best {
			ranks[c] = append(ranks[c], r)
		}
	}
	out := make(map[string][]int32, len(ranks))
	for c, rs := range ranks {
		out[c] = sortedPositions(rs)
	}
	return out
}

// sortedPositions sorts cpvRank values and returns the code positions in
// them, best first.
func sortedPositions(ranks []uint64) []int32 {
	slices.Sort(ranks)
	out := make([]int32, len(ranks))
	for k, r := range ranks {
		out[k] = int32(uint32(r))
	}
	return out
}

// cpvQuery is a parsed query: a code prefix, words, or neither (all).
type cpvQuery struct {
	exact  string   // the code the query names, listed first if it exists
	prefix string   // significant digits: codes starting with them follow
	words  []string // folded words, when the query is not a code
}

// key is the normalised query for page-token fingerprints.
func (q cpvQuery) key() string {
	return "cpv\x00" + q.exact + "\x00" + q.prefix + "\x00" + strings.Join(q.words, " ")
}

// parseCPVQuery tells codes from words. A query of 1 to 8 digits is a code
// or code prefix, optionally with a check digit after a dash when it is a
// full code; anything else is words.
func parseCPVQuery(s string) (cpvQuery, error) {
	in := strings.TrimSpace(s)
	code, check, hasCheck := strings.Cut(in, "-")
	if code != "" && len(code) <= 8 && isDigits(code) {
		if hasCheck {
			if len(code) != 8 || len(check) != 1 || !isDigits(check) {
				return cpvQuery{}, errdefs.Invalid("query", `malformed CPV code %q: a check digit follows the full 8-digit code, as in "72212000-4"`, truncate(in))
			}
			if c, ok := refdata.LookupCPV(code); ok && c.CheckDigit != check {
				return cpvQuery{}, errdefs.Invalid("query", "CPV check digit of %s is %s, not %s", code, c.CheckDigit, check)
			}
		}
		q := cpvQuery{exact: code, prefix: strings.TrimRight(code, "0")}
		if len(code) >= 2 {
			q.exact = code + strings.Repeat("0", 8-len(code))
		}
		if n := min(len(code), 2); len(q.prefix) < n {
			q.prefix = code[:n]
		}
		return q, nil
	}
	w := queryWords(in)
	if len(w) > MaxQueryWords {
		return cpvQuery{}, errdefs.Invalid("query", "must have at most %d words, got %d", MaxQueryWords, len(w))
	}
	return cpvQuery{words: w}, nil
}

// ListCPV searches CPV codes. See ListCpvCodesRequest.query in the API for
// the ranking.
func ListCPV(r CPVListRequest) (Page[refdata.CPVCode], error) {
	var v errdefs.Violations
	size := checkCommon(&v, r.PageSize, r.Query)
	if err := v.Err(); err != nil {
		return Page[refdata.CPVCode]{}, err
	}
	q, err := parseCPVQuery(r.Query)
	if err != nil {
		return Page[refdata.CPVCode]{}, err
	}
	fp := fingerprint(q.key())
	offset, err := decodeOffset(r.PageToken, fp)
	if err != nil {
		return Page[refdata.CPVCode]{}, err
	}
	x := loadCPVIndex()
	ranked := x.search(q)
	return paginate(ranked, offset, size, fp, func(i int32) refdata.CPVCode { return x.codes[i] }), nil
}

// search returns the positions of the matching codes, best first. The
// caller must not modify them: they may be the index's own.
func (x *cpvIndex) search(q cpvQuery) []int32 {
	switch {
	case q.prefix != "":
		return x.searchCode(q)
	case len(q.words) > 0:
		return x.searchWords(q.words)
	}
	all := make([]int32, len(x.codes))
	for i := range all {
		all[i] = int32(i)
	}
	return all
}

func (x *cpvIndex) searchCode(q cpvQuery) []int32 {
	var out []int32
	exact, found := slices.BinarySearchFunc(x.codes, q.exact, func(c refdata.CPVCode, s string) int { return strings.Compare(c.Code, s) })
	if found {
		out = append(out, int32(exact))
	}
	// Codes are sorted, so the codes with a prefix are one run.
	lo, _ := slices.BinarySearchFunc(x.codes, q.prefix, func(c refdata.CPVCode, s string) int { return strings.Compare(c.Code, s) })
	for i := lo; i < len(x.codes) && strings.HasPrefix(x.codes[i].Code, q.prefix); i++ {
		if !found || i != exact {
			out = append(out, int32(i))
		}
	}
	return out
}

// cpvRank packs the ranking of a word match into one number, smaller is
// better, so that sorting thousands of hits (a one-letter query matches
// nearly every code) is a sort of integers. From the most significant bits:
// the sum of the positions of the matched label words, the number of query
// words matched only as a prefix, the level, the label's length in words,
// and last the position in code order, which breaks ties by code.
func cpvRank(posSum, prefixOnly int, level refdata.CPVLevel, length int, i int32) uint64 {
	clamp := func(v, bits int) uint64 { return uint64(min(v, 1<<bits-1)) }
	return clamp(posSum, 14)<<50 | clamp(prefixOnly, 4)<<46 | clamp(int(level), 4)<<42 |
		clamp(length, 10)<<32 | uint64(uint32(i))
}

func (x *cpvIndex) searchWords(qs []string) []int32 {
	if len(qs) == 1 && utf8.RuneCountInString(qs[0]) == 1 {
		return x.byLetter[qs[0]] // nil: no word starts with that letter
	}
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
	return sortedPositions(ranks)
}

// GetCPV returns a code with its parents and children. It accepts the
// code with or without check digit; field names the request field for
// errors.
func GetCPV(field, s string) (CPVDetail, error) {
	code, err := refdata.NormalizeCPV(s)
	if err != nil {
		bare, _, _ := strings.Cut(strings.TrimSpace(s), "-")
		if _, known := refdata.LookupCPV(bare); isDigits(bare) && len(bare) == 8 && !known {
			return CPVDetail{}, errdefs.NotFound("CPV code %q does not exist", bare)
		}
		return CPVDetail{}, errdefs.Invalid(field, "%s", err.Error())
	}
	c, _ := refdata.LookupCPV(code)
	d := CPVDetail{CPVCode: c, Level: refdata.LevelOfCPV(code)}
	for p, ok := refdata.CPVParent(code); ok; p, ok = refdata.CPVParent(p) {
		d.Parents = append(d.Parents, mustCPV(p))
	}
	for _, ch := range refdata.CPVChildren(code) {
		d.Children = append(d.Children, mustCPV(ch))
	}
	return d, nil
}

// mustCPV looks up a code that refdata itself returned.
func mustCPV(code string) refdata.CPVCode {
	c, ok := refdata.LookupCPV(code)
	if !ok {
		panic(errors.New("refsearch: refdata returned unknown CPV code " + code))
	}
	return c
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// truncate keeps error messages short when someone pastes a document.
func truncate(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return fmt.Sprintf("%s…", string(r[:n]))
}
