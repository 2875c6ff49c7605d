package relevance

import (
	"fmt"
	"testing"
)

// TestHalves checks that the split is deterministic, disjoint, complete
// and about even, so that tuning on one half and reporting the other is
// sound.
func TestHalves(t *testing.T) {
	t.Parallel()
	s := &Set{}
	for i := range 1000 {
		s.Needs = append(s.Needs, Need{ID: fmt.Sprintf("need-%04d", i)})
	}
	tune, test := s.Restrict(HalfTune), s.Restrict(HalfTest)
	if len(tune.Needs)+len(test.Needs) != len(s.Needs) {
		t.Fatalf("halves hold %d + %d needs, the set %d", len(tune.Needs), len(test.Needs), len(s.Needs))
	}
	if len(tune.Needs) < 400 || len(test.Needs) < 400 {
		t.Errorf("uneven split: %d / %d", len(tune.Needs), len(test.Needs))
	}
	inTune := map[string]bool{}
	for _, n := range tune.Needs {
		inTune[n.ID] = true
		if HalfOf(n.ID) != HalfTune {
			t.Errorf("%s in the tune half, HalfOf says %s", n.ID, HalfOf(n.ID))
		}
	}
	for _, n := range test.Needs {
		if inTune[n.ID] {
			t.Errorf("%s in both halves", n.ID)
		}
	}
	if s.Restrict(HalfAll) != s {
		t.Error("HalfAll should be the set itself")
	}
	// The split must not move between runs or builds: a need that moved
	// from the test half to the tune half would quietly be tuned on.
	for id, want := range map[string]Half{
		"cfn0107f4e440e7": HalfTest, "cfn0a2e4db1b478": HalfTune,
		"mdn0079b2a414c4": HalfTest, "mdn0106bb434b5b": HalfTest,
	} {
		if got := HalfOf(id); got != want {
			t.Errorf("HalfOf(%q) = %s, want %s", id, got, want)
		}
	}
}
