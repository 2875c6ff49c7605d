package score

import (
	"container/heap"
	"slices"
)

// ranked is a candidate in the top-k selection.
type ranked struct {
	score float64
	id    string
	doc   int32
}

// before reports whether a ranks before b: higher score, then lower id.
func (a ranked) before(b ranked) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	return a.id < b.id
}

// topK keeps the k best candidates offered, in a heap with the worst on top,
// so a ranking sorts k results instead of every candidate.
type topK struct {
	k int
	h []ranked
}

func (t *topK) reset(k int) { t.k, t.h = k, t.h[:0] }

func (t *topK) Len() int           { return len(t.h) }
func (t *topK) Less(i, j int) bool { return t.h[j].before(t.h[i]) }
func (t *topK) Swap(i, j int)      { t.h[i], t.h[j] = t.h[j], t.h[i] }
func (t *topK) Push(x any)         { t.h = append(t.h, x.(ranked)) }
func (t *topK) Pop() any {
	r := t.h[len(t.h)-1]
	t.h = t.h[:len(t.h)-1]
	return r
}

// worst returns the k-th best score and true once k are kept.
func (t *topK) worst() (float64, bool) {
	if len(t.h) < t.k {
		return 0, false
	}
	return t.h[0].score, true
}

func (t *topK) offer(r ranked) {
	switch {
	case len(t.h) < t.k:
		heap.Push(t, r)
	case r.before(t.h[0]):
		t.h[0] = r
		heap.Fix(t, 0)
	}
}

// sorted returns the kept candidates best first, in a new slice.
func (t *topK) sorted() []ranked {
	out := slices.Clone(t.h)
	slices.SortFunc(out, func(a, b ranked) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})
	return out
}
