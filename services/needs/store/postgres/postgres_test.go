package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/pkg/testdb"
	"github.com/govmatch/govmatch/services/needs/need"
	"github.com/govmatch/govmatch/services/needs/store/postgres"
	"github.com/govmatch/govmatch/services/needs/store/storetest"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// schema migrates the template database that every test's database is
// copied from.
var schema = testdb.WithTemplate("needs", func(ctx context.Context, dsn string) error {
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		return err
	}
	s.Close()
	return nil
})

func TestStore(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) need.Store {
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
	storetest.RunEvents(t, func(t *testing.T, rec *storetest.Recorder) (need.Store, outbox.Store) {
		s, err := postgres.Open(context.Background(), testdb.Postgres(t, schema), postgres.WithEvents(rec))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(s.Close)
		return s, s.Outbox()
	})
}

// TestOpenMigratesEmptyDatabase runs the migrations on a database that has
// none, and again on the same database, as a restarting replica would.
func TestOpenMigratesEmptyDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := testdb.Postgres(t)
	for i := range 2 {
		s, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open %d: %v", i+1, err)
		}
		if _, err := s.List(ctx, need.ListQuery{Limit: 1}); err != nil {
			t.Errorf("List after Open %d: %v", i+1, err)
		}
		s.Close()
	}
}

// TestOpenConcurrently starts several replicas on one empty database at
// once: the migration lock must let exactly one migrate and the others wait.
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
			s.Close()
		})
	}
	wg.Wait()
}

// TestSchema checks that the registry keeps to its schema, so that another
// registry can share the database: its tables, goose's table and the
// outbox are in "needs", nothing in public, and the outbox's relay lock
// does not exclude the relay of another schema's outbox.
func TestSchema(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := testdb.Postgres(t)
	s, err := postgres.Open(ctx, dsn, postgres.WithEvents(&storetest.Recorder{}))
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
		"needs.needs": true, "needs.outbox": true, "needs.goose_db_version": true, "needs.need_event_versions": true,
		"public.needs": false, "public.outbox": false, "public.goose_db_version": false,
	} {
		var found bool
		if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&found); err != nil {
			t.Fatal(err)
		}
		if found != want {
			t.Errorf("table %s exists: %t, want %t", table, found, want)
		}
	}

	// Another registry's outbox in a schema of its own.
	if _, err := conn.Exec(ctx, `CREATE SCHEMA vendors; SET search_path = vendors; `+outbox.PostgresDDL); err != nil {
		t.Fatal(err)
	}
	other, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	other.RuntimeParams["search_path"] = "vendors"
	mine, err := s.Outbox().Lease(ctx)
	if err != nil {
		t.Fatalf("Lease of the needs outbox: %v", err)
	}
	defer mine.Close()
	theirs, err := outbox.NewPostgres(other).Lease(ctx)
	if err != nil {
		t.Fatalf("Lease of the vendors outbox while the needs relay holds its lock: %v", err)
	}
	theirs.Close()
}
