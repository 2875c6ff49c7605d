package demo_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/govmatch/govmatch/pkg/testdb"
	"github.com/govmatch/govmatch/services/vendors/demo"
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/store/postgres"
	"github.com/govmatch/govmatch/services/vendors/store/sqlite"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testdb.Cleanup() // stops a PostgreSQL started for the tests
	os.Exit(code)
}

// TestSeed seeds an empty registry on both engines, checks what a user
// would look for, and seeds again without creating anything.
func TestSeed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		store func(t *testing.T) profile.Store
	}{
		{"sqlite", func(t *testing.T) profile.Store {
			s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "vendors.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			return s
		}},
		{"postgres", func(t *testing.T) profile.Store {
			s, err := postgres.Open(context.Background(), testdb.Postgres(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			return s
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			svc := profile.NewService(tc.store(t))
			n, err := demo.Seed(ctx, svc)
			if err != nil {
				t.Fatalf("Seed: %v", err)
			}
			if n != len(demo.Orgs()) || n < 8 {
				t.Fatalf("Seed created %d vendors, want %d", n, len(demo.Orgs()))
			}
			for _, org := range demo.Orgs() {
				v, err := svc.Get(ctx, org)
				if err != nil {
					t.Fatalf("Get(%s): %v", org, err)
				}
				if v.OwnerOrg != org {
					t.Errorf("vendors/%s is owned by %q, want its own organisation", org, v.OwnerOrg)
				}
			}
			again, err := demo.Seed(ctx, svc)
			if err != nil || again != 0 {
				t.Errorf("second Seed: created %d, err %v; want 0, nil", again, err)
			}
		})
	}
}
