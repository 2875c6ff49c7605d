package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	_ "modernc.org/sqlite"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/sqlstore"
)

// errCase is a case of TestMapSQLiteError and TestMapPostgresError: the
// mapped error must be (errors.Is) every one of want, and equal same when
// that is set.
type errCase struct {
	name string
	err  error
	id   string
	want []error
	same error
	msg  string // the mapped error's text, when not empty
}

var (
	errFn     = errors.New("need is closed")
	errExists = errdefs.AlreadyExists("row %q already exists", "a")
)

// commonCases are the cases that both engines map alike.
func commonCases() []errCase {
	notFound := errdefs.NotFound("row %q not found", "a")
	other := errors.New("disk on fire")
	return []errCase{
		{name: "fn error unchanged", err: fmt.Errorf("tx: %w", sqlstore.FnError(errFn)), id: "a", same: errFn},
		{name: "not found unchanged", err: notFound, id: "a", same: notFound},
		{name: "other error wrapped with op and id", err: other, id: "a", want: []error{other}, msg: `update row "a": disk on fire`},
		{name: "other error wrapped with op", err: other, want: []error{other}, msg: `update row: disk on fire`},
	}
}

func checkMapped(t *testing.T, tt errCase, got error) {
	t.Helper()
	if tt.same != nil && got != tt.same {
		t.Errorf("got %v, want %v itself", got, tt.same)
	}
	for _, w := range tt.want {
		if !errors.Is(got, w) {
			t.Errorf("got %v, want it to be %v", got, w)
		}
	}
	if tt.msg != "" && got.Error() != tt.msg {
		t.Errorf("got message %q, want %q", got.Error(), tt.msg)
	}
}

// sqliteErrors returns a unique violation on t.id and an SQLITE_BUSY, from a
// real database. As in the stores' tables, id is a unique column beside the
// rowid (the FTS5 index needs an integer key).
func sqliteErrors(t *testing.T) (unique, busy error) {
	t.Helper()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "t.db") + "?_pragma=busy_timeout(0)&_txlock=immediate"
	open := func() *sql.DB {
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	a, b := open(), open()
	if _, err := a.ExecContext(ctx, `CREATE TABLE t (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE); INSERT INTO t (id) VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	_, unique = a.ExecContext(ctx, `INSERT INTO t (id) VALUES ('a')`)
	tx, err := a.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }() // held only for the lock
	_, busy = b.BeginTx(ctx, nil)
	if unique == nil || busy == nil {
		t.Fatalf("want a unique violation and SQLITE_BUSY, got %v and %v", unique, busy)
	}
	return unique, busy
}

func TestMapSQLiteError(t *testing.T) {
	t.Parallel()
	unique, busy := sqliteErrors(t)
	tests := append(commonCases(),
		errCase{name: "unique violation of the key", err: unique, id: "a", same: errExists},
		errCase{name: "unique violation of another index", err: fmt.Errorf("insert: %w", unique), id: "a",
			want: []error{unique}},
		errCase{name: "busy is unavailable", err: busy, id: "a", want: []error{errdefs.ErrUnavailable, busy}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key := "t.id"
			if tt.name == "unique violation of another index" {
				key = "other.id"
			}
			checkMapped(t, tt, sqlstore.MapSQLiteError(tt.err, "update row", tt.id, key, errExists))
		})
	}
}

func TestMapPostgresError(t *testing.T) {
	t.Parallel()
	pg := func(code, constraint string) error {
		return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, ConstraintName: constraint})
	}
	_, connectErr := pgx.Connect(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=5")
	if _, ok := errors.AsType[*pgconn.ConnectError](connectErr); !ok {
		t.Fatalf("connecting to port 1: got %v, want a *pgconn.ConnectError", connectErr)
	}
	tests := append(commonCases(),
		errCase{name: "unique violation of the key", err: pg("23505", "t_pkey"), id: "a", same: errExists},
		errCase{name: "unique violation of another constraint", err: pg("23505", "t_external_id_key"), id: "a",
			msg: `update row "a": exec: :  (SQLSTATE 23505)`},
		errCase{name: "serialization failure is aborted", err: pg("40001", ""), want: []error{errdefs.ErrAborted}},
		errCase{name: "deadlock is aborted", err: pg("40P01", ""), want: []error{errdefs.ErrAborted}},
		errCase{name: "other PostgreSQL error wrapped", err: pg("23503", "t_fkey"), id: "a",
			msg: `update row "a": exec: :  (SQLSTATE 23503)`},
		errCase{name: "failed connection is unavailable", err: connectErr, want: []error{errdefs.ErrUnavailable, connectErr}},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkMapped(t, tt, sqlstore.MapPostgresError(tt.err, "update row", tt.id, "t_pkey", errExists))
		})
	}
}
