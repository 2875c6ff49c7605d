package readmodel_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	needsv1 "github.com/govmatch/govmatch/proto/govmatch/needs/v1"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/match"
	"github.com/govmatch/govmatch/services/matching/readmodel"
)

func requirement(k needsv1.Requirement_Kind, value string, must bool) *needsv1.Requirement {
	return &needsv1.Requirement{Kind: k, Value: value, MustHave: must}
}

// TestRequirementsReachAnswers follows a need's requirements from its event
// to the ranking: must-haves leave vendors out and are counted, and a
// preview of the same need answers the same.
func TestRequirementsReachAnswers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	certified := vendor("certified", "TerminFix", bookingDesc, "72212000")
	certified.Certifications = []string{"ISO 27001"}
	certified.Products = []*vendorsv1.Product{{DisplayName: "TerminFix Cloud", Hosting: vendorsv1.Product_HOSTING_GERMANY}}
	open := vendor("open", "OpenTermin", bookingDesc, "72212000")
	open.RegionsServed, open.Remote = []string{"DE2"}, true
	open.Products = []*vendorsv1.Product{{DisplayName: "OpenTermin", Licence: "EUPL-1.2", OpenSource: true, Hosting: vendorsv1.Product_HOSTING_ON_PREMISES}}
	plain := vendor("plain", "Termin AG", bookingDesc, "72212000")
	plain.RegionsServed = []string{"DE6"}
	for i, v := range []*vendorsv1.Vendor{certified, open, plain} {
		h.publish("vendors", v.GetName(), int64(i+1), &vendorsv1.VendorCreated{Vendor: v})
	}

	tests := []struct {
		name      string
		reqs      []*needsv1.Requirement
		remote    bool
		want      []string // ranked, in any order
		wantOut   []int32
		wantTotal int
	}{
		{name: "nice-to-have only", reqs: []*needsv1.Requirement{requirement(needsv1.Requirement_KIND_CERTIFICATION, "iso-27001", false)},
			want: []string{"certified", "open", "plain"}},
		{name: "must-have certification", reqs: []*needsv1.Requirement{requirement(needsv1.Requirement_KIND_CERTIFICATION, "ISO 27001", true)},
			want: []string{"certified"}, wantOut: []int32{2}, wantTotal: 2},
		{name: "hosting in the EU, open source", reqs: []*needsv1.Requirement{
			requirement(needsv1.Requirement_KIND_HOSTING, "eu", true), requirement(needsv1.Requirement_KIND_OPEN_SOURCE, "", true),
		}, want: nil, wantOut: []int32{2, 2}, wantTotal: 3},
		{name: "serves Gießen", reqs: []*needsv1.Requirement{requirement(needsv1.Requirement_KIND_SERVES_REGION, "", true)},
			want: []string{"certified"}, wantOut: []int32{2}, wantTotal: 2},
		{name: "serves Gießen or remotely", remote: true, reqs: []*needsv1.Requirement{requirement(needsv1.Requirement_KIND_SERVES_REGION, "", true)},
			want: []string{"certified", "open"}, wantOut: []int32{1}, wantTotal: 1},
	}
	for i, tt := range tests {
		id := fmt.Sprintf("req-%d", i)
		n := need(id, "stadt-giessen", needsv1.Need_STATE_PUBLISHED, bookingNeedTitle, bookingProblem, "72212000")
		n.PlacesOfPerformance, n.RemotePossible, n.Requirements = []string{"06531005"}, tt.remote, tt.reqs
		h.publish("needs", id, 1, &needsv1.NeedCreated{Need: n})

		saved, err := h.svc.NeedMatches(giessen, id, match.Query{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		preview, err := h.svc.Preview(giessen, readmodel.MatchNeed(n), match.Query{})
		if err != nil {
			t.Fatalf("%s: preview: %v", tt.name, err)
		}
		if diff := cmp.Diff(saved, preview); diff != "" {
			t.Errorf("%s: preview differs from the saved need (-saved +preview):\n%s", tt.name, diff)
		}
		got := ids(saved)
		slices.Sort(got)
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("%s: ranked (-want +got):\n%s", tt.name, diff)
		}
		var out []int32
		for _, l := range saved.LeftOut {
			out = append(out, int32(l.Count))
		}
		if diff := cmp.Diff(tt.wantOut, out); diff != "" || saved.LeftOutTotal != tt.wantTotal {
			t.Errorf("%s: left out %v in total %d, want %v in total %d", tt.name, out, saved.LeftOutTotal, tt.wantOut, tt.wantTotal)
		}
	}

	// A vendor is not pointed to a need it cannot qualify for.
	if p, err := h.svc.VendorMatches(anonymous, "plain", match.Query{}); err != nil || !slices.Equal(ids(p), []string{"req-0"}) {
		t.Errorf("plain vendor's needs: %v, %v; want only the one without must-haves", ids(p), err)
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

// TestNiceToHaveNeverLowersScore is a property test: adding a nice-to-have
// requirement that a vendor meets never lowers that vendor's score, and
// never drops it from the ranking.
func TestNiceToHaveNeverLowersScore(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(2026, 11))
	words := []string{"Terminbuchung", "Bürgeramt", "Software", "Cloud", "Akte", "Portal", "Antrag", "digital", "Verwaltung", "Schule"}
	certs := []string{"iso-27001", "bsi-c5", "bitv-2-0", "tisax"}
	caps := []string{"terminbuchung", "barrierefreiheit", "e-akte", "formulare"}
	hostings := []vendorsv1.Product_Hosting{vendorsv1.Product_HOSTING_GERMANY, vendorsv1.Product_HOSTING_EU, vendorsv1.Product_HOSTING_ON_PREMISES, vendorsv1.Product_HOSTING_OTHER}
	hostingValue := map[vendorsv1.Product_Hosting]string{vendorsv1.Product_HOSTING_GERMANY: "germany", vendorsv1.Product_HOSTING_EU: "eu", vendorsv1.Product_HOSTING_ON_PREMISES: "on_premises"}
	pick := func(from []string, n int) []string {
		out := slices.Clone(from)
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out[:n]
	}
	text := func(n int) string {
		s := ""
		for _, w := range pick(words, n) {
			s += w + " "
		}
		return s
	}

	h := newHarness(t)
	vendors := map[string]*vendorsv1.Vendor{}
	for i := range 40 {
		v := vendor(fmt.Sprintf("v%02d", i), text(2), text(5), []string{"72212000", "48000000", "79000000"}[rng.IntN(3)])
		v.Certifications = pick(certs, rng.IntN(3))
		v.Capabilities = pick(caps, rng.IntN(3))
		for range rng.IntN(3) {
			v.Products = append(v.Products, &vendorsv1.Product{DisplayName: text(1), OpenSource: rng.IntN(2) == 0, Hosting: hostings[rng.IntN(len(hostings))]})
		}
		vendors[v.GetName()[len("vendors/"):]] = v
		h.publish("vendors", v.GetName(), 1, &vendorsv1.VendorCreated{Vendor: v})
	}

	// met lists nice-to-have requirements v meets.
	met := func(v *vendorsv1.Vendor) []*needsv1.Requirement {
		var out []*needsv1.Requirement
		for _, c := range v.GetCertifications() {
			out = append(out, requirement(needsv1.Requirement_KIND_CERTIFICATION, c, false))
		}
		for _, c := range v.GetCapabilities() {
			out = append(out, requirement(needsv1.Requirement_KIND_CAPABILITY, c, false))
		}
		for _, p := range v.GetProducts() {
			if p.GetOpenSource() {
				out = append(out, requirement(needsv1.Requirement_KIND_OPEN_SOURCE, "", false))
			}
			if hv, ok := hostingValue[p.GetHosting()]; ok {
				out = append(out, requirement(needsv1.Requirement_KIND_HOSTING, hv, false))
			}
		}
		return out
	}
	scores := func(n *needsv1.Need) map[string]float64 {
		t.Helper()
		p, err := h.svc.Preview(giessen, readmodel.MatchNeed(n), match.Query{PageSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, r := range p.Results {
			out[r.ID] = r.Score
		}
		return out
	}

	checked := 0
	for trial := range 60 {
		base := &needsv1.Need{Title: text(2), ProblemStatement: text(4)}
		if rng.IntN(2) == 0 {
			base.CpvCodes = []string{"72212000"}
		}
		if rng.IntN(2) == 0 {
			base.PlacesOfPerformance = []string{"DE7"}
		}
		base.RequiredCertifications = pick(certs, rng.IntN(2))
		base.OpenSourceRequired = rng.IntN(4) == 0
		for _, r := range met(vendors[fmt.Sprintf("v%02d", rng.IntN(40))]) {
			if rng.IntN(3) == 0 {
				base.Requirements = append(base.Requirements, r)
			}
		}
		before := scores(base)
		for id, v := range vendors {
			if _, ranked := before[id]; !ranked {
				continue
			}
			for _, r := range met(v) {
				more := proto.Clone(base).(*needsv1.Need)
				more.Requirements = append(more.Requirements, r)
				after, ok := scores(more)[id]
				if !ok || after < before[id]-1e-9 {
					t.Fatalf("trial %d: adding %v, which %s meets, took its score from %.6f to %.6f (ranked: %v)\nneed: %v",
						trial, r, id, before[id], after, ok, base)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Errorf("only %d cases checked", checked)
	}
}
