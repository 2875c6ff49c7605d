package need

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/errdefs"
	"github.com/govmatch/govmatch/pkg/identity"
)

// TestOrgScopedIDs: a buyer chooses ids only in its
// own organisation's prefix, so probing another organisation's ids gets one
// answer whether a hidden draft holds the id or not, and a collision is
// reported only for needs the caller can read.
func TestOrgScopedIDs(t *testing.T) {
	t.Parallel()
	svc := NewService(newMemStore(), WithClock(func() time.Time { return t0 }))
	if _, err := svc.Create(as(giessen), validInput, "stadt-giessen.termine"); err != nil {
		t.Fatal(err)
	}
	scope := []string{"need_id"}
	tests := []struct {
		name string
		org  string // "giessen", "marburg" or "stadt"
		id   string
		want []string // fieldsOf the error
	}{
		{"own prefix", "giessen", "stadt-giessen.formulare", nil},
		{"generated id", "giessen", "", nil},
		{"no prefix", "giessen", "termine", scope},
		{"a prefix of the prefix", "giessen", "stadt-giessenformulare", scope},
		{"own taken id", "giessen", "stadt-giessen.termine", []string{"AlreadyExists"}},
		{"another organisation's hidden draft", "marburg", "stadt-giessen.termine", scope},
		{"another organisation's free id", "marburg", "stadt-giessen.frei", scope},
		{"own prefix of the other", "marburg", "stadt-marburg.termine", nil},
		{"the hyphen of the former rule", "giessen", "stadt-giessen-formulare", scope},
		{"an organisation whose id begins another's", "stadt", "stadt-giessen.termine", scope},
		{"an organisation whose id begins another's, free id", "stadt", "stadt-giessen.neu", scope},
		{"no slug", "giessen", "stadt-giessen.", scope},
	}
	for _, tt := range tests {
		p := giessen
		switch tt.org {
		case "marburg":
			p = marburg
		case "stadt":
			p = identity.Principal{Subject: "s@stadt", Org: "stadt", Roles: []identity.Role{identity.RoleBuyer}}
		}
		_, err := svc.Create(as(p), validInput, tt.id)
		got := fieldsOf(err)
		if errors.Is(err, errdefs.ErrAlreadyExists) {
			got = []string{"AlreadyExists"}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tt.name, diff)
		}
	}

	// The probe's two answers are the same, message and all.
	_, hidden := svc.Create(as(marburg), validInput, "stadt-giessen.termine")
	_, free := svc.Create(as(marburg), validInput, "stadt-giessen.frei")
	if hidden == nil || free == nil || hidden.Error() != free.Error() {
		t.Errorf("probing a hidden draft: %v; a free id: %v; want the same error", hidden, free)
	}
	if _, err := svc.Get(as(marburg), "stadt-giessen.termine"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Get of the hidden draft: %v, want not found", err)
	}
}
