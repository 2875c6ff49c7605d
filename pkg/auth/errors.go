package auth

import "errors"

// Reasons a bearer token is rejected. Verify returns errors that match one of
// these with errors.Is and whose Error() text is exactly the reason's text, so
// it is safe to show to the client. Use Cause to get the underlying detail
// (e.g. the expected and actual issuer) for server-side logs only.
var (
	ErrMalformed       = errors.New("token malformed")
	ErrAlgorithm       = errors.New("token signature algorithm not accepted")
	ErrSignature       = errors.New("token signature invalid")
	ErrExpired         = errors.New("token expired")
	ErrNoExpiry        = errors.New("token has no expiry")
	ErrNotYetValid     = errors.New("token not yet valid")
	ErrIssuer          = errors.New("token issuer not accepted")
	ErrAudience        = errors.New("token audience not accepted")
	ErrClaims          = errors.New("token claims malformed")
	ErrNoSubject       = errors.New("token has no subject")
	ErrNoRole          = errors.New("token has no govmatch role")
	ErrOrg             = errors.New("token has no valid organisation")
	ErrKeysUnavailable = errors.New("token signing keys unavailable")
)

// rejection is a token verification failure: reason is client-safe, cause is
// the internal detail.
type rejection struct {
	reason error
	cause  error
}

func (e *rejection) Error() string { return e.reason.Error() }

// Unwrap exposes only the client-safe reason, so wrapping or %w-formatting a
// rejection never leaks the internal cause.
func (e *rejection) Unwrap() error { return e.reason }

func reject(reason, cause error) error {
	return &rejection{reason: reason, cause: cause}
}

// Cause returns the internal detail behind a verification error returned by
// this package, for server-side logging; it may contain token contents and
// configuration and must not be sent to clients. It returns nil if err
// carries no detail.
func Cause(err error) error {
	var r *rejection
	if errors.As(err, &r) {
		return r.cause
	}
	return nil
}

// rejectionReasons lists the reasons that mean "this token is not
// acceptable" (as opposed to ErrKeysUnavailable).
var rejectionReasons = []error{
	ErrMalformed, ErrAlgorithm, ErrSignature, ErrExpired, ErrNoExpiry,
	ErrNotYetValid, ErrIssuer, ErrAudience, ErrClaims, ErrNoSubject,
	ErrNoRole, ErrOrg,
}
