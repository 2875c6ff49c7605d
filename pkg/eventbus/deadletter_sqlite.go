package eventbus

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/govmatch/govmatch/pkg/sqlstore"
)

// SQLiteDeadLetters keeps dead letters in an SQLite file (in the monolith
// data/deadletters.db): they outlive the process, and the govmatch CLI reads and
// marks them while the server runs. WAL and busy_timeout let both
// processes use the file at once; every write is one statement, so no
// transaction spans a process boundary.
type SQLiteDeadLetters struct {
	db *sql.DB
}

var _ DeadLetters = (*SQLiteDeadLetters)(nil)

// synchronous(FULL), as the registries' stores: a dead letter is the only
// copy of its event once the bus moved on.
const deadLetterDSN = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"

// A change is a new statement run after this one, never an edit: files
// made by older versions must keep opening.
const deadLetterSchema = `
CREATE TABLE IF NOT EXISTS dead_letters (
    stream           TEXT    NOT NULL,
    consumer_group   TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    aggregate        TEXT    NOT NULL, -- eventbus.AggregateKey
    event_type       TEXT    NOT NULL,
    attempts         INTEGER NOT NULL,
    last_error       TEXT    NOT NULL,
    first_failure    INTEGER NOT NULL, -- microseconds since the Unix epoch
    last_failure     INTEGER NOT NULL,
    replay_requested INTEGER,          -- microseconds; NULL: none pending
    data             BLOB    NOT NULL, -- the marshalled govmatch.events.v1.Event
    PRIMARY KEY (stream, consumer_group, event_id)
) STRICT`

// OpenSQLiteDeadLetters opens the dead letters in the SQLite file at path,
// creating it (sqlstore.FileMode) and its directory if need
// be.
func OpenSQLiteDeadLetters(ctx context.Context, path string) (*SQLiteDeadLetters, error) {
	if strings.Contains(path, "?") || path == "" {
		return nil, fmt.Errorf("eventbus: dead letters: want an SQLite file path, got %q", path)
	}
	// Events carry drafts: the file is for this process's owner alone.
	if err := sqlstore.PrepareFile(path); err != nil {
		return nil, fmt.Errorf("eventbus: dead letters: %w", err)
	}
	db, err := sql.Open("sqlite", path+"?"+deadLetterDSN)
	if err != nil {
		return nil, fmt.Errorf("eventbus: dead letters: %w", err)
	}
	// Dead letters are rare and small; one connection is plenty, and with
	// it the process is one writer among those the busy_timeout arbitrates.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, deadLetterSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("eventbus: dead letters: create schema in %s: %w", path, err)
	}
	return &SQLiteDeadLetters{db: db}, nil
}

// Close closes the database.
func (s *SQLiteDeadLetters) Close() error { return s.db.Close() }

// Put implements DeadLetters. In the upsert, bare column names are the
// stored row's, excluded.* the new values.
func (s *SQLiteDeadLetters) Put(ctx context.Context, dl DeadLetter) error {
	_, err := s.db.ExecContext(ctx, `
INSERT INTO dead_letters (stream, consumer_group, event_id, aggregate, event_type, attempts,
                          last_error, first_failure, last_failure, replay_requested, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)
ON CONFLICT (stream, consumer_group, event_id) DO UPDATE SET
    aggregate        = excluded.aggregate,
    event_type       = excluded.event_type,
    attempts         = attempts + excluded.attempts,
    last_error       = excluded.last_error,
    first_failure    = min(first_failure, excluded.first_failure),
    last_failure     = max(last_failure, excluded.last_failure),
    replay_requested = CASE WHEN replay_requested = ? THEN NULL ELSE replay_requested END,
    data             = excluded.data`,
		dl.Stream, dl.Group, dl.ID, dl.Aggregate, dl.Type, dl.Attempts,
		dl.LastError, micros(dl.FirstFailure), micros(dl.LastFailure), dl.Data,
		micros(dl.ReplayRequested))
	if err != nil {
		return fmt.Errorf("eventbus: put dead letter %s: %w", dl.ID, err)
	}
	return nil
}

// where is the WHERE clause of f and its arguments.
func (f Filter) where() (string, []any) {
	var conds []string
	var args []any
	for _, c := range []struct{ col, val string }{
		{"stream", f.Stream}, {"consumer_group", f.Group}, {"event_id", f.ID},
	} {
		if c.val != "" {
			conds = append(conds, c.col+" = ?")
			args = append(args, c.val)
		}
	}
	if f.ReplayRequested {
		conds = append(conds, "replay_requested IS NOT NULL")
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// List implements DeadLetters.
func (s *SQLiteDeadLetters) List(ctx context.Context, f Filter) ([]DeadLetter, error) {
	where, args := f.where()
	rows, err := s.db.QueryContext(ctx, `
SELECT stream, consumer_group, event_id, aggregate, event_type, attempts, last_error,
       first_failure, last_failure, replay_requested, data
FROM dead_letters`+where+`
ORDER BY first_failure, stream, consumer_group, event_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("eventbus: list dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var (
			dl          DeadLetter
			first, last int64
			replay      sql.NullInt64
		)
		if err := rows.Scan(&dl.Stream, &dl.Group, &dl.ID, &dl.Aggregate, &dl.Type, &dl.Attempts,
			&dl.LastError, &first, &last, &replay, &dl.Data); err != nil {
			return nil, fmt.Errorf("eventbus: list dead letters: %w", err)
		}
		dl.FirstFailure, dl.LastFailure = fromMicros(first), fromMicros(last)
		if replay.Valid {
			dl.ReplayRequested = fromMicros(replay.Int64)
		}
		out = append(out, dl)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("eventbus: list dead letters: %w", err)
	}
	return out, nil
}

// Count implements DeadLetters.
func (s *SQLiteDeadLetters) Count(ctx context.Context, stream, group string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx,
		`SELECT count(*) FROM dead_letters WHERE stream = ? AND consumer_group = ?`, stream, group).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("eventbus: count dead letters: %w", err)
	}
	return n, nil
}

// RequestReplay implements DeadLetters.
func (s *SQLiteDeadLetters) RequestReplay(ctx context.Context, f Filter) (int, error) {
	f.ReplayRequested = false // a pending request is renewed, not skipped
	where, args := f.where()
	res, err := s.db.ExecContext(ctx, `UPDATE dead_letters SET replay_requested = ?`+where,
		append([]any{micros(time.Now())}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("eventbus: request replay: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("eventbus: request replay: %w", err)
	}
	return int(n), nil
}

// Delete implements DeadLetters.
func (s *SQLiteDeadLetters) Delete(ctx context.Context, stream, group, id string) error {
	_, err := s.db.ExecContext(ctx,
		`DELETE FROM dead_letters WHERE stream = ? AND consumer_group = ? AND event_id = ?`, stream, group, id)
	if err != nil {
		return fmt.Errorf("eventbus: delete dead letter %s: %w", id, err)
	}
	return nil
}

// micros is t as a column value: microseconds since the Unix epoch, NULL
// for the zero time.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }
