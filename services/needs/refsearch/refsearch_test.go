package refsearch

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/refdata"
)

// field returns the single violated field of a validation error, or "".
func field(err error) string {
	var ve *errdefs.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 1 {
		return ""
	}
	return ve.Violations[0].Field
}

func cpvCodes(p Page[refdata.CPVCode]) []string {
	out := make([]string, len(p.Items))
	for i, c := range p.Items {
		out[i] = c.Code
	}
	return out
}

func regionCodes(p Page[refdata.Region]) []string {
	out := make([]string, len(p.Items))
	for i, r := range p.Items {
		out[i] = r.Code
	}
	return out
}

func TestListCPVRanking(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		want  string // a code expected among the first within
		rank  int    // 0-based best position allowed for want
		first []string
	}{
		{name: "English word finds the division first", query: "Software", want: "48000000", rank: 0},
		{name: "German words", query: "Programmierung Anwendersoftware", want: "72212000", rank: 0},
		{name: "English words", query: "application software programming", want: "72212000", rank: 0},
		{name: "lower case and word prefixes", query: "programmier anwendersoft", want: "72212000", rank: 0},
		{name: "umlaut typed as ae", query: "Kartoffeln Erdaepfel", want: "03212100", rank: 2},
		{name: "umlaut typed without dots", query: "erdapfel", want: "03212100", rank: 2},
		{name: "umlaut typed", query: "Erdäpfel", want: "03212100", rank: 2},
		{name: "code prefix", query: "722", first: []string{"72200000", "72210000", "72211000", "72212000", "72212100"}},
		{name: "division", query: "72", first: []string{"72000000", "72100000", "72110000"}},
		{name: "full code lists its subtree", query: "72212000", first: []string{"72212000", "72212100", "72212110"}},
		{name: "full code with check digit", query: " 72212000-4 ", first: []string{"72212000", "72212100"}},
		{name: "trailing zeros are padding", query: "72200", first: []string{"72200000", "72210000"}},
		{name: "empty lists all in code order", query: "", first: []string{"03000000", "03100000", "03110000"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := ListCPV(CPVListRequest{Query: tc.query, PageSize: 10})
			if err != nil {
				t.Fatal(err)
			}
			got := cpvCodes(p)
			if tc.first != nil {
				if diff := cmp.Diff(tc.first, got[:min(len(got), len(tc.first))]); diff != "" {
					t.Errorf("ListCPV(%q) first codes (-want +got):\n%s", tc.query, diff)
				}
				return
			}
			if i := slices.Index(got, tc.want); i < 0 || i > tc.rank {
				t.Errorf("ListCPV(%q) = %v: %s at %d, want at most %d", tc.query, got, tc.want, i, tc.rank)
			}
		})
	}
}

func TestListCPVEmptyQueryCountsAll(t *testing.T) {
	t.Parallel()
	p, err := ListCPV(CPVListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if p.TotalSize != len(refdata.CPVCodes()) || len(p.Items) != DefaultPageSize || p.NextPageToken == "" {
		t.Errorf("ListCPV() = %d items of %d, token %q; want %d of %d", len(p.Items), p.TotalSize, p.NextPageToken, DefaultPageSize, len(refdata.CPVCodes()))
	}
}

func TestListCPVUnknownCode(t *testing.T) {
	t.Parallel()
	for _, q := range []string{"99999999", "99999999-1", "00"} {
		p, err := ListCPV(CPVListRequest{Query: q})
		if err != nil || len(p.Items) != 0 || p.TotalSize != 0 {
			t.Errorf("ListCPV(%q) = %v, %v; want nothing", q, cpvCodes(p), err)
		}
	}
}

func TestListRegionsRanking(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		kind  refdata.RegionKind
		want  string
		rank  int
		first []string
	}{
		{name: "transliterated umlaut", query: "Muenchen", want: "09162000", rank: 2},
		{name: "umlaut", query: "München", want: "09162000", rank: 2},
		{name: "umlaut without dots", query: "munchen", want: "09162000", rank: 2},
		{name: "NUTS code of a Land", query: "DE7", kind: refdata.Land, first: []string{"DE7"}},
		{name: "NUTS code lower case lists its subtree", query: "de7", first: []string{"DE7", "DE71", "DE72", "DE73"}},
		{name: "AGS of a Land", query: "06", first: []string{"DE7", "06412000"}},
		{name: "full AGS", query: "06531005", first: []string{"06531005"}},
		{name: "ß", query: "Gießen", first: []string{"DE721", "06531005"}},
		{name: "ß as ss", query: "giessen", first: []string{"DE721", "06531005"}},
		{name: "English Land name", query: "Hesse", kind: refdata.Land, first: []string{"DE7"}},
		{name: "name prefix before word prefix, larger first", query: "Frankfurt", first: []string{"DE403", "DE712", "06412000", "12053000"}},
		{name: "several words", query: "frankfurt oder", first: []string{"DE403", "12053000"}},
		{name: "kind filter", query: "Hamburg", kind: refdata.Municipality, first: []string{"02000000"}},
		{name: "Länder by population", query: "", kind: refdata.Land, first: []string{"DEA", "DE2", "DE1", "DE9"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := ListRegions(RegionListRequest{Query: tc.query, Kind: tc.kind, PageSize: 10})
			if err != nil {
				t.Fatal(err)
			}
			got := regionCodes(p)
			if tc.first != nil {
				if diff := cmp.Diff(tc.first, got[:min(len(got), len(tc.first))]); diff != "" {
					t.Errorf("ListRegions(%q, %v) first codes (-want +got):\n%s", tc.query, tc.kind, diff)
				}
				return
			}
			if i := slices.Index(got, tc.want); i < 0 || i > tc.rank {
				t.Errorf("ListRegions(%q) = %v: %s at %d, want at most %d", tc.query, got, tc.want, i, tc.rank)
			}
		})
	}
}

func TestListValidation(t *testing.T) {
	t.Parallel()
	long := string(make([]rune, MaxQueryLen+1))
	tests := []struct {
		name      string
		cpv       *CPVListRequest
		region    *RegionListRequest
		wantField string
	}{
		{name: "wrong check digit", cpv: &CPVListRequest{Query: "72212000-9"}, wantField: "query"},
		{name: "check digit on a prefix", cpv: &CPVListRequest{Query: "722-4"}, wantField: "query"},
		{name: "dangling dash", cpv: &CPVListRequest{Query: "72212000-"}, wantField: "query"},
		{name: "negative page size", cpv: &CPVListRequest{PageSize: -1}, wantField: "page_size"},
		{name: "page size too large", region: &RegionListRequest{PageSize: MaxPageSize + 1}, wantField: "page_size"},
		{name: "query too long", cpv: &CPVListRequest{Query: long}, wantField: "query"},
		{name: "invalid UTF-8", region: &RegionListRequest{Query: "M\xfcnchen"}, wantField: "query"},
		{name: "too many words", cpv: &CPVListRequest{Query: "a b c d e f g h i j k"}, wantField: "query"},
		{name: "garbage token", cpv: &CPVListRequest{PageToken: "nope"}, wantField: "page_token"},
		{name: "country is not a kind to list", region: &RegionListRequest{Kind: refdata.Country}, wantField: "kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var err error
			if tc.cpv != nil {
				_, err = ListCPV(*tc.cpv)
			} else {
				_, err = ListRegions(*tc.region)
			}
			if got := field(err); got != tc.wantField {
				t.Errorf("error %v names field %q, want %q", err, got, tc.wantField)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	const query = "software"
	all, err := ListCPV(CPVListRequest{Query: query, PageSize: MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	var paged []string
	tok := ""
	for range 100 {
		p, err := ListCPV(CPVListRequest{Query: query, PageSize: 7, PageToken: tok})
		if err != nil {
			t.Fatal(err)
		}
		if p.TotalSize != all.TotalSize {
			t.Fatalf("total size %d on a later page, %d on the first", p.TotalSize, all.TotalSize)
		}
		paged = append(paged, cpvCodes(p)...)
		if tok = p.NextPageToken; tok == "" {
			break
		}
	}
	want := cpvCodes(all)
	if all.TotalSize <= MaxPageSize {
		if diff := cmp.Diff(want, paged); diff != "" {
			t.Errorf("pages differ from one big page (-want +got):\n%s", diff)
		}
	} else if diff := cmp.Diff(want, paged[:len(want)]); diff != "" {
		t.Errorf("pages differ from one big page (-want +got):\n%s", diff)
	}

	first, err := ListCPV(CPVListRequest{Query: query, PageSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	// The same query in another spelling keeps the token valid ...
	if _, err := ListCPV(CPVListRequest{Query: " Software ", PageSize: 5, PageToken: first.NextPageToken}); err != nil {
		t.Errorf("token rejected for the same query: %v", err)
	}
	// ... another query, or another list, does not.
	if _, err := ListCPV(CPVListRequest{Query: "hardware", PageToken: first.NextPageToken}); field(err) != "page_token" {
		t.Errorf("token of %q accepted for another query: %v", query, err)
	}
	if _, err := ListRegions(RegionListRequest{Query: query, PageToken: first.NextPageToken}); field(err) != "page_token" {
		t.Errorf("CPV token accepted by ListRegions: %v", err)
	}
	reg, err := ListRegions(RegionListRequest{Query: "berg", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ListRegions(RegionListRequest{Query: "berg", Kind: refdata.NUTS3, PageToken: reg.NextPageToken}); field(err) != "page_token" {
		t.Errorf("token accepted with another kind: %v", err)
	}
}

func TestGetCPV(t *testing.T) {
	t.Parallel()
	d, err := GetCPV("name", "72212000-4")
	if err != nil {
		t.Fatal(err)
	}
	var parents, children []string
	for _, p := range d.Parents {
		parents = append(parents, p.Code)
	}
	for _, c := range d.Children {
		children = append(children, c.Code)
	}
	if d.Code != "72212000" || d.CheckDigit != "4" || d.Level != refdata.Category || d.NameDE != "Programmierung von Anwendersoftware" {
		t.Errorf("GetCPV = %+v", d.CPVCode)
	}
	if diff := cmp.Diff([]string{"72210000", "72200000", "72000000"}, parents); diff != "" {
		t.Errorf("parents (-want +got):\n%s", diff)
	}
	if len(children) == 0 || children[0] != "72212100" {
		t.Errorf("children = %v, want to start with 72212100", children)
	}

	for _, tc := range []struct {
		in       string
		notFound bool
	}{
		{"99999999", true}, {"72212000-9", false}, {"7221", false}, {"", false}, {"abc", false},
	} {
		_, err := GetCPV("name", tc.in)
		if got := errors.Is(err, errdefs.ErrNotFound); got != tc.notFound || !got && field(err) != "name" {
			t.Errorf("GetCPV(%q) = %v; want not found %v, else a violation of name", tc.in, err, tc.notFound)
		}
	}
}

func TestGetRegion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want RegionDetail
	}{
		{"06531005", RegionDetail{
			Region:   refdata.Region{Code: "06531005", Kind: refdata.Municipality, Name: "Gießen, Universitätsstadt", LandAGS: "06", NUTS1: "DE7", NUTS3: "DE721"},
			LandName: "Hessen", Stats: refdata.MunicipalityStats{Postcode: "35390", Population: 89802},
		}},
		{"de7", RegionDetail{Region: refdata.Region{Code: "DE7", Kind: refdata.Land, Name: "Hessen", LandAGS: "06", NUTS1: "DE7"}, LandName: "Hessen"}},
		{"DE", RegionDetail{Region: refdata.Region{Code: "DE", Kind: refdata.Country, Name: "Deutschland"}}},
	}
	for _, tc := range tests {
		got, err := GetRegion("name", tc.in)
		if err != nil {
			t.Errorf("GetRegion(%q): %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("GetRegion(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
	for _, tc := range []struct {
		in       string
		notFound bool
	}{
		{"99999999", true}, {"DE99", true}, {"FR1", true}, {"06531", false}, {"", false}, {"Hessen!", false},
	} {
		_, err := GetRegion("name", tc.in)
		if got := errors.Is(err, errdefs.ErrNotFound); got != tc.notFound || !got && field(err) != "name" {
			t.Errorf("GetRegion(%q) = %v; want not found %v, else a violation of name", tc.in, err, tc.notFound)
		}
	}
}
