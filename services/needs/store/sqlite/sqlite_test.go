package sqlite_test

import (
	"context"
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
