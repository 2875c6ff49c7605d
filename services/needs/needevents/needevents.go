// Package needevents turns a write of the needs registry into its domain
// event (proto/govmatch/needs/v1/events.proto), as an outbox row for the
// store to insert in the write's transaction. The stores call it through
// their WithEvents option, so neither the domain (need) nor the SQL code
// sees protobuf types.
//
// Which event a write is follows from the difference between the resource
// before and after it, so the stores need not know why they write:
//
//   - no need before: NeedCreated; no need after: NeedDeleted
//   - the state changed: NeedPublished, NeedProcurementStarted, NeedAwarded
//     or NeedClosed
//   - one co-buyer more: NeedJoined; one fewer: NeedLeft
//   - anything else: NeedUpdated, with the fields that changed
//   - a response that was not submitted before and is now:
//     ResponseSubmitted; withdrawn now: ResponseWithdrawn; else
//     ResponseUpdated
//
// # Versions
//
// Every event, a response's too, belongs to the aggregate "need" with the
// need's id, so a consumer gets the events of a need in commit order and
// one Dedupe key per need. The aggregate version is not the need's
// Revision: response writes leave that alone, and a deleted need's id can
// be taken again, which would restart it at 1 and make idempotent
// consumers skip the new need's events as stale. Instead the stores keep
// an event counter per need id (table need_event_versions), which outlives
// the need, and bump it in every transaction that emits; they pass its next
// value as version, and the n-th record returned gets version+n-1.
package needevents

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/outbox"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	"github.com/govmatch/govmatch/services/needs/grpcserver"
	"github.com/govmatch/govmatch/services/needs/need"
)

// The envelope's fields of the registry's events. Source is also the name
// of the stream they travel on.
const (
	Source        = "needs"
	AggregateType = "need"
)

// FieldCoBuyers and FieldState name co-buyer and state changes in
// changed_fields when a write does not fit one of the specific events;
// the other names are need's Field constants (the API's update_mask paths).
const (
	FieldCoBuyers = "co_buyer_organizations"
	FieldState    = "state"
)

// Recorder is what the stores' WithEvents options take:
//
//	sqlite.Open(ctx, dsn, sqlite.WithEvents(needevents.Recorder{}))
type Recorder struct{}

// ForNeed implements the stores' event interface; see the package function.
func (Recorder) ForNeed(ctx context.Context, version int64, before, after *need.Need) ([]outbox.Record, error) {
	return ForNeed(ctx, version, before, after)
}

// ForResponse implements the stores' event interface; see the package
// function.
func (Recorder) ForResponse(ctx context.Context, version int64, n *need.Need, before, after *need.Response) ([]outbox.Record, error) {
	return ForResponse(ctx, version, n, before, after)
}

// ForNeed returns the event of a write that turned before into after
// (before nil: created; after nil: deleted), at aggregate version version.
// The actor is the subject of ctx's principal, the trace that of ctx's
// span.
func ForNeed(ctx context.Context, version int64, before, after *need.Need) ([]outbox.Record, error) {
	var (
		id       string
		occurred time.Time
		payload  proto.Message
	)
	switch {
	case before == nil && after == nil:
		return nil, errors.New("need event: neither a need before nor after the write")
	case after == nil:
		id, occurred = before.ID, time.Now()
		payload = &needsv1.NeedDeleted{Name: "needs/" + before.ID}
	case before == nil:
		id, occurred = after.ID, after.UpdateTime
		payload = &needsv1.NeedCreated{Need: grpcserver.NeedToProto(after)}
	default:
		if before.ID != after.ID {
			return nil, fmt.Errorf("need event: write turned need %q into %q", before.ID, after.ID)
		}
		id, occurred = after.ID, after.UpdateTime
		payload = needChange(before, after)
	}
	return record(ctx, id, version, occurred, payload)
}

// needChange is the payload of an update of before to after.
func needChange(before, after *need.Need) proto.Message {
	p := grpcserver.NeedToProto(after)
	if before.State != after.State {
		switch after.State {
		case need.StatePublished:
			return &needsv1.NeedPublished{Need: p}
		case need.StateInProcurement:
			return &needsv1.NeedProcurementStarted{Need: p}
		case need.StateAwarded:
			return &needsv1.NeedAwarded{Need: p}
		case need.StateClosed:
			return &needsv1.NeedClosed{Need: p}
		}
	}
	added, removed := diff(before.CoBuyers, after.CoBuyers), diff(after.CoBuyers, before.CoBuyers)
	fields := changedFields(before, after)
	if before.State == after.State && len(fields) == 0 {
		switch {
		case len(added) == 1 && len(removed) == 0:
			return &needsv1.NeedJoined{Need: p, Organization: added[0]}
		case len(removed) == 1 && len(added) == 0:
			return &needsv1.NeedLeft{Need: p, Organization: removed[0]}
		}
	}
	if len(added)+len(removed) > 0 {
		fields = append(fields, FieldCoBuyers)
	}
	if before.State != after.State {
		fields = append(fields, FieldState)
	}
	return &needsv1.NeedUpdated{Need: p, ChangedFields: fields}
}

// changedFields lists the updatable fields (need.UpdatableFields, in that
// order) whose values differ.
func changedFields(before, after *need.Need) []string {
	b, a := before.Fields, after.Fields
	differs := map[string]bool{
		need.FieldTitle:              b.Title != a.Title,
		need.FieldProblemStatement:   b.ProblemStatement != a.ProblemStatement,
		need.FieldDesiredOutcomes:    !equalList(b.DesiredOutcomes, a.DesiredOutcomes),
		need.FieldCPVCodes:           !equalList(b.CPVCodes, a.CPVCodes),
		need.FieldPlaces:             !equalList(b.Places, a.Places),
		need.FieldRemotePossible:     b.RemotePossible != a.RemotePossible,
		need.FieldBudget:             b.BudgetMinEUR != a.BudgetMinEUR || b.BudgetMaxEUR != a.BudgetMaxEUR,
		need.FieldTimeline:           b.StartDate != a.StartDate || b.EndDate != a.EndDate,
		need.FieldCertifications:     !equalList(b.Certifications, a.Certifications),
		need.FieldOpenSourceRequired: b.OpenSourceRequired != a.OpenSourceRequired,
		need.FieldResponseDeadline:   !b.ResponseDeadline.Equal(a.ResponseDeadline),
		need.FieldRequirements:       !slices.Equal(b.Requirements, a.Requirements),
	}
	var out []string
	for _, f := range need.UpdatableFields {
		if differs[f] {
			out = append(out, f)
		}
	}
	return out
}

// equalList treats nil and empty alike, as the stores do.
func equalList(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// diff returns the elements of b that are not in a.
func diff(a, b []string) []string {
	in := make(map[string]bool, len(a))
	for _, x := range a {
		in[x] = true
	}
	var out []string
	for _, x := range b {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// ForResponse returns the event of a write that turned the response before
// (nil: there was none) into after, on need n, at aggregate version
// version of n.
func ForResponse(ctx context.Context, version int64, n *need.Need, before, after *need.Response) ([]outbox.Record, error) {
	switch {
	case n == nil || after == nil:
		return nil, errors.New("response event: need or response after the write missing")
	case after.NeedID != n.ID || (before != nil && (before.NeedID != after.NeedID || before.Vendor != after.Vendor)):
		return nil, fmt.Errorf("response event: write of response %s/%s on need %q mixes resources", after.NeedID, after.Vendor, n.ID)
	}
	p := grpcserver.ResponseToProto(after)
	var payload proto.Message
	switch {
	case after.State == need.ResponseSubmitted && (before == nil || before.State != need.ResponseSubmitted):
		payload = &needsv1.ResponseSubmitted{Response: p}
	case after.State == need.ResponseWithdrawn && (before == nil || before.State != need.ResponseWithdrawn):
		payload = &needsv1.ResponseWithdrawn{Response: p}
	default:
		payload = &needsv1.ResponseUpdated{Response: p}
	}
	return record(ctx, n.ID, version, after.UpdateTime, payload)
}

func record(ctx context.Context, needID string, version int64, occurred time.Time, payload proto.Message) ([]outbox.Record, error) {
	if version < 1 {
		return nil, fmt.Errorf("need event: version %d of need %q, want at least 1", version, needID)
	}
	r, err := outbox.NewRecord(ctx, outbox.Event{
		Source:           Source,
		AggregateType:    AggregateType,
		AggregateID:      needID,
		AggregateVersion: version,
		Actor:            identity.FromContext(ctx).Subject,
		OccurTime:        occurred,
		Payload:          payload,
	})
	if err != nil {
		return nil, err
	}
	return []outbox.Record{r}, nil
}
