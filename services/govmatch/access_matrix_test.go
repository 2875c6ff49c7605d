package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/govmatch/govmatch/pkg/identity"
)

// matrixCaller is a column of the access matrix: who calls.
type matrixCaller struct {
	name string
	org  string
	role identity.Role // empty for the anonymous caller, who sends no token
}

// matrixCallers are the columns, in the order of a row's cells.
var matrixCallers = [...]matrixCaller{
	{"anonymous", "", ""},
	{"owner buyer", "stadt-giessen", identity.RoleBuyer},
	{"other buyer", "stadt-wetzlar", identity.RoleBuyer},
	{"co-buyer", "stadt-marburg", identity.RoleBuyer},
	{"own vendor", "terminfix", identity.RoleVendor},
	{"other vendor", "andere-gmbh", identity.RoleVendor},
	{"venture_unit", "govtechhh", identity.RoleVentureUnit},
	{"admin", "plattform", identity.RoleAdmin},
}

// Columns whose tokens also build the fixtures.
const (
	colOwner     = 1
	colCoBuyer   = 3
	colOwnVendor = 4
	colUnit      = 6
)

// cells are the expected HTTP statuses of one row, one per caller.
type cells [len(matrixCallers)]int

// accessRow is one action of the matrix. target returns the request path.
// A row whose action, where it succeeds, changes what later cells would
// see builds a fresh fixture in target; target is called for the first
// cell and again after each cell that succeeded. A rejected call changes
// nothing, so the cells between successes share a fixture.
type accessRow struct {
	action string
	method string
	target func(t *testing.T) string
	body   any
	want   cells
}

// TestAccessMatrix checks who may do what, on both backends: every action
// on needs, responses and vendors, called by every kind of caller, must
// end with the HTTP status of its cell. The expected statuses follow the
// rules of need.Service and profile.Service ("Identity and access" and the
// vendor registry's access rules in the README).
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dsn string) {
		accessMatrix(t, startMonolith(t, dsn, false))
	})
}

func accessMatrix(t *testing.T, sys *system) {
	f := &accessFixture{sys: sys}
	for i, c := range matrixCallers {
		if c.role != "" {
			f.tokens[i] = sys.token(t, c.org, c.role)
		}
	}
	// The published need has co-buyer stadt-marburg and terminfix's response.
	published := f.need(t, needAnswered)
	draft := f.need(t, needDraft)
	f.register(t, "terminfix")
	otherVendor := f.register(t, "codefor-giessen")
	imported := f.importVendor(t)

	fixed := func(path string) func(*testing.T) string {
		return func(*testing.T) string { return path }
	}
	fresh := func(state needState, suffix string) func(*testing.T) string {
		return func(t *testing.T) string { return f.need(t, state) + suffix }
	}
	freshVendor := func(t *testing.T) string {
		return f.register(t, fmt.Sprintf("fremd-%d", f.seq.Add(1)))
	}
	newVendorID := func(*testing.T) string {
		return fmt.Sprintf("/v1/vendors?vendorId=neu-%d", f.seq.Add(1))
	}
	deadline := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	edit := map[string]any{"title": "Online-Terminbuchung (IKZ Lahn)"}
	vendorEdit := map[string]any{"description": "Terminbuchung und Warteschlangen."}

	rows := []accessRow{
		// Needs: anything but a draft is public; a draft is 404 outside
		// its organisation; only the owner's buyers and admins change a
		// need; other buyers join and leave.
		// Cells: anonymous, owner buyer, other buyer, co-buyer, own
		// vendor, other vendor, venture_unit, admin.
		{"need: get published", "GET", fixed(published), nil, cells{200, 200, 200, 200, 200, 200, 200, 200}},
		{"need: get draft", "GET", fixed(draft), nil, cells{404, 200, 404, 404, 404, 404, 404, 200}},
		{"need: list", "GET", fixed("/v1/needs"), nil, cells{200, 200, 200, 200, 200, 200, 200, 200}},
		{"need: create", "POST", fixed("/v1/needs"), needBody, cells{401, 200, 200, 200, 403, 403, 403, 403}},
		{"need: update published", "PATCH", fresh(needPublished, ""), edit, cells{401, 200, 403, 403, 403, 403, 403, 200}},
		{"need: update draft", "PATCH", fresh(needDraft, ""), edit, cells{401, 200, 404, 404, 404, 404, 404, 200}},
		{"need: publish draft", "POST", fresh(needDraft, ":publish"), map[string]any{"responseDeadline": deadline}, cells{401, 200, 404, 404, 404, 404, 404, 200}},
		{"need: close published", "POST", fresh(needPublished, ":close"), map[string]any{"reason": "Beschaffung über den Landkreis"}, cells{401, 200, 403, 403, 403, 403, 403, 200}},
		{"need: delete draft", "DELETE", fresh(needDraft, ""), nil, cells{401, 200, 404, 404, 404, 404, 404, 200}},
		// The owner cannot join its own need and only a co-buyer can leave
		// (both FAILED_PRECONDITION, 400); joining twice is 409.
		{"need: join published", "POST", fresh(needPublished, ":join"), map[string]any{}, cells{401, 400, 200, 409, 403, 403, 403, 403}},
		{"need: leave published", "POST", fresh(needPublished, ":leave"), map[string]any{}, cells{401, 400, 400, 200, 403, 403, 403, 403}},

		// Responses: seen by their vendor, the need's buyers and admins;
		// written by vendors only, one per vendor and need.
		{"response: list of a need", "GET", fixed(published + "/responses"), nil, cells{401, 200, 403, 200, 403, 403, 403, 200}},
		{"response: get terminfix's", "GET", fixed(published + "/responses/terminfix"), nil, cells{401, 200, 403, 200, 200, 403, 403, 200}},
		{"response: create", "POST", fresh(needPublished, "/responses"), responseBody, cells{401, 403, 403, 403, 200, 200, 403, 403}},
		{"response: create, terminfix answered", "POST", fresh(needAnswered, "/responses"), responseBody, cells{401, 403, 403, 403, 409, 200, 403, 403}},
		// Succeeds for terminfix only and changes just the summary.
		{"response: update terminfix's", "PATCH", fixed(published + "/responses/terminfix"), map[string]any{"summary": "Aktualisiert."}, cells{401, 403, 403, 403, 200, 403, 403, 403}},

		// Vendors: anyone reads; a vendor user creates and edits only
		// vendors/{its org}; a venture unit imports and edits what it
		// imported until claimed; only admins verify.
		{"vendor: get", "GET", fixed("/v1/vendors/terminfix"), nil, cells{200, 200, 200, 200, 200, 200, 200, 200}},
		{"vendor: list", "GET", fixed("/v1/vendors"), nil, cells{200, 200, 200, 200, 200, 200, 200, 200}},
		// Without vendorId a vendor user creates vendors/{its org}, which
		// terminfix registered already; importers get a generated id.
		{"vendor: create own (vendors/{org})", "POST", fixed("/v1/vendors"), vendorBody("Eigenes Profil"), cells{401, 403, 403, 403, 409, 200, 200, 200}},
		{"vendor: create another id", "POST", newVendorID, vendorBody("Fremdes Profil"), cells{401, 403, 403, 403, 403, 403, 200, 200}},
		// Successes change just the description; the admin's edit does
		// not claim the profile.
		{"vendor: update own (terminfix)", "PATCH", fixed("/v1/vendors/terminfix"), vendorEdit, cells{401, 403, 403, 403, 200, 403, 403, 200}},
		{"vendor: update other (self-registered)", "PATCH", fixed(otherVendor), vendorEdit, cells{401, 403, 403, 403, 403, 403, 403, 200}},
		{"vendor: update imported, unclaimed", "PATCH", fixed(imported), vendorEdit, cells{401, 403, 403, 403, 403, 403, 200, 200}},
		{"vendor: delete other (self-registered)", "DELETE", freshVendor, nil, cells{401, 403, 403, 403, 403, 403, 403, 200}},
		{"vendor: delete imported, unclaimed", "DELETE", f.importVendor, nil, cells{401, 403, 403, 403, 403, 403, 200, 200}},
		{"vendor: verify terminfix", "POST", fixed("/v1/vendors/terminfix:verify"), map[string]any{"status": "VERIFICATION_STATUS_VERIFIED"}, cells{401, 403, 403, 403, 403, 403, 403, 200}},
		{"vendor: batchCreate", "POST", fixed("/v1/vendors:batchCreate"), batchBody(), cells{401, 403, 403, 403, 403, 403, 200, 200}},
	}

	// Rows run in parallel, each its cells in column order: no row
	// changes what another row's cells see.
	got := make([]cells, len(rows))
	t.Run("rows", func(t *testing.T) {
		for r, row := range rows {
			t.Run(row.action, func(t *testing.T) {
				t.Parallel()
				path := row.target(t)
				for c, caller := range matrixCallers {
					res := sys.call(t, row.method, path, f.tokens[c], row.body)
					got[r][c] = res.status
					if res.status != row.want[c] {
						t.Errorf("%s by %s: status %d, want %d; body: %.300s", row.action, caller.name, res.status, row.want[c], res.raw)
					}
					if res.status < 300 && c+1 < len(matrixCallers) {
						path = row.target(t)
					}
				}
			})
		}
	})
	table := matrixTable(rows, got)
	if t.Failed() {
		t.Errorf("access matrix (got, and want where it differs):\n%s", table)
	} else {
		t.Logf("access matrix:\n%s", table)
	}
}

// matrixTable renders the statuses got as a table, marking each cell that
// differs from the row's want.
func matrixTable(rows []accessRow, got []cells) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(w, "action")
	for _, c := range matrixCallers {
		fmt.Fprint(w, "\t"+c.name)
	}
	fmt.Fprintln(w)
	for r, row := range rows {
		fmt.Fprint(w, row.action)
		for c := range matrixCallers {
			cell := fmt.Sprint(got[r][c])
			if got[r][c] != row.want[c] {
				cell += fmt.Sprintf(" (want %d)", row.want[c])
			}
			fmt.Fprint(w, "\t"+cell)
		}
		fmt.Fprintln(w)
	}
	w.Flush()
	return b.String()
}

// needState is how far a fixture need has come.
type needState int

const (
	needDraft     needState = iota // a draft of stadt-giessen
	needPublished                  // published, stadt-marburg joined
	needAnswered                   // published, joined, terminfix responded
)

var (
	needBody = map[string]any{
		"title":            "Online-Terminbuchung für Bürgerbüros",
		"problemStatement": "Bürgerinnen und Bürger warten zu lange auf einen Termin im Bürgerbüro.",
	}
	responseBody = map[string]any{
		"summary":            "Wir betreiben Online-Terminbuchung für 40 Kommunen, barrierefrei.",
		"indicativePriceEur": 45000,
		"contactEmail":       "team@terminfix.example",
	}
)

func vendorBody(name string) map[string]any {
	return map[string]any{
		"displayName": name, "kind": "KIND_START_UP", "description": "Online-Terminbuchung für Bürgerbüros.",
		"cpvCodes": []string{"72212000"},
	}
}

// batchBody has no external ids, so every call imports a new vendor.
func batchBody() map[string]any {
	return map[string]any{"requests": []map[string]any{{"vendor": vendorBody("Importiert")}}}
}

// accessFixture builds the resources of the matrix through REST, as the
// callers in matrixCallers.
type accessFixture struct {
	sys    *system
	tokens [len(matrixCallers)]string
	seq    atomic.Int64 // makes ids of fresh vendors unique
}

// need creates a need of stadt-giessen in state and returns its path.
func (f *accessFixture) need(t *testing.T, state needState) string {
	t.Helper()
	owner := f.tokens[colOwner]
	path := "/v1/" + str(f.sys.call(t, "POST", "/v1/needs", owner, needBody).expect(t, "fixture: create need", http.StatusOK).body["name"])
	if state == needDraft {
		return path
	}
	deadline := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	f.sys.call(t, "POST", path+":publish", owner, map[string]any{"responseDeadline": deadline}).expect(t, "fixture: publish", http.StatusOK)
	f.sys.call(t, "POST", path+":join", f.tokens[colCoBuyer], map[string]any{}).expect(t, "fixture: co-buyer joins", http.StatusOK)
	if state == needAnswered {
		f.sys.call(t, "POST", path+"/responses", f.tokens[colOwnVendor], responseBody).expect(t, "fixture: terminfix responds", http.StatusOK)
	}
	return path
}

// register lets a user of vendor organisation org register vendors/{org}
// and returns its path.
func (f *accessFixture) register(t *testing.T, org string) string {
	t.Helper()
	tok := f.sys.token(t, org, identity.RoleVendor)
	res := f.sys.call(t, "POST", "/v1/vendors", tok, vendorBody(org)).expect(t, "fixture: register "+org, http.StatusOK)
	return "/v1/" + str(res.body["name"])
}

// importVendor lets the venture unit import one vendor, which nobody has
// claimed yet, and returns its path.
func (f *accessFixture) importVendor(t *testing.T) string {
	t.Helper()
	res := f.sys.call(t, "POST", "/v1/vendors:batchCreate", f.tokens[colUnit], batchBody()).expect(t, "fixture: import", http.StatusOK)
	vs, _ := res.body["vendors"].([]any)
	if len(vs) != 1 {
		t.Fatalf("fixture: import returned %s", res.raw)
	}
	return "/v1/" + str(vs[0].(map[string]any)["name"])
}
