package profile

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
)

// Service carries out what users ask of the vendor registry and enforces
// who may do it. Every method takes the caller from the context
// (identity.FromContext).
//
// Access rules:
//   - Anyone, even without a token, reads vendor profiles (Get, List).
//   - A member of a vendor organisation (role vendor) creates the vendor
//     whose id is its organisation id, "vendors/{org}", and edits and
//     deletes only that one.
//   - Venture-client units (role venture_unit) create vendors singly or in
//     batches (import). Their organisation becomes the vendor's owner, and
//     its venture-unit members may edit and delete the vendor until the
//     vendor's own organisation first edits it: that edit claims the vendor
//     and makes the vendor's organisation its owner.
//   - Admins do everything, and only they verify vendors.
//   - Buyers read only.
type Service struct {
	store Store
	now   func() time.Time
}

// Option changes a Service; tests use it to fix the clock.
type Option func(*Service)

// WithClock makes the service read time from now.
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// NewService returns a Service on store.
func NewService(store Store, opts ...Option) *Service {
	s := &Service{store: store, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// clock returns the current time at the precision stores keep, so that
// what a write returns equals what a later read returns.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// validID accepts organisation ids, which include the UUIDs the service
// generates: a vendor's id is its organisation's id when it registered
// itself.
func validID(id string) bool { return identity.ValidOrgID(id) == nil }

// Get returns a vendor. Profiles are public.
func (s *Service) Get(ctx context.Context, id string) (*Vendor, error) {
	if !validID(id) {
		return nil, errdefs.Invalid("name", "must be vendors/{id} with a valid id")
	}
	return s.store.Get(ctx, id)
}

// CreateRequest is one vendor to create.
type CreateRequest struct {
	Fields Fields
	// ID is optional; see CreateVendorRequest.vendor_id in the API.
	ID string
	// ExternalID is the optional idempotency key of an import.
	ExternalID string
}

// Create creates one vendor. When req.ExternalID belongs to a vendor
// already, that vendor is returned instead.
func (s *Service) Create(ctx context.Context, req CreateRequest) (*Vendor, error) {
	vs, err := s.create(ctx, []CreateRequest{req}, false)
	if err != nil {
		return nil, err
	}
	return vs[0], nil
}

// BatchCreate creates up to MaxBatch vendors, all or nothing. Violations
// name the request: "requests[17].vendor.cpv_codes[0]". A request whose
// ExternalID was imported before yields the existing vendor, so a failed
// import can be sent again as it was.
func (s *Service) BatchCreate(ctx context.Context, reqs []CreateRequest) ([]*Vendor, error) {
	return s.create(ctx, reqs, true)
}

// prepare checks the caller's rights and every request of a create,
// returning the requests with filled-in ids and their normalised fields.
func (s *Service) prepare(ctx context.Context, reqs []CreateRequest, batch bool) ([]CreateRequest, []Fields, error) {
	p := identity.FromContext(ctx)
	if err := requireAuthenticated(p); err != nil {
		return nil, nil, err
	}
	importer := p.IsAdmin() || p.Has(identity.RoleVentureUnit) && p.Org != ""
	self := !importer && p.Has(identity.RoleVendor) && p.Org != ""
	switch {
	case batch && !importer:
		return nil, nil, errdefs.PermissionDenied("only venture-client units and admins may import vendors")
	case !importer && !self:
		return nil, nil, errdefs.PermissionDenied("only vendor organisations, venture-client units and admins may create vendors")
	}

	reqs = slices.Clone(reqs) // ids are filled in below
	var v errdefs.Violations
	switch {
	case batch && len(reqs) == 0:
		v.Add("requests", "must hold at least one request")
	case len(reqs) > MaxBatch:
		v.Add("requests", "at most %d requests per call, got %d", MaxBatch, len(reqs))
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}
	year := s.clock().Year()
	ids := make(map[string]int, len(reqs))
	externalIDs := make(map[string]int, len(reqs))
	fields := make([]Fields, len(reqs))
	for i, r := range reqs {
		prefix := ""
		if batch {
			prefix = "requests[" + strconv.Itoa(i) + "]."
		}
		if self {
			switch r.ID {
			case "":
				r.ID, reqs[i].ID = p.Org, p.Org
			case p.Org:
			default:
				return nil, nil, errdefs.PermissionDenied("organisation %q may only create vendors/%s, not vendors/%s", p.Org, p.Org, r.ID)
			}
		}
		if r.ID != "" {
			if !validID(r.ID) {
				v.Add(prefix+"vendor_id", "must be 2 to 63 characters of a-z, 0-9 and '-', not starting with '-'")
			} else if j, dup := ids[r.ID]; dup {
				v.Add(prefix+"vendor_id", "repeats the vendor_id of requests[%d]", j)
			}
			ids[r.ID] = i
		}
		if r.ExternalID != "" {
			if !validExternalID(r.ExternalID) {
				v.Add(prefix+"external_id", "must be 1 to %d printable ASCII characters without spaces", MaxExternalIDLen)
			} else if j, dup := externalIDs[r.ExternalID]; dup {
				v.Add(prefix+"external_id", "repeats the external_id of requests[%d]", j)
			}
			externalIDs[r.ExternalID] = i
		}
		fields[i] = r.Fields.Clone()
		normalize(&fields[i], UpdatableFields, year, prefix, &v)
	}
	if err := v.Err(); err != nil {
		return nil, nil, err
	}

	return reqs, fields, nil
}

// ValidateBatch checks a batch exactly as BatchCreate does, without
// writing anything, so that an importer can check a whole file before it
// writes its first batch. Conflicts with vendors that exist are found only
// by BatchCreate.
func (s *Service) ValidateBatch(ctx context.Context, reqs []CreateRequest) error {
	_, _, err := s.prepare(ctx, reqs, true)
	return err
}

func (s *Service) create(ctx context.Context, reqs []CreateRequest, batch bool) ([]*Vendor, error) {
	p := identity.FromContext(ctx)
	reqs, fields, err := s.prepare(ctx, reqs, batch)
	if err != nil {
		return nil, err
	}
	now := s.clock()
	vendors := make([]*Vendor, len(reqs))
	for i, r := range reqs {
		id := r.ID
		if id == "" {
			u, err := uuid.NewV7()
			if err != nil {
				return nil, fmt.Errorf("new vendor id: %w", err)
			}
			id = u.String()
		}
		vendors[i] = &Vendor{
			ID:           id,
			Fields:       fields[i],
			ExternalID:   r.ExternalID,
			OwnerOrg:     p.Org,
			Verification: Unverified,
			CreateTime:   now,
			UpdateTime:   now,
			Revision:     1,
		}
	}
	return s.store.Create(ctx, vendors, func(i int, old *Vendor) error {
		// The import ran before: the existing vendor stands for this
		// request, unless the request names another vendor.
		if id := reqs[i].ID; id != "" && id != old.ID {
			field := "external_id"
			if batch {
				field = "requests[" + strconv.Itoa(i) + "].external_id"
			}
			return errdefs.AlreadyExists("%s %q belongs to vendors/%s already, not to vendors/%s", field, old.ExternalID, old.ID, id)
		}
		return nil
	})
}

// Update changes the named fields of a vendor the caller may edit. The
// first edit by the vendor's own organisation claims the vendor: the
// organisation becomes its owner. An edit by anyone but an admin that
// changes an attested field (AttestedFields) of a Verified vendor makes it
// Unverified again.
func (s *Service) Update(ctx context.Context, id string, f Fields, mask []string, etag string) (*Vendor, error) {
	p := identity.FromContext(ctx)
	if err := requireEditor(p); err != nil {
		return nil, err
	}
	var v errdefs.Violations
	if !validID(id) {
		v.Add("vendor.name", "must be vendors/{id} with a valid id")
	}
	if len(mask) == 0 {
		v.Add("update_mask", "must name at least one field")
	}
	for i, m := range mask {
		if !slices.Contains(UpdatableFields, m) {
			v.Add(indexed("update_mask.paths", i), "%q is not an updatable field", m)
		}
	}
	if v.Len() > 0 {
		return nil, v.Err()
	}
	f = f.Clone()
	normalize(&f, mask, s.clock().Year(), "", &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.Update(ctx, id, func(vd *Vendor) error {
		if err := authorizeEditor(p, vd, etag); err != nil {
			return err
		}
		before := vd.Fields.Clone()
		for _, m := range mask {
			switch m {
			case FieldDisplayName:
				vd.DisplayName = f.DisplayName
			case FieldKind:
				vd.Kind = f.Kind
			case FieldFoundingYear:
				vd.FoundingYear = f.FoundingYear
			case FieldSizeBand:
				vd.SizeBand = f.SizeBand
			case FieldHeadquarters:
				vd.Headquarters = f.Headquarters
			case FieldRegionsServed:
				vd.RegionsServed = f.RegionsServed
			case FieldNationwide:
				vd.Nationwide = f.Nationwide
			case FieldRemote:
				vd.Remote = f.Remote
			case FieldLanguages:
				vd.Languages = f.Languages
			case FieldWebsite:
				vd.Website = f.Website
			case FieldDescription:
				vd.Description = f.Description
			case FieldCapabilities:
				vd.Capabilities = f.Capabilities
			case FieldCPVCodes:
				vd.CPVCodes = f.CPVCodes
			case FieldProducts:
				vd.Products = f.Products
			case FieldReferences:
				vd.References = f.References
			case FieldCertifications:
				vd.Certifications = f.Certifications
			}
		}
		if isSelf(p, vd) {
			vd.OwnerOrg = p.Org // the vendor claims its profile
		}
		if !p.IsAdmin() {
			// An admin's own edit is checked by the one who checks.
			resetVerification(vd, before)
		}
		s.touch(vd)
		return nil
	})
}

// Delete removes a vendor the caller may edit.
func (s *Service) Delete(ctx context.Context, id, etag string) error {
	p := identity.FromContext(ctx)
	if err := requireEditor(p); err != nil {
		return err
	}
	if !validID(id) {
		return errdefs.Invalid("name", "must be vendors/{id} with a valid id")
	}
	return s.store.Delete(ctx, id, func(vd *Vendor) error { return authorizeEditor(p, vd, etag) })
}

// Verify records an admin's check of a vendor: Verified or Rejected, with a
// note that a rejection needs.
func (s *Service) Verify(ctx context.Context, id string, status Verification, note, etag string) (*Vendor, error) {
	p := identity.FromContext(ctx)
	if err := requireAuthenticated(p); err != nil {
		return nil, err
	}
	if !p.IsAdmin() {
		return nil, errdefs.PermissionDenied("only admins may verify vendors")
	}
	var v errdefs.Violations
	if !validID(id) {
		v.Add("name", "must be vendors/{id} with a valid id")
	}
	if status != Verified && status != Rejected {
		v.Add("status", "must be VERIFICATION_STATUS_VERIFIED or VERIFICATION_STATUS_REJECTED")
	}
	note = strings.TrimSpace(note)
	checkText(&v, "note", note, MaxNoteLen, status == Rejected)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.Update(ctx, id, func(vd *Vendor) error {
		if err := checkETag(vd, etag); err != nil {
			return err
		}
		now := s.clock()
		vd.Verification, vd.VerificationNote, vd.VerifyTime = status, note, now
		s.touch(vd)
		return nil
	})
}

// touch marks a successful change.
func (s *Service) touch(v *Vendor) {
	v.Revision++
	v.UpdateTime = s.clock()
}

// isSelf reports whether p is a member of the vendor's own organisation.
func isSelf(p identity.Principal, v *Vendor) bool {
	return p.Has(identity.RoleVendor) && p.Org != "" && p.Org == v.ID
}

// canEdit says who may change a vendor: admins, the vendor's own
// organisation, and members of the owning organisation with a writing
// role (the venture-client unit that imported it, until the vendor claims
// it).
func canEdit(p identity.Principal, v *Vendor) bool {
	if p.IsAdmin() || isSelf(p, v) {
		return true
	}
	// A venture unit edits the vendors it imported until they claim them;
	// a vendor user edits only its own vendor (isSelf), never one that its
	// organisation happens to own otherwise.
	return p.Org != "" && p.Org == v.OwnerOrg && p.Has(identity.RoleVentureUnit)
}

func authorizeEditor(p identity.Principal, v *Vendor, etag string) error {
	if !canEdit(p, v) {
		return errdefs.PermissionDenied("organisation %q may not change vendor %q", p.Org, "vendors/"+v.ID)
	}
	return checkETag(v, etag)
}

func checkETag(v *Vendor, etag string) error {
	if etag != "" && etag != v.ETag() {
		return errdefs.Aborted("vendor %q was changed since etag %q was read; the current etag is %q", "vendors/"+v.ID, etag, v.ETag())
	}
	return nil
}

func requireAuthenticated(p identity.Principal) error {
	if !p.Authenticated() {
		return errdefs.Unauthenticated("this call needs a bearer token")
	}
	return nil
}

// requireEditor rejects callers who can edit no vendor at all before the
// store is asked.
func requireEditor(p identity.Principal) error {
	if err := requireAuthenticated(p); err != nil {
		return err
	}
	if !p.IsAdmin() && (p.Org == "" || !p.Has(identity.RoleVendor) && !p.Has(identity.RoleVentureUnit)) {
		return errdefs.PermissionDenied("only vendor organisations, venture-client units and admins may change vendors")
	}
	return nil
}
