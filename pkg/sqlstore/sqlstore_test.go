package sqlstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/sqlstore"
)

func TestWhere(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		build    func(w *sqlstore.Where)
		wantSQL  string
		wantArgs []any
	}{
		{"none", func(*sqlstore.Where) {}, "", nil},
		{"sqlite", func(w *sqlstore.Where) {
			w.Add(`n.state IN (`+sqlstore.Placeholders(2)+`)`, int64(1), int64(2))
			w.Add(`v.has_open_source`)
			w.Add(`n.owner_org = ?`, "orgs/land-hessen")
		}, "\nWHERE n.state IN (?, ?)\n  AND v.has_open_source\n  AND n.owner_org = ?",
			[]any{int64(1), int64(2), "orgs/land-hessen"}},
		{"postgres", func(w *sqlstore.Where) {
			w.Add(`n.state = ANY(` + w.Arg([]int16{1, 2}) + `)`)
			org := w.Arg("orgs/land-hessen")
			w.Add(`(n.owner_org = ` + org + ` OR b.org = ` + org + `)`)
		}, "\nWHERE n.state = ANY($1)\n  AND (n.owner_org = $2 OR b.org = $2)",
			[]any{[]int16{1, 2}, "orgs/land-hessen"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var w sqlstore.Where
			tt.build(&w)
			if diff := cmp.Diff(tt.wantSQL, w.SQL()); diff != "" {
				t.Errorf("SQL() (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantArgs, w.Args); diff != "" {
				t.Errorf("Args (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWhereArgNumbersAfterLaterClauses(t *testing.T) {
	t.Parallel()
	var w sqlstore.Where
	w.Add(`a = ` + w.Arg(1))
	if got := ` LIMIT ` + w.Arg(10); got != " LIMIT $2" {
		t.Errorf("placeholder after the conditions = %q, want %q", got, " LIMIT $2")
	}
}

func TestPlaceholders(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "", 1: "?", 3: "?, ?, ?"} {
		if got := sqlstore.Placeholders(n); got != want {
			t.Errorf("Placeholders(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestAnys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want []any
	}{
		{"nil", nil, []any{}},
		{"some", []string{"DE7", "DE71"}, []any{"DE7", "DE71"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, sqlstore.Anys(tt.in)); diff != "" {
				t.Errorf("Anys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLikePrefix(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"digits", "7226", "7226"},
		{"percent", "72%", `72\%`},
		{"underscore", "72_6", `72\_6`},
		{"backslash", `72\`, `72\\`},
		{"all", `\%_`, `\\\%\_`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sqlstore.LikePrefix(tt.in); got != tt.want {
				t.Errorf("LikePrefix(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSearchWords(t *testing.T) {
	t.Parallel()
	split := func(s string) []string {
		return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == '-' || r == ' ' })
	}
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"none", nil, nil},
		{"split", []string{"Bürger-Portal"}, []string{"bürger", "portal"}},
		{"repeats dropped, order kept", []string{"Portal", "bürger portal", "PORTAL"}, []string{"portal", "bürger"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, sqlstore.SearchWords(tt.in, split)); diff != "" {
				t.Errorf("SearchWords(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestFullTextQueries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		words            []string
		wantFTS5, wantTS string
	}{
		{"one", []string{"portal"}, `"portal"*`, `'portal':*`},
		{"two", []string{"bürger", "portal"}, `"bürger"* "portal"*`, `'bürger':* & 'portal':*`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := sqlstore.FTS5Query(tt.words); got != tt.wantFTS5 {
				t.Errorf("FTS5Query(%q) = %q, want %q", tt.words, got, tt.wantFTS5)
			}
			if got := sqlstore.TSQuery(tt.words); got != tt.wantTS {
				t.Errorf("TSQuery(%q) = %q, want %q", tt.words, got, tt.wantTS)
			}
		})
	}
}

func TestJSONList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       []string
		wantJSON string
		wantBack []string // ParseJSONList of the column: empty lists are nil
	}{
		{"nil", nil, "[]", nil},
		{"empty", []string{}, "[]", nil},
		{"some", []string{"Hessen", `"Köln"`}, `["Hessen","\"Köln\""]`, []string{"Hessen", `"Köln"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := sqlstore.JSONList(tt.in)
			if got != tt.wantJSON {
				t.Errorf("JSONList(%q) = %s, want %s", tt.in, got, tt.wantJSON)
			}
			back, err := sqlstore.ParseJSONList(got)
			if err != nil {
				t.Fatalf("ParseJSONList(%s): %v", got, err)
			}
			if diff := cmp.Diff(tt.wantBack, back); diff != "" {
				t.Errorf("ParseJSONList(%s) (-want +got):\n%s", got, diff)
			}
		})
	}
}

func TestParseJSONListRejectsNonLists(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "{}", `[1]`, `["a"`} {
		if l, err := sqlstore.ParseJSONList(s); err == nil {
			t.Errorf("ParseJSONList(%q) = %q, want an error", s, l)
		}
	}
}

func TestTimes(t *testing.T) {
	t.Parallel()
	berlin := time.FixedZone("CEST", 2*60*60)
	in := time.Date(2026, 5, 4, 12, 30, 15, 123456789, berlin)
	want := time.Date(2026, 5, 4, 10, 30, 15, 123456000, time.UTC)
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"zero stays zero", time.Time{}, time.Time{}},
		{"UTC, microseconds", in, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check := func(what string, got time.Time) {
				t.Helper()
				// Equal would hide a location other than UTC.
				if got != tt.want {
					t.Errorf("%s = %v, want %v", what, got, tt.want)
				}
			}
			check("Time", sqlstore.Time(tt.in))
			check("FromMicros(ToMicros)", sqlstore.FromMicros(sqlstore.ToMicros(tt.in)))
			check("FromNullTime(ToNullTime)", sqlstore.FromNullTime(sqlstore.ToNullTime(tt.in)))
			if null := sqlstore.ToMicros(tt.in) == nil; null != tt.in.IsZero() {
				t.Errorf("ToMicros(%v) is NULL: %t, want %t", tt.in, null, tt.in.IsZero())
			}
			if null := sqlstore.ToNullTime(tt.in) == nil; null != tt.in.IsZero() {
				t.Errorf("ToNullTime(%v) is NULL: %t, want %t", tt.in, null, tt.in.IsZero())
			}
		})
	}
}
