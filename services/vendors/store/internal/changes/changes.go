// Package changes collects what a store transaction wrote and turns it into
// the writes' domain events, the same way for every engine; each engine
// keeps the vendors' event counters and inserts the events into its outbox
// in the transaction.
package changes

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/govmatch/govmatch/pkg/audit"
	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/services/vendors/profile"
)

// Events is the engines' WithEvents interface.
type Events interface {
	ForVendor(ctx context.Context, version int64, before, after *profile.Vendor) ([]outbox.Record, error)
}

// NextVersion returns the aggregate version of the next event of vendor
// id: atLeast, or one above the last version emitted for the id if that
// is more. An engine implements it with its event counter table, in the
// write's transaction, and records the version it returns as the last.
type NextVersion func(ctx context.Context, id string, atLeast int64) (int64, error)

// List is the vendors a transaction wrote, before and after each write, in
// the order written.
type List struct {
	writes [][2]*profile.Vendor
}

// Add records a write: before nil for a created vendor, after nil for a
// deleted one.
func (l *List) Add(before, after *profile.Vendor) {
	l.writes = append(l.writes, [2]*profile.Vendor{before, after})
}

// Audit appends the audit entry of every write, "vendors/{id}", with
// insert, in order; skip names the fields not to record.
func (l *List) Audit(ctx context.Context, skip []string, insert func(*audit.Entry) error) error {
	for _, w := range l.writes {
		id := cmp.Or(w[1], w[0]).ID
		e, ok, err := audit.New(ctx, "vendors/"+id, w[0], w[1], skip...)
		if err != nil {
			return fmt.Errorf("audit vendor %s: %w", id, err)
		}
		if !ok {
			continue
		}
		if err := insert(&e); err != nil {
			return fmt.Errorf("audit vendor %s: %w", id, err)
		}
	}
	return nil
}

// Records returns the events of the writes, in order; none when ev is nil.
//
// A write's event has the vendor's revision after it as version (a
// delete's: the last revision plus one), as long as that is above every
// version emitted for the vendor id before. It is not when the id belonged
// to a vendor that was deleted: the revisions of a vendor created again
// under its id start anew, and consumers would drop its events as older
// than the deleted vendor's. next keeps such a vendor's versions going
// above the deleted one's.
func (l *List) Records(ctx context.Context, ev Events, next NextVersion) ([]outbox.Record, error) {
	if ev == nil {
		return nil, nil
	}
	var recs []outbox.Record
	for _, w := range l.writes {
		before, after := w[0], w[1]
		var id string
		var atLeast int64
		switch {
		case after != nil:
			id, atLeast = after.ID, after.Revision
		case before != nil:
			id, atLeast = before.ID, before.Revision+1
		default:
			return nil, errors.New("vendor event: neither a vendor before nor after the write")
		}
		version, err := next(ctx, id, atLeast)
		if err != nil {
			return nil, fmt.Errorf("event version of vendor %q: %w", id, err)
		}
		r, err := ev.ForVendor(ctx, version, before, after)
		if err != nil {
			return nil, err
		}
		if len(r) > 1 {
			// The counter holds one version per write.
			return nil, fmt.Errorf("events of vendor %q: %d for one write, want at most one", id, len(r))
		}
		recs = append(recs, r...)
	}
	return recs, nil
}
