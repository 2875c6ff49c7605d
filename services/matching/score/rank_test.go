package score_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/services/matching/corpus"
	"github.com/govmatch/govmatch/services/matching/score"
)

// Rank's fast path (scores without explanations, a top-k heap, pooled
// scratch, cached query analyses) gives exactly the ranking of explaining
// and sorting every candidate, on a corpus of real vocabulary, with and
// without filters, after removals and re-adds, and for repeated queries.
func TestRankMatchesExhaustive(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := corpus.FindDataDir(wd)
	if dir == "" {
		t.Skip("no shared/data")
	}
	src, err := corpus.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := corpus.New(src, 7)
	vendors := g.Vendors(600)
	needs := g.Needs(30)
	x := score.NewIndex(score.DefaultWeights)
	for _, v := range vendors {
		if err := x.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	// Removals free numbers that re-adds reuse, out of posting order.
	for i := 0; i < len(vendors); i += 7 {
		x.Remove(vendors[i].ID)
	}
	for i := 0; i < len(vendors); i += 14 {
		if err := x.Add(vendors[i]); err != nil {
			t.Fatal(err)
		}
	}
	filters := []score.Filters{
		{},
		{Regions: []string{"DE2"}},
		{Certifications: []string{"ISO 27001"}},
	}
	for round := range 2 { // the second round meets the cached analyses
		for i, n := range needs {
			for _, k := range []int{1, 10, 100, 2000} {
				f := filters[i%len(filters)]
				want, err := x.RankExhaustive(n, k, f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := x.Rank(n, k, f)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("round %d need %d k %d: Rank differs from exhaustive ranking (-want +got):\n%s", round, i, k, diff)
				}
			}
		}
	}
}
