package refdata

// landRow ties the two numbering schemes of a German Land together. Neither
// source file carries this link (NUTS codes the Länder as DE1…DEG, the AGS as
// 01…16, in different orders), so it is kept here as data; the tests check it
// against both files.
type landRow struct {
	AGS    string // 2-digit AGS Land code
	NUTS1  string // NUTS level-1 code
	Name   string // official German name
	NameEN string // usual English name, accepted as a filter
}

// laender is ordered by AGS Land code.
var laender = [16]landRow{
	{"01", "DEF", "Schleswig-Holstein", "Schleswig-Holstein"},
	{"02", "DE6", "Hamburg", "Hamburg"},
	{"03", "DE9", "Niedersachsen", "Lower Saxony"},
	{"04", "DE5", "Bremen", "Bremen"},
	{"05", "DEA", "Nordrhein-Westfalen", "North Rhine-Westphalia"},
	{"06", "DE7", "Hessen", "Hesse"},
	{"07", "DEB", "Rheinland-Pfalz", "Rhineland-Palatinate"},
	{"08", "DE1", "Baden-Württemberg", "Baden-Württemberg"},
	{"09", "DE2", "Bayern", "Bavaria"},
	{"10", "DEC", "Saarland", "Saarland"},
	{"11", "DE3", "Berlin", "Berlin"},
	{"12", "DE4", "Brandenburg", "Brandenburg"},
	{"13", "DE8", "Mecklenburg-Vorpommern", "Mecklenburg-Western Pomerania"},
	{"14", "DED", "Sachsen", "Saxony"},
	{"15", "DEE", "Sachsen-Anhalt", "Saxony-Anhalt"},
	{"16", "DEG", "Thüringen", "Thuringia"},
}

// landByAGS and landByNUTS1 return nil for codes that are not a Land.
func landByAGS(ags string) *landRow {
	for i := range laender {
		if laender[i].AGS == ags {
			return &laender[i]
		}
	}
	return nil
}

func landByNUTS1(nuts1 string) *landRow {
	for i := range laender {
		if laender[i].NUTS1 == nuts1 {
			return &laender[i]
		}
	}
	return nil
}
