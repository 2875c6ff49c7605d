package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// SQLiteDDL creates the audit table of an SQLite database; run it in a
// migration of the service's store.
const SQLiteDDL = `
CREATE TABLE audit_entries (
    resource     TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    time         INTEGER NOT NULL, -- microseconds since the Unix epoch
    subject      TEXT    NOT NULL,
    organization TEXT    NOT NULL,
    roles        TEXT    NOT NULL, -- comma-separated
    method       TEXT    NOT NULL,
    request_id   TEXT    NOT NULL,
    trace_id     TEXT    NOT NULL,
    changes      TEXT    NOT NULL, -- JSON, as hashed
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL,
    PRIMARY KEY (resource, seq)
) STRICT;
CREATE INDEX audit_entries_time ON audit_entries (time, resource, seq);`

// PostgresDDL creates the audit table of a PostgreSQL schema.
const PostgresDDL = `
CREATE TABLE audit_entries (
    resource     text        NOT NULL,
    seq          bigint      NOT NULL,
    time         timestamptz NOT NULL,
    subject      text        NOT NULL,
    organization text        NOT NULL,
    roles        text        NOT NULL,
    method       text        NOT NULL,
    request_id   text        NOT NULL,
    trace_id     text        NOT NULL,
    changes      text        NOT NULL,
    prev_hash    text        NOT NULL,
    hash         text        NOT NULL,
    PRIMARY KEY (resource, seq)
);
CREATE INDEX audit_entries_time ON audit_entries (time, resource, seq);`

// DropDDL removes the table again (a migration's down step).
const DropDDL = `DROP TABLE audit_entries`

const columns = `resource, seq, time, subject, organization, roles, method, request_id, trace_id, changes, prev_hash, hash`

// InsertSQLite appends e to its resource's chain inside the caller's
// write transaction. SQLite has one writer at a time, so the head read
// here is still the head at commit.
func InsertSQLite(ctx context.Context, tx *sql.Tx, e *Entry) error {
	var prevSeq int64
	var prevHash string
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_entries WHERE resource = ? ORDER BY seq DESC LIMIT 1`,
		e.Resource).Scan(&prevSeq, &prevHash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("audit: chain head of %s: %w", e.Resource, err)
	}
	changes, err := seal(e, prevSeq, prevHash)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO audit_entries (`+columns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Resource, e.Seq, e.Time.UnixMicro(), e.Actor.Subject, e.Actor.Organization, strings.Join(e.Actor.Roles, ","),
		e.Method, e.RequestID, e.TraceID, string(changes), e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("audit: append to %s: %w", e.Resource, err)
	}
	return nil
}

// lockClass is the advisory lock space of the chains ("aud"), apart from
// the outbox's.
const lockClass = 0x617564

// InsertPgx appends e to its resource's chain inside the caller's
// transaction. A transaction-scoped advisory lock on the resource holds
// other writers of the chain back until commit, whether or not the caller
// locked the resource's row (a create has none yet).
func InsertPgx(ctx context.Context, tx pgx.Tx, e *Entry) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClass, e.Resource); err != nil {
		return fmt.Errorf("audit: lock chain of %s: %w", e.Resource, err)
	}
	var prevSeq int64
	var prevHash string
	err := tx.QueryRow(ctx, `SELECT seq, hash FROM audit_entries WHERE resource = $1 ORDER BY seq DESC LIMIT 1`,
		e.Resource).Scan(&prevSeq, &prevHash)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("audit: chain head of %s: %w", e.Resource, err)
	}
	changes, err := seal(e, prevSeq, prevHash)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_entries (`+columns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.Resource, e.Seq, e.Time, e.Actor.Subject, e.Actor.Organization, strings.Join(e.Actor.Roles, ","),
		e.Method, e.RequestID, e.TraceID, string(changes), e.PrevHash, e.Hash)
	if err != nil {
		return fmt.Errorf("audit: append to %s: %w", e.Resource, err)
	}
	return nil
}

// Query selects entries: those of Resource and, with Children, of the
// resources below it (a need's responses), oldest first, after After.
type Query struct {
	Resource string
	Children bool
	After    *Cursor
	Limit    int
}

// Cursor is a position in the (time, resource, seq) order of Query.
type Cursor struct {
	Time     time.Time
	Resource string
	Seq      int64
}

// Cursor returns the position of e, for the next page.
func (e Entry) Cursor() Cursor { return Cursor{Time: e.Time, Resource: e.Resource, Seq: e.Seq} }

// SQL is the common part of the two engines' queries; ph numbers the
// placeholders ("?" for SQLite, "$n" for PostgreSQL).
func (q Query) sql(ph func(int) string, t func(time.Time) any) (string, []any) {
	args := []any{q.Resource}
	where := "(resource = " + ph(1)
	if q.Children {
		args = append(args, escapeLike(q.Resource)+"/%")
		where += " OR resource LIKE " + ph(2) + ` ESCAPE '\'`
	}
	where += ")"
	if q.After != nil {
		n := len(args)
		args = append(args, t(q.After.Time), q.After.Resource, q.After.Seq)
		where += fmt.Sprintf(" AND (time, resource, seq) > (%s, %s, %s)", ph(n+1), ph(n+2), ph(n+3))
	}
	args = append(args, max(q.Limit, 1))
	return `SELECT ` + columns + ` FROM audit_entries WHERE ` + where +
		` ORDER BY time, resource, seq LIMIT ` + ph(len(args)), args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ListSQLite returns the entries q selects.
func ListSQLite(ctx context.Context, db *sql.DB, q Query) ([]Entry, error) {
	stmt, args := q.sql(func(int) string { return "?" }, func(t time.Time) any { return t.UnixMicro() })
	rows, err := db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, _, err := scanSQLite(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PgxQuerier is what ListPgx and VerifyPgx need: a pool, a connection or
// a transaction.
type PgxQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ListPgx returns the entries q selects.
func ListPgx(ctx context.Context, db PgxQuerier, q Query) ([]Entry, error) {
	stmt, args := q.sql(func(n int) string { return fmt.Sprintf("$%d", n) }, func(t time.Time) any { return t })
	rows, err := db.Query(ctx, stmt, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, _, err := scanPgx(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanSQLite(rows scanner) (Entry, []byte, error) {
	var e Entry
	var micros int64
	var roles, changes string
	if err := rows.Scan(&e.Resource, &e.Seq, &micros, &e.Actor.Subject, &e.Actor.Organization, &roles,
		&e.Method, &e.RequestID, &e.TraceID, &changes, &e.PrevHash, &e.Hash); err != nil {
		return Entry{}, nil, fmt.Errorf("audit: scan: %w", err)
	}
	e.Time = time.UnixMicro(micros).UTC()
	return finish(e, roles, changes)
}

func scanPgx(rows scanner) (Entry, []byte, error) {
	var e Entry
	var roles, changes string
	if err := rows.Scan(&e.Resource, &e.Seq, &e.Time, &e.Actor.Subject, &e.Actor.Organization, &roles,
		&e.Method, &e.RequestID, &e.TraceID, &changes, &e.PrevHash, &e.Hash); err != nil {
		return Entry{}, nil, fmt.Errorf("audit: scan: %w", err)
	}
	e.Time = e.Time.UTC()
	return finish(e, roles, changes)
}

func finish(e Entry, roles, changes string) (Entry, []byte, error) {
	if roles != "" {
		e.Actor.Roles = strings.Split(roles, ",")
	}
	// An entry whose changes are no longer JSON is reported by Verify
	// (its hash no longer matches); listing shows it without them.
	_ = json.Unmarshal([]byte(changes), &e.Changes)
	return e, []byte(changes), nil
}
