package sqlstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/govmatch/govmatch/pkg/errdefs"
)

// FnError marks err as the error of a caller's function that ran inside a
// store transaction (the fn of Update or Delete), so that MapSQLiteError and
// MapPostgresError return it unchanged.
func FnError(err error) error { return &fnError{err} }

type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// MapSQLiteError turns the error of a store operation on SQLite into what
// the store returns. op says what was being done, to which row id (may be
// empty). The errors of FnError and errdefs.ErrNotFound pass unchanged; a
// violation of the unique index on the column unique ("needs.id") becomes
// exists; SQLITE_BUSY, another process holding the lock for longer than
// busy_timeout, becomes errdefs.ErrUnavailable.
func MapSQLiteError(err error, op, id, unique string, exists error) error {
	what, out, done := mapCommon(err, op, id)
	if done {
		return out
	}
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		switch {
		case se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(se.Error(), unique):
			return exists
		case se.Code()&0xff == sqlite3.SQLITE_BUSY:
			return fmt.Errorf("%s: %w: %w", what, errdefs.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// MapPostgresError turns the error of a store operation on PostgreSQL into
// what the store returns, like MapSQLiteError: a unique violation of the
// constraint unique ("needs_pkey") becomes exists; a serialization failure
// or deadlock becomes errdefs.ErrAborted (the caller may retry), a failed
// connection errdefs.ErrUnavailable.
func MapPostgresError(err error, op, id, unique string, exists error) error {
	what, out, done := mapCommon(err, op, id)
	if done {
		return out
	}
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case pgErr.Code == "23505" && pgErr.ConstraintName == unique: // unique_violation
			return exists
		case pgErr.Code == "40001" || pgErr.Code == "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%s: %w: %w", what, errdefs.ErrAborted, err)
		}
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return fmt.Errorf("%s: %w: %w", what, errdefs.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// mapCommon returns, when done, the error to return as it is, and else the
// description of the operation for wrapping err.
func mapCommon(err error, op, id string) (what string, out error, done bool) {
	if fe, ok := errors.AsType[*fnError](err); ok {
		return "", fe.err, true
	}
	if errors.Is(err, errdefs.ErrNotFound) {
		return "", err, true
	}
	if id != "" {
		return fmt.Sprintf("%s %q", op, id), nil, false
	}
	return op, nil, false
}
