package baseline

import (
	"math"
	"testing"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	bleveindex "github.com/blevesearch/bleve_index_api"

	"github.com/govmatch/govmatch/services/matching/relevance"
)

// TestBM25Score recomputes the score of a one-word query by hand with
// Bleve's BM25 (k1 = 1.2, b = 0.75, tf = √freq; see the BM25 doc comment),
// which TF-IDF (tf·norm·(1 + ln(N/(df+1)))) would not give.
func TestBM25Score(t *testing.T) {
	t.Parallel()
	vendors := []relevance.Vendor{
		{ID: "a", Name: "apple", Description: "banana cherry"}, // appl banana cherri
		{ID: "b", Name: "apple", Description: "apple date"},    // appl appl date
		{ID: "c", Name: "elder", Description: "fig"},           // elder fig
	}
	r, err := NewBM25(relevance.English, vendors)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	res, err := r.index.Search(r.request("apples", 10, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 2 || res.Hits[0].ID != "b" || res.Hits[1].ID != "a" {
		t.Fatalf("hits = %v, want b then a", res.Hits)
	}

	const k1, b = 1.2, 0.75
	const docs, docFreq = 3.0, 2.0
	idf := math.Log(1 + (docs-docFreq+0.5)/(docFreq+0.5))
	avgLen := math.Ceil(6 / docs) // 6 distinct terms in the field
	bm25 := func(freq, length float64) float64 {
		tf := math.Sqrt(freq)
		return idf * tf * k1 / (tf + k1*(1-b+b*length/avgLen))
	}
	for i, want := range []float64{bm25(2, 3), bm25(1, 3)} {
		// Bleve keeps the field-length norm as a float32.
		if got := res.Hits[i].Score; math.Abs(got-want) > 1e-6 {
			t.Errorf("score of %s = %v, want %v", res.Hits[i].ID, got, want)
		}
	}
	if !scoredWith(res.Hits[0].Expl, bleveindex.BM25Scoring) {
		t.Errorf("explanation does not say bm25: %v", res.Hits[0].Expl)
	}
}

// TestScoredWithSeesTFIDFFallback shows the trap checkBM25 guards against:
// with the same mapping, Bleve's NewMemOnly index scores with TF-IDF.
func TestScoredWithSeesTFIDFFallback(t *testing.T) {
	t.Parallel()
	m := bm25Mapping(en.AnalyzerName)
	if m.ScoringModel != bleveindex.BM25Scoring {
		t.Fatalf("mapping scoring model = %q, want %q", m.ScoringModel, bleveindex.BM25Scoring)
	}
	idx, err := bleve.NewMemOnly(m)
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	if err := idx.Index("a", map[string]any{bm25Field: "apple banana"}); err != nil {
		t.Fatal(err)
	}
	r := &BM25{index: idx, analyzer: en.AnalyzerName}
	res, err := idx.Search(r.request("apple", 1, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 {
		t.Fatalf("hits = %v, want 1", res.Hits)
	}
	if scoredWith(res.Hits[0].Expl, bleveindex.BM25Scoring) {
		t.Error("scoredWith says bm25 for an upsidedown index")
	}
	if !scoredWith(res.Hits[0].Expl, bleveindex.TFIDFScoring) {
		t.Errorf("scoredWith does not see tfidf: %v", res.Hits[0].Expl)
	}
	if err := r.checkBM25(relevance.Vendor{ID: "a", Name: "apple"}); err == nil {
		t.Error("checkBM25 accepted an index that scores with TF-IDF")
	}
}
