package gateway

import (
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// badQuery decodes a 400 for query parameters: its message and violations.
func badQuery(t *testing.T, rec *httptest.ResponseRecorder) (string, []*errdetails.BadRequest_FieldViolation) {
	t.Helper()
	if rec.Code != 400 {
		t.Fatalf("status %d, want 400: %s", rec.Code, rec.Body)
	}
	var st spb.Status
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	if codes.Code(st.GetCode()) != codes.InvalidArgument || len(st.GetDetails()) != 1 {
		t.Fatalf("status %v, want InvalidArgument with one detail", &st)
	}
	var br errdetails.BadRequest
	if err := st.GetDetails()[0].UnmarshalTo(&br); err != nil {
		t.Fatalf("detail %v: %v", st.GetDetails()[0], err)
	}
	return st.GetMessage(), br.GetFieldViolations()
}

func TestStrictQuery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name, method, target string
		wantFields           []string // none: accepted
		wantIn               []string // in the message
	}{
		{name: "JSON names", method: "GET", target: "/v1/needs?cpvCodes=72000000&pageSize=5"},
		{name: "proto names", method: "GET", target: "/v1/needs?cpv_codes=72000000&page_size=5"},
		{
			name: "misspelt filter", method: "GET", target: "/v1/needs?cpv=99999999&state=FOO", wantFields: []string{"cpv", "state"},
			wantIn: []string{`unknown query parameter "cpv"; unknown query parameter "state"; ListNeeds accepts: cpvCodes, `, "pageToken", "states"},
		},
		{
			name: "a field of a message", method: "GET", target: "/v1/needs/open-data?need=1", wantFields: []string{"need"},
			wantIn: []string{`"need"`},
		},
		{
			name: "set by the path", method: "GET", target: "/v1/needs/open-data?name=needs/other", wantFields: []string{"name"},
			wantIn: []string{`query parameter "name" sets what the path or the body sets; GetNeed takes no query parameters`},
		},
		{
			name: "set by the body", method: "POST", target: "/v1/needs?need.title=x", wantFields: []string{"need.title"},
			wantIn: []string{"the path or the body sets; CreateNeed accepts: ", "needId"},
		},
		{
			name: "body takes every field", method: "POST", target: "/v1/needs/open-data:publish?validateOnly=true", wantFields: []string{"validateOnly"},
			wantIn: []string{"PublishNeed takes its fields in the request body"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.target, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			rec := f.serve(req)
			if len(tc.wantFields) == 0 {
				if rec.Code == 400 {
					t.Fatalf("refused: %s", rec.Body)
				}
				return
			}
			msg, vs := badQuery(t, rec)
			var fields []string
			for _, v := range vs {
				fields = append(fields, v.GetField())
			}
			if !slices.Equal(fields, tc.wantFields) {
				t.Errorf("fields %q, want %q", fields, tc.wantFields)
			}
			for _, s := range tc.wantIn {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
		})
	}
	if _, lists, creates := f.needs.calls(); len(lists) != 2 || len(creates) != 0 {
		t.Errorf("backend saw %d lists and %d creates, want the 2 accepted lists", len(lists), len(creates))
	}
}

// TestStrictQueryCoversEveryRoute sends a made-up parameter to every route
// of the API: each must refuse it before reaching a backend, which proves
// that the route table and the runtime spell every route alike.
func TestStrictQueryCoversEveryRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	routes := newQueryRoutes(protoregistry.GlobalFiles)
	if len(routes) < 20 {
		t.Fatalf("%d routes, want the API's", len(routes))
	}
	segment := regexp.MustCompile(`\{[^=}]+=([^}]*)\}`)
	for key := range routes {
		method, template, _ := strings.Cut(key, " ")
		path := segment.ReplaceAllStringFunc(template, func(v string) string {
			pattern := segment.FindStringSubmatch(v)[1]
			return strings.NewReplacer("**", "x/y", "*", "x").Replace(pattern)
		})
		t.Run(key, func(t *testing.T) {
			req := httptest.NewRequest(method, path+"?noSuchParameter=1", strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			rec := f.serve(req)
			if _, vs := badQuery(t, rec); len(vs) != 1 || vs[0].GetField() != "noSuchParameter" {
				t.Errorf("violations %v", vs)
			}
		})
	}
}
