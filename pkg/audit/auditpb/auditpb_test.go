package auditpb_test

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/audit/auditpb"
)

// TestExportCSV: one row per changed field, strings as text, and values a
// spreadsheet would run as formulas kept as text.
func TestExportCSV(t *testing.T) {
	t.Parallel()
	e := audit.Entry{
		Resource: "needs/x", Seq: 2, Time: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
		Actor: audit.Actor{Subject: "anna", Organization: "stadt-giessen", Roles: []string{"buyer"}},
		Changes: []audit.Change{
			{Field: "title", Before: json.RawMessage(`"Alt"`), After: json.RawMessage(`"=HYPERLINK(\"http://evil\")"`)},
			{Field: "budget_min_eur", After: json.RawMessage(`-5`)},
			{Field: "summary", Redacted: true},
		},
		Hash: "h",
	}
	body, err := auditpb.Export([]audit.Entry{e}, "csv")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body.Data))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, r := range rows[1:] {
		got = append(got, []string{r[9], r[10], r[11], r[12]})
	}
	want := [][]string{
		{"title", "Alt", `'=HYPERLINK("http://evil")`, "false"},
		{"budget_min_eur", "", "'-5", "false"},
		{"summary", "", "", "true"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if _, err := auditpb.Export(nil, "pdf"); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("Export as pdf: %v", err)
	}
}
