package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sethvargo/go-envconfig"

	"github.com/govmatch/govmatch/pkg/identity"
)

// importRun runs `govmatch import vendors` in-process, as a user would.
func importRun(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"import", "vendors", "-quiet"}, args...), envconfig.MapLookuper(nil), &out, &errOut)
	return out.String(), errOut.String(), err
}

// allVendors pages through GET /v1/vendors and returns the vendors by
// external id (or name, for vendors without one).
func allVendors(t testing.TB, sys *system) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	page := ""
	for {
		res := sys.call(t, "GET", "/v1/vendors?pageSize=100&pageToken="+url.QueryEscape(page), "", nil).expect(t, "list vendors", http.StatusOK)
		vs, _ := res.body["vendors"].([]any)
		for _, v := range vs {
			m := v.(map[string]any)
			key, _ := m["externalId"].(string)
			if key == "" {
				key = str(m["name"])
			}
			if _, dup := out[key]; dup {
				t.Errorf("vendor %s listed twice", key)
			}
			out[key] = m
		}
		page, _ = res.body["nextPageToken"].(string)
		if page == "" {
			return out
		}
	}
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportVendors imports through the REST API of a running monolith,
// on both backends: an evaluation set as it is, again without duplicates,
// files with a bad line, and CSV.
func TestImportVendors(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		sys := startMonolith(t, dsn, false)
		tok := sys.token(t, "govtechhh", identity.RoleVentureUnit)
		flags := []string{"-server", sys.base, "-token", tok}
		const dataset = "/work/shared/data/eval/datasets-de/vendors.jsonl"

		// The evaluation set imports as it is.
		stdout, stderr, err := importRun(t, append(flags, dataset)...)
		if err != nil {
			t.Fatalf("import: %v\n%s", err, stderr)
		}
		if !strings.Contains(stdout, "imported 218 vendors, 0 already present") {
			t.Errorf("summary: %q", stdout)
		}
		vendors := allVendors(t, sys)
		if len(vendors) != 218 {
			t.Fatalf("%d vendors after the import, want 218", len(vendors))
		}
		want := map[string]any{"externalId": "mdv0080234114b6", "displayName": "Bürgerbeteiligung - Information", "kind": "KIND_OTHER", "ownerOrganization": "govtechhh"}
		got := map[string]any{}
		for k := range want {
			got[k] = vendors["mdv0080234114b6"][k]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("imported vendor mdv0080234114b6 (-want +got):\n%s", diff)
		}

		// Again: every record is found, nothing is created twice.
		stdout, stderr, err = importRun(t, append(flags, "-batch", "100", dataset)...)
		if err != nil {
			t.Fatalf("second import: %v\n%s", err, stderr)
		}
		if !strings.Contains(stdout, "imported 0 vendors, 218 already present") {
			t.Errorf("summary of the second import: %q", stdout)
		}
		if n := len(allVendors(t, sys)); n != 218 {
			t.Fatalf("%d vendors after importing again, want 218", n)
		}

		// A bad line anywhere: nothing of the file is imported, since every
		// batch is checked (validate_only) before the first is written.
		good := func(id string) string {
			return fmt.Sprintf(`{"id": %q, "name": "Anbieter %s", "description": "Fachverfahren", "cpvCodes": ["72000000"]}`, id, id)
		}
		badFile := func(prefix, bad string) string {
			lines := []string{good(prefix + "1"), good(prefix + "2"), bad, good(prefix + "4"), good(prefix + "5")}
			return writeFile(t, prefix+".jsonl", strings.Join(lines, "\n")+"\n")
		}
		for _, tc := range []struct {
			name       string
			prefix     string
			bad        string
			args       []string
			wantStderr string
			wantIDs    []string // imported vendors of the file
		}{
			{
				name: "server rejects the only batch", prefix: "a",
				bad:        `{"id": "a3", "name": "Anbieter a3", "cpvCodes": ["99999999"]}`,
				wantStderr: "line 3: vendor.cpv_codes[0]: ",
			},
			{
				name: "server rejects the second batch", prefix: "b", args: []string{"-batch", "2"},
				bad:        `{"id": "b3", "name": "Anbieter b3", "cpvCodes": ["99999999"]}`,
				wantStderr: "line 3: vendor.cpv_codes[0]: ",
			},
			{
				name: "unknown field", prefix: "c", args: []string{"-batch", "2"},
				bad:        `{"id": "c3", "name": "Anbieter c3", "cpvKodes": ["72000000"]}`,
				wantStderr: `line 3: unknown field "cpvKodes"`,
			},
			{
				name: "not JSON", prefix: "d",
				bad:        `{"id": "d3", `,
				wantStderr: "line 3: not a JSON object",
			},
			{
				name: "repeated id", prefix: "e",
				bad:        good("e1"),
				wantStderr: "line 3: external_id: repeats the external_id of line 1",
			},
		} {
			t.Run(tc.name, func(t *testing.T) {
				path := badFile(tc.prefix, tc.bad)
				_, stderr, err := importRun(t, append(append(flags, tc.args...), path)...)
				if err == nil {
					t.Fatalf("import of a file with a bad line succeeded")
				}
				if !strings.Contains(stderr, tc.wantStderr) {
					t.Errorf("stderr %q does not contain %q", stderr, tc.wantStderr)
				}
				var got []string
				for ext := range allVendors(t, sys) {
					if strings.HasPrefix(ext, tc.prefix) && len(ext) == 2 {
						got = append(got, ext)
					}
				}
				if diff := cmp.Diff(tc.wantIDs, got, sortStrings); diff != "" {
					t.Errorf("imported (-want +got):\n%s", diff)
				}
			})
		}

		// Fixed, the same command imports the whole file.
		fixed := writeFile(t, "b.jsonl", strings.Join([]string{good("b1"), good("b2"), good("b3"), good("b4"), good("b5")}, "\n"))
		stdout, stderr, err = importRun(t, append(flags, "-batch", "2", fixed)...)
		if err != nil {
			t.Fatalf("import of the fixed file: %v\n%s", err, stderr)
		}
		if !strings.Contains(stdout, "imported 5 vendors, 0 already present") {
			t.Errorf("summary of the fixed file: %q", stdout)
		}

		// CSV, with lists, a boolean, a number, products as JSON, a quoted
		// line break and records without id.
		csvPath := writeFile(t, "vendors.csv", "\ufeff"+`id,name,kind,description,cpv_codes,regionsServed,nationwide,foundingYear,certifications,products
csv-1,TerminFix GmbH,start-up,"Terminbuchung, barrierefrei.
Zweite Zeile.",72212000-4,Hessen;DE6,false,2021,ISO 27001;BITV 2.0,"[{""displayName"":""TerminFix"",""licence"":""AGPL-3.0-or-later""}]"
,Offene Daten Werkstatt eG,CIVIC_TECH,Open-Data-Portale,72322000,,true,,,
,Stadtwerk Digital,,,,,,,,
`)
		stdout, stderr, err = importRun(t, append(flags, csvPath)...)
		if err != nil {
			t.Fatalf("CSV import: %v\n%s", err, stderr)
		}
		if !strings.Contains(stdout, "imported 3 vendors, 0 already present") {
			t.Errorf("CSV summary: %q", stdout)
		}
		vendors = allVendors(t, sys)
		v := vendors["csv-1"]
		got = map[string]any{
			"displayName": v["displayName"], "kind": v["kind"], "cpvCodes": v["cpvCodes"], "regionsServed": v["regionsServed"],
			"foundingYear": v["foundingYear"], "certifications": v["certifications"], "description": v["description"],
			"openSource": v["products"].([]any)[0].(map[string]any)["openSource"],
		}
		want = map[string]any{
			"displayName": "TerminFix GmbH", "kind": "KIND_START_UP", "cpvCodes": []any{"72212000"}, "regionsServed": []any{"DE7", "DE6"},
			"foundingYear": float64(2021), "certifications": []any{"iso-27001", "bitv-2-0"}, "description": "Terminbuchung, barrierefrei.\nZweite Zeile.",
			"openSource": true,
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("CSV vendor csv-1 (-want +got):\n%s", diff)
		}
		var hashed int
		for ext, v := range vendors {
			if strings.HasPrefix(ext, "sha256-") {
				hashed++
				if v["displayName"] == "Offene Daten Werkstatt eG" && (v["kind"] != "KIND_CIVIC_TECH" || v["nationwide"] != true) {
					t.Errorf("CSV vendor without id: %v", v)
				}
			}
		}
		if hashed != 2 {
			t.Errorf("%d vendors with a hashed external id, want 2", hashed)
		}
		if _, _, err := importRun(t, append(flags, csvPath)...); err != nil {
			t.Fatal(err)
		}
		if n := len(allVendors(t, sys)); n != len(vendors) {
			t.Errorf("importing the CSV again: %d vendors, want %d", n, len(vendors))
		}
	})
}

var sortStrings = cmpopts.SortSlices(func(a, b string) bool { return a < b })

// TestImportHashAcrossFormats checks that a record without id gets the
// same external id in JSONL and CSV, whatever its key order and spelling.
func TestImportHashAcrossFormats(t *testing.T) {
	t.Parallel()
	j, err := newJSONLRecords(strings.NewReader(`{"nationwide": true, "cpv_codes": ["72000000","48000000"], "name": "A"}`), "KIND_OTHER").next()
	if err != nil {
		t.Fatal(err)
	}
	cr, err := newCSVRecords(strings.NewReader("cpvCodes,name,nationwide\n72000000;48000000,A,true\n"), "KIND_SME")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cr.next()
	if err != nil {
		t.Fatal(err)
	}
	if j.externalID != c.externalID || !strings.HasPrefix(j.externalID, "sha256-") {
		t.Errorf("external ids: JSONL %q, CSV %q", j.externalID, c.externalID)
	}
}

// TestImportRecords checks how records of both formats become requests.
func TestImportRecords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		format  string
		in      string
		want    []string // item JSON, or "line N: …" for an error
		kind    string
		sameIDs bool // all records get the same external id
	}{
		{
			name: "evaluation set", format: "jsonl",
			in: `{"id": "mdv1", "name": "Radwege", "description": "Köln", "cpvCodes": []}` + "\n\n" + `{"id":"mdv2","name":"Blöcke","cpvCodes":["72000000"]}`,
			want: []string{
				`{"vendor":{"cpvCodes":[],"description":"Köln","displayName":"Radwege","kind":"KIND_OTHER"},"externalId":"mdv1"}`,
				`{"vendor":{"cpvCodes":["72000000"],"displayName":"Blöcke","kind":"KIND_OTHER"},"externalId":"mdv2"}`,
			},
		},
		{
			name: "REST vendor with resource name and output-only fields", format: "jsonl", kind: "KIND_SME",
			in: `{"name": "vendors/terminfix", "display_name": "TerminFix", "externalId": "x-1", "etag": "r3", "createTime": "2025-01-01T00:00:00Z", "kind": "start_up"}`,
			want: []string{
				`{"vendor":{"displayName":"TerminFix","kind":"KIND_START_UP"},"vendorId":"terminfix","externalId":"x-1"}`,
			},
		},
		{
			name: "bad lines", format: "jsonl",
			in: "{}\n[1]\n" + `{"name": "A", "foundingYear": "neunzehn"}` + "\n" + `{"name": "B", "kind": "KIND_SPACESHIP"}`,
			want: []string{
				`{"vendor":{"kind":"KIND_OTHER"},"externalId":"sha256-`,
				`line 2: not a JSON object`,
				`line 3: invalid value for int32 field foundingYear`,
				`line 4: invalid value for enum field kind`,
			},
		},
		{
			name: "same record in JSONL and CSV", format: "jsonl", sameIDs: true,
			in: `{"name": "A", "cpvCodes": ["72000000", "48000000"], "nationwide": true}` + "\n" + `{"nationwide": true, "cpv_codes": ["72000000","48000000"], "name": "A"}`,
			want: []string{
				`{"vendor":{"cpvCodes":["72000000","48000000"],"displayName":"A","kind":"KIND_OTHER","nationwide":true},"externalId":"sha256-`,
				`{"vendor":{"cpvCodes":["72000000","48000000"],"displayName":"A","kind":"KIND_OTHER","nationwide":true},"externalId":"sha256-`,
			},
		},
		{
			name: "CSV", format: "csv", sameIDs: true,
			in: "name,cpvCodes,nationwide\nA,72000000; 48000000,true\n",
			want: []string{
				`{"vendor":{"cpvCodes":["72000000","48000000"],"displayName":"A","kind":"KIND_OTHER","nationwide":true},"externalId":"sha256-`,
			},
		},
		{
			name: "CSV bad cells", format: "csv",
			in: "id,name,nationwide,foundingYear\nk1,A,ja,\nk2,B,,1999x\nk3,C\n",
			want: []string{
				`line 2: column nationwide: want true or false, not "ja"`,
				`line 3: column foundingYear: want a whole number, not "1999x"`,
				`line 4: wrong number of fields`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kind := tc.kind
			if kind == "" {
				kind = "KIND_OTHER"
			}
			var rr recordReader = newJSONLRecords(strings.NewReader(tc.in), kind)
			if tc.format == "csv" {
				var err error
				if rr, err = newCSVRecords(strings.NewReader(tc.in), kind); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			ids := map[string]bool{}
			for {
				rec, err := rr.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					got = append(got, err.Error())
					continue
				}
				got = append(got, string(rec.item))
				ids[rec.externalID] = true
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d records, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.want[i]) {
					t.Errorf("record %d:\n got %s\nwant %s…", i, got[i], tc.want[i])
				}
			}
			if tc.sameIDs && len(ids) != 1 {
				t.Errorf("the same record got %d external ids: %v", len(ids), ids)
			}
		})
	}
}

// fakeAPI is a REST API that fails as told before it answers.
type fakeAPI struct {
	mu       sync.Mutex
	failures []int // statuses to answer first; 0 drops the connection
	maxItems int   // batches larger than this are answered 413
	batches  []int // sizes of the accepted batches
	checked  []int // sizes of the batches checked with validateOnly
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == "GET" {
		_, _ = io.WriteString(w, `{"vendors":[]}`)
		return
	}
	if len(f.failures) > 0 {
		status := f.failures[0]
		f.failures = f.failures[1:]
		if status == 0 {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
			return
		}
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"code":14,"message":"unavailable"}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	n := strings.Count(string(body), `"vendor":`)
	if f.maxItems > 0 && n > f.maxItems {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = io.WriteString(w, `{"code":3,"message":"request body exceeds the limit"}`)
		return
	}
	if strings.Contains(string(body), `"validateOnly":true`) {
		f.checked = append(f.checked, n)
		_, _ = io.WriteString(w, `{}`)
		return
	}
	f.batches = append(f.batches, n)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	vs := make([]string, n)
	for i := range vs {
		vs[i] = fmt.Sprintf(`{"externalId":"e%d-%d","createTime":%q}`, len(f.batches), i, now)
	}
	_, _ = io.WriteString(w, `{"vendors":[`+strings.Join(vs, ",")+`]}`)
}

// TestImportRetries checks retries on overload and lost connections, the
// server's Retry-After, giving up, and splitting batches that are too large.
func TestImportRetries(t *testing.T) {
	t.Parallel()
	lines := strings.Repeat(`{"name":"A","cpvCodes":["72000000"]}`+"\n", 5)
	for i := range 5 {
		lines = strings.Replace(lines, `"name":"A"`, fmt.Sprintf(`"id":"x%d","name":"B"`, i), 1)
	}
	tests := []struct {
		name        string
		api         *fakeAPI
		retries     int
		wantWaits   int
		wantRetryAf int // waits that were the server's 7 s
		wantBatches []int
		wantErr     string
	}{
		{name: "503 and 429 with Retry-After", api: &fakeAPI{failures: []int{503, 429}}, retries: 3, wantWaits: 2, wantRetryAf: 2, wantBatches: []int{2, 2, 1}},
		{name: "lost connection and 502", api: &fakeAPI{failures: []int{0, 502}}, retries: 3, wantWaits: 2, wantRetryAf: 1, wantBatches: []int{2, 2, 1}},
		{name: "gives up", api: &fakeAPI{failures: []int{503, 503, 503}}, retries: 2, wantWaits: 2, wantRetryAf: 2, wantErr: "giving up after 3 attempts"},
		{name: "not retried", api: &fakeAPI{failures: []int{500}}, retries: 3, wantErr: "lines 1–2 (500 unavailable)"},
		{name: "too large is split", api: &fakeAPI{maxItems: 1}, wantBatches: []int{1, 1, 1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tc.api)
			defer srv.Close()
			var waits []time.Duration
			var stderr bytes.Buffer
			im := &importer{
				opts:   importOptions{server: srv.URL, token: "t", batch: 2, maxBytes: defaultImportBytes, kind: "KIND_OTHER", format: "jsonl", retries: tc.retries},
				client: srv.Client(),
				stderr: &stderr,
				sleep:  func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil },
			}
			err := im.run(context.Background(), strings.NewReader(lines))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("run: %v, want error %q; stderr:\n%s", err, tc.wantErr, stderr.String())
			}
			retryAfter := 0
			for _, w := range waits {
				if w == 7*time.Second {
					retryAfter++
				}
			}
			if len(waits) != tc.wantWaits || retryAfter != tc.wantRetryAf {
				t.Errorf("waits %v: want %d, of them %d of the server's 7s", waits, tc.wantWaits, tc.wantRetryAf)
			}
			if diff := cmp.Diff(tc.wantBatches, tc.api.batches); diff != "" {
				t.Errorf("batches (-want +got):\n%s", diff)
			}
			// Every batch was checked before the first was imported.
			if diff := cmp.Diff(tc.wantBatches, tc.api.checked); tc.wantErr == "" && diff != "" {
				t.Errorf("checked batches (-want +got):\n%s", diff)
			}
			if tc.wantErr == "" && im.sum.Imported != 5 {
				t.Errorf("imported %d, want 5", im.sum.Imported)
			}
		})
	}
}

// TestImportUsage checks the command line.
func TestImportUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no file", []string{"-token", "t"}, "want exactly one FILE"},
		{"no token", []string{"f.jsonl"}, "no token"},
		{"batch too large", []string{"-token", "t", "-batch", "1001", "f.jsonl"}, "-batch 1001"},
		{"bad kind", []string{"-token", "t", "-kind", "ufo", "f.jsonl"}, `-kind "ufo"`},
		{"unknown extension", []string{"-token", "t", "f.xlsx"}, "pass -format"},
		{"missing file, flags after it", []string{"/nonexistent.jsonl", "-token", "t"}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := importRun(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}
