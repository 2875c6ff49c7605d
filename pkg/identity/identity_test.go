package identity

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseRole(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Role
		wantErr bool
	}{
		{name: "buyer", in: "buyer", want: RoleBuyer},
		{name: "vendor", in: "vendor", want: RoleVendor},
		{name: "venture unit", in: "venture_unit", want: RoleVentureUnit},
		{name: "admin", in: "admin", want: RoleAdmin},
		{name: "empty", in: "", wantErr: true},
		{name: "case sensitive", in: "Admin", wantErr: true},
		{name: "padded", in: " buyer", wantErr: true},
		{name: "keycloak default role", in: "offline_access", wantErr: true},
		{name: "very long", in: strings.Repeat("x", 1000), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseRole(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseRole(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseRole(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if err != nil && len(err.Error()) > 200 {
				t.Errorf("error message too long (%d bytes), echoes input", len(err.Error()))
			}
		})
	}
}

func TestPrincipal(t *testing.T) {
	t.Parallel()
	type result struct {
		Authenticated, Buyer, Vendor, VentureUnit, Admin bool
	}
	tests := []struct {
		name string
		p    Principal
		want result
	}{
		{name: "anonymous", p: Principal{}, want: result{}},
		{name: "roles without subject are not honoured", p: Principal{Roles: []Role{RoleAdmin}}, want: result{}},
		{name: "authenticated without roles", p: Principal{Subject: "u1"}, want: result{Authenticated: true}},
		{
			name: "buyer",
			p:    Principal{Subject: "u1", Org: "stadt-giessen", Roles: []Role{RoleBuyer}},
			want: result{Authenticated: true, Buyer: true},
		},
		{
			name: "vendor and venture unit",
			p:    Principal{Subject: "u2", Org: "acme", Roles: []Role{RoleVendor, RoleVentureUnit}},
			want: result{Authenticated: true, Vendor: true, VentureUnit: true},
		},
		{
			name: "admin",
			p:    Principal{Subject: "ops", Roles: []Role{RoleAdmin}},
			want: result{Authenticated: true, Admin: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := result{
				Authenticated: tc.p.Authenticated(),
				Buyer:         tc.p.Has(RoleBuyer),
				Vendor:        tc.p.Has(RoleVendor),
				VentureUnit:   tc.p.Has(RoleVentureUnit),
				Admin:         tc.p.IsAdmin(),
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ctx  func() context.Context
		want Principal
	}{
		{name: "absent is anonymous", ctx: context.Background, want: Principal{}},
		{
			name: "round trip",
			ctx: func() context.Context {
				return NewContext(context.Background(), Principal{Subject: "u1", Org: "stadt-giessen", Roles: []Role{RoleBuyer}})
			},
			want: Principal{Subject: "u1", Org: "stadt-giessen", Roles: []Role{RoleBuyer}},
		},
		{
			name: "inner overrides outer",
			ctx: func() context.Context {
				ctx := NewContext(context.Background(), Principal{Subject: "outer", Roles: []Role{RoleAdmin}})
				return NewContext(ctx, Principal{})
			},
			want: Principal{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, FromContext(tc.ctx())); diff != "" {
				t.Errorf("FromContext mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContextIsolatesRoles(t *testing.T) {
	t.Parallel()
	roles := []Role{RoleBuyer}
	ctx := NewContext(context.Background(), Principal{Subject: "u1", Org: "acme", Roles: roles})
	roles[0] = RoleAdmin // caller mutates its slice after storing
	got := FromContext(ctx)
	got.Roles[0] = RoleAdmin // reader mutates the returned slice
	if diff := cmp.Diff([]Role{RoleBuyer}, FromContext(ctx).Roles); diff != "" {
		t.Errorf("roles in context were mutated (-want +got):\n%s", diff)
	}
}

var orgIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)

func TestValidOrgID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		valid bool
	}{
		{name: "typical", in: "stadt-giessen", valid: true},
		{name: "digits first", in: "0815-gmbh", valid: true},
		{name: "two chars", in: "ab", valid: true},
		{name: "max length", in: "a" + strings.Repeat("b", 62), valid: true},
		{name: "trailing hyphen allowed by pattern", in: "ab-", valid: true},
		{name: "empty", in: ""},
		{name: "one char", in: "a"},
		{name: "too long", in: "a" + strings.Repeat("b", 63)},
		{name: "leading hyphen", in: "-abc"},
		{name: "uppercase", in: "Stadt-Giessen"},
		{name: "umlaut", in: "stadt-gießen"},
		{name: "underscore", in: "stadt_giessen"},
		{name: "space", in: "stadt giessen"},
		{name: "slash", in: "/stadt-giessen"},
		{name: "newline", in: "abc\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := ValidOrgID(tc.in)
			if diff := cmp.Diff(tc.valid, err == nil); diff != "" {
				t.Errorf("ValidOrgID(%q) = %v; valid mismatch (-want +got):\n%s", tc.in, err, diff)
			}
			if diff := cmp.Diff(orgIDRE.MatchString(tc.in), err == nil); diff != "" {
				t.Errorf("ValidOrgID(%q) disagrees with the documented pattern (-regexp +impl):\n%s", tc.in, diff)
			}
		})
	}
}

func FuzzValidOrgID(f *testing.F) {
	for _, s := range []string{"stadt-giessen", "", "a", "-a", "ab-", "Ab", "a\x00b", strings.Repeat("a", 64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidOrgID(s) == nil, orgIDRE.MatchString(s); got != want {
			t.Fatalf("ValidOrgID(%q) valid = %v, pattern says %v", s, got, want)
		}
	})
}
