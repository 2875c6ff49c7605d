package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/eventbus"
	"github.com/govmatch/govmatch/pkg/outbox"
	"github.com/govmatch/govmatch/services/needs/need"
)

// Recorder is the event recorder RunEvents gives the store: it describes
// each write it is called for in a StringValue payload ("need a r1→r2"), so
// the suite checks what the store hands it and what it does with the rows,
// apart from which event needevents derives. It satisfies the Recorder
// interfaces of the engine packages.
type Recorder struct {
	fail atomic.Bool // return errRecorder
}

var errRecorder = errors.New("recorder: kaputt")

// ForNeed implements the engines' Recorder.
func (r *Recorder) ForNeed(ctx context.Context, version int64, before, after *need.Need) ([]outbox.Record, error) {
	id := ""
	switch {
	case after != nil:
		id = after.ID
	case before != nil:
		id = before.ID
	}
	return r.record(ctx, id, version, fmt.Sprintf("need %s %s→%s", id, needRev(before), needRev(after)))
}

// ForResponse implements the engines' Recorder.
func (r *Recorder) ForResponse(ctx context.Context, version int64, n *need.Need, before, after *need.Response) ([]outbox.Record, error) {
	return r.record(ctx, n.ID, version, fmt.Sprintf("response %s/%s %s→%s on need r%d",
		after.NeedID, after.Vendor, responseRev(before), responseRev(after), n.Revision))
}

func (r *Recorder) record(ctx context.Context, id string, version int64, desc string) ([]outbox.Record, error) {
	if r.fail.Load() {
		return nil, errRecorder
	}
	rec, err := outbox.NewRecord(ctx, outbox.Event{Source: "needs", AggregateType: "need", AggregateID: id,
		AggregateVersion: version, Payload: wrapperspb.String(desc)})
	if err != nil {
		return nil, err
	}
	return []outbox.Record{rec}, nil
}

func needRev(n *need.Need) string {
	if n == nil {
		return "-"
	}
	return "r" + strconv.FormatInt(n.Revision, 10)
}

func responseRev(r *need.Response) string {
	if r == nil {
		return "-"
	}
	return "r" + strconv.FormatInt(r.Revision, 10)
}

// event is what the suite checks of an outbox row.
type event struct {
	Need    string
	Version int64
	Desc    string
}

// drain returns the outbox's rows in order and deletes them, as a relay
// would.
func drain(t *testing.T, ob outbox.Store) []event {
	t.Helper()
	ctx := context.Background()
	sess, err := ob.Lease(ctx)
	if err != nil {
		t.Fatalf("Lease: %v", err)
	}
	defer sess.Close()
	recs, err := sess.Fetch(ctx, 1000)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	var out []event
	var seqs []int64
	for _, r := range recs {
		ev, err := eventbus.Decode(r.Data)
		if err != nil {
			t.Fatal(err)
		}
		var desc wrapperspb.StringValue
		if err := ev.GetPayload().UnmarshalTo(&desc); err != nil {
			t.Fatalf("payload of event %s: %v", r.EventID, err)
		}
		if r.Source != "needs" || r.AggregateType != "need" || r.AggregateVersion != ev.GetAggregateVersion() {
			t.Errorf("row %d: source %q, aggregate type %q, version %d; envelope version %d",
				r.Seq, r.Source, r.AggregateType, r.AggregateVersion, ev.GetAggregateVersion())
		}
		out = append(out, event{r.AggregateID, r.AggregateVersion, desc.GetValue()})
		seqs = append(seqs, r.Seq)
	}
	if len(seqs) > 0 {
		if err := sess.Delete(ctx, seqs); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	return out
}

// OpenWithEvents returns a new, empty store that emits the events of rec,
// and its outbox; it closes the store when t ends.
type OpenWithEvents func(t *testing.T, rec *Recorder) (need.Store, outbox.Store)

// RunEvents runs the outbox contract: every write leaves exactly its events
// in the outbox, committed with it; a write that fails leaves none; event
// versions grow per need, across need and response writes, and beyond a
// delete. If the store has OnCommit(func()), the hook must run once per
// committed write.
func RunEvents(t *testing.T, open OpenWithEvents) {
	t.Run("Writes", func(t *testing.T) { t.Parallel(); testEventWrites(t, open) })
	t.Run("Rollback", func(t *testing.T) { t.Parallel(); testEventRollback(t, open) })
	t.Run("ConcurrentWrites", func(t *testing.T) { t.Parallel(); testEventConcurrency(t, open) })
}

// commits counts the OnCommit calls of s, if it has the hook.
func commits(t *testing.T, s need.Store) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	h, ok := s.(interface{ OnCommit(func()) })
	if !ok {
		t.Log("store has no OnCommit; not checked")
		return nil
	}
	h.OnCommit(func() { n.Add(1) })
	return &n
}

func testEventWrites(t *testing.T, open OpenWithEvents) {
	ctx := context.Background()
	s, ob := open(t, &Recorder{})
	calls := commits(t, s)
	bump := func(n *need.Need) error { n.Revision++; return nil }

	steps := []struct {
		name  string
		write func() error
		want  []event
	}{
		{"create", func() error { return s.Create(ctx, minimalNeed("bedarf-a")) },
			[]event{{"bedarf-a", 1, "need bedarf-a -→r1"}}},
		{"create another", func() error { return s.Create(ctx, minimalNeed("bedarf-b")) },
			[]event{{"bedarf-b", 1, "need bedarf-b -→r1"}}},
		{"update", func() error { _, err := s.Update(ctx, "bedarf-a", bump); return err },
			[]event{{"bedarf-a", 2, "need bedarf-a r1→r2"}}},
		{"submit response", func() error {
			_, err := s.UpdateResponse(ctx, "bedarf-a", "civic-coop", func(*need.Need, *need.Response) (*need.Response, error) {
				return &need.Response{State: need.ResponseSubmitted, CreateTime: t0, UpdateTime: t0, Revision: 1}, nil
			})
			return err
		}, []event{{"bedarf-a", 3, "response bedarf-a/civic-coop -→r1 on need r2"}}},
		{"update response", func() error {
			_, err := s.UpdateResponse(ctx, "bedarf-a", "civic-coop", func(_ *need.Need, r *need.Response) (*need.Response, error) {
				r.Revision++
				return r, nil
			})
			return err
		}, []event{{"bedarf-a", 4, "response bedarf-a/civic-coop r1→r2 on need r2"}}},
		{"update again", func() error { _, err := s.Update(ctx, "bedarf-a", bump); return err },
			[]event{{"bedarf-a", 5, "need bedarf-a r2→r3"}}},
		{"delete", func() error { return s.Delete(ctx, "bedarf-a", func(*need.Need) error { return nil }) },
			[]event{{"bedarf-a", 6, "need bedarf-a r3→-"}}},
		// The id is free again; its events go on counting, so consumers
		// that remember version 6 take the new need's events.
		{"create again", func() error { return s.Create(ctx, minimalNeed("bedarf-a")) },
			[]event{{"bedarf-a", 7, "need bedarf-a -→r1"}}},
		{"other need unaffected", func() error { _, err := s.Update(ctx, "bedarf-b", bump); return err },
			[]event{{"bedarf-b", 2, "need bedarf-b r1→r2"}}},
	}
	for i, st := range steps {
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, drain(t, ob)); diff != "" {
			t.Errorf("%s: outbox (-want +got):\n%s", st.name, diff)
		}
		if calls != nil && calls.Load() != int64(i+1) {
			t.Errorf("%s: OnCommit called %d times after %d writes", st.name, calls.Load(), i+1)
		}
	}
}

func testEventRollback(t *testing.T, open OpenWithEvents) {
	ctx := context.Background()
	rec := &Recorder{}
	s, ob := open(t, rec)
	create(t, s, minimalNeed("bedarf-a"))
	drain(t, ob)
	calls := commits(t, s)

	veto := func(*need.Need) error { return errVeto }
	failures := []struct {
		name    string
		write   func() error
		wantErr error
	}{
		{"create taken id", func() error { return s.Create(ctx, minimalNeed("bedarf-a")) }, errdefs.ErrAlreadyExists},
		{"update vetoed", func() error { _, err := s.Update(ctx, "bedarf-a", veto); return err }, errVeto},
		{"delete vetoed", func() error { return s.Delete(ctx, "bedarf-a", veto) }, errVeto},
		{"response vetoed", func() error {
			_, err := s.UpdateResponse(ctx, "bedarf-a", "civic-coop", func(*need.Need, *need.Response) (*need.Response, error) {
				return nil, errVeto
			})
			return err
		}, errVeto},
		{"update missing", func() error { _, err := s.Update(ctx, "fehlt", veto); return err }, errdefs.ErrNotFound},
	}
	for _, f := range failures {
		if err := f.write(); !errors.Is(err, f.wantErr) {
			t.Errorf("%s: error %v, want %v", f.name, err, f.wantErr)
		}
		if got := drain(t, ob); len(got) > 0 {
			t.Errorf("%s: outbox holds %v, want nothing", f.name, got)
		}
	}

	// A recorder that fails fails the write: no acknowledged write without
	// its event.
	rec.fail.Store(true)
	if err := s.Create(ctx, minimalNeed("bedarf-b")); err == nil {
		t.Error("Create with a failing recorder succeeded")
	}
	if _, err := s.Update(ctx, "bedarf-a", func(n *need.Need) error { n.Title = "geändert"; return nil }); err == nil {
		t.Error("Update with a failing recorder succeeded")
	}
	if _, err := s.Get(ctx, "bedarf-b"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get of the need whose Create failed: %v, want not found", err)
	}
	if got := get(t, s, "bedarf-a"); got.Title == "geändert" {
		t.Error("Update whose recorder failed was written")
	}
	if got := drain(t, ob); len(got) > 0 {
		t.Errorf("outbox holds %v after failed writes, want nothing", got)
	}
	if calls != nil && calls.Load() != 0 {
		t.Errorf("OnCommit called %d times for writes that failed", calls.Load())
	}

	// The failures used no versions.
	rec.fail.Store(false)
	if _, err := s.Update(ctx, "bedarf-a", func(n *need.Need) error { n.Revision++; return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]event{{"bedarf-a", 2, "need bedarf-a r1→r2"}}, drain(t, ob)); diff != "" {
		t.Errorf("outbox after the failures (-want +got):\n%s", diff)
	}
}

// testEventConcurrency races need and response writes of one need: the
// outbox order must be the version order, without gaps.
func testEventConcurrency(t *testing.T, open OpenWithEvents) {
	ctx := context.Background()
	s, ob := open(t, &Recorder{})
	create(t, s, minimalNeed("bedarf-a"))
	const writers = 8
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = s.Update(ctx, "bedarf-a", func(n *need.Need) error { n.Revision++; return nil })
			} else {
				_, err = s.UpdateResponse(ctx, "bedarf-a", "vendor-"+strconv.Itoa(i), func(*need.Need, *need.Response) (*need.Response, error) {
					return &need.Response{State: need.ResponseSubmitted, CreateTime: t0, UpdateTime: t0.Add(time.Duration(i)), Revision: 1}, nil
				})
			}
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := drain(t, ob)
	for i, ev := range got {
		if ev.Version != int64(i+1) {
			t.Fatalf("event %d of the outbox has version %d, want %d; all: %v", i, ev.Version, i+1, got)
		}
	}
	if len(got) != writers+1 {
		t.Errorf("outbox holds %d events, want %d (create and %d writes)", len(got), writers+1, writers)
	}
}
