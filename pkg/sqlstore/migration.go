package sqlstore

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"
)

// DDLMigration is a goose migration that runs up and down as they are:
// the DDL of a table that pkg keeps for every store (the outbox, the audit
// trail), numbered by each store in its own sequence.
func DDLMigration(version int64, up, down string) *goose.Migration {
	return goose.NewGoMigration(version,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, up)
			return err
		}},
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, down)
			return err
		}})
}
