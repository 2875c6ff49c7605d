package relevance

import "math"

// Cut-offs of the protocol.
const (
	// Depth is how many ranked vendors count at all: MRR is taken over the
	// top Depth and rankers are asked for that many.
	Depth = 100
	// TopK is the cut-off of Recall@10 and nDCG@10.
	TopK = 10
)

// Scores are one need's figures.
type Scores struct {
	// RR is the reciprocal rank of the first right vendor in the top Depth,
	// 0 when there is none.
	RR float64
	// Hit is 1 when a right vendor is in the top TopK, else 0. Averaged over
	// needs it is the README's Recall@10 ("share of needs with a right vendor
	// in the top 10"), which is not the share of right vendors found.
	Hit float64
	// NDCG is nDCG@TopK with binary gains: DCG = Σ gain_i / log2(i+1) over
	// ranks i = 1..TopK, divided by the DCG of the ideal ranking, which puts
	// min(#right, TopK) right vendors first.
	NDCG float64
}

// Score computes a need's figures from the ranking a ranker returned and the
// vendors that are right for the need.
//
// Only the first Depth entries count. A vendor id that occurs again further
// down keeps its place but gains nothing there, so a ranker cannot earn
// credit twice for one vendor (nor for an empty or unknown id, which is
// never right). A need without right vendors scores 0; Evaluate leaves such
// needs out.
func Score(ranking []string, right map[string]bool) Scores {
	var s Scores
	if len(right) == 0 {
		return s
	}
	if len(ranking) > Depth {
		ranking = ranking[:Depth]
	}

	seen := make(map[string]bool, len(ranking))
	var dcg float64
	for i, id := range ranking {
		rank := i + 1
		gain := right[id] && !seen[id]
		seen[id] = true
		if !gain {
			continue
		}
		if s.RR == 0 {
			s.RR = 1 / float64(rank)
		}
		if rank <= TopK {
			s.Hit = 1
			dcg += discount(rank)
		}
	}

	var ideal float64
	for rank := 1; rank <= min(len(right), TopK); rank++ {
		ideal += discount(rank)
	}
	s.NDCG = dcg / ideal
	return s
}

// discount is the DCG weight of a right vendor at a 1-based rank.
func discount(rank int) float64 { return 1 / math.Log2(float64(rank)+1) }
