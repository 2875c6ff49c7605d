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
// first, or with needID "-" of every need (admins only). The trail is the
// procedure's record (the Vergabevermerk) and names every vendor that
// responded, so only the need's buyers and admins read it whole; a vendor
// reads the trail of its own response and nothing of its competitors';
// everybody else is refused (or told the need does not exist, where it is
// a draft they may not see). A response's values the buyers see only
// while it is submitted, as GetResponse shows them.
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
		switch {
		case !canSee(p, n):
			return nil, "", NotFound(needID)
		case p.IsAdmin() || isBuyerOf(p, n):
		case p.Has(identity.RoleVendor):
			q = audit.Query{Resource: ResponseName(needID, p.Org)}
		default:
			return nil, "", errdefs.PermissionDenied("a need's audit trail is for its buyers; a vendor reads that of its own response")
		}
	}
	// The token is bound to what the caller may read, so that one caller's
	// token does not page through another's view.
	es, next, err := audit.ReadPage(ctx, s.store.AuditTrail, q, q.Resource, pageSize, pageToken)
	if err != nil || p.IsAdmin() || !isBuyerOf(p, n) {
		return es, next, err
	}
	readable := map[string]bool{}
	for i := range es {
		e := &es[i]
		vendor, ok := strings.CutPrefix(e.Resource, ResponseName(n.ID, ""))
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
