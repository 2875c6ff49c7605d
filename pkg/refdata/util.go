package refdata

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxQuoted bounds how much of a caller's input is echoed in an error, so a
// pasted document does not turn into a megabyte-long field violation.
const maxQuoted = 40

// quote renders caller input for an error message: Go-quoted, so invisible
// and invalid characters show up, and cut short if it is long.
func quote(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	n := 0
	for i := range s {
		if n == maxQuoted {
			return strconv.Quote(s[:i]) + "…"
		}
		n++
	}
	return strconv.Quote(s) // unreachable: the rune count said otherwise
}

// isDigits reports whether s is exactly n ASCII digits. Unicode digits such as
// "７" or "٧" are rejected on purpose: codes are stored and compared as ASCII.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isASCIIAlnum reports whether s is non-empty and holds only ASCII letters
// and digits, which every NUTS code does.
func isASCIIAlnum(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// upperASCII upper-cases ASCII letters only; strings.ToUpper would also map
// characters such as "ı" or "ſ" onto ASCII letters and let them pass as codes.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// readCSV parses an embedded table and checks its header, so that a
// reordered or replaced source file fails loudly instead of mixing columns.
// It returns the data rows without the header.
func readCSV(name, data string, comma rune, header []string) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(data))
	r.Comma = comma // FieldsPerRecord stays 0: the checked header sets the width
	got, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", name, err)
	}
	if !slices.Equal(got, header) {
		return nil, fmt.Errorf("%s: header is %q, want %q", name, got, header)
	}
	var rows [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, rec)
	}
}
