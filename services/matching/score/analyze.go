package score

import (
	"html"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/german"

	"github.com/govmatch/govmatch/pkg/refdata"
)

// Language is the language an analysed text was taken to be in.
type Language string

// The languages the analyser knows.
const (
	German  Language = "de"
	English Language = "en"
)

// A token is one analysed word: its stem and, for the parts of a German
// compound, the compound it came from.
type token struct {
	stem string
	// part is true for a stem that came from splitting a compound; the
	// compound's own stem is emitted too, so an exact compound still meets
	// itself at full weight.
	part bool
}

// stem runs the Snowball stemmer of lang on a lower-case word. Snowball's
// German stemmer folds ä/ö/ü and ß itself, so "Straße" and "Strasse" meet.
func stem(lang Language, w string) string {
	if lang == German {
		w = foldUmlautSpelling(w)
	}
	env := snowballstem.NewEnv(w)
	if lang == German {
		german.Stem(env)
	} else {
		english.Stem(env)
	}
	return env.Current()
}

// markupTag matches an HTML or XML tag ("<li>", "</ul>", "<br />"): open
// data portals and tender platforms publish descriptions as HTML, and a
// tag's name is layout, not a word of the text.
var markupTag = regexp.MustCompile(`<[a-zA-Z/!][^<>]*>`)

// plainText is text with markup tags replaced by spaces and character
// references ("&nbsp;", "&amp;") decoded.
func plainText(text string) string {
	if strings.IndexByte(text, '<') >= 0 {
		text = markupTag.ReplaceAllString(text, " ")
	}
	if strings.IndexByte(text, '&') >= 0 {
		text = html.UnescapeString(text)
	}
	return text
}

// foldUmlautSpelling writes the umlauts that w spells out as "ae", "oe"
// and "ue" as "ä", "ö" and "ü", as Snowball's "german2" variant of the
// German stemmer does, so "Koeln" meets "Köln" and "Gebaeude" "Gebäude":
// German texts from systems without umlauts spell them so. Like german2
// it leaves "ue" after "q" ("Quelle") and a "u" between vowels ("Feuer",
// "Bauer") alone. Both sides of a match are folded alike, so a word that
// merely contains the letters ("Poet") still meets itself.
func foldUmlautSpelling(w string) string {
	if !strings.Contains(w, "ae") && !strings.Contains(w, "oe") && !strings.Contains(w, "ue") {
		return w
	}
	r := []rune(w)
	out := make([]rune, 0, len(r))
	for i := 0; i < len(r); i++ {
		if i+1 < len(r) && r[i+1] == 'e' {
			var u rune
			switch r[i] {
			case 'a':
				u = 'ä'
			case 'o':
				u = 'ö'
			case 'u':
				if i == 0 || (r[i-1] != 'q' && !isVowelDE(r[i-1])) {
					u = 'ü'
				}
			}
			if u != 0 {
				out = append(out, u)
				i++
				continue
			}
		}
		out = append(out, r[i])
	}
	return string(out)
}

// isVowelDE reports whether r is a vowel of Snowball's German stemmer.
func isVowelDE(r rune) bool { return strings.ContainsRune("aeiouyäöü", r) }

// words splits text into lower-case runs of letters and digits, markup
// removed (plainText). Hyphens and other punctuation separate words, so
// "Bürger-Service" is two words.
func words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(plainText(text)), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// DetectLanguage decides between German and English by counting stop words
// of each language and German letters (ä, ö, ü, ß); a text without any
// evidence is taken as fallback. Stop words are the most frequent words of a
// language, so a handful of them decide reliably even on short texts; a
// statistical detector would be overkill for two languages.
func DetectLanguage(text string, fallback Language) Language {
	var de, en int
	for _, w := range words(text) {
		if stopDE[w] {
			de++
		}
		if stopEN[w] {
			en++
		}
		if strings.ContainsAny(w, "äöüß") {
			de++
		}
	}
	switch {
	case de > en:
		return German
	case en > de:
		return English
	}
	return fallback
}

// analyzer turns text into stems. It is safe for concurrent use.
type analyzer struct {
	// dict holds the German stems that compound parts must be made of.
	dict map[string]bool

	cache wordCache // lang:word → analysis that depends on the word alone
}

// Minimum length of a compound part in letters: shorter parts ("ab", "an",
// "ei") would split ordinary words into nonsense.
const minPart = 4

// Longest word in letters that split tries to decompose. Splitting stems
// every substring, so its cost grows with the cube of the length: a
// 1,600-letter "word" took 13 s. German's longest compounds in use have
// about 60 letters ("Rindfleischetikettierungsüberwachungsaufgaben-
// übertragungsgesetz", 63); a longer run of letters is no word to split.
const maxCompound = 64

// linking elements (Fugenelemente) that may join German compound parts:
// "Verkehr-s-zählung", "Straße-n-reinigung", "Kind-er-garten".
var linkers = []string{"", "s", "es", "n", "en", "er", "e"}

// analyze returns the tokens of text in lang, stop words and procedural
// words (the act of procuring, not its subject) removed. For German
// it also emits the parts of compounds whose parts are all known stems
// (dict, and extra when not nil), so "Terminbuchung" yields "terminbuchung",
// "termin" and "buchung", meeting "Buchung von Terminen".
func (a *analyzer) analyze(text string, lang Language, extra func(string) bool) []token {
	return a.analyzeCached(text, lang, extra, nil)
}

// analyzeCached is analyze that memoises the words whose analysis depends on
// extra in ec, which the caller must reset whenever extra's answers change.
func (a *analyzer) analyzeCached(text string, lang Language, extra func(string) bool, ec *wordCache) []token {
	return a.analyzeWith(text, lang, extra, ec, procedural[lang])
}

// analyzeRequirement is analyze keeping the procedural words: a stated
// capability is matched as a whole, and "Service Design" is not "Web
// Design" because "service" says little about a text's subject.
func (a *analyzer) analyzeRequirement(text string, lang Language) []token {
	return a.analyzeWith(text, lang, nil, nil, nil)
}

// analyzeWith is analyzeCached leaving out the stems in skip.
func (a *analyzer) analyzeWith(text string, lang Language, extra func(string) bool, ec *wordCache, skip map[string]bool) []token {
	stop := stopEN
	if lang == German {
		stop = stopDE
	}
	var out []token
	for _, w := range words(text) {
		if stop[w] || len([]rune(w)) < 2 {
			continue
		}
		wa := a.word(lang, w, extra, ec)
		if !skip[wa.stem] {
			out = append(out, token{stem: wa.stem})
		}
		for _, p := range wa.parts {
			if !skip[p] {
				out = append(out, token{stem: p, part: true})
			}
		}
	}
	return out
}

// wordAnalysis is what analysis makes of one word.
type wordAnalysis struct {
	stem  string
	parts []string // compound parts, German only
}

// maxWordCache bounds the memoised analyses: procurement vocabulary stays
// far below it, and it caps memory should input be hostile. Past it words
// are analysed afresh, which changes speed, never a result.
const maxWordCache = 1 << 18

// word analyses w, memoised in a.cache when the result depends on nothing
// but the word: always for the stem, and for compound parts when there are
// no extra parts (extra's answers change as an index grows). Stemming every
// substring of a long word makes splitting the costliest step of analysis.
func (a *analyzer) word(lang Language, w string, extra func(string) bool, ec *wordCache) wordAnalysis {
	c := &a.cache
	if extra != nil && lang == German {
		c = ec
	}
	key := string(lang) + ":" + w
	if wa, ok := c.get(key); ok {
		return wa
	}
	wa := wordAnalysis{stem: stem(lang, w)}
	if lang == German {
		wa.parts = a.split(w, extra)
	}
	c.put(key, wa)
	return wa
}

// wordCache memoises word analyses. It is safe for concurrent use; a nil
// *wordCache caches nothing.
type wordCache struct {
	mu sync.RWMutex
	m  map[string]wordAnalysis
	// version is what the entries are valid for (see Index.Rank).
	version int
}

func (c *wordCache) get(key string) (wordAnalysis, bool) {
	if c == nil {
		return wordAnalysis{}, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	wa, ok := c.m[key]
	return wa, ok
}

func (c *wordCache) put(key string, wa wordAnalysis) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]wordAnalysis)
	}
	if len(c.m) < maxWordCache {
		c.m[key] = wa
	}
}

// reset empties c unless it is valid for version.
func (c *wordCache) reset(version int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != version {
		c.m, c.version = nil, version
	}
}

// known reports whether a stem may be a compound part.
func (a *analyzer) known(s string, extra func(string) bool) bool {
	return a.dict[s] || (extra != nil && extra(s))
}

// split decomposes a German word into known parts, preferring the split
// with the fewest parts (so "Fahrradstraße" is "fahrrad"+"strass", not
// "fahr"+"rad"+"strass"). A word that is not a compound of known parts
// only is split at its head (splitHead), or not at all (nil). Parts are
// returned as stems.
func (a *analyzer) split(w string, extra func(string) bool) []string {
	r := []rune(w)
	n := len(r)
	if n < 2*minPart || n > maxCompound {
		return nil
	}
	// best[i] is the fewest-part split of r[i:], nil if none.
	best := make([][]string, n+1)
	ok := make([]bool, n+1)
	ok[n] = true
	for i := n - minPart; i >= 0; i-- {
		for j := i + minPart; j <= n; j++ {
			part := stem(German, string(r[i:j]))
			if !a.known(part, extra) {
				continue
			}
			for _, l := range linkers {
				k := j + len([]rune(l))
				if k > n || string(r[j:k]) != l || !ok[k] || (k == n && l != "") {
					continue
				}
				cand := append([]string{part}, best[k]...)
				if !ok[i] || len(cand) < len(best[i]) {
					best[i], ok[i] = cand, true
				}
			}
		}
	}
	if !ok[0] || len(best[0]) < 2 {
		return a.splitHead(r)
	}
	return best[0]
}

// splitHead splits a German compound that split cannot, as not all its
// parts are known, at its longest head in the dictionary: the last part of
// a German compound is the word it is a kind of ("Europawahl" is a "Wahl",
// "Studierendenzahl" a "Zahl"), and the modifier before it, known or not,
// says which kind. Both are returned as stems, the modifier without a
// linking element when that leaves a stem of the dictionary. Head and
// modifier are at least minPart letters long as written (a head's stem may
// be shorter: "Höfe" is "hof"). Heads come from the fixed dictionary only,
// not from an index's vocabulary: a vocabulary of many thousand profiles
// holds a "head" for nearly any long word, English ones included, and
// every extra part of a need is one more posting list to walk. It returns
// nil when there is no known head.
func (a *analyzer) splitHead(r []rune) []string {
	n := len(r)
	for j := minPart; j <= n-minPart; j++ {
		head := stem(German, string(r[j:]))
		if !a.dict[head] {
			continue
		}
		mod := string(r[:j])
		for _, l := range linkers[1:] {
			if m, ok := strings.CutSuffix(mod, l); ok && len([]rune(m)) >= minPart && a.dict[stem(German, m)] {
				mod = m
				break
			}
		}
		return []string{stem(German, mod), head}
	}
	return nil
}

// cpvDictionary is the German stems of the CPV 2008 labels: the vocabulary
// of public procurement, which is what compounds in needs and vendor
// profiles are made of. It is fixed data, so an index's analysis does not
// depend on which vendors were added before.
var cpvDictionary = sync.OnceValue(func() map[string]bool {
	d := make(map[string]bool)
	for _, c := range refdata.CPVCodes() {
		for _, w := range words(c.NameDE) {
			if len([]rune(w)) >= minPart && !stopDE[w] {
				d[stem(German, w)] = true
			}
		}
	}
	for _, w := range commonWordsDE {
		d[stem(German, w)] = true
	}
	return d
})

// commonWordsDE are frequent parts of German administrative compounds that
// the CPV labels, being about goods and services, lack.
var commonWordsDE = []string{
	"termin", "buchung", "antrag", "bürger", "verwaltung", "stadt", "gemeinde",
	"kreis", "daten", "verkehr", "haushalt", "schule", "kinder",
	"wahl", "bezirk", "melde", "wohnung", "plan", "karte", "bericht",
	"verzeichnis", "statistik", "anlage", "straße", "platz", "standort",
	"beteiligung", "förderung", "genehmigung", "portal", "online", "digital",
}

func newAnalyzer() *analyzer {
	return &analyzer{dict: cpvDictionary()}
}

// sentenceEnd matches where a sentence ends: a full stop, question or
// exclamation mark, colon or semicolon before white space, or a line break.
var sentenceEnd = regexp.MustCompile(`[.!?;:]\s+|\n+`)

// dedupeSentences drops the sentences of text that repeat an earlier one
// word for word (ignoring case and punctuation). A profile made of the
// contracts a vendor won repeats the same notice for every lot of one
// framework; a repetition says nothing new about what the vendor does, but
// would multiply the profile's length and with it BM25's length penalty.
func dedupeSentences(text string) string {
	seen := make(map[string]bool)
	var b strings.Builder
	last := 0
	emit := func(s string) {
		key := strings.Join(words(s), " ")
		if key != "" && seen[key] {
			return
		}
		seen[key] = true
		b.WriteString(s)
	}
	for _, m := range sentenceEnd.FindAllStringIndex(text, -1) {
		emit(text[last:m[1]])
		last = m[1]
	}
	emit(text[last:])
	return b.String()
}
