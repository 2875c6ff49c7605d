package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/sqlstore"
	"github.com/govmatch/govmatch/pkg/testdb"
)

// cliIn runs the govmatch command line against the data directory dir.
func cliIn(dir string, args ...string) (string, error) {
	var out, errOut bytes.Buffer
	env := envconfig.MapLookuper(map[string]string{"GOVMATCH_DATA_DIR": dir})
	err := run(context.Background(), args, env, &out, &errOut)
	return out.String() + errOut.String(), err
}

// writer creates drafts through REST until stopped and keeps the names
// of those the server acknowledged, in order.
type writer struct {
	mu    sync.Mutex
	acked []string
	errs  []error
}

func (w *writer) run(ctx context.Context, base, token string, n int) {
	body, _ := json.Marshal(needBody)
	for i := 0; ctx.Err() == nil; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/needs", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				w.fail(err)
			}
			return
		}
		var got struct{ Name string }
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || got.Name == "" {
			w.fail(fmt.Errorf("writer %d, request %d: status %d, %v", n, i, resp.StatusCode, err))
			return
		}
		w.mu.Lock()
		w.acked = append(w.acked, got.Name)
		w.mu.Unlock()
	}
}

func (w *writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, err)
}

func (w *writer) snapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.acked...)
}

// TestBackupUnderLoadRestores: a backup taken while two clients keep
// writing holds every write acknowledged before it began; restored into a
// new data directory, a new system serves them all.
func TestBackupUnderLoadRestores(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	sys := startMonolith(t, "", false, "GOVMATCH_DATA_DIR", dataDir)
	buyer := sys.token(t, "stadt-giessen", identity.RoleBuyer)

	ctx, stop := context.WithCancel(context.Background())
	var w writer
	var wg sync.WaitGroup
	for n := range 2 {
		wg.Go(func() { w.run(ctx, sys.base, buyer, n) })
	}
	t.Cleanup(func() { stop(); wg.Wait() })
	await.True(t, "20 acknowledged writes", func() bool { return len(w.snapshot()) >= 20 })

	before := w.snapshot()
	backupDir := filepath.Join(t.TempDir(), "backup")
	out, err := cliIn(dataDir, "backup", backupDir)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	during := len(w.snapshot()) - len(before)
	files, err := os.ReadDir(backupDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if info, err := f.Info(); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("backup file %s: mode %v (%v), want owner-only", f.Name(), info.Mode(), err)
		}
	}
	// Writes go on after the backup: it held no lock that stopped them.
	await.True(t, "writes after the backup", func() bool { return len(w.snapshot()) > len(before)+during+5 })
	stop()
	wg.Wait()
	if len(w.errs) > 0 {
		t.Fatalf("writes failed during the backup: %v", w.errs)
	}
	all := w.snapshot()
	t.Logf("backup:\n%s%d writes acknowledged before it began, %d while it ran, %d in all", out, len(before), during, len(all))

	if out, err := cliIn(dataDir, "restore", backupDir); err == nil || !strings.Contains(err.Error(), "new data directory") {
		t.Errorf("restore over live data = %q, %v; want a refusal", out, err)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if out, err := cliIn(restored, "restore", backupDir); err != nil {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	again := startMonolith(t, "", false, "GOVMATCH_DATA_DIR", restored)
	buyer = again.token(t, "stadt-giessen", identity.RoleBuyer)
	for _, name := range before {
		again.call(t, http.MethodGet, "/v1/"+name, buyer, nil).expect(t, "acknowledged before the backup: "+name, http.StatusOK)
	}
	found := 0
	for _, name := range all[len(before):] {
		if again.call(t, http.MethodGet, "/v1/"+name, buyer, nil).status == http.StatusOK {
			found++
		}
	}
	t.Logf("restored system: all %d writes from before the backup there, %d of the %d later ones (those the snapshot caught)",
		len(before), found, len(all)-len(before))
}

// TestRestoreChecksTheBackup: a damaged or unfinished backup is refused
// before anything is copied.
func TestRestoreChecksTheBackup(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	startMonolith(t, "", false, "GOVMATCH_DATA_DIR", dataDir)
	backupDir := filepath.Join(t.TempDir(), "backup")
	if out, err := cliIn(dataDir, "backup", backupDir); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if out, err := cliIn(dataDir, "backup", backupDir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("backup into a used directory = %q, %v; want a refusal", out, err)
	}
	f, err := os.OpenFile(filepath.Join(backupDir, "needs.db"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("x"), 100); err != nil {
		t.Fatal(err)
	}
	f.Close()
	restored := filepath.Join(t.TempDir(), "restored")
	if out, err := cliIn(restored, "restore", backupDir); err == nil || !strings.Contains(err.Error(), "needs.db differs") {
		t.Errorf("restore of a damaged backup = %q, %v; want needs.db named", out, err)
	}
	if err := os.Remove(filepath.Join(backupDir, manifestName)); err != nil {
		t.Fatal(err)
	}
	if out, err := cliIn(restored, "restore", backupDir); err == nil || !strings.Contains(err.Error(), "no complete backup") {
		t.Errorf("restore without a manifest = %q, %v", out, err)
	}
	if entries, _ := os.ReadDir(restored); len(entries) > 0 {
		t.Errorf("refused restores left %d files in the data directory", len(entries))
	}
}

// TestSQLiteFilesOwnerOnly: the monolith's databases are for its user
// alone, also in a data directory that exists world-readable.
func TestSQLiteFilesOwnerOnly(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sys := startMonolith(t, "", false, "GOVMATCH_DATA_DIR", dataDir)
	sys.call(t, http.MethodPost, "/v1/needs", sys.token(t, "stadt-giessen", identity.RoleBuyer), needBody).expect(t, "create", http.StatusOK)
	files, err := filepath.Glob(filepath.Join(dataDir, "*.db*"))
	if err != nil || len(files) < 3 {
		t.Fatalf("databases in the data directory: %v, %v", files, err)
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != sqlstore.FileMode {
			t.Errorf("%s: mode %v, want %v", filepath.Base(f), fi.Mode().Perm(), sqlstore.FileMode)
		}
	}
}

// TestPostgresDumpRestore is the README's PostgreSQL backup, run once:
// pg_dump of a live system, pg_restore into an empty database, and a
// system on that database serves what was written.
func TestPostgresDumpRestore(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			testdb.RequireOrSkip(t, tool, "the PostgreSQL backup test runs the client tools")
		}
	}
	src, dst := testdb.Postgres(t), testdb.Postgres(t)
	sys := startMonolith(t, src, false)
	buyer := sys.token(t, "stadt-giessen", identity.RoleBuyer)
	name := sys.call(t, http.MethodPost, "/v1/needs", buyer, needBody).expect(t, "create", http.StatusOK).body["name"].(string)

	dump := filepath.Join(t.TempDir(), "govmatch.dump")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "pg_dump", "--format=custom", "--file="+dump, "--dbname="+src).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "pg_restore", "--no-owner", "--exit-on-error", "--dbname="+dst, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	again := startMonolith(t, dst, false)
	got := again.call(t, http.MethodGet, "/v1/"+name, again.token(t, "stadt-giessen", identity.RoleBuyer), nil)
	got.expect(t, "the need on the restored database", http.StatusOK)
	if got.body["title"] != needBody["title"] {
		t.Errorf("restored title %v, want %v", got.body["title"], needBody["title"])
	}
}
