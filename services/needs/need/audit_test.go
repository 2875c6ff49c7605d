package need

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/identity"
)

func auditFixture(state State, response ResponseState) *memStore {
	m := newMemStore()
	m.needs["need-1"] = &Need{ID: "need-1", OwnerOrg: "stadt-giessen", State: state}
	m.responses[[2]string{"need-1", "civic-startup"}] = &Response{NeedID: "need-1", Vendor: "civic-startup", State: response}
	m.responses[[2]string{"need-1", "other-vendor"}] = &Response{NeedID: "need-1", Vendor: "other-vendor", State: ResponseSubmitted}
	for i, r := range []string{"needs/need-1", "needs/need-1", "needs/need-1/responses/civic-startup", "needs/need-1/responses/other-vendor"} {
		m.trail = append(m.trail, audit.Entry{
			Resource: r, Seq: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Minute),
			Actor:   audit.Actor{Subject: "someone", Organization: "x"},
			Changes: []audit.Change{{Field: "summary", After: json.RawMessage(`"Preis 45.000 EUR"`)}},
		})
	}
	return m
}

// TestAuditTrailAccess: who reads which part of a need's trail.
func TestAuditTrailAccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		p        identity.Principal
		state    State
		response ResponseState
		parent   string
		// want lists per entry "resource subject values" or the error kind.
		want []string
	}{
		{name: "anonymous", p: anonymous, state: StatePublished, parent: "need-1", want: []string{"!this call needs a bearer token"}},
		{name: "another buyer's draft does not exist", p: marburg, state: StateDraft, parent: "need-1", want: []string{`!need "needs/need-1" not found`}},
		{name: "owner sees all of a submitted response", p: giessen, state: StatePublished, response: ResponseSubmitted, parent: "need-1", want: []string{
			"needs/need-1 someone values", "needs/need-1 someone values", "needs/need-1/responses/civic-startup someone values", "needs/need-1/responses/other-vendor someone values"}},
		{name: "owner no longer reads a withdrawn response", p: giessen, state: StatePublished, response: ResponseWithdrawn, parent: "need-1", want: []string{
			"needs/need-1 someone values", "needs/need-1 someone values", "needs/need-1/responses/civic-startup someone redacted", "needs/need-1/responses/other-vendor someone values"}},
		{name: "a vendor reads the trail of its own response, nothing of another's", p: vendor, state: StatePublished, response: ResponseWithdrawn, parent: "need-1", want: []string{
			"needs/need-1/responses/civic-startup someone values"}},
		{name: "a draft does not exist for a vendor", p: vendor, state: StateDraft, parent: "need-1", want: []string{`!need "needs/need-1" not found`}},
		{name: "another buyer of a published need is refused", p: marburg, state: StatePublished, response: ResponseSubmitted, parent: "need-1", want: []string{
			"!a need's audit trail is for its buyers; a vendor reads that of its own response"}},
		{name: "every need is for admins", p: giessen, state: StatePublished, parent: "-", want: []string{`!only admins read the audit trail of every need ("needs/-")`}},
		{name: "admin across needs", p: admin, state: StateDraft, response: ResponseWithdrawn, parent: "-", want: []string{
			"needs/need-1 someone values", "needs/need-1 someone values", "needs/need-1/responses/civic-startup someone values", "needs/need-1/responses/other-vendor someone values"}},
		{name: "bad parent", p: admin, parent: "x/y", want: []string{"parent"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := NewService(auditFixture(tt.state, tt.response))
			es, _, err := s.AuditTrail(as(tt.p), tt.parent, 0, "")
			got := fieldsOf(err)
			for _, e := range es {
				subject, values := e.Actor.Subject, "values"
				if subject == "" {
					subject = "-"
				}
				if e.Changes[0].Redacted || e.Changes[0].After != nil && string(e.Changes[0].After) == "" {
					values = "redacted"
				}
				if e.Changes[0].Redacted != (e.Changes[0].After == nil) {
					t.Errorf("%s: redacted %v with value %s", e.Resource, e.Changes[0].Redacted, e.Changes[0].After)
				}
				got = append(got, fmt.Sprintf("%s %s %s", e.Resource, subject, values))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("AuditTrail (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuditTrailPages: pages follow each other and a token is bound to
// its parent.
func TestAuditTrailPages(t *testing.T) {
	t.Parallel()
	m := auditFixture(StatePublished, ResponseSubmitted)
	m.needs["need-2"] = &Need{ID: "need-2", OwnerOrg: "stadt-giessen", State: StatePublished}
	s := NewService(m)
	ctx := as(giessen)
	var seen []string
	token := ""
	for range 3 {
		es, next, err := s.AuditTrail(ctx, "need-1", 3, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			seen = append(seen, fmt.Sprintf("%s#%d", e.Resource, e.Seq))
		}
		if token = next; token == "" {
			break
		}
		if _, _, err := s.AuditTrail(ctx, "need-2", 3, token); fmt.Sprint(fieldsOf(err)) != "[page_token]" {
			t.Errorf("n1's token for n2: %v", err)
		}
	}
	want := []string{"needs/need-1#1", "needs/need-1#2", "needs/need-1/responses/civic-startup#3", "needs/need-1/responses/other-vendor#4"}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	for _, size := range []int{-1, MaxAuditPageSize + 1} {
		if _, _, err := s.AuditTrail(ctx, "need-1", size, ""); fmt.Sprint(fieldsOf(err)) != "[page_size]" {
			t.Errorf("page size %d: %v", size, err)
		}
	}
}
