package main

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// TestReferenceData looks up CPV codes and regions through REST, as the
// form for writing a need does: no token, since reference data is public.
func TestReferenceData(t *testing.T) {
	t.Parallel()
	sys := startMonolith(t, "", false)

	items := func(r response, key string) []map[string]any {
		list, _ := r.body[key].([]any)
		out := make([]map[string]any, len(list))
		for i, v := range list {
			out[i], _ = v.(map[string]any)
		}
		return out
	}
	codes := func(list []map[string]any) []string {
		out := make([]string, len(list))
		for i, m := range list {
			out[i] = str(m["code"])
		}
		return out
	}

	res := sys.call(t, "GET", "/v1/cpvCodes?query="+url.QueryEscape("Programmierung Anwendersoftware")+"&pageSize=3", "", nil).
		expect(t, "search CPV in German", http.StatusOK)
	if got := codes(items(res, "cpvCodes")); len(got) == 0 || got[0] != "72212000" {
		t.Errorf("search CPV: codes %v, want 72212000 first; body %s", got, res.raw)
	}
	res = sys.call(t, "GET", "/v1/cpvCodes?query=Software&pageSize=3", "", nil).expect(t, "search CPV in English", http.StatusOK)
	if got := codes(items(res, "cpvCodes")); len(got) == 0 || got[0] != "48000000" || res.body["nextPageToken"] == nil {
		t.Errorf("search CPV in English: codes %v, want 48000000 first and a next page; body %s", got, res.raw)
	}
	sys.call(t, "GET", "/v1/cpvCodes?query=software&pageSize=3&pageToken="+url.QueryEscape(str(res.body["nextPageToken"])), "", nil).
		expect(t, "next page", http.StatusOK)
	next := sys.call(t, "GET", "/v1/cpvCodes?query=hardware&pageToken="+url.QueryEscape(str(res.body["nextPageToken"])), "", nil).
		expect(t, "token of another query", http.StatusBadRequest)
	if !slices.Contains(next.violations(), "page_token") {
		t.Errorf("token of another query: violations %v", next.violations())
	}
	bad := sys.call(t, "GET", "/v1/cpvCodes?query=72212000-9", "", nil).expect(t, "wrong check digit", http.StatusBadRequest)
	if !slices.Contains(bad.violations(), "query") {
		t.Errorf("wrong check digit: violations %v", bad.violations())
	}

	res = sys.call(t, "GET", "/v1/cpvCodes/72212000", "", nil).expect(t, "get CPV", http.StatusOK)
	if res.body["name"] != "cpvCodes/72212000" || res.body["checkDigit"] != "4" || res.body["level"] != "LEVEL_CATEGORY" {
		t.Errorf("get CPV: %s", res.raw)
	}
	if got, want := codes(items(res, "parents")), []string{"72210000", "72200000", "72000000"}; !slices.Equal(got, want) {
		t.Errorf("get CPV: parents %v, want %v", got, want)
	}
	if got := codes(items(res, "children")); len(got) == 0 || got[0] != "72212100" {
		t.Errorf("get CPV: children %v, want 72212100 first", got)
	}
	sys.call(t, "GET", "/v1/cpvCodes/72212000-4", "", nil).expect(t, "get CPV with check digit", http.StatusOK)
	sys.call(t, "GET", "/v1/cpvCodes/99999999", "", nil).expect(t, "get unknown CPV", http.StatusNotFound)

	res = sys.call(t, "GET", "/v1/regions?query="+url.QueryEscape("Gießen"), "", nil).expect(t, "search regions", http.StatusOK)
	regions := items(res, "regions")
	if got := codes(regions); !slices.Contains(got, "06531005") || !slices.Contains(got, "DE721") {
		t.Errorf("search regions: codes %v, want the city and the Kreis of Gießen", got)
	}
	res = sys.call(t, "GET", "/v1/regions?query=DE7&kind=KIND_LAND", "", nil).expect(t, "search Land", http.StatusOK)
	if got := items(res, "regions"); len(got) != 1 || got[0]["displayName"] != "Hessen" {
		t.Errorf("search Land: %s", res.raw)
	}
	res = sys.call(t, "GET", "/v1/regions/06531005", "", nil).expect(t, "get region", http.StatusOK)
	if res.body["kind"] != "KIND_MUNICIPALITY" || res.body["landDisplayName"] != "Hessen" || res.body["postcode"] != "35390" || res.body["population"] != "89802" {
		t.Errorf("get region: %s", res.raw)
	}
	sys.call(t, "GET", "/v1/regions/DE99", "", nil).expect(t, "get unknown region", http.StatusNotFound)
	sys.call(t, "GET", "/v1/regions?pageSize=101", "", nil).expect(t, "page size too large", http.StatusBadRequest)
}
