// Package identity defines who is acting in govmatch: the authenticated
// principal, its roles and its organisation. It is transport-agnostic (no
// gRPC, no HTTP) so that domain code can depend on it; the auth package fills
// it in from bearer tokens.
package identity

import (
	"context"
	"fmt"
	"slices"
)

// Role is a govmatch authorisation role, as carried in the identity
// provider's realm roles.
type Role string

// The roles govmatch knows about. Any other role in a token is ignored.
const (
	RoleBuyer       Role = "buyer"        // public-sector buyer (a municipality, a Land authority, ...)
	RoleVendor      Role = "vendor"       // start-up offering solutions
	RoleVentureUnit Role = "venture_unit" // public-sector innovation / venture unit
	RoleAdmin       Role = "admin"        // govmatch operator
)

// knownRoles is the canonical order used when normalising role lists.
var knownRoles = [...]Role{RoleBuyer, RoleVendor, RoleVentureUnit, RoleAdmin}

// ParseRole returns the Role named s. Matching is exact (role names are
// case-sensitive in Keycloak); unknown names are an error.
func ParseRole(s string) (Role, error) {
	for _, r := range knownRoles {
		if string(r) == s {
			return r, nil
		}
	}
	if len(s) > 64 {
		return "", fmt.Errorf("identity: unknown role (%d bytes)", len(s))
	}
	return "", fmt.Errorf("identity: unknown role %q", s)
}

// Principal is the caller of an operation. The zero value is the anonymous
// principal.
type Principal struct {
	// Subject is the identity provider's stable user id (the token's "sub").
	Subject string
	// Org is the organisation id (a slug such as "stadt-giessen"). It may be
	// empty for admins.
	Org string
	// Roles are the caller's govmatch roles.
	Roles []Role
}

// Authenticated reports whether p is a signed-in caller rather than the
// anonymous principal.
func (p Principal) Authenticated() bool { return p.Subject != "" }

// Has reports whether p is authenticated and holds role r.
func (p Principal) Has(r Role) bool {
	return p.Authenticated() && slices.Contains(p.Roles, r)
}

// IsAdmin reports whether p holds the admin role.
func (p Principal) IsAdmin() bool { return p.Has(RoleAdmin) }

type ctxKey struct{}

// NewContext returns a copy of ctx carrying p. The roles are copied, so later
// changes to p.Roles do not affect the context.
func NewContext(ctx context.Context, p Principal) context.Context {
	p.Roles = slices.Clone(p.Roles)
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal stored in ctx by NewContext, or the
// anonymous (zero) Principal if there is none. The returned Roles slice is a
// copy and may be modified freely.
func FromContext(ctx context.Context) Principal {
	p, _ := ctx.Value(ctxKey{}).(Principal)
	p.Roles = slices.Clone(p.Roles)
	return p
}

// maxOrgIDLen is the maximum length of an organisation id.
const maxOrgIDLen = 63

// ValidOrgID reports whether s is a well-formed organisation id: a slug
// matching ^[a-z0-9][a-z0-9-]{1,62}$.
func ValidOrgID(s string) error {
	switch {
	case len(s) < 2:
		return fmt.Errorf("identity: invalid organisation id %q: must be 2 to %d characters", s, maxOrgIDLen)
	case len(s) > maxOrgIDLen:
		return fmt.Errorf("identity: invalid organisation id: %d characters, at most %d allowed", len(s), maxOrgIDLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && i > 0:
		default:
			return fmt.Errorf("identity: invalid organisation id %q: must match ^[a-z0-9][a-z0-9-]{1,62}$", s)
		}
	}
	return nil
}
