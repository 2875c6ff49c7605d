package need

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestUpdateAllFields: a mask of every field ("*") replaces all mutable
// fields of a draft and of a published need. The response deadline is
// refused only when the update would really change it outside the
// published state.
func TestUpdateAllFields(t *testing.T) {
	t.Parallel()
	deadline := t0.Add(time.Hour) // bringTo publishes with it
	replacement := Fields{
		Title:            "Terminbuchung, neu gefasst",
		ProblemStatement: "Termine online buchen, verschieben und absagen.",
		CPVCodes:         []string{"72212000"},
		RemotePossible:   true,
	}
	with := func(d time.Time) Fields { f := replacement; f.ResponseDeadline = d; return f }
	tests := []struct {
		name   string
		state  State
		later  time.Duration // the update's clock after bringTo's
		mask   []string
		f      Fields
		want   []string // violations
		wantDL time.Time
	}{
		{"draft, all fields, no deadline", StateDraft, 0, UpdatableFields, with(time.Time{}), nil, time.Time{}},
		{"draft, the unset deadline named alone", StateDraft, 0, []string{FieldResponseDeadline}, with(time.Time{}), nil, time.Time{}},
		{"draft, all fields, setting a deadline", StateDraft, 0, UpdatableFields, with(deadline), []string{"need.response_deadline"}, time.Time{}},
		{"published, all fields, deadline sent back", StatePublished, 0, UpdatableFields, with(deadline), nil, deadline},
		{"published, deadline sent back in another zone", StatePublished, 0, UpdatableFields, with(deadline.In(time.FixedZone("CET", 3600))), nil, deadline},
		{"published, all fields, new deadline", StatePublished, 0, UpdatableFields, with(deadline.Add(time.Hour)), nil, deadline.Add(time.Hour)},
		{"published, all fields, deadline left out", StatePublished, 0, UpdatableFields, with(time.Time{}), []string{"need.response_deadline"}, deadline},
		{"published, passed deadline sent back", StatePublished, 2 * time.Hour, UpdatableFields, with(deadline), nil, deadline},
		{"published, passed deadline moved into the past", StatePublished, 2 * time.Hour, UpdatableFields, with(deadline.Add(30 * time.Minute)), []string{"need.response_deadline"}, deadline},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := newMemStore()
			id := bringTo(t, NewService(store, WithClock(func() time.Time { return t0 })), tt.state)
			svc := NewService(store, WithClock(func() time.Time { return t0.Add(tt.later) }))
			_, err := svc.Update(as(giessen), id, tt.f, tt.mask, "")
			if diff := cmp.Diff(tt.want, fieldsOf(err)); diff != "" {
				t.Fatalf("violations (-want +got):\n%s", diff)
			}
			got, err := svc.Get(as(giessen), id)
			if err != nil {
				t.Fatal(err)
			}
			if !got.ResponseDeadline.Equal(tt.wantDL) {
				t.Errorf("response deadline %v, want %v", got.ResponseDeadline, tt.wantDL)
			}
			wantTitle := validInput.Title
			if tt.want == nil && len(tt.mask) > 1 {
				wantTitle = replacement.Title
			}
			if got.Title != wantTitle || got.State != tt.state {
				t.Errorf("after the update: %s %q, want %s %q", got.State, got.Title, tt.state, wantTitle)
			}
		})
	}
}

// TestInputLeftAlone: Create and Update normalise a copy, never the
// caller's lists, which callers share (the demo data seeds several
// registries from one package variable at once).
func TestInputLeftAlone(t *testing.T) {
	t.Parallel()
	svc := newTestService(t)
	in := validInput.Clone()
	in.DesiredOutcomes = []string{"  Wartezeit halbiert  "}
	in.CPVCodes = []string{"72212000-4"}
	want := in.Clone()
	n, err := svc.Create(as(giessen), in, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Update(as(giessen), n.ID, in, []string{FieldDesiredOutcomes, FieldCPVCodes}, ""); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, in); diff != "" {
		t.Errorf("the caller's fields changed (-want +got):\n%s", diff)
	}
}
