package relevance

import "hash/fnv"

// Half names one of the two deterministic halves of a set's needs: tune on
// one, report the other, so a choice made by looking at the figures is
// judged on needs it was not chosen on.
type Half string

// The halves; HalfAll is every need.
const (
	HalfAll  Half = ""
	HalfTune Half = "tune"
	HalfTest Half = "test"
)

// HalfOf returns the half a need id falls in: by the parity of the FNV-1a
// hash of the id, which depends on nothing but the id, so the split is the
// same on every run and for any set of the same needs.
func HalfOf(needID string) Half {
	h := fnv.New32a()
	h.Write([]byte(needID))
	if h.Sum32()%2 == 0 {
		return HalfTune
	}
	return HalfTest
}

// Restrict returns a copy of s whose needs are those of half h, or s
// itself for HalfAll. Vendors and judgements are shared with s.
func (s *Set) Restrict(h Half) *Set {
	if h == HalfAll {
		return s
	}
	out := *s
	out.Needs = nil
	for _, n := range s.Needs {
		if HalfOf(n.ID) == h {
			out.Needs = append(out.Needs, n)
		}
	}
	return &out
}
