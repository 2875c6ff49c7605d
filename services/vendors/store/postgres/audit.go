package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/pressly/goose/v3"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/services/vendors/store/internal/changes"
)

// WithAudit makes every write append its entry to the audit trail
// (pkg/audit) in the write's transaction: a change and its record commit
// together or not at all.
func WithAudit() Option { return func(s *Store) { s.audit = &audit.Chains{} } }

// auditMigrations add the audit table (pkg/audit) as migrations 4
// and 5, the steps of its schema.
var auditMigrations = []*goose.Migration{
	sqlstore.DDLMigration(4, audit.PostgresSchema[0].Up, audit.PostgresSchema[0].Down),
	sqlstore.DDLMigration(5, audit.PostgresSchema[1].Up, audit.PostgresSchema[1].Down),
}

// auditSkip are bookkeeping fields that change with every write.
var auditSkip = []string{"revision", "update_time"}

// record appends the entries of the writes in ch, under the locks the
// transaction holds.
func (s *Store) record(ctx context.Context, tx pgx.Tx, ch *changes.List) error {
	if s.audit == nil {
		return nil
	}
	return ch.Audit(ctx, auditSkip, func(e *audit.Entry) error { return s.audit.AppendPgx(ctx, tx, e) })
}

// AuditTrail implements profile.Store.
func (s *Store) AuditTrail(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	return audit.ListPgx(ctx, s.pool, q)
}

// VerifyAudit checks every chain of the audit trail.
func (s *Store) VerifyAudit(ctx context.Context) (audit.Report, error) {
	return audit.VerifyPgx(ctx, s.pool)
}
