package corpus_test

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/refdata"
	"github.com/govmatch/govmatch/services/matching/corpus"
)

func sources(t *testing.T) *corpus.Sources {
	t.Helper()
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
	return src
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	src := sources(t)
	tests := []struct {
		name     string
		a, b     uint64
		wantSame bool
	}{
		{"same seed", 1, 1, true},
		{"other seed", 1, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ga, gb := corpus.New(src, tt.a), corpus.New(src, tt.b)
			va, vb := ga.Vendors(200), gb.Vendors(200)
			na, nb := ga.Needs(200), gb.Needs(200)
			same := cmp.Diff(va, vb) == "" && cmp.Diff(na, nb) == ""
			if same != tt.wantSame {
				t.Errorf("seeds %d and %d: same corpus = %v, want %v", tt.a, tt.b, same, tt.wantSame)
			}
		})
	}
}

func TestVendorsAreValid(t *testing.T) {
	t.Parallel()
	g := corpus.New(sources(t), 3)
	ids := map[string]bool{}
	for _, v := range g.Vendors(2000) {
		if ids[v.ID] {
			t.Errorf("duplicate id %s", v.ID)
		}
		ids[v.ID] = true
		if n := len(strings.Fields(v.Description)); n < corpus.MinWords || n > corpus.MaxWords {
			t.Errorf("%s: description of %d words, want %d–%d", v.ID, n, corpus.MinWords, corpus.MaxWords)
		}
		if n := len(v.CPVCodes); n < 1 || n > 5 {
			t.Errorf("%s: %d CPV codes, want 1–5", v.ID, n)
		}
		for _, c := range v.CPVCodes {
			if n, err := refdata.NormalizeCPV(c); err != nil || n != c {
				t.Errorf("%s: CPV code %q not canonical: %v", v.ID, c, err)
			}
		}
		for _, r := range v.Regions {
			if _, err := refdata.RegionFilterKey(r); err != nil {
				t.Errorf("%s: region %q: %v", v.ID, r, err)
			}
		}
		if v.Name == "" || len(v.Capabilities) == 0 {
			t.Errorf("%s: name %q, capabilities %q", v.ID, v.Name, v.Capabilities)
		}
	}
}

func TestNeedsAreValid(t *testing.T) {
	t.Parallel()
	g := corpus.New(sources(t), 4)
	var it int
	for i, n := range g.Needs(2000) {
		if w := len(strings.Fields(n.Description)); w < corpus.MinWords || w > corpus.MaxWords {
			t.Errorf("need %d: description of %d words", i, w)
		}
		if n.Title == "" || len(n.CPVCodes) > 3 {
			t.Errorf("need %d: title %q, %d codes", i, n.Title, len(n.CPVCodes))
		}
		for _, c := range n.CPVCodes {
			if _, err := refdata.NormalizeCPV(c); err != nil {
				t.Errorf("need %d: CPV code %q: %v", i, c, err)
			}
			if c[:2] == "72" || c[:2] == "48" {
				it++
			}
		}
		if n.Region != "" && refdata.RegionKeys(n.Region) == nil {
			t.Errorf("need %d: region %q unknown", i, n.Region)
		}
	}
	if it == 0 {
		t.Error("no IT codes: the division weighting is lost")
	}
}
