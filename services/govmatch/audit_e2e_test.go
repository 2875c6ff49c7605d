package main

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"testing"

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
