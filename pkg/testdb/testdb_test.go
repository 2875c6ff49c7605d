package testdb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/govmatch/govmatch/pkg/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func tables(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestPostgresGivesEachTestItsOwnEmptyDatabase(t *testing.T) {
	t.Parallel()
	a := connect(t, testdb.Postgres(t))
	b := connect(t, testdb.Postgres(t))
	ctx := context.Background()

	if got := tables(t, a); len(got) != 0 {
		t.Fatalf("new database has tables %q, want none", got)
	}
	if _, err := a.Exec(ctx, `CREATE TABLE vergabe (id text PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, b); len(got) != 0 {
		t.Errorf("table created in one database shows up in another: %q", got)
	}
}

func TestPostgresDropsTheDatabaseWhenTheTestEnds(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("user", func(t *testing.T) {
		conn := connect(t, testdb.Postgres(t))
		if err := conn.QueryRow(context.Background(), `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	if t.Skipped() || name == "" {
		return // the subtest skipped: no PostgreSQL
	}
	conn := connect(t, testdb.Postgres(t))
	var exists bool
	if err := conn.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestWithTemplateCopiesTheMigratedSchema(t *testing.T) {
	t.Parallel()
	migrations := 0
	migrate := func(ctx context.Context, dsn string) error {
		migrations++ // runs once, under the template's sync.Once
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, `CREATE TABLE bedarf (id text PRIMARY KEY); CREATE TABLE angebot (id text PRIMARY KEY)`)
		return err
	}

	ctx := context.Background()
	// A template of its own per run: templates live as long as the test
	// binary, and -count=2 runs this test twice in one binary.
	template := fmt.Sprintf("testdb_test_%d", rand.Uint32())
	for i := range 3 {
		conn := connect(t, testdb.Postgres(t, testdb.WithTemplate(template, migrate)))
		if diff := cmp.Diff([]string{"angebot", "bedarf"}, tables(t, conn)); diff != "" {
			t.Fatalf("database %d: tables (-want +got):\n%s", i, diff)
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM bedarf`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("database %d sees %d rows written by an earlier test", i, n)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO bedarf VALUES ($1)`, fmt.Sprint("b", i)); err != nil {
			t.Fatal(err)
		}
	}
	if migrations != 1 {
		t.Errorf("migrate ran %d times, want 1", migrations)
	}
}

// fakeTB records how a helper ended the test.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Skipf(format string, args ...any)  { f.skipped = fmt.Sprintf(format, args...) }
func (f *fakeTB) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

func TestRequireOrSkip(t *testing.T) {
	// Not parallel: t.Setenv.
	tests := []struct {
		name        string
		require     string
		wantSkipped string
		wantFailed  string
	}{
		{
			name:        "skips loudly by default",
			wantSkipped: "SKIPPED: no Redis: set REDIS_URL or put redis-server on PATH",
		},
		{
			name:       "fails when services are required",
			require:    "1",
			wantFailed: "FAILED: no Redis although GOVMATCH_REQUIRE_SERVICES=1: set REDIS_URL or put redis-server on PATH",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(testdb.RequireEnv, tt.require)
			var tb fakeTB
			testdb.RequireOrSkip(&tb, "Redis", "set REDIS_URL or put redis-server on PATH")
			if diff := cmp.Diff(tt.wantSkipped, tb.skipped); diff != "" {
				t.Errorf("skip message (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailed, tb.failed); diff != "" {
				t.Errorf("failure message (-want +got):\n%s", diff)
			}
		})
	}
}
