package grpcx

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
)

// statusProto builds the wire form of a status, with optional details.
func statusProto(t *testing.T, c codes.Code, msg string, details ...*errdetails.BadRequest) *spb.Status {
	t.Helper()
	st := status.New(c, msg)
	for _, d := range details {
		var err error
		if st, err = st.WithDetails(d); err != nil {
			t.Fatal(err)
		}
	}
	return st.Proto()
}

func TestToStatus(t *testing.T) {
	t.Parallel()
	secret := errors.New(`pq: password authentication failed for user "govmatch"`)
	notFoundStatus := status.Error(codes.NotFound, "need needs/x not found")

	tests := []struct {
		name string
		err  error
		want *spb.Status // nil: ToStatus must return nil
		// wantSame asks for the very error that went in.
		wantSame bool
		// wantCause is the hidden cause of an Internal status.
		wantCause error
	}{
		{name: "nil", err: nil, want: nil},
		{name: "status unchanged", err: notFoundStatus, want: statusProto(t, codes.NotFound, "need needs/x not found"), wantSame: true},
		{
			name: "wrapped status drops wrapper text",
			err:  fmt.Errorf("call vendors at 10.0.0.7: %w", notFoundStatus),
			want: statusProto(t, codes.NotFound, "need needs/x not found"),
		},
		{name: "context canceled", err: fmt.Errorf("query: %w", context.Canceled), want: statusProto(t, codes.Canceled, "context canceled")},
		{name: "deadline exceeded", err: fmt.Errorf("query: %w", context.DeadlineExceeded), want: statusProto(t, codes.DeadlineExceeded, "context deadline exceeded")},
		{
			name: "validation error with two violations",
			err: func() error {
				var v errdefs.Violations
				v.Add("need.title", "must not be empty")
				v.Add("need.cpv_codes[2]", "unknown CPV code %q", "99999999")
				return fmt.Errorf("create need: %w", v.Err())
			}(),
			want: statusProto(t, codes.InvalidArgument,
				`invalid request: need.title: must not be empty; need.cpv_codes[2]: unknown CPV code "99999999"`,
				&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
					{Field: "need.title", Description: "must not be empty"},
					{Field: "need.cpv_codes[2]", Description: `unknown CPV code "99999999"`},
				}}),
		},
		{name: "not found public", err: fmt.Errorf("store: %w", errdefs.NotFound("need %q not found", "needs/x")), want: statusProto(t, codes.NotFound, `need "needs/x" not found`)},
		{name: "not found bare", err: fmt.Errorf("select need 42 from db1: %w", errdefs.ErrNotFound), want: statusProto(t, codes.NotFound, "not found")},
		{name: "already exists", err: errdefs.AlreadyExists("need %q already exists", "needs/x"), want: statusProto(t, codes.AlreadyExists, `need "needs/x" already exists`)},
		{name: "already exists bare", err: fmt.Errorf("insert: %w", errdefs.ErrAlreadyExists), want: statusProto(t, codes.AlreadyExists, "already exists")},
		{name: "aborted", err: errdefs.Aborted("etag %q is stale", "abc"), want: statusProto(t, codes.Aborted, `etag "abc" is stale`)},
		{name: "aborted bare", err: fmt.Errorf("update: %w", errdefs.ErrAborted), want: statusProto(t, codes.Aborted, "aborted")},
		{name: "failed precondition", err: errdefs.FailedPrecondition("need is awarded"), want: statusProto(t, codes.FailedPrecondition, "need is awarded")},
		{name: "failed precondition bare", err: fmt.Errorf("x: %w", errdefs.ErrFailedPrecondition), want: statusProto(t, codes.FailedPrecondition, "failed precondition")},
		{name: "unauthenticated", err: errdefs.Unauthenticated("sign in to create needs"), want: statusProto(t, codes.Unauthenticated, "sign in to create needs")},
		{name: "unauthenticated bare", err: fmt.Errorf("x: %w", errdefs.ErrUnauthenticated), want: statusProto(t, codes.Unauthenticated, "unauthenticated")},
		{name: "permission denied", err: errdefs.PermissionDenied("only members of %s may edit", "stadt-giessen"), want: statusProto(t, codes.PermissionDenied, "only members of stadt-giessen may edit")},
		{name: "permission denied bare", err: fmt.Errorf("x: %w", errdefs.ErrPermissionDenied), want: statusProto(t, codes.PermissionDenied, "permission denied")},
		{name: "unavailable", err: fmt.Errorf("redis 10.0.0.9:6379 down: %w", errdefs.ErrUnavailable), want: statusProto(t, codes.Unavailable, "unavailable")},
		{name: "unknown error hidden", err: fmt.Errorf("load need: %w", secret), want: statusProto(t, codes.Internal, "internal error"), wantCause: secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ToStatus(tt.err)
			if tt.want == nil {
				if got != nil {
					t.Fatalf("ToStatus(nil) = %v, want nil", got)
				}
				return
			}
			st, ok := status.FromError(got)
			if !ok {
				t.Fatalf("ToStatus(%v) = %T, not a status", tt.err, got)
			}
			if diff := cmp.Diff(tt.want, st.Proto(), protocmp.Transform()); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if tt.wantSame && got != tt.err { //nolint:errorlint // identity is the point
				t.Errorf("ToStatus returned %v, want the same error back", got)
			}
			if tt.wantCause != nil {
				if !errors.Is(internalCause(got), tt.wantCause) {
					t.Errorf("cause = %v, want %v", internalCause(got), tt.wantCause)
				}
				if got.Error() != "rpc error: code = Internal desc = internal error" {
					t.Errorf("Error() = %q leaks the cause", got.Error())
				}
			}
			if again := ToStatus(got); again != got { //nolint:errorlint // identity is the point
				t.Errorf("ToStatus is not idempotent: %v then %v", got, again)
			}
		})
	}
}
