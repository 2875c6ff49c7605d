package refsearch

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// decomposed turns umlauts as macOS and some browsers send them (a letter
// followed by a combining diaeresis) into the precomposed letter, so that
// they fold like the umlauts of the data.
var decomposed = strings.NewReplacer(
	"a\u0308", "ä", "o\u0308", "ö", "u\u0308", "ü",
	"A\u0308", "Ä", "O\u0308", "Ö", "U\u0308", "Ü",
)

// umlauts maps the letters whose German transliteration is two letters.
// The first form ("ae") is what German keyboards without umlauts type, the
// second ("a") what everyone else types; both must find "München".
var umlauts = map[rune][2]string{
	'ä': {"ae", "a"}, 'ö': {"oe", "o"}, 'ü': {"ue", "u"}, 'ß': {"ss", "ss"},
}

// accents maps other accented Latin letters of the data to their base
// letter ("Café", "Moselle").
var accents = map[rune]rune{
	'á': 'a', 'à': 'a', 'â': 'a', 'ã': 'a', 'å': 'a',
	'é': 'e', 'è': 'e', 'ê': 'e', 'ë': 'e',
	'í': 'i', 'ì': 'i', 'î': 'i', 'ï': 'i',
	'ó': 'o', 'ò': 'o', 'ô': 'o', 'õ': 'o', 'ø': 'o',
	'ú': 'u', 'ù': 'u', 'û': 'u',
	'ç': 'c', 'ñ': 'n',
}

// words splits text into lower-case words at every character that is not a
// letter or digit, folding umlauts and accents. It returns each word twice:
// with umlauts transliterated ("muenchen") and with umlauts stripped
// ("munchen"); the two slices are equal where a word has no umlaut. A query
// is folded to the first form only and compared with both forms of the
// data, so "München", "Muenchen" and "Munchen" all find the city.
func words(s string) (translit, stripped []string) {
	s = strings.ToLower(decomposed.Replace(s))
	var a, b strings.Builder
	flush := func() {
		if a.Len() > 0 {
			translit = append(translit, a.String())
			stripped = append(stripped, b.String())
			a.Reset()
			b.Reset()
		}
	}
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			flush()
		case unicode.Is(unicode.Mn, r):
			// Combining marks left over (an accent typed separately) carry
			// no meaning for the search.
		case umlauts[r] != [2]string{}:
			u := umlauts[r]
			a.WriteString(u[0])
			b.WriteString(u[1])
		case accents[r] != 0:
			a.WriteRune(accents[r])
			b.WriteRune(accents[r])
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			a.WriteRune(r)
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return translit, stripped
}

// queryWords folds a query into distinct words in the transliterated form,
// in the order typed. Repeating a word adds no information.
func queryWords(q string) []string {
	w, _ := words(q)
	out := w[:0]
	for _, x := range w {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// label is a name prepared for matching.
type label struct {
	translit, stripped []string
	joined             []string // translit and stripped joined by spaces, for name-prefix matches
	plain              bool     // no umlauts: stripped equals translit and need not be checked
}

func newLabel(s string) label {
	t, st := words(s)
	l := label{translit: t, stripped: st, joined: []string{strings.Join(t, " "), strings.Join(st, " ")}}
	l.plain = l.joined[0] == l.joined[1]
	return l
}

// match finds, for every query word, the first word of the label that
// starts with it. It returns the sum of those positions and how many query
// words matched only as a prefix, not as a whole word.
func (l label) match(qs []string) (posSum, prefixOnly int, ok bool) {
	for _, q := range qs {
		found := false
		for i := range l.translit {
			t, st := l.translit[i], l.stripped[i]
			if strings.HasPrefix(t, q) || !l.plain && strings.HasPrefix(st, q) {
				posSum += i
				if t != q && (l.plain || st != q) {
					prefixOnly++
				}
				found = true
				break
			}
		}
		if !found {
			return 0, 0, false
		}
	}
	return posSum, prefixOnly, true
}

// hasPrefix reports whether the label starts with the query words, the
// last of which may be unfinished: "frankfurt am m" is a prefix of
// "Frankfurt am Main".
func (l label) hasPrefix(qs []string) bool {
	q := strings.Join(qs, " ")
	return strings.HasPrefix(l.joined[0], q) || strings.HasPrefix(l.joined[1], q)
}

// invertedIndex maps every word form of the data to the entries that have
// it, with the forms sorted so that all words with a prefix are a range.
type invertedIndex struct {
	vocab    []string
	postings [][]int32 // postings[i] lists the entries of vocab[i], ascending
}

func buildIndex(n int, labelsOf func(i int) []label) invertedIndex {
	m := map[string][]int32{}
	for i := range n {
		for _, l := range labelsOf(i) {
			for _, forms := range [][]string{l.translit, l.stripped} {
				for _, w := range forms {
					p := m[w]
					if len(p) == 0 || p[len(p)-1] != int32(i) {
						m[w] = append(p, int32(i))
					}
				}
			}
		}
	}
	idx := invertedIndex{vocab: make([]string, 0, len(m))}
	for w := range m {
		idx.vocab = append(idx.vocab, w)
	}
	slices.Sort(idx.vocab)
	idx.postings = make([][]int32, len(idx.vocab))
	for i, w := range idx.vocab {
		idx.postings[i] = slices.Clip(m[w])
	}
	return idx
}

// candidates returns, ascending, the entries that have for every query word
// a word starting with it, in any of their labels. Callers check that one
// label has them all.
func (idx invertedIndex) candidates(n int, qs []string) []int32 {
	// hits[e] counts the query words entry e has matched so far; a word
	// counts once however many of the entry's words it prefixes, because
	// it only moves entries that matched all earlier words.
	hits := make([]uint8, n)
	for k, q := range qs {
		lo, _ := slices.BinarySearch(idx.vocab, q)
		for i := lo; i < len(idx.vocab) && strings.HasPrefix(idx.vocab[i], q); i++ {
			for _, e := range idx.postings[i] {
				if hits[e] == uint8(k) {
					hits[e] = uint8(k + 1)
				}
			}
		}
	}
	var out []int32
	for e, h := range hits {
		if int(h) == len(qs) {
			out = append(out, int32(e))
		}
	}
	return out
}
