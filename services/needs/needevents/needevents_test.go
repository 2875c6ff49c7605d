package needevents_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/identity"
	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	"github.com/govmatch/govmatch/services/needs/grpcserver"
	"github.com/govmatch/govmatch/services/needs/need"
	"github.com/govmatch/govmatch/services/needs/needevents"
)

var t0 = time.Date(2025, 3, 3, 8, 0, 0, 0, time.UTC)

func draft() *need.Need {
	return &need.Need{
		ID:       "bedarf-terminvergabe",
		Fields:   need.Fields{Title: "Terminvergabe im Bürgeramt", ProblemStatement: "Wartezeiten von Wochen.", CPVCodes: []string{"72212000"}},
		OwnerOrg: "stadt-giessen", State: need.StateDraft,
		CreateTime: t0, UpdateTime: t0, Revision: 1,
	}
}

// change returns a copy of n one revision on, changed by fn.
func change(n *need.Need, fn func(*need.Need)) *need.Need {
	c := n.Clone()
	fn(c)
	c.Revision++
	c.UpdateTime = c.UpdateTime.Add(time.Minute)
	return c
}

func TestForNeed(t *testing.T) {
	t.Parallel()
	d := draft()
	published := change(d, func(n *need.Need) {
		n.State, n.PublishTime, n.ResponseDeadline = need.StatePublished, t0, t0.Add(30*24*time.Hour)
	})
	joined := change(published, func(n *need.Need) { n.CoBuyers = append(n.CoBuyers, "kreis-giessen") })
	p := grpcserver.NeedToProto
	tests := []struct {
		name          string
		before, after *need.Need
		want          proto.Message
	}{
		{"created", nil, d, &needsv1.NeedCreated{Need: p(d)}},
		{"deleted", d, nil, &needsv1.NeedDeleted{Name: "needs/bedarf-terminvergabe"}},
		{"published", d, published, &needsv1.NeedPublished{Need: p(published)}},
		{"procurement started", published, change(published, func(n *need.Need) { n.State = need.StateInProcurement }),
			&needsv1.NeedProcurementStarted{Need: p(change(published, func(n *need.Need) { n.State = need.StateInProcurement }))}},
		{"awarded", published, change(published, func(n *need.Need) {
			n.State, n.Award = need.StateAwarded, &need.Award{VendorName: "Muster IT GmbH", ValueEUR: 1}
		}), nil}, // checked by type below
		{"closed", d, change(d, func(n *need.Need) { n.State, n.CloseReason = need.StateClosed, "kein Bedarf" }), nil},
		{"joined", published, joined, &needsv1.NeedJoined{Need: p(joined), Organization: "kreis-giessen"}},
		{"left", joined, change(joined, func(n *need.Need) { n.CoBuyers = nil }),
			&needsv1.NeedLeft{Need: p(change(joined, func(n *need.Need) { n.CoBuyers = nil })), Organization: "kreis-giessen"}},
		{"updated", d, change(d, func(n *need.Need) { n.Title, n.BudgetMaxEUR = "Online-Terminvergabe", 90_000 }),
			&needsv1.NeedUpdated{Need: p(change(d, func(n *need.Need) { n.Title, n.BudgetMaxEUR = "Online-Terminvergabe", 90_000 })),
				ChangedFields: []string{need.FieldTitle, need.FieldBudget}}},
		{"deadline moved", published, change(published, func(n *need.Need) { n.ResponseDeadline = n.ResponseDeadline.Add(time.Hour) }), nil},
		{"nothing changed but the revision", d, change(d, func(*need.Need) {}),
			&needsv1.NeedUpdated{Need: p(change(d, func(*need.Need) {}))}},
		{"join and edit at once", published, change(published, func(n *need.Need) {
			n.Title, n.CoBuyers = "Neu", []string{"kreis-giessen"}
		}), nil},
	}
	wantType := map[string]string{
		"awarded":               "govmatch.needs.v1.NeedAwarded",
		"closed":                "govmatch.needs.v1.NeedClosed",
		"deadline moved":        "govmatch.needs.v1.NeedUpdated",
		"join and edit at once": "govmatch.needs.v1.NeedUpdated",
	}
	wantFields := map[string][]string{
		"deadline moved":        {need.FieldResponseDeadline},
		"join and edit at once": {need.FieldTitle, needevents.FieldCoBuyers},
	}
	ctx := identity.NewContext(context.Background(), identity.Principal{Subject: "user-42", Org: "stadt-giessen"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recs, err := needevents.ForNeed(ctx, 7, tt.before, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			ev, err := eventbus.Decode(r.Data)
			if err != nil {
				t.Fatal(err)
			}
			if r.Source != "needs" || r.AggregateType != "need" || r.AggregateID != "bedarf-terminvergabe" ||
				r.AggregateVersion != 7 || ev.GetActor() != "user-42" {
				t.Errorf("envelope: source %q, aggregate %s/%s v%d, actor %q", r.Source, r.AggregateType, r.AggregateID, r.AggregateVersion, ev.GetActor())
			}
			if tt.after != nil && !ev.GetOccurTime().AsTime().Equal(tt.after.UpdateTime) {
				t.Errorf("occur time %v, want the write's %v", ev.GetOccurTime().AsTime(), tt.after.UpdateTime)
			}
			got, err := ev.GetPayload().UnmarshalNew()
			if err != nil {
				t.Fatal(err)
			}
			if r.EventType != string(got.ProtoReflect().Descriptor().FullName()) {
				t.Errorf("event type %q, payload %T", r.EventType, got)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
					t.Errorf("payload (-want +got):\n%s", diff)
				}
				return
			}
			if r.EventType != wantType[tt.name] {
				t.Errorf("event type %q, want %q", r.EventType, wantType[tt.name])
			}
			if u, ok := got.(*needsv1.NeedUpdated); ok {
				if diff := cmp.Diff(wantFields[tt.name], u.GetChangedFields()); diff != "" {
					t.Errorf("changed fields (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestForResponse(t *testing.T) {
	t.Parallel()
	n := draft()
	submitted := &need.Response{NeedID: n.ID, Vendor: "civic-coop", State: need.ResponseSubmitted,
		ResponseFields: need.ResponseFields{Summary: "Wir können das."}, CreateTime: t0, UpdateTime: t0, Revision: 1}
	edited := *submitted
	edited.Summary, edited.Revision, edited.UpdateTime = "Wir können das gut.", 2, t0.Add(time.Hour)
	withdrawn := edited
	withdrawn.State, withdrawn.Revision = need.ResponseWithdrawn, 3
	again := withdrawn
	again.State, again.Revision = need.ResponseSubmitted, 4
	tests := []struct {
		name          string
		before, after *need.Response
		want          string
	}{
		{"first", nil, submitted, "govmatch.needs.v1.ResponseSubmitted"},
		{"edited", submitted, &edited, "govmatch.needs.v1.ResponseUpdated"},
		{"withdrawn", &edited, &withdrawn, "govmatch.needs.v1.ResponseWithdrawn"},
		{"submitted again", &withdrawn, &again, "govmatch.needs.v1.ResponseSubmitted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			recs, err := needevents.ForResponse(context.Background(), 3, n, tt.before, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 || recs[0].EventType != tt.want || recs[0].AggregateID != n.ID || recs[0].AggregateVersion != 3 {
				t.Fatalf("records %+v, want one %s of need %s at version 3", recs, tt.want, n.ID)
			}
			ev, err := eventbus.Decode(recs[0].Data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ev.GetPayload().UnmarshalNew()
			if err != nil {
				t.Fatal(err)
			}
			resp := got.(interface{ GetResponse() *needsv1.Response }).GetResponse()
			if diff := cmp.Diff(grpcserver.ResponseToProto(tt.after), resp, protocmp.Transform()); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	other := draft()
	other.ID = "anderer-bedarf"
	if _, err := needevents.ForNeed(ctx, 1, nil, nil); err == nil {
		t.Error("ForNeed(nil, nil) succeeded")
	}
	if _, err := needevents.ForNeed(ctx, 1, draft(), other); err == nil {
		t.Error("ForNeed of two needs succeeded")
	}
	if _, err := needevents.ForNeed(ctx, 0, nil, draft()); err == nil {
		t.Error("ForNeed at version 0 succeeded")
	}
	if _, err := needevents.ForResponse(ctx, 1, other, nil, &need.Response{NeedID: "bedarf-terminvergabe", Vendor: "v"}); err == nil {
		t.Error("ForResponse of another need's response succeeded")
	}
}
