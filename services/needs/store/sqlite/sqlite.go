// Package sqlite keeps needs in an SQLite file, for single-node deployments
// and development. It uses the pure-Go driver modernc.org/sqlite, so it
// builds with CGO_ENABLED=0. Free-text search uses an FTS5 index.
//
// All writes go through one connection whose transactions begin IMMEDIATE:
// SQLite has one writer anyway, and taking the write lock at BEGIN rather
// than at the first write means a read-modify-write never fails half-way
// with SQLITE_BUSY. Reads use a pool of read-only connections, which WAL
// lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/XSAM/otelsql"
	"github.com/pressly/goose/v3"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/services/needs/need"
	"github.com/govmatch/govmatch/services/needs/store/internal/columns"
	"github.com/govmatch/govmatch/services/needs/store/internal/regionkeys"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a need.Store in SQLite.
type Store struct {
	write *sql.DB // one connection; BEGIN IMMEDIATE
	read  *sql.DB // read-only connections; the same as write in memory

	events   Recorder      // nil: emit no events
	audit    *audit.Chains // WithAudit; nil: no trail
	onCommit atomic.Pointer[func()]
}

var _ need.Store = (*Store)(nil)

// Connection settings. busy_timeout makes a connection wait for a lock held
// by another process (or the reader pool during a checkpoint) instead of
// failing at once. synchronous(FULL) syncs the WAL on every commit: with
// NORMAL a power cut could undo a write the caller was told succeeded.
const (
	common   = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	writeDSN = common + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	readDSN  = common + "&_pragma=query_only(1)"
)

// Open opens the database in the file at dsn, creating the file and its
// directory if needed, brings its schema up to date and returns the store.
// dsn ":memory:" gives a private in-memory database on a single connection,
// for tests; a fn passed to Update or Delete of such a store must not call
// the store again.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	if strings.Contains(dsn, "?") {
		return nil, fmt.Errorf("SQLite DSN %q: want a file path or \":memory:\", without parameters", dsn)
	}
	s := &Store{}
	for _, o := range opts {
		o(s)
	}
	if dsn == ":memory:" {
		db, err := open(dsn + "?" + writeDSN) // journal_mode stays "memory"
		if err != nil {
			return nil, err
		}
		// Each connection to ":memory:" is a database of its own: keep
		// exactly one, forever.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s.write, s.read = db, db
	} else {
		if err := sqlstore.PrepareFile(dsn); err != nil {
			return nil, err
		}
		var err error
		if s.write, err = open(dsn + "?" + writeDSN); err != nil {
			return nil, err
		}
		s.write.SetMaxOpenConns(1)
		if s.read, err = open(dsn + "?" + readDSN); err != nil {
			s.write.Close()
			return nil, err
		}
		s.read.SetMaxOpenConns(max(4, runtime.NumCPU()))
	}
	if err := migrate(ctx, s.write); err != nil {
		s.Close()
		return nil, err
	}
	if s.audit != nil {
		if err := s.audit.PrepareSQLite(ctx, s.write); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func open(dsn string) (*sql.DB, error) {
	// Every statement becomes a span of the caller's trace.
	db, err := otelsql.Open("sqlite", dsn,
		otelsql.WithAttributes(semconv.DBSystemNameSQLite),
		otelsql.WithSpanOptions(otelsql.SpanOptions{OmitConnResetSession: true, OmitRows: true}))
	if err != nil {
		return nil, fmt.Errorf("open SQLite database: %w", err)
	}
	return db, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	// No locker: goose has none for SQLite, and an SQLite file belongs to
	// one process (the single write connection serialises within it).
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(append(append([]*goose.Migration{outboxMigration}, auditMigrations...), regionKeysMigration)...))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate SQLite schema: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() {
	if s.audit != nil {
		s.audit.Close()
	}
	if s.read != s.write {
		s.read.Close()
	}
	s.write.Close()
}

// selectNeed reads every field of a need; scanNeed takes the row apart.
// Child lists come back as JSON arrays in the same row, so one statement
// sees one consistent snapshot.
const selectNeed = `
SELECT n.id, n.owner_org, n.state, n.title, n.problem_statement,
       n.desired_outcomes, n.places, n.certifications,
       n.remote_possible, n.budget_min_eur, n.budget_max_eur,
       n.start_date, n.end_date, n.open_source_required, n.response_deadline,
       n.close_reason,
       n.award_vendor_name, n.award_vendor, n.award_value_eur, n.award_date,
       n.create_time, n.update_time, n.publish_time, n.close_time, n.revision, n.requirements,
       (SELECT json_group_array(c.code ORDER BY c.position) FROM need_cpv_codes c WHERE c.need_id = n.id),
       (SELECT json_group_array(b.org ORDER BY b.position) FROM need_co_buyers b WHERE b.need_id = n.id)
FROM needs n`

type scanner interface{ Scan(dest ...any) error }

func scanNeed(row scanner) (*need.Need, error) {
	var (
		n                                          need.Need
		outcomes, places, certs, cpvCodes, coBuyer string
		startDate, endDate                         *string
		createTime, updateTime                     int64
		deadline, publishTime, closeTime           *int64
		awardVendorName, awardVendor, awardDate    *string
		awardValue                                 *int64
		requirements                               string
	)
	err := row.Scan(&n.ID, &n.OwnerOrg, &n.State, &n.Title, &n.ProblemStatement,
		&outcomes, &places, &certs,
		&n.RemotePossible, &n.BudgetMinEUR, &n.BudgetMaxEUR,
		&startDate, &endDate, &n.OpenSourceRequired, &deadline,
		&n.CloseReason,
		&awardVendorName, &awardVendor, &awardValue, &awardDate,
		&createTime, &updateTime, &publishTime, &closeTime, &n.Revision, &requirements,
		&cpvCodes, &coBuyer)
	if err != nil {
		return nil, err
	}
	for _, l := range []struct {
		json string
		dst  *[]string
	}{
		{outcomes, &n.DesiredOutcomes},
		{places, &n.Places},
		{certs, &n.Certifications},
		{cpvCodes, &n.CPVCodes},
		{coBuyer, &n.CoBuyers},
	} {
		if *l.dst, err = sqlstore.ParseJSONList(l.json); err != nil {
			return nil, err
		}
	}
	if n.Requirements, err = columns.ParseRequirements(requirements); err != nil {
		return nil, err
	}
	if n.StartDate, err = columns.ParseDate(startDate); err != nil {
		return nil, err
	}
	if n.EndDate, err = columns.ParseDate(endDate); err != nil {
		return nil, err
	}
	if awardValue != nil {
		n.Award = &need.Award{VendorName: *awardVendorName, Vendor: *awardVendor, ValueEUR: *awardValue}
		if n.Award.Date, err = columns.ParseDate(awardDate); err != nil {
			return nil, err
		}
	}
	n.ResponseDeadline = sqlstore.FromMicros(deadline)
	n.CreateTime = sqlstore.FromMicros(&createTime)
	n.UpdateTime = sqlstore.FromMicros(&updateTime)
	n.PublishTime = sqlstore.FromMicros(publishTime)
	n.CloseTime = sqlstore.FromMicros(closeTime)
	return columns.Stored(&n), nil // empty lists nil, like Update's result
}

// needArgs are the column values of n for insertNeed and updateNeed.
func needArgs(n *need.Need) []any {
	var awardVendorName, awardVendor, awardDate *string
	var awardValue *int64
	if aw := n.Award; aw != nil {
		awardVendorName, awardVendor, awardValue = &aw.VendorName, &aw.Vendor, &aw.ValueEUR
		awardDate = columns.Date(aw.Date)
	}
	return []any{
		sql.Named("id", n.ID),
		sql.Named("owner_org", n.OwnerOrg),
		sql.Named("state", int64(n.State)),
		sql.Named("title", n.Title),
		sql.Named("problem_statement", n.ProblemStatement),
		sql.Named("desired_outcomes", sqlstore.JSONList(n.DesiredOutcomes)),
		sql.Named("places", sqlstore.JSONList(n.Places)),
		sql.Named("certifications", sqlstore.JSONList(n.Certifications)),
		sql.Named("remote_possible", n.RemotePossible),
		sql.Named("budget_min_eur", n.BudgetMinEUR),
		sql.Named("budget_max_eur", n.BudgetMaxEUR),
		sql.Named("start_date", columns.Date(n.StartDate)),
		sql.Named("end_date", columns.Date(n.EndDate)),
		sql.Named("open_source_required", n.OpenSourceRequired),
		sql.Named("response_deadline", sqlstore.ToMicros(n.ResponseDeadline)),
		sql.Named("close_reason", n.CloseReason),
		sql.Named("award_vendor_name", awardVendorName),
		sql.Named("award_vendor", awardVendor),
		sql.Named("award_value_eur", awardValue),
		sql.Named("award_date", awardDate),
		sql.Named("create_time", n.CreateTime.UnixMicro()),
		sql.Named("update_time", n.UpdateTime.UnixMicro()),
		sql.Named("publish_time", sqlstore.ToMicros(n.PublishTime)),
		sql.Named("close_time", sqlstore.ToMicros(n.CloseTime)),
		sql.Named("revision", n.Revision),
		sql.Named("search_text", n.SearchText()),
		sql.Named("requirements", columns.Requirements(n.Requirements)),
	}
}

const insertNeed = `
INSERT INTO needs (
    id, owner_org, state, title, problem_statement,
    desired_outcomes, places, certifications,
    remote_possible, budget_min_eur, budget_max_eur,
    start_date, end_date, open_source_required, response_deadline,
    close_reason,
    award_vendor_name, award_vendor, award_value_eur, award_date,
    create_time, update_time, publish_time, close_time, revision,
    search_text, requirements
) VALUES (
    :id, :owner_org, :state, :title, :problem_statement,
    :desired_outcomes, :places, :certifications,
    :remote_possible, :budget_min_eur, :budget_max_eur,
    :start_date, :end_date, :open_source_required, :response_deadline,
    :close_reason,
    :award_vendor_name, :award_vendor, :award_value_eur, :award_date,
    :create_time, :update_time, :publish_time, :close_time, :revision,
    :search_text, :requirements
)`

const updateNeed = `
UPDATE needs SET
    owner_org = :owner_org, state = :state, title = :title, problem_statement = :problem_statement,
    desired_outcomes = :desired_outcomes, places = :places, certifications = :certifications,
    remote_possible = :remote_possible, budget_min_eur = :budget_min_eur, budget_max_eur = :budget_max_eur,
    start_date = :start_date, end_date = :end_date, open_source_required = :open_source_required,
    response_deadline = :response_deadline,
    close_reason = :close_reason,
    award_vendor_name = :award_vendor_name, award_vendor = :award_vendor,
    award_value_eur = :award_value_eur, award_date = :award_date,
    create_time = :create_time, update_time = :update_time,
    publish_time = :publish_time, close_time = :close_time, revision = :revision,
    search_text = :search_text, requirements = :requirements
WHERE id = :id`

// writeChildren replaces the child rows of n. json_each numbers the list in
// its order (key is the 0-based index).
func writeChildren(ctx context.Context, tx *sql.Tx, n *need.Need) error {
	stmts := []struct {
		sql  string
		list []string
	}{
		{`DELETE FROM need_cpv_codes WHERE need_id = ?`, nil},
		{`DELETE FROM need_region_keys WHERE need_id = ?`, nil},
		{`DELETE FROM need_co_buyers WHERE need_id = ?`, nil},
		{`INSERT INTO need_cpv_codes (need_id, position, code)
		  SELECT ?, j.key + 1, j.value FROM json_each(?) AS j`, n.CPVCodes},
		{`INSERT INTO need_region_keys (need_id, key)
		  SELECT ?, j.value FROM json_each(?) AS j`, n.RegionKeys()},
		{`INSERT INTO need_co_buyers (need_id, position, org)
		  SELECT ?, j.key + 1, j.value FROM json_each(?) AS j`, n.CoBuyers},
	}
	for _, st := range stmts {
		args := []any{n.ID}
		if strings.HasPrefix(st.sql, "INSERT") {
			if len(st.list) == 0 {
				continue
			}
			args = append(args, sqlstore.JSONList(st.list))
		}
		if _, err := tx.ExecContext(ctx, st.sql, args...); err != nil {
			return err
		}
	}
	return nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits if fn
// returns nil.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Create implements need.Store.
func (s *Store) Create(ctx context.Context, n *need.Need) error {
	var emitted bool
	// The entry is made before the transaction; see audit.Chains.Entry.
	entry, err := s.audit.Entry(ctx, "needs/"+n.ID, nil, columns.Stored(n), auditSkip...)
	if err != nil {
		return mapError(err, "create need", n.ID)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertNeed, needArgs(n)...); err != nil {
			return err
		}
		if err := writeChildren(ctx, tx, n); err != nil {
			return err
		}
		var err error
		if err := s.audit.AppendSQLite(ctx, tx, entry); err != nil {
			return err
		}
		emitted, err = s.emit(ctx, tx, n.ID, func(v int64) ([]outbox.Record, error) {
			return s.events.ForNeed(ctx, v, nil, columns.Stored(n))
		})
		return err
	})
	if err != nil {
		return mapError(err, "create need", n.ID)
	}
	s.committed(emitted)
	return nil
}

// Get implements need.Store.
func (s *Store) Get(ctx context.Context, id string) (*need.Need, error) {
	n, err := scanNeed(s.read.QueryRowContext(ctx, selectNeed+` WHERE n.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, need.NotFound(id)
	}
	if err != nil {
		return nil, mapError(err, "get need", id)
	}
	return n, nil
}

// loadNeed reads the need inside a write transaction, which holds SQLite's
// write lock since BEGIN IMMEDIATE: nobody can change it until we commit.
func loadNeed(ctx context.Context, tx *sql.Tx, id string) (*need.Need, error) {
	n, err := scanNeed(tx.QueryRowContext(ctx, selectNeed+` WHERE n.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, need.NotFound(id)
	}
	return n, err
}

// Update implements need.Store. The need's id cannot be changed: fn's
// changes are written to the need that was read.
func (s *Store) Update(ctx context.Context, id string, fn func(*need.Need) error) (*need.Need, error) {
	var updated *need.Need
	var emitted bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := loadNeed(ctx, tx, id)
		if err != nil {
			return err
		}
		before := n.Clone()
		if err := fn(n); err != nil {
			return sqlstore.FnError(err)
		}
		n.ID = id
		if _, err := tx.ExecContext(ctx, updateNeed, needArgs(n)...); err != nil {
			return err
		}
		if err := writeChildren(ctx, tx, n); err != nil {
			return err
		}
		updated = columns.Stored(n)
		if err := s.record(ctx, tx, "needs/"+id, before, updated); err != nil {
			return err
		}
		emitted, err = s.emit(ctx, tx, id, func(v int64) ([]outbox.Record, error) {
			return s.events.ForNeed(ctx, v, before, updated)
		})
		return err
	})
	if err != nil {
		return nil, mapError(err, "update need", id)
	}
	s.committed(emitted)
	return updated, nil
}

// Delete implements need.Store. Child rows go with the need (ON DELETE
// CASCADE), the search index entry with the trigger needs_fts_delete.
func (s *Store) Delete(ctx context.Context, id string, fn func(*need.Need) error) error {
	var emitted bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		n, err := loadNeed(ctx, tx, id)
		if err != nil {
			return err
		}
		before := n.Clone()
		if err := fn(n); err != nil {
			return sqlstore.FnError(err)
		}
		if _, err = tx.ExecContext(ctx, `DELETE FROM needs WHERE id = ?`, id); err != nil {
			return err
		}
		if err := s.record(ctx, tx, "needs/"+id, before, nil); err != nil {
			return err
		}
		emitted, err = s.emit(ctx, tx, id, func(v int64) ([]outbox.Record, error) {
			return s.events.ForNeed(ctx, v, before, nil)
		})
		return err
	})
	if err != nil {
		return mapError(err, "delete need", id)
	}
	s.committed(emitted)
	return nil
}

// List implements need.Store.
func (s *Store) List(ctx context.Context, q need.ListQuery) ([]*need.Need, error) {
	if q.Limit < 1 {
		return nil, fmt.Errorf("list needs: limit %d, want at least 1", q.Limit)
	}
	var w sqlstore.Where
	if len(q.States) > 0 {
		states := make([]any, len(q.States))
		for i, st := range q.States {
			states[i] = int64(st)
		}
		w.Add(`n.state IN (`+sqlstore.Placeholders(len(states))+`)`, states...)
	}
	if len(q.CPVPrefixes) > 0 {
		likes := make([]string, len(q.CPVPrefixes))
		args := make([]any, len(q.CPVPrefixes))
		for i, p := range q.CPVPrefixes {
			likes[i] = `c.code LIKE (? || '%') ESCAPE '\'`
			args[i] = sqlstore.LikePrefix(p)
		}
		w.Add(`EXISTS (SELECT 1 FROM need_cpv_codes c WHERE c.need_id = n.id AND (`+strings.Join(likes, " OR ")+`))`, args...)
	}
	if len(q.RegionKeys) > 0 {
		keys := make([]any, len(q.RegionKeys))
		for i, k := range q.RegionKeys {
			keys[i] = k
		}
		w.Add(`EXISTS (SELECT 1 FROM need_region_keys r WHERE r.need_id = n.id AND r.key IN (`+sqlstore.Placeholders(len(keys))+`))`, keys...)
	}
	if q.Organization != "" {
		w.Add(`(n.owner_org = ? OR EXISTS (SELECT 1 FROM need_co_buyers b WHERE b.need_id = n.id AND b.org = ?))`,
			q.Organization, q.Organization)
	}
	if words := columns.SearchWords(q.Words); len(words) > 0 {
		w.Add(`n.seq IN (SELECT rowid FROM needs_fts WHERE needs_fts MATCH ?)`, sqlstore.FTS5Query(words))
	}
	if !q.AllDrafts {
		if q.ViewerOrg != "" {
			w.Add(`(n.state <> ? OR n.owner_org = ?)`, int64(need.StateDraft), q.ViewerOrg)
		} else {
			w.Add(`n.state <> ?`, int64(need.StateDraft))
		}
	}
	order, after := "DESC", "<"
	if q.Ascending {
		order, after = "ASC", ">"
	}
	if q.After != nil {
		w.Add(`(n.create_time, n.id) `+after+` (?, ?)`, q.After.CreateTime.UnixMicro(), q.After.ID)
	}
	query := selectNeed + w.SQL() +
		` ORDER BY n.create_time ` + order + `, n.id ` + order +
		` LIMIT ?`
	args := append(w.Args, q.Limit)

	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapError(err, "list needs", "")
	}
	defer rows.Close()
	var needs []*need.Need
	for rows.Next() {
		n, err := scanNeed(rows)
		if err != nil {
			return nil, mapError(err, "list needs", "")
		}
		needs = append(needs, n)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(err, "list needs", "")
	}
	return needs, nil
}

// mapError turns driver errors into the sentinels of errdefs and adds what
// was being done (op) to which need (id, may be empty); errors that are
// already sentinels, and fn's errors, pass unchanged.
func mapError(err error, op, id string) error {
	return sqlstore.MapSQLiteError(err, op, id, "needs.id", errdefs.AlreadyExists("need %q already exists", id))
}

// regionKeysMigration rebuilds need_region_keys since municipalities match
// their Kreis's NUTS-2 and NUTS-3 regions (migration 8).
var regionKeysMigration = regionkeys.Migration(8, func(int) string { return "?" })
