package refdata

import "testing"

// TestKreisNUTS3 checks the derived pairs where a wrong step would show:
// cities, Regierungsbezirke whose NUTS-2 order differs from the AGS order
// (Sachsen), names shared with a municipality elsewhere (Steinburg,
// Dahme, Biberach), and every kind of override.
func TestKreisNUTS3(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"06531": "DE721", // Landkreis Gießen
		"06532": "DE722", // Lahn-Dill-Kreis (Wetzlar)
		"06411": "DE711", // Darmstadt
		"02000": "DE600", // Hamburg
		"03241": "DE929", // Region Hannover
		"03159": "DE91C", // Göttingen
		"05334": "DEA2D", // Städteregion Aachen
		"05358": "DEA26", // Düren
		"14511": "DED41", // Chemnitz
		"14521": "DED42", // Erzgebirgskreis
		"14625": "DED2C", // Bautzen
		"14729": "DED52", // Landkreis Leipzig
		"01061": "DEF0E", // Steinburg
		"01062": "DEF0F", // Stormarn, which has a Gemeinde Steinburg
		"12061": "DE406", // Dahme-Spreewald
		"12072": "DE40H", // Teltow-Fläming, which has Dahme/Mark
		"08426": "DE146", // Biberach
		"08317": "DE134", // Ortenaukreis, which has a Biberach
		"07135": "DEB1C", // Cochem-Zell
		"07141": "DEB1A", // Rhein-Lahn-Kreis
		"15086": "DEE06", // Jerichower Land
		"16054": "DEG0S", // Suhl
		"16056": "DEG0R", // Eisenach, now in the Wartburgkreis
		"16063": "DEG0R", // Wartburgkreis
		"16067": "DEG0C", // Gotha
	}
	tb := loadRegions()
	got := map[string]string{}
	for c, ks := range tb.kreiseOf {
		for _, k := range ks {
			got[k] = c
		}
	}
	for k, c := range want {
		if got[k] != c {
			t.Errorf("Kreis %s: NUTS-3 %q, want %s", k, got[k], c)
		}
	}
	for _, r := range tb.all {
		if r.Kind != Municipality || notKreise[r.Code[:5]] {
			continue
		}
		if r.NUTS3 == "" || r.NUTS3[:3] != r.NUTS1 {
			t.Errorf("%s (%s): NUTS-3 %q outside its Land %s", r.Code, r.Name, r.NUTS3, r.NUTS1)
		}
	}
}
