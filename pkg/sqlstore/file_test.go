package sqlstore_test

import (
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/govmatch/govmatch/pkg/sqlstore"
)

// TestPrepareFile: the database and the WAL files SQLite adds are for the
// owner alone, in a directory that already exists world-readable, under a
// permissive umask, and for a file an older version left 0644.
func TestPrepareFile(t *testing.T) {
	// The umask is the process's: no t.Parallel.
	old := syscall.Umask(0o002)
	t.Cleanup(func() { syscall.Umask(old) })
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{name: "new file in an open directory", setup: func(t *testing.T, path string) {
			if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "new directory", setup: func(t *testing.T, path string) {}},
		{name: "file left world-readable", setup: func(t *testing.T, path string) {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "needs.db")
			tt.setup(t, path)
			if err := sqlstore.PrepareFile(path); err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS t (x); INSERT INTO t VALUES (1)`); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != sqlstore.FileMode {
					t.Errorf("%s: mode %v, want %v", filepath.Base(p), got, fs.FileMode(sqlstore.FileMode))
				}
			}
		})
	}
}
