package refdata

import (
	"fmt"
	"slices"
	"strings"
)

// The data has no table from Kreis (the 5-digit AGS prefix) to NUTS-3,
// although the two are the same areas: the NUTS-3 regions of Germany are
// its Kreise and kreisfreie Städte. kreisNUTS3 derives it from the two
// tables, in steps that each rest on a fact of how the codes are made:
//
//  1. A kreisfreie Stadt is a Kreis of one municipality, and its NUTS-3
//     label is that municipality's name ("Darmstadt, Kreisfreie Stadt").
//  2. Eurostat numbered the NUTS-3 regions of each NUTS-2 region in the
//     order of their Kreise's AGS, so within a Regierungsbezirk (the AGS's
//     third digit, whose NUTS-2 region its cities show) the Landkreise pair
//     up in order.
//  3. Where reforms broke that order, kreisOverrides says so.
//
// Landkreise are not matched by name: too many share it with a municipality
// elsewhere (the Gemeinde Steinburg lies in Kreis Stormarn, Teltow in
// Potsdam-Mittelmark). The result is checked: every Kreis gets one NUTS-3
// region of its Land and every NUTS-3 region at least one Kreis.
//
// kreisOverrides are the pairs the order gets wrong, where NUTS codes were
// given anew after a reform: Hannover and Aachen became a Region and a
// Städteregion; Rheinland-Pfalz's Cochem-Zell, Rhein-Hunsrück-Kreis and
// Westerwaldkreis and four Kreise of Sachsen-Anhalt were renumbered; NUTS 2021 renumbered Thüringen's Kreise after Eisenach
// joined the Wartburgkreis (the municipality table, of 2019, still has
// Eisenach as a Kreis of its own).
var kreisOverrides = map[string]string{
	"03241": "DE929", // Region Hannover
	"05334": "DEA2D", // Städteregion Aachen
	"07135": "DEB1C", // Cochem-Zell
	"07140": "DEB1D", // Rhein-Hunsrück-Kreis
	"07143": "DEB1B", // Westerwaldkreis
	"15083": "DEE07", // Börde
	"15084": "DEE08", // Burgenlandkreis
	"15085": "DEE09", // Harz
	"15086": "DEE06", // Jerichower Land
	"16056": "DEG0R", // Eisenach, since 2021 in the Wartburgkreis
	"16061": "DEG06", // Eichsfeld
	"16063": "DEG0R", // Wartburgkreis
	"16064": "DEG09", // Unstrut-Hainich-Kreis
	"16065": "DEG0A", // Kyffhäuserkreis
	"16066": "DEG0Q", // Schmalkalden-Meiningen
	"16070": "DEG0T", // Ilm-Kreis
	"16071": "DEG0G", // Weimarer Land
	"16072": "DEG0V", // Sonneberg
	"16073": "DEG0U", // Saalfeld-Rudolstadt
	"16074": "DEG0J", // Saale-Holzland-Kreis
	"16075": "DEG0K", // Saale-Orla-Kreis
	"16076": "DEG0L", // Greiz
	"16077": "DEG0M", // Altenburger Land
}

// notKreise are AGS prefixes of areas outside every Kreis: coastal waters
// and the German-Luxembourg condominium. They lie in their Land only.
var notKreise = map[string]bool{"13000": true, "07000": true}

// kreisNUTS3 returns the NUTS-3 region of every Kreis. nuts3 maps the
// NUTS-3 codes to their labels; municipalities maps each Kreis to the
// names of its municipalities.
func kreisNUTS3(nuts3 map[string]string, municipalities map[string][]string) (map[string]string, error) {
	out := make(map[string]string, len(municipalities))
	for _, l := range laender {
		var kreise, regions []string
		for k := range municipalities {
			if k[:2] == l.AGS && !notKreise[k] {
				kreise = append(kreise, k)
			}
		}
		for c := range nuts3 {
			if c[:3] == l.NUTS1 {
				regions = append(regions, c)
			}
		}
		slices.Sort(kreise)
		slices.Sort(regions)
		pairs, err := pairLand(kreise, regions, nuts3, municipalities)
		if err != nil {
			return nil, fmt.Errorf("in %s: %w", l.Name, err)
		}
		for k, c := range pairs {
			out[k] = c
		}
	}
	return out, nil
}

func pairLand(kreise, regions []string, nuts3 map[string]string, municipalities map[string][]string) (map[string]string, error) {
	pairs := map[string]string{}
	taken := map[string]bool{}
	pin := func(k, c string) {
		pairs[k] = c
		taken[c] = true
	}
	for k, c := range kreisOverrides {
		if slices.Contains(kreise, k) {
			pin(k, c)
		}
	}
	// 1: the cities, by name.
	for _, c := range regions {
		if taken[c] || !isCityLabel(nuts3[c]) {
			continue
		}
		name := cityName(nuts3[c])
		var fits []string
		for _, k := range kreise {
			if _, done := pairs[k]; !done && len(municipalities[k]) == 1 && slices.Contains(municipalityNames(municipalities[k][0]), name) {
				fits = append(fits, k)
			}
		}
		if len(fits) == 1 {
			pin(fits[0], c)
		}
	}
	rbNUTS2 := map[string]string{}
	for k, c := range pairs {
		if _, override := kreisOverrides[k]; !override {
			rbNUTS2[k[:3]] = c[:4]
		}
	}
	// 2: the rest in order, per Regierungsbezirk and its NUTS-2 region.
	for _, rb := range distinct(kreise, 3) {
		var ks, cs []string
		for _, k := range kreise {
			if _, done := pairs[k]; !done && k[:3] == rb {
				ks = append(ks, k)
			}
		}
		n2, ok := rbNUTS2[rb]
		for _, c := range regions {
			if !taken[c] && (!ok || c[:4] == n2) {
				cs = append(cs, c)
			}
		}
		if len(ks) > len(cs) {
			return nil, fmt.Errorf("no NUTS-3 region left for the Kreise %v (left: %v)", ks, cs)
		}
		for i, k := range ks {
			pin(k, cs[i])
		}
	}
	for _, c := range regions {
		if !taken[c] {
			return nil, fmt.Errorf("NUTS-3 region %s (%s) has no Kreis", c, nuts3[c])
		}
	}
	return pairs, nil
}

// distinct returns the distinct prefixes of length n of the sorted codes.
func distinct(codes []string, n int) []string {
	var out []string
	for _, c := range codes {
		if len(out) == 0 || out[len(out)-1] != c[:n] {
			out = append(out, c[:n])
		}
	}
	return out
}

func isCityLabel(label string) bool {
	return strings.HasSuffix(label, ", Kreisfreie Stadt") || strings.HasSuffix(label, ", Stadtkreis")
}

// cityName is the name a city's NUTS-3 label gives: "Darmstadt,
// Kreisfreie Stadt" → darmstadt.
func cityName(label string) string {
	base, _, _ := strings.Cut(label, ",")
	return strings.ToLower(strings.TrimSpace(base))
}

// municipalityNames are the names of a municipality as the table spells
// it: "Gießen, Universitätsstadt" → gießen; "Saalfeld/Saale" → saalfeld/saale,
// saalfeld; "Bautzen / Budyšin" → bautzen / budyšin, bautzen.
func municipalityNames(name string) []string {
	base, _, _ := strings.Cut(name, ",")
	base = strings.ToLower(strings.TrimSpace(base))
	names := []string{base}
	if first, _, ok := strings.Cut(base, "/"); ok {
		names = append(names, strings.TrimSpace(first))
	}
	return names
}

// KreisNUTS3 returns the NUTS-3 region of a Kreis, given as its 5-digit
// AGS prefix ("06531" → "DE721"); false for anything else.
func KreisNUTS3(kreis string) (string, bool) {
	r, ok := loadRegions().nuts3OfKreis[kreis]
	return r, ok
}
