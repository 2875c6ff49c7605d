package profile

import (
	"context"
	"time"

	"github.com/govmatch/govmatch/pkg/audit"
)

// Store keeps vendors. Implementations live in ../store/{sqlite,postgres}
// and pass the contract suite in ../store/storetest. Errors are the sentinels
// of pkg/errdefs: ErrNotFound, ErrAlreadyExists, and ErrUnavailable or
// ErrAborted when the database is unreachable or a transaction lost a
// conflict. Empty lists come back as nil.
type Store interface {
	// Create inserts vendors in one transaction: all of them or none. A
	// vendor whose ExternalID is taken is not inserted; existing is called
	// with its index and the vendor that holds the ExternalID, inside the
	// transaction, and that vendor takes its place in the result unless
	// existing returns an error, which aborts the whole call and is returned
	// unchanged. ErrAlreadyExists when an id is taken.
	Create(ctx context.Context, vendors []*Vendor, existing func(i int, old *Vendor) error) ([]*Vendor, error)
	// Get returns the vendor with that id; ErrNotFound when there is none.
	Get(ctx context.Context, id string) (*Vendor, error)
	// Update reads the vendor, lets fn change it and writes it back, all in
	// one transaction. When fn returns an error nothing is written and that
	// error is returned. fn must not change the id or the external id.
	Update(ctx context.Context, id string, fn func(*Vendor) error) (*Vendor, error)
	// Delete removes the vendor if fn, given the current vendor inside the
	// same transaction, returns nil.
	Delete(ctx context.Context, id string, fn func(*Vendor) error) error
	// List returns up to q.Limit vendors matching q, in q's order, after
	// q.After.
	List(ctx context.Context, q ListQuery) ([]*Vendor, error)
	// AuditTrail returns the audit entries q selects (pkg/audit): every
	// write above appends one per vendor, "vendors/{id}", in its
	// transaction.
	AuditTrail(ctx context.Context, q audit.Query) ([]audit.Entry, error)
}

// ListQuery selects vendors. Filters combine with AND, values of one filter
// with OR; an empty filter does not restrict.
type ListQuery struct {
	Kinds []Kind
	// CPVPrefixes match vendors with a CPV code starting with one of them
	// (see refdata.CPVPrefix: a parent code's prefix covers its children).
	CPVPrefixes []string
	// Regions, when set, matches nationwide vendors and vendors with a
	// RegionKey whose Key is in Regions.Keys, or which is Self and in
	// Regions.Within.
	Regions        *RegionMatch
	Capabilities   []string
	Certifications []string
	// OpenSource matches vendors with at least one open-source product.
	OpenSource bool
	// Words must each occur in SearchText as a word or the start of one.
	Words []string
	// Ascending orders by create time oldest first; the default is newest
	// first. Ties are broken by id in the same direction.
	Ascending bool
	// After is the position of the last vendor of the previous page.
	After *Cursor
	// Limit is the most vendors to return, at least 1.
	Limit int
}

// Cursor is a position in the (create time, id) order.
type Cursor struct {
	CreateTime time.Time
	ID         string
}
