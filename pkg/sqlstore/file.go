package sqlstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileMode is the mode of every SQLite file: drafts, responses and prices
// are for the service alone, whatever the umask or the data directory's
// mode.
const FileMode fs.FileMode = 0o600

// PrepareFile makes the SQLite database at path ready to be opened by its
// owner alone: it creates the directory (0700) if missing and the file with
// FileMode if missing, and tightens an existing file, and its -wal and -shm
// companions, to FileMode. SQLite gives the companions it creates the mode
// of the database file, so preparing the database is enough for them.
func PrepareFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory for SQLite database: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		return fmt.Errorf("create SQLite database: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		// Older versions created 0644; an existing file is tightened.
		if fi.Mode().Perm()&^FileMode != 0 {
			if err := os.Chmod(p, FileMode); err != nil {
				return fmt.Errorf("restrict SQLite file to its owner: %w", err)
			}
		}
	}
	return nil
}
