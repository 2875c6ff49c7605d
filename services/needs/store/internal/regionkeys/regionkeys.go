// Package regionkeys rebuilds the need_region_keys index of a needs
// database, the same way for both engines, when refdata.RegionKeys learns
// more about the places (as when Kreise got their NUTS-3 regions): the keys
// are derived from each need's places at write time, so needs written
// before would otherwise stay unfindable by the new keys.
package regionkeys

import (
	"encoding/json"

	"github.com/pressly/goose/v3"

	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/services/needs/need"
)

// Migration returns the migration version that rebuilds the index; ph
// spells the n-th placeholder of the engine ("?" or "$n").
func Migration(version int64, ph func(int) string) *goose.Migration {
	return sqlstore.RebuildMigration(version,
		`SELECT id, places FROM needs`,
		`DELETE FROM need_region_keys`,
		`INSERT INTO need_region_keys (need_id, key) VALUES (`+ph(1)+`, `+ph(2)+`)`,
		func(places []byte) ([][]any, error) {
			var n need.Need
			if err := json.Unmarshal(places, &n.Places); err != nil {
				return nil, err
			}
			var rows [][]any
			for _, k := range n.RegionKeys() {
				rows = append(rows, []any{k})
			}
			return rows, nil
		})
}
