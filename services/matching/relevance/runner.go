package relevance

import (
	"context"
	"fmt"
)

// Ranker ranks the vendors it was built with for a need.
type Ranker interface {
	// Rank returns the ids of at most k vendors for need, best first.
	Rank(ctx context.Context, need Need, k int) ([]string, error)
}

// RankerFunc lets an ordinary function be a Ranker.
type RankerFunc func(ctx context.Context, need Need, k int) ([]string, error)

// Rank calls f.
func (f RankerFunc) Rank(ctx context.Context, need Need, k int) ([]string, error) {
	return f(ctx, need, k)
}

// Figures are a ranker's averages over the judged needs of a set.
type Figures struct {
	// Needs is how many needs were scored: those with a right vendor.
	Needs int `json:"needs"`
	// Unjudged counts needs without any right vendor, which were left out
	// because no ranking of them could be right or wrong.
	Unjudged int     `json:"unjudged,omitempty"`
	MRR      float64 `json:"mrr"`
	Recall10 float64 `json:"recall@10"`
	NDCG10   float64 `json:"ndcg@10"`
	// PerNeed holds each scored need's figures by need id, for error
	// analysis.
	PerNeed map[string]Scores `json:"-"`
}

// Evaluate asks r for the top Depth vendors of every need of set, one need
// at a time, and averages the figures of the needs that have a right vendor.
func Evaluate(ctx context.Context, set *Set, r Ranker) (Figures, error) {
	f := Figures{PerNeed: make(map[string]Scores, len(set.Needs))}
	var sum Scores
	for _, need := range set.Needs {
		right := set.Right[need.ID]
		if len(right) == 0 {
			f.Unjudged++
			continue
		}
		ranking, err := r.Rank(ctx, need, Depth)
		if err != nil {
			return Figures{}, fmt.Errorf("relevance: rank need %s of %s: %w", need.ID, set.Name, err)
		}
		s := Score(ranking, right)
		f.PerNeed[need.ID] = s
		sum.RR += s.RR
		sum.Hit += s.Hit
		sum.NDCG += s.NDCG
		f.Needs++
	}
	if f.Needs > 0 {
		n := float64(f.Needs)
		f.MRR, f.Recall10, f.NDCG10 = sum.RR/n, sum.Hit/n, sum.NDCG/n
	}
	return f, nil
}
