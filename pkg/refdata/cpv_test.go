package refdata

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// errText lets table tests compare a result and its error message in one
// cmp.Diff.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestNormalizeCPV(t *testing.T) {
	t.Parallel()
	type result struct {
		Code, Err string
	}
	tests := []struct {
		name string
		in   string
		want result
	}{
		{"bare code", "72212000", result{Code: "72212000"}},
		{"with check digit", "72212000-4", result{Code: "72212000"}},
		{"division", "72000000-5", result{Code: "72000000"}},
		{"leading zero", "03100000", result{Code: "03100000"}},
		{"surrounding spaces", "  72212000-4\t\n", result{Code: "72212000"}},
		{"no-break space", "\u00a072212000\u00a0", result{Code: "72212000"}},
		{"deepest level", "72212121-3", result{Code: "72212121"}},

		{"empty", "", result{Err: "CPV code is empty"}},
		{"only spaces", " \t ", result{Err: "CPV code is empty"}},
		{"wrong check digit", "72212000-9", result{Err: "CPV check digit of 72212000 is 4, not 9"}},
		{"wrong check digit on division", "72000000-3", result{Err: "CPV check digit of 72000000 is 5, not 3"}},
		{"unknown code", "72212001", result{Err: `unknown CPV code "72212001"`}},
		{"unknown code with check digit", "72212001-4", result{Err: `unknown CPV code "72212001"`}},
		{"all zeros", "00000000", result{Err: `unknown CPV code "00000000"`}},
		{"dash inside", "7221-2000", result{Err: `malformed CPV code "7221-2000": want 8 digits, optionally followed by "-" and a check digit`}},
		{"seven digits", "3100000", result{Err: `malformed CPV code "3100000": want 8 digits, optionally followed by "-" and a check digit`}},
		{"nine digits", "722120004", result{Err: `malformed CPV code "722120004": want 8 digits, optionally followed by "-" and a check digit`}},
		{"dash without digit", "72212000-", result{Err: `malformed CPV code "72212000-": want 8 digits, optionally followed by "-" and a check digit`}},
		{"two check digits", "72212000-44", result{Err: `malformed CPV code "72212000-44": want 8 digits, optionally followed by "-" and a check digit`}},
		{"two dashes", "72212000-4-4", result{Err: `malformed CPV code "72212000-4-4": want 8 digits, optionally followed by "-" and a check digit`}},
		{"spaces around dash", "72212000 - 4", result{Err: `malformed CPV code "72212000 - 4": want 8 digits, optionally followed by "-" and a check digit`}},
		{"inner space", "7221 2000", result{Err: `malformed CPV code "7221 2000": want 8 digits, optionally followed by "-" and a check digit`}},
		{"letter check digit", "72212000-X", result{Err: `malformed CPV code "72212000-X": want 8 digits, optionally followed by "-" and a check digit`}},
		{"fullwidth digits", "７２２１２０００", result{Err: `malformed CPV code "７２２１２０００": want 8 digits, optionally followed by "-" and a check digit`}},
		{"arabic-indic digits", "٧٢٢١٢٠٠٠", result{Err: `malformed CPV code "٧٢٢١٢٠٠٠": want 8 digits, optionally followed by "-" and a check digit`}},
		{"invalid utf-8", "7221\xff000", result{Err: `malformed CPV code "7221\xff000": want 8 digits, optionally followed by "-" and a check digit`}},
		{"NUL byte", "72212000\x00", result{Err: `malformed CPV code "72212000\x00": want 8 digits, optionally followed by "-" and a check digit`}},
		{"very long", strings.Repeat("7", 10000), result{Err: `malformed CPV code "` + strings.Repeat("7", 40) + `"…: want 8 digits, optionally followed by "-" and a check digit`}},
		{"prefix of long input is a code", "72212000" + strings.Repeat(" x", 5000), result{Err: `malformed CPV code "72212000 x x x x x x x x x x x x x x x x"…: want 8 digits, optionally followed by "-" and a check digit`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, err := NormalizeCPV(tt.in)
			if diff := cmp.Diff(tt.want, result{Code: code, Err: errText(err)}); diff != "" {
				t.Errorf("NormalizeCPV(%s) mismatch (-want +got):\n%s", quote(tt.in), diff)
			}
		})
	}
}

func TestLookupCPV(t *testing.T) {
	t.Parallel()
	type result struct {
		Code CPVCode
		OK   bool
	}
	tests := []struct {
		name string
		in   string
		want result
	}{
		{"application software", "72212000", result{CPVCode{Code: "72212000", CheckDigit: "4", NameDE: "Programmierung von Anwendersoftware", NameEN: "Programming services of application software"}, true}},
		{"division", "45000000", result{CPVCode{Code: "45000000", CheckDigit: "7", NameDE: "Bauarbeiten", NameEN: "Construction work"}, true}},
		{"quoted field with semicolons", "15230000", result{CPVCode{Code: "15230000", CheckDigit: "9", NameDE: "Getrockneter oder gesalzener Fisch; Fisch in Salzlake; Räucherfisch", NameEN: "Dried or salted fish; fish in brine; smoked fish"}, true}},
		{"not canonical: check digit", "72212000-4", result{}},
		{"not canonical: spaces", " 72212000", result{}},
		{"unknown", "72212001", result{}},
		{"empty", "", result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ok := LookupCPV(tt.in)
			if diff := cmp.Diff(tt.want, result{c, ok}); diff != "" {
				t.Errorf("LookupCPV(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestCPVPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"division", "72000000", "72"},
		{"category", "72212000", "72212"},
		{"leading zero kept", "03100000", "031"},
		{"division with zero second digit", "30000000", "30"},
		{"zero division", "03000000", "03"},
		{"all zeros", "00000000", "00"},
		{"no trailing zero", "72212121", "72212121"},
		{"inner zeros kept", "45100000", "451"},
		{"not canonical: returned unchanged", "72212000-4", "72212000-4"},
		{"short: returned unchanged", "720", "720"},
		{"empty", "", ""},
		{"fullwidth digits: returned unchanged", "７２０００００", "７２０００００"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, CPVPrefix(tt.in)); diff != "" {
				t.Errorf("CPVPrefix(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestCPVPrefixMatching pins the contract services rely on: a parent's prefix
// matches its descendants and nothing else.
func TestCPVPrefixMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		parent, child string
		want          bool
	}{
		{"division matches deep child", "72000000", "72212121", true},
		{"group matches child", "72200000", "72212000", true},
		{"code matches itself", "72212000", "72212000", true},
		{"sibling does not match", "72211000", "72212000", false},
		{"child does not match parent", "72212000", "72200000", false},
		{"division 30 does not match 31", "30000000", "31000000", false},
		{"division 03 matches 031", "03000000", "03100000", true},
		{"031 does not match 032", "03100000", "03200000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := strings.HasPrefix(tt.child, CPVPrefix(tt.parent))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("HasPrefix(%s, CPVPrefix(%s)) mismatch (-want +got):\n%s", tt.child, tt.parent, diff)
			}
		})
	}
}

// ancestors follows CPVParent to the top.
func ancestors(code string) []string {
	var chain []string
	for {
		p, ok := CPVParent(code)
		if !ok {
			return chain
		}
		chain = append(chain, p)
		code = p
	}
}

func TestCPVParent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		chain []string
	}{
		{"application software up to its division", "72212000", []string{"72210000", "72200000", "72000000"}},
		{"deepest level", "72212121", []string{"72212120", "72212100", "72212000", "72210000", "72200000", "72000000"}},
		{"leading zero", "03111000", []string{"03110000", "03100000", "03000000"}},
		// 30192120 is not in the list, so the chain skips that level.
		{"skipped level", "30192121", []string{"30192100", "30192000", "30190000", "30100000", "30000000"}},
		{"division has none", "72000000", nil},
		{"unknown has none", "72212001", nil},
		{"not canonical has none", "72212000-4", nil},
		{"empty has none", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.chain, ancestors(tt.in)); diff != "" {
				t.Errorf("ancestors of %q mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestCPVChildren(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"application software", "72212000", []string{
			"72212100", "72212200", "72212300", "72212400", "72212500", "72212600", "72212700", "72212900",
		}},
		{"division 72", "72000000", []string{
			"72100000", "72200000", "72300000", "72400000", "72500000", "72600000", "72700000", "72800000", "72900000",
		}},
		{"leaf", "72212121", nil},
		{"unknown", "72212001", nil},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, CPVChildren(tt.in)); diff != "" {
				t.Errorf("CPVChildren(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestCPVChildrenIsACopy(t *testing.T) {
	t.Parallel()
	kids := CPVChildren("72000000")
	kids[0] = "clobbered"
	if got := CPVChildren("72000000")[0]; got != "72100000" {
		t.Errorf("CPVChildren shares its slice: first child is now %q", got)
	}
}

// TestCPVHierarchy checks the whole list: codes are canonical, parent and
// children agree, and the ancestors CPVParent reports are exactly the listed
// codes whose CPVPrefix is a prefix of the code, so that "parents" chains and
// prefix matching can never disagree.
func TestCPVHierarchy(t *testing.T) {
	t.Parallel()
	codes := CPVCodes()
	if diff := cmp.Diff(9454, len(codes)); diff != "" {
		t.Fatalf("number of CPV codes mismatch (-want +got):\n%s", diff)
	}
	if !slices.IsSortedFunc(codes, func(a, b CPVCode) int { return strings.Compare(a.Code, b.Code) }) {
		t.Error("CPVCodes is not sorted by code")
	}
	prefixes := map[string]string{}
	byDivision := map[string][]string{} // ancestors share the first two digits
	for _, c := range codes {
		prefixes[c.Code] = CPVPrefix(c.Code)
		byDivision[c.Code[:2]] = append(byDivision[c.Code[:2]], c.Code)
	}
	divisions := 0
	for i, c := range codes {
		if i > 0 && codes[i-1].Code == c.Code {
			t.Errorf("duplicate code %s", c.Code)
		}
		got, err := NormalizeCPV(c.Code + "-" + c.CheckDigit)
		if diff := cmp.Diff(c.Code, got); diff != "" || err != nil {
			t.Errorf("NormalizeCPV of listed %s-%s: err %v, mismatch (-want +got):\n%s", c.Code, c.CheckDigit, err, diff)
		}
		var want []string
		for _, d := range byDivision[c.Code[:2]] {
			if d != c.Code && strings.HasPrefix(c.Code, prefixes[d]) {
				want = append(want, d)
			}
		}
		slices.Reverse(want) // nearest first, like ancestors
		if diff := cmp.Diff(want, ancestors(c.Code)); diff != "" {
			t.Errorf("ancestors of %s disagree with prefix matching (-want +got):\n%s", c.Code, diff)
		}
		p, ok := CPVParent(c.Code)
		if !ok {
			divisions++
			if len(prefixes[c.Code]) != 2 {
				t.Errorf("%s has no parent but is not a division", c.Code)
			}
			continue
		}
		if !slices.Contains(CPVChildren(p), c.Code) {
			t.Errorf("%s has parent %s, which does not list it as a child", c.Code, p)
		}
	}
	if diff := cmp.Diff(45, divisions); diff != "" {
		t.Errorf("number of divisions mismatch (-want +got):\n%s", diff)
	}
}

func TestParseCPVRejectsCorruptData(t *testing.T) {
	t.Parallel()
	const header = "code;control_digit;name_de;name_en\n"
	tests := []struct {
		name, data, wantErr string
	}{
		{"empty file", "", "cpv2008_de_en.csv: reading header: EOF"},
		{"wrong header", "code;check;de;en\n", `cpv2008_de_en.csv: header is ["code" "check" "de" "en"], want ["code" "control_digit" "name_de" "name_en"]`},
		{"short code", header + "7221200;4;a;b\n", `cpv2008_de_en.csv: bad row ["7221200" "4" "a" "b"]`},
		{"missing name", header + "72212000;4;;b\n", `cpv2008_de_en.csv: bad row ["72212000" "4" "" "b"]`},
		{"duplicate", header + "72212000;4;a;b\n72212000;4;a;b\n", "cpv2008_de_en.csv: duplicate code 72212000"},
		{"missing column", header + "72212000;4;a\n", "cpv2008_de_en.csv: record on line 2: wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := parseCPV(tt.data)
			if diff := cmp.Diff(tt.wantErr, errText(err)); diff != "" {
				t.Errorf("parseCPV error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkNormalizeCPV(b *testing.B) {
	if _, err := NormalizeCPV("72212000-4"); err != nil { // load outside the timing
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := NormalizeCPV(" 72212000-4 "); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLevelOfCPV(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want CPVLevel
	}{
		{"03000000", Division},
		{"30000000", Division},
		{"72200000", Group},
		{"72210000", Class},
		{"72212000", Category},
		{"72212100", Subcategory},
		{"72212191", Subcategory},
		{"7221200", 0},
		{"", 0},
	}
	for _, tc := range tests {
		if got := LevelOfCPV(tc.code); got != tc.want {
			t.Errorf("LevelOfCPV(%q) = %v, want %v", tc.code, got, tc.want)
		}
	}
}
