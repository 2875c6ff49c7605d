package need

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
)

func TestBuildQuery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		req        ListRequest
		want       ListQuery
		wantFields []string
	}{
		{name: "defaults", req: ListRequest{}, want: ListQuery{Limit: DefaultPageSize, Words: []string{}}},
		{name: "filters normalised", req: ListRequest{
			PageSize: 5, States: []State{StatePublished, StatePublished}, CPVCodes: []string{"72000000-5"},
			Regions: []string{"hessen", "06531"}, Organization: "stadt-giessen", Query: "Termin-Buchung!", OrderBy: " create_time  ASC",
		}, want: ListQuery{
			Limit: 5, States: []State{StatePublished}, CPVPrefixes: []string{"72"}, RegionKeys: []string{"DE7", "AGS:06531"},
			Organization: "stadt-giessen", Words: []string{"termin", "buchung"}, Ascending: true,
		}},
		{name: "page size too large", req: ListRequest{PageSize: 101}, wantFields: []string{"page_size"}},
		{name: "page size negative", req: ListRequest{PageSize: -1}, wantFields: []string{"page_size"}},
		{name: "unknown state", req: ListRequest{States: []State{42}}, wantFields: []string{"states[0]"}},
		{name: "bad codes", req: ListRequest{CPVCodes: []string{"1"}, Regions: []string{"DE999"}}, wantFields: []string{"cpv_codes[0]", "regions[0]"}},
		{name: "bad organization", req: ListRequest{Organization: "Stadt Gießen"}, wantFields: []string{"organization"}},
		{name: "bad order", req: ListRequest{OrderBy: "title"}, wantFields: []string{"order_by"}},
		{name: "garbage token", req: ListRequest{PageToken: "%%%"}, wantFields: []string{"page_token"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, _, err := buildQuery(tc.req)
			if diff := cmp.Diff(tc.wantFields, fieldsOf(err)); diff != "" {
				t.Fatalf("violations (-want +got):\n%s", diff)
			}
			if err == nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("query (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestPageTokenBoundToFilters(t *testing.T) {
	t.Parallel()
	_, fp, err := buildQuery(ListRequest{Query: "termin"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(pageToken{CreateTime: 1, ID: "x", Filter: fp})
	tok := base64.RawURLEncoding.EncodeToString(raw)
	if _, _, err := buildQuery(ListRequest{Query: "termin", PageToken: tok}); err != nil {
		t.Errorf("token with the same filters rejected: %v", err)
	}
	_, _, err = buildQuery(ListRequest{Query: "parken", PageToken: tok})
	var ve *errdefs.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("token replayed with other filters: want a validation error, got %v", err)
	}
}

func FuzzBuildQuery(f *testing.F) {
	f.Add(20, "", "72000000", "DE7", "stadt-giessen", "Termin", "create_time")
	f.Add(-1, "e30", "x", "y", "Z", "\xff", "title")
	f.Fuzz(func(t *testing.T, size int, token, cpv, region, org, query, order string) {
		q, _, err := buildQuery(ListRequest{PageSize: size, PageToken: token, CPVCodes: []string{cpv},
			Regions: []string{region}, Organization: org, Query: query, OrderBy: order})
		if err != nil {
			var ve *errdefs.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("non-validation error %T: %v", err, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > MaxPageSize || len(q.Words) > MaxQueryWords {
			t.Fatalf("accepted out-of-range query %+v", q)
		}
	})
}
