package profile

import (
	"context"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
)

// AuditTrail lists the audit trail of a vendor, oldest first, or with id
// "-" of every vendor (admins only). A profile is public, its history is
// not: it names the users who edited it and what a verification found, so
// only those who may edit the vendor read it.
func (s *Service) AuditTrail(ctx context.Context, id string, pageSize int, pageToken string) ([]audit.Entry, string, error) {
	p := identity.FromContext(ctx)
	if err := requireAuthenticated(p); err != nil {
		return nil, "", err
	}
	q := audit.Query{Resource: "vendors/" + id}
	switch {
	case id == "-":
		if !p.IsAdmin() {
			return nil, "", errdefs.PermissionDenied(`only admins read the audit trail of every vendor ("vendors/-")`)
		}
		q = audit.Query{Resource: "vendors", Children: true}
	case !validID(id):
		return nil, "", errdefs.Invalid("parent", `must be vendors/{id} or "vendors/-"`)
	default:
		v, err := s.store.Get(ctx, id)
		if err != nil {
			return nil, "", err
		}
		if !canEdit(p, v) {
			return nil, "", errdefs.PermissionDenied("the audit trail of vendor %q is for its own organisation and admins", "vendors/"+id)
		}
	}
	return audit.ReadPage(ctx, s.store.AuditTrail, q, id, pageSize, pageToken)
}
