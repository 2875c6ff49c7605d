package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Advisory lock keys, in the two-int4 key space (goose's migration lock
// uses the bigint one, so they cannot collide). lockClass is "ob" + "x".
const (
	lockClass     = 0x6f6278
	notifyChannel = "outbox"
)

// pgInsert takes a transaction lock on the aggregate before the row gets
// its seq, so two transactions writing the same aggregate get their seqs
// in commit order even if the caller did not lock the aggregate's row
// first; and it notifies the relays, which PostgreSQL delivers at commit
// (one notification per transaction).
const pgInsert = `
WITH agg AS (SELECT pg_advisory_xact_lock($1, hashtext($4::text || '/' || $5::text))),
     wake AS (SELECT pg_notify('` + notifyChannel + `', ''))
INSERT INTO outbox (event_id, source, aggregate_type, aggregate_id, aggregate_version, event_type, occur_time, data)
SELECT $2, $3, $4, $5, $6, $7, $8, $9 FROM agg, wake`

// Execer is what InsertPgx needs of a transaction: pgx.Tx, or a
// *pgxpool.Tx, have it.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// InsertPgx adds recs to the outbox of a PostgreSQL database inside the
// caller's transaction tx, so they commit or roll back with the write.
func InsertPgx(ctx context.Context, tx Execer, recs ...Record) error {
	for _, r := range recs {
		if _, err := tx.Exec(ctx, pgInsert, lockClass,
			r.EventID, r.Source, r.AggregateType, r.AggregateID, r.AggregateVersion,
			r.EventType, r.OccurTime, r.Data); err != nil {
			return fmt.Errorf("outbox: insert event %s: %w", r.EventID, err)
		}
	}
	return nil
}

// Postgres is the outbox of a PostgreSQL database, for the Relay.
type Postgres struct {
	cfg *pgx.ConnConfig
	// LeaseRetry is how often a replica that does not relay checks whether
	// the one that does is gone.
	leaseRetry time.Duration
}

var (
	_ Store    = (*Postgres)(nil)
	_ Listener = (*Postgres)(nil)
)

// NewPostgres returns the outbox of the database that cfg connects to
// (e.g. pool.Config().ConnConfig). The relay uses connections of its own,
// outside any pool: one holds the relay lock (a session advisory lock,
// so it goes with the connection should the process die), one listens for
// commits.
func NewPostgres(cfg *pgx.ConnConfig) *Postgres {
	return &Postgres{cfg: cfg.Copy(), leaseRetry: 2 * time.Second}
}

// Backlog implements Store.
func (p *Postgres) Backlog(ctx context.Context) (Backlog, error) {
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return Backlog{}, fmt.Errorf("outbox: backlog: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return pgBacklog(ctx, conn)
}

func pgBacklog(ctx context.Context, conn *pgx.Conn) (Backlog, error) {
	var b Backlog
	var oldest *time.Time
	err := conn.QueryRow(ctx,
		`SELECT count(*), (SELECT occur_time FROM outbox ORDER BY seq LIMIT 1) FROM outbox`).Scan(&b.Count, &oldest)
	if err != nil {
		return Backlog{}, fmt.Errorf("outbox: backlog: %w", err)
	}
	if oldest != nil {
		b.OldestAge = max(0, time.Since(*oldest))
	}
	return b, nil
}

// Lease implements Store: it waits until it holds the relay lock.
func (p *Postgres) Lease(ctx context.Context) (Session, error) {
	for {
		conn, err := pgx.ConnectConfig(ctx, p.cfg)
		if err != nil {
			return nil, fmt.Errorf("outbox: connect: %w", err)
		}
		var ok bool
		// One relay per outbox table: services that keep their tables in
		// schemas of one database each relay their own.
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, hashtext(current_schema()))`, lockClass).Scan(&ok); err != nil {
			conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("outbox: relay lock: %w", err)
		}
		if ok {
			return &pgSession{conn: conn}, nil
		}
		// Another replica relays. Keeping the connection open while we wait
		// would cost a backend per replica for nothing.
		conn.Close(context.WithoutCancel(ctx))
		t := time.NewTimer(p.leaseRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// pgSession relays on the connection that holds the relay lock: if that
// connection breaks, the lock is gone with it and so is every query of
// the session, which makes the relay lease anew.
type pgSession struct{ conn *pgx.Conn }

func (s *pgSession) Fetch(ctx context.Context, limit int) ([]Record, error) {
	rows, err := s.conn.Query(ctx, `
SELECT seq, event_id, source, aggregate_type, aggregate_id, aggregate_version, event_type, occur_time, data
FROM outbox ORDER BY seq LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: fetch: %w", err)
	}
	recs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Record, error) {
		var r Record
		err := row.Scan(&r.Seq, &r.EventID, &r.Source, &r.AggregateType, &r.AggregateID,
			&r.AggregateVersion, &r.EventType, &r.OccurTime, &r.Data)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("outbox: fetch: %w", err)
	}
	return recs, nil
}

func (s *pgSession) Delete(ctx context.Context, seqs []int64) error {
	// By seq, never "up to": a lower seq may still commit after this batch.
	if _, err := s.conn.Exec(ctx, `DELETE FROM outbox WHERE seq = ANY($1)`, seqs); err != nil {
		return fmt.Errorf("outbox: delete published events: %w", err)
	}
	return nil
}

// Close ends the session, and with it the relay lock.
func (s *pgSession) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.conn.Close(ctx)
}

// Listen implements Listener with LISTEN outbox; it reconnects after
// errors, and calls wake after each reconnection too, since notifications
// sent while it was away are lost.
func (p *Postgres) Listen(ctx context.Context, wake func()) {
	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		if err := p.listen(ctx, wake); err != nil && ctx.Err() == nil {
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			delay = min(2*delay, 5*time.Second)
		}
	}
}

func (p *Postgres) listen(ctx context.Context, wake func()) error {
	conn, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+notifyChannel); err != nil {
		return err
	}
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
