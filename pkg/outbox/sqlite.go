package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

const sqliteInsert = `
INSERT INTO outbox (event_id, source, aggregate_type, aggregate_id, aggregate_version, event_type, occur_time, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// InsertTx adds recs to the outbox of an SQLite database inside the
// caller's write transaction, so they commit or roll back with the write.
// SQLite has one writer at a time, so seq order is commit order.
func InsertTx(ctx context.Context, tx *sql.Tx, recs ...Record) error {
	for _, r := range recs {
		if _, err := tx.ExecContext(ctx, sqliteInsert,
			r.EventID, r.Source, r.AggregateType, r.AggregateID, r.AggregateVersion,
			r.EventType, r.OccurTime.UnixMicro(), r.Data); err != nil {
			return fmt.Errorf("outbox: insert event %s: %w", r.EventID, err)
		}
	}
	return nil
}

// SQLite is the outbox of an SQLite database, for the Relay.
type SQLite struct {
	db *sql.DB
}

var _ Store = (*SQLite)(nil)

// NewSQLite returns the outbox in db, which must be able to write (for the
// needs store: its write connection). An SQLite file belongs to one
// process, so Lease never waits.
func NewSQLite(db *sql.DB) *SQLite { return &SQLite{db: db} }

// Lease implements Store.
func (s *SQLite) Lease(context.Context) (Session, error) { return sqliteSession{s.db}, nil }

// Backlog implements Store.
func (s *SQLite) Backlog(ctx context.Context) (Backlog, error) {
	var b Backlog
	var oldest sql.NullInt64
	err := s.db.QueryRowContext(ctx,
		`SELECT count(*), (SELECT occur_time FROM outbox ORDER BY seq LIMIT 1) FROM outbox`).Scan(&b.Count, &oldest)
	if err != nil {
		return Backlog{}, fmt.Errorf("outbox: backlog: %w", err)
	}
	if oldest.Valid {
		b.OldestAge = max(0, time.Since(time.UnixMicro(oldest.Int64)))
	}
	return b, nil
}

type sqliteSession struct{ db *sql.DB }

func (s sqliteSession) Fetch(ctx context.Context, limit int) ([]Record, error) {
	rows, err := s.db.QueryContext(ctx, `
SELECT seq, event_id, source, aggregate_type, aggregate_id, aggregate_version, event_type, occur_time, data
FROM outbox ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: fetch: %w", err)
	}
	defer rows.Close()
	var recs []Record
	for rows.Next() {
		var r Record
		var us int64
		if err := rows.Scan(&r.Seq, &r.EventID, &r.Source, &r.AggregateType, &r.AggregateID,
			&r.AggregateVersion, &r.EventType, &us, &r.Data); err != nil {
			return nil, fmt.Errorf("outbox: fetch: %w", err)
		}
		r.OccurTime = time.UnixMicro(us)
		recs = append(recs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: fetch: %w", err)
	}
	return recs, nil
}

func (s sqliteSession) Delete(ctx context.Context, seqs []int64) error {
	list, err := json.Marshal(seqs)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx,
		`DELETE FROM outbox WHERE seq IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
		return fmt.Errorf("outbox: delete published events: %w", err)
	}
	return nil
}

func (sqliteSession) Close() {}
