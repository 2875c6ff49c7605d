package score

import (
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetectLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       Language
	}{
		{"german stop words", "Die Buchung von Terminen in der Verwaltung", German},
		{"english stop words", "Booking of appointments for the council", English},
		{"umlaut decides", "Fahrradstraßen Köln", German},
		{"no evidence falls back", "Roofing 2020", German},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := DetectLanguage(tt.text, German); got != tt.want {
				t.Errorf("DetectLanguage(%q) = %s, want %s", tt.text, got, tt.want)
			}
		})
	}
}

func TestAnalyzeCompounds(t *testing.T) {
	t.Parallel()
	a := newAnalyzer()
	stems := func(text string) []string { return analyzedStems(a, text, German) }
	tests := []struct {
		name, text string
		want       []string // stems that must be among the tokens
	}{
		{"compound splits", "Terminbuchung", []string{"buchung", "termin"}},
		{"phrase meets compound", "Buchung von Terminen", []string{"buchung", "termin"}},
		{"linking s", "Verkehrsplanung", []string{"planung", "verkehr"}},
		{"stop words go", "die und der Schule", []string{"schul"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := stems(tt.text)
			for _, w := range tt.want {
				if !slices.Contains(got, w) {
					t.Errorf("analyze(%q) = %q, want it to contain %q", tt.text, got, w)
				}
			}
			for _, s := range []string{"die", "und", "der"} {
				if slices.Contains(got, s) {
					t.Errorf("analyze(%q) kept stop word %q", tt.text, s)
				}
			}
		})
	}
}

func TestCPVLevel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		need, vendor string
		want         string // "" for no match
	}{
		{"72212", "72212", LevelExact},
		{"72212", "722121", LevelExact},    // vendor inside the need's code
		{"7221", "72212", LevelClass},      // inside, but the need names a class
		{"722", "72212", LevelGroup},       // … a group
		{"72", "72212", LevelDivision},     // … a division
		{"72", "72", LevelDivision},        // the same division code
		{"722121", "72212", LevelCategory}, // vendor broader
		{"72212", "72213", LevelClass},
		{"72212", "7229", LevelGroup},
		{"72212", "73", ""},
		{"72212", "724", LevelDivision},
	}
	for _, tt := range tests {
		t.Run(tt.need+"/"+tt.vendor, func(t *testing.T) {
			t.Parallel()
			lvl, ok := cpvLevel(tt.need, tt.vendor)
			got := ""
			if ok {
				got = levelNames[lvl]
			}
			if got != tt.want {
				t.Errorf("cpvLevel(%s, %s) = %q, want %q", tt.need, tt.vendor, got, tt.want)
			}
		})
	}
}

func newTestIndex(t *testing.T, vs ...Vendor) *Index {
	t.Helper()
	x := NewIndex(DefaultWeights)
	for _, v := range vs {
		if err := x.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

func componentValue(r Result, name string) (float64, bool) {
	for _, c := range r.Explanation.Components {
		if c.Component == name {
			return c.Value, true
		}
	}
	return 0, false
}

func TestComponents(t *testing.T) {
	t.Parallel()
	vendor := Vendor{
		ID: "v", Name: "Termin GmbH", Description: "Online-Terminbuchung für Bürgerämter",
		Capabilities: []string{"Terminverwaltung"}, Certifications: []string{"ISO 27001"},
		CPVCodes: []string{"72212000"}, Regions: []string{"DE1"}, ProductFacts: map[string]string{"Lizenz": "EUPL-1.2"},
	}
	tests := []struct {
		name      string
		need      Need
		component string
		want      float64
	}{
		{"text compound meets phrase", Need{Title: "Buchung von Terminen"}, ComponentText, -1},
		{"cpv exact", Need{Title: "Software", CPVCodes: []string{"72212000"}}, ComponentCPV, 1},
		{"cpv need division finds child at division level", Need{Title: "x", CPVCodes: []string{"72000000"}}, ComponentCPV, 0.2},
		{"cpv need class finds child at class level", Need{Title: "x", CPVCodes: []string{"72210000"}}, ComponentCPV, 0.6},
		{"cpv class", Need{Title: "x", CPVCodes: []string{"72211000"}}, ComponentCPV, 0.6},
		{"cpv division", Need{Title: "x", CPVCodes: []string{"72400000"}}, ComponentCPV, 0.2},
		{"capability", Need{Title: "Termine", Capabilities: []string{"Terminverwaltung", "Videotelefonie"}}, ComponentCapabilities, 0.5},
		{"certification", Need{Title: "Termine", Certifications: []string{"iso-27001"}}, ComponentCertifications, 1},
		{"region inside served Land", Need{Title: "Termine", Region: "DE111"}, ComponentRegion, 1},
		{"region outside", Need{Title: "Termine", Region: "DE3"}, ComponentRegion, 0},
		{"product fact", Need{Title: "Termine", ProductFacts: map[string]string{"lizenz": "eupl-1.2"}}, ComponentProductFacts, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := newTestIndex(t, vendor)
			res, err := x.Rank(tt.need, 10, Filters{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 {
				t.Fatalf("Rank = %d results, want 1", len(res))
			}
			got, ok := componentValue(res[0], tt.component)
			if !ok {
				t.Fatalf("no %s component in %+v", tt.component, res[0].Explanation)
			}
			if tt.want < 0 {
				if got <= 0 {
					t.Errorf("%s = %v, want > 0", tt.component, got)
				}
				return
			}
			if d := got - tt.want; d > 1e-9 || d < -1e-9 {
				t.Errorf("%s = %v, want %v", tt.component, got, tt.want)
			}
		})
	}
}

// A stated capability is matched whole, procedural words included, though
// text relevance leaves those out: "Service design" is not "Web design".
func TestCapabilityKeepsProceduralWords(t *testing.T) {
	t.Parallel()
	web := Vendor{ID: "web", Name: "Pixel Ltd", Description: "Websites for councils", Capabilities: []string{"Web design"}}
	svc := Vendor{ID: "svc", Name: "Journey Ltd", Description: "User research for councils", Capabilities: []string{"Service design"}}
	x := newTestIndex(t, web, svc)
	need := Need{Title: "Redesign of the parking permit journey for councils", Capabilities: []string{"Service design"}}
	for _, rank := range []func(Need, int, Filters) ([]Result, error){x.Rank, x.RankExhaustive} {
		res, err := rank(need, 10, Filters{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, r := range res {
			got[r.VendorID], _ = componentValue(r, ComponentCapabilities)
		}
		if want := map[string]float64{"web": 0, "svc": 1}; !maps.Equal(got, want) {
			t.Errorf("capability values = %v, want %v", got, want)
		}
	}
}

// randomIndex builds vendors from a small vocabulary so that they overlap.
func randomVendors(r *rand.Rand, n int) []Vendor {
	words := []string{"Terminbuchung", "Software", "Straßenreinigung", "Schule", "Daten", "Verkehr", "Planung", "Buchung", "Beratung", "Bau"}
	codes := []string{"72212000", "72000000", "90610000", "80100000", "71300000", "45000000", "79400000"}
	vs := make([]Vendor, n)
	for i := range vs {
		v := Vendor{ID: string(rune('a'+i%26)) + string(rune('a'+i/26))}
		for range 1 + r.IntN(6) {
			v.Description += words[r.IntN(len(words))] + " "
		}
		v.Name = words[r.IntN(len(words))]
		for range r.IntN(3) {
			v.CPVCodes = append(v.CPVCodes, codes[r.IntN(len(codes))])
		}
		vs[i] = v
	}
	return vs
}

func TestContributionsAddUp(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	x := newTestIndex(t, randomVendors(r, 60)...)
	need := Need{Title: "Buchung von Terminen", Description: "Software für die Verwaltung", CPVCodes: []string{"72212000"}}
	res, err := x.Rank(need, 100, Filters{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) == 0 {
		t.Fatal("no results")
	}
	checkAddsUp(t, res)
}

// checkAddsUp checks that every result's matches add up to its components'
// points and those to its score, within 0–100.
func checkAddsUp(t *testing.T, res []Result) {
	t.Helper()
	for _, rs := range res {
		var sum float64
		for _, c := range rs.Explanation.Components {
			var ms float64
			for _, m := range c.Matches {
				ms += m.Points
			}
			if ms != c.Points {
				t.Errorf("%s %s: matches add up to %v, points %v", rs.VendorID, c.Component, ms, c.Points)
			}
			sum += c.Points
		}
		if sum != rs.Score {
			t.Errorf("%s: contributions add up to %v, score %v", rs.VendorID, sum, rs.Score)
		}
		if rs.Score < 0 || rs.Score > 100+1e-9 {
			t.Errorf("%s: score %v outside 0–100", rs.VendorID, rs.Score)
		}
		if rs.Explanation.WeightsVersion != DefaultWeights.Version {
			t.Errorf("version %q, want %q", rs.Explanation.WeightsVersion, DefaultWeights.Version)
		}
	}
}

func scoreOf(t *testing.T, x *Index, need Need, id string) float64 {
	t.Helper()
	res, err := x.Rank(need, 1000, Filters{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.VendorID == id {
			return r.Score
		}
	}
	return 0
}

// Adding a CPV code that matches the need never lowers the vendor's score.
func TestAddingMatchingCPVNeverLowers(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 50 {
		vs := randomVendors(r, 20)
		need := Need{Title: "Terminbuchung Software", CPVCodes: []string{"72212000", "79400000"}}
		x := newTestIndex(t, vs...)
		v := vs[i%len(vs)]
		before := scoreOf(t, x, need, v.ID)
		v.CPVCodes = append(slices.Clone(v.CPVCodes), need.CPVCodes[r.IntN(2)])
		if err := x.Add(v); err != nil {
			t.Fatal(err)
		}
		if after := scoreOf(t, x, need, v.ID); after < before {
			t.Errorf("round %d: %s score fell from %v to %v after adding a matching code", i, v.ID, before, after)
		}
	}
}

// The ranking does not depend on the order vendors were added in, nor on
// removals of vendors added in between.
func TestRankingInvariantToInsertionOrder(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	vs := randomVendors(r, 80)
	need := Need{Title: "Planung Verkehr", Description: "Daten zur Straßenreinigung", CPVCodes: []string{"90610000"}}
	want, err := newTestIndex(t, vs...).Rank(need, 50, Filters{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		shuffled := slices.Clone(vs)
		r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
		x := newTestIndex(t, shuffled...)
		extra := Vendor{ID: "zz-extra", Name: "Verkehr", Description: "Planung"}
		if err := x.Add(extra); err != nil {
			t.Fatal(err)
		}
		if !x.Remove(extra.ID) {
			t.Fatal("Remove found nothing")
		}
		got, err := x.Rank(need, 50, Filters{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("shuffle %d: ranking differs (-want +got):\n%s", i, diff)
		}
	}
}

func TestTiesByVendorID(t *testing.T) {
	t.Parallel()
	x := newTestIndex(t,
		Vendor{ID: "b", Name: "Schule"}, Vendor{ID: "a", Name: "Schule"}, Vendor{ID: "c", Name: "Schule"})
	res, err := x.Rank(Need{Title: "Schule"}, 10, Filters{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range res {
		ids = append(ids, r.VendorID)
	}
	if diff := cmp.Diff([]string{"a", "b", "c"}, ids); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	x := newTestIndex(t,
		Vendor{ID: "hh", Name: "Schule", Regions: []string{"DE6"}, Certifications: []string{"BSI C5"}},
		Vendor{ID: "by", Name: "Schule", Regions: []string{"DE2"}})
	tests := []struct {
		name string
		f    Filters
		want []string
	}{
		{"none", Filters{}, []string{"by", "hh"}},
		{"region", Filters{Regions: []string{"DE6"}}, []string{"hh"}},
		{"certification", Filters{Certifications: []string{"bsi-c5"}}, []string{"hh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := x.Rank(Need{Title: "Schule"}, 10, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range res {
				ids = append(ids, r.VendorID)
			}
			if diff := cmp.Diff(tt.want, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

// Removing every vendor leaves no posting behind, whatever was re-added
// under the same ids in between.
func TestRemoveClearsPostings(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 8))
	vs := randomVendors(r, 40)
	certs := []string{"ISO 27001", "iso-27001", "BSI C5"}
	regions := []string{"DE", "DE2", "DE21", "DE2"}
	for i := range vs {
		vs[i].Capabilities = []string{"Terminverwaltung", "Software-Entwicklung"}[:1+i%2]
		vs[i].Certifications = certs[:i%4]
		vs[i].Regions = regions[:i%5]
		if i%3 == 0 {
			vs[i].ProductFacts = map[string]string{"Lizenz": "MIT", "lizenz ": "EUPL"}
		}
	}
	x := newTestIndex(t, vs...)
	for i, v := range vs {
		v.ID = vs[(i+1)%len(vs)].ID
		if err := x.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range vs {
		x.Remove(v.ID)
	}
	if x.Len() != 0 {
		t.Fatalf("Len = %d after removing all", x.Len())
	}
	for name, post := range map[string]map[string][]int32{
		"cpv": x.cpvPost, "inferred": x.infPost, "cap": x.capPost, "cert": x.certPost, "region": x.regionPost, "fact": x.factPost,
	} {
		if len(post) != 0 {
			t.Errorf("%s postings left: %v", name, post)
		}
	}
	for id, p := range x.postings {
		if len(p) != 0 {
			t.Errorf("term %q still posted: %v", x.terms[id], p)
		}
	}
}

// Rankings run alongside adds and removes without data races (go test
// -race), and the pooled scratch they share keeps nothing from one ranking
// to the next: once the index is quiet, Rank still gives the exhaustive
// ranking.
func TestConcurrentRankAndAdd(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 10))
	vs := randomVendors(r, 120)
	for i := range vs {
		vs[i].Regions = []string{"DE", "DE2", "DE1"}[i%3 : i%3+1]
		vs[i].Certifications = []string{"ISO 27001"}[:i%2]
	}
	x := newTestIndex(t, vs[:60]...)
	need := Need{Title: "Buchung von Terminen", Description: "Software für Schulen", CPVCodes: []string{"72212000"},
		Region: "DE21", Certifications: []string{"ISO 27001"}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, v := range vs[60:] {
			if err := x.Add(v); err != nil {
				t.Error(err)
				return
			}
			x.Remove(vs[i].ID)
		}
	}()
	for range 4 {
		t.Run("rank", func(t *testing.T) {
			t.Parallel()
			for range 50 {
				if _, err := x.Rank(need, 5, Filters{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	t.Cleanup(func() {
		<-done
		want, err := x.RankExhaustive(need, 5, Filters{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := x.Rank(need, 5, Filters{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("after the changes (-want +got):\n%s", diff)
		}
	})
}

func TestAnalyzeCleansAndFolds(t *testing.T) {
	t.Parallel()
	a := newAnalyzer()
	stems := func(text string, lang Language) []string { return analyzedStems(a, text, lang) }
	tests := []struct {
		name, a, b string
		lang       Language
	}{
		{"markup is not words", "<ul><li>Standorte</li></ul> der&nbsp;Schulen<br />", "Standorte der Schulen", German},
		{"entities decoded", "Roads &amp; bridges", "Roads and bridges", English},
		{"umlauts spelt out", "Koeln Gebaeude Uebersicht", "Köln Gebäude Übersicht", German},
		{"procedural words go", "Provision of parking enforcement services: contract awarded, Lot 2", "parking enforcement", English},
		{"procedural words go in German", "Auftrag: Schulreinigung, Lose 1 bis 3", "Schulreinigung", German},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, want := stems(tt.a, tt.lang), stems(tt.b, tt.lang); !slices.Equal(got, want) {
				t.Errorf("analyze(%q) = %q, want %q as for %q", tt.a, got, want, tt.b)
			}
		})
	}
	// E-procurement is a subject: its words stay.
	for _, tc := range []struct {
		text string
		lang Language
		want []string
	}{
		{"E-Vergabe und Ausschreibungen", German, []string{"vergabe", "ausschreibung"}},
		{"e-procurement and tender management", English, []string{"procurement", "tender"}},
	} {
		got := stems(tc.text, tc.lang)
		for _, w := range tc.want {
			if s := stem(tc.lang, w); !slices.Contains(got, s) {
				t.Errorf("analyze(%q) = %q, want it to keep %q", tc.text, got, s)
			}
		}
	}
	// A compound keeps its subject part, not its procedural one.
	if got, leistung := stems("Reinigungsleistungen", German), stem(German, "leistungen"); !slices.Contains(got, "reinig") || slices.Contains(got, leistung) {
		t.Errorf("analyze(Reinigungsleistungen) = %q, want the part reinig and not %q", got, leistung)
	}
}

func TestFoldUmlautSpelling(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"koeln", "köln"},
		{"gebaeude", "gebäude"},
		{"uebersicht", "übersicht"},
		{"feuer", "feuer"},   // a u between vowels stays
		{"steuer", "steuer"}, // …
		{"quelle", "quelle"}, // as does ue after q
		{"poet", "pöt"},      // folded alike on both sides, so it meets itself
	} {
		if got := foldUmlautSpelling(tt.in); got != tt.want {
			t.Errorf("foldUmlautSpelling(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// analyzedStems is the sorted, distinct stems a finds in text.
func analyzedStems(a *analyzer, text string, lang Language) []string {
	var out []string
	for _, tk := range a.analyze(text, lang, nil) {
		out = append(out, tk.stem)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestSplitAtHead(t *testing.T) {
	t.Parallel()
	a := newAnalyzer()
	tests := []struct {
		word string
		want []string // the parts, as stems; nil for no split
	}{
		// "Europa" is no known part, "Wahl" is: split at the head.
		{"europawahlen", []string{"europa", "wahl"}},
		{"studierendenzahlen", []string{"studier", "zahl"}},
		// All parts known: the ordinary split, not the head's.
		{"terminbuchung", []string{"termin", "buchung"}},
		// No known head: no split.
		{"einrichtungen", nil},
		// The longest compounds in use split; a longer run of letters,
		// whose split would cost the cube of its length, does not.
		{"rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz", []string{"rindfleischetikettierungsuberwachungsaufgabenubertrag", "gesetz"}},
		{strings.Repeat("termin", 11), nil},
	}
	for _, tt := range tests {
		if got := a.split(tt.word, nil); !slices.Equal(got, tt.want) {
			t.Errorf("split(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestBridgePairsOneInferredSide(t *testing.T) {
	t.Parallel()
	// Neither side states codes: the bridge would pair two guesses, so it
	// does not apply and text carries the whole score.
	x := newTestIndex(t, Vendor{ID: "v", Name: "Reinigung", Description: "Straßenreinigung und Winterdienst"})
	res, err := x.Rank(Need{Title: "Straßenreinigung"}, 10, Filters{})
	if err != nil || len(res) != 1 {
		t.Fatalf("Rank = %v, %v", res, err)
	}
	if _, ok := componentValue(res[0], ComponentCPVBridge); ok {
		t.Errorf("bridge applies without stated codes: %+v", res[0].Explanation)
	}
	// A vendor that states its code meets a need in words through it.
	x = newTestIndex(t, Vendor{ID: "v", Name: "Kehr GmbH", CPVCodes: []string{"90610000"}})
	res, err = x.Rank(Need{Title: "Straßenreinigung"}, 10, Filters{})
	if err != nil || len(res) != 1 {
		t.Fatalf("Rank = %v, %v", res, err)
	}
	if v, _ := componentValue(res[0], ComponentCPVBridge); v <= 0 {
		t.Errorf("bridge = %v, want > 0: %+v", v, res[0].Explanation)
	}
	for _, c := range res[0].Explanation.Components {
		for _, m := range c.Matches {
			if c.Component == ComponentCPVBridge && !m.Inferred {
				t.Errorf("bridge match %+v not marked inferred", m)
			}
		}
	}
}
