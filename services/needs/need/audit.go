package need

import (
	"context"
	"strings"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
)

// MaxAuditPageSize bounds a page of audit entries.
const MaxAuditPageSize = audit.MaxPageSize

// AuditTrail lists the audit trail of a need and its responses, oldest
// first, or with needID "-" of every need (admins only). Who may see the
// need sees its trail, the signed-in callers; the subject (the user behind
// a change) only its buyers and admins see, and a response's values only
// those who may read the response: its vendor, admins, and the need's
// buyers while it is submitted. Other callers see that a response field
// changed, not to what.
func (s *Service) AuditTrail(ctx context.Context, needID string, pageSize int, pageToken string) ([]audit.Entry, string, error) {
	p := identity.FromContext(ctx)
	if err := requireAuthenticated(p); err != nil {
		return nil, "", err
	}
	if needID != "-" && !validID(needID) {
		return nil, "", errdefs.Invalid("parent", `must be needs/{id} or "needs/-"`)
	}
	q := audit.Query{Resource: "needs/" + needID, Children: true}
	var n *Need
	if needID == "-" {
		if !p.IsAdmin() {
			return nil, "", errdefs.PermissionDenied(`only admins read the audit trail of every need ("needs/-")`)
		}
		q.Resource = "needs"
	} else {
		var err error
		if n, err = s.store.Get(ctx, needID); err != nil {
			return nil, "", err
		}
		if !canSee(p, n) {
			return nil, "", notFound(needID)
		}
	}
	es, next, err := audit.ReadPage(ctx, s.store.AuditTrail, q, needID, pageSize, pageToken)
	if err != nil {
		return nil, "", err
	}
	if p.IsAdmin() {
		return es, next, nil
	}
	// n is set: only admins list across needs.
	readable := map[string]bool{}
	for i := range es {
		e := &es[i]
		if !isBuyerOf(p, n) {
			e.Actor.Subject = ""
		}
		vendor, ok := strings.CutPrefix(e.Resource, "needs/"+n.ID+"/responses/")
		if !ok {
			continue
		}
		may, seen := readable[vendor]
		if !seen {
			may = s.mayReadResponse(ctx, p, n, vendor)
			readable[vendor] = may
		}
		if !may {
			e.Redact()
		}
	}
	return es, next, nil
}

// mayReadResponse applies GetResponse's rule to the response as it is now;
// a response that is gone (or unreadable for an outage) is shown to its
// vendor only.
func (s *Service) mayReadResponse(ctx context.Context, p identity.Principal, n *Need, vendor string) bool {
	if p.Has(identity.RoleVendor) && p.Org == vendor {
		return true
	}
	if !isBuyerOf(p, n) {
		return false
	}
	r, err := s.store.GetResponse(ctx, n.ID, vendor)
	return err == nil && r.State == ResponseSubmitted
}
