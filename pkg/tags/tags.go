// Package tags normalises free-form labels such as certifications and
// capabilities, so "ISO 27001", "iso-27001" and "ISO/27001" are one tag and
// filters find what users typed in any of these spellings.
package tags

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns the canonical form of a tag: Unicode NFC, lower case,
// every run of characters other than letters and digits replaced by one
// "-", trimmed of "-". Umlauts stay ("XÖV" → "xöv"): they carry meaning in
// German standard names. maxLen limits the result in characters.
func Normalize(s string, maxLen int) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("must be valid UTF-8")
	}
	s = norm.NFC.String(strings.ToLower(s))
	var b strings.Builder
	dash := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	t := b.String()
	switch n := utf8.RuneCountInString(t); {
	case n == 0:
		return "", fmt.Errorf("tag %q has no letters or digits", s)
	case n > maxLen:
		return "", fmt.Errorf("tag must be at most %d characters, got %d", maxLen, n)
	}
	return t, nil
}
