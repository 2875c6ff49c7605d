package match_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/score"
)

// vendorIndex ranks its vendors in their order, best first, and needs by
// id, every need for every vendor. It ignores score.Filters, so what the
// service leaves out, it leaves out itself.
type vendorIndex struct {
	vendors []match.Vendor
	needs   []match.Need
}

func (x vendorIndex) Need(id string) (match.Need, bool) {
	i := slices.IndexFunc(x.needs, func(n match.Need) bool { return n.ID == id })
	if i < 0 {
		return match.Need{}, false
	}
	return x.needs[i], true
}

func (x vendorIndex) Vendor(id string) (match.Vendor, bool) {
	i := slices.IndexFunc(x.vendors, func(v match.Vendor) bool { return v.ID == id })
	if i < 0 {
		return match.Vendor{}, false
	}
	return x.vendors[i], true
}

func (x vendorIndex) WeightsVersion() string { return "test" }
func (x vendorIndex) Ready() bool            { return true }

func (x vendorIndex) EachVendor(fn func(match.Vendor) bool) {
	for _, v := range x.vendors {
		if !fn(v) {
			return
		}
	}
}

func (x vendorIndex) RankVendors(_ score.Need, k int, _ score.Filters) ([]score.Result, error) {
	var out []score.Result
	for i, v := range x.vendors[:min(k, len(x.vendors))] {
		out = append(out, score.Result{VendorID: v.ID, Score: float64(100 - i)})
	}
	return out, nil
}

func (x vendorIndex) RankNeeds(_ score.Need, k int, _ score.Filters) ([]score.Result, error) {
	var out []score.Result
	for i, n := range x.needs[:min(k, len(x.needs))] {
		out = append(out, score.Result{VendorID: n.ID, Score: float64(100 - i)})
	}
	return out, nil
}

// vendors for the tests: what each offers is in its id.
var (
	isoHessen = match.Vendor{ID: "iso-hessen", RegionKeys: []string{"DE7"},
		Profile: score.Vendor{Certifications: []string{"ISO 27001"}, Capabilities: []string{"terminbuchung"}}}
	isoRemote = match.Vendor{ID: "iso-remote-bayern", Remote: true, RegionKeys: []string{"DE2"},
		Profile: score.Vendor{Certifications: []string{"iso-27001"}}}
	openNationwide = match.Vendor{ID: "open-nationwide", OpenSource: true, RegionKeys: []string{"DE"}, Hosting: []string{"germany", "eu"}}
	bare           = match.Vendor{ID: "bare-hamburg", RegionKeys: []string{"DE6"}, Hosting: []string{"on_premises"}}
	allVendors     = []match.Vendor{isoHessen, isoRemote, openNationwide, bare}
)

func TestMustHaveRequirements(t *testing.T) {
	t.Parallel()
	cert := match.Requirement{Kind: match.RequireCertification, Value: "iso-27001"}
	giessen := match.Requirement{Kind: match.RequireServesRegion, Places: []string{"06531005"}}
	giessenRemote := match.Requirement{Kind: match.RequireServesRegion, Places: []string{"06531005"}, Remote: true}
	open := match.Requirement{Kind: match.RequireOpenSource}
	eu := match.Requirement{Kind: match.RequireHosting, Value: "eu"}
	capability := match.Requirement{Kind: match.RequireCapability, Value: "Terminbuchung"}
	tests := []struct {
		name      string
		must      []match.Requirement
		filters   match.Filters
		want      []string
		wantOut   []match.LeftOut
		wantTotal int
	}{
		{name: "none", want: []string{"iso-hessen", "iso-remote-bayern", "open-nationwide", "bare-hamburg"}},
		{
			name: "certification, in any spelling", must: []match.Requirement{cert},
			want:    []string{"iso-hessen", "iso-remote-bayern"},
			wantOut: []match.LeftOut{{cert, 2}}, wantTotal: 2,
		},
		{
			name: "region: the Land's vendor and the nationwide one", must: []match.Requirement{giessen},
			want:    []string{"iso-hessen", "open-nationwide"},
			wantOut: []match.LeftOut{{giessen, 2}}, wantTotal: 2,
		},
		{
			name: "region or remote", must: []match.Requirement{giessenRemote},
			want:    []string{"iso-hessen", "iso-remote-bayern", "open-nationwide"},
			wantOut: []match.LeftOut{{giessenRemote, 1}}, wantTotal: 1,
		},
		{
			name: "no place: anywhere", must: []match.Requirement{{Kind: match.RequireServesRegion}},
			want:    []string{"iso-hessen", "iso-remote-bayern", "open-nationwide", "bare-hamburg"},
			wantOut: []match.LeftOut{{match.Requirement{Kind: match.RequireServesRegion}, 0}},
		},
		{
			name: "a vendor lacking two counts under both, once in the total", must: []match.Requirement{cert, open},
			want:    nil,
			wantOut: []match.LeftOut{{cert, 2}, {open, 3}}, wantTotal: 4,
		},
		{
			name: "hosting in Germany is in the EU", must: []match.Requirement{eu},
			want:    []string{"open-nationwide"},
			wantOut: []match.LeftOut{{eu, 3}}, wantTotal: 3,
		},
		{
			name: "capability", must: []match.Requirement{capability},
			want:    []string{"iso-hessen"},
			wantOut: []match.LeftOut{{capability, 3}}, wantTotal: 3,
		},
		{
			name: "filters narrow the ranking, not the counts", must: []match.Requirement{cert},
			filters: match.Filters{VendorKinds: []string{"KIND_SME"}},
			want:    nil,
			wantOut: []match.LeftOut{{cert, 2}}, wantTotal: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idx := vendorIndex{vendors: allVendors, needs: []match.Need{{ID: "n", MustHave: tt.must}}}
			svc := match.NewService(idx)
			ctx := ctxOf(identity.Principal{Subject: "u", Org: "giessen", Roles: []identity.Role{identity.RoleBuyer}})
			saved, err := svc.NeedMatches(ctx, "n", match.Query{Filters: tt.filters})
			if err != nil {
				t.Fatal(err)
			}
			preview, err := svc.Preview(ctx, match.Need{Profile: score.Need{Title: "Termine"}, MustHave: tt.must}, match.Query{Filters: tt.filters})
			if err != nil {
				t.Fatal(err)
			}
			for name, p := range map[string]match.Page{"need": saved, "preview": preview} {
				var got []string
				for _, r := range p.Results {
					got = append(got, r.ID)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: ranked (-want +got):\n%s", name, diff)
				}
				if diff := cmp.Diff(tt.wantOut, p.LeftOut); diff != "" {
					t.Errorf("%s: left out (-want +got):\n%s", name, diff)
				}
				if p.LeftOutTotal != tt.wantTotal {
					t.Errorf("%s: left out in total %d, want %d", name, p.LeftOutTotal, tt.wantTotal)
				}
			}
		})
	}
}

// TestMustHavePaging pages through a ranking whose best vendors lack a
// must-have requirement: no page may come up short or repeat a vendor.
func TestMustHavePaging(t *testing.T) {
	t.Parallel()
	var vs []match.Vendor
	var want []string
	for i := range 30 {
		v := match.Vendor{ID: string(rune('A' + i))}
		if i%3 != 0 {
			v.OpenSource = true
			want = append(want, v.ID)
		}
		vs = append(vs, v)
	}
	svc := match.NewService(vendorIndex{vendors: vs, needs: []match.Need{{ID: "n", MustHave: []match.Requirement{{Kind: match.RequireOpenSource}}}}})
	ctx := ctxOf(identity.Principal{})
	var got []string
	q := match.Query{PageSize: 3}
	for {
		p, err := svc.NeedMatches(ctx, "n", q)
		if err != nil {
			t.Fatal(err)
		}
		if p.NextPageToken != "" && len(p.Results) != 3 {
			t.Errorf("a page before the last has %d results", len(p.Results))
		}
		for _, r := range p.Results {
			got = append(got, r.ID)
		}
		if p.NextPageToken == "" {
			break
		}
		q.PageToken = p.NextPageToken
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged (-want +got):\n%s", diff)
	}
}

func TestVendorMatchesSkipNeedsItCannotQualifyFor(t *testing.T) {
	t.Parallel()
	needs := []match.Need{
		{ID: "iso", Published: true, MustHave: []match.Requirement{{Kind: match.RequireCertification, Value: "ISO 27001"}}},
		{ID: "open", Published: true, MustHave: []match.Requirement{{Kind: match.RequireOpenSource}}},
		{ID: "free", Published: true},
	}
	svc := match.NewService(vendorIndex{vendors: allVendors, needs: needs})
	for _, tt := range []struct {
		vendor string
		want   []string
	}{
		{"iso-hessen", []string{"iso", "free"}},
		{"open-nationwide", []string{"open", "free"}},
		{"bare-hamburg", []string{"free"}},
	} {
		p, err := svc.VendorMatches(ctxOf(identity.Principal{}), tt.vendor, match.Query{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range p.Results {
			got = append(got, r.ID)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: needs (-want +got):\n%s", tt.vendor, diff)
		}
	}
}
