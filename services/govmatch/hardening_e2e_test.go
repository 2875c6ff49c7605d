package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/identity"
)

// TestHardeningE2E replays findings 3, 5 and 9 of issue 9 through REST, as
// the probe found them: a verified vendor's rename voids its verification;
// ?updateMask=* works on a draft; update masks mean the same in camelCase
// and snake_case and refuse output-only fields in both; matching's filter
// lists are bounded.
func TestHardeningE2E(t *testing.T) {
	t.Parallel()
	sys := startMonolith(t, "", false)
	admin := sys.token(t, "govmatch", identity.RoleAdmin)
	startup := sys.token(t, "terminfix", identity.RoleVendor)
	giessen := sys.token(t, "stadt-giessen", identity.RoleBuyer)

	t.Run("verification reset", func(t *testing.T) {
		sys.call(t, "POST", "/v1/vendors", startup, map[string]any{
			"displayName": "TerminFix GmbH", "kind": "KIND_START_UP", "certifications": []string{"ISO 27001"},
		}).expect(t, "register", http.StatusOK)
		sys.call(t, "POST", "/v1/vendors/terminfix:verify", admin, map[string]any{"status": "VERIFICATION_STATUS_VERIFIED"}).
			expect(t, "verify", http.StatusOK)
		sys.call(t, "PATCH", "/v1/vendors/terminfix", startup, map[string]any{"description": "Terminbuchung."}).
			expect(t, "edit the description", http.StatusOK)
		if v := sys.call(t, "GET", "/v1/vendors/terminfix", "", nil).body; v["verificationStatus"] != "VERIFICATION_STATUS_VERIFIED" {
			t.Errorf("after an edit of the description: %v, want still verified", v["verificationStatus"])
		}
		v := sys.call(t, "PATCH", "/v1/vendors/terminfix", startup, map[string]any{"displayName": "Termin-Fix AG"}).
			expect(t, "rename", http.StatusOK).body
		if v["verificationStatus"] != "VERIFICATION_STATUS_UNVERIFIED" || !strings.Contains(str(v["verificationNote"]), "display_name") {
			t.Errorf("after the rename: %v %q, want unverified with the reason", v["verificationStatus"], v["verificationNote"])
		}
	})

	t.Run("update masks", func(t *testing.T) {
		draft := map[string]any{
			"title":            "Online-Terminbuchung",
			"problemStatement": "Bürgerinnen und Bürger warten zu lange auf einen Termin.",
			"cpvCodes":         []string{"72212000"},
		}
		created := sys.call(t, "POST", "/v1/needs", giessen, draft).expect(t, "create", http.StatusOK)
		path := "/v1/" + str(created.body["name"])

		all := map[string]any{
			"title":            "Online-Terminbuchung (IKZ)",
			"problemStatement": "Termine online buchen, verschieben und absagen.",
			"cpvCodes":         []string{"72212000"},
		}
		res := sys.call(t, "PATCH", path+"?updateMask=*", giessen, all).expect(t, "updateMask=* on a draft", http.StatusOK)
		if res.body["title"] != all["title"] || res.body["problemStatement"] != all["problemStatement"] {
			t.Errorf("updateMask=* did not replace the fields: %s", res.raw)
		}
		res = sys.call(t, "PATCH", path+"?updateMask=problemStatement,remotePossible", giessen, map[string]any{
			"problemStatement": "In camelCase geändert.", "remotePossible": true, "title": "nicht in der Maske",
		}).expect(t, "camelCase mask", http.StatusOK)
		if res.body["problemStatement"] != "In camelCase geändert." || res.body["remotePossible"] != true || res.body["title"] != all["title"] {
			t.Errorf("camelCase mask: %s", res.raw)
		}
		for _, mask := range []string{"state", "createTime", "create_time", "ownerOrganization"} {
			res := sys.call(t, "PATCH", path+"?updateMask=title,"+mask, giessen, map[string]any{"title": "x"}).
				expect(t, "output-only "+mask, http.StatusBadRequest)
			if diff := cmp.Diff([]string{"update_mask.paths[1]"}, res.violations()); diff != "" {
				t.Errorf("output-only %s: violations (-want +got):\n%s", mask, diff)
			}
		}
		if got := sys.call(t, "GET", path, giessen, nil).body["title"]; got != all["title"] {
			t.Errorf("a refused update wrote the title: %v", got)
		}
	})

	t.Run("filter caps", func(t *testing.T) {
		q := url.Values{}
		for range 21 {
			q.Add("filter.regions", "DE7")
		}
		res := sys.call(t, "GET", "/v1/vendors/terminfix/matches?"+q.Encode(), giessen, nil).expect(t, "21 regions", http.StatusBadRequest)
		if diff := cmp.Diff([]string{"filter.regions"}, res.violations()); diff != "" {
			t.Errorf("violations (-want +got):\n%s", diff)
		}
		q = url.Values{"filter.certifications": {strings.Repeat("x", 65)}}
		res = sys.call(t, "GET", "/v1/needs/any-need/matches?"+q.Encode(), giessen, nil).expect(t, "a long certification", http.StatusBadRequest)
		if diff := cmp.Diff([]string{"filter.certifications[0]"}, res.violations()); diff != "" {
			t.Errorf("violations (-want +got):\n%s", diff)
		}
	})
}

// TestHiddenDraftIDsDoNotLeak (finding 4): probing another organisation's
// ids answers the same whether a hidden draft holds the id or not.
func TestHiddenDraftIDsDoNotLeak(t *testing.T) {
	t.Parallel()
	sys := startMonolith(t, "", false)
	giessen := sys.token(t, "stadt-giessen", identity.RoleBuyer)
	marburg := sys.token(t, "stadt-marburg", identity.RoleBuyer)
	sys.call(t, http.MethodPost, "/v1/needs?needId=stadt-giessen.geheim", giessen, needBody).expect(t, "draft", http.StatusOK)
	sys.call(t, http.MethodGet, "/v1/needs/stadt-giessen.geheim", marburg, nil).expect(t, "another's draft", http.StatusNotFound)
	taken := sys.call(t, http.MethodPost, "/v1/needs?needId=stadt-giessen.geheim", marburg, needBody)
	free := sys.call(t, http.MethodPost, "/v1/needs?needId=stadt-giessen.frei", marburg, needBody)
	if taken.status != http.StatusBadRequest || free.status != taken.status ||
		strings.ReplaceAll(string(free.raw), "frei", "geheim") != string(taken.raw) {
		t.Errorf("probe of a hidden draft: %d %s\nprobe of a free id: %d %s\nwant the same 400", taken.status, taken.raw, free.status, free.raw)
	}
	sys.call(t, http.MethodPost, "/v1/needs?needId=stadt-giessen.geheim", giessen, needBody).expect(t, "own taken id", http.StatusConflict)
	sys.call(t, http.MethodPost, "/v1/needs?needId=stadt-marburg.frei", marburg, needBody).expect(t, "own prefix", http.StatusOK)
	// An organisation whose id begins another's cannot choose ids inside it.
	stadt := sys.token(t, "stadt", identity.RoleBuyer)
	sys.call(t, http.MethodPost, "/v1/needs?needId=stadt-giessen.frei", stadt, needBody).expect(t, "squatting another's ids", http.StatusBadRequest)
	sys.call(t, http.MethodPost, "/v1/needs?needId=stadt.giessen-frei", stadt, needBody).expect(t, "own ids", http.StatusOK)

	// Every read of a hidden draft answers what the read of an absent need
	// answers, byte for byte but the id.
	vendor := sys.token(t, "civic-startup", identity.RoleVendor)
	for _, probe := range []struct {
		path  string
		token string
	}{
		{"/v1/needs/%s", marburg},
		{"/v1/needs/%s/auditEntries", marburg},
		{"/v1/needs/%s/auditEntries:export", marburg},
		{"/v1/needs/%s/responses", marburg},
		{"/v1/needs/%s/responses/civic-startup", vendor},
		{"/v1/needs/%s", ""},
	} {
		hidden := sys.call(t, http.MethodGet, fmt.Sprintf(probe.path, "stadt-giessen.geheim"), probe.token, nil)
		absent := sys.call(t, http.MethodGet, fmt.Sprintf(probe.path, "stadt-giessen.keiner"), probe.token, nil)
		if hidden.status != absent.status || hidden.status == http.StatusOK ||
			strings.ReplaceAll(string(absent.raw), "keiner", "geheim") != string(hidden.raw) {
			t.Errorf("GET %s\nhidden draft: %d %s\nabsent need:  %d %s\nwant the same answer", probe.path, hidden.status, hidden.raw, absent.status, absent.raw)
		}
	}
}
