package score

import (
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/govmatch/govmatch/pkg/refdata"
)

// Level names of CPV matches, as Explanation shows them.
const (
	LevelExact    = "exact"
	LevelCategory = "category"
	LevelClass    = "class"
	LevelGroup    = "group"
	LevelDivision = "division"
)

var levelNames = [5]string{LevelExact, LevelCategory, LevelClass, LevelGroup, LevelDivision}

// cpvLevel returns the index into Weights.Levels of the deepest level that a
// need's code and a vendor's code share, and false when they share not even
// the division. Codes are significant prefixes (refdata.CPVPrefix). A vendor
// code equal to or inside a need's code of category level or below is
// exact. Inside a broader need code it is graded at that code's level:
// "72000000" finds "72212000", but all they share is the division: a need
// that names only "IT services" says nothing that tells one IT vendor from
// another. Graded exact, it gave every vendor in the division full points
// and a vendor outside it a gap its words could hardly close.
func cpvLevel(need, vendor string) (int, bool) {
	n := 0
	for n < len(need) && n < len(vendor) && need[n] == vendor[n] {
		n++
	}
	return sharedLevel(n, len(need))
}

// sharedLevel is cpvLevel of codes that share their first n characters,
// the need's code being needLen long.
func sharedLevel(n, needLen int) (int, bool) {
	switch {
	case n < 2:
		return 0, false
	case n == needLen && n >= 5:
		return 0, true
	case n >= 5:
		return 1, true
	case n == 4:
		return 2, true
	case n == 3:
		return 3, true
	}
	return 4, true
}

// weightedCode is a CPV code (as significant prefix) with a confidence in
// (0, 1]: 1 for codes stated; for codes inferred from text, their label
// match relative to the best inferred code's (cpvLabels.infer). Whether a
// code was stated or inferred is told by the list it is in, not by conf.
type weightedCode struct {
	prefix string
	conf   float64
}

// cpvLabels is an inverted index of the CPV labels' stems in one language,
// used to infer codes from text.
type cpvLabels struct {
	codes    []string // significant prefixes, by position
	lens     []int    // distinct stems per label
	postings map[string][]int32
	idf      map[string]float64
}

// cpvLabel is c's official label in lang.
func cpvLabel(c refdata.CPVCode, lang Language) string {
	if lang == German {
		return c.NameDE
	}
	return c.NameEN
}

var labelIndex = sync.OnceValue(func() map[Language]*cpvLabels {
	a := newAnalyzer()
	out := make(map[Language]*cpvLabels, 2)
	for _, lang := range []Language{German, English} {
		l := &cpvLabels{postings: make(map[string][]int32)}
		for _, c := range refdata.CPVCodes() {
			seen := make(map[string]bool)
			for _, t := range a.analyze(cpvLabel(c, lang), lang, nil) {
				seen[t.stem] = true
			}
			i := int32(len(l.codes))
			l.codes = append(l.codes, refdata.CPVPrefix(c.Code))
			l.lens = append(l.lens, len(seen))
			for _, s := range slices.Sorted(maps.Keys(seen)) {
				l.postings[s] = append(l.postings[s], i)
			}
		}
		l.idf = make(map[string]float64, len(l.postings))
		n := float64(len(l.codes))
		for s, p := range l.postings {
			l.idf[s] = math.Log(1 + (n-float64(len(p))+0.5)/(float64(len(p))+0.5))
		}
		out[lang] = l
	}
	return out
})

// infer returns the CPV codes whose labels best cover the stems: each code
// scores the idf of the distinct stems it shares with the text, divided by
// the square root of its label's length (a label that is all matched beats
// a long one matched in one generic word). At most w.BridgeCodes codes are
// kept, those within w.BridgeMinShare of the best, with the share as
// confidence. Ties go to the lower code, so the result is deterministic.
func (l *cpvLabels) infer(stems map[string]float64, w *Weights) []weightedCode {
	if w.BridgeCodes <= 0 || len(stems) == 0 {
		return nil
	}
	acc := make(map[int32]float64)
	for _, s := range slices.Sorted(maps.Keys(stems)) {
		for _, i := range l.postings[s] {
			acc[i] += l.idf[s]
		}
	}
	// The best w.BridgeCodes by score, then code: a partial selection, as
	// sorting every label that shares a stem costs more than the rest.
	type cand struct {
		i int32
		s float64
	}
	better := func(a, b cand) bool {
		if a.s != b.s {
			return a.s > b.s
		}
		return l.codes[a.i] < l.codes[b.i]
	}
	cands := make([]cand, 0, w.BridgeCodes+1)
	for i, s := range acc {
		c := cand{i, s / math.Sqrt(float64(l.lens[i]))}
		if len(cands) == w.BridgeCodes && !better(c, cands[len(cands)-1]) {
			continue
		}
		at := len(cands)
		for at > 0 && better(c, cands[at-1]) {
			at--
		}
		cands = slices.Insert(cands, at, c)
		if len(cands) > w.BridgeCodes {
			cands = cands[:w.BridgeCodes]
		}
	}
	var out []weightedCode
	for _, c := range cands {
		if len(out) == w.BridgeCodes || c.s < w.BridgeMinShare*cands[0].s {
			break
		}
		out = append(out, weightedCode{prefix: l.codes[c.i], conf: c.s / cands[0].s})
	}
	return out
}

// cpvMatch is the best match of one need code among a vendor's codes.
type cpvMatch struct {
	need, vendor weightedCode
	level        int
	value        float64 // need conf × vendor conf × level credit
	// inferred is true when either code was inferred from text.
	inferred bool
}

// A pairKind decides which pairs of a need code and a vendor code count,
// given whether each was inferred from text.
type pairKind func(needInferred, vendorInferred bool) bool

// statedPair keeps the pairs of two stated codes: the cpv component.
func statedPair(n, v bool) bool { return !n && !v }

// bridgePair keeps the pairs where exactly one side was inferred: a need
// written in words meeting a vendor described in codes, and back. A pair
// of two inferred codes would be the two texts meeting through the CPV
// labels, which the text component already measures on the words
// themselves; counted again it only adds the noise of two guesses.
func bridgePair(n, v bool) bool { return n != v }

// matchCodes finds, for every need code, the vendor code that gives it the
// most credit. It returns the matches (one per need code that found one)
// and the value in [0, 1]: the confidence-weighted mean of the credits over
// all need codes, so a vendor covering every need code scores 1. Adding a
// vendor code can only raise a maximum, so it never lowers the value. The
// first needStated of need and vendorStated of vendor were stated, the
// rest inferred; keep decides which pairs count (the cpv component takes
// stated pairs, the bridge those with one inferred side).
func matchCodes(dst []cpvMatch, need []weightedCode, needStated int, vendor []weightedCode, vendorStated int, levels *[5]float64, keep pairKind) ([]cpvMatch, float64) {
	var total, sum float64
	out := dst
	for ni, n := range need {
		total += n.conf
		var best cpvMatch
		for vi, v := range vendor {
			nInf, vInf := ni >= needStated, vi >= vendorStated
			if !keep(nInf, vInf) {
				continue
			}
			lvl, ok := cpvLevel(n.prefix, v.prefix)
			if !ok {
				continue
			}
			val := n.conf * v.conf * levels[lvl]
			if val > best.value || (val == best.value && best.value > 0 && v.prefix < best.vendor.prefix) {
				best = cpvMatch{need: n, vendor: v, level: lvl, value: val, inferred: nInf || vInf}
			}
		}
		if best.value > 0 {
			out = append(out, best)
			sum += best.value
		}
	}
	if total == 0 {
		return out[:0], 0
	}
	return out, sum / total
}
