// Package outbox is the transactional outbox of the registries: a write
// inserts its domain event into the table outbox of its own database, in
// its own transaction, and a Relay publishes the table's rows to the event
// bus (pkg/eventbus) in insertion order, deleting each only after the bus
// acknowledged it. So an acknowledged write's event is never lost: not
// when the bus is down (the rows wait, the relay retries with backoff),
// not when the process dies between commit and publish (the next Relay on
// the database publishes them). It may be published twice (the process
// dies between publish and delete), which consumers absorb with
// eventbus.Idempotent.
//
// # Using it from a store
//
// Schema: add the table with a goose Go migration that runs the frozen
// statement of the engine (PostgresDDL or SQLiteDDL; DropDDL for down):
//
//	goose.WithGoMigrations(goose.NewGoMigration(2,
//		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
//			_, err := tx.ExecContext(ctx, outbox.SQLiteDDL)
//			return err
//		}},
//		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
//			_, err := tx.ExecContext(ctx, outbox.DropDDL)
//			return err
//		}}))
//
// Writes: build the event with NewRecord (outside or inside the
// transaction) and call InsertTx (SQLite, database/sql) or InsertPgx
// (PostgreSQL, pgx) inside the write's transaction, after the aggregate's
// row was written; after the commit call Relay.Notify.
//
// Run one Relay per database in the service's process (NewSQLite or
// NewPostgres). With PostgreSQL every replica may run one: a session
// advisory lock lets one relay at a time, and LISTEN/NOTIFY wakes it on
// any replica's commit.
package outbox

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
)

// The outbox table, version 1, for each engine. These strings are frozen:
// migrations that ran them must keep meaning the same table. A future
// change comes as a new exported statement (e.g. PostgresDDL2) that
// services add as a new migration.
var (
	//go:embed schema/postgres.sql
	PostgresDDL string
	//go:embed schema/sqlite.sql
	SQLiteDDL string
)

// DropDDL removes the table again (goose down), on either engine.
const DropDDL = `DROP TABLE outbox`

// Record is one row of the outbox: the marshalled envelope and the fields
// the relay and the status command need without unmarshalling it.
type Record struct {
	Seq              int64 // insertion order; set by the outbox
	EventID          string
	Source           string
	AggregateType    string
	AggregateID      string
	AggregateVersion int64
	EventType        string
	OccurTime        time.Time
	Data             []byte // the marshalled eventsv1.Event
}

// Event describes a domain event for NewRecord.
type Event struct {
	Source           string // the emitting service, e.g. "needs"
	AggregateType    string // e.g. "need"
	AggregateID      string
	AggregateVersion int64  // the aggregate's revision after the write; must grow per event
	Actor            string // the subject who wrote, "" for the system
	OccurTime        time.Time
	Payload          proto.Message // e.g. a *needseventsv1.NeedPublished
}

// NewRecord builds the envelope of e, with a new UUIDv7 id and the W3C
// traceparent of ctx's span, and returns it as an outbox row.
func NewRecord(ctx context.Context, e Event) (Record, error) {
	if e.Source == "" || e.AggregateType == "" || e.AggregateID == "" || e.Payload == nil {
		return Record{}, errors.New("outbox: event needs a source, an aggregate type and id, and a payload")
	}
	if e.OccurTime.IsZero() {
		e.OccurTime = time.Now()
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Record{}, fmt.Errorf("outbox: event id: %w", err)
	}
	payload, err := anypb.New(e.Payload)
	if err != nil {
		return Record{}, fmt.Errorf("outbox: payload: %w", err)
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	ev := &eventsv1.Event{
		Id:               id.String(),
		Source:           e.Source,
		AggregateType:    e.AggregateType,
		AggregateId:      e.AggregateID,
		AggregateVersion: e.AggregateVersion,
		Type:             string(e.Payload.ProtoReflect().Descriptor().FullName()),
		OccurTime:        timestamppb.New(e.OccurTime),
		Actor:            e.Actor,
		Traceparent:      carrier.Get("traceparent"),
		Payload:          payload,
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(ev)
	if err != nil {
		return Record{}, fmt.Errorf("outbox: marshal event: %w", err)
	}
	return Record{
		EventID:          ev.Id,
		Source:           ev.Source,
		AggregateType:    ev.AggregateType,
		AggregateID:      ev.AggregateId,
		AggregateVersion: ev.AggregateVersion,
		EventType:        ev.Type,
		OccurTime:        e.OccurTime,
		Data:             data,
	}, nil
}

// Backlog is what the outbox holds: events committed and not yet
// acknowledged by the bus.
type Backlog struct {
	Count     int64
	OldestAge time.Duration // 0 when Count is 0
}

// Store is an outbox table as the Relay sees it. NewSQLite and NewPostgres
// make one.
type Store interface {
	// Lease waits until this process may relay (at most one relay per
	// database at a time) and returns the session to do it with. The relay
	// closes the session when it stops or the session fails.
	Lease(ctx context.Context) (Session, error)
	// Backlog counts the rows waiting.
	Backlog(ctx context.Context) (Backlog, error)
}

// Session is a Store leased to one relay.
type Session interface {
	// Fetch returns up to limit rows, lowest seq first.
	Fetch(ctx context.Context, limit int) ([]Record, error)
	// Delete removes the rows with these seqs.
	Delete(ctx context.Context, seqs []int64) error
	// Close gives up the lease.
	Close()
}

// Listener is a Store that can tell of commits of other processes (the
// relay calls Listen in a goroutine of its own if the store is one).
type Listener interface {
	// Listen calls wake after each commit that inserted into the outbox,
	// until ctx is done.
	Listen(ctx context.Context, wake func())
}
