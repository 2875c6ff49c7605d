// Package sqlite keeps vendors in an SQLite file, for single-node
// deployments and development. It uses the pure-Go driver modernc.org/sqlite,
// so it builds with CGO_ENABLED=0. Free-text search uses an FTS5 index.
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
	"github.com/govmatch/govmatch/services/vendors/profile"
	"github.com/govmatch/govmatch/services/vendors/store/internal/changes"
	"github.com/govmatch/govmatch/services/vendors/store/internal/columns"
	"github.com/govmatch/govmatch/services/vendors/store/internal/regionkeys"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a profile.Store in SQLite.
type Store struct {
	write *sql.DB // one connection; BEGIN IMMEDIATE
	read  *sql.DB // read-only connections; the same as write in memory

	events   Events        // nil: writes emit no events
	audit    *audit.Chains // WithAudit; nil: no trail
	onCommit atomic.Pointer[func()]
}

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

// Connection settings, as in the needs registry: busy_timeout waits for
// locks, synchronous(FULL) makes every acknowledged commit durable.
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
		db, err := open(dsn + "?" + writeDSN)
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
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(append(append([]*goose.Migration{outboxMigration}, auditMigrations...), regionKeysMigration)...))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate SQLite schema: %w", err)
	}
	return nil
}

// outboxMigration adds the outbox table (pkg/outbox) as migration 2.
var outboxMigration = sqlstore.DDLMigration(2, outbox.SQLiteDDL, outbox.DropDDL)

// Outbox returns the outbox of the database, for the relay.
func (s *Store) Outbox() outbox.Store { return outbox.NewSQLite(s.write) }

// OnCommit sets f to be called after every commit that inserted events
// (the relay's Notify). Set it before writing; f must not block.
func (s *Store) OnCommit(f func()) { s.onCommit.Store(&f) }

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

// selectVendor reads every field of a vendor; scanVendor takes the row
// apart. The CPV codes come back as a JSON array in the same row, so one
// statement sees one consistent snapshot.
const selectVendor = `
SELECT v.id, v.external_id, v.owner_org, v.display_name, v.kind, v.founding_year, v.size_band,
       v.headquarters, v.regions_served, v.nationwide, v.remote, v.languages, v.website,
       v.description, v.capabilities, v.certifications, v.products, v.client_references,
       v.verification, v.verification_note, v.verify_time,
       v.create_time, v.update_time, v.revision,
       (SELECT json_group_array(c.code ORDER BY c.position) FROM vendor_cpv_codes c WHERE c.vendor_id = v.id)
FROM vendors v`

type scanner interface{ Scan(dest ...any) error }

func scanVendor(row scanner) (*profile.Vendor, error) {
	var (
		v                                               profile.Vendor
		externalID                                      *string
		regions, langs, caps, certs, prods, refs, codes string
		verifyTime                                      *int64
		createTime, updateTime                          int64
	)
	err := row.Scan(&v.ID, &externalID, &v.OwnerOrg, &v.DisplayName, &v.Kind, &v.FoundingYear, &v.SizeBand,
		&v.Headquarters, &regions, &v.Nationwide, &v.Remote, &langs, &v.Website,
		&v.Description, &caps, &certs, &prods, &refs,
		&v.Verification, &v.VerificationNote, &verifyTime,
		&createTime, &updateTime, &v.Revision, &codes)
	if err != nil {
		return nil, err
	}
	if externalID != nil {
		v.ExternalID = *externalID
	}
	for _, l := range []struct {
		json string
		dst  *[]string
	}{
		{regions, &v.RegionsServed}, {langs, &v.Languages}, {caps, &v.Capabilities},
		{certs, &v.Certifications}, {codes, &v.CPVCodes},
	} {
		if *l.dst, err = sqlstore.ParseJSONList(l.json); err != nil {
			return nil, err
		}
	}
	if v.Products, err = columns.ParseProducts(prods); err != nil {
		return nil, err
	}
	if v.References, err = columns.ParseReferences(refs); err != nil {
		return nil, err
	}
	v.VerifyTime = sqlstore.FromMicros(verifyTime)
	v.CreateTime = sqlstore.FromMicros(&createTime)
	v.UpdateTime = sqlstore.FromMicros(&updateTime)
	return columns.Stored(&v), nil
}

// vendorArgs are the column values of v for insertVendor and updateVendor.
func vendorArgs(v *profile.Vendor) []any {
	return []any{
		sql.Named("id", v.ID),
		sql.Named("external_id", columns.ExternalID(v.ExternalID)),
		sql.Named("owner_org", v.OwnerOrg),
		sql.Named("display_name", v.DisplayName),
		sql.Named("kind", int64(v.Kind)),
		sql.Named("founding_year", int64(v.FoundingYear)),
		sql.Named("size_band", int64(v.SizeBand)),
		sql.Named("headquarters", v.Headquarters),
		sql.Named("regions_served", sqlstore.JSONList(v.RegionsServed)),
		sql.Named("nationwide", v.Nationwide),
		sql.Named("remote", v.Remote),
		sql.Named("languages", sqlstore.JSONList(v.Languages)),
		sql.Named("website", v.Website),
		sql.Named("description", v.Description),
		sql.Named("capabilities", sqlstore.JSONList(v.Capabilities)),
		sql.Named("certifications", sqlstore.JSONList(v.Certifications)),
		sql.Named("products", columns.Products(v.Products)),
		sql.Named("client_references", columns.References(v.References)),
		sql.Named("has_open_source", v.HasOpenSourceProduct()),
		sql.Named("verification", int64(v.Verification)),
		sql.Named("verification_note", v.VerificationNote),
		sql.Named("verify_time", sqlstore.ToMicros(v.VerifyTime)),
		sql.Named("create_time", v.CreateTime.UnixMicro()),
		sql.Named("update_time", v.UpdateTime.UnixMicro()),
		sql.Named("revision", v.Revision),
		sql.Named("search_text", v.SearchText()),
	}
}

const insertVendor = `
INSERT INTO vendors (
    id, external_id, owner_org, display_name, kind, founding_year, size_band,
    headquarters, regions_served, nationwide, remote, languages, website,
    description, capabilities, certifications, products, client_references, has_open_source,
    verification, verification_note, verify_time, create_time, update_time, revision, search_text
) VALUES (
    :id, :external_id, :owner_org, :display_name, :kind, :founding_year, :size_band,
    :headquarters, :regions_served, :nationwide, :remote, :languages, :website,
    :description, :capabilities, :certifications, :products, :client_references, :has_open_source,
    :verification, :verification_note, :verify_time, :create_time, :update_time, :revision, :search_text
)`

// updateVendor leaves id and external_id alone: neither changes.
const updateVendor = `
UPDATE vendors SET
    owner_org = :owner_org, display_name = :display_name, kind = :kind,
    founding_year = :founding_year, size_band = :size_band, headquarters = :headquarters,
    regions_served = :regions_served, nationwide = :nationwide, remote = :remote,
    languages = :languages, website = :website, description = :description,
    capabilities = :capabilities, certifications = :certifications, products = :products,
    client_references = :client_references, has_open_source = :has_open_source,
    verification = :verification, verification_note = :verification_note, verify_time = :verify_time,
    create_time = :create_time, update_time = :update_time, revision = :revision,
    search_text = :search_text
WHERE id = :id`

// writeChildren replaces the child rows of v. json_each numbers a list in
// its order (key is the 0-based index).
func writeChildren(ctx context.Context, tx *sql.Tx, v *profile.Vendor, replace bool) error {
	if replace {
		for _, t := range []string{"vendor_cpv_codes", "vendor_region_keys", "vendor_tags"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE vendor_id = ?`, v.ID); err != nil {
				return err
			}
		}
	}
	if len(v.CPVCodes) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO vendor_cpv_codes (vendor_id, position, code)
			SELECT ?, j.key + 1, j.value FROM json_each(?) AS j`, v.ID, sqlstore.JSONList(v.CPVCodes)); err != nil {
			return err
		}
	}
	if keys := v.RegionKeys(); len(keys) > 0 {
		var self, other []string
		for _, k := range keys {
			if k.Self {
				self = append(self, k.Key)
			} else {
				other = append(other, k.Key)
			}
		}
		for _, l := range []struct {
			keys []string
			self bool
		}{{self, true}, {other, false}} {
			if len(l.keys) == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO vendor_region_keys (vendor_id, key, self)
				SELECT ?, j.value, ? FROM json_each(?) AS j`, v.ID, l.self, sqlstore.JSONList(l.keys)); err != nil {
				return err
			}
		}
	}
	for _, l := range []struct {
		facet string
		tags  []string
	}{{columns.FacetCapability, v.Capabilities}, {columns.FacetCertification, v.Certifications}} {
		if len(l.tags) == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO vendor_tags (vendor_id, facet, tag)
			SELECT ?, ?, j.value FROM json_each(?) AS j`, v.ID, l.facet, sqlstore.JSONList(l.tags)); err != nil {
			return err
		}
	}
	return nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits if fn
// returns nil. fn's writes are described by the changes it reports to its
// second argument; with events on, inTx inserts their events after fn's
// writes, in the same transaction.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx, *changes.List) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	var ch changes.List
	if err := fn(tx, &ch); err != nil {
		_ = tx.Rollback()
		return err
	}
	n, err := s.insertEvents(ctx, tx, &ch)
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := s.record(ctx, tx, &ch); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if f := s.onCommit.Load(); n > 0 && f != nil {
		(*f)()
	}
	return nil
}

// insertEvents adds the events of the writes in ch to the outbox and
// returns how many.
func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, ch *changes.List) (int, error) {
	recs, err := ch.Records(ctx, s.events, func(ctx context.Context, id string, atLeast int64) (int64, error) {
		return nextVersion(ctx, tx, id, atLeast)
	})
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	return len(recs), outbox.InsertTx(ctx, tx, recs...)
}

// nextVersion implements changes.NextVersion with the event counter of the
// vendor id, which outlives the vendor.
func nextVersion(ctx context.Context, tx *sql.Tx, id string, atLeast int64) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `
		INSERT INTO vendor_event_versions (vendor_id, version) VALUES (?, ?)
		ON CONFLICT (vendor_id) DO UPDATE SET version = max(excluded.version, vendor_event_versions.version + 1)
		RETURNING version`, id, atLeast).Scan(&v)
	return v, err
}

// Create implements profile.Store. The write lock, taken at BEGIN, keeps
// the check for an existing external id and the insert together.
func (s *Store) Create(ctx context.Context, vendors []*profile.Vendor, existing func(int, *profile.Vendor) error) ([]*profile.Vendor, error) {
	out := make([]*profile.Vendor, len(vendors))
	id := ""
	err := s.inTx(ctx, func(tx *sql.Tx, ch *changes.List) error {
		for i, v := range vendors {
			id = v.ID
			if v.ExternalID != "" {
				old, err := scanVendor(tx.QueryRowContext(ctx, selectVendor+` WHERE v.external_id = ?`, v.ExternalID))
				switch {
				case err == nil:
					if err := existing(i, old); err != nil {
						return sqlstore.FnError(err)
					}
					out[i] = old
					continue
				case !errors.Is(err, sql.ErrNoRows):
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, insertVendor, vendorArgs(v)...); err != nil {
				return err
			}
			if err := writeChildren(ctx, tx, v, false); err != nil {
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
	v, err := scanVendor(s.read.QueryRowContext(ctx, selectVendor+` WHERE v.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errdefs.NotFound("vendor %q not found", "vendors/"+id)
	}
	if err != nil {
		return nil, mapError(err, "get vendor", id)
	}
	return v, nil
}

// loadVendor reads the vendor inside a write transaction, which holds
// SQLite's write lock since BEGIN IMMEDIATE.
func loadVendor(ctx context.Context, tx *sql.Tx, id string) (*profile.Vendor, error) {
	v, err := scanVendor(tx.QueryRowContext(ctx, selectVendor+` WHERE v.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errdefs.NotFound("vendor %q not found", "vendors/"+id)
	}
	return v, err
}

// Update implements profile.Store.
func (s *Store) Update(ctx context.Context, id string, fn func(*profile.Vendor) error) (*profile.Vendor, error) {
	var updated *profile.Vendor
	err := s.inTx(ctx, func(tx *sql.Tx, ch *changes.List) error {
		v, err := loadVendor(ctx, tx, id)
		if err != nil {
			return err
		}
		before := v.Clone()
		if err := fn(v); err != nil {
			return sqlstore.FnError(err)
		}
		v.ID = id
		if _, err := tx.ExecContext(ctx, updateVendor, vendorArgs(v)...); err != nil {
			return err
		}
		if err := writeChildren(ctx, tx, v, true); err != nil {
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
// DELETE CASCADE), the search index entry with a trigger.
func (s *Store) Delete(ctx context.Context, id string, fn func(*profile.Vendor) error) error {
	err := s.inTx(ctx, func(tx *sql.Tx, ch *changes.List) error {
		v, err := loadVendor(ctx, tx, id)
		if err != nil {
			return err
		}
		before := v.Clone()
		if err := fn(v); err != nil {
			return sqlstore.FnError(err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM vendors WHERE id = ?`, id); err != nil {
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
		kinds := make([]any, len(q.Kinds))
		for i, k := range q.Kinds {
			kinds[i] = int64(k)
		}
		w.Add(`v.kind IN (`+sqlstore.Placeholders(len(kinds))+`)`, kinds...)
	}
	if len(q.CPVPrefixes) > 0 {
		likes := make([]string, len(q.CPVPrefixes))
		args := make([]any, len(q.CPVPrefixes))
		for i, p := range q.CPVPrefixes {
			likes[i] = `c.code LIKE (? || '%') ESCAPE '\'`
			args[i] = sqlstore.LikePrefix(p)
		}
		w.Add(`EXISTS (SELECT 1 FROM vendor_cpv_codes c WHERE c.vendor_id = v.id AND (`+strings.Join(likes, " OR ")+`))`, args...)
	}
	if r := q.Regions; r != nil {
		args := append(sqlstore.Anys(r.Keys), sqlstore.Anys(r.Within)...)
		w.Add(`(v.nationwide OR EXISTS (SELECT 1 FROM vendor_region_keys r WHERE r.vendor_id = v.id AND (
			r.key IN (`+sqlstore.Placeholders(len(r.Keys))+`) OR (r.self AND r.key IN (`+sqlstore.Placeholders(len(r.Within))+`)))))`, args...)
	}
	for _, f := range []struct {
		facet string
		tags  []string
	}{{columns.FacetCapability, q.Capabilities}, {columns.FacetCertification, q.Certifications}} {
		if len(f.tags) > 0 {
			w.Add(`EXISTS (SELECT 1 FROM vendor_tags t WHERE t.vendor_id = v.id AND t.facet = ? AND t.tag IN (`+sqlstore.Placeholders(len(f.tags))+`))`,
				append([]any{f.facet}, sqlstore.Anys(f.tags)...)...)
		}
	}
	if q.OpenSource {
		w.Add(`v.has_open_source`)
	}
	if words := columns.SearchWords(q.Words); len(words) > 0 {
		w.Add(`v.seq IN (SELECT rowid FROM vendors_fts WHERE vendors_fts MATCH ?)`, sqlstore.FTS5Query(words))
	}
	order, after := "DESC", "<"
	if q.Ascending {
		order, after = "ASC", ">"
	}
	if q.After != nil {
		w.Add(`(v.create_time, v.id) `+after+` (?, ?)`, q.After.CreateTime.UnixMicro(), q.After.ID)
	}
	query := selectVendor + w.SQL() +
		` ORDER BY v.create_time ` + order + `, v.id ` + order +
		` LIMIT ?`
	args := append(w.Args, q.Limit)

	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, mapError(err, "list vendors", "")
	}
	defer rows.Close()
	var vendors []*profile.Vendor
	for rows.Next() {
		v, err := scanVendor(rows)
		if err != nil {
			return nil, mapError(err, "list vendors", "")
		}
		vendors = append(vendors, v)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(err, "list vendors", "")
	}
	return vendors, nil
}

// mapError turns driver errors into the sentinels of errdefs and adds what
// was being done (op) to which vendor (id, may be empty); sentinels and fn's
// errors pass unchanged.
func mapError(err error, op, id string) error {
	return sqlstore.MapSQLiteError(err, op, id, "vendors.id", errdefs.AlreadyExists("vendor %q already exists", "vendors/"+id))
}

// regionKeysMigration rebuilds vendor_region_keys since a Kreis and its
// municipalities match the Kreis's NUTS-2 and NUTS-3 regions (migration 6).
var regionKeysMigration = regionkeys.Migration(6, func(int) string { return "?" })
