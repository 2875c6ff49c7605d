package need

import (
	"context"
	"time"

	"github.com/govmatch/govmatch/pkg/audit"
)

// Store keeps needs. Implementations live in ../store/{sqlite,postgres} and
// pass the contract suite in ../store/storetest. Errors are the sentinels of
// pkg/errdefs: ErrNotFound, ErrAlreadyExists, and ErrUnavailable or
// ErrAborted when the database is unreachable or a transaction lost a
// conflict. Empty lists come back as nil.
type Store interface {
	// Create inserts a new need; ErrAlreadyExists when the id is taken.
	Create(ctx context.Context, n *Need) error
	// Get returns the need with that id; ErrNotFound when there is none.
	Get(ctx context.Context, id string) (*Need, error)
	// Update reads the need, lets fn change it and writes it back, all in one
	// transaction. When fn returns an error nothing is written and that error
	// is returned. fn must not change the id.
	Update(ctx context.Context, id string, fn func(*Need) error) (*Need, error)
	// Delete removes the need if fn, given the current need inside the same
	// transaction, returns nil.
	Delete(ctx context.Context, id string, fn func(*Need) error) error
	// List returns up to q.Limit needs matching q, in q's order, after q.After.
	List(ctx context.Context, q ListQuery) ([]*Need, error)

	// UpdateResponse reads the need and the vendor's response to it (nil if
	// there is none), lets fn return the response to store, and writes it,
	// all in one transaction that holds the need's row lock, so a deadline
	// check in fn and a concurrent close of the need cannot interleave.
	// ErrNotFound when the need does not exist.
	UpdateResponse(ctx context.Context, needID, vendor string, fn func(*Need, *Response) (*Response, error)) (*Response, error)
	// GetResponse returns the vendor's response to the need; ErrNotFound
	// when there is none.
	GetResponse(ctx context.Context, needID, vendor string) (*Response, error)
	// ListResponses returns up to q.Limit responses matching q, newest first
	// (create time, then need id, then vendor, all descending), after q.After.
	ListResponses(ctx context.Context, q ResponseQuery) ([]*Response, error)

	// AuditTrail returns the audit entries q selects (pkg/audit): every
	// write above appends one for its resource, "needs/{id}" or
	// "needs/{id}/responses/{vendor}", in its transaction.
	AuditTrail(ctx context.Context, q audit.Query) ([]audit.Entry, error)
}

// ListQuery selects needs. Filters combine with AND, values of one filter
// with OR; an empty filter does not restrict.
type ListQuery struct {
	States []State
	// CPVPrefixes match needs with a CPV code starting with one of them
	// (see refdata.CPVPrefix: a parent code's prefix covers its children).
	CPVPrefixes []string
	// RegionKeys match needs with a place whose refdata.RegionKeys contain
	// one of them.
	RegionKeys []string
	// Organization matches needs it owns or joined as co-buyer.
	Organization string
	// Words must each occur in SearchText as a word or the start of one.
	Words []string
	// ViewerOrg sees its own drafts; drafts of other organisations are never
	// listed unless AllDrafts is set.
	ViewerOrg string
	AllDrafts bool
	// Ascending orders by create time oldest first; the default is newest
	// first. Ties are broken by id in the same direction.
	Ascending bool
	// After is the position of the last need of the previous page.
	After *Cursor
	// Limit is the most needs to return, at least 1.
	Limit int
}

// Cursor is a position in the (create time, id) order. Keyset pagination
// keeps pages stable while needs are inserted: a new need sorts before the
// first page and moves nothing behind the cursor.
type Cursor struct {
	CreateTime time.Time
	ID         string
}
