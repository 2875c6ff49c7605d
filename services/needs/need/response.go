package need

import (
	"context"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/pagetoken"
)

// ResponseState is where a vendor's response is.
type ResponseState int

// The states of a response; stores persist the number.
const (
	ResponseStateUnspecified ResponseState = iota
	ResponseSubmitted
	ResponseWithdrawn
)

var responseStateNames = [...]string{"UNSPECIFIED", "SUBMITTED", "WITHDRAWN"}

// String is the state's name in the API (and the audit trail).
func (s ResponseState) String() string {
	if s < 0 || int(s) >= len(responseStateNames) {
		return "ResponseState(" + strconv.Itoa(int(s)) + ")"
	}
	return responseStateNames[s]
}

// Response is a vendor's market-exploration answer to a published need:
// non-binding, one per vendor and need, editable until the deadline.
type Response struct {
	NeedID string
	// Vendor is the responding vendor's id, the organisation id of its
	// users; it is also the response's id.
	Vendor string
	ResponseFields
	State      ResponseState
	CreateTime time.Time
	UpdateTime time.Time
	Revision   int64
}

// ResponseFields are the parts of a response its vendor writes.
type ResponseFields struct {
	Summary            string
	IndicativePriceEUR int64
	ContactEmail       string
}

// ETag identifies this revision of the response.
func (r *Response) ETag() string { return "r" + strconv.FormatInt(r.Revision, 10) }

// Response field names as the API spells them.
const (
	FieldSummary            = "summary"
	FieldIndicativePriceEUR = "indicative_price_eur"
	FieldContactEmail       = "contact_email"
	MaxSummaryLen           = 5000
	maxEmailLen             = 254
)

// UpdatableResponseFields are the fields UpdateResponse may change.
var UpdatableResponseFields = []string{FieldSummary, FieldIndicativePriceEUR, FieldContactEmail}

// ResponseQuery selects responses: those of one need, or of one vendor
// across needs; newest first, after the cursor.
type ResponseQuery struct {
	NeedID string
	Vendor string
	// OnlySubmitted leaves out withdrawn responses.
	OnlySubmitted bool
	After         *ResponseCursor
	Limit         int
}

// ResponseCursor is a position in the (create time, need id, vendor) order.
type ResponseCursor struct {
	CreateTime time.Time
	NeedID     string
	Vendor     string
}

func normalizeResponse(f *ResponseFields, fields []string, v *errdefs.Violations) {
	for _, name := range fields {
		field := "response." + name
		switch name {
		case FieldSummary:
			f.Summary = strings.TrimSpace(f.Summary)
			checkText(v, field, f.Summary, MaxSummaryLen, true)
		case FieldIndicativePriceEUR:
			if f.IndicativePriceEUR < 0 || f.IndicativePriceEUR > MaxBudgetEUR {
				v.Add(field, "must be between 0 and %d", int64(MaxBudgetEUR))
			}
		case FieldContactEmail:
			f.ContactEmail = strings.TrimSpace(f.ContactEmail)
			if f.ContactEmail == "" {
				continue
			}
			a, err := mail.ParseAddress(f.ContactEmail)
			if err != nil || a.Address != f.ContactEmail || len(f.ContactEmail) > maxEmailLen {
				v.Add(field, "must be a plain e-mail address such as team@example.org")
			}
		}
	}
}

// ResponseName is the resource name of vendor's response to a need.
func ResponseName(needID, vendor string) string {
	return "needs/" + needID + "/responses/" + vendor
}

// ResponseNotFound is the error for a response that does not exist or
// that the caller may not read, the same from the service and the stores.
func ResponseNotFound(needID, vendor string) error {
	return errdefs.NotFound("response %q not found", ResponseName(needID, vendor))
}

// requireVendor checks that the caller acts for a vendor organisation.
func requireVendor(p identity.Principal) error {
	if err := requireAuthenticated(p); err != nil {
		return err
	}
	if !p.Has(identity.RoleVendor) || p.Org == "" {
		return errdefs.PermissionDenied("only members of a vendor organisation may respond to needs")
	}
	return nil
}

// acceptsResponses says whether vendors may still answer n at now; the
// error names the deadline, so a late vendor knows what happened.
func acceptsResponses(n *Need, now time.Time) error {
	if n.State != StatePublished {
		return errdefs.FailedPrecondition("need %q is %s; responses are accepted only while it is published", "needs/"+n.ID, n.State)
	}
	if !now.Before(n.ResponseDeadline) {
		return errdefs.FailedPrecondition("the response deadline of need %q passed at %s",
			"needs/"+n.ID, n.ResponseDeadline.UTC().Format(time.RFC3339))
	}
	return nil
}

// SubmitResponse records the caller's vendor's response to a published
// need before its deadline. A withdrawn response may be submitted again.
func (s *Service) SubmitResponse(ctx context.Context, needID string, f ResponseFields) (*Response, error) {
	p := identity.FromContext(ctx)
	if err := requireVendor(p); err != nil {
		return nil, err
	}
	var v errdefs.Violations
	if !validID(needID) {
		v.Add("parent", "must be needs/{id} with a valid id")
	}
	normalizeResponse(&f, UpdatableResponseFields, &v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	return s.store.UpdateResponse(ctx, needID, p.Org, func(n *Need, r *Response) (*Response, error) {
		if !canSee(p, n) {
			return nil, NotFound(needID)
		}
		now := s.clock()
		if err := acceptsResponses(n, now); err != nil {
			return nil, err
		}
		if r != nil && r.State == ResponseSubmitted {
			return nil, errdefs.AlreadyExists("vendor %q has already responded to need %q; edit %q instead",
				p.Org, "needs/"+needID, ResponseName(needID, p.Org))
		}
		if r == nil {
			return &Response{NeedID: needID, Vendor: p.Org, ResponseFields: f, State: ResponseSubmitted,
				CreateTime: now, UpdateTime: now, Revision: 1}, nil
		}
		r.ResponseFields, r.State, r.UpdateTime = f, ResponseSubmitted, now
		r.Revision++
		return r, nil
	})
}

// UpdateResponse edits the caller's own response until the deadline.
func (s *Service) UpdateResponse(ctx context.Context, needID, vendor string, f ResponseFields, mask []string, etag string) (*Response, error) {
	p := identity.FromContext(ctx)
	if err := requireVendor(p); err != nil {
		return nil, err
	}
	var v errdefs.Violations
	if !validID(needID) || !validVendor(vendor) {
		v.Add("response.name", "must be needs/{need}/responses/{vendor}")
	}
	if len(mask) == 0 {
		v.Add("update_mask", "must name at least one field")
	}
	for i, m := range mask {
		if !slices.Contains(UpdatableResponseFields, m) {
			v.Add(indexed("update_mask.paths", i), "%q is not an updatable field", m)
		}
	}
	if v.Len() == 0 {
		normalizeResponse(&f, mask, &v)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	if vendor != p.Org {
		return nil, errdefs.PermissionDenied("vendors edit only their own responses")
	}
	return s.store.UpdateResponse(ctx, needID, vendor, func(n *Need, r *Response) (*Response, error) {
		if err := checkOwnResponse(p, n, r, needID, vendor, etag); err != nil {
			return nil, err
		}
		if r.State != ResponseSubmitted {
			return nil, errdefs.FailedPrecondition("response %q is withdrawn; submit it again instead", ResponseName(needID, vendor))
		}
		now := s.clock()
		if err := acceptsResponses(n, now); err != nil {
			return nil, err
		}
		for _, m := range mask {
			switch m {
			case FieldSummary:
				r.Summary = f.Summary
			case FieldIndicativePriceEUR:
				r.IndicativePriceEUR = f.IndicativePriceEUR
			case FieldContactEmail:
				r.ContactEmail = f.ContactEmail
			}
		}
		r.UpdateTime = now
		r.Revision++
		return r, nil
	})
}

// WithdrawResponse withdraws the caller's own response. Market exploration
// binds nobody, so a vendor may withdraw even after the deadline.
func (s *Service) WithdrawResponse(ctx context.Context, needID, vendor, etag string) (*Response, error) {
	p := identity.FromContext(ctx)
	if err := requireVendor(p); err != nil {
		return nil, err
	}
	if !validID(needID) || !validVendor(vendor) {
		return nil, errdefs.Invalid("name", "must be needs/{need}/responses/{vendor}")
	}
	if vendor != p.Org {
		return nil, errdefs.PermissionDenied("vendors withdraw only their own responses")
	}
	return s.store.UpdateResponse(ctx, needID, vendor, func(n *Need, r *Response) (*Response, error) {
		if err := checkOwnResponse(p, n, r, needID, vendor, etag); err != nil {
			return nil, err
		}
		if r.State == ResponseWithdrawn {
			return nil, errdefs.FailedPrecondition("response %q is already withdrawn", ResponseName(needID, vendor))
		}
		r.State, r.UpdateTime = ResponseWithdrawn, s.clock()
		r.Revision++
		return r, nil
	})
}

// GetResponse returns a response to its vendor, to the need's buyers
// (owner and co-buyers) and to admins; a withdrawn response only to its
// vendor and admins.
func (s *Service) GetResponse(ctx context.Context, needID, vendor string) (*Response, error) {
	p := identity.FromContext(ctx)
	if !validID(needID) || !validVendor(vendor) {
		return nil, errdefs.Invalid("name", "must be needs/{need}/responses/{vendor}")
	}
	if err := requireAuthenticated(p); err != nil {
		return nil, err
	}
	n, err := s.store.Get(ctx, needID)
	if err != nil {
		return nil, err
	}
	if !canSee(p, n) {
		return nil, NotFound(needID)
	}
	// Who may not read the response learns so before it is looked up, so
	// that the answer does not tell whether a vendor responded.
	own := p.Has(identity.RoleVendor) && p.Org == vendor
	if !own && !p.IsAdmin() && !isBuyerOf(p, n) {
		return nil, errdefs.PermissionDenied("responses are visible only to their vendor and the need's buyers")
	}
	r, err := s.store.GetResponse(ctx, needID, vendor)
	if err != nil {
		return nil, err
	}
	if !own && !p.IsAdmin() && r.State != ResponseSubmitted {
		// Withdrawn is gone for the buyers, as if it never came.
		return nil, ResponseNotFound(needID, vendor)
	}
	return r, nil
}

// ListResponses lists the submitted responses to a need for its buyers, or
// with needID "-" the caller's own responses across needs.
func (s *Service) ListResponses(ctx context.Context, needID string, pageSize int, pageToken string) ([]*Response, string, error) {
	p := identity.FromContext(ctx)
	if err := requireAuthenticated(p); err != nil {
		return nil, "", err
	}
	q := ResponseQuery{Limit: pageSize}
	var v errdefs.Violations
	switch {
	case pageSize == 0:
		q.Limit = DefaultPageSize
	case pageSize < 0 || pageSize > MaxPageSize:
		v.Add("page_size", "must be between 0 and %d, got %d", MaxPageSize, pageSize)
	}
	if needID != "-" && !validID(needID) {
		v.Add("parent", `must be needs/{id} or "needs/-"`)
	}
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	if needID == "-" {
		if !p.Has(identity.RoleVendor) || p.Org == "" {
			return nil, "", errdefs.PermissionDenied(`only vendors list their own responses with "needs/-"`)
		}
		q.Vendor = p.Org
	} else {
		n, err := s.store.Get(ctx, needID)
		if err != nil {
			return nil, "", err
		}
		if !p.IsAdmin() && !isBuyerOf(p, n) {
			if !canSee(p, n) {
				return nil, "", NotFound(needID)
			}
			return nil, "", errdefs.PermissionDenied("only the buyers of need %q see its responses", "needs/"+needID)
		}
		q.NeedID, q.OnlySubmitted = needID, true
	}
	fingerprint := needID + "|" + q.Vendor
	if pageToken != "" {
		var tok responseToken
		if err := pagetoken.Decode(pageToken, &tok); err != nil || tok.Filter != fingerprint {
			return nil, "", errdefs.Invalid("page_token", "is not a token this service issued for this parent")
		}
		q.After = &ResponseCursor{CreateTime: time.UnixMicro(tok.CreateTime).UTC(), NeedID: tok.NeedID, Vendor: tok.Vendor}
	}
	limit := q.Limit
	q.Limit++
	rs, err := s.store.ListResponses(ctx, q)
	if err != nil {
		return nil, "", err
	}
	if len(rs) <= limit {
		return rs, "", nil
	}
	rs = rs[:limit]
	last := rs[limit-1]
	next, err := pagetoken.Encode(responseToken{CreateTime: last.CreateTime.UnixMicro(), NeedID: last.NeedID, Vendor: last.Vendor, Filter: fingerprint})
	return rs, next, err
}

// responseToken is the opaque page token of ListResponses.
type responseToken struct {
	CreateTime int64  `json:"t"`
	NeedID     string `json:"n"`
	Vendor     string `json:"v"`
	Filter     string `json:"f"`
}

// checkOwnResponse lets a vendor change its existing response to a need
// it can see, at the etag it read.
func checkOwnResponse(p identity.Principal, n *Need, r *Response, needID, vendor, etag string) error {
	if r == nil || !canSee(p, n) {
		return ResponseNotFound(needID, vendor)
	}
	if etag != "" && etag != r.ETag() {
		return errdefs.Aborted("response %q was changed since etag %q was read; the current etag is %q",
			ResponseName(needID, vendor), etag, r.ETag())
	}
	return nil
}

// isBuyerOf reports whether p is a buyer of n's owning or joined
// organisations.
func isBuyerOf(p identity.Principal, n *Need) bool {
	return p.Has(identity.RoleBuyer) && p.Org != "" && (p.Org == n.OwnerOrg || n.HasCoBuyer(p.Org))
}

func validVendor(id string) bool { return identity.ValidOrgID(id) == nil }
