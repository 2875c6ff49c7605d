package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/store/sqlite"
	"github.com/govmatch/govmatch/services/vendors/store/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		// A file, as in production: WAL, a writer and a pool of readers.
		{"file", func(t *testing.T) string { return filepath.Join(t.TempDir(), "daten", "vendors.db") }},
		{"memory", func(*testing.T) string { return ":memory:" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) profile.Store {
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
	for name, dsn := range map[string]func(t *testing.T) string{
		"file":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "vendors.db") },
		"memory": func(*testing.T) string { return ":memory:" },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			storetest.RunEvents(t, func(t *testing.T, ev storetest.Events) storetest.EventStore {
				s, err := sqlite.Open(context.Background(), dsn(t), sqlite.WithEvents(ev))
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				t.Cleanup(s.Close)
				return s
			})
		})
	}
}

// TestOpenTwice checks that reopening a database keeps its data and finds
// the schema up to date.
func TestOpenTwice(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vendors.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	v := &profile.Vendor{ID: "civic-code", Fields: profile.Fields{DisplayName: "Civic Code", Kind: profile.KindCivicTech}}
	if _, err := s.Create(ctx, []*profile.Vendor{v}, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.Get(ctx, v.ID); err != nil {
		t.Errorf("Get after reopen: %v", err)
	}
}
