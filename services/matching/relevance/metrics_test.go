package relevance_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/govmatch/govmatch/services/matching/relevance"
)

// approx compares figures computed with floating point to hand-computed
// ones.
var approx = cmpopts.EquateApprox(0, 1e-12)

func rightOf(ids ...string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}

// filler returns n distinct wrong vendor ids.
func filler(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("wrong%03d", i)
	}
	return ids
}

func TestScore(t *testing.T) {
	t.Parallel()

	// Discounts by rank: 1/log2(2) = 1, 1/log2(3) = 0.6309297535714575,
	// 1/log2(4) = 0.5, 1/log2(5) = 0.43067655807339306.
	tests := []struct {
		name    string
		ranking []string
		right   map[string]bool
		want    relevance.Scores
	}{
		{
			name:    "right vendor first",
			ranking: []string{"a", "x", "y"},
			right:   rightOf("a"),
			want:    relevance.Scores{RR: 1, Hit: 1, NDCG: 1},
		},
		{
			name:    "right vendor third",
			ranking: []string{"x", "y", "a"},
			right:   rightOf("a"),
			want:    relevance.Scores{RR: 1.0 / 3, Hit: 1, NDCG: 0.5},
		},
		{
			name:    "right vendor tenth is still in the top 10",
			ranking: append(filler(9), "a"),
			right:   rightOf("a"),
			want:    relevance.Scores{RR: 0.1, Hit: 1, NDCG: 0.2890648263178879}, // 1/log2(11)
		},
		{
			name:    "right vendor eleventh counts for MRR only",
			ranking: append(filler(10), "a"),
			right:   rightOf("a"),
			want:    relevance.Scores{RR: 1.0 / 11},
		},
		{
			name:    "right vendor 100th is the last that counts",
			ranking: append(filler(99), "a"),
			right:   rightOf("a"),
			want:    relevance.Scores{RR: 0.01},
		},
		{
			name:    "right vendor 101st does not count",
			ranking: append(filler(100), "a"),
			right:   rightOf("a"),
			want:    relevance.Scores{},
		},
		{
			name:    "no right vendor ranked",
			ranking: []string{"x", "y"},
			right:   rightOf("a"),
			want:    relevance.Scores{},
		},
		{
			name:    "empty ranking",
			ranking: nil,
			right:   rightOf("a"),
			want:    relevance.Scores{},
		},
		{
			name:    "two right vendors at ranks 2 and 4",
			ranking: []string{"x", "a", "y", "b"},
			right:   rightOf("a", "b"),
			// (0.6309 + 0.4307) / (1 + 0.6309)
			want: relevance.Scores{RR: 0.5, Hit: 1, NDCG: 0.6509209298071326},
		},
		{
			name:    "one of three right vendors found",
			ranking: []string{"x", "y", "a"},
			right:   rightOf("a", "b", "c"),
			// 0.5 / (1 + 0.6309 + 0.5)
			want: relevance.Scores{RR: 1.0 / 3, Hit: 1, NDCG: 0.23463936301137822},
		},
		{
			name:    "duplicate right vendor gains once and keeps its slot",
			ranking: []string{"a", "a", "b"},
			right:   rightOf("a", "b"),
			// (1 + 0.5) / (1 + 0.6309): the second "a" gains nothing and b
			// stays at rank 3.
			want: relevance.Scores{RR: 1, Hit: 1, NDCG: 0.9197207891481876},
		},
		{
			name:    "duplicate wrong vendors still push the right one down",
			ranking: []string{"x", "x", "a"},
			right:   rightOf("a"),
			want:    relevance.Scores{RR: 1.0 / 3, Hit: 1, NDCG: 0.5},
		},
		{
			name:    "empty and unknown ids are wrong",
			ranking: []string{"", "no-such-vendor", "a"},
			right:   rightOf("a"),
			want:    relevance.Scores{RR: 1.0 / 3, Hit: 1, NDCG: 0.5},
		},
		{
			name:    "ideal DCG stops at 10 right vendors",
			ranking: []string{"r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09", "r10"},
			right:   rightOf("r01", "r02", "r03", "r04", "r05", "r06", "r07", "r08", "r09", "r10", "r11", "r12"),
			want:    relevance.Scores{RR: 1, Hit: 1, NDCG: 1},
		},
		{
			name:    "need without right vendors scores 0",
			ranking: []string{"a"},
			right:   nil,
			want:    relevance.Scores{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := relevance.Score(tt.ranking, tt.right)
			if diff := cmp.Diff(tt.want, got, approx); diff != "" {
				t.Errorf("Score(%q) mismatch (-want +got):\n%s", tt.ranking, diff)
			}
		})
	}
}
