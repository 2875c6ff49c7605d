package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/govmatch/govmatch/pkg/identity"
)

// TestVendorStory walks the vendor story through REST on both backends: a
// civic-tech association and a start-up register and keep their profiles,
// anyone finds them, a venture-client unit imports in bulk, an admin
// verifies.
func TestVendorStory(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		vendorStory(t, startMonolith(t, dsn, false))
	})
}

func vendorStory(t *testing.T, sys *system) {
	civic := sys.token(t, "codefor-giessen", identity.RoleVendor)
	startup := sys.token(t, "terminfix", identity.RoleVendor)
	unit := sys.token(t, "govtechhh", identity.RoleVentureUnit)
	admin := sys.token(t, "plattform", identity.RoleAdmin)
	buyer := sys.token(t, "stadt-giessen", identity.RoleBuyer)

	profile := map[string]any{
		"displayName":   "TerminFix GmbH",
		"kind":          "KIND_START_UP",
		"foundingYear":  2021,
		"sizeBand":      "SIZE_BAND_MICRO",
		"headquarters":  "06531005",
		"regionsServed": []string{"Hessen", "DE6"},
		"languages":     []string{"de", "en"},
		"website":       "https://terminfix.example",
		"description":   "Online-Terminbuchung für Bürgerbüros, barrierefrei und DSGVO-konform.",
		"capabilities":  []string{"Terminbuchung", "Barrierefreiheit"},
		"cpvCodes":      []string{"72212000-4"},
		"products": []map[string]any{{
			"displayName": "TerminFix", "description": "Terminbuchung als Dienst",
			"maturity": "MATURITY_IN_PRODUCTION", "hosting": "HOSTING_GERMANY", "licence": "AGPL-3.0-or-later",
		}},
		"references":     []map[string]any{{"clientOrganization": "Stadt Wetzlar", "year": 2024, "delivered": "Terminbuchung im Bürgerbüro", "outcome": "Wartezeit halbiert"}},
		"certifications": []string{"ISO 27001", "BITV 2.0"},
	}
	sys.call(t, "POST", "/v1/vendors", "", profile).expect(t, "register without token", http.StatusUnauthorized)
	sys.call(t, "POST", "/v1/vendors", buyer, profile).expect(t, "buyer registers a vendor", http.StatusForbidden)
	bad := map[string]any{"displayName": "X", "kind": "KIND_START_UP", "products": []map[string]any{{"displayName": "P", "licence": "NOT-A-LICENCE"}}}
	res := sys.call(t, "POST", "/v1/vendors", startup, bad).expect(t, "bad licence", http.StatusBadRequest)
	if !strings.Contains(strings.Join(res.violations(), ","), "products[0].licence") {
		t.Errorf("bad licence: violations %v", res.violations())
	}

	created := sys.call(t, "POST", "/v1/vendors", startup, profile).expect(t, "start-up registers", http.StatusOK)
	if created.body["name"] != "vendors/terminfix" {
		t.Errorf("vendor name %v, want vendors/terminfix", created.body["name"])
	}
	if p := created.body["products"].([]any)[0].(map[string]any); p["openSource"] != true {
		t.Errorf("AGPL product not marked open source: %v", p)
	}
	sys.call(t, "POST", "/v1/vendors", civic, map[string]any{
		"displayName": "Code for Gießen e.V.", "kind": "KIND_CIVIC_TECH", "nationwide": true,
		"description": "Ehrenamtliche Open-Data-Projekte für Kommunen.", "cpvCodes": []string{"72322000"},
		"capabilities": []string{"Open Data"},
	}).expect(t, "civic tech registers", http.StatusOK)

	// Keep the profile current; only the vendor itself may.
	sys.call(t, "PATCH", "/v1/vendors/terminfix", startup, map[string]any{"description": "Terminbuchung und Warteschlangen.", "etag": created.body["etag"]}).
		expect(t, "vendor edits", http.StatusOK)
	sys.call(t, "PATCH", "/v1/vendors/terminfix", startup, map[string]any{"description": "veraltet", "etag": created.body["etag"]}).
		expect(t, "stale etag", http.StatusConflict)
	sys.call(t, "PATCH", "/v1/vendors/terminfix", civic, map[string]any{"description": "fremd"}).expect(t, "other vendor edits", http.StatusForbidden)

	// Anyone finds vendors.
	for _, q := range []string{"cpvCodes=72000000", "regions=DE7", "kinds=KIND_START_UP", "openSource=true", "certifications=iso-27001", "query=terminbuch"} {
		list := sys.call(t, "GET", "/v1/vendors?"+q, "", nil).expect(t, "list "+q, http.StatusOK)
		if !strings.Contains(string(list.raw), `"name":"vendors/terminfix"`) {
			t.Errorf("list %s does not find vendors/terminfix: %s", q, list.raw)
		}
	}

	for _, q := range []string{"cpvCodes=45000000", "kinds=KIND_SME", "certifications=bsi-c5", "query=parkraum"} {
		list := sys.call(t, "GET", "/v1/vendors?"+q, "", nil).expect(t, "list "+q, http.StatusOK)
		if vs, _ := list.body["vendors"].([]any); len(vs) != 0 {
			t.Errorf("list %s: want nothing, got %s", q, list.raw)
		}
	}

	// A venture-client unit imports in bulk: all or nothing, resumable.
	batch := func(n int, broken bool) map[string]any {
		var reqs []map[string]any
		for i := range n {
			v := map[string]any{"displayName": fmt.Sprintf("Import %d", i), "kind": "KIND_OTHER", "description": "Importiert", "cpvCodes": []string{"72000000"}}
			if broken && i == n-1 {
				v["cpvCodes"] = []string{"99999999"}
			}
			reqs = append(reqs, map[string]any{"vendor": v, "externalId": fmt.Sprintf("ext-%d", i)})
		}
		return map[string]any{"requests": reqs}
	}
	res = sys.call(t, "POST", "/v1/vendors:batchCreate", unit, batch(5, true)).expect(t, "batch with a bad line", http.StatusBadRequest)
	if !strings.Contains(strings.Join(res.violations(), ","), "requests[4].vendor.cpv_codes[0]") {
		t.Errorf("batch violation does not name the line: %v", res.violations())
	}
	count := func() int {
		list := sys.call(t, "GET", "/v1/vendors?pageSize=100&query=import", "", nil).expect(t, "count", http.StatusOK)
		vs, _ := list.body["vendors"].([]any)
		return len(vs)
	}
	if n := count(); n != 0 {
		t.Fatalf("a rejected batch wrote %d vendors", n)
	}
	sys.call(t, "POST", "/v1/vendors:batchCreate", unit, batch(3, false)).expect(t, "first part", http.StatusOK)
	sys.call(t, "POST", "/v1/vendors:batchCreate", unit, batch(5, false)).expect(t, "resume", http.StatusOK)
	if n := count(); n != 5 {
		t.Errorf("after resuming: %d imported vendors, want 5 (no duplicates)", n)
	}
	sys.call(t, "POST", "/v1/vendors:batchCreate", startup, batch(1, false)).expect(t, "vendor imports", http.StatusForbidden)

	// Only admins verify.
	sys.call(t, "POST", "/v1/vendors/terminfix:verify", startup, map[string]any{"status": "VERIFICATION_STATUS_VERIFIED"}).
		expect(t, "vendor verifies itself", http.StatusForbidden)
	v := sys.call(t, "POST", "/v1/vendors/terminfix:verify", admin, map[string]any{"status": "VERIFICATION_STATUS_VERIFIED"}).
		expect(t, "admin verifies", http.StatusOK)
	if v.body["verificationStatus"] != "VERIFICATION_STATUS_VERIFIED" {
		t.Errorf("verified vendor: %s", v.raw)
	}
}
