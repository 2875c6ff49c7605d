package profile

import (
	"slices"
	"strings"
	"sync"

	"github.com/govmatch/govmatch/pkg/refdata"
)

// A vendor serves regions at any level ("DE7", "06531", a municipality),
// while refdata.RegionKeys only knows places (NUTS codes and 8-digit AGS).
// This file extends its keys to AGS Land and Kreis prefixes, so that a filter
// region matches a vendor when one of the two contains the other:
//
//	served S matches filter F  ⇔  key(F) ∈ upKeys(S)  or  key(S) ∈ upKeys(F)
//
// where upKeys(R) are the keys of R and of every region containing R. As in
// refdata, NUTS and AGS codes meet at Land level only.

// RegionKey is one match key of a vendor's served regions. Self marks the
// key of a served region itself rather than of a region containing it.
type RegionKey struct {
	Key  string
	Self bool
}

// RegionMatch is what a store needs to find vendors serving one or more
// filter regions: a vendor matches when it has a key in Keys (a served
// region lies inside a filter region), or a Self key in Within (a served
// region contains a filter region).
type RegionMatch struct {
	Keys   []string
	Within []string
}

// normalizeServedRegion validates a served region as RegionFilterKey does
// and returns its canonical code: "DE", an upper-case NUTS code, or the
// digits of an AGS of 2, 5 or 8 digits.
func normalizeServedRegion(s string) (string, error) {
	key, err := refdata.RegionFilterKey(s)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(key, "AGS:"), nil
}

// regionKey is the key of a canonical region code, as RegionFilterKey
// spells it.
func regionKey(code string) string {
	if code != "" && code[0] >= '0' && code[0] <= '9' {
		return "AGS:" + code
	}
	return code
}

// upKeys returns the keys of a canonical region code and of every region
// containing it.
func upKeys(code string) []string {
	if len(code) == 8 || !isDigit(code) {
		return refdata.RegionKeys(code) // a place: "DE", NUTS, municipality
	}
	// An AGS Land (2 digits) or Kreis (5 digits).
	nuts1, ok := landNUTS1()[code[:2]]
	if !ok {
		return nil
	}
	keys := []string{"DE", nuts1}
	if n3, ok := refdata.KreisNUTS3(code); ok && len(code) == 5 {
		keys = append(keys, n3[:4], n3) // a Kreis is a NUTS-3 region
	}
	keys = append(keys, "AGS:"+code[:2])
	if len(code) == 5 {
		keys = append(keys, "AGS:"+code)
	}
	return keys
}

func isDigit(code string) bool { return code != "" && code[0] >= '0' && code[0] <= '9' }

// landNUTS1 maps the 2-digit AGS of each Land to its NUTS-1 code.
var landNUTS1 = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, 16)
	for _, r := range refdata.Regions() {
		if r.Kind == refdata.Land {
			m[r.LandAGS] = r.NUTS1
		}
	}
	return m
})

// matchRegions turns validated filter keys (from refdata.RegionFilterKey)
// into a RegionMatch.
func matchRegions(filterKeys []string) *RegionMatch {
	if len(filterKeys) == 0 {
		return nil
	}
	m := &RegionMatch{}
	seen := make(map[string]bool)
	for _, k := range filterKeys {
		m.Keys = append(m.Keys, k)
		for _, up := range upKeys(strings.TrimPrefix(k, "AGS:")) {
			if !seen[up] {
				seen[up] = true
				m.Within = append(m.Within, up)
			}
		}
	}
	return m
}

// ServesRegion reports whether the vendor serves the region with filter key
// filterKey (from refdata.RegionFilterKey), by the rule stores implement
// with RegionKeys and RegionMatch. Tests use it as the reference.
func (v *Vendor) ServesRegion(filterKey string) bool {
	if v.Nationwide {
		return true
	}
	m := matchRegions([]string{filterKey})
	for _, k := range v.RegionKeys() {
		if k.Key == filterKey || k.Self && slices.Contains(m.Within, k.Key) {
			return true
		}
	}
	return false
}
