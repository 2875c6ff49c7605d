package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/pkg/testdb"
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/store/postgres"
	"github.com/govmatch/govmatch/services/vendors/store/storetest"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// schema migrates the template database that every test's database is
// copied from.
var schema = testdb.WithTemplate("vendors", func(ctx context.Context, dsn string) error {
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		return err
	}
	s.Close()
	return nil
})

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) profile.Store {
		s, err := postgres.Open(context.Background(), testdb.Postgres(t, schema), postgres.WithAudit())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

func TestEvents(t *testing.T) {
	t.Parallel()
	storetest.RunEvents(t, func(t *testing.T, ev storetest.Events) storetest.EventStore {
		s, err := postgres.Open(context.Background(), testdb.Postgres(t, schema), postgres.WithEvents(ev))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(s.Close)
		return s
	})
}

// TestOpenConcurrently starts several replicas on one empty database at
// once: the migration lock must let exactly one migrate, and a second Open
// finds the schema up to date.
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	const replicas = 4
	dsn := testdb.Postgres(t)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), dsn)
			if err != nil {
				t.Errorf("replica %d: Open: %v", i, err)
				return
			}
			if _, err := s.List(context.Background(), profile.ListQuery{Limit: 1}); err != nil {
				t.Errorf("replica %d: List: %v", i, err)
			}
			s.Close()
		})
	}
	wg.Wait()
}

// TestConcurrentImportsOfOneExternalID runs the same import twice at once:
// one inserts, the other waits on the unique index and then returns the
// vendor the first inserted.
func TestConcurrentImportsOfOneExternalID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := postgres.Open(ctx, testdb.Postgres(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	got := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			v := &profile.Vendor{ID: []string{"a", "b"}[i], ExternalID: "cfv-1",
				Fields: profile.Fields{DisplayName: "Import", Kind: profile.KindOther}}
			out, err := s.Create(ctx, []*profile.Vendor{v}, func(int, *profile.Vendor) error { return nil })
			if err != nil {
				t.Errorf("import %d: %v", i, err)
				return
			}
			got[i] = out[0].ID
		})
	}
	wg.Wait()
	if got[0] != got[1] {
		t.Errorf("concurrent imports of one external id made two vendors: %v", got)
	}
}

// TestSchema checks that the registry keeps everything in its schema, so
// that another registry with an outbox of its own (needs) can share the
// database, and each relays its own outbox at the same time.
func TestSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for table, want := range map[string]bool{
		"vendors.vendors": true, "vendors.outbox": true, "vendors.goose_db_version_vendors": true,
		"public.vendors": false, "public.outbox": false, "public.goose_db_version_vendors": false,
	} {
		var found bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&found); err != nil {
			t.Fatal(err)
		}
		if found != want {
			t.Errorf("table %s exists: %v, want %v", table, found, want)
		}
	}

	// Another registry's outbox in its own schema of the same database.
	if _, err := conn.Exec(ctx, `CREATE SCHEMA needs; SET search_path = needs; `+outbox.PostgresDDL); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = "needs"
	leaseCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for name, ob := range map[string]outbox.Store{"vendors": s.Outbox(), "needs": outbox.NewPostgres(cfg)} {
		sess, err := ob.Lease(leaseCtx)
		if err != nil {
			t.Fatalf("lease the %s outbox while the other is leased: %v", name, err)
		}
		defer sess.Close()
	}
}
