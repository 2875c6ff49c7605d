package refdata

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

//go:embed data/cpv2008_de_en.csv
var cpvCSV string

// CPVCode is one entry of the CPV 2008 list. Services keep only Code; the
// rest is here so that user interfaces can show what a code means in the
// language of the user without a second source of truth.
type CPVCode struct {
	// Code is the canonical form that services store and compare: exactly
	// 8 ASCII digits, without the check digit, e.g. "72212000".
	Code string
	// CheckDigit is the official control digit that notices print after a
	// dash ("72212000-4"); it is kept so exports can reproduce that form.
	CheckDigit string
	// NameDE is the German label. It carries the Austrian variants too
	// (e.g. "Kartoffeln/Erdäpfel"), so searches must not expect one word.
	NameDE string
	// NameEN is the English label.
	NameEN string
}

// cpvTable is the parsed CPV list with its hierarchy, built once.
type cpvTable struct {
	codes    []CPVCode           // sorted by Code
	index    map[string]int      // Code → position in codes
	parent   map[string]string   // Code → nearest existing ancestor
	children map[string][]string // Code → direct children, sorted
}

var loadCPV = sync.OnceValue(func() *cpvTable {
	t, err := parseCPV(cpvCSV)
	if err != nil {
		panic("refdata: embedded CPV list is corrupt: " + err.Error())
	}
	return t
})

func parseCPV(data string) (*cpvTable, error) {
	const name = "cpv2008_de_en.csv"
	rows, err := readCSV(name, data, ';', []string{"code", "control_digit", "name_de", "name_en"})
	if err != nil {
		return nil, err
	}
	t := &cpvTable{
		codes:    make([]CPVCode, 0, len(rows)),
		index:    make(map[string]int, len(rows)),
		parent:   make(map[string]string, len(rows)),
		children: make(map[string][]string),
	}
	for _, r := range rows {
		c := CPVCode{Code: r[0], CheckDigit: r[1], NameDE: r[2], NameEN: r[3]}
		if !isDigits(c.Code, 8) || !isDigits(c.CheckDigit, 1) || c.NameDE == "" || c.NameEN == "" {
			return nil, fmt.Errorf("%s: bad row %q", name, r)
		}
		t.codes = append(t.codes, c)
	}
	slices.SortFunc(t.codes, func(a, b CPVCode) int { return strings.Compare(a.Code, b.Code) })
	t.codes = slices.Clip(t.codes)
	for i, c := range t.codes {
		if _, dup := t.index[c.Code]; dup {
			return nil, fmt.Errorf("%s: duplicate code %s", name, c.Code)
		}
		t.index[c.Code] = i
	}
	// Codes are sorted, so appending keeps every children list sorted.
	for _, c := range t.codes {
		if p, ok := t.nearestAncestor(c.Code); ok {
			t.parent[c.Code] = p
			t.children[p] = append(t.children[p], c.Code)
		}
	}
	return t, nil
}

// nearestAncestor walks up the significant prefix one digit at a time. The
// list skips levels in places (a class may hang directly off a group), so
// the parent is the longest shorter prefix that is itself a listed code.
func (t *cpvTable) nearestAncestor(code string) (string, bool) {
	p := CPVPrefix(code)
	for n := len(p) - 1; n >= 2; n-- {
		cand := p[:n] + strings.Repeat("0", 8-n)
		if _, ok := t.index[cand]; ok {
			return cand, true
		}
	}
	return "", false
}

// NormalizeCPV turns what a user or an upstream notice supplies into the
// canonical 8-digit code, so that everything downstream can compare codes as
// plain strings. It accepts the bare code ("72212000") and the official form
// with check digit ("72212000-4"), with surrounding white space. A check
// digit, when present, must be the official one: a wrong digit usually means
// a typo in the code itself, which must not be silently accepted.
func NormalizeCPV(s string) (string, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return "", errors.New("CPV code is empty")
	}
	code, check, hasCheck := strings.Cut(in, "-")
	if !isDigits(code, 8) || hasCheck && !isDigits(check, 1) {
		return "", fmt.Errorf(`malformed CPV code %s: want 8 digits, optionally followed by "-" and a check digit`, quote(in))
	}
	c, ok := LookupCPV(code)
	if !ok {
		return "", fmt.Errorf("unknown CPV code %q", code)
	}
	if hasCheck && check != c.CheckDigit {
		return "", fmt.Errorf("CPV check digit of %s is %s, not %s", code, c.CheckDigit, check)
	}
	return code, nil
}

// LookupCPV finds a code by its canonical form only, so that callers on hot
// paths (matching) pay for a map lookup and nothing else; run user input
// through NormalizeCPV first.
func LookupCPV(code string) (CPVCode, bool) {
	t := loadCPV()
	i, ok := t.index[code]
	if !ok {
		return CPVCode{}, false
	}
	return t.codes[i], true
}

// CPVPrefix gives the digits of a code that carry meaning, so that hierarchy
// matching is a string prefix test: a parent matches a child iff
// strings.HasPrefix(child, CPVPrefix(parent)). Trailing zeros are padding in
// CPV, except that the two division digits always count ("03000000" is "03",
// "30000000" is "30", not "3", which would also match "31…").
//
// It expects a canonical code. Anything that is not 8 ASCII digits is
// returned unchanged rather than guessed at; note that an empty string then
// matches every child, so validate stored codes with NormalizeCPV.
func CPVPrefix(code string) string {
	if !isDigits(code, 8) {
		return code
	}
	p := strings.TrimRight(code, "0")
	if len(p) < 2 {
		return code[:2]
	}
	return p
}

// CPVLevel is the depth of a code in the CPV tree, as the regulation names
// it: the number of significant digits decides it.
type CPVLevel int

// The CPV levels, from the broadest. The values start at 1 so that the zero
// value means "unknown".
const (
	// Division is a code with 2 significant digits ("72000000").
	Division CPVLevel = iota + 1
	// Group is a code with 3 significant digits ("72200000").
	Group
	// Class is a code with 4 significant digits ("72210000").
	Class
	// Category is a code with 5 significant digits ("72212000").
	Category
	// Subcategory is a code with 6 to 8 significant digits ("72212100"),
	// each of which refines its category further.
	Subcategory
)

// String names the level for logs and test output.
func (l CPVLevel) String() string {
	switch l {
	case Division:
		return "division"
	case Group:
		return "group"
	case Class:
		return "class"
	case Category:
		return "category"
	case Subcategory:
		return "subcategory"
	}
	return fmt.Sprintf("CPVLevel(%d)", int(l))
}

// LevelOfCPV returns the level of a canonical code (see CPVPrefix), or 0 for
// anything that is not 8 ASCII digits.
func LevelOfCPV(code string) CPVLevel {
	if !isDigits(code, 8) {
		return 0
	}
	return CPVLevel(min(len(CPVPrefix(code)), 6) - 1)
}

// CPVParent returns the nearest ancestor that is itself in the list, so that
// callers can build a "parents" chain of real codes (levels the regulation
// skips are skipped too). Divisions and unknown codes have none.
func CPVParent(code string) (string, bool) {
	p, ok := loadCPV().parent[code]
	return p, ok
}

// CPVChildren returns the codes whose nearest listed ancestor is code, sorted,
// for drilling down a category tree. It is nil for leaves and unknown codes.
// The slice is the caller's own.
func CPVChildren(code string) []string {
	return slices.Clone(loadCPV().children[code])
}

// CPVCodes returns the whole list sorted by code, for pickers and search
// indexes. The slice is shared: do not modify it.
func CPVCodes() []CPVCode {
	return loadCPV().codes
}
