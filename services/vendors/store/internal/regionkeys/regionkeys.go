// Package regionkeys rebuilds the vendor_region_keys index of a vendors
// database, the same way for both engines, when the keys of a region
// change (as when Kreise got their NUTS-3 regions): the keys are derived
// from the regions served at write time, so vendors written before would
// otherwise stay unfindable by the new keys.
package regionkeys

import (
	"encoding/json"

	"github.com/pressly/goose/v3"

	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/services/vendors/profile"
)

// Migration returns the migration version that rebuilds the index; ph
// spells the n-th placeholder of the engine ("?" or "$n").
func Migration(version int64, ph func(int) string) *goose.Migration {
	return sqlstore.RebuildMigration(version,
		`SELECT id, regions_served FROM vendors`,
		`DELETE FROM vendor_region_keys`,
		`INSERT INTO vendor_region_keys (vendor_id, key, self) VALUES (`+ph(1)+`, `+ph(2)+`, `+ph(3)+`)`,
		func(served []byte) ([][]any, error) {
			var v profile.Vendor
			if err := json.Unmarshal(served, &v.RegionsServed); err != nil {
				return nil, err
			}
			var rows [][]any
			for _, k := range v.RegionKeys() {
				rows = append(rows, []any{k.Key, k.Self})
			}
			return rows, nil
		})
}
