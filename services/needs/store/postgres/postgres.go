// Package postgres keeps needs in PostgreSQL. Free-text search uses a
// generated tsvector column with a GIN index; filters on CPV codes, regions
// and co-buyers look into child tables with EXISTS.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

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

// Store is a need.Store in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool

	events   Recorder      // nil: emit no events
	audit    *audit.Chains // WithAudit; nil: no trail
	onCommit atomic.Pointer[func()]
}

// Schema is the PostgreSQL schema of the registry's tables, its outbox and
// goose's version table: the registries may share a database, each in a
// schema of its own (the vendor registry's is "vendors").
const Schema = "needs"

var _ need.Store = (*Store)(nil)

// Open connects to the database at dsn (a pgx DSN, which may set pool_*
// options), creates the schema Schema if needed, brings the tables in it up
// to date and returns the store. Every connection works in Schema (its
// search_path). Replicas that start together migrate one after the other:
// goose holds a session advisory lock while it migrates.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	// Every statement becomes a span of the caller's trace.
	cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	// Unqualified names, goose's version table and the outbox's included,
	// resolve in Schema only.
	cfg.ConnConfig.RuntimeParams["search_path"] = Schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	if err := createSchema(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// createSchema creates Schema unless it exists. CREATE SCHEMA IF NOT
// EXISTS is not safe against itself (two replicas can both find the
// schema missing, and one fails on pg_namespace's unique index), so it
// runs under a transaction advisory lock; the key is goose's lock space
// (one bigint) with a value of our own, "govmatch needs schema".
func createSchema(ctx context.Context, pool *pgxpool.Pool) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('govmatch schema '||$1, 0))`, Schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{Schema}.Sanitize())
		return err
	})
	if err != nil {
		return fmt.Errorf("create PostgreSQL schema %q: %w", Schema, err)
	}
	return nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	// Poll for the lock every second, for up to five minutes, rather than
	// goose's default of every five seconds: replicas waiting for a quick
	// migration should not idle.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool) // closing db leaves pool open
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(append(append([]*goose.Migration{outboxMigration}, auditMigrations...), regionKeysMigration)...))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate PostgreSQL schema: %w", err)
	}
	return nil
}

// Close closes the connections; it waits for queries in flight.
func (s *Store) Close() {
	s.pool.Close()
}

// selectNeed reads every field of a need; scanNeed takes the row apart.
// Child lists come back as arrays in the same row, so one statement sees one
// consistent snapshot.
const selectNeed = `
SELECT n.id, n.owner_org, n.state, n.title, n.problem_statement,
       n.desired_outcomes, n.places, n.certifications,
       n.remote_possible, n.budget_min_eur, n.budget_max_eur,
       n.start_date, n.end_date, n.open_source_required, n.response_deadline,
       n.close_reason,
       n.award_vendor_name, n.award_vendor, n.award_value_eur, n.award_date,
       n.create_time, n.update_time, n.publish_time, n.close_time, n.revision, n.requirements,
       ARRAY(SELECT c.code FROM need_cpv_codes c WHERE c.need_id = n.id ORDER BY c.position),
       ARRAY(SELECT b.org FROM need_co_buyers b WHERE b.need_id = n.id ORDER BY b.position)
FROM needs n`

func scanNeed(row pgx.Row) (*need.Need, error) {
	var (
		n                                       need.Need
		state                                   int16
		startDate, endDate                      *string
		deadline, publishTime, closeTime        *time.Time
		awardVendorName, awardVendor, awardDate *string
		awardValue                              *int64
		requirements                            string
	)
	err := row.Scan(&n.ID, &n.OwnerOrg, &state, &n.Title, &n.ProblemStatement,
		&n.DesiredOutcomes, &n.Places, &n.Certifications,
		&n.RemotePossible, &n.BudgetMinEUR, &n.BudgetMaxEUR,
		&startDate, &endDate, &n.OpenSourceRequired, &deadline,
		&n.CloseReason,
		&awardVendorName, &awardVendor, &awardValue, &awardDate,
		&n.CreateTime, &n.UpdateTime, &publishTime, &closeTime, &n.Revision, &requirements,
		&n.CPVCodes, &n.CoBuyers)
	if err != nil {
		return nil, err
	}
	n.State = need.State(state)
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
	n.ResponseDeadline = sqlstore.FromNullTime(deadline)
	n.CreateTime = sqlstore.Time(n.CreateTime)
	n.UpdateTime = sqlstore.Time(n.UpdateTime)
	n.PublishTime = sqlstore.FromNullTime(publishTime)
	n.CloseTime = sqlstore.FromNullTime(closeTime)
	return columns.Stored(&n), nil // empty lists nil, like Update's result
}

// needArgs are the column values of n for insertNeed and updateNeed.
func needArgs(n *need.Need) pgx.NamedArgs {
	a := pgx.NamedArgs{
		"id":                   n.ID,
		"owner_org":            n.OwnerOrg,
		"state":                int16(n.State),
		"title":                n.Title,
		"problem_statement":    n.ProblemStatement,
		"desired_outcomes":     jsonList(n.DesiredOutcomes),
		"places":               jsonList(n.Places),
		"certifications":       jsonList(n.Certifications),
		"remote_possible":      n.RemotePossible,
		"budget_min_eur":       n.BudgetMinEUR,
		"budget_max_eur":       n.BudgetMaxEUR,
		"start_date":           columns.Date(n.StartDate),
		"end_date":             columns.Date(n.EndDate),
		"open_source_required": n.OpenSourceRequired,
		"response_deadline":    sqlstore.ToNullTime(n.ResponseDeadline),
		"close_reason":         n.CloseReason,
		"award_vendor_name":    nil,
		"award_vendor":         nil,
		"award_value_eur":      nil,
		"award_date":           nil,
		"create_time":          n.CreateTime,
		"update_time":          n.UpdateTime,
		"publish_time":         sqlstore.ToNullTime(n.PublishTime),
		"close_time":           sqlstore.ToNullTime(n.CloseTime),
		"revision":             n.Revision,
		"search_text":          n.SearchText(),
		"requirements":         columns.Requirements(n.Requirements),
	}
	if aw := n.Award; aw != nil {
		a["award_vendor_name"] = aw.VendorName
		a["award_vendor"] = aw.Vendor
		a["award_value_eur"] = aw.ValueEUR
		a["award_date"] = columns.Date(aw.Date)
	}
	return a
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
    @id, @owner_org, @state, @title, @problem_statement,
    @desired_outcomes, @places, @certifications,
    @remote_possible, @budget_min_eur, @budget_max_eur,
    @start_date, @end_date, @open_source_required, @response_deadline,
    @close_reason,
    @award_vendor_name, @award_vendor, @award_value_eur, @award_date,
    @create_time, @update_time, @publish_time, @close_time, @revision,
    @search_text, @requirements
)`

const updateNeed = `
UPDATE needs SET
    owner_org = @owner_org, state = @state, title = @title, problem_statement = @problem_statement,
    desired_outcomes = @desired_outcomes, places = @places, certifications = @certifications,
    remote_possible = @remote_possible, budget_min_eur = @budget_min_eur, budget_max_eur = @budget_max_eur,
    start_date = @start_date, end_date = @end_date, open_source_required = @open_source_required,
    response_deadline = @response_deadline,
    close_reason = @close_reason,
    award_vendor_name = @award_vendor_name, award_vendor = @award_vendor,
    award_value_eur = @award_value_eur, award_date = @award_date,
    create_time = @create_time, update_time = @update_time,
    publish_time = @publish_time, close_time = @close_time, revision = @revision,
    search_text = @search_text, requirements = @requirements
WHERE id = @id`

// writeChildren replaces the child rows of n. unnest … WITH ORDINALITY
// numbers the list in its order.
func writeChildren(ctx context.Context, tx pgx.Tx, n *need.Need) error {
	stmts := []struct {
		sql  string
		list []string
	}{
		{`DELETE FROM need_cpv_codes WHERE need_id = $1`, nil},
		{`DELETE FROM need_region_keys WHERE need_id = $1`, nil},
		{`DELETE FROM need_co_buyers WHERE need_id = $1`, nil},
		{`INSERT INTO need_cpv_codes (need_id, position, code)
		  SELECT $1, t.position, t.code FROM unnest($2::text[]) WITH ORDINALITY AS t (code, position)`, n.CPVCodes},
		{`INSERT INTO need_region_keys (need_id, key)
		  SELECT $1, t.key FROM unnest($2::text[]) AS t (key)`, n.RegionKeys()},
		{`INSERT INTO need_co_buyers (need_id, position, org)
		  SELECT $1, t.position, t.org FROM unnest($2::text[]) WITH ORDINALITY AS t (org, position)`, n.CoBuyers},
	}
	for _, st := range stmts {
		args := []any{n.ID}
		if strings.HasPrefix(st.sql, "INSERT") {
			if len(st.list) == 0 {
				continue
			}
			args = append(args, st.list)
		}
		if _, err := tx.Exec(ctx, st.sql, args...); err != nil {
			return err
		}
	}
	return nil
}

// Create implements need.Store.
func (s *Store) Create(ctx context.Context, n *need.Need) error {
	var emitted bool
	// The entry is made before the transaction; see audit.Chains.Entry.
	entry, err := s.audit.Entry(ctx, "needs/"+n.ID, nil, columns.Stored(n), auditSkip...)
	if err != nil {
		return mapError(err, "create need", n.ID)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, insertNeed, needArgs(n)); err != nil {
			return err
		}
		if err := writeChildren(ctx, tx, n); err != nil {
			return err
		}
		var err error
		if err := s.audit.AppendPgx(ctx, tx, entry); err != nil {
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
	n, err := scanNeed(s.pool.QueryRow(ctx, selectNeed+` WHERE n.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, need.NotFound(id)
	}
	if err != nil {
		return nil, mapError(err, "get need", id)
	}
	return n, nil
}

// lockNeed locks the need's row for the rest of tx and then reads it. The
// read is a statement of its own so that, under READ COMMITTED, it sees what
// the transaction that held the lock before us committed, child rows
// included.
func lockNeed(ctx context.Context, tx pgx.Tx, id string) (*need.Need, error) {
	var locked bool
	err := tx.QueryRow(ctx, `SELECT true FROM needs WHERE id = $1 FOR UPDATE`, id).Scan(&locked)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, need.NotFound(id)
	}
	if err != nil {
		return nil, err
	}
	return scanNeed(tx.QueryRow(ctx, selectNeed+` WHERE n.id = $1`, id))
}

// Update implements need.Store. The need's id cannot be changed: fn's
// changes are written to the need that was read.
func (s *Store) Update(ctx context.Context, id string, fn func(*need.Need) error) (*need.Need, error) {
	var updated *need.Need
	var emitted bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := lockNeed(ctx, tx, id)
		if err != nil {
			return err
		}
		before := n.Clone()
		if err := fn(n); err != nil {
			return sqlstore.FnError(err)
		}
		n.ID = id
		if _, err := tx.Exec(ctx, updateNeed, needArgs(n)); err != nil {
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
// CASCADE).
func (s *Store) Delete(ctx context.Context, id string, fn func(*need.Need) error) error {
	var emitted bool
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n, err := lockNeed(ctx, tx, id)
		if err != nil {
			return err
		}
		before := n.Clone()
		if err := fn(n); err != nil {
			return sqlstore.FnError(err)
		}
		if _, err = tx.Exec(ctx, `DELETE FROM needs WHERE id = $1`, id); err != nil {
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
		states := make([]int16, len(q.States))
		for i, st := range q.States {
			states[i] = int16(st)
		}
		w.Add("n.state = ANY(" + w.Arg(states) + ")")
	}
	if len(q.CPVPrefixes) > 0 {
		likes := make([]string, len(q.CPVPrefixes))
		for i, p := range q.CPVPrefixes {
			likes[i] = `c.code LIKE (` + w.Arg(sqlstore.LikePrefix(p)) + `::text || '%') ESCAPE '\'`
		}
		w.Add(`EXISTS (SELECT FROM need_cpv_codes c WHERE c.need_id = n.id AND (` + strings.Join(likes, " OR ") + `))`)
	}
	if len(q.RegionKeys) > 0 {
		w.Add(`EXISTS (SELECT FROM need_region_keys r WHERE r.need_id = n.id AND r.key = ANY(` + w.Arg(q.RegionKeys) + `))`)
	}
	if q.Organization != "" {
		org := w.Arg(q.Organization)
		w.Add(`(n.owner_org = ` + org + ` OR EXISTS (SELECT FROM need_co_buyers b WHERE b.need_id = n.id AND b.org = ` + org + `))`)
	}
	if words := columns.SearchWords(q.Words); len(words) > 0 {
		w.Add(`n.search_vector @@ to_tsquery('simple', ` + w.Arg(sqlstore.TSQuery(words)) + `)`)
	}
	if !q.AllDrafts {
		if q.ViewerOrg != "" {
			w.Add(`(n.state <> ` + w.Arg(int16(need.StateDraft)) + ` OR n.owner_org = ` + w.Arg(q.ViewerOrg) + `)`)
		} else {
			w.Add(`n.state <> ` + w.Arg(int16(need.StateDraft)))
		}
	}
	order, after := "DESC", "<"
	if q.Ascending {
		order, after = "ASC", ">"
	}
	if q.After != nil {
		w.Add(`(n.create_time, n.id) ` + after + ` (` + w.Arg(q.After.CreateTime) + `, ` + w.Arg(q.After.ID) + `)`)
	}
	sql := selectNeed + w.SQL() +
		` ORDER BY n.create_time ` + order + `, n.id ` + order +
		` LIMIT ` + w.Arg(q.Limit)

	rows, err := s.pool.Query(ctx, sql, w.Args...)
	if err != nil {
		return nil, mapError(err, "list needs", "")
	}
	needs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*need.Need, error) { return scanNeed(row) })
	if err != nil {
		return nil, mapError(err, "list needs", "")
	}
	return needs, nil
}

// mapError turns driver errors into the sentinels of errdefs and adds what
// was being done (op) to which need (id, may be empty); errors that are
// already sentinels, and fn's errors, pass unchanged.
func mapError(err error, op, id string) error {
	return sqlstore.MapPostgresError(err, op, id, "needs_pkey", errdefs.AlreadyExists("need %q already exists", id))
}

// jsonList is the value of a jsonb list column, which pgx encodes as JSON.
func jsonList(l []string) []string {
	if l == nil {
		return []string{} // a JSON array, not JSON null
	}
	return l
}

// regionKeysMigration rebuilds need_region_keys since municipalities match
// their Kreis's NUTS-2 and NUTS-3 regions (migration 8).
var regionKeysMigration = regionkeys.Migration(8, func(n int) string { return fmt.Sprintf("$%d", n) })
