// Package testdb gives tests real PostgreSQL databases, one fresh database
// per test, without Docker: it uses the server named by DATABASE_URL when that
// is set, and otherwise starts a throwaway server from the PostgreSQL binaries
// on PATH (or in /usr/lib/postgresql/*/bin) once per test binary.
//
// Redis works the same way (see Redis): REDIS_URL or a throwaway
// redis-server from PATH, and a key prefix per test.
//
// A test binary that uses it should stop those servers when it ends:
//
//	func TestMain(m *testing.M) { testdb.Main(m) }
//
// Without the service, tests are skipped with a message that says so, unless
// GOVMATCH_REQUIRE_SERVICES=1 is set (as in CI), in which case they fail: a
// green run must never hide that the database tests did not run.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv is the environment variable that turns a missing service into a
// test failure instead of a skip.
const RequireEnv = "GOVMATCH_REQUIRE_SERVICES"

// RequireOrSkip stops the test because the service what is unavailable: it
// skips with a message starting "SKIPPED:", or fails when RequireEnv is "1".
// why tells the reader how to provide the service.
func RequireOrSkip(tb testing.TB, what, why string) {
	tb.Helper()
	if os.Getenv(RequireEnv) == "1" {
		tb.Fatalf("FAILED: no %s although %s=1: %s", what, RequireEnv, why)
		return
	}
	tb.Skipf("SKIPPED: no %s: %s", what, why)
}

// Option changes how Postgres prepares a database.
type Option func(*options)

type options struct {
	template *template
}

// MigrateFunc prepares the schema of the database at dsn. It must close every
// connection it opened before it returns, because PostgreSQL copies a
// template only while nobody is connected to it.
type MigrateFunc func(ctx context.Context, dsn string) error

// WithTemplate makes each database a copy of a template database that
// migrate prepared once per test binary, so that a schema is migrated once
// rather than once per test. name tells templates of different schemas apart
// (for example the service name); the first migrate given for a name wins.
func WithTemplate(name string, migrate MigrateFunc) Option {
	return func(o *options) {
		templatesMu.Lock()
		defer templatesMu.Unlock()
		t, ok := templates[name]
		if !ok {
			t = &template{name: name, migrate: migrate}
			templates[name] = t
		}
		o.template = t
	}
}

// Postgres returns the DSN of a new database that belongs to this test alone
// and is dropped when the test ends. Without options the database is empty.
func Postgres(tb testing.TB, opts ...Option) string {
	tb.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}

	admin, err := adminDSN()
	switch {
	case errors.Is(err, errNoPostgres):
		RequireOrSkip(tb, "PostgreSQL", "set DATABASE_URL or put initdb/postgres on PATH")
	case err != nil:
		tb.Fatalf("testdb: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var from string
	if o.template != nil {
		tmpl, err := o.template.get(ctx, admin)
		if err != nil {
			tb.Fatalf("testdb: template %q: %v", o.template.name, err)
		}
		from = " TEMPLATE " + pgx.Identifier{tmpl}.Sanitize()
	}

	name := "test_" + randomHex(8)
	if err := adminExec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+from); err != nil {
		tb.Fatalf("testdb: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropDatabase(ctx, admin, name); err != nil {
			tb.Errorf("testdb: %v", err)
		}
	})
	return withDatabase(admin, name)
}

// Main runs the tests and then Cleanup, and exits with the tests' status. Call
// it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// Cleanup drops the template databases and stops the throwaway servers, if
// this binary started any. Main calls it; call it yourself from a TestMain
// that does more than Main.
func Cleanup() {
	stopRedis()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	templatesMu.Lock()
	ts := templates
	templates = make(map[string]*template)
	templatesMu.Unlock()

	admin, err := adminDSN()
	if err == nil {
		for _, t := range ts {
			if t.db != "" {
				if err := dropDatabase(ctx, admin, t.db); err != nil {
					fmt.Fprintf(os.Stderr, "testdb: %v\n", err)
				}
			}
		}
	}

	serverMu.Lock()
	s := server
	server = nil
	serverMu.Unlock()
	if s != nil {
		if err := s.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testdb: stop PostgreSQL: %v\n", err)
		}
	}
}

var errNoPostgres = errors.New("no PostgreSQL")

var (
	adminOnce sync.Once
	adminURL  string
	adminErr  error

	serverMu sync.Mutex
	server   *throwaway // started by adminDSN, stopped by Cleanup
)

// adminDSN is the DSN of a database to run CREATE/DROP DATABASE from: the
// one in DATABASE_URL, or the postgres database of a throwaway server that
// it starts on first use.
func adminDSN() (string, error) {
	adminOnce.Do(func() {
		if dsn := os.Getenv("DATABASE_URL"); dsn != "" {
			adminURL = dsn
			return
		}
		initdb, postgres, ok := findBinaries()
		if !ok {
			adminErr = errNoPostgres
			return
		}
		s, err := startThrowaway(initdb, postgres)
		if err != nil {
			adminErr = fmt.Errorf("start throwaway PostgreSQL (%s): %w", postgres, err)
			return
		}
		serverMu.Lock()
		server = s
		serverMu.Unlock()
		adminURL = s.dsn
	})
	return adminURL, adminErr
}

// template is a database migrated once and copied for every test.
type template struct {
	name    string
	migrate MigrateFunc

	once sync.Once
	db   string
	err  error
}

var (
	templatesMu sync.Mutex
	templates   = make(map[string]*template)
)

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

func (t *template) get(ctx context.Context, admin string) (string, error) {
	t.once.Do(func() {
		// The random part keeps test binaries that share one server (go test
		// runs packages in parallel) out of each other's way.
		name := "tmpl_" + nonIdent.ReplaceAllString(strings.ToLower(t.name), "_") + "_" + randomHex(6)
		if err := adminExec(ctx, admin, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.err = fmt.Errorf("create database: %w", err)
			return
		}
		t.db = name // from here on Cleanup drops it
		if err := t.migrate(ctx, withDatabase(admin, name)); err != nil {
			t.err = fmt.Errorf("migrate: %w", err)
			return
		}
		// Nobody may connect any more: a stray connection would make every
		// CREATE DATABASE … TEMPLATE fail.
		if err := adminExec(ctx, admin, "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH ALLOW_CONNECTIONS false"); err != nil {
			t.err = fmt.Errorf("close template: %w", err)
		}
	})
	return t.db, t.err
}

func adminExec(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func dropDatabase(ctx context.Context, admin, name string) error {
	if err := adminExec(ctx, admin, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// withDatabase returns dsn with the database replaced by name. It handles
// both URL and keyword/value DSNs.
func withDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			u.Path = "/" + name
			u.RawPath = ""
			return u.String()
		}
	}
	// Later keywords win in keyword/value DSNs.
	return dsn + " dbname=" + name
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails, see crypto/rand
	return hex.EncodeToString(b)
}
