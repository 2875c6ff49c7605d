package sqlite

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/sqlstore"
)

// WithAudit makes every write append its entry to the audit trail
// (pkg/audit) in the write's transaction: a change and its record commit
// together or not at all.
func WithAudit() Option { return func(s *Store) { s.audit = &audit.Chains{} } }

// auditMigrations add the audit table (pkg/audit) as migrations 6
// and 7, the steps of its schema.
var auditMigrations = []*goose.Migration{
	sqlstore.DDLMigration(6, audit.SQLiteSchema[0].Up, audit.SQLiteSchema[0].Down),
	sqlstore.DDLMigration(7, audit.SQLiteSchema[1].Up, audit.SQLiteSchema[1].Down),
}

// auditSkip are bookkeeping fields that change with every write.
var auditSkip = []string{"revision", "update_time"}

// record appends the entry of resource's change from before to after
// (nil: created or deleted), under the lock the write holds.
func (s *Store) record(ctx context.Context, tx *sql.Tx, resource string, before, after any) error {
	e, err := s.audit.Entry(ctx, resource, before, after, auditSkip...)
	if err != nil || e == nil {
		return err
	}
	return s.audit.AppendSQLite(ctx, tx, e)
}

// AuditTrail implements need.Store.
func (s *Store) AuditTrail(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	es, err := audit.ListSQLite(ctx, s.read, q)
	if err != nil {
		return nil, mapError(err, "read audit trail", q.Resource)
	}
	return es, nil
}

// VerifyAudit checks every chain of the audit trail.
func (s *Store) VerifyAudit(ctx context.Context) (audit.Report, error) {
	return audit.VerifySQLite(ctx, s.read)
}
