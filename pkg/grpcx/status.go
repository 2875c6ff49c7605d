package grpcx

import (
	"context"
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/govmatch/govmatch/pkg/errdefs"
)

// internalMessage is all a client learns about a failure it cannot act on.
const internalMessage = "internal error"

// kinds maps the errdefs sentinels to gRPC codes.
var kinds = []struct {
	sentinel error
	code     codes.Code
}{
	{errdefs.ErrNotFound, codes.NotFound},
	{errdefs.ErrAlreadyExists, codes.AlreadyExists},
	{errdefs.ErrAborted, codes.Aborted},
	{errdefs.ErrFailedPrecondition, codes.FailedPrecondition},
	{errdefs.ErrUnauthenticated, codes.Unauthenticated},
	{errdefs.ErrPermissionDenied, codes.PermissionDenied},
	{errdefs.ErrUnavailable, codes.Unavailable},
}

// ToStatus is the one place that turns an error into the gRPC status a
// client sees. NewServer applies it to every handler's error, so handlers
// just return domain errors; calling it again is harmless.
//
//   - nil stays nil; a status error is returned as is (a wrapped one without
//     the wrapper's text, which the client was never meant to read).
//   - context.Canceled and context.DeadlineExceeded become Canceled and
//     DeadlineExceeded.
//   - *errdefs.ValidationError becomes InvalidArgument with a
//     google.rpc.BadRequest detail listing every field violation.
//   - errdefs sentinels become their codes, with the errdefs.Public message
//     when there is one and the sentinel's own text otherwise.
//   - Anything else becomes Internal "internal error". The cause stays
//     reachable with errors.Unwrap for the server's log and trace (the
//     interceptors of NewServer record it), but never reaches the client.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	var se interface {
		error
		GRPCStatus() *status.Status
	}
	if errors.As(err, &se) {
		return se
	}

	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, context.Canceled.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
	}

	var ve *errdefs.ValidationError
	if errors.As(err, &ve) {
		return validationStatus(ve)
	}

	for _, k := range kinds {
		if errors.Is(err, k.sentinel) {
			msg, ok := errdefs.Public(err)
			if !ok {
				msg = k.sentinel.Error()
			}
			return status.Error(k.code, msg)
		}
	}

	return &internalError{cause: err}
}

func validationStatus(ve *errdefs.ValidationError) error {
	st := status.New(codes.InvalidArgument, ve.Error())
	br := &errdetails.BadRequest{
		FieldViolations: make([]*errdetails.BadRequest_FieldViolation, 0, len(ve.Violations)),
	}
	for _, v := range ve.Violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       v.Field,
			Description: v.Description,
		})
	}
	withDetails, err := st.WithDetails(br)
	if err != nil {
		// Only fails for an OK status or an unmarshalable detail; the
		// message still names every violation.
		return st.Err()
	}
	return withDetails.Err()
}

// internalError is the status of a failure the client must not learn about,
// carrying its cause for the server's own log and trace.
type internalError struct{ cause error }

// Error returns the text of the status the client gets, so that the cause
// cannot leak through code that puts an error's text into a response.
func (e *internalError) Error() string { return e.GRPCStatus().Err().Error() }

// GRPCStatus is what gRPC sends: Internal "internal error".
func (e *internalError) GRPCStatus() *status.Status {
	return status.New(codes.Internal, internalMessage)
}

// Unwrap returns the cause for logs and traces.
func (e *internalError) Unwrap() error { return e.cause }

// internalCause returns the cause hidden behind an Internal status made by
// ToStatus, or nil.
func internalCause(err error) error {
	var ie *internalError
	if errors.As(err, &ie) {
		return ie.cause
	}
	return nil
}
