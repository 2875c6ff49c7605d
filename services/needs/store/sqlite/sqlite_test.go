package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/services/needs/need"
	"github.com/govmatch/govmatch/services/needs/store/sqlite"
	"github.com/govmatch/govmatch/services/needs/store/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		// A file, as in production: WAL, a writer and a pool of readers.
		{"file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "daten", "needs.db") }},
		{"memory", func(*testing.T) string { return ":memory:" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) need.Store {
				s, err := sqlite.Open(context.Background(), tt.dsn(t), sqlite.WithAudit())
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(s.Close)
				return s
			})
		})
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "needs.db") }},
		{"memory", func(*testing.T) string { return ":memory:" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.RunEvents(t, func(t *testing.T, rec *storetest.Recorder) (need.Store, outbox.Store) {
				s, err := sqlite.Open(context.Background(), tt.dsn(t), sqlite.WithEvents(rec))
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(s.Close)
				return s, s.Outbox()
			})
		})
	}
}

// TestOpenTwice checks that reopening a database keeps its data and finds
// the schema up to date.
func TestOpenTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "needs.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	n := &need.Need{ID: "n-bauakte", OwnerOrg: "orgs/land-hessen", State: need.StateDraft,
		Fields: need.Fields{Title: "Digitale Bauakte"}}
	if err := s.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, n.ID); err != nil {
		t.Errorf("Get after reopen: %v", err)
	}
}

// TestRegionKeysMigration: a need written while its municipality matched
// no NUTS-2 or NUTS-3 filter is found by them once migration 8 rebuilt
// the index.
func TestRegionKeysMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "needs.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	n := &need.Need{ID: "n-termine", OwnerOrg: "orgs/stadt-giessen", State: need.StateDraft,
		Fields: need.Fields{Title: "Terminbuchung", Places: []string{"06531005"}}}
	if err := s.Create(ctx, n); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Back to the index as it was before: Land-level keys only, and
	// migration 8 not yet run.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM need_region_keys WHERE key IN ('DE72', 'DE721');
		DELETE FROM goose_db_version WHERE version_id = 8`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	list := func(s *sqlite.Store, key string) int {
		t.Helper()
		got, err := s.List(ctx, need.ListQuery{AllDrafts: true, RegionKeys: []string{key}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	for _, key := range []string{"DE72", "DE721", "DE7", "AGS:06531"} {
		if got := list(s, key); got != 1 {
			t.Errorf("region %s finds %d needs, want 1", key, got)
		}
	}
}
