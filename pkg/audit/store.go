package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Step is one step of the audit table's schema: a store runs each step of
// SQLiteSchema (PostgresSchema) as one of its migrations, in order.
type Step struct{ Up, Down string }

const sqliteTable = `(
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
) STRICT`

// SQLiteSchema creates the audit table of an SQLite database. The second
// step keeps the entries in their primary key's B-tree alone (WITHOUT
// ROWID) and drops the time index: every commit then writes one page of
// the trail instead of three (lists select by resource and sort the few
// rows they find).
var SQLiteSchema = []Step{
	{
		Up:   `CREATE TABLE audit_entries ` + sqliteTable + `; CREATE INDEX audit_entries_time ON audit_entries (time, resource, seq);`,
		Down: dropDDL,
	},
	{
		Up: `CREATE TABLE audit_entries_new ` + sqliteTable + `, WITHOUT ROWID;
INSERT INTO audit_entries_new (` + columns + `) SELECT ` + columns + ` FROM audit_entries;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_new RENAME TO audit_entries;`,
		Down: `CREATE TABLE audit_entries_old ` + sqliteTable + `;
INSERT INTO audit_entries_old (` + columns + `) SELECT ` + columns + ` FROM audit_entries;
DROP TABLE audit_entries;
ALTER TABLE audit_entries_old RENAME TO audit_entries;
CREATE INDEX audit_entries_time ON audit_entries (time, resource, seq);`,
	},
}

// PostgresSchema creates the audit table of a PostgreSQL schema; its
// second step drops the time index, as on SQLite.
var PostgresSchema = []Step{
	{
		Up: `CREATE TABLE audit_entries (
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
CREATE INDEX audit_entries_time ON audit_entries (time, resource, seq);`,
		Down: dropDDL,
	},
	{
		Up:   `DROP INDEX audit_entries_time`,
		Down: `CREATE INDEX audit_entries_time ON audit_entries (time, resource, seq)`,
	},
}

const dropDDL = `DROP TABLE audit_entries`

const columns = `resource, seq, time, subject, organization, roles, method, request_id, trace_id, changes, prev_hash, hash`

// Chains appends entries to the chains of one database. It remembers the
// head of each chain it last appended to and writes the next entry after
// it with one guarded INSERT, which writes nothing unless that head is
// still the chain's head; only then does it read the head and insert
// again. A remembered head can be wrong (its transaction rolled back,
// another process appended) but never does harm, and a new resource's
// chain is guessed empty, so that most appends are one statement. The
// zero Chains is ready to use; a store keeps one for its database.
type Chains struct {
	mu     sync.Mutex
	heads  map[string]head
	insert *sql.Stmt // PrepareSQLite
}

// Entry returns the entry of a change of resource from before to after, as
// New does, or nil when there is nothing to record, because nothing but the
// fields in skip changed or c is nil (a store without a trail). A create
// can call it before its transaction: the diff needs nothing from the
// database, and the transaction then holds its locks shorter.
func (c *Chains) Entry(ctx context.Context, resource string, before, after any, skip ...string) (*Entry, error) {
	if c == nil {
		return nil, nil
	}
	e, ok, err := New(ctx, resource, before, after, skip...)
	if err != nil || !ok {
		return nil, err
	}
	return &e, nil
}

// PrepareSQLite prepares the insert on db, the store's write pool, so that
// an append does not compile it again (SQLite's drivers keep no statement
// cache; compiling it costs more than running it). Call it once the
// schema is migrated, before the first transaction, and Close with the
// store.
func (c *Chains) PrepareSQLite(ctx context.Context, db *sql.DB) error {
	st, err := db.PrepareContext(ctx, insertSQLite)
	if err != nil {
		return fmt.Errorf("audit: prepare insert: %w", err)
	}
	c.insert = st
	return nil
}

// Close releases the prepared statement.
func (c *Chains) Close() error {
	if c.insert == nil {
		return nil
	}
	return c.insert.Close()
}

type head struct {
	seq  int64
	hash string
}

// maxHeads bounds the heads a Chains remembers; when full it forgets them
// all, which costs a head read per chain once.
const maxHeads = 10_000

func (c *Chains) guess(resource string) head {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.heads[resource]
}

func (c *Chains) remember(resource string, h head) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.heads == nil || len(c.heads) >= maxHeads {
		c.heads = make(map[string]head)
	}
	c.heads[resource] = h
}

// The guarded inserts: the new entry (resource, seq, ..., prev_hash) is
// written only if no entry of the resource has its seq or a later one and,
// unless it is the first, its predecessor is the entry it links to.
const (
	insertSQLite = `INSERT INTO audit_entries (` + columns + `)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12
WHERE NOT EXISTS (SELECT 1 FROM audit_entries WHERE resource = ?1 AND seq >= ?2)
  AND (?2 = 1 OR EXISTS (SELECT 1 FROM audit_entries WHERE resource = ?1 AND seq = ?2 - 1 AND hash = ?11))`
	insertPgx = `INSERT INTO audit_entries (` + columns + `)
SELECT $1::text, $2::bigint, $3::timestamptz, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text, $11::text, $12::text
WHERE NOT EXISTS (SELECT 1 FROM audit_entries WHERE resource = $1 AND seq >= $2)
  AND ($2 = 1 OR EXISTS (SELECT 1 FROM audit_entries WHERE resource = $1 AND seq = $2 - 1 AND hash = $11))`
	selectHead = `SELECT seq, hash FROM audit_entries WHERE resource = %s ORDER BY seq DESC LIMIT 1`
)

// AppendSQLite appends e to its resource's chain inside the caller's
// write transaction; a nil e is nothing to append. SQLite has one writer
// at a time, so the head the insert checks is still the head at commit.
func (c *Chains) AppendSQLite(ctx context.Context, tx *sql.Tx, e *Entry) error {
	if e == nil {
		return nil
	}
	insert := func(h head) (bool, error) {
		changes, err := seal(e, h.seq, h.hash)
		if err != nil {
			return false, err
		}
		exec := func(ctx context.Context, args ...any) (sql.Result, error) {
			return tx.ExecContext(ctx, insertSQLite, args...)
		}
		if c.insert != nil {
			exec = tx.StmtContext(ctx, c.insert).ExecContext
		}
		res, err := exec(ctx,
			e.Resource, e.Seq, e.Time.UnixMicro(), e.Actor.Subject, e.Actor.Organization, strings.Join(e.Actor.Roles, ","),
			e.Method, e.RequestID, e.TraceID, string(changes), e.PrevHash, e.Hash)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n == 1, err
	}
	readHead := func() (head, error) {
		var h head
		err := tx.QueryRowContext(ctx, fmt.Sprintf(selectHead, "?"), e.Resource).Scan(&h.seq, &h.hash)
		if errors.Is(err, sql.ErrNoRows) {
			err = nil
		}
		return h, err
	}
	return c.append(e, insert, readHead)
}

// lockClass is the advisory lock space of the chains ("aud"), apart from
// the outbox's.
const lockClass = 0x617564

// AppendPgx appends e to its resource's chain inside the caller's
// transaction; a nil e is nothing to append. A transaction-scoped advisory
// lock on the resource holds other writers of the chain back until commit,
// whether or not the caller locked the resource's row (a create has none
// yet); it goes to the server in one round trip with the insert, which
// under READ COMMITTED sees the chain as committed when the lock was
// granted.
func (c *Chains) AppendPgx(ctx context.Context, tx pgx.Tx, e *Entry) error {
	if e == nil {
		return nil
	}
	locked := false
	insert := func(h head) (bool, error) {
		changes, err := seal(e, h.seq, h.hash)
		if err != nil {
			return false, err
		}
		b := &pgx.Batch{}
		if !locked {
			b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, lockClass, e.Resource)
		}
		b.Queue(insertPgx, e.Resource, e.Seq, e.Time, e.Actor.Subject, e.Actor.Organization, strings.Join(e.Actor.Roles, ","),
			e.Method, e.RequestID, e.TraceID, string(changes), e.PrevHash, e.Hash)
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if !locked {
			if _, err := br.Exec(); err != nil {
				return false, fmt.Errorf("lock: %w", err)
			}
			locked = true
		}
		tag, err := br.Exec()
		if err != nil {
			return false, err
		}
		return tag.RowsAffected() == 1, br.Close()
	}
	readHead := func() (head, error) {
		var h head
		err := tx.QueryRow(ctx, fmt.Sprintf(selectHead, "$1"), e.Resource).Scan(&h.seq, &h.hash)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
		return h, err
	}
	return c.append(e, insert, readHead)
}

// append inserts e after the remembered head and, if that was not the
// head, after the head read.
func (c *Chains) append(e *Entry, insert func(head) (bool, error), readHead func() (head, error)) error {
	ok, err := insert(c.guess(e.Resource))
	if err == nil && !ok {
		var h head
		if h, err = readHead(); err == nil {
			if ok, err = insert(h); err == nil && !ok {
				err = errors.New("chain changed under the lock")
			}
		}
	}
	if err != nil {
		return fmt.Errorf("audit: append to %s: %w", e.Resource, err)
	}
	c.remember(e.Resource, head{seq: e.Seq, hash: e.Hash})
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
// placeholders ("?" for SQLite, "$n" for PostgreSQL). With byteOrder the
// children are selected as the range of names from "x/" to "x0" ('0'
// follows '/'), which the primary key serves where text compares as bytes
// (SQLite); else with LIKE.
func (q Query) sql(ph func(int) string, t func(time.Time) any, byteOrder bool) (string, []any) {
	args := []any{q.Resource}
	where := "(resource = " + ph(1)
	switch {
	case q.Children && byteOrder:
		args = append(args, q.Resource+"/", q.Resource+"0")
		where += " OR (resource >= " + ph(2) + " AND resource < " + ph(3) + ")"
	case q.Children:
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
	stmt, args := q.sql(func(int) string { return "?" }, func(t time.Time) any { return t.UnixMicro() }, true)
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
	stmt, args := q.sql(func(n int) string { return fmt.Sprintf("$%d", n) }, func(t time.Time) any { return t }, false)
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
