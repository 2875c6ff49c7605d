package need

import (
	"strings"
	"unicode"
)

// Words splits text into lower-cased runs of letters and digits: the unit of
// free-text search. Stores and queries both use it, so "Terminbuchung," and
// "terminbuchung" meet on every engine.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func joinWords(words []string) string { return strings.Join(words, " ") }
