package need

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
)

// Service carries out what users ask of the needs registry and enforces
// who may do it. Every method takes the caller from the context
// (identity.FromContext).
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

// needIDPattern is what a chosen need id looks like: the owner's
// organisation id, a dot, and a slug ("stadt-giessen.terminbuchung").
// Organisation ids hold no dot, so the owner's part is unambiguous: no
// organisation can choose an id inside another's ("stadt" is no prefix of
// "stadt-giessen.x").
var needIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}\.[a-z0-9][a-z0-9-]{0,62}$`)

// legacyIDPattern is what chosen ids looked like before they carried
// their organisation; needs created so stay readable.
var legacyIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{2,62}$`)

// validID accepts the ids the service generates (UUIDs) and the ones
// callers choose (need_id), now and before.
func validID(id string) bool {
	if needIDPattern.MatchString(id) || legacyIDPattern.MatchString(id) {
		return true
	}
	_, err := uuid.Parse(id)
	return err == nil && len(id) == 36
}

// Get returns a need the caller may see. Drafts of other organisations
// are reported as not found, so their existence does not leak.
func (s *Service) Get(ctx context.Context, id string) (*Need, error) {
	if !validID(id) {
		return nil, errdefs.Invalid("name", "must be needs/{id} with a valid id")
	}
	n, err := s.store.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !canSee(identity.FromContext(ctx), n) {
		return nil, NotFound(id)
	}
	return n, nil
}

// NotFound is the error for a need that does not exist, or that the caller
// may not see: one message for both, from the service and every store, so
// that the answers cannot be told apart.
func NotFound(id string) error { return errdefs.NotFound("need %q not found", "needs/"+id) }

func canSee(p identity.Principal, n *Need) bool {
	return n.State != StateDraft || p.IsAdmin() || (p.Org != "" && p.Org == n.OwnerOrg)
}

// Create stores a new draft owned by the caller's buyer organisation. id is
// optional; when empty a UUID is generated.
//
// A chosen id that is taken fails with ErrAlreadyExists, with the same
// message whoever holds it and in whatever state. That is still an answer a
// free id does not get, so in one namespace shared by all organisations it
// tells a buyer that a need it cannot read (another organisation's draft:
// Get says not found) holds the id, and chosen ids are meaningful words.
// No answer can hide that while the create of a free id succeeds; only
// keeping organisations out of each other's ids can: a chosen id begins
// with the caller's organisation id and a dot ("stadt-giessen.terminbuchung",
// see needIDPattern), so every id a caller may choose is its own
// organisation's, and a collision reveals only a need its members can read.
// Responses need no such rule (their id is the caller's own vendor), nor do
// vendors (profiles are public).
func (s *Service) Create(ctx context.Context, f Fields, id string) (*Need, error) {
	p := identity.FromContext(ctx)
	if err := requireBuyer(p); err != nil {
		return nil, err
	}
	var v errdefs.Violations
	switch {
	case id == "":
	case !needIDPattern.MatchString(id) || !strings.HasPrefix(id, p.Org+"."):
		v.Add("need_id", "must be your organisation's id, a dot and up to 63 characters of a-z, 0-9 and '-': %q", p.Org+".terminbuchung")
	}
	if !f.ResponseDeadline.IsZero() {
		v.Add(fieldPrefix+FieldResponseDeadline, "is set by PublishNeed, not on create")
	}
	f = f.Clone() // normalize rewrites lists in place; the caller's stay its own
	normalize(&f, UpdatableFields, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("new need id: %w", err)
		}
		id = u.String()
	}
	now := s.clock()
	n := &Need{
		ID:         id,
		Fields:     f,
		OwnerOrg:   p.Org,
		State:      StateDraft,
		CreateTime: now,
		UpdateTime: now,
		Revision:   1,
	}
	if err := s.store.Create(ctx, n); err != nil {
		return nil, err
	}
	return n, nil
}

// Update changes the named fields of a need owned by the caller's
// organisation. Drafts and published needs can be edited; later states are
// a public record and read-only. The response deadline changes only while
// the need is published; a named deadline equal to the current one is no
// change and accepted in any editable state, so that a mask of every field
// ("*") works on a draft too.
func (s *Service) Update(ctx context.Context, id string, f Fields, mask []string, etag string) (*Need, error) {
	p := identity.FromContext(ctx)
	if err := requireAuthenticated(p); err != nil {
		return nil, err
	}
	var v errdefs.Violations
	if !validID(id) {
		v.Add("need.name", "must be needs/{id} with a valid id")
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
	normalize(&f, mask, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.Update(ctx, id, func(n *Need) error {
		if err := s.authorizeOwner(p, n, etag); err != nil {
			return err
		}
		if n.State != StateDraft && n.State != StatePublished {
			return errdefs.FailedPrecondition("need %q is %s and can no longer be edited", "needs/"+id, n.State)
		}
		var v errdefs.Violations
		for _, m := range mask {
			switch m {
			case FieldTitle:
				n.Title = f.Title
			case FieldProblemStatement:
				n.ProblemStatement = f.ProblemStatement
			case FieldDesiredOutcomes:
				n.DesiredOutcomes = f.DesiredOutcomes
			case FieldCPVCodes:
				n.CPVCodes = f.CPVCodes
			case FieldPlaces:
				n.Places = f.Places
			case FieldRemotePossible:
				n.RemotePossible = f.RemotePossible
			case FieldBudget:
				n.BudgetMinEUR, n.BudgetMaxEUR = f.BudgetMinEUR, f.BudgetMaxEUR
			case FieldTimeline:
				n.StartDate, n.EndDate = f.StartDate, f.EndDate
			case FieldCertifications:
				n.Certifications = f.Certifications
			case FieldOpenSourceRequired:
				n.OpenSourceRequired = f.OpenSourceRequired
			case FieldRequirements:
				n.Requirements = f.Requirements
			case FieldResponseDeadline:
				deadline := f.ResponseDeadline.UTC().Truncate(time.Microsecond)
				if deadline.Equal(n.ResponseDeadline) {
					// Sent back as it is, as "*" does with a draft's
					// (unset) deadline or a passed one: nothing changes,
					// so there is nothing the state could forbid.
					continue
				}
				if n.State != StatePublished {
					v.Add(fieldPrefix+FieldResponseDeadline, "can only be changed while the need is published; use PublishNeed")
					continue
				}
				checkDeadline(&v, fieldPrefix+FieldResponseDeadline, f.ResponseDeadline, s.clock())
				n.ResponseDeadline = deadline
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		s.touch(n)
		return nil
	})
}

// Delete removes a draft. Anything published stays as a public record and
// is closed instead.
func (s *Service) Delete(ctx context.Context, id, etag string) error {
	p := identity.FromContext(ctx)
	if err := requireAuthenticated(p); err != nil {
		return err
	}
	if !validID(id) {
		return errdefs.Invalid("name", "must be needs/{id} with a valid id")
	}
	return s.store.Delete(ctx, id, func(n *Need) error {
		if err := s.authorizeOwner(p, n, etag); err != nil {
			return err
		}
		if n.State != StateDraft {
			return errdefs.FailedPrecondition("need %q is %s; only drafts can be deleted, close it instead", "needs/"+id, n.State)
		}
		return nil
	})
}

// Publish opens a draft for market exploration until deadline.
func (s *Service) Publish(ctx context.Context, id string, deadline time.Time, etag string) (*Need, error) {
	now := s.clock()
	var v errdefs.Violations
	checkDeadline(&v, FieldResponseDeadline, deadline, now)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, etag, "publish", []State{StateDraft}, func(n *Need) error {
		n.State = StatePublished
		n.ResponseDeadline = deadline.UTC().Truncate(time.Microsecond)
		n.PublishTime = now
		return nil
	})
}

// StartProcurement records that an instrument was chosen for a published
// need.
func (s *Service) StartProcurement(ctx context.Context, id, etag string) (*Need, error) {
	return s.transition(ctx, id, etag, "start procurement of", []State{StatePublished}, func(n *Need) error {
		n.State = StateInProcurement
		return nil
	})
}

var vendorNamePattern = regexp.MustCompile(`^vendors/[A-Za-z0-9-]{1,63}$`)

// Award records who won a need in procurement.
func (s *Service) Award(ctx context.Context, id string, a Award, etag string) (*Need, error) {
	var v errdefs.Violations
	checkText(&v, "award.vendor_name", a.VendorName, MaxVendorNameLen, true)
	if a.Vendor != "" && !vendorNamePattern.MatchString(a.Vendor) {
		v.Add("award.vendor", "must be vendors/{id}")
	}
	if a.ValueEUR < 0 || a.ValueEUR > MaxBudgetEUR {
		v.Add("award.value_eur", "must be between 0 and %d", int64(MaxBudgetEUR))
	}
	checkDate(&v, "award.award_date", a.Date)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, etag, "award", []State{StateInProcurement}, func(n *Need) error {
		n.State = StateAwarded
		n.Award = &a
		n.CloseTime = s.clock()
		return nil
	})
}

// Close withdraws a need without award, with a public reason.
func (s *Service) Close(ctx context.Context, id, reason, etag string) (*Need, error) {
	var v errdefs.Violations
	checkText(&v, "reason", reason, MaxCloseReasonLen, true)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.transition(ctx, id, etag, "close", []State{StateDraft, StatePublished, StateInProcurement}, func(n *Need) error {
		n.State = StateClosed
		n.CloseReason = reason
		n.CloseTime = s.clock()
		return nil
	})
}

// transition moves a need owned by the caller from one of the states in
// from, applying fn.
func (s *Service) transition(ctx context.Context, id, etag, verb string, from []State, fn func(*Need) error) (*Need, error) {
	p := identity.FromContext(ctx)
	if err := requireAuthenticated(p); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, errdefs.Invalid("name", "must be needs/{id} with a valid id")
	}
	return s.store.Update(ctx, id, func(n *Need) error {
		if err := s.authorizeOwner(p, n, etag); err != nil {
			return err
		}
		if !slices.Contains(from, n.State) {
			return errdefs.FailedPrecondition("cannot %s need %q: it is %s, and this is allowed only from %s",
				verb, "needs/"+id, n.State, statesList(from))
		}
		if err := fn(n); err != nil {
			return err
		}
		s.touch(n)
		return nil
	})
}

// Join adds the caller's buyer organisation as a co-buyer of a published
// need, so several authorities bundle their demand.
func (s *Service) Join(ctx context.Context, id string) (*Need, error) {
	p := identity.FromContext(ctx)
	if err := requireBuyer(p); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, errdefs.Invalid("name", "must be needs/{id} with a valid id")
	}
	return s.store.Update(ctx, id, func(n *Need) error {
		if !canSee(p, n) {
			return NotFound(id)
		}
		switch {
		case n.OwnerOrg == p.Org:
			return errdefs.FailedPrecondition("organisation %q owns need %q and cannot join it", p.Org, "needs/"+id)
		case n.HasCoBuyer(p.Org):
			return errdefs.AlreadyExists("organisation %q has already joined need %q", p.Org, "needs/"+id)
		case n.State != StatePublished:
			return errdefs.FailedPrecondition("need %q is %s; only published needs can be joined", "needs/"+id, n.State)
		}
		n.CoBuyers = append(n.CoBuyers, p.Org)
		s.touch(n)
		return nil
	})
}

// Leave removes the caller's organisation from the co-buyers of a need.
func (s *Service) Leave(ctx context.Context, id string) (*Need, error) {
	p := identity.FromContext(ctx)
	if err := requireBuyer(p); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, errdefs.Invalid("name", "must be needs/{id} with a valid id")
	}
	return s.store.Update(ctx, id, func(n *Need) error {
		if !canSee(p, n) {
			return NotFound(id)
		}
		i := slices.Index(n.CoBuyers, p.Org)
		if i < 0 {
			return errdefs.FailedPrecondition("organisation %q is not a co-buyer of need %q", p.Org, "needs/"+id)
		}
		if n.State != StatePublished && n.State != StateInProcurement {
			return errdefs.FailedPrecondition("need %q is %s; co-buyers can leave only while it is published or in procurement", "needs/"+id, n.State)
		}
		n.CoBuyers = slices.Delete(n.CoBuyers, i, i+1)
		s.touch(n)
		return nil
	})
}

// touch marks a successful change.
func (s *Service) touch(n *Need) {
	n.Revision++
	n.UpdateTime = s.clock()
}

// authorizeOwner lets members of the owning organisation (buyers) and
// admins change a need, and checks the caller's etag.
func (s *Service) authorizeOwner(p identity.Principal, n *Need, etag string) error {
	if !p.IsAdmin() && !(p.Has(identity.RoleBuyer) && p.Org == n.OwnerOrg) {
		if !canSee(p, n) {
			return NotFound(n.ID)
		}
		return errdefs.PermissionDenied("only buyers of organisation %q may change need %q", n.OwnerOrg, "needs/"+n.ID)
	}
	if etag != "" && etag != n.ETag() {
		return errdefs.Aborted("need %q was changed since etag %q was read; the current etag is %q", "needs/"+n.ID, etag, n.ETag())
	}
	return nil
}

func requireAuthenticated(p identity.Principal) error {
	if !p.Authenticated() {
		return errdefs.Unauthenticated("this call needs a bearer token")
	}
	return nil
}

func requireBuyer(p identity.Principal) error {
	if err := requireAuthenticated(p); err != nil {
		return err
	}
	if !p.Has(identity.RoleBuyer) || p.Org == "" {
		return errdefs.PermissionDenied("only members of a buyer organisation may do this")
	}
	return nil
}

func statesList(states []State) string {
	names := make([]string, len(states))
	for i, st := range states {
		names[i] = st.String()
	}
	return strings.Join(names, " or ")
}
