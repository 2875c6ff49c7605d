// Package errdefs holds the error kinds that domain code returns and that the
// transport layer maps to gRPC codes exactly once (see pkg/grpcx). Domain
// packages wrap these sentinels with context; they never import gRPC.
package errdefs

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for the kinds of failure a caller can act on. Wrap them with
// fmt.Errorf("...: %w", ErrX) or use the constructors below, whose message is
// safe to show to the caller.
var (
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrAborted            = errors.New("aborted")             // stale etag, concurrent change
	ErrFailedPrecondition = errors.New("failed precondition") // state does not allow the operation
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrPermissionDenied   = errors.New("permission denied")
	ErrUnavailable        = errors.New("unavailable")
)

// publicError carries a message meant for the caller next to its kind.
type publicError struct {
	kind error
	msg  string
}

func (e *publicError) Error() string { return e.msg }
func (e *publicError) Unwrap() error { return e.kind }

// Public reports whether err carries a message written for the caller, so
// the transport may show it; other errors are logged and hidden.
func Public(err error) (string, bool) {
	var pe *publicError
	if errors.As(err, &pe) {
		return pe.msg, true
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Error(), true
	}
	return "", false
}

func newf(kind error, format string, args ...any) error {
	return &publicError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// NotFound says the named resource does not exist (or is not visible).
func NotFound(format string, args ...any) error { return newf(ErrNotFound, format, args...) }

// AlreadyExists says a resource with that identity exists already.
func AlreadyExists(format string, args ...any) error {
	return newf(ErrAlreadyExists, format, args...)
}

// Aborted says a concurrent change won; the caller should re-read and retry.
func Aborted(format string, args ...any) error { return newf(ErrAborted, format, args...) }

// FailedPrecondition says the resource's state does not allow the operation.
func FailedPrecondition(format string, args ...any) error {
	return newf(ErrFailedPrecondition, format, args...)
}

// Unauthenticated says the operation needs a valid token.
func Unauthenticated(format string, args ...any) error {
	return newf(ErrUnauthenticated, format, args...)
}

// Unavailable says the service cannot answer yet or now; the caller may
// retry.
func Unavailable(format string, args ...any) error { return newf(ErrUnavailable, format, args...) }

// PermissionDenied says the caller's identity may not do this.
func PermissionDenied(format string, args ...any) error {
	return newf(ErrPermissionDenied, format, args...)
}

// FieldViolation names one field of a request and what is wrong with it.
// Field is the request field path in proto names, e.g. "need.cpv_codes[2]".
type FieldViolation struct {
	Field       string
	Description string
}

// ValidationError is a rejected request: every bad field at once, so a user
// can fix a form in one go.
type ValidationError struct {
	Violations []FieldViolation
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Field + ": " + v.Description
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// Violations collects field violations while validating a request.
type Violations struct {
	list []FieldViolation
}

// Add records that field is wrong, with a description for the user.
func (v *Violations) Add(field, format string, args ...any) {
	v.list = append(v.list, FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Len is the number of violations so far.
func (v *Violations) Len() int { return len(v.list) }

// Err is nil when nothing was added, else a *ValidationError.
func (v *Violations) Err() error {
	if len(v.list) == 0 {
		return nil
	}
	return &ValidationError{Violations: append([]FieldViolation(nil), v.list...)}
}

// Invalid is a shortcut for a single field violation.
func Invalid(field, format string, args ...any) error {
	var v Violations
	v.Add(field, format, args...)
	return v.Err()
}
