package refsearch

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/govmatch/govmatch/pkg/errdefs"
)

// FuzzParseQuery checks that any query is either rejected as a violation
// of "query" or parsed into words without separators, deterministically,
// and that searching never panics.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "722", "72212000-4", "72212000-9", "722-4", "-", "Software", "Gießen",
		"Mu\u0308nchen", "DE7", "de71", "06531005", "a b c d e f g h i j k", "M\xfcnchen", "ǅ ﬁ ẞ", "  - -- 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxQueryLen {
			return // rejected before parsing
		}
		cq, err := parseCPVQuery(s)
		var ve *errdefs.ValidationError
		if err != nil && (!errors.As(err, &ve) || ve.Violations[0].Field != "query") {
			t.Fatalf("parseCPVQuery(%q) = %v, want a violation of query", s, err)
		}
		if err == nil {
			if cq.prefix != "" && (len(cq.exact) != 8 && len(cq.prefix) > 1 || !isDigits(cq.prefix) || !strings.HasPrefix(cq.exact, cq.prefix)) {
				t.Fatalf("parseCPVQuery(%q) = %+v: inconsistent code", s, cq)
			}
			checkWords(t, s, cq.words)
			again, _ := parseCPVQuery(s)
			if again.key() != cq.key() {
				t.Fatalf("parseCPVQuery(%q) is not deterministic", s)
			}
			loadCPVIndex().search(cq)
		}
		rq, err := parseRegionQuery(s)
		if err != nil && (!errors.As(err, &ve) || ve.Violations[0].Field != "query") {
			t.Fatalf("parseRegionQuery(%q) = %v, want a violation of query", s, err)
		}
		if err == nil {
			checkWords(t, s, rq.words)
			loadRegionIndex().search(rq, 0)
		}
	})
}

func checkWords(t *testing.T, s string, ws []string) {
	t.Helper()
	if len(ws) > MaxQueryWords {
		t.Fatalf("%q: %d words accepted", s, len(ws))
	}
	for _, w := range ws {
		if w == "" || strings.ContainsAny(w, " -.,") || w != strings.ToLower(w) {
			t.Fatalf("%q: bad word %q in %q", s, w, ws)
		}
	}
}
