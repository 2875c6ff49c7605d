package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jackc/pgx/v5"
	"github.com/sethvargo/go-envconfig"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/testdb"
)

// TestAuditVerifyDetectsTampering: changes through REST leave whole
// chains, which `govmatch audit verify` accepts; a row edited or deleted
// in the database behind the service's back makes it fail, naming the
// entry. On SQLite and on PostgreSQL.
func TestAuditVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"GOVMATCH_DATA_DIR": t.TempDir()}
			if engine == "postgres" {
				env["DATABASE_URL"] = testdb.Postgres(t)
			}
			sys := startMonolith(t, env["DATABASE_URL"], false, "GOVMATCH_DATA_DIR", env["GOVMATCH_DATA_DIR"])
			buyer := sys.token(t, "stadt-giessen", identity.RoleBuyer)
			name := sys.call(t, http.MethodPost, "/v1/needs", buyer, needBody).expect(t, "create", http.StatusOK).body["name"].(string)
			for _, title := range []string{"Termine online buchen", "Termine online buchen und absagen"} {
				sys.call(t, http.MethodPatch, "/v1/"+name+"?updateMask=title", buyer, map[string]any{"title": title}).expect(t, "update", http.StatusOK)
			}
			sys.call(t, http.MethodPost, "/v1/vendors", sys.token(t, "terminfix", identity.RoleVendor), vendorBody("Terminfix")).expect(t, "vendor", http.StatusOK)

			verify := func() (string, error) {
				var out, errOut strings.Builder
				err := run(context.Background(), []string{"audit", "verify"}, envconfig.MapLookuper(env), &out, &errOut)
				return out.String() + errOut.String(), err
			}
			out, err := verify()
			if err != nil || !strings.Contains(out, "needs: 1 chains, 3 entries: ok") || !strings.Contains(out, "vendors: 1 chains, 1 entries: ok") {
				t.Fatalf("verify of an untouched trail = %v\n%s", err, out)
			}
			t.Logf("govmatch audit verify:\n%s", out)
			var heads strings.Builder
			if err := run(context.Background(), []string{"audit", "verify", "-heads"}, envconfig.MapLookuper(env), &heads, &heads); err != nil ||
				!strings.Contains(heads.String(), "head "+name+" 3:") {
				t.Errorf("verify -heads = %v\n%s", err, heads.String())
			}

			tamper := func(stmt string) {
				t.Helper()
				if engine == "postgres" {
					conn, err := pgx.Connect(context.Background(), env["DATABASE_URL"])
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close(context.Background())
					if _, err := conn.Exec(context.Background(), strings.ReplaceAll(stmt, "audit_entries", "needs.audit_entries")); err != nil {
						t.Fatal(err)
					}
					return
				}
				db, err := sql.Open("sqlite", env["GOVMATCH_DATA_DIR"]+"/needs.db?_pragma=busy_timeout(10000)")
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.Exec(stmt); err != nil {
					t.Fatal(err)
				}
			}
			// Someone with database access rewrites history: the first
			// title never was.
			tamper(`UPDATE audit_entries SET changes = replace(changes, 'Termine online buchen"', 'Termine buchen"') WHERE seq = 2`)
			out, err = verify()
			if !errors.Is(err, errAuditBroken) || !strings.Contains(out, name+" #2: hash does not match its content (edited)") {
				t.Errorf("verify after an edit = %v\n%s", err, out)
			}
			t.Logf("after editing entry #2:\n%s", out)
			tamper(`DELETE FROM audit_entries WHERE seq = 2`)
			out, err = verify()
			if !errors.Is(err, errAuditBroken) || !strings.Contains(out, name+" #3: follows #1: entries are missing") {
				t.Errorf("verify after a deletion = %v\n%s", err, out)
			}
		})
	}
}

// TestNeedAuditTrailREST: the trail through the gateway, as each caller may
// see it, and its export as the basis of the Vergabevermerk.
func TestNeedAuditTrailREST(t *testing.T) {
	t.Parallel()
	sys := startMonolith(t, "", false)
	buyer := sys.token(t, "stadt-giessen", identity.RoleBuyer)
	terminfix := sys.token(t, "terminfix", identity.RoleVendor)
	other := sys.token(t, "andere-firma", identity.RoleVendor)
	name := sys.call(t, http.MethodPost, "/v1/needs", buyer, needBody).expect(t, "create", http.StatusOK).body["name"].(string)
	sys.call(t, http.MethodPatch, "/v1/"+name+"?updateMask=title", buyer, map[string]any{"title": "Termine online"}).expect(t, "update", http.StatusOK)
	sys.call(t, http.MethodPost, "/v1/"+name+":publish", buyer, map[string]any{"responseDeadline": time.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)}).expect(t, "publish", http.StatusOK)
	sys.call(t, http.MethodPost, "/v1/vendors", terminfix, vendorBody("Terminfix")).expect(t, "vendor", http.StatusOK)
	sys.call(t, http.MethodPost, "/v1/"+name+"/responses", terminfix, responseBody).expect(t, "respond", http.StatusOK)

	type change struct {
		Field         string
		Before, After any
		Redacted      bool
	}
	type entry struct {
		Resource  string
		Sequence  string
		Actor     struct{ Subject, Organization string }
		Method    string
		RequestID string `json:"requestId"`
		Changes   []change
	}
	trail := func(token string) []entry {
		t.Helper()
		r := sys.call(t, http.MethodGet, "/v1/"+name+"/auditEntries", token, nil).expect(t, "audit entries", http.StatusOK)
		var got struct{ AuditEntries []entry }
		if err := json.Unmarshal(r.raw, &got); err != nil {
			t.Fatal(err)
		}
		return got.AuditEntries
	}
	es := trail(buyer)
	var methods []string
	for _, e := range es {
		methods = append(methods, e.Resource[len(name):]+" "+e.Method[strings.LastIndex(e.Method, "/")+1:]+" "+e.Sequence)
		if e.RequestID == "" {
			t.Errorf("%s #%s: no request id", e.Resource, e.Sequence)
		}
	}
	want := []string{" CreateNeed 1", " UpdateNeed 2", " PublishNeed 3", "/responses/terminfix CreateResponse 1"}
	if diff := cmp.Diff(want, methods); diff != "" {
		t.Fatalf("the buyer's trail (-want +got):\n%s", diff)
	}
	if e := es[1]; e.Actor.Subject != "buyer@stadt-giessen" || e.Actor.Organization != "stadt-giessen" ||
		!slices.Contains(e.Changes, change{Field: "title", Before: needBody["title"], After: "Termine online"}) {
		t.Errorf("the update's entry = %+v", e)
	}
	if e := es[3]; len(e.Changes) == 0 || e.Changes[0].Redacted {
		t.Errorf("the buyer's view of the response = %+v, want its values", e)
	}
	// A vendor reads the trail of its own response; that of the need and
	// of the others' responses, which name who responded, it does not.
	if es := trail(terminfix); len(es) != 1 || es[0].Resource != name+"/responses/terminfix" || es[0].Changes[0].Redacted {
		t.Errorf("the responding vendor's trail = %+v, want its own response's entry", es)
	}
	if es := trail(other); len(es) != 0 {
		t.Errorf("another vendor's trail = %+v, want none", es)
	}
	sys.call(t, http.MethodGet, "/v1/"+name+"/auditEntries", sys.token(t, "stadt-marburg", identity.RoleBuyer), nil).expect(t, "another buyer", http.StatusForbidden)
	sys.call(t, http.MethodGet, "/v1/"+name+"/auditEntries:export", other, nil).expect(t, "another vendor's export", http.StatusOK)
	// A client's own request id lands in the trail and comes back.
	req, _ := http.NewRequest(http.MethodPatch, sys.base+"/v1/"+name+"?updateMask=title", strings.NewReader(`{"title":"Termine online, barrierefrei"}`))
	req.Header.Set("Authorization", "Bearer "+buyer)
	req.Header.Set("X-Request-Id", "ticket-4711")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	patched, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Request-Id") != "ticket-4711" {
		t.Errorf("PATCH with X-Request-Id: %d %s, X-Request-Id %q", res.StatusCode, patched, res.Header.Get("X-Request-Id"))
	}
	if es := trail(buyer); es[len(es)-1].RequestID != "ticket-4711" {
		t.Errorf("the client's request id is not in the trail: %+v", es[len(es)-1])
	}
	sys.call(t, http.MethodGet, "/v1/"+name+"/auditEntries", "", nil).expect(t, "anonymous", http.StatusUnauthorized)
	sys.call(t, http.MethodGet, "/v1/needs/-/auditEntries", buyer, nil).expect(t, "every need, not admin", http.StatusForbidden)
	if r := sys.call(t, http.MethodGet, "/v1/"+name+"/auditEntries?pageSize=5000", buyer, nil); r.status != http.StatusBadRequest || !slices.Contains(r.violations(), "page_size") {
		t.Errorf("page size 5000: %d %s", r.status, r.raw)
	}

	csvOut := sys.call(t, http.MethodGet, "/v1/"+name+"/auditEntries:export?format=csv", buyer, nil).expect(t, "export csv", http.StatusOK)
	if ct := csvOut.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("CSV export's content type %q", ct)
	}
	rows, err := csv.NewReader(bytes.NewReader(csvOut.raw)).ReadAll()
	if err != nil || len(rows) < 5 || rows[0][0] != "time" || rows[0][9] != "field" {
		t.Errorf("CSV export: %v, %d rows, header %v", err, len(rows), rows[:min(1, len(rows))])
	}
	jsonOut := sys.call(t, http.MethodGet, "/v1/"+name+"/auditEntries:export", buyer, nil).expect(t, "export json", http.StatusOK)
	var exported struct{ AuditEntries []entry }
	if err := json.Unmarshal(jsonOut.raw, &exported); err != nil || len(exported.AuditEntries) != len(es)+1 {
		t.Errorf("JSON export: %v, %d entries, want %d", err, len(exported.AuditEntries), len(es)+1)
	}
	if r := sys.call(t, http.MethodGet, "/v1/"+name+"/auditEntries:export?format=pdf", buyer, nil); r.status != http.StatusBadRequest || !slices.Contains(r.violations(), "format") {
		t.Errorf("export as pdf: %d %s", r.status, r.raw)
	}
	t.Logf("CSV export, %d rows:\n%s", len(rows), csvOut.raw[:min(600, len(csvOut.raw))])
}

// TestVendorAuditTrailREST: a vendor's history, verification reset
// included, for those who may edit it.
func TestVendorAuditTrailREST(t *testing.T) {
	t.Parallel()
	sys := startMonolith(t, "", false)
	terminfix := sys.token(t, "terminfix", identity.RoleVendor)
	admin := sys.token(t, "govmatch", identity.RoleAdmin)
	sys.call(t, http.MethodPost, "/v1/vendors", terminfix, vendorBody("Terminfix")).expect(t, "vendor", http.StatusOK)
	sys.call(t, http.MethodPost, "/v1/vendors/terminfix:verify", admin, map[string]any{"status": "VERIFICATION_STATUS_VERIFIED"}).expect(t, "verify", http.StatusOK)
	sys.call(t, http.MethodPatch, "/v1/vendors/terminfix?updateMask=displayName", terminfix, map[string]any{"displayName": "Termin AG"}).expect(t, "rename", http.StatusOK)

	r := sys.call(t, http.MethodGet, "/v1/vendors/terminfix/auditEntries", terminfix, nil).expect(t, "trail", http.StatusOK)
	var got struct {
		AuditEntries []struct {
			Method  string
			Actor   struct{ Organization string }
			Changes []struct {
				Field         string
				Before, After any
			}
		}
	}
	if err := json.Unmarshal(r.raw, &got); err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, e := range got.AuditEntries {
		var fields []string
		for _, c := range e.Changes {
			if c.Field == "display_name" || c.Field == "verification" {
				fields = append(fields, fmt.Sprintf("%s %v→%v", c.Field, c.Before, c.After))
			}
		}
		summary = append(summary, e.Method[strings.LastIndex(e.Method, "/")+1:]+" by "+e.Actor.Organization+": "+strings.Join(fields, ", "))
	}
	want := []string{
		"CreateVendor by terminfix: display_name <nil>→Terminfix, verification <nil>→UNVERIFIED",
		"VerifyVendor by govmatch: verification UNVERIFIED→VERIFIED",
		"UpdateVendor by terminfix: display_name Terminfix→Termin AG, verification VERIFIED→UNVERIFIED",
	}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("trail (-want +got):\n%s\n%s", diff, r.raw)
	}
	sys.call(t, http.MethodGet, "/v1/vendors/terminfix/auditEntries", sys.token(t, "andere-firma", identity.RoleVendor), nil).expect(t, "another vendor", http.StatusForbidden)
	sys.call(t, http.MethodGet, "/v1/vendors/terminfix/auditEntries", "", nil).expect(t, "anonymous", http.StatusUnauthorized)
	sys.call(t, http.MethodGet, "/v1/vendors/-/auditEntries", terminfix, nil).expect(t, "every vendor, not admin", http.StatusForbidden)
	all := sys.call(t, http.MethodGet, "/v1/vendors/-/auditEntries", admin, nil).expect(t, "every vendor", http.StatusOK)
	if n := len(all.body["auditEntries"].([]any)); n != 3 {
		t.Errorf("admin's trail of every vendor: %d entries, want 3", n)
	}
}
