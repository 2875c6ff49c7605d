package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// RebuildMigration returns a migration that rebuilds an index table derived
// from a column, as when the derivation learnt more (the region keys of
// needs and vendors). It reads (id, value) pairs with selectSQL, empties
// the index with clearSQL, and for each pair inserts every row derive
// returns with insertSQL, whose arguments are the id and then the row.
// Its down step keeps the index: the earlier version finds no less.
func RebuildMigration(version int64, selectSQL, clearSQL, insertSQL string, derive func(value []byte) ([][]any, error)) *goose.Migration {
	return goose.NewGoMigration(version,
		&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, selectSQL)
			if err != nil {
				return err
			}
			values := map[string][]byte{}
			for rows.Next() {
				var id string
				var v []byte
				if err := rows.Scan(&id, &v); err != nil {
					rows.Close()
					return err
				}
				values[id] = v
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, clearSQL); err != nil {
				return err
			}
			for id, v := range values {
				derived, err := derive(v)
				if err != nil {
					return fmt.Errorf("%s: %w", id, err)
				}
				for _, row := range derived {
					if _, err := tx.ExecContext(ctx, insertSQL, append([]any{id}, row...)...); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		&goose.GoFunc{RunTx: func(context.Context, *sql.Tx) error { return nil }})
}
