package baseline_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/testdb"
	"github.com/govmatch/govmatch/services/matching/relevance"
	"github.com/govmatch/govmatch/services/matching/relevance/baseline"
)

func TestMain(m *testing.M) { testdb.Main(m) }

var (
	englishVendors = []relevance.Vendor{
		{ID: "roof", Name: "Apex Roofing Ltd", Description: "Roof repairs and the replacement of roofs for housing associations."},
		{ID: "gutter", Name: "Clearflow", Description: "Gutter cleaning; occasional roof inspection."},
		{ID: "masks", Name: "Medco Supplies", Description: "Supply of personal protective equipment: face masks and gloves."},
		{ID: "software", Name: "Byte Consulting", Description: "Software development and IT consultancy."},
		// Same text, so the same score: the tie is broken by id.
		{ID: "twin-b", Name: "Greenkeepers", Description: "Grounds maintenance and grass cutting."},
		{ID: "twin-a", Name: "Greenkeepers", Description: "Grounds maintenance and grass cutting."},
		// Characters that mean something in tsquery syntax.
		{ID: "odd", Name: "O'Brien & Sons | (Plumbing)", Description: `Plumbing: back\slash! fittings`},
	}
	germanVendors = []relevance.Vendor{
		{ID: "friedhof", Name: "Friedhöfe", Description: "Grabstätten und Bestattungen auf den Friedhöfen der Stadt."},
		{ID: "rad", Name: "Radverkehr", Description: "Fahrradstraßen und Radwege in der Stadt."},
		{ID: "schule", Name: "Schulen", Description: "Schülerzahlen der Grundschulen."},
	}
)

type rankCase struct {
	name string
	need relevance.Need
	k    int
	want []string
}

var englishCases = []rankCase{
	{
		name: "stemmed words match, more matched words rank higher",
		need: relevance.Need{ID: "n1", Title: "Roofing repair", Description: "Repairing the roof"},
		k:    100,
		want: []string{"roof", "gutter"},
	},
	{
		name: "any word is enough",
		need: relevance.Need{ID: "n2", Title: "Face masks", Description: "for care workers"},
		k:    100,
		want: []string{"masks"},
	},
	{
		name: "k limits the ranking",
		need: relevance.Need{ID: "n3", Title: "Roof repairs", Description: ""},
		k:    1,
		want: []string{"roof"},
	},
	{
		name: "ties are broken by id",
		need: relevance.Need{ID: "n4", Title: "Grass cutting", Description: ""},
		k:    100,
		want: []string{"twin-a", "twin-b"},
	},
	{
		name: "query syntax in the need is only text",
		need: relevance.Need{ID: "n5", Title: `O'Brien's plumbing & (fittings) | !x`, Description: `back\slash:*`},
		k:    100,
		want: []string{"odd"},
	},
	{
		name: "only stop words find nothing",
		need: relevance.Need{ID: "n6", Title: "The", Description: "and of the"},
		k:    100,
		want: nil,
	},
	{
		name: "no word in common finds nothing",
		need: relevance.Need{ID: "n7", Title: "Helicopter", Description: "leasing"},
		k:    100,
		want: nil,
	},
}

var germanCases = []rankCase{
	{
		name: "German inflections match",
		need: relevance.Need{ID: "d1", Title: "Grabstätte", Description: "Bestattung"},
		k:    100,
		want: []string{"friedhof"},
	},
	{
		name: "German stop words do not match",
		need: relevance.Need{ID: "d2", Title: "und der", Description: "in den"},
		k:    100,
		want: nil,
	},
	{
		name: "any word is enough",
		need: relevance.Need{ID: "d3", Title: "Radweg", Description: "Kindergarten"},
		k:    100,
		want: []string{"rad"},
	},
}

// runRankCases checks the behaviour both baselines share.
func runRankCases(t *testing.T, r relevance.Ranker, cases []rankCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Rank(context.Background(), tt.need, tt.k)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b []string) bool {
				return len(a) == 0 && len(b) == 0 || cmp.Equal(a, b)
			})); diff != "" {
				t.Errorf("Rank(%+v) mismatch (-want +got):\n%s", tt.need, diff)
			}
		})
	}
}

func TestBM25(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lang    relevance.Language
		vendors []relevance.Vendor
		cases   []rankCase
	}{
		{relevance.English, englishVendors, englishCases},
		{relevance.German, germanVendors, germanCases},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			t.Parallel()
			r, err := baseline.NewBM25(tc.lang, tc.vendors)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := r.Close(); err != nil {
					t.Error(err)
				}
			})
			runRankCases(t, r, tc.cases)
		})
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lang    relevance.Language
		vendors []relevance.Vendor
		cases   []rankCase
	}{
		{relevance.English, englishVendors, englishCases},
		{relevance.German, germanVendors, germanCases},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			t.Parallel()
			dsn := testdb.Postgres(t)
			ctx := context.Background()
			r, err := baseline.NewPostgres(ctx, dsn, tc.lang, tc.vendors)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := r.Close(ctx); err != nil {
					t.Error(err)
				}
			})
			runRankCases(t, r, tc.cases)
		})
	}
}

func TestUnsupportedLanguage(t *testing.T) {
	t.Parallel()
	if _, err := baseline.NewBM25("fr", englishVendors); err == nil {
		t.Error("NewBM25(fr) succeeded, want an error")
	}
	// The language is checked before connecting.
	if _, err := baseline.NewPostgres(context.Background(), "postgres://invalid", "fr", englishVendors); err == nil {
		t.Error("NewPostgres(fr) succeeded, want an error")
	}
}
