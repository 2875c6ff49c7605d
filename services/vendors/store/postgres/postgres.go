// Package postgres keeps vendors in PostgreSQL. Free-text search uses a
// generated tsvector column with a GIN index; filters on CPV codes, regions
// and tags look into child tables with EXISTS.
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
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/store/internal/changes"
	"github.com/govmatch/govmatch/services/vendors/store/internal/columns"
	"github.com/govmatch/govmatch/services/vendors/store/internal/regionkeys"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a profile.Store in PostgreSQL.
type Store struct {
	pool *pgxpool.Pool

	events   Events        // nil: writes emit no events
	audit    *audit.Chains // WithAudit; nil: no trail
	onCommit atomic.Pointer[func()]
}

// Schema holds the registry's tables, its outbox and its goose version
// table, so that other registries (needs) can share the database, each with
// an outbox of its own. Open sets it as the connections' search_path.
const Schema = "vendors"

// Events makes the domain events of writes (vendorevents.Recorder is one):
// the event of a write that turned before into after, before nil for a
// created vendor, after nil for a deleted one, with the aggregate version
// the store gives it (see table vendor_event_versions). It returns at most
// one event; an error aborts the write.
type Events interface {
	ForVendor(ctx context.Context, version int64, before, after *profile.Vendor) ([]outbox.Record, error)
}

// Option configures Open.
type Option func(*Store)

// WithEvents makes every write insert its events into the outbox table, in
// the write's transaction. Without it (or with nil) writes emit nothing.
func WithEvents(e Events) Option { return func(s *Store) { s.events = e } }

var _ profile.Store = (*Store)(nil)

// Open connects to the database at dsn (a pgx DSN, which may set pool_*
// options), brings its schema up to date and returns the store. The tables
// live in the schema Schema, which Open creates if needed. Replicas that
// start together migrate one after the other: goose holds a session
// advisory lock while it migrates.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	// Unqualified names mean the registry's schema, on every connection of
	// the pool and of the outbox relay (Outbox copies this config).
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

// createSchema creates Schema unless it exists. Concurrent CREATE SCHEMA IF
// NOT EXISTS can still fail on the catalog's unique index, so replicas that
// start together take turns under a transaction advisory lock.
func createSchema(ctx context.Context, pool *pgxpool.Pool) error {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('govmatch schema ' || $1::text))`, Schema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{Schema}.Sanitize())
		return err
	})
	if err != nil {
		return fmt.Errorf("create schema %s: %w", Schema, err)
	}
	return nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(pool) // closing db leaves pool open
	defer db.Close()
	// A table of its own, so that the vendor and needs registries can share
	// one database without mistaking each other's migration versions.
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithTableName("goose_db_version_vendors"),
		goose.WithGoMigrations(append(append([]*goose.Migration{outboxMigration}, auditMigrations...), regionKeysMigration)...))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate PostgreSQL schema: %w", err)
	}
	return nil
}

// outboxMigration adds the outbox table (pkg/outbox) as migration 2.
var outboxMigration = sqlstore.DDLMigration(2, outbox.PostgresDDL, outbox.DropDDL)

// Outbox returns the outbox of the registry's schema, for the relay, which
// connects with the pool's configuration (search_path included) outside
// the pool.
func (s *Store) Outbox() outbox.Store { return outbox.NewPostgres(s.pool.Config().ConnConfig) }

// OnCommit sets f to be called after every commit that inserted events
// (the relay's Notify). Set it before writing; f must not block.
func (s *Store) OnCommit(f func()) { s.onCommit.Store(&f) }

// inTx runs fn in a transaction and commits if fn returns nil. fn reports
// the vendors it wrote to its second argument; with events on, inTx inserts
// their events after fn's writes, in the same transaction.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx, *changes.List) error) error {
	var n int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var ch changes.List
		if err := fn(tx, &ch); err != nil {
			return err
		}
		var err error
		n, err = s.insertEvents(ctx, tx, &ch)
		if err != nil {
			return err
		}
		return s.record(ctx, tx, &ch)
	})
	if err != nil {
		return err
	}
	if f := s.onCommit.Load(); n > 0 && f != nil {
		(*f)()
	}
	return nil
}

// insertEvents adds the events of the writes in ch to the outbox and
// returns how many.
func (s *Store) insertEvents(ctx context.Context, tx pgx.Tx, ch *changes.List) (int, error) {
	recs, err := ch.Records(ctx, s.events, func(ctx context.Context, id string, atLeast int64) (int64, error) {
		return nextVersion(ctx, tx, id, atLeast)
	})
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	return len(recs), outbox.InsertPgx(ctx, tx, recs...)
}

// nextVersion implements changes.NextVersion with the event counter of the
// vendor id, which outlives the vendor. The counter's row lock serialises
// the emitting transactions of an id even where the vendor's row is new
// (Create) or gone (Delete).
func nextVersion(ctx context.Context, tx pgx.Tx, id string, atLeast int64) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `
		INSERT INTO vendor_event_versions AS v (vendor_id, version) VALUES ($1, $2)
		ON CONFLICT (vendor_id) DO UPDATE SET version = GREATEST(excluded.version, v.version + 1)
		RETURNING version`, id, atLeast).Scan(&v)
	return v, err
}

// Close closes the connections; it waits for queries in flight.
func (s *Store) Close() {
	s.pool.Close()
}

// selectVendor reads every field of a vendor; scanVendor takes the row
// apart. The CPV codes come back as an array in the same row, so one
// statement sees one consistent snapshot.
const selectVendor = `
SELECT v.id, v.external_id, v.owner_org, v.display_name, v.kind, v.founding_year, v.size_band,
       v.headquarters, v.regions_served, v.nationwide, v.remote, v.languages, v.website,
       v.description, v.capabilities, v.certifications, v.products::text, v.client_references::text,
       v.verification, v.verification_note, v.verify_time,
       v.create_time, v.update_time, v.revision,
       ARRAY(SELECT c.code FROM vendor_cpv_codes c WHERE c.vendor_id = v.id ORDER BY c.position)
FROM vendors v`

func scanVendor(row pgx.Row) (*profile.Vendor, error) {
	var (
		v                            profile.Vendor
		externalID                   *string
		kind, sizeBand, verification int16
		foundingYear                 int32
		prods, refs                  string
		verifyTime                   *time.Time
	)
	err := row.Scan(&v.ID, &externalID, &v.OwnerOrg, &v.DisplayName, &kind, &foundingYear, &sizeBand,
		&v.Headquarters, &v.RegionsServed, &v.Nationwide, &v.Remote, &v.Languages, &v.Website,
		&v.Description, &v.Capabilities, &v.Certifications, &prods, &refs,
		&verification, &v.VerificationNote, &verifyTime,
		&v.CreateTime, &v.UpdateTime, &v.Revision, &v.CPVCodes)
	if err != nil {
		return nil, err
	}
	if externalID != nil {
		v.ExternalID = *externalID
	}
	v.Kind, v.SizeBand, v.Verification = profile.Kind(kind), profile.SizeBand(sizeBand), profile.Verification(verification)
	v.FoundingYear = int(foundingYear)
	if v.Products, err = columns.ParseProducts(prods); err != nil {
		return nil, err
	}
	if v.References, err = columns.ParseReferences(refs); err != nil {
		return nil, err
	}
	v.VerifyTime = sqlstore.FromNullTime(verifyTime)
	return columns.Stored(&v), nil
}

// vendorArgs are the column values of v for insertVendor and updateVendor.
func vendorArgs(v *profile.Vendor) pgx.NamedArgs {
	return pgx.NamedArgs{
		"id":                v.ID,
		"external_id":       columns.ExternalID(v.ExternalID),
		"owner_org":         v.OwnerOrg,
		"display_name":      v.DisplayName,
		"kind":              int16(v.Kind),
		"founding_year":     int32(v.FoundingYear),
		"size_band":         int16(v.SizeBand),
		"headquarters":      v.Headquarters,
		"regions_served":    sqlstore.JSONList(v.RegionsServed),
		"nationwide":        v.Nationwide,
		"remote":            v.Remote,
		"languages":         sqlstore.JSONList(v.Languages),
		"website":           v.Website,
		"description":       v.Description,
		"capabilities":      sqlstore.JSONList(v.Capabilities),
		"certifications":    sqlstore.JSONList(v.Certifications),
		"products":          columns.Products(v.Products),
		"client_references": columns.References(v.References),
		"has_open_source":   v.HasOpenSourceProduct(),
		"verification":      int16(v.Verification),
		"verification_note": v.VerificationNote,
		"verify_time":       sqlstore.ToNullTime(v.VerifyTime),
		"create_time":       v.CreateTime,
		"update_time":       v.UpdateTime,
		"revision":          v.Revision,
		"search_text":       v.SearchText(),
	}
}

// insertVendor does nothing when the external id is taken; Create then
// returns the vendor that holds it. A taken id still fails.
const insertVendor = `
INSERT INTO vendors (
    id, external_id, owner_org, display_name, kind, founding_year, size_band,
    headquarters, regions_served, nationwide, remote, languages, website,
    description, capabilities, certifications, products, client_references, has_open_source,
    verification, verification_note, verify_time, create_time, update_time, revision, search_text
) VALUES (
    @id, @external_id, @owner_org, @display_name, @kind, @founding_year, @size_band,
    @headquarters, @regions_served::jsonb, @nationwide, @remote, @languages::jsonb, @website,
    @description, @capabilities::jsonb, @certifications::jsonb, @products::jsonb, @client_references::jsonb, @has_open_source,
    @verification, @verification_note, @verify_time, @create_time, @update_time, @revision, @search_text
)
ON CONFLICT (external_id) DO NOTHING`

// updateVendor leaves id and external_id alone: neither changes.
const updateVendor = `
UPDATE vendors SET
    owner_org = @owner_org, display_name = @display_name, kind = @kind,
    founding_year = @founding_year, size_band = @size_band, headquarters = @headquarters,
    regions_served = @regions_served::jsonb, nationwide = @nationwide, remote = @remote,
    languages = @languages::jsonb, website = @website, description = @description,
    capabilities = @capabilities::jsonb, certifications = @certifications::jsonb, products = @products::jsonb,
    client_references = @client_references::jsonb, has_open_source = @has_open_source,
    verification = @verification, verification_note = @verification_note, verify_time = @verify_time,
    create_time = @create_time, update_time = @update_time, revision = @revision,
    search_text = @search_text
WHERE id = @id`

// queueChildren queues the statements that replace the child rows of v.
// unnest … WITH ORDINALITY numbers a list in its order.
func queueChildren(b *pgx.Batch, v *profile.Vendor, replace bool) {
	if replace {
		b.Queue(`DELETE FROM vendor_cpv_codes WHERE vendor_id = $1`, v.ID)
		b.Queue(`DELETE FROM vendor_region_keys WHERE vendor_id = $1`, v.ID)
		b.Queue(`DELETE FROM vendor_tags WHERE vendor_id = $1`, v.ID)
	}
	if len(v.CPVCodes) > 0 {
		b.Queue(`INSERT INTO vendor_cpv_codes (vendor_id, position, code)
			SELECT $1, t.position, t.code FROM unnest($2::text[]) WITH ORDINALITY AS t (code, position)`, v.ID, v.CPVCodes)
	}
	if keys := v.RegionKeys(); len(keys) > 0 {
		names := make([]string, len(keys))
		self := make([]bool, len(keys))
		for i, k := range keys {
			names[i], self[i] = k.Key, k.Self
		}
		b.Queue(`INSERT INTO vendor_region_keys (vendor_id, key, self)
			SELECT $1, t.key, t.self FROM unnest($2::text[], $3::boolean[]) AS t (key, self)`, v.ID, names, self)
	}
	for _, l := range []struct {
		facet string
		tags  []string
	}{{columns.FacetCapability, v.Capabilities}, {columns.FacetCertification, v.Certifications}} {
		if len(l.tags) > 0 {
			b.Queue(`INSERT INTO vendor_tags (vendor_id, facet, tag)
				SELECT $1, $2, t.tag FROM unnest($3::text[]) AS t (tag) ON CONFLICT DO NOTHING`, v.ID, l.facet, l.tags)
		}
	}
}

// Create implements profile.Store. Each vendor's insert and child rows go
// to the server as one pipelined batch. Two imports of one external id at
// once serialise on its unique index: the second waits for the first and
// then finds its vendor.
func (s *Store) Create(ctx context.Context, vendors []*profile.Vendor, existing func(int, *profile.Vendor) error) ([]*profile.Vendor, error) {
	out := make([]*profile.Vendor, len(vendors))
	id := ""
	err := s.inTx(ctx, func(tx pgx.Tx, ch *changes.List) error {
		for i, v := range vendors {
			id = v.ID
			tag, err := tx.Exec(ctx, insertVendor, vendorArgs(v))
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				// A new statement, so under READ COMMITTED it sees the
				// vendor that a concurrent import just committed.
				old, err := scanVendor(tx.QueryRow(ctx, selectVendor+` WHERE v.external_id = $1`, v.ExternalID))
				if errors.Is(err, pgx.ErrNoRows) {
					return fmt.Errorf("external id %q: %w", v.ExternalID, errdefs.ErrAborted)
				}
				if err != nil {
					return err
				}
				if err := existing(i, old); err != nil {
					return sqlstore.FnError(err)
				}
				out[i] = old
				continue
			}
			b := &pgx.Batch{}
			queueChildren(b, v, false)
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			out[i] = columns.Stored(v)
			ch.Add(nil, out[i])
		}
		return nil
	})
	if err != nil {
		return nil, mapError(err, "create vendor", id)
	}
	return out, nil
}

// Get implements profile.Store.
func (s *Store) Get(ctx context.Context, id string) (*profile.Vendor, error) {
	v, err := scanVendor(s.pool.QueryRow(ctx, selectVendor+` WHERE v.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errdefs.NotFound("vendor %q not found", "vendors/"+id)
	}
	if err != nil {
		return nil, mapError(err, "get vendor", id)
	}
	return v, nil
}

// lockVendor locks the vendor's row for the rest of tx and then reads it,
// in a statement of its own so that it sees what the previous holder of the
// lock committed, child rows included.
func lockVendor(ctx context.Context, tx pgx.Tx, id string) (*profile.Vendor, error) {
	var locked bool
	err := tx.QueryRow(ctx, `SELECT true FROM vendors WHERE id = $1 FOR UPDATE`, id).Scan(&locked)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errdefs.NotFound("vendor %q not found", "vendors/"+id)
	}
	if err != nil {
		return nil, err
	}
	return scanVendor(tx.QueryRow(ctx, selectVendor+` WHERE v.id = $1`, id))
}

// Update implements profile.Store.
func (s *Store) Update(ctx context.Context, id string, fn func(*profile.Vendor) error) (*profile.Vendor, error) {
	var updated *profile.Vendor
	err := s.inTx(ctx, func(tx pgx.Tx, ch *changes.List) error {
		v, err := lockVendor(ctx, tx, id)
		if err != nil {
			return err
		}
		before := v.Clone()
		if err := fn(v); err != nil {
			return sqlstore.FnError(err)
		}
		v.ID = id
		b := &pgx.Batch{}
		b.Queue(updateVendor, vendorArgs(v))
		queueChildren(b, v, true)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		updated = columns.Stored(v)
		ch.Add(before, updated)
		return nil
	})
	if err != nil {
		return nil, mapError(err, "update vendor", id)
	}
	return updated, nil
}

// Delete implements profile.Store. Child rows go with the vendor (ON
// DELETE CASCADE).
func (s *Store) Delete(ctx context.Context, id string, fn func(*profile.Vendor) error) error {
	err := s.inTx(ctx, func(tx pgx.Tx, ch *changes.List) error {
		v, err := lockVendor(ctx, tx, id)
		if err != nil {
			return err
		}
		before := v.Clone()
		if err := fn(v); err != nil {
			return sqlstore.FnError(err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM vendors WHERE id = $1`, id); err != nil {
			return err
		}
		ch.Add(before, nil)
		return nil
	})
	if err != nil {
		return mapError(err, "delete vendor", id)
	}
	return nil
}

// List implements profile.Store.
func (s *Store) List(ctx context.Context, q profile.ListQuery) ([]*profile.Vendor, error) {
	if q.Limit < 1 {
		return nil, fmt.Errorf("list vendors: limit %d, want at least 1", q.Limit)
	}
	var w sqlstore.Where
	if len(q.Kinds) > 0 {
		kinds := make([]int16, len(q.Kinds))
		for i, k := range q.Kinds {
			kinds[i] = int16(k)
		}
		w.Add("v.kind = ANY(" + w.Arg(kinds) + ")")
	}
	if len(q.CPVPrefixes) > 0 {
		likes := make([]string, len(q.CPVPrefixes))
		for i, p := range q.CPVPrefixes {
			likes[i] = `c.code LIKE (` + w.Arg(sqlstore.LikePrefix(p)) + `::text || '%') ESCAPE '\'`
		}
		w.Add(`EXISTS (SELECT FROM vendor_cpv_codes c WHERE c.vendor_id = v.id AND (` + strings.Join(likes, " OR ") + `))`)
	}
	if r := q.Regions; r != nil {
		w.Add(`(v.nationwide OR EXISTS (SELECT FROM vendor_region_keys r WHERE r.vendor_id = v.id AND (
			r.key = ANY(` + w.Arg(r.Keys) + `) OR (r.self AND r.key = ANY(` + w.Arg(r.Within) + `)))))`)
	}
	for _, f := range []struct {
		facet string
		tags  []string
	}{{columns.FacetCapability, q.Capabilities}, {columns.FacetCertification, q.Certifications}} {
		if len(f.tags) > 0 {
			w.Add(`EXISTS (SELECT FROM vendor_tags t WHERE t.vendor_id = v.id AND t.facet = ` + w.Arg(f.facet) +
				` AND t.tag = ANY(` + w.Arg(f.tags) + `))`)
		}
	}
	if q.OpenSource {
		w.Add(`v.has_open_source`)
	}
	if words := columns.SearchWords(q.Words); len(words) > 0 {
		w.Add(`v.search_vector @@ to_tsquery('simple', ` + w.Arg(sqlstore.TSQuery(words)) + `)`)
	}
	order, after := "DESC", "<"
	if q.Ascending {
		order, after = "ASC", ">"
	}
	if q.After != nil {
		w.Add(`(v.create_time, v.id) ` + after + ` (` + w.Arg(q.After.CreateTime) + `, ` + w.Arg(q.After.ID) + `)`)
	}
	sql := selectVendor + w.SQL() +
		` ORDER BY v.create_time ` + order + `, v.id ` + order +
		` LIMIT ` + w.Arg(q.Limit)

	rows, err := s.pool.Query(ctx, sql, w.Args...)
	if err != nil {
		return nil, mapError(err, "list vendors", "")
	}
	vendors, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*profile.Vendor, error) { return scanVendor(row) })
	if err != nil {
		return nil, mapError(err, "list vendors", "")
	}
	return vendors, nil
}

// mapError turns driver errors into the sentinels of errdefs and adds what
// was being done (op) to which vendor (id, may be empty); sentinels and fn's
// errors pass unchanged.
func mapError(err error, op, id string) error {
	return sqlstore.MapPostgresError(err, op, id, "vendors_pkey", errdefs.AlreadyExists("vendor %q already exists", "vendors/"+id))
}

// regionKeysMigration rebuilds vendor_region_keys since a Kreis and its
// municipalities match the Kreis's NUTS-2 and NUTS-3 regions (migration 6).
var regionKeysMigration = regionkeys.Migration(6, func(n int) string { return fmt.Sprintf("$%d", n) })
