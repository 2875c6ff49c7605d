package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/wrapperspb"
	_ "modernc.org/sqlite"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/pkg/testdb"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testdb.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// db is a service's database in miniature: a table of versioned items and
// the outbox, written together in one transaction as a store would.
type db struct {
	// write bumps the item's version and emits its event, in one
	// transaction.
	write func(ctx context.Context, id string) error
	// store opens the outbox anew, as a new process would.
	store func() outbox.Store
}

type engine struct {
	name string
	open func(t testing.TB) db
}

var engines = []engine{
	{"SQLite", openSQLite},
	{"PostgreSQL", openPostgres},
}

const source = "items"

func record(ctx context.Context, id string, version int64) (outbox.Record, error) {
	return outbox.NewRecord(ctx, outbox.Event{
		Source:           source,
		AggregateType:    "item",
		AggregateID:      id,
		AggregateVersion: version,
		Payload:          wrapperspb.Int64(version),
	})
}

func openSQLite(t testing.TB) db {
	path := filepath.Join(t.TempDir(), "items.db")
	dsn := path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	open := func() *sql.DB {
		d, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		d.SetMaxOpenConns(1) // one writer, as the stores do
		t.Cleanup(func() { _ = d.Close() })
		return d
	}
	w := open()
	for _, stmt := range []string{
		`CREATE TABLE items (id TEXT PRIMARY KEY, version INTEGER NOT NULL) STRICT`,
		outbox.SQLiteDDL,
	} {
		if _, err := w.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	return db{
		write: func(ctx context.Context, id string) error {
			tx, err := w.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			var v int64
			if err := tx.QueryRowContext(ctx, `
INSERT INTO items (id, version) VALUES (?, 1)
ON CONFLICT (id) DO UPDATE SET version = version + 1
RETURNING version`, id).Scan(&v); err != nil {
				return err
			}
			rec, err := record(ctx, id, v)
			if err != nil {
				return err
			}
			if err := outbox.InsertTx(ctx, tx, rec); err != nil {
				return err
			}
			return tx.Commit()
		},
		store: func() outbox.Store { return outbox.NewSQLite(open()) },
	}
}

func openPostgres(t testing.TB) db {
	dsn := testdb.Postgres(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for _, stmt := range []string{
		`CREATE TABLE items (id text PRIMARY KEY, version bigint NOT NULL)`,
		outbox.PostgresDDL,
	} {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	return db{
		write: func(ctx context.Context, id string) error {
			return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				var v int64
				if err := tx.QueryRow(ctx, `
INSERT INTO items (id, version) VALUES ($1, 1)
ON CONFLICT (id) DO UPDATE SET version = items.version + 1
RETURNING version`, id).Scan(&v); err != nil {
					return err
				}
				rec, err := record(ctx, id, v)
				if err != nil {
					return err
				}
				return outbox.InsertPgx(ctx, tx, rec)
			})
		},
		store: func() outbox.Store { return outbox.NewPostgres(pool.Config().ConnConfig) },
	}
}

// fastRelay is a relay with short waits, so tests do not idle.
func fastRelay(s outbox.Store, bus eventbus.Publisher) *outbox.Relay {
	return meteredRelay(s, bus, nil)
}

func meteredRelay(s outbox.Store, bus eventbus.Publisher, mp metric.MeterProvider) *outbox.Relay {
	return outbox.NewRelay(s, bus, outbox.RelayOptions{
		PollInterval:  50 * time.Millisecond,
		MinBackoff:    10 * time.Millisecond,
		MaxBackoff:    200 * time.Millisecond,
		MeterProvider: mp,
	})
}

// metrics collects what a relay reports.
type metrics struct{ r *sdkmetric.ManualReader }

func newMetrics() (metrics, metric.MeterProvider) {
	r := sdkmetric.NewManualReader()
	return metrics{r}, sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
}

// value is the (summed) value of the instrument called name, 0 if none.
func (m metrics) value(t testing.TB, name string) float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := m.r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, sm := range rm.ScopeMetrics {
		for _, x := range sm.Metrics {
			if x.Name != name {
				continue
			}
			switch d := x.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					v += float64(p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					v += float64(p.Value)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					v += p.Value
				}
			}
		}
	}
	return v
}

// run runs f in a goroutine until the test ends.
func run(t testing.TB, f func(ctx context.Context)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { f(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func redisBus(t testing.TB, url, prefix string) *eventbus.RedisStreams {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries = -1 // fail fast when stopped; the relay retries
	opts.DialTimeout = 200 * time.Millisecond
	opts.DialerRetries = 1
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return eventbus.NewRedisStreams(c, eventbus.RedisOptions{
		Prefix:     prefix,
		Block:      100 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond,
	})
}

// delivery is one event as a consumer got it.
type delivery struct {
	ID      string
	Item    string
	Version int64
}

// collector records what a consumer group applied.
type collector struct {
	mu   sync.Mutex
	got  []delivery
	seen map[string]int // id → deliveries, duplicates included
}

func newCollector() *collector { return &collector{seen: make(map[string]int)} }

// raw counts every delivery, before deduplication.
func (c *collector) raw(h eventbus.Handler) eventbus.Handler {
	return func(ctx context.Context, ev *eventsv1.Event) error {
		c.mu.Lock()
		c.seen[ev.GetId()]++
		c.mu.Unlock()
		return h(ctx, ev)
	}
}

func (c *collector) apply(_ context.Context, ev *eventsv1.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, delivery{ev.GetId(), ev.GetAggregateId(), ev.GetAggregateVersion()})
	return nil
}

// handler is the consumer under test: idempotent, recording what it applied.
func (c *collector) handler() eventbus.Handler {
	return c.raw(eventbus.Idempotent(eventbus.NewMemoryDedupe(0), c.apply))
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func (c *collector) duplicates() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, k := range c.seen {
		n += k - 1
	}
	return n
}

// waitFor waits until the collector applied n events.
func (c *collector) waitFor(t testing.TB, n int) {
	t.Helper()
	await.NoError(t, fmt.Sprintf("the consumer applied %d events", n), func() error {
		if got := c.count(); got < n {
			return fmt.Errorf("applied %d", got)
		}
		return nil
	})
}

// check asserts that the consumer applied every version 1..want[item] of
// every item exactly once, in order, and nothing else.
func (c *collector) check(t testing.TB, want map[string]int64) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]int64)
	ids := make(map[string]bool)
	for _, d := range c.got {
		if ids[d.ID] {
			t.Errorf("event %s (%s v%d) applied twice", d.ID, d.Item, d.Version)
		}
		ids[d.ID] = true
		if d.Version != next[d.Item]+1 {
			t.Errorf("item %s: applied v%d after v%d", d.Item, d.Version, next[d.Item])
		}
		next[d.Item] = d.Version
	}
	for item, v := range want {
		if next[item] != v {
			t.Errorf("item %s: last applied v%d, want v%d", item, next[item], v)
		}
	}
	if len(next) != len(want) {
		t.Errorf("items %v applied, want %d items", slices.Sorted(mapKeys(next)), len(want))
	}
}

func mapKeys(m map[string]int64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// writer writes to items round robin from several goroutines, and counts
// the versions written per item.
type writer struct {
	d     db
	items []string
	mu    sync.Mutex
	want  map[string]int64
	total int
}

func newWriter(d db, items int) *writer {
	w := &writer{d: d, want: make(map[string]int64)}
	for i := range items {
		w.items = append(w.items, fmt.Sprintf("item-%02d", i))
	}
	return w
}

// writeN writes n times, from two goroutines per item, so that writes to
// one item race each other as well as items interleave; after each commit
// it calls notify.
func (w *writer) writeN(t testing.TB, n int, notify func()) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(w.items))
	per := max(1, n/(2*len(w.items)))
	for g := range 2 * len(w.items) {
		item := w.items[g%len(w.items)]
		wg.Go(func() {
			for range per {
				if err := w.d.write(ctx, item); err != nil {
					errs <- err
					return
				}
				w.mu.Lock()
				w.want[item]++
				w.total++
				w.mu.Unlock()
				if notify != nil {
					notify()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("write: %v", err)
	}
}

func waitBacklog(t testing.TB, s outbox.Store) {
	t.Helper()
	await.NoError(t, "the outbox drained", func() error {
		b, err := s.Backlog(context.Background())
		if err == nil && b.Count != 0 {
			err = fmt.Errorf("backlog %+v", b)
		}
		return err
	})
}

// sharedRedisBus is a bus on the shared test Redis, under the test's prefix.
func sharedRedisBus(t testing.TB) *eventbus.RedisStreams {
	url, prefix := testdb.Redis(t)
	return redisBus(t, url, prefix)
}
