package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/services/needs/need"
)

// respond stores a response through UpdateResponse, as the service does.
func respond(t *testing.T, s need.Store, r *need.Response) *need.Response {
	t.Helper()
	got, err := s.UpdateResponse(context.Background(), r.NeedID, r.Vendor, func(*need.Need, *need.Response) (*need.Response, error) {
		c := *r
		return &c, nil
	})
	if err != nil {
		t.Fatalf("UpdateResponse(%s, %s): %v", r.NeedID, r.Vendor, err)
	}
	return got
}

func testResponses(t *testing.T, newStore func(*testing.T) need.Store) {
	ctx := context.Background()
	s := newStore(t)
	a, b := minimalNeed("bedarf-a"), minimalNeed("bedarf-b")
	a.State, b.State = need.StatePublished, need.StatePublished
	create(t, s, a, b)

	first := &need.Response{
		NeedID: "bedarf-a", Vendor: "civic-coop",
		ResponseFields: need.ResponseFields{Summary: "Wir betreiben Terminbuchung für 40 Kommunen.", IndicativePriceEUR: 48_000, ContactEmail: "team@civic.example"},
		State:          need.ResponseSubmitted, CreateTime: t0.Add(time.Hour + 7*time.Microsecond), UpdateTime: t0.Add(time.Hour), Revision: 1,
	}
	if diff := cmp.Diff(first, respond(t, s, first)); diff != "" {
		t.Errorf("UpdateResponse result (-want +got):\n%s", diff)
	}
	got, err := s.GetResponse(ctx, "bedarf-a", "civic-coop")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, got); diff != "" {
		t.Errorf("GetResponse round trip (-want +got):\n%s", diff)
	}

	t.Run("fn sees the need and the current response", func(t *testing.T) {
		_, err := s.UpdateResponse(ctx, "bedarf-a", "civic-coop", func(n *need.Need, r *need.Response) (*need.Response, error) {
			if n.ID != "bedarf-a" || n.State != need.StatePublished {
				t.Errorf("fn got need %+v", n)
			}
			if r == nil || r.Summary != first.Summary {
				t.Errorf("fn got response %+v, want the stored one", r)
			}
			return nil, errVeto
		})
		if !errors.Is(err, errVeto) {
			t.Errorf("fn's error: got %v, want it unchanged", err)
		}
		if got, _ := s.GetResponse(ctx, "bedarf-a", "civic-coop"); got.Revision != 1 {
			t.Errorf("vetoed write changed the response: %+v", got)
		}
	})
	t.Run("no response yet", func(t *testing.T) {
		_, err := s.UpdateResponse(ctx, "bedarf-b", "civic-coop", func(_ *need.Need, r *need.Response) (*need.Response, error) {
			if r != nil {
				t.Errorf("fn got %+v, want nil", r)
			}
			return nil, errVeto
		})
		if !errors.Is(err, errVeto) {
			t.Fatal(err)
		}
		if _, err := s.GetResponse(ctx, "bedarf-b", "civic-coop"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("GetResponse of none: %v, want ErrNotFound", err)
		}
	})
	t.Run("need missing", func(t *testing.T) {
		_, err := s.UpdateResponse(ctx, "gibt-es-nicht", "civic-coop", func(*need.Need, *need.Response) (*need.Response, error) {
			t.Error("fn called for a missing need")
			return nil, nil
		})
		if !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})

	// More responses to list: two vendors on two needs, one withdrawn.
	mk := func(needID, vendor string, minutes int, state need.ResponseState) *need.Response {
		return respond(t, s, &need.Response{NeedID: needID, Vendor: vendor, ResponseFields: need.ResponseFields{Summary: "Antwort"},
			State: state, CreateTime: t0.Add(time.Duration(minutes) * time.Minute), UpdateTime: t0, Revision: 1})
	}
	mk("bedarf-a", "gov-startup", 120, need.ResponseSubmitted)
	mk("bedarf-a", "withdrawn-gmbh", 130, need.ResponseWithdrawn)
	mk("bedarf-b", "civic-coop", 140, need.ResponseSubmitted)
	mk("bedarf-b", "gov-startup", 140, need.ResponseSubmitted) // same time: vendor breaks the tie

	keys := func(q need.ResponseQuery) []string {
		t.Helper()
		rs, err := s.ListResponses(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.NeedID+"/"+r.Vendor)
		}
		return out
	}
	for name, tc := range map[string]struct {
		q    need.ResponseQuery
		want []string
	}{
		"of a need":           {need.ResponseQuery{NeedID: "bedarf-a", Limit: 10}, []string{"bedarf-a/withdrawn-gmbh", "bedarf-a/gov-startup", "bedarf-a/civic-coop"}},
		"submitted of a need": {need.ResponseQuery{NeedID: "bedarf-a", OnlySubmitted: true, Limit: 10}, []string{"bedarf-a/gov-startup", "bedarf-a/civic-coop"}},
		"of a vendor":         {need.ResponseQuery{Vendor: "gov-startup", Limit: 10}, []string{"bedarf-b/gov-startup", "bedarf-a/gov-startup"}},
		"limit":               {need.ResponseQuery{Limit: 2}, []string{"bedarf-b/gov-startup", "bedarf-b/civic-coop"}},
		"after cursor": {need.ResponseQuery{Limit: 10, After: &need.ResponseCursor{CreateTime: t0.Add(140 * time.Minute), NeedID: "bedarf-b", Vendor: "gov-startup"}},
			[]string{"bedarf-b/civic-coop", "bedarf-a/withdrawn-gmbh", "bedarf-a/gov-startup", "bedarf-a/civic-coop"}},
	} {
		if diff := cmp.Diff(tc.want, keys(tc.q)); diff != "" {
			t.Errorf("ListResponses %s (-want +got):\n%s", name, diff)
		}
	}
}
