package match_test

import (
	"context"
	"errors"
	"testing"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/score"
)

// index is a fixed Index: n vendors that all match, and needs by id.
type index struct {
	vendors  int
	needs    map[string]match.Need
	building bool
}

func (x index) Need(id string) (match.Need, bool)     { n, ok := x.needs[id]; return n, ok }
func (x index) Vendor(id string) (match.Vendor, bool) { return match.Vendor{ID: id}, true }
func (x index) WeightsVersion() string                { return "test" }
func (x index) Ready() bool                           { return !x.building }
func (x index) EachVendor(fn func(match.Vendor) bool) {
	for i := range x.vendors {
		if !fn(match.Vendor{ID: string(rune('a' + i))}) {
			return
		}
	}
}

func (x index) RankNeeds(score.Need, int, score.Filters) ([]score.Result, error) {
	return nil, nil
}

func (x index) RankVendors(_ score.Need, k int, _ score.Filters) ([]score.Result, error) {
	var out []score.Result
	for i := range min(k, x.vendors) {
		out = append(out, score.Result{VendorID: string(rune('a' + i)), Score: float64(100 - i)})
	}
	return out, nil
}

func ctxOf(p identity.Principal) context.Context { return identity.NewContext(context.Background(), p) }

func TestDraftAccess(t *testing.T) {
	t.Parallel()
	svc := match.NewService(index{vendors: 1, needs: map[string]match.Need{"d": {ID: "d", OwnerOrg: "giessen", Draft: true}}})
	tests := []struct {
		name string
		p    identity.Principal
		ok   bool
	}{
		{"owner", identity.Principal{Subject: "u", Org: "giessen", Roles: []identity.Role{identity.RoleBuyer}}, true},
		{"admin", identity.Principal{Subject: "a", Roles: []identity.Role{identity.RoleAdmin}}, true},
		{"other org", identity.Principal{Subject: "u", Org: "marburg", Roles: []identity.Role{identity.RoleBuyer}}, false},
		{"anonymous", identity.Principal{}, false},
	}
	for _, tt := range tests {
		_, err := svc.NeedMatches(ctxOf(tt.p), "d", match.Query{})
		if tt.ok && err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
		if !tt.ok && !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("%s: %v, want not found", tt.name, err)
		}
	}
}

func TestPageTokens(t *testing.T) {
	t.Parallel()
	svc := match.NewService(index{vendors: 5, needs: map[string]match.Need{"n": {ID: "n"}, "m": {ID: "m"}}})
	giessen := ctxOf(identity.Principal{Subject: "u", Org: "giessen"})
	marburg := ctxOf(identity.Principal{Subject: "u", Org: "marburg"})

	var got []string
	q := match.Query{PageSize: 2}
	for {
		p, err := svc.NeedMatches(giessen, "n", q)
		if err != nil {
			t.Fatal(err)
		}
		if p.WeightsVersion != "test" {
			t.Errorf("weights version %q", p.WeightsVersion)
		}
		for _, r := range p.Results {
			got = append(got, r.ID)
		}
		if p.NextPageToken == "" {
			break
		}
		q.PageToken = p.NextPageToken
	}
	if want := "abcde"; join(got) != want {
		t.Errorf("pages gave %q, want %q", join(got), want)
	}

	first, err := svc.NeedMatches(giessen, "n", match.Query{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	misuses := map[string]func() error{
		"other need": func() error {
			_, err := svc.NeedMatches(giessen, "m", match.Query{PageSize: 2, PageToken: first.NextPageToken})
			return err
		},
		"other org": func() error {
			_, err := svc.NeedMatches(marburg, "n", match.Query{PageSize: 2, PageToken: first.NextPageToken})
			return err
		},
		"other filter": func() error {
			_, err := svc.NeedMatches(giessen, "n", match.Query{PageSize: 2, PageToken: first.NextPageToken, Filters: match.Filters{OpenSource: true}})
			return err
		},
	}
	for name, call := range misuses {
		var ve *errdefs.ValidationError
		if err := call(); !errors.As(err, &ve) || ve.Violations[0].Field != "page_token" {
			t.Errorf("%s: %v, want a page_token violation", name, err)
		}
	}
	// The page size may change between pages.
	if p, err := svc.NeedMatches(giessen, "n", match.Query{PageSize: 100, PageToken: first.NextPageToken}); err != nil || len(p.Results) != 3 {
		t.Errorf("bigger second page: %d results, %v", len(p.Results), err)
	}
}

func join(s []string) string {
	var out string
	for _, x := range s {
		out += x
	}
	return out
}

func TestUnavailableWhileBuilding(t *testing.T) {
	t.Parallel()
	svc := match.NewService(index{vendors: 1, needs: map[string]match.Need{"n": {ID: "n"}}, building: true})
	if _, err := svc.NeedMatches(ctxOf(identity.Principal{}), "n", match.Query{}); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("matches from an index being built: %v, want ErrUnavailable", err)
	}
}
