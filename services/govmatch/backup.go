package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/govmatch/govmatch/pkg/sqlstore"
)

// backupManifest describes a backup directory; restore checks every file
// against it before it copies anything.
type backupManifest struct {
	Created time.Time    `json:"created"`
	Version string       `json:"version"`
	Files   []backupFile `json:"files"`
}

type backupFile struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

const manifestName = "govmatch-backup.json"

// sqliteFiles are the databases of the monolith's data directory: one per
// service that stores anything, and the dead letters.
func sqliteFiles(cfg Config) []string {
	return []string{
		filepath.Base(cfg.sqlitePath(TargetNeeds)),
		filepath.Base(cfg.sqlitePath(TargetVendors)),
		filepath.Base(cfg.deadLettersPath()),
	}
}

// backup runs `govmatch backup DIR`: a consistent copy of every SQLite
// database of GOVMATCH_DATA_DIR, taken while the server goes on writing.
// VACUUM INTO reads one snapshot of each database in a single read
// transaction, which WAL lets run beside the writer, and writes a compact
// file that needs no -wal beside it.
func backup(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: govmatch backup DIR (a new or empty directory)")
	}
	if cfg.DatabaseURL != "" {
		return errors.New("backup copies the SQLite databases; on PostgreSQL (DATABASE_URL) use pg_dump, see README")
	}
	dir := args[0]
	if err := emptyDir(dir); err != nil {
		return err
	}
	m := backupManifest{Created: time.Now().UTC(), Version: version()}
	for _, name := range sqliteFiles(cfg) {
		src := filepath.Join(cfg.DataDir, name)
		if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
			continue // a store this system never opened
		}
		dst := filepath.Join(dir, name)
		if err := vacuumInto(ctx, src, dst); err != nil {
			return fmt.Errorf("back up %s: %w", name, err)
		}
		f, err := describe(dst)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, f)
		fmt.Fprintf(stdout, "%s\t%d bytes\n", name, f.Bytes)
	}
	if len(m.Files) == 0 {
		return fmt.Errorf("no databases in %s (GOVMATCH_DATA_DIR)", cfg.DataDir)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	// The manifest last: a directory without one is an unfinished backup.
	if err := writeFileSync(filepath.Join(dir, manifestName), append(data, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %d databases in %s\n", len(m.Files), dir)
	return nil
}

// restore runs `govmatch restore DIR`: it checks the backup in DIR and
// copies it into GOVMATCH_DATA_DIR, which must hold no databases (a
// server must not be running on it).
func restore(ctx context.Context, cfg Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: govmatch restore DIR (a directory written by govmatch backup)")
	}
	if cfg.DatabaseURL != "" {
		return errors.New("restore writes the SQLite databases; on PostgreSQL (DATABASE_URL) use pg_restore, see README")
	}
	dir := args[0]
	data, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return fmt.Errorf("%s is no complete backup: %w", dir, err)
	}
	var m backupManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: %w", manifestName, err)
	}
	known := map[string]bool{}
	for _, name := range sqliteFiles(cfg) {
		known[name] = true
	}
	for _, f := range m.Files {
		if !known[f.Name] {
			return fmt.Errorf("%s names %q, which is no govmatch database", manifestName, f.Name)
		}
		got, err := describe(filepath.Join(dir, f.Name))
		if err != nil {
			return err
		}
		if got != f {
			return fmt.Errorf("%s differs from the backup's manifest (damaged or changed since)", f.Name)
		}
		if err := integrityCheck(ctx, filepath.Join(dir, f.Name)); err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	for name := range known {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if _, err := os.Stat(filepath.Join(cfg.DataDir, name+suffix)); err == nil {
				return fmt.Errorf("%s already has %s: restore into a new data directory, with no server running on it",
					cfg.DataDir, name+suffix)
			}
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	for _, f := range m.Files {
		if err := copyFile(filepath.Join(dir, f.Name), filepath.Join(cfg.DataDir, f.Name)); err != nil {
			return fmt.Errorf("restore %s: %w", f.Name, err)
		}
		fmt.Fprintf(stdout, "%s\trestored\n", f.Name)
	}
	fmt.Fprintf(stdout, "restored the backup of %s (version %s) into %s\n", m.Created.Format(time.RFC3339), m.Version, cfg.DataDir)
	return nil
}

// emptyDir creates dir, or accepts it when it exists and is empty.
func emptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty: back up into a new directory", dir)
	}
	return nil
}

func vacuumInto(ctx context.Context, src, dst string) error {
	// A read-only connection: the backup never takes the writer's lock.
	db, err := sql.Open("sqlite", "file:"+src+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	// The copy holds what the database holds: create it owner-only before
	// SQLite writes (VACUUM INTO accepts an empty file), never readable
	// by others for a moment under a loose umask.
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, sqlstore.FileMode)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return err
	}
	return syncFile(dst)
}

func integrityCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&res); err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if res != "ok" {
		return fmt.Errorf("integrity check: %s", res)
	}
	return nil
}

func describe(path string) (backupFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return backupFile{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return backupFile{}, err
	}
	return backupFile{Name: filepath.Base(path), Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// copyFile copies src to dst through a temporary file, synced and renamed,
// so that a crash leaves either nothing or the whole file.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".restoring"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, sqlstore.FileMode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

func writeFileSync(path string, data []byte) error {
	if err := os.WriteFile(path, data, sqlstore.FileMode); err != nil {
		return err
	}
	return syncFile(path)
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
