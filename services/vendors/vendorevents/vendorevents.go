// Package vendorevents turns a write of the vendor registry into its domain
// event (proto/govmatch/vendors/v1/events.proto), as an outbox row for the
// store to insert in the write's transaction. The stores call it through
// their WithEvents option, so neither the domain (profile) nor the SQL
// code sees protobuf types.
//
// Which event a write is follows from the difference between the vendor
// before and after it, so the stores need not know why they write:
//
//   - no vendor before: VendorCreated
//   - no vendor after: VendorDeleted
//   - verification status, note or time changed: VendorVerified, unless a
//     Verified vendor became Unverified: only an edit does that (an admin's
//     check ends Verified or Rejected), and the edit's event carries a
//     VerificationReset naming the attested fields that voided the check
//   - the owner became the vendor's own organisation: VendorClaimed
//   - anything else: VendorUpdated
//
// The aggregate version is the store's to give, since only the store sees
// every write of a vendor id: the vendor's revision after the write (a
// deletion's: the last revision plus one), unless the id belonged to a
// vendor that was deleted; then the versions of the vendor created again
// continue above the deleted one's, so that consumers which drop events
// not newer than the last they applied (eventbus.Idempotent) take them.
package vendorevents

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/outbox"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/vendors/grpcserver"
	"github.com/govmatch/govmatch/services/vendors/profile"
)

// The envelope's fields for vendor events. Source is also the name of the
// stream the events travel on.
const (
	Source        = "vendors"
	AggregateType = "vendor"
)

// FieldOwnerOrganization names the owner in changed_fields; the other
// names are profile's Field constants (the API's update_mask paths).
const FieldOwnerOrganization = "owner_organization"

// Recorder gives the stores' WithEvents options ForVendor:
//
//	sqlite.Open(ctx, dsn, sqlite.WithEvents(vendorevents.Recorder{}))
type Recorder struct{}

// ForVendor implements the stores' event interface with ForVendor.
func (Recorder) ForVendor(ctx context.Context, version int64, before, after *profile.Vendor) ([]outbox.Record, error) {
	return ForVendor(ctx, version, before, after)
}

// ForVendor returns the event of a write that turned before into after
// (before nil: created; after nil: deleted) with the aggregate version the
// store gave it. after's revision must be above before's. The actor is the
// subject of ctx's principal.
func ForVendor(ctx context.Context, version int64, before, after *profile.Vendor) ([]outbox.Record, error) {
	var (
		id       string
		occurred time.Time
		payload  proto.Message
	)
	switch {
	case before == nil && after == nil:
		return nil, errors.New("vendor event: neither a vendor before nor after the write")
	case version < 1:
		return nil, fmt.Errorf("vendor event: aggregate version %d, want at least 1", version)
	case after == nil:
		id, occurred = before.ID, time.Now()
		payload = &vendorsv1.VendorDeleted{Name: "vendors/" + before.ID}
	case before == nil:
		id, occurred = after.ID, after.UpdateTime
		payload = &vendorsv1.VendorCreated{Vendor: grpcserver.ToProto(after)}
	default:
		if before.ID != after.ID {
			return nil, fmt.Errorf("vendor event: write turned vendor %q into %q", before.ID, after.ID)
		}
		if after.Revision <= before.Revision {
			// Consumers would drop the event as outdated.
			return nil, fmt.Errorf("vendor event: write of vendor %q kept revision %d (was %d); every write must raise it",
				after.ID, after.Revision, before.Revision)
		}
		id, occurred = after.ID, after.UpdateTime
		payload = changed(before, after)
	}
	rec, err := outbox.NewRecord(ctx, outbox.Event{
		Source:           Source,
		AggregateType:    AggregateType,
		AggregateID:      id,
		AggregateVersion: version,
		Actor:            identity.FromContext(ctx).Subject,
		OccurTime:        occurred,
		Payload:          payload,
	})
	if err != nil {
		return nil, fmt.Errorf("vendor event for %q: %w", id, err)
	}
	return []outbox.Record{rec}, nil
}

// changed is the event of an update.
func changed(before, after *profile.Vendor) proto.Message {
	v := grpcserver.ToProto(after)
	reset := verificationReset(before, after)
	if reset == nil && (before.Verification != after.Verification || before.VerificationNote != after.VerificationNote ||
		!before.VerifyTime.Equal(after.VerifyTime)) {
		return &vendorsv1.VendorVerified{Vendor: v}
	}
	fields := changedFields(before, after)
	if before.OwnerOrg != after.OwnerOrg && after.OwnerOrg == after.ID {
		return &vendorsv1.VendorClaimed{
			Vendor:                    v,
			PreviousOwnerOrganization: before.OwnerOrg,
			ChangedFields:             &fieldmaskpb.FieldMask{Paths: fields},
			VerificationReset:         reset,
		}
	}
	if before.OwnerOrg != after.OwnerOrg {
		fields = append(fields, FieldOwnerOrganization)
	}
	return &vendorsv1.VendorUpdated{Vendor: v, ChangedFields: &fieldmaskpb.FieldMask{Paths: fields}, VerificationReset: reset}
}

// verificationReset describes an edit that voided a verification, or is
// nil when the write did not.
func verificationReset(before, after *profile.Vendor) *vendorsv1.VerificationReset {
	if before.Verification != profile.Verified || after.Verification != profile.Unverified {
		return nil
	}
	return &vendorsv1.VerificationReset{
		PreviousStatus: vendorsv1.Vendor_VERIFICATION_STATUS_VERIFIED,
		Fields:         &fieldmaskpb.FieldMask{Paths: profile.AttestedChanges(before.Fields, after.Fields)},
	}
}

// changedFields lists the editable fields whose values differ, in the
// order of profile.UpdatableFields. Nil and empty lists are equal: the
// stores do not tell them apart.
func changedFields(before, after *profile.Vendor) []string {
	b, a := before.Fields, after.Fields
	values := map[string][2]any{
		profile.FieldDisplayName:    {b.DisplayName, a.DisplayName},
		profile.FieldKind:           {b.Kind, a.Kind},
		profile.FieldFoundingYear:   {b.FoundingYear, a.FoundingYear},
		profile.FieldSizeBand:       {b.SizeBand, a.SizeBand},
		profile.FieldHeadquarters:   {b.Headquarters, a.Headquarters},
		profile.FieldRegionsServed:  {b.RegionsServed, a.RegionsServed},
		profile.FieldNationwide:     {b.Nationwide, a.Nationwide},
		profile.FieldRemote:         {b.Remote, a.Remote},
		profile.FieldLanguages:      {b.Languages, a.Languages},
		profile.FieldWebsite:        {b.Website, a.Website},
		profile.FieldDescription:    {b.Description, a.Description},
		profile.FieldCapabilities:   {b.Capabilities, a.Capabilities},
		profile.FieldCPVCodes:       {b.CPVCodes, a.CPVCodes},
		profile.FieldProducts:       {b.Products, a.Products},
		profile.FieldReferences:     {b.References, a.References},
		profile.FieldCertifications: {b.Certifications, a.Certifications},
	}
	var out []string
	for _, f := range profile.UpdatableFields {
		v, ok := values[f]
		if !ok || !equal(v[0], v[1]) {
			out = append(out, f)
		}
	}
	return out
}

func equal(x, y any) bool {
	vx, vy := reflect.ValueOf(x), reflect.ValueOf(y)
	if vx.Kind() == reflect.Slice && vx.Len() == 0 && vy.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(x, y)
}
