package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// writeSet writes a set in which both baselines rank the right vendor
// first for n1 and cannot find one for n2.
func writeSet(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"vendors.jsonl": `{"id": "v1", "name": "Apex Roofing", "description": "Roof repairs", "cpvCodes": []}
{"id": "v2", "name": "Medco", "description": "Face masks", "cpvCodes": []}
`,
		"needs.jsonl": `{"id": "n1", "title": "Roof repairs", "description": "", "cpvCodes": []}
{"id": "n2", "title": "Helicopter leasing", "description": "", "cpvCodes": []}
`,
		"qrels.tsv": "n1\tv1\t1\nn2\tv2\t1\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	evalDir := t.TempDir()
	writeSet(t, filepath.Join(evalDir, "tiny-en"))
	env := map[string]string{"DATABASE_URL": testdb.Postgres(t), "GOVMATCH_EVAL_DIR": evalDir}

	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), nil, func(k string) string { return env[k] }, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}

	out := strings.TrimRight(stdout.String(), "\n")
	for _, want := range []string{"tiny-en (en): 2 vendors, 2 needs scored", "postgres-fts", "bm25-bleve", "govmatch", "MRR@100"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	var got map[string]any
	last := out[strings.LastIndexByte(out, '\n')+1:]
	if err := json.Unmarshal([]byte(last), &got); err != nil {
		t.Fatalf("last line %q is not JSON: %v", last, err)
	}
	figures := map[string]any{"needs": 2.0, "mrr": 0.5, "recall@10": 0.5, "ndcg@10": 0.5}
	want := map[string]any{"sets": map[string]any{"tiny-en": map[string]any{
		"language": "en", "vendors": 2.0, "needs": 2.0,
		"systems": map[string]any{"postgres-fts": figures, "bm25-bleve": figures, "govmatch": figures},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON line mismatch (-want +got):\n%s", diff)
	}
}

func TestRunRequiresDatabaseURL(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GOVMATCH_EVAL_DIR": t.TempDir()}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), nil, func(k string) string { return env[k] }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("run without DATABASE_URL: error %v, want one that names DATABASE_URL", err)
	}
}

func TestFindUp(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	want := filepath.Join(root, evalDirRel)
	deep := filepath.Join(root, "main", "services", "matching")
	for _, d := range []string{want, deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if got := findUp(deep, evalDirRel); got != want {
		t.Errorf("findUp(%s) = %q, want %q", deep, got, want)
	}
	if got := findUp(deep, "no/such/dir"); got != "" {
		t.Errorf("findUp(no such dir) = %q, want \"\"", got)
	}
}

func TestParseConfigHalfAndSystems(t *testing.T) {
	t.Parallel()
	env := map[string]string{"DATABASE_URL": "postgres://localhost/x", "GOVMATCH_EVAL_DIR": t.TempDir()}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		args    []string
		wantErr string // empty: valid
	}{
		{name: "all needs, all systems", args: nil},
		{name: "tune half", args: []string{"-half", "tune"}},
		{name: "test half, two systems", args: []string{"-half", "test", "-systems", "govmatch,bm25-bleve"}},
		{name: "unknown half", args: []string{"-half", "train"}, wantErr: "-half"},
		{name: "unknown system", args: []string{"-systems", "govmatch,solr"}, wantErr: `unknown system "solr"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseConfig(tt.args, getenv, &bytes.Buffer{})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("parseConfig(%q): %v", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("parseConfig(%q) = %v, want an error with %q", tt.args, err, tt.wantErr)
			}
		})
	}
}
