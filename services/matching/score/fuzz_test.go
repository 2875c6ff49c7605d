package score

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Whatever text a vendor or a need holds, analysis keeps its promises
// (non-empty stems, the same answer twice, procedural words only dropped),
// and ranking gives the exhaustive ranking with explanations that add up.
func FuzzRank(f *testing.F) {
	f.Add("Terminbuchung GmbH", "Online-Terminbuchung für Bürgerämter; Koeln", "Service design",
		"Buchung von Terminen", "<p>Vergabe: Rahmenvertrag Los 2</p>", "Service design")
	f.Add("Roads Ltd", "Provision of highway maintenance services. Lot 1.", "Web design",
		"Highway maintenance contract", "The contract was awarded to Roads Ltd.", "design")
	f.Add("", "", "", "x", "", "")
	x := NewIndex(DefaultWeights)
	for _, v := range randomVendors(rand.New(rand.NewPCG(3, 4)), 60) {
		if err := x.Add(v); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, name, desc, capability, title, problem, needCap string) {
		for _, lang := range []Language{German, English} {
			a := x.an.analyze(desc, lang, nil)
			if !slices.Equal(a, x.an.analyze(desc, lang, nil)) {
				t.Fatalf("analyze(%q) differs between two calls", desc)
			}
			all := x.an.analyzeRequirement(desc, lang)
			for _, tk := range a {
				if tk.stem == "" {
					t.Fatalf("analyze(%q) yields an empty stem", desc)
				}
				if !slices.Contains(all, tk) {
					t.Fatalf("analyze(%q) yields %v, which analyzeRequirement does not", desc, tk)
				}
			}
		}

		v := Vendor{ID: "fuzz", Name: name, Description: desc, Capabilities: []string{capability}, CPVCodes: []string{"72212000"}}
		if err := x.Add(v); err != nil {
			t.Fatal(err)
		}
		defer x.Remove(v.ID)
		need := Need{Title: title, Description: problem, Capabilities: []string{needCap}, CPVCodes: []string{"72000000"}}
		got, err := x.Rank(need, 20, Filters{})
		if err != nil {
			t.Fatal(err)
		}
		want, err := x.RankExhaustive(need, 20, Filters{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("Rank differs from the exhaustive ranking (-want +got):\n%s", diff)
		}
		checkAddsUp(t, got)
	})
}
