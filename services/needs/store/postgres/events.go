package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/services/needs/need"
)

// Recorder turns a write into the outbox rows of its domain events;
// needevents.Recorder is one. version is the need's aggregate version for
// the first row returned, the next row gets version+1 and so on. Both
// methods run inside the write's transaction, after fn, and must not call
// the store.
type Recorder interface {
	// ForNeed is called for Create (before nil), Update and Delete (after
	// nil).
	ForNeed(ctx context.Context, version int64, before, after *need.Need) ([]outbox.Record, error)
	// ForResponse is called for UpdateResponse; before is nil when the
	// vendor had no response yet.
	ForResponse(ctx context.Context, version int64, n *need.Need, before, after *need.Response) ([]outbox.Record, error)
}

// Option configures Open.
type Option func(*Store)

// WithEvents makes every write insert its events, built by rec, into the
// outbox of the store's schema in the write's transaction. Without it the
// store emits nothing.
func WithEvents(rec Recorder) Option { return func(s *Store) { s.events = rec } }

// outboxMigration adds the outbox table (pkg/outbox) as migration 3.
var outboxMigration = sqlstore.DDLMigration(3, outbox.PostgresDDL, outbox.DropDDL)

// Outbox returns the outbox of the store's schema, for the outbox.Relay
// that publishes the events of WithEvents. Its connections have the
// store's search_path, so its relay lock is the schema's: the relays of
// registries that share a database do not exclude each other.
func (s *Store) Outbox() outbox.Store { return outbox.NewPostgres(s.pool.Config().ConnConfig) }

// OnCommit makes the store call f after every commit that inserted events
// (give it the relay's Notify; relays of other replicas hear of it through
// LISTEN/NOTIFY). f must not block.
func (s *Store) OnCommit(f func()) { s.onCommit.Store(&f) }

// committed runs the OnCommit hook if the transaction emitted.
func (s *Store) committed(emitted bool) {
	if f := s.onCommit.Load(); emitted && f != nil {
		(*f)()
	}
}

// emit bumps the event counter of the need and inserts the events build
// returns for it into the outbox, all in tx. The counter's row lock
// serialises the emitting transactions of a need even where the need's
// row is new (Create) or gone (Delete). It reports whether it inserted
// any.
func (s *Store) emit(ctx context.Context, tx pgx.Tx, needID string, build func(version int64) ([]outbox.Record, error)) (bool, error) {
	if s.events == nil {
		return false, nil
	}
	var version int64
	if err := tx.QueryRow(ctx, `
		INSERT INTO need_event_versions AS v (need_id, version) VALUES ($1, 1)
		ON CONFLICT (need_id) DO UPDATE SET version = v.version + 1
		RETURNING version`, needID).Scan(&version); err != nil {
		return false, fmt.Errorf("event version: %w", err)
	}
	recs, err := build(version)
	if err != nil {
		return false, fmt.Errorf("events: %w", err)
	}
	if len(recs) > 1 {
		if _, err := tx.Exec(ctx, `UPDATE need_event_versions SET version = $1 WHERE need_id = $2`,
			version+int64(len(recs))-1, needID); err != nil {
			return false, fmt.Errorf("event version: %w", err)
		}
	}
	if err := outbox.InsertPgx(ctx, tx, recs...); err != nil {
		return false, err
	}
	return len(recs) > 0, nil
}
