package main

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"testing"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/identity"
)

// TestMatchingThroughREST checks the first matching increment in the
// monolith: ranked vendors for a need with explanations that add up, a
// vendor change reflected in the next answers, the other directions, and
// drafts only for their owners.
func TestMatchingThroughREST(t *testing.T) {
	t.Parallel()
	sys := startMonolith(t, "", true)
	giessen := sys.token(t, "stadt-giessen", identity.RoleBuyer)
	marburg := sys.token(t, "stadt-marburg", identity.RoleBuyer)

	// The index is built from the registries when the process starts.
	await.True(t, "matches of a demo need", func() bool {
		return sys.call(t, "GET", "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches?pageSize=5", "", nil).status == http.StatusOK
	})
	// The demo data's events may still be arriving after the rebuild, and
	// until the last of each item is in, the model may hold an older
	// state of it; every change also changes the ETags checked below.
	awaitNeedsApplied(t, sys, giessen)
	awaitVendorsApplied(t, sys)
	res := sys.call(t, "GET", "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches?pageSize=5", "", nil).
		expect(t, "matches of a demo need", http.StatusOK)
	matches, _ := res.body["matches"].([]any)
	if len(matches) == 0 || res.body["weightsVersion"] == "" {
		t.Fatalf("no matches or no weights version: %s", res.raw)
	}
	if first := matches[0].(map[string]any)["vendor"]; first != "vendors/terminfix" {
		t.Errorf("best match for the appointment-booking need is %v, want vendors/terminfix: %s", first, res.raw)
	}
	for _, m := range matches {
		m := m.(map[string]any)
		sum := 0.0
		for _, c := range m["explanation"].(map[string]any)["components"].([]any) {
			v, _ := c.(map[string]any)["contribution"].(float64)
			sum += v
		}
		if score := m["score"].(float64); math.Abs(sum-score) > 1e-6 {
			t.Errorf("%v: contributions add up to %v, score is %v", m["vendor"], sum, score)
		}
	}

	// The basic view lists at most five pieces of evidence per component
	// and accounts for the rest; the full view lists them all.
	for _, view := range []string{"", "&view=MATCH_VIEW_FULL"} {
		res := sys.call(t, "GET", "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches?pageSize=5"+view, "", nil).expect(t, "matches"+view, http.StatusOK)
		for _, m := range res.body["matches"].([]any) {
			for _, c := range m.(map[string]any)["explanation"].(map[string]any)["components"].([]any) {
				c := c.(map[string]any)
				listed, _ := c["matches"].([]any)
				sum, _ := c["omittedPoints"].(float64)
				for _, e := range listed {
					p, _ := e.(map[string]any)["points"].(float64)
					sum += p
				}
				contribution, _ := c["contribution"].(float64)
				omitted := c["omittedMatches"] != nil
				switch {
				case view == "" && len(listed) > 5, view != "" && omitted:
					t.Errorf("view %q: component %v lists %d pieces of evidence, omitted %v", view, c["name"], len(listed), c["omittedMatches"])
				case math.Abs(sum-contribution) > 1e-9:
					t.Errorf("view %q: component %v: listed and omitted points add up to %v, contribution %v", view, c["name"], sum, contribution)
				}
			}
		}
	}
	sys.call(t, "GET", "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches?view=MATCH_VIEW_SOME", "", nil).expect(t, "unknown view", http.StatusBadRequest)

	// A vendor that edits its profile is ranked on the new one, once its
	// event reached matching.
	parking := sys.token(t, "lieferzone", identity.RoleVendor)
	sys.call(t, "PATCH", "/v1/vendors/lieferzone", parking, map[string]any{
		"description":  "Online-Terminbuchung und Terminvergabe für Bürgerbüros, barrierefrei.",
		"capabilities": []string{"Terminbuchung"}, "cpvCodes": []string{"72212000"},
	}).expect(t, "vendor edits its profile", http.StatusOK)
	await.True(t, "vendors/lieferzone among the matches after its edit", func() bool {
		res = sys.call(t, "GET", "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches?pageSize=20", "", nil).expect(t, "matches", http.StatusOK)
		for _, m := range res.body["matches"].([]any) {
			if m.(map[string]any)["vendor"] == "vendors/lieferzone" {
				return true
			}
		}
		return false
	})

	// An answer names its content with an ETag: the same ranking has the
	// same one, a client holding it gets 304, and after a change the
	// ranking has another.
	const ranking = "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches?pageSize=20"
	a := sys.call(t, "GET", ranking, "", nil).expect(t, "ranking", http.StatusOK)
	b := sys.call(t, "GET", ranking, "", nil).expect(t, "same ranking", http.StatusOK)
	etag := a.header.Get("ETag")
	if etag == "" || b.header.Get("ETag") != etag || !bytes.Equal(a.raw, b.raw) {
		t.Errorf("ETag %q then %q; bodies equal: %v", etag, b.header.Get("ETag"), bytes.Equal(a.raw, b.raw))
	}
	if code := conditionalGet(t, sys.base+ranking, etag); code != http.StatusNotModified {
		t.Errorf("If-None-Match %s: status %d, want 304", etag, code)
	}
	sys.call(t, "PATCH", "/v1/vendors/lieferzone", parking, map[string]any{
		"description": "Lieferzonen und Ladezonen für den Wirtschaftsverkehr, Parkraum.",
	}).expect(t, "vendor edits its profile again", http.StatusOK)
	await.True(t, "a new ETag once the second edit reached matching", func() bool {
		res = sys.call(t, "GET", ranking, "", nil).expect(t, "ranking after the edit", http.StatusOK)
		return res.header.Get("ETag") != etag
	})
	if bytes.Equal(res.raw, a.raw) {
		t.Errorf("after the second edit the ranking has a new ETag but the old content: %s", res.raw)
	}
	if code := conditionalGet(t, sys.base+ranking, etag); code != http.StatusOK {
		t.Errorf("If-None-Match of the old ranking: status %d, want 200", code)
	}

	sys.call(t, "GET", "/v1/vendors/terminfix/matches", "", nil).expect(t, "needs for a vendor", http.StatusOK)
	sys.call(t, "GET", "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/similarNeeds", "", nil).expect(t, "similar needs", http.StatusOK)
	preview := sys.call(t, "POST", "/v1/matches:preview", giessen, map[string]any{
		"need": map[string]any{"title": "Terminbuchung", "problemStatement": "Termine online buchen", "cpvCodes": []string{"72212000"}},
	}).expect(t, "preview", http.StatusOK)
	if ms, _ := preview.body["matches"].([]any); len(ms) == 0 {
		t.Errorf("preview found nothing: %s", preview.raw)
	}
	sys.call(t, "GET", "/v1/needs/stadt-giessen.terminbuchung-buergerbuero/matches?pageSize=500", "", nil).expect(t, "page size over 100", http.StatusBadRequest)
	// A preview takes the spellings the needs registry takes, and names a
	// bad one's field.
	sys.call(t, "POST", "/v1/matches:preview", giessen, map[string]any{
		"need": map[string]any{"title": "Terminbuchung", "cpvCodes": []string{"72212000-4"}, "placesOfPerformance": []string{"de71"}},
	}).expect(t, "preview in the registry's spellings", http.StatusOK)
	bad := sys.call(t, "POST", "/v1/matches:preview", giessen, map[string]any{
		"need": map[string]any{"title": "Terminbuchung", "cpvCodes": []string{"72212000", "72212000-9"}},
	}).expect(t, "preview with a wrong check digit", http.StatusBadRequest)
	if v := bad.violations(); !slices.Equal(v, []string{"need.cpv_codes[1]"}) {
		t.Errorf("preview with a wrong check digit: violations %v, want need.cpv_codes[1]", v)
	}

	// A draft is matched only for its owners.
	draft := sys.call(t, "POST", "/v1/needs", giessen, map[string]any{"title": "Entwurf Terminbuchung", "problemStatement": "Termine online buchen"}).
		expect(t, "draft", http.StatusOK)
	path := fmt.Sprintf("/v1/%s/matches", draft.body["name"])
	await.True(t, "owner matches its draft", func() bool {
		return sys.call(t, "GET", path, giessen, nil).status == http.StatusOK
	})
	sys.call(t, "GET", path, marburg, nil).expect(t, "other organisation matches a draft", http.StatusNotFound)
	sys.call(t, "GET", path, "", nil).expect(t, "anonymous matches a draft", http.StatusNotFound)

	// A must-have certification leaves out the vendors without it, and the
	// answer says how many, for which requirement.
	sys.call(t, "PATCH", fmt.Sprintf("/v1/%s", draft.body["name"]), giessen, map[string]any{
		"requirements": []map[string]any{
			{"kind": "KIND_CERTIFICATION", "value": "ISO 27001", "mustHave": true},
			{"kind": "KIND_CAPABILITY", "value": "Terminbuchung"},
		},
	}).expect(t, "buyer sets requirements", http.StatusOK)
	await.True(t, "the draft's must-have reached matching", func() bool {
		res = sys.call(t, "GET", path+"?pageSize=100", giessen, nil).expect(t, "matches with a must-have", http.StatusOK)
		return res.body["excludedTotal"] != nil
	})
	excluded, _ := res.body["excluded"].([]any)
	if len(excluded) != 1 {
		t.Fatalf("want one exclusion, for the one must-have: %s", res.raw)
	}
	ex := excluded[0].(map[string]any)
	req, _ := ex["requirement"].(map[string]any)
	count, _ := ex["vendorCount"].(float64)
	if req["kind"] != "KIND_CERTIFICATION" || req["value"] != "iso-27001" || req["mustHave"] != true || count < 1 || res.body["excludedTotal"] != count {
		t.Errorf("exclusion %v, total %v; want iso-27001 leaving out at least one vendor, all of them in the total: %s", ex, res.body["excludedTotal"], res.raw)
	}
	ranked, _ := res.body["matches"].([]any)
	if len(ranked) == 0 {
		t.Errorf("no vendor with ISO 27001 ranked: %s", res.raw)
	}
	for _, m := range ranked {
		name := m.(map[string]any)["vendor"].(string)
		v := sys.call(t, "GET", "/v1/"+name, "", nil).expect(t, "ranked vendor", http.StatusOK)
		certs, _ := v.body["certifications"].([]any)
		if !slices.Contains(certs, any("iso-27001")) {
			t.Errorf("%s is ranked for a need that must have ISO 27001 but holds only %v", name, certs)
		}
	}
}

// conditionalGet sends GET url with If-None-Match and returns the status.
func conditionalGet(t *testing.T, url, etag string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("If-None-Match", etag)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode
}

// awaitNeedsApplied waits until matching has applied every event of the
// needs registry written so far, the demo data's among them: it writes a
// draft need of buyer's and waits until matching ranks vendors for it. The
// registry's outbox relay publishes events in the order of the writes and
// matching applies a stream in order, so once the draft's event is in, so
// is everything written before it. Call it once matching's index is built
// (a draft written while the rebuild runs may come in by the rebuild).
func awaitNeedsApplied(t *testing.T, sys *system, buyer string) {
	t.Helper()
	draft := sys.call(t, "POST", "/v1/needs", buyer, map[string]any{
		"title": "Wartemarke", "problemStatement": "Steht hinter allem, was vorher geschrieben wurde.",
	}).expect(t, "draft after the others", http.StatusOK)
	path := fmt.Sprintf("/v1/%s/matches", draft.body["name"])
	await.True(t, "matching has the needs written so far", func() bool {
		return sys.call(t, "GET", path, buyer, nil).status == http.StatusOK
	})
}

// awaitVendorsApplied is awaitNeedsApplied for the vendor registry: it
// registers a vendor of its own and waits until matching knows it.
func awaitVendorsApplied(t *testing.T, sys *system) {
	t.Helper()
	const org = "wartemarke"
	v := sys.call(t, "POST", "/v1/vendors", sys.token(t, org, identity.RoleVendor), map[string]any{
		"displayName": "Wartemarke", "kind": "KIND_OTHER",
	}).expect(t, "vendor after the others", http.StatusOK)
	path := fmt.Sprintf("/v1/%s/matches", v.body["name"])
	await.True(t, "matching has the vendors written so far", func() bool {
		return sys.call(t, "GET", path, "", nil).status == http.StatusOK
	})
}
