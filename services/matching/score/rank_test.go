package score_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/govmatch/govmatch/services/matching/corpus"
	"github.com/govmatch/govmatch/services/matching/score"
)

// Rank's fast path (scores without explanations, a top-k heap, pooled
// scratch, cached query analyses) gives exactly the ranking of explaining
// and sorting every candidate, on a corpus of real vocabulary, with and
// without filters, after removals and re-adds, and for repeated queries.
func TestRankMatchesExhaustive(t *testing.T) {
	t.Parallel()
	g := generator(t, 7)
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

// The bounds Rank prunes with hold at the edges: needs with only some
// components (no text, only CPV codes, only a region, requirements
// without codes), exact ties at the cut-off, k beyond the candidates, both
// filters at once, vendors re-added with other content under their id,
// and weights whose level credits do not fall with the level.
func TestRankMatchesExhaustiveEdgeCases(t *testing.T) {
	t.Parallel()
	g := generator(t, 11)
	vendors := g.Vendors(400)
	needs := g.Needs(12)

	odd := score.DefaultWeights
	odd.Version = "odd-levels"
	odd.Levels = [5]float64{0.3, 0.1, 1, 0.2, 0.7}
	for _, w := range []score.Weights{score.DefaultWeights, odd} {
		x := score.NewIndex(w)
		for _, v := range vendors {
			if err := x.Add(v); err != nil {
				t.Fatal(err)
			}
		}
		// Twins score exactly alike, so cut-offs fall inside ties.
		for i := range 60 {
			v := vendors[i]
			v.ID = "twin-" + v.ID
			if err := x.Add(v); err != nil {
				t.Fatal(err)
			}
		}
		// Re-adds under the same id with another vendor's content move
		// the vendor between every posting.
		for i := 0; i < len(vendors); i += 9 {
			v := vendors[(i+5)%len(vendors)]
			v.ID = vendors[i].ID
			if err := x.Add(v); err != nil {
				t.Fatal(err)
			}
		}
		for i := 3; i < len(vendors); i += 11 {
			x.Remove(vendors[i].ID)
		}

		var cases []score.Need
		for i, n := range needs {
			v := vendors[i*7]
			full := n
			full.CPVCodes = append(slices.Clone(n.CPVCodes), v.CPVCodes[0])
			full.Capabilities = append(slices.Clone(n.Capabilities), v.Capabilities...)
			full.Certifications = append(slices.Clone(v.Certifications), corpus.Certifications[i%len(corpus.Certifications)])
			full.Region = "DE2"
			full.ProductFacts = map[string]string{"licence": "MIT", "Hosting ": " eu"}
			cases = append(cases,
				n,
				full,
				score.Need{CPVCodes: v.CPVCodes}, // only CPV
				// No candidates: Rank answers an empty slice where
				// RankExhaustive answers nil, as before the bounds.
				score.Need{Region: "DE21", Certifications: v.Certifications},
				score.Need{Title: n.Title, Region: "DE1"},
				score.Need{Title: n.Title, Capabilities: v.Capabilities, ProductFacts: map[string]string{"hosting": "DE"}},
			)
		}
		filters := []score.Filters{
			{},
			{Regions: []string{"DE2", "DE7"}, Certifications: []string{"ISO 9001"}},
			{Regions: []string{"DE"}},
		}
		for i, n := range cases {
			for _, k := range []int{1, 17, 2000} {
				f := filters[(i+k)%len(filters)]
				want, err := x.RankExhaustive(n, k, f)
				if err != nil {
					t.Fatal(err)
				}
				got, err := x.Rank(n, k, f)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("weights %s case %d k %d: Rank differs from exhaustive ranking (-want +got):\n%s", w.Version, i, k, diff)
				}
			}
		}
	}
}

// A ranking after changes to the index is that of an index built afresh
// with the same vendors: what Rank derives from the whole index (average
// lengths, length normalisers) follows every change.
func TestRankAfterChanges(t *testing.T) {
	t.Parallel()
	g := generator(t, 11)
	vendors := g.Vendors(300)
	needs := g.Needs(10)
	changed := score.NewIndex(score.DefaultWeights)
	rankAll := func(x *score.Index) [][]score.Result {
		t.Helper()
		var out [][]score.Result
		for _, n := range needs {
			r, err := x.Rank(n, 20, score.Filters{})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	add := func(x *score.Index, vs []score.Vendor) {
		t.Helper()
		for _, v := range vs {
			if err := x.Add(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(changed, vendors[:200])
	before := rankAll(changed)
	add(changed, vendors[200:])
	for i := 0; i < len(vendors); i += 10 {
		changed.Remove(vendors[i].ID)
	}
	after := rankAll(changed)

	fresh := score.NewIndex(score.DefaultWeights)
	for i := len(vendors) - 1; i >= 0; i-- { // another order
		if i%10 != 0 {
			add(fresh, vendors[i:i+1])
		}
	}
	want := rankAll(fresh)
	if diff := cmp.Diff(want, after, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("after changes (-fresh index +changed index):\n%s", diff)
	}
	summary := func(rs [][]score.Result) []string {
		var out []string
		for _, r := range rs {
			for _, res := range r {
				out = append(out, fmt.Sprintf("%s %.9f", res.VendorID, res.Score))
			}
		}
		return out
	}
	if slices.Equal(summary(before), summary(after)) {
		t.Error("the changes changed no ranking: the test proves nothing")
	}
}

// generator returns a generator of corpora drawn with seed from the shared
// data, and skips tb when the data is not there.
func generator(tb testing.TB, seed uint64) *corpus.Generator {
	tb.Helper()
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	dir := corpus.FindDataDir(wd)
	if dir == "" {
		tb.Skip("no shared/data")
	}
	src, err := corpus.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return corpus.New(src, seed)
}
