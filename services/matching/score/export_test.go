package score

import (
	"cmp"
	"slices"
	"strings"
)

// RankExhaustive is Rank as it was before the fast path: every candidate
// explained, all of them sorted. Tests hold Rank to it.
func (x *Index) RankExhaustive(need Need, k int, f Filters) ([]Result, error) {
	if k <= 0 {
		return nil, nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	q, ok, err := x.prepare(need, f)
	if err != nil || !ok {
		return nil, err
	}
	cand := make(map[int32]bool)
	for _, qt := range q.qterms {
		for _, p := range x.postings[qt.id] {
			cand[p.doc] = true
		}
	}
	for _, c := range q.needAll {
		for _, p := range [][]int32{x.cpvPost[c.prefix[:2]], x.infPost[c.prefix[:2]]} {
			for _, d := range p {
				cand[d] = true
			}
		}
	}
	var results []Result
	for di := range cand {
		if !passes(x.docs[di], q.filterRegions, q.filterCerts) {
			continue
		}
		if r, ok := x.explain(q, di); ok {
			results = append(results, r)
		}
	}
	slices.SortFunc(results, func(a, b Result) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.VendorID, b.VendorID)
	})
	if len(results) > k {
		results = results[:k]
	}
	return results, nil
}
