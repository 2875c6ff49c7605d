// Package baseline holds the rankers that govmatch's matcher is measured
// against: PostgreSQL full-text search and Bleve's BM25. Both see exactly
// the text a user gave: a vendor's name and description, a need's title and
// description, unchanged (no CPV codes, no cleaning), so that they are the
// baselines the evaluation README names and nothing tuned to the sets.
package baseline

import (
	"fmt"

	"github.com/govmatch/govmatch/services/matching/relevance"
)

// vendorText is what a baseline indexes of a vendor.
func vendorText(v relevance.Vendor) string { return v.Name + "\n" + v.Description }

// needText is what a baseline searches for a need.
func needText(n relevance.Need) string { return n.Title + "\n" + n.Description }

// unsupported is the error for a language a baseline has no configuration
// for.
func unsupported(system string, lang relevance.Language) error {
	return fmt.Errorf("baseline: %s: no configuration for language %q", system, lang)
}
