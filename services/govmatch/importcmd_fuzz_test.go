package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"

	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
)

// importSeeds are records as the evaluation sets, REST exports and
// spreadsheets have them, with the mistakes TestImportRecords covers.
var (
	jsonlSeeds = []string{
		`{"id": "mdv0080234114b6", "name": "Bürgerbeteiligung - Information", "description": "Fortschreibung des Nahverkehrsplans.", "cpvCodes": []}` + "\n" +
			`{"id":"mdv2","name":"Blöcke","cpvCodes":["72000000"]}`,
		"\ufeff" + `{"name": "vendors/terminfix", "display_name": "TerminFix", "externalId": "x-1", "etag": "r3", "createTime": "2025-01-01T00:00:00Z", "kind": "start_up"}` + "\r\n",
		"{}\n[1]\n" + `{"name": "A", "foundingYear": "neunzehn"}` + "\n" + `{"name": "B", "kind": "KIND_SPACESHIP"}`,
		`{"nationwide": true, "cpv_codes": ["72000000","48000000"], "name": "A", "foundingYear": 2021}` + "\n\n   \n",
		`{"name": "Werkstatt", "products": [{"displayName": "X", "licence": "AGPL-3.0-or-later"}], "regionsServed": ["DE7"]}`,
		`{"name": "Ctrl` + "\u0096" + `\u0001 eG", "description": "a` + "\x00" + `b"}`,
		`{"id": 5}` + "\n" + `{"name": "A"} {"name": "B"}` + "\n" + `{"cpv_codes": [], "cpvCodes": []}` + "\n" + `{"id": "d3", `,
		`{"name": "A", "displayName": "B"}` + "\n" + `{"name": "vendors/a", "vendorId": "b", "displayName": "B"}` + "\n" + `null`,
	}
	csvSeeds = []string{
		"\ufeff" + `id,name,kind,description,cpv_codes,regionsServed,nationwide,foundingYear,certifications,products
csv-1,TerminFix GmbH,start-up,"Terminbuchung, barrierefrei.
Zweite Zeile.",72212000-4,Hessen;DE6,false,2021,ISO 27001;BITV 2.0,"[{""displayName"":""TerminFix"",""licence"":""AGPL-3.0-or-later""}]"
,Offene Daten Werkstatt eG,CIVIC_TECH,Open-Data-Portale,72322000,,true,,,
,Stadtwerk Digital,,,,,,,,
`,
		"name,cpvCodes,nationwide\r\nA,72000000; 48000000,true\r\n",
		"id,name,nationwide,foundingYear\nk1,A,ja,\nk2,B,,1999x\nk3,C\n",
		"id,name\nk1,\"broken\nk2,B\n",
		"id,name,products\nk1,A,[1] trailing\nk2,B,{\n",
		"name\n\n\nA\n",
		"name,name\nA,B\n",
		"colour\nred\n",
		"",
	}
)

// FuzzJSONLRecords feeds arbitrary bytes to the JSON Lines reader of
// `govmatch import vendors`; see checkRecords for what must hold.
func FuzzJSONLRecords(f *testing.F) {
	for _, s := range jsonlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRecords(t, data, newJSONLRecords(bytes.NewReader(data), "KIND_OTHER"), 1)
	})
}

// FuzzCSVRecords feeds arbitrary bytes to the CSV reader of `govmatch
// import vendors`; see checkRecords for what must hold. A header the
// reader refuses is an error of the whole file, which is fine.
func FuzzCSVRecords(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rr, err := newCSVRecords(bytes.NewReader(data), "KIND_OTHER")
		if err != nil {
			return
		}
		// Line 1 at least is the header.
		checkRecords(t, data, rr, 2)
	})
}

// checkRecords reads every record of data from rr, as importer.run does,
// and checks what run and send rely on:
//   - reading ends: every call consumes at least one line, so there are
//     no more calls than lines;
//   - an in-memory input has no I/O errors, so every error is io.EOF or
//     a *lineError, which names a line at or after firstLine (run reports
//     it to the user as "line N") and says what is wrong;
//   - records and line errors come in file order (lines increase), and
//     a record's end offset increases and stays within data (the
//     progress bar);
//   - an accepted record has an external id (resuming an import relies
//     on it) and its item is a CreateVendorRequest the gateway parses,
//     with that external id, whose vendor's strings hold no control
//     characters the server rejects (repairControls replaced them).
func checkRecords(t *testing.T, data []byte, rr recordReader, firstLine int) {
	t.Helper()
	maxCalls := bytes.Count(data, []byte("\n")) + 2
	lastLine, lastEnd := firstLine-1, int64(0)
	for calls := 0; ; calls++ {
		if calls > maxCalls {
			t.Fatalf("more than %d calls of next for %d bytes: reading does not end", maxCalls, len(data))
		}
		rec, err := rr.next()
		if errors.Is(err, io.EOF) {
			return
		}
		var le *lineError
		if err != nil && !errors.As(err, &le) {
			t.Fatalf("next: %v (%T), not a line error, from an input without I/O errors", err, err)
		}
		line := rec.line
		if le != nil {
			line = le.line
			if le.msg == "" {
				t.Errorf("line error without message: %+v", le)
			}
		}
		if line <= lastLine {
			t.Fatalf("line %d after line %d (error %v)", line, lastLine, err)
		}
		lastLine = line
		if le != nil {
			if le.stop {
				return
			}
			continue
		}
		if rec.end <= lastEnd || rec.end > int64(len(data)) {
			t.Errorf("line %d: end offset %d after %d, input of %d bytes", line, rec.end, lastEnd, len(data))
		}
		lastEnd = rec.end
		checkItem(t, rec)
	}
}

// checkItem checks the request an accepted record becomes.
func checkItem(t *testing.T, rec importRecord) {
	t.Helper()
	if rec.externalID == "" {
		t.Errorf("line %d: no external id: %s", rec.line, rec.item)
	}
	var req vendorsv1.CreateVendorRequest
	if err := protojson.Unmarshal(rec.item, &req); err != nil {
		t.Fatalf("line %d: item %s is no CreateVendorRequest: %v", rec.line, rec.item, err)
	}
	if req.GetExternalId() != rec.externalID {
		t.Errorf("line %d: item has external id %q, record %q", rec.line, req.GetExternalId(), rec.externalID)
	}
	var item struct {
		Vendor any `json:"vendor"`
	}
	if err := json.Unmarshal(rec.item, &item); err != nil {
		t.Fatalf("line %d: item %s: %v", rec.line, rec.item, err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if strings.ContainsFunc(v, forbiddenControl) {
				t.Errorf("line %d: control characters left in %q", rec.line, v)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(item.Vendor)
}

// TestImportRecordsNotUTF8 checks that text in another encoding (a
// spreadsheet's Windows-1252 export: "M\xfcller" for "Müller") is a bad
// line, not imported with "�" where the letters were: JSON encoding
// would replace every invalid byte silently. Found by FuzzCSVRecords.
func TestImportRecordsNotUTF8(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format string
		in     string
		want   []string // item JSON prefix, or an error
	}{
		{
			name: "JSONL", format: "jsonl",
			in: `{"id": "k1", "name": "A"}` + "\n" + "{\"id\": \"k2\", \"name\": \"M\xfcller GmbH\"}\n",
			want: []string{
				`{"vendor":{"displayName":"A","kind":"KIND_OTHER"},"externalId":"k1"}`,
				"line 2: not UTF-8 text; save the file as UTF-8",
			},
		},
		{
			name: "CSV", format: "csv",
			in: "id,name\nk1,A\nk2,M\xfcller GmbH\n\x80,B\n",
			want: []string{
				`{"vendor":{"displayName":"A","kind":"KIND_OTHER"},"externalId":"k1"}`,
				"line 3: column name: not UTF-8 text; save the file as UTF-8",
				"line 4: column id: not UTF-8 text; save the file as UTF-8",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rr recordReader = newJSONLRecords(strings.NewReader(tc.in), "KIND_OTHER")
			if tc.format == "csv" {
				var err error
				if rr, err = newCSVRecords(strings.NewReader(tc.in), "KIND_OTHER"); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for {
				rec, err := rr.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					got = append(got, err.Error())
					continue
				}
				got = append(got, string(rec.item))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}
