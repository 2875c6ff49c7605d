package audit_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	// append appends e with c in a transaction of its own, which it rolls
	// back instead of committing with rollback.
	append func(ctx context.Context, c *audit.Chains, e *audit.Entry, rollback bool) error
	list   func(ctx context.Context, q audit.Query) ([]audit.Entry, error)
	verify func(ctx context.Context) (audit.Report, error)
	exec   func(ctx context.Context, stmt string) error
}

var errRollback = errors.New("rolled back")

var engines = []engine{
	{"sqlite", func(t *testing.T) backend {
		db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "a.db")+"?_pragma=busy_timeout(10000)&_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		for _, step := range audit.SQLiteSchema {
			if _, err := db.Exec(step.Up); err != nil {
				t.Fatal(err)
			}
		}
		return backend{
			append: func(ctx context.Context, c *audit.Chains, e *audit.Entry, rollback bool) error {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				if err := c.AppendSQLite(ctx, tx, e); err != nil || rollback {
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
		for _, step := range audit.PostgresSchema {
			if _, err := pool.Exec(context.Background(), step.Up); err != nil {
				t.Fatal(err)
			}
		}
		return backend{
			append: func(ctx context.Context, c *audit.Chains, e *audit.Entry, rollback bool) error {
				err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					if err := c.AppendPgx(ctx, tx, e); err != nil {
						return err
					}
					if rollback {
						return errRollback
					}
					return nil
				})
				if errors.Is(err, errRollback) {
					return nil
				}
				return err
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
			var chains audit.Chains
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
				if err := db.append(ctx, &chains, e, false); err != nil {
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
				wg.Go(func() {
					errs <- db.append(ctx, &chains, entry(t, ctx, "vendors/c", nil, thing{ID: fmt.Sprint(i)}), false)
				})
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

// TestChainsWrongGuess: a Chains whose remembered head is not the head
// (its transaction rolled back, another writer appended, the resource
// existed before) still appends right after the real head.
func TestChainsWrongGuess(t *testing.T) {
	t.Parallel()
	for _, eng := range engines {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			db := eng.open(t)
			ctx := context.Background()
			var ours, theirs audit.Chains
			steps := []struct {
				name     string
				chains   *audit.Chains
				rollback bool
			}{
				{"first", &ours, false},
				{"rolled back", &ours, true},
				// theirs appends #2 where ours remembers a #2 of its own
				{"by another writer", &theirs, false},
				{"after another writer's entry of the same seq", &ours, false},
				{"rolled back again", &ours, true},
				{"after a rollback", &ours, false},
				{"by a writer new to the resource", &audit.Chains{}, false},
				{"after it", &ours, false},
			}
			for i, st := range steps {
				if err := db.append(ctx, st.chains, entry(t, ctx, "needs/a", nil, thing{ID: fmt.Sprint(i)}), st.rollback); err != nil {
					t.Fatalf("append %s: %v", st.name, err)
				}
			}
			rep, err := db.verify(ctx)
			if err != nil || len(rep.Breaks) != 0 || rep.Entries != len(steps)-2 {
				t.Fatalf("verify = %+v, %v; want one whole chain of %d entries", rep, err, len(steps)-2)
			}
			if !strings.HasPrefix(rep.Heads["needs/a"], fmt.Sprintf("%d:", len(steps)-2)) {
				t.Errorf("head = %q, want #%d", rep.Heads["needs/a"], len(steps)-2)
			}
		})
	}
}

// TestSQLiteSchemaSteps: the second step keeps the entries of a trail
// written under the first, and both steps go down again.
func TestSQLiteSchemaSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "a.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	exec := func(stmt string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	exec(audit.SQLiteSchema[0].Up)
	var chains audit.Chains
	for i := range 3 {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := chains.AppendSQLite(ctx, tx, entry(t, ctx, "needs/a", nil, thing{ID: fmt.Sprint(i)})); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	exec(audit.SQLiteSchema[1].Up)
	rep, err := audit.VerifySQLite(ctx, db)
	if err != nil || len(rep.Breaks) != 0 || rep.Entries != 3 {
		t.Fatalf("verify after step 2 = %+v, %v; want 3 whole entries", rep, err)
	}
	var ddl string
	if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE name = 'audit_entries'`).Scan(&ddl); err != nil || !strings.Contains(ddl, "WITHOUT ROWID") {
		t.Errorf("table after step 2: %q, %v", ddl, err)
	}
	exec(audit.SQLiteSchema[1].Down)
	if rep, err := audit.VerifySQLite(ctx, db); err != nil || rep.Entries != 3 {
		t.Fatalf("verify after step 2 down = %+v, %v", rep, err)
	}
	exec(audit.SQLiteSchema[0].Down)
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

// TestSchemaIsFrozen guards the steps that services' migrations run:
// editing one would make databases migrated before and after disagree.
// Add a step instead.
func TestSchemaIsFrozen(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		steps []audit.Step
		sums  []string
	}{
		{"SQLiteSchema", audit.SQLiteSchema, []string{"2d98105c21576b95b64f74bd4e19e05f58882a84dd0bbc642f4559958fefaca4", "d2c99e19eb5daaa15203f4f975defc7b75d7e35f99140dbdcf987d6324ab219e"}},
		{"PostgresSchema", audit.PostgresSchema, []string{"8b1dc01a8a73518d3bf44b09e0e20fa60254aeb131c4395d2550def417280eb5", "f94868c86680393c5ec1f8be009ea61923cd43b7b35f71de881d3ae027fd572d"}},
	} {
		if len(tc.steps) != len(tc.sums) {
			t.Errorf("%s has %d steps, want %d: pin the new one's sum here", tc.name, len(tc.steps), len(tc.sums))
			continue
		}
		for i, st := range tc.steps {
			sum := sha256.Sum256([]byte(st.Up + "\x00" + st.Down))
			if got := hex.EncodeToString(sum[:]); got != tc.sums[i] {
				t.Errorf("%s[%d] changed (sha256 %s): it is frozen, add a step and a migration instead", tc.name, i, got)
			}
		}
	}
}
