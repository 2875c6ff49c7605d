package need

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
)

var (
	otherVendor = identity.Principal{Subject: "d@other", Org: "other-startup", Roles: []identity.Role{identity.RoleVendor}}
	answer      = ResponseFields{Summary: "Wir haben das in Marburg gebaut.", IndicativePriceEUR: 30000, ContactEmail: "team@startup.example"}
)

// clockedService returns a service whose clock the test moves.
func clockedService(t *testing.T) (*Service, *time.Time) {
	t.Helper()
	now := t0
	return NewService(newMemStore(), WithClock(func() time.Time { return now })), &now
}

func TestResponseRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		state    State
		caller   identity.Principal
		late     bool // after the deadline
		prepare  func(context.Context, *Service, string) error
		action   func(context.Context, *Service, string) error
		wantKind error
		wantMsg  string
	}{
		{name: "vendor responds before deadline", state: StatePublished, caller: vendor, action: submit},
		{name: "response after deadline", state: StatePublished, caller: vendor, late: true, action: submit,
			wantKind: errdefs.ErrFailedPrecondition, wantMsg: "passed at 2026-11-23T11:00:00Z"},
		{name: "buyer cannot respond", state: StatePublished, caller: marburg, action: submit, wantKind: errdefs.ErrPermissionDenied},
		{name: "anonymous cannot respond", state: StatePublished, caller: anonymous, action: submit, wantKind: errdefs.ErrUnauthenticated},
		{name: "no response to a draft", state: StateDraft, caller: vendor, action: submit, wantKind: errdefs.ErrNotFound},
		{name: "no response in procurement", state: StateInProcurement, caller: vendor, action: submit, wantKind: errdefs.ErrFailedPrecondition},
		{name: "one response per vendor", state: StatePublished, caller: vendor, prepare: submit, action: submit, wantKind: errdefs.ErrAlreadyExists},
		{name: "edit before deadline", state: StatePublished, caller: vendor, prepare: submit, action: editOwn},
		{name: "edit after deadline", state: StatePublished, caller: vendor, prepare: submit, late: true, action: editOwn, wantKind: errdefs.ErrFailedPrecondition},
		{name: "withdraw after deadline", state: StatePublished, caller: vendor, prepare: submit, late: true, action: withdrawOwn},
		{name: "resubmit after withdraw", state: StatePublished, caller: vendor, prepare: func(ctx context.Context, s *Service, id string) error {
			if err := submit(ctx, s, id); err != nil {
				return err
			}
			return withdrawOwn(ctx, s, id)
		}, action: submit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, now := clockedService(t)
			id := bringTo(t, svc, tc.state) // deadline t0+1h
			if tc.prepare != nil {
				if err := tc.prepare(as(tc.caller), svc, id); err != nil {
					t.Fatalf("prepare: %v", err)
				}
			}
			if tc.late {
				*now = t0.Add(time.Hour)
			}
			err := tc.action(as(tc.caller), svc, id)
			switch {
			case tc.wantKind == nil && err != nil:
				t.Fatalf("want success, got %v", err)
			case tc.wantKind != nil && !errors.Is(err, tc.wantKind):
				t.Fatalf("want %v, got %v", tc.wantKind, err)
			case tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg):
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
		})
	}
}

func submit(ctx context.Context, s *Service, id string) error {
	_, err := s.SubmitResponse(ctx, id, answer)
	return err
}

func editOwn(ctx context.Context, s *Service, id string) error {
	p := identity.FromContext(ctx)
	_, err := s.UpdateResponse(ctx, id, p.Org, ResponseFields{Summary: "Neu"}, []string{FieldSummary}, "")
	return err
}

func withdrawOwn(ctx context.Context, s *Service, id string) error {
	p := identity.FromContext(ctx)
	_, err := s.WithdrawResponse(ctx, id, p.Org, "")
	return err
}

func TestResponseVisibility(t *testing.T) {
	t.Parallel()
	svc, _ := clockedService(t)
	id := bringTo(t, svc, StatePublished)
	if _, err := svc.Join(as(marburg), id); err != nil {
		t.Fatal(err)
	}
	if err := submit(as(vendor), svc, id); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		caller   identity.Principal
		wantKind error
	}{
		{"own vendor", vendor, nil},
		{"owner buyer", giessen, nil},
		{"co-buyer", marburg, nil},
		{"admin", admin, nil},
		{"other vendor", otherVendor, errdefs.ErrPermissionDenied},
		{"anonymous", anonymous, errdefs.ErrUnauthenticated},
	} {
		_, err := svc.GetResponse(as(tc.caller), id, vendor.Org)
		if (tc.wantKind == nil) != (err == nil) || (tc.wantKind != nil && !errors.Is(err, tc.wantKind)) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.wantKind)
		}
	}
	if _, err := svc.UpdateResponse(as(otherVendor), id, vendor.Org, answer, []string{FieldSummary}, ""); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Errorf("other vendor edits: got %v, want PermissionDenied", err)
	}
}

func TestResponseValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		in         ResponseFields
		wantFields []string
	}{
		{"valid", answer, nil},
		{"empty summary", ResponseFields{Summary: " "}, []string{"response.summary"}},
		{"long summary", ResponseFields{Summary: strings.Repeat("x", MaxSummaryLen+1)}, []string{"response.summary"}},
		{"negative price", ResponseFields{Summary: "x", IndicativePriceEUR: -1}, []string{"response.indicative_price_eur"}},
		{"bad email", ResponseFields{Summary: "x", ContactEmail: "Team <team@x.example>"}, []string{"response.contact_email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc, _ := clockedService(t)
			id := bringTo(t, svc, StatePublished)
			_, err := svc.SubmitResponse(as(vendor), id, tc.in)
			if diff := cmp.Diff(tc.wantFields, fieldsOf(err)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}
