package audit_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/testdb"
)

func TestMain(m *testing.M) { testdb.Main(m) }

type state int

func (s state) String() string { return [...]string{"UNSPECIFIED", "DRAFT", "PUBLISHED"}[s] }

type inner struct {
	ProblemStatement string
	CPVCodes         []string
}

type thing struct {
	ID string
	inner
	Inner        inner // a named struct field stays one field
	State        state
	BudgetMinEUR int64
	PublishTime  time.Time
	Revision     int64
	secret       string
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestDiff(t *testing.T) {
	t.Parallel()
	published := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	base := thing{ID: "x", inner: inner{ProblemStatement: "warten", CPVCodes: []string{"72000000"}}, Inner: inner{ProblemStatement: "p"}, State: 1, Revision: 1, secret: "s"}
	changed := base
	changed.ProblemStatement, changed.State, changed.PublishTime, changed.Revision, changed.secret = "schneller", 2, published, 2, "t"
	tests := []struct {
		name          string
		before, after any
		skip          []string
		want          []audit.Change
	}{
		{name: "created: every field that is set", before: nil, after: &base, skip: []string{"revision"}, want: []audit.Change{
			{Field: "id", After: raw(`"x"`)},
			{Field: "problem_statement", After: raw(`"warten"`)},
			{Field: "cpv_codes", After: raw(`["72000000"]`)},
			{Field: "inner", After: raw(`{"ProblemStatement":"p","CPVCodes":null}`)},
			{Field: "state", After: raw(`"DRAFT"`)},
		}},
		{name: "updated: what changed, enums by name, skipped fields left out", before: &base, after: &changed, skip: []string{"revision"}, want: []audit.Change{
			{Field: "problem_statement", Before: raw(`"warten"`), After: raw(`"schneller"`)},
			{Field: "state", Before: raw(`"DRAFT"`), After: raw(`"PUBLISHED"`)},
			{Field: "publish_time", After: raw(`"2026-12-01T09:00:00Z"`)},
		}},
		{name: "deleted", before: base, after: (*thing)(nil), skip: []string{"id", "problem_statement", "cpv_codes", "inner", "revision"}, want: []audit.Change{
			{Field: "state", Before: raw(`"DRAFT"`)},
		}},
		{name: "nothing changed but a skipped field", before: &base, after: func() *thing { c := base; c.Revision = 9; return &c }(), skip: []string{"revision"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := audit.Diff(tt.before, tt.after, tt.skip...)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Diff (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := audit.Diff(nil, 3); err == nil {
		t.Error("Diff of a number: no error")
	}
}

func TestValidRequestID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"4bf92f3577b34da6a3ce929d0e0e4736": true,
		"req-1.2:3/4_5":                    true,
		"":                                 false,
		strings.Repeat("a", 129):           false,
		"a\nb":                             false,
		"a,b":                              false,
		"ä":                                false,
	} {
		if got := audit.ValidRequestID(id); got != want {
			t.Errorf("ValidRequestID(%q) = %v, want %v", id, got, want)
		}
	}
}

// engine is one database the chains are tested on.
type engine struct {
	name string
	open func(t *testing.T) backend
}

type backend struct {
	append func(ctx context.Context, e *audit.Entry) error
	list   func(ctx context.Context, q audit.Query) ([]audit.Entry, error)
	verify func(ctx context.Context) (audit.Report, error)
	exec   func(ctx context.Context, stmt string) error
}

var engines = []engine{
	{"sqlite", func(t *testing.T) backend {
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "a.db")+"?_pragma=busy_timeout(10000)&_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		if _, err := db.Exec(audit.SQLiteDDL); err != nil {
			t.Fatal(err)
		}
		return backend{
			append: func(ctx context.Context, e *audit.Entry) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				if err := audit.InsertSQLite(ctx, tx, e); err != nil {
					return err
				}
				return tx.Commit()
			},
			list:   func(ctx context.Context, q audit.Query) ([]audit.Entry, error) { return audit.ListSQLite(ctx, db, q) },
			verify: func(ctx context.Context) (audit.Report, error) { return audit.VerifySQLite(ctx, db) },
			exec:   func(ctx context.Context, stmt string) error { _, err := db.ExecContext(ctx, stmt); return err },
		}
	}},
	{"postgres", func(t *testing.T) backend {
		pool, err := pgxpool.New(context.Background(), testdb.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if _, err := pool.Exec(context.Background(), audit.PostgresDDL); err != nil {
			t.Fatal(err)
		}
		return backend{
			append: func(ctx context.Context, e *audit.Entry) error {
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return audit.InsertPgx(ctx, tx, e) })
			},
			list:   func(ctx context.Context, q audit.Query) ([]audit.Entry, error) { return audit.ListPgx(ctx, pool, q) },
			verify: func(ctx context.Context) (audit.Report, error) { return audit.VerifyPgx(ctx, pool) },
			exec:   func(ctx context.Context, stmt string) error { _, err := pool.Exec(ctx, stmt); return err },
		}
	}},
}

func entry(t *testing.T, ctx context.Context, resource string, before, after any) *audit.Entry {
	t.Helper()
	e, ok, err := audit.New(ctx, resource, before, after)
	if err != nil || !ok {
		t.Fatalf("audit.New = %v, %v", ok, err)
	}
	return &e
}

// TestChains: entries chain per resource, list by parent with children,
// and every kind of tampering is reported; concurrent writers of one
// resource never fork its chain.
func TestChains(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			db := eng.open(t)
			ctx := identity.NewContext(context.Background(), identity.Principal{Subject: "u1", Org: "stadt-giessen", Roles: []identity.Role{identity.RoleBuyer}})
			ctx = audit.WithRequest(ctx, "/govmatch.needs.v1.NeedsService/UpdateNeed", "req-1")
			v1 := thing{ID: "a", State: 1}
			v2 := thing{ID: "a", State: 2}
			for _, e := range []*audit.Entry{
				entry(t, ctx, "needs/a", nil, v1),
				entry(t, ctx, "needs/a", v1, v2),
				entry(t, ctx, "needs/a/responses/v", nil, thing{ID: "v"}),
				entry(t, ctx, "needs/ab", nil, thing{ID: "ab"}), // not a child of needs/a
			} {
				if err := db.append(ctx, e); err != nil {
					t.Fatal(err)
				}
			}

			got, err := db.list(ctx, audit.Query{Resource: "needs/a", Children: true, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range got {
				names = append(names, fmt.Sprintf("%s#%d", e.Resource, e.Seq))
			}
			if diff := cmp.Diff([]string{"needs/a#1", "needs/a#2", "needs/a/responses/v#1"}, names); diff != "" {
				t.Errorf("trail of needs/a (-want +got):\n%s", diff)
			}
			if e := got[1]; e.Actor.Subject != "u1" || e.Actor.Organization != "stadt-giessen" || e.RequestID != "req-1" ||
				e.Method != "/govmatch.needs.v1.NeedsService/UpdateNeed" || e.PrevHash != got[0].Hash || len(e.Changes) != 1 {
				t.Errorf("second entry = %+v", e)
			}
			page, err := db.list(ctx, audit.Query{Resource: "needs/a", Children: true, After: ptr(got[0].Cursor()), Limit: 1})
			if err != nil || len(page) != 1 || page[0].Hash != got[1].Hash {
				t.Errorf("page after the first = %+v, %v", page, err)
			}

			// Concurrent writers of one chain: all succeed, no fork.
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for i := range 16 {
				wg.Go(func() { errs <- db.append(ctx, entry(t, ctx, "vendors/c", nil, thing{ID: fmt.Sprint(i)})) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Errorf("concurrent append: %v", err)
				}
			}
			rep, err := db.verify(ctx)
			if err != nil || len(rep.Breaks) != 0 || rep.Chains != 4 || rep.Entries != 20 {
				t.Fatalf("verify before tampering = %+v, %v; want 4 whole chains of 20 entries", rep, err)
			}
			if !strings.HasPrefix(rep.Heads["vendors/c"], "16:") {
				t.Errorf("head of vendors/c = %q, want #16", rep.Heads["vendors/c"])
			}

			for _, tamper := range []struct {
				stmt string
				want audit.Break
			}{
				{`UPDATE audit_entries SET changes = replace(changes, 'PUBLISHED', 'DRAFT') WHERE resource = 'needs/a' AND seq = 2`,
					audit.Break{Resource: "needs/a", Seq: 2, Reason: "hash does not match its content (edited)"}},
				{`DELETE FROM audit_entries WHERE resource = 'vendors/c' AND seq = 5`,
					audit.Break{Resource: "vendors/c", Seq: 6, Reason: "follows #4: entries are missing"}},
				{`UPDATE audit_entries SET subject = 'someone-else' WHERE resource = 'needs/ab'`,
					audit.Break{Resource: "needs/ab", Seq: 1, Reason: "hash does not match its content (edited)"}},
			} {
				if err := db.exec(ctx, tamper.stmt); err != nil {
					t.Fatal(err)
				}
				rep, err := db.verify(ctx)
				if err != nil {
					t.Fatal(err)
				}
				found := false
				for _, b := range rep.Breaks {
					found = found || b == tamper.want
				}
				if !found {
					t.Errorf("after %q: breaks %v, want %v among them", tamper.stmt, rep.Breaks, tamper.want)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// FuzzValidRequestID: an id the gateway passes into logs, the audit trail
// and its CSV export never carries a separator, a quote or a line break.
func FuzzValidRequestID(f *testing.F) {
	for _, s := range []string{"4bf92f3577b34da6a3ce929d0e0e4736", "req-1.2:3/4_5", "", "a\nb", "a,b", `"x"`, "=cmd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !audit.ValidRequestID(s) {
			return
		}
		if len(s) == 0 || len(s) > 128 || strings.ContainsAny(s, ",;\"'\r\n\t =+@") {
			t.Errorf("ValidRequestID accepted %q", s)
		}
	})
}
