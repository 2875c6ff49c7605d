package main

import (
	"net/url"
	"slices"
	"testing"

	"github.com/govmatch/govmatch/pkg/identity"
)

// TestRegionFilterLevels filters the demo data by every level of both
// schemes, through the gateway: needs in Gießen (06531005, with Marburg and
// Wetzlar) and in Wetzlar only (06532023), and a vendor that serves the
// Kreise Gießen and Marburg-Biedenkopf (06531, 06534).
func TestRegionFilterLevels(t *testing.T) {
	t.Parallel()
	sys := startMonolith(t, "", true)
	admin := sys.token(t, "", identity.RoleAdmin)
	const giessen, wetzlar, codefor = "needs/stadt-giessen.terminbuchung-buergerbuero", "needs/stadt-wetzlar.leerstandsmelder", "vendors/codefor-giessen"
	names := func(path, field string) []string {
		t.Helper()
		res := sys.call(t, "GET", path, admin, nil).expect(t, path, 200)
		items, _ := res.body[field].([]any)
		var out []string
		for _, it := range items {
			out = append(out, str(it.(map[string]any)["name"]))
		}
		return out
	}
	for _, tc := range []struct {
		filter                 string
		giessen, wetzlar, code bool
	}{
		{"DE", true, true, true},
		{"Hessen", true, true, true},
		{"DE7", true, true, true},
		{"DE72", true, true, true},   // Regierungsbezirk Gießen
		{"DE721", true, false, true}, // Landkreis Gießen
		{"DE722", true, true, false}, // Lahn-Dill-Kreis: the joint need has Wetzlar too
		{"DE724", true, false, true}, // Marburg-Biedenkopf
		{"DE71", false, false, false},
		{"06", true, true, true},
		{"06531", true, false, true},
		{"06532", true, true, false},
		{"06531005", true, false, true},
		{"06532023", true, true, false},
		{"DE1", false, false, false},
	} {
		t.Run(tc.filter, func(t *testing.T) {
			q := "?pageSize=100&regions=" + url.QueryEscape(tc.filter)
			needs := names("/v1/needs"+q, "needs")
			if got := slices.Contains(needs, giessen); got != tc.giessen {
				t.Errorf("needs: Gießen's need found %v, want %v", got, tc.giessen)
			}
			if got := slices.Contains(needs, wetzlar); got != tc.wetzlar {
				t.Errorf("needs: Wetzlar's need found %v, want %v", got, tc.wetzlar)
			}
			if got := slices.Contains(names("/v1/vendors"+q, "vendors"), codefor); got != tc.code {
				t.Errorf("vendors: Code for Gießen found %v, want %v", got, tc.code)
			}
		})
	}
}
