package relevance_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/services/matching/relevance"
)

// writeSet writes a set directory named name under a temporary directory.
func writeSet(t *testing.T, name, vendors, needs, qrels string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for file, content := range map[string]string{
		"vendors.jsonl": vendors,
		"needs.jsonl":   needs,
		"qrels.tsv":     qrels,
	} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	tinyVendors = `{"id": "v1", "name": "Roofers Ltd", "description": "Roof repairs", "cpvCodes": ["45261000"]}
{"id": "v2", "name": "Masks Co", "description": "Face masks", "cpvCodes": []}

`
	tinyNeeds = `{"id": "n1", "title": "Roof", "description": "Repair roofs", "cpvCodes": ["45261000"]}
{"id": "n2", "title": "Masks", "description": "PPE", "cpvCodes": []}
{"id": "n2", "title": "Masks", "description": "PPE", "cpvCodes": []}
{"id": "n3", "title": "Unjudged", "description": "Nobody is right", "cpvCodes": []}
`
	tinyQrels = "n1\tv1\t1\nn2\tv2\t1\nn3\tv1\t0\n"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := writeSet(t, "tiny-en", tinyVendors, tinyNeeds, tinyQrels)

	got, err := relevance.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &relevance.Set{
		Name:     "tiny-en",
		Language: relevance.English,
		Vendors: []relevance.Vendor{
			{ID: "v1", Name: "Roofers Ltd", Description: "Roof repairs", CPVCodes: []string{"45261000"}},
			{ID: "v2", Name: "Masks Co", Description: "Face masks", CPVCodes: []string{}},
		},
		Needs: []relevance.Need{
			{ID: "n1", Title: "Roof", Description: "Repair roofs", CPVCodes: []string{"45261000"}},
			{ID: "n2", Title: "Masks", Description: "PPE", CPVCodes: []string{}},
			{ID: "n3", Title: "Unjudged", Description: "Nobody is right", CPVCodes: []string{}},
		},
		Right: map[string]map[string]bool{
			"n1": {"v1": true},
			"n2": {"v2": true},
		},
		DuplicateNeeds: 1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load mismatch (-want +got):\n%s", diff)
	}
}

func TestLoadRejectsBrokenSets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, dir, vendors, needs, qrels string
	}{
		{name: "no language suffix", dir: "tiny", vendors: tinyVendors, needs: tinyNeeds, qrels: tinyQrels},
		{name: "vendor without id", dir: "tiny-en", vendors: `{"name": "x"}`, needs: tinyNeeds, qrels: tinyQrels},
		{
			name: "two different vendors with one id", dir: "tiny-en",
			vendors: tinyVendors + `{"id": "v1", "name": "Other"}`, needs: tinyNeeds, qrels: tinyQrels,
		},
		{
			name: "two different needs with one id", dir: "tiny-en",
			vendors: tinyVendors, needs: tinyNeeds + `{"id": "n1", "title": "Other"}`, qrels: tinyQrels,
		},
		{name: "bad JSON", dir: "tiny-en", vendors: "{", needs: tinyNeeds, qrels: tinyQrels},
		{name: "unknown need in qrels", dir: "tiny-en", vendors: tinyVendors, needs: tinyNeeds, qrels: "n9\tv1\t1\n"},
		{name: "unknown vendor in qrels", dir: "tiny-en", vendors: tinyVendors, needs: tinyNeeds, qrels: "n1\tv9\t1\n"},
		{name: "two fields in qrels", dir: "tiny-en", vendors: tinyVendors, needs: tinyNeeds, qrels: "n1\tv1\n"},
		{name: "relevance not a number", dir: "tiny-en", vendors: tinyVendors, needs: tinyNeeds, qrels: "n1\tv1\tyes\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeSet(t, tt.dir, tt.vendors, tt.needs, tt.qrels)
			if _, err := relevance.Load(dir); err == nil {
				t.Error("Load succeeded, want an error")
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	set, err := relevance.Load(writeSet(t, "tiny-de", tinyVendors, tinyNeeds, tinyQrels))
	if err != nil {
		t.Fatal(err)
	}

	var asked []string
	// Right for n1 at rank 1, wrong for n2 (v2 at rank 2); n3 is unjudged
	// and must not be asked.
	ranker := relevance.RankerFunc(func(_ context.Context, need relevance.Need, k int) ([]string, error) {
		if k != relevance.Depth {
			t.Errorf("Rank(%s) asked for k=%d, want %d", need.ID, k, relevance.Depth)
		}
		asked = append(asked, need.ID)
		return []string{"v1", "v2"}, nil
	})
	got, err := relevance.Evaluate(context.Background(), set, ranker)
	if err != nil {
		t.Fatal(err)
	}
	want := relevance.Figures{
		Needs:    2,
		Unjudged: 1,
		MRR:      (1 + 0.5) / 2,
		Recall10: 1,
		NDCG10:   (1 + 0.6309297535714575) / 2,
		PerNeed: map[string]relevance.Scores{
			"n1": {RR: 1, Hit: 1, NDCG: 1},
			"n2": {RR: 0.5, Hit: 1, NDCG: 0.6309297535714575},
		},
	}
	if diff := cmp.Diff(want, got, approx); diff != "" {
		t.Errorf("Evaluate mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"n1", "n2"}, asked); diff != "" {
		t.Errorf("needs asked (-want +got):\n%s", diff)
	}
}

func TestEvaluateReturnsRankerError(t *testing.T) {
	t.Parallel()
	set, err := relevance.Load(writeSet(t, "tiny-en", tinyVendors, tinyNeeds, tinyQrels))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err = relevance.Evaluate(context.Background(), set, relevance.RankerFunc(
		func(context.Context, relevance.Need, int) ([]string, error) { return nil, boom }))
	if !errors.Is(err, boom) {
		t.Errorf("Evaluate error = %v, want %v", err, boom)
	}
}
