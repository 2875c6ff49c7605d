package score

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/govmatch/govmatch/pkg/refdata"
)

// Vendor is a vendor profile as matching sees it.
type Vendor struct {
	ID             string
	Name           string
	Description    string
	Capabilities   []string
	Certifications []string
	// CPVCodes are canonical 8-digit codes (refdata.NormalizeCPV).
	CPVCodes []string
	// Regions are the regions served, in any form refdata.RegionFilterKey
	// accepts ("DE" for all of Germany).
	Regions []string
	// ProductFacts are attributes such as "licence" → "EUPL-1.2".
	ProductFacts map[string]string
}

// Need is what a buyer asks for.
type Need struct {
	Title, Description string
	// CPVCodes are canonical 8-digit codes.
	CPVCodes       []string
	Capabilities   []string
	Certifications []string
	// Region is where the need is (NUTS or AGS code), empty for anywhere.
	Region       string
	ProductFacts map[string]string
}

// Filters exclude vendors outright instead of scoring them.
type Filters struct {
	// Regions keeps vendors that serve at least one of these regions.
	Regions []string
	// Certifications keeps vendors that hold all of these.
	Certifications []string
}

// Result is one ranked vendor.
type Result struct {
	VendorID string
	// Score is 0–100, exactly the sum of the contributions' points.
	Score       float64
	Explanation Explanation
}

// Explanation says how a score came about.
type Explanation struct {
	WeightsVersion string
	// Language is the language the need's text was analysed in.
	Language   Language
	Components []Contribution
}

// Component names.
const (
	ComponentText           = "text"
	ComponentCPV            = "cpv"
	ComponentCPVBridge      = "cpvBridge"
	ComponentCapabilities   = "capabilities"
	ComponentCertifications = "certifications"
	ComponentRegion         = "region"
	ComponentProductFacts   = "productFacts"
)

// Contribution is one component's share of a score.
type Contribution struct {
	Component string
	// Weight is the nominal weight; Effective is the weight after scaling
	// the components that apply to this need to 100.
	Weight, Effective float64
	// Value in [0, 1] is how well the vendor meets this component.
	Value float64
	// Points = Effective × Value, the sum of the matches' points.
	Points  float64
	Matches []Match
}

// Match is one piece of evidence: a stem that matched, a pair of CPV codes
// and the level they share, a certification held, …
type Match struct {
	// Need is what the need asked for (a stem, a code, a capability).
	Need string
	// Vendor is what the vendor offered for it.
	Vendor string
	// Level is the CPV level of a code match ("exact" … "division").
	Level string `json:",omitempty"`
	// Inferred is true when a code was inferred from text.
	Inferred bool `json:",omitempty"`
	Points   float64
}

// Errors of the index.
var (
	ErrInvalidVendor = errors.New("score: invalid vendor")
	ErrInvalidNeed   = errors.New("score: invalid need")
)

// Field positions of BM25F.
const (
	fieldName = iota
	fieldCapabilities
	fieldDescription
	fieldFacts
	// fieldCPV holds the labels of the vendor's CPV codes, in the language
	// of its profile: the words of the codes it chose to describe itself.
	fieldCPV
	numFields
)

// Field groups of BM25F's length normalisation: the short fields that
// label what a vendor is (name, capabilities, product facts) and the long
// description. A word in a three-word name is not diluted by a long
// description, nor a description's word by a long list of capabilities.
const (
	groupLabels = iota
	groupDescription
	numGroups
)

// fieldGroup is the group of each field.
var fieldGroup = [numFields]int{
	fieldName: groupLabels, fieldCapabilities: groupLabels,
	fieldDescription: groupDescription, fieldFacts: groupLabels,
	fieldCPV: groupLabels,
}

type posting struct {
	doc int32
	tf  [numGroups]float32 // field-weighted term frequency by group
}

// doc is what the index keeps of a vendor: enough to score and explain,
// not the text itself.
type doc struct {
	id       string
	lens     [numFields]int32
	terms    []int32 // distinct term ids, in the order of their stems
	cpv      []weightedCode
	inferred []weightedCode
	caps     map[string]bool // capability stems
	certs    map[string]string
	regions  []string // region filter keys
	facts    map[string]string
}

// Index holds vendor profiles for ranking. It is safe for concurrent use.
type Index struct {
	w  Weights
	an *analyzer

	mu       sync.RWMutex
	docs     []*doc // by internal number; nil when removed
	free     []int32
	byID     map[string]int32
	termID   map[string]int32
	terms    []string
	postings [][]posting // by term id
	cpvPost  map[string][]int32
	infPost  map[string][]int32
	// capPost (by stem), certPost (by normalised certification),
	// regionPost (by region filter key) and factPost (by factKey) list
	// the documents with that capability stem, certification, region or
	// product fact, so Rank can bound those components from postings.
	// Capability stems include procedural words, which the text postings
	// leave out (analyzeRequirement).
	capPost    map[string][]int32
	certPost   map[string][]int32
	regionPost map[string][]int32
	factPost   map[string][]int32
	fieldTot   [numFields]int64
	n          int
	// dl is the field-weighted length of each document's groups, by number.
	dl [][numGroups]float64
	// gen counts the changes of the index; norms are computed for one.
	gen   uint64
	norms norms
	// vocab counts the changes of the vocabulary: the words some vendor
	// uses, which compound splitting of query words may draw on.
	vocab int
	// queryWords memoises the analyses of query words that depend on the
	// vocabulary (see prepare).
	queryWords wordCache
}

// norms are BM25's length normalisers of every document's groups, as
// reciprocals, 1/(normA+normC·dl), for the averages of one state of the
// index (gen), so that textValue, run for every posting a ranking walks,
// multiplies instead of dividing. Every change of the index moves the
// averages; the first ranking after it computes them again, which costs
// one pass over the documents. The zero value holds the norms of the
// empty index of generation 0: none.
type norms struct {
	mu  sync.Mutex
	gen uint64
	inv [][numGroups]float64
}

// invNorms returns the norms of the index's current state, computing them
// if needed. The caller holds x.mu (read or write), so the state cannot
// change meanwhile, and no ranking of an earlier state still runs.
func (x *Index) invNorms(q *query) [][numGroups]float64 {
	x.norms.mu.Lock()
	defer x.norms.mu.Unlock()
	if x.norms.gen != x.gen {
		inv := slices.Grow(x.norms.inv[:0], len(x.dl))[:len(x.dl)]
		for di, dl := range x.dl {
			for g := range numGroups {
				inv[di][g] = 1 / (q.normA[g] + q.normC[g]*dl[g])
			}
		}
		x.norms.inv, x.norms.gen = inv, x.gen
	}
	return x.norms.inv
}

// NewIndex returns an empty index that scores with w.
func NewIndex(w Weights) *Index {
	return &Index{
		w: w, an: newAnalyzer(),
		byID: make(map[string]int32), termID: make(map[string]int32),
		cpvPost: make(map[string][]int32), infPost: make(map[string][]int32),
		capPost: make(map[string][]int32), certPost: make(map[string][]int32), regionPost: make(map[string][]int32),
		factPost: make(map[string][]int32),
	}
}

// Weights returns the weights the index scores with.
func (x *Index) Weights() Weights { return x.w }

// Len is the number of vendors in the index.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// CertKey is how the index compares certifications: upper case, letters
// and digits only, so "ISO 27001", "iso-27001" and "ISO27001" are one.
// Whoever filters on certifications outside the index compares with it too.
func CertKey(s string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r > 127 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func normFact(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// factKey is the key of a normalised product fact in Index.factPost.
func factKey(k, v string) string { return k + "\x00" + v }

// Add indexes v, replacing any vendor with the same id.
func (x *Index) Add(v Vendor) error {
	if strings.TrimSpace(v.ID) == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidVendor)
	}
	d := &doc{id: v.ID, caps: map[string]bool{}, certs: map[string]string{}, facts: map[string]string{}}
	for _, c := range v.CPVCodes {
		if _, err := refdata.NormalizeCPV(c); err != nil || len(c) != 8 {
			return fmt.Errorf("%w: %s: CPV code %q", ErrInvalidVendor, v.ID, c)
		}
		d.cpv = append(d.cpv, weightedCode{prefix: refdata.CPVPrefix(c), conf: 1})
	}
	for _, r := range v.Regions {
		k, err := refdata.RegionFilterKey(r)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidVendor, v.ID, err)
		}
		d.regions = append(d.regions, k)
	}
	for _, c := range v.Certifications {
		d.certs[CertKey(c)] = c
	}
	factText := make([]string, 0, len(v.ProductFacts))
	for _, k := range slices.Sorted(maps.Keys(v.ProductFacts)) {
		d.facts[normFact(k)] = normFact(v.ProductFacts[k])
		factText = append(factText, k+" "+v.ProductFacts[k])
	}

	fields := [numFields]string{
		fieldName: v.Name, fieldCapabilities: strings.Join(v.Capabilities, ". "),
		fieldDescription: dedupeSentences(v.Description), fieldFacts: strings.Join(factText, ". "),
	}
	lang := DetectLanguage(strings.Join(fields[:], " "), German)
	fields[fieldCPV] = cpvLabelText(v.CPVCodes, lang)
	fw := x.fieldWeights()
	tf := make(map[string][numGroups]float64)
	all := make(map[string]float64)
	for f, text := range fields {
		for _, t := range x.an.analyze(text, lang, nil) {
			wt := fw[f]
			if t.part {
				wt *= x.w.CompoundPart
			} else {
				d.lens[f]++
			}
			g := tf[t.stem]
			g[fieldGroup[f]] += wt
			tf[t.stem] = g
			if f != fieldCPV {
				// Codes are inferred from the vendor's own words,
				// not from the labels of the codes it states.
				all[t.stem]++
			}
		}
	}
	for _, t := range x.an.analyzeRequirement(fields[fieldCapabilities], lang) {
		d.caps[t.stem] = true
	}
	d.inferred = labelIndex()[lang].infer(all, &x.w)

	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(v.ID)
	x.gen++
	var di int32
	if n := len(x.free); n > 0 {
		di, x.free = x.free[n-1], x.free[:n-1]
		x.docs[di] = d
	} else {
		di = int32(len(x.docs))
		x.docs = append(x.docs, d)
		x.dl = append(x.dl, [numGroups]float64{})
	}
	x.dl[di] = x.docLen(d)
	x.byID[v.ID] = di
	for _, s := range slices.Sorted(maps.Keys(tf)) {
		id, ok := x.termID[s]
		if !ok {
			id = int32(len(x.terms))
			x.terms = append(x.terms, s)
			x.termID[s] = id
			x.postings = append(x.postings, nil)
		}
		if len(x.postings[id]) == 0 {
			x.vocab++ // a word of no vendor is one again
		}
		// Postings stay sorted by document so explain finds a tf by
		// binary search; only a reused number lands before the end.
		p := x.postings[id]
		at := len(p)
		if at > 0 && p[at-1].doc > di {
			at, _ = slices.BinarySearchFunc(p, di, func(p posting, di int32) int { return cmp.Compare(p.doc, di) })
		}
		g := tf[s]
		x.postings[id] = slices.Insert(p, at, posting{doc: di, tf: [numGroups]float32{float32(g[0]), float32(g[1])}})
		d.terms = append(d.terms, id)
	}
	for s := range d.caps {
		x.capPost[s] = append(x.capPost[s], di)
	}
	addPrefixes(x.cpvPost, d.cpv, di)
	addPrefixes(x.infPost, d.inferred, di)
	for c := range d.certs {
		x.certPost[c] = append(x.certPost[c], di)
	}
	for _, r := range d.distinctRegions() {
		x.regionPost[r] = append(x.regionPost[r], di)
	}
	for k, v := range d.facts {
		x.factPost[factKey(k, v)] = append(x.factPost[factKey(k, v)], di)
	}
	for f := range numFields {
		x.fieldTot[f] += int64(d.lens[f])
	}
	x.n++
	return nil
}

// distinctRegions returns d's regions without repeats.
func (d *doc) distinctRegions() []string {
	return slices.Compact(slices.Sorted(slices.Values(d.regions)))
}

// dropDoc removes di from the posting of key, and the posting when empty.
func dropDoc(post map[string][]int32, key string, di int32) {
	p := slices.DeleteFunc(post[key], func(d int32) bool { return d == di })
	if len(p) == 0 {
		delete(post, key)
	} else {
		post[key] = p
	}
}

// addPrefixes posts di under every prefix (from the division down) of its
// codes, so a need code finds vendors sharing any level by lookups alone.
func addPrefixes(post map[string][]int32, codes []weightedCode, di int32) {
	seen := map[string]bool{}
	for _, c := range codes {
		for l := 2; l <= len(c.prefix); l++ {
			if p := c.prefix[:l]; !seen[p] {
				seen[p] = true
				post[p] = append(post[p], di)
			}
		}
	}
}

func dropPrefixes(post map[string][]int32, codes []weightedCode, di int32) {
	for _, c := range codes {
		for l := 2; l <= len(c.prefix); l++ {
			dropDoc(post, c.prefix[:l], di)
		}
	}
}

// Remove drops the vendor with id; it reports whether there was one.
func (x *Index) Remove(id string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.removeLocked(id)
}

func (x *Index) removeLocked(id string) bool {
	di, ok := x.byID[id]
	if !ok {
		return false
	}
	d := x.docs[di]
	for _, t := range d.terms {
		x.postings[t] = slices.DeleteFunc(x.postings[t], func(p posting) bool { return p.doc == di })
		if len(x.postings[t]) == 0 {
			x.vocab++ // the word left the vocabulary with its last vendor
		}
	}
	for s := range d.caps {
		if p := slices.DeleteFunc(x.capPost[s], func(d int32) bool { return d == di }); len(p) > 0 {
			x.capPost[s] = p
		} else {
			delete(x.capPost, s)
		}
	}
	dropPrefixes(x.cpvPost, d.cpv, di)
	dropPrefixes(x.infPost, d.inferred, di)
	for c := range d.certs {
		dropDoc(x.certPost, c, di)
	}
	for _, r := range d.distinctRegions() {
		dropDoc(x.regionPost, r, di)
	}
	for k, v := range d.facts {
		dropDoc(x.factPost, factKey(k, v), di)
	}
	for f := range numFields {
		x.fieldTot[f] -= int64(d.lens[f])
	}
	x.docs[di] = nil
	x.free = append(x.free, di)
	delete(x.byID, id)
	x.n--
	x.gen++
	return true
}

// queryTerm is one distinct stem of the need with its weight.
type queryTerm struct {
	stem string
	qw   float64
	id   int32
	idf  float64
	// scale is qw·idf/maxText, textValue's factor for this term.
	scale float64
}

// nominalWeight is a component's name and nominal weight.
type nominalWeight struct {
	name string
	w    float64
}

// query is a need prepared for scoring against the index.
type query struct {
	need          Need
	lang          Language
	needCPV       []weightedCode
	needInferred  []weightedCode
	needAll       []weightedCode // needCPV then needInferred
	regionKeys    map[string]bool
	filterRegions []string
	filterCerts   []string // normalised
	qterms        []queryTerm
	maxText       float64
	applies       map[string]bool
	eff           map[string]float64
	nominal       []nominalWeight
	// avgdl is the mean field-weighted length of each group, and b the
	// length normalisation of each; normA and normC are BM25's length
	// normaliser 1-b+b·dl/avgdl as normA+normC·dl, inv its reciprocal
	// for every document, and k1p1 is k1+1, so that textValue, run for
	// every posting, divides once, not five times.
	avgdl        [numGroups]float64
	b            [numGroups]float64
	normA, normC [numGroups]float64
	k1p1         float64
	inv          [][numGroups]float64 // Index.invNorms
	needCaps     [][]token
	factKeys     []string // the need's fact keys, sorted
}

// prepare analyses need. It reports false when no component applies. The
// caller holds x.mu.
func (x *Index) prepare(need Need, f Filters) (*query, bool, error) {
	q := &query{need: need}
	for _, c := range need.CPVCodes {
		if _, err := refdata.NormalizeCPV(c); err != nil || len(c) != 8 {
			return nil, false, fmt.Errorf("%w: CPV code %q", ErrInvalidNeed, c)
		}
		q.needCPV = append(q.needCPV, weightedCode{prefix: refdata.CPVPrefix(c), conf: 1})
	}
	if need.Region != "" {
		keys := refdata.RegionKeys(need.Region)
		if keys == nil {
			return nil, false, fmt.Errorf("%w: unknown region %q", ErrInvalidNeed, need.Region)
		}
		q.regionKeys = make(map[string]bool, len(keys))
		for _, k := range keys {
			q.regionKeys[k] = true
		}
	}
	for _, r := range f.Regions {
		k, err := refdata.RegionFilterKey(r)
		if err != nil {
			return nil, false, fmt.Errorf("%w: filter: %w", ErrInvalidNeed, err)
		}
		q.filterRegions = append(q.filterRegions, k)
	}
	for _, c := range f.Certifications {
		q.filterCerts = append(q.filterCerts, CertKey(c))
	}

	q.lang = DetectLanguage(need.Title+" "+need.Description, German)
	// The vocabulary is the words of the vendors indexed now, not of
	// those removed since, so that a ranking does not depend on the
	// index's history; its changes version the analyses of words whose
	// compound parts depend on it.
	inVocab := func(s string) bool { id, ok := x.termID[s]; return ok && len(x.postings[id]) > 0 }
	x.queryWords.reset(x.vocab)
	qw := make(map[string]float64)
	all := make(map[string]float64)
	for i, text := range []string{need.Title, need.Description} {
		boost := 1.0
		if i == 0 {
			boost = x.w.TitleBoost
		}
		for _, t := range x.an.analyzeCached(text, q.lang, inVocab, &x.queryWords) {
			wt := boost
			if t.part {
				wt *= x.w.CompoundPart
			}
			qw[t.stem] += wt
			all[t.stem]++
		}
	}
	q.needInferred = labelIndex()[q.lang].infer(all, &x.w)
	for _, t := range x.an.analyzeCached(cpvLabelText(need.CPVCodes, q.lang), q.lang, inVocab, &x.queryWords) {
		wt := x.w.QueryCPVLabel
		if t.part {
			wt *= x.w.CompoundPart
		}
		qw[t.stem] += wt
	}
	q.needAll = append(slices.Clone(q.needCPV), q.needInferred...)

	n := float64(x.n)
	for _, s := range slices.Sorted(maps.Keys(qw)) {
		id, ok := x.termID[s]
		df := 0
		if ok {
			df = len(x.postings[id])
		}
		idf := math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
		q.maxText += qw[s] * idf * (x.w.K1 + 1)
		if df > 0 {
			q.qterms = append(q.qterms, queryTerm{stem: s, qw: qw[s], id: id, idf: idf})
		}
	}

	// Which components apply, and the scale that makes their weights 100.
	q.applies = map[string]bool{
		ComponentText: q.maxText > 0,
		ComponentCPV:  len(q.needCPV) > 0,
		// The bridge applies when a pair with one inferred side can
		// exist: the need's stated codes with some vendor's inferred
		// ones, or its inferred codes with some vendor's stated ones.
		ComponentCPVBridge: len(q.needCPV) > 0 && len(x.infPost) > 0 ||
			len(q.needInferred) > 0 && len(x.cpvPost) > 0,
		ComponentCapabilities:   len(need.Capabilities) > 0,
		ComponentCertifications: len(need.Certifications) > 0,
		ComponentRegion:         q.regionKeys != nil,
		ComponentProductFacts:   len(need.ProductFacts) > 0,
	}
	q.nominal = []nominalWeight{
		{ComponentText, x.w.Text}, {ComponentCPV, x.w.CPV}, {ComponentCPVBridge, x.w.CPVBridge},
		{ComponentCapabilities, x.w.Capabilities}, {ComponentCertifications, x.w.Certifications},
		{ComponentRegion, x.w.Region}, {ComponentProductFacts, x.w.ProductFacts},
	}
	var wsum float64
	for _, c := range q.nominal {
		if q.applies[c.name] {
			wsum += c.w
		}
	}
	if wsum == 0 {
		return nil, false, nil
	}
	q.eff = make(map[string]float64, len(q.nominal))
	for _, c := range q.nominal {
		if q.applies[c.name] {
			q.eff[c.name] = c.w * 100 / wsum
		}
	}

	var avg [numFields]float64
	if x.n > 0 {
		for fi := range numFields {
			avg[fi] = float64(x.fieldTot[fi]) / n
		}
	}
	fw := x.fieldWeights()
	for fi := range numFields {
		q.avgdl[fieldGroup[fi]] += fw[fi] * avg[fi]
	}
	q.b = [numGroups]float64{groupLabels: x.w.BLabels, groupDescription: x.w.B}
	for g := range numGroups {
		q.normA[g] = 1 - q.b[g]
		q.normC[g] = q.b[g] / max(q.avgdl[g], 1e-9)
	}
	q.k1p1 = x.w.K1 + 1
	q.inv = x.invNorms(q)
	for i := range q.qterms {
		q.qterms[i].scale = q.qterms[i].qw * q.qterms[i].idf / q.maxText
	}
	q.needCaps = make([][]token, len(need.Capabilities))
	for i, c := range need.Capabilities {
		q.needCaps[i] = x.an.analyzeRequirement(c, q.lang)
	}
	q.factKeys = slices.Sorted(maps.Keys(need.ProductFacts))
	return q, true, nil
}

func (x *Index) fieldWeights() [numFields]float64 {
	return [numFields]float64{x.w.FieldName, x.w.FieldCapabilities, x.w.FieldDescription, x.w.FieldFacts, x.w.FieldCPV}
}

// cpvLabelText is the labels of codes in lang, one sentence each.
func cpvLabelText(codes []string, lang Language) string {
	var b strings.Builder
	for _, c := range codes {
		if l, ok := refdata.LookupCPV(c); ok {
			b.WriteString(cpvLabel(l, lang))
			b.WriteString(". ")
		}
	}
	return b.String()
}

// docLen is d's field-weighted length by group.
func (x *Index) docLen(d *doc) [numGroups]float64 {
	fw := x.fieldWeights()
	var dl [numGroups]float64
	for fi := range numFields {
		dl[fieldGroup[fi]] += fw[fi] * float64(d.lens[fi])
	}
	return dl
}

// tf returns the field-weighted frequencies of term id in document di; the
// postings are sorted by document.
func (x *Index) tf(id, di int32) ([numGroups]float32, bool) {
	p := x.postings[id]
	i, ok := slices.BinarySearchFunc(p, di, func(p posting, di int32) int { return cmp.Compare(p.doc, di) })
	if !ok {
		return [numGroups]float32{}, false
	}
	return p[i].tf, true
}

// textValue is BM25F's value of one need term in a document with term
// frequencies tf and group lengths dl, as a share of q.maxText: each
// group's frequency normalised by the group's length, summed, then
// saturated once (Robertson, Zaragoza & Taylor 2004), so a word met in the
// name and the description counts more than in one, but not twice.
func (x *Index) textValue(q *query, qt *queryTerm, tf [numGroups]float32, inv *[numGroups]float64) float64 {
	var pseudo float64
	for g := range numGroups {
		pseudo += float64(tf[g]) * inv[g]
	}
	return qt.scale * (pseudo * q.k1p1 / (pseudo + x.w.K1))
}

// explain scores document di for q with the full explanation. It reports
// false when the score is not positive. It is the definition of the score;
// Rank's fast path (scoreOnly) must reproduce its Score bit for bit.
func (x *Index) explain(q *query, di int32) (Result, bool) {
	d := x.docs[di]
	var comps []Contribution
	add := func(name string, value float64, matches []Match) {
		if !q.applies[name] {
			return
		}
		c := Contribution{Component: name, Effective: q.eff[name], Value: value, Matches: matches}
		for _, nc := range q.nominal {
			if nc.name == name {
				c.Weight = nc.w
			}
		}
		for _, m := range matches {
			c.Points += m.Points
		}
		comps = append(comps, c)
	}

	// text
	inv := &q.inv[di]
	var tm []Match
	var tv float64
	// The need's terms and the document's are both in the order of their
	// stems, so one merge finds those they share, and only those need a
	// search of their postings.
	dt := d.terms
	for i := range q.qterms {
		qt := &q.qterms[i]
		for len(dt) > 0 && x.terms[dt[0]] < qt.stem {
			dt = dt[1:]
		}
		if len(dt) == 0 {
			break
		}
		if dt[0] != qt.id {
			continue
		}
		tf, ok := x.tf(qt.id, di)
		if !ok {
			continue
		}
		v := x.textValue(q, qt, tf, inv)
		tv += v
		tm = append(tm, Match{Need: qt.stem, Vendor: qt.stem, Points: v * q.eff[ComponentText]})
	}
	add(ComponentText, tv, tm)

	// cpv
	cm, cv := matchCodes(nil, q.needCPV, len(q.needCPV), d.cpv, len(d.cpv), &x.w.Levels, statedPair)
	add(ComponentCPV, cv, cpvMatches(cm, q.eff[ComponentCPV], cv))

	// bridge: the pairs with one inferred side.
	vendAll := append(slices.Clone(d.cpv), d.inferred...)
	bm, bv := matchCodes(nil, q.needAll, len(q.needCPV), vendAll, len(d.cpv), &x.w.Levels, bridgePair)
	add(ComponentCPVBridge, bv, cpvMatches(bm, q.eff[ComponentCPVBridge], bv))

	need := q.need
	if q.applies[ComponentCapabilities] {
		var ms []Match
		for i, toks := range q.needCaps {
			if len(toks) > 0 && all2(toks, d.caps) {
				ms = append(ms, Match{Need: need.Capabilities[i], Vendor: need.Capabilities[i]})
			}
		}
		val := float64(len(ms)) / float64(len(q.needCaps))
		setPoints(ms, q.eff[ComponentCapabilities]/float64(len(q.needCaps)))
		add(ComponentCapabilities, val, ms)
	}
	if q.applies[ComponentCertifications] {
		var ms []Match
		for _, c := range need.Certifications {
			if held, ok := d.certs[CertKey(c)]; ok {
				ms = append(ms, Match{Need: c, Vendor: held})
			}
		}
		setPoints(ms, q.eff[ComponentCertifications]/float64(len(need.Certifications)))
		add(ComponentCertifications, float64(len(ms))/float64(len(need.Certifications)), ms)
	}
	if q.applies[ComponentRegion] {
		var ms []Match
		for _, r := range d.regions {
			if q.regionKeys[r] {
				ms = append(ms, Match{Need: need.Region, Vendor: r, Points: q.eff[ComponentRegion]})
				break
			}
		}
		add(ComponentRegion, float64(len(ms)), ms)
	}
	if q.applies[ComponentProductFacts] {
		var ms []Match
		for _, k := range q.factKeys {
			if v, ok := d.facts[normFact(k)]; ok && v == normFact(need.ProductFacts[k]) {
				ms = append(ms, Match{Need: k + "=" + need.ProductFacts[k], Vendor: k + "=" + v})
			}
		}
		setPoints(ms, q.eff[ComponentProductFacts]/float64(len(need.ProductFacts)))
		add(ComponentProductFacts, float64(len(ms))/float64(len(need.ProductFacts)), ms)
	}

	var total float64
	for _, c := range comps {
		total += c.Points
	}
	if total <= 0 {
		return Result{}, false
	}
	return Result{
		VendorID:    d.id,
		Score:       total,
		Explanation: Explanation{WeightsVersion: x.w.Version, Language: q.lang, Components: comps},
	}, true
}

// scratch is the per-ranking working memory, pooled so a ranking against
// 100,000 vendors does not allocate and zero arrays of that size each time.
// The arrays by document are zero outside a ranking, except stamp.
type scratch struct {
	textPts []float64 // text points by document, for candidates
	seen    []bool    // by document: is a candidate
	// otherUB is, by document, an upper bound of its points from every
	// component but text (boundCodes, boundRequirements).
	otherUB []float64
	// stamp marks, by document, the (ranking, need code, component) that
	// last credited it, so each gets one credit per need code; gen is
	// the stamp of the current one.
	stamp []uint32
	gen   uint32

	cand  []int32   // candidates, in the order found
	ub    []float64 // upper bound of each candidate's score, as cand
	order []int32   // positions in cand, by bucket of ub
	// bucketEnd and bucketMax are, by bucket of ub, where its candidates
	// end in order and the greatest ub among them.
	bucketEnd []int32
	bucketMax []float64

	codes   []weightedCode
	matches []cpvMatch
	top     topK
}

// numBuckets is how finely candidates are ordered by their bound: enough
// that the top buckets hold few more candidates than the k best.
const numBuckets = 1024

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// grow readies s for an index of n document numbers.
func (s *scratch) grow(n int) {
	if len(s.seen) >= n {
		return
	}
	s.seen = make([]bool, n)
	s.textPts = make([]float64, n)
	s.otherUB = make([]float64, n)
	s.stamp = make([]uint32, n)
	s.gen = 0
}

// nextStamp returns a stamp no document carries.
func (s *scratch) nextStamp() uint32 {
	s.gen++
	if s.gen == 0 { // wrapped: forget every stamp
		clear(s.stamp)
		s.gen = 1
	}
	return s.gen
}

// clear zeroes what the ranking set by document.
func (s *scratch) clear() {
	for _, di := range s.cand {
		s.seen[di], s.textPts[di], s.otherUB[di] = false, 0, 0
	}
	s.cand = s.cand[:0]
}

func (s *scratch) addCandidate(di int32) {
	if !s.seen[di] {
		s.seen[di] = true
		s.cand = append(s.cand, di)
	}
}

// Rank returns the k best vendors for need, best first, equal scores by
// vendor id. Only vendors that share at least a word or a CPV division
// with the need are candidates: better no result than a bad one.
//
// Every candidate gets an upper bound of its score from postings alone:
// its exact text points plus bounds of the other components (boundCodes,
// boundRequirements). Candidates are scored without building their
// explanation (scoreOnly, which adds up exactly the same numbers in the
// same order as explain) in falling order of their bound, the k best kept
// in a heap, until the bound falls below the k-th best score: no candidate
// left can then enter the top k. Only the k best are explained. Since the
// heap orders by score and id, the order of scoring does not change the
// result.
func (x *Index) Rank(need Need, k int, f Filters) ([]Result, error) {
	if k <= 0 {
		return nil, nil
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	q, ok, err := x.prepare(need, f)
	if err != nil || !ok {
		return nil, err
	}

	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	s.grow(len(x.docs))
	defer s.clear()

	// Candidates, with their text points added up term by term in the
	// order explain adds them.
	effText := q.eff[ComponentText]
	for i := range q.qterms {
		qt := &q.qterms[i]
		for _, p := range x.postings[qt.id] {
			s.addCandidate(p.doc)
			v := x.textValue(q, qt, p.tf, &q.inv[p.doc])
			s.textPts[p.doc] += v * effText
		}
	}
	for _, c := range q.needAll {
		for _, di := range x.cpvPost[c.prefix[:2]] {
			s.addCandidate(di)
		}
		for _, di := range x.infPost[c.prefix[:2]] {
			s.addCandidate(di)
		}
	}
	x.boundCodes(q, s)
	x.boundRequirements(q, s)

	// A candidate's score is at most its text points plus the bounds of
	// the other components. Pruning widens the bound by far more than the
	// rounding of the sums (the bound adds them in another order), so it
	// never changes a result.
	s.ub = s.ub[:0]
	maxUB := 0.0
	for _, di := range s.cand {
		ub := s.textPts[di] + s.otherUB[di]
		s.ub = append(s.ub, ub)
		maxUB = max(maxUB, ub)
	}
	s.bucketOrder(maxUB)

	s.top.reset(k)
	end := int32(len(s.order))
	for bk := numBuckets - 1; bk >= 0; bk-- {
		// Bucket bk spans order[bucketEnd[bk-1]:bucketEnd[bk]]; bucket 0
		// starts at 0.
		var from int32
		if bk > 0 {
			from = s.bucketEnd[bk-1]
		}
		if from == end {
			continue
		}
		// Buckets rise with the bound, so when the greatest bound of this
		// one cannot make the top k, no bound below it can.
		if worst, full := s.top.worst(); full && prunable(s.bucketMax[bk], worst) {
			break
		}
		for _, ci := range s.order[from:end] {
			di := s.cand[ci]
			if worst, full := s.top.worst(); full && prunable(s.ub[ci], worst) {
				continue
			}
			d := x.docs[di]
			if !passes(d, q.filterRegions, q.filterCerts) {
				continue
			}
			if total := x.scoreOnly(q, d, s.textPts[di], s); total > 0 {
				s.top.offer(ranked{score: total, id: d.id, doc: di})
			}
		}
		end = from
	}
	best := s.top.sorted()
	results := make([]Result, 0, len(best))
	for _, r := range best {
		res, _ := x.explain(q, r.doc)
		results = append(results, res)
	}
	return results, nil
}

// prunable reports whether a candidate whose score is at most ub cannot
// beat worst, the k-th best score so far, even with ub off by rounding.
func prunable(ub, worst float64) bool { return ub*(1+1e-9)+1e-9 < worst }

// bucketOrder orders the candidates' positions in s.order by buckets of
// their bounds: bucket i holds the bounds in [i, i+1)·maxUB/(numBuckets-1),
// so a bucket's bounds are all at least those of the buckets below it.
func (s *scratch) bucketOrder(maxUB float64) {
	s.bucketEnd = slices.Grow(s.bucketEnd[:0], numBuckets)[:numBuckets]
	s.bucketMax = slices.Grow(s.bucketMax[:0], numBuckets)[:numBuckets]
	clear(s.bucketEnd)
	for i := range s.bucketMax {
		s.bucketMax[i] = math.Inf(-1)
	}
	scale := 0.0
	if maxUB > 0 && !math.IsInf(maxUB, 0) {
		scale = (numBuckets - 1) / maxUB
	}
	bucket := func(ub float64) int {
		// A NaN or negative bound lands in bucket 0 and is still scored.
		return min(max(int(ub*scale), 0), numBuckets-1)
	}
	for _, ub := range s.ub {
		bk := bucket(ub)
		s.bucketEnd[bk]++
		s.bucketMax[bk] = max(s.bucketMax[bk], ub)
	}
	var at int32
	for i, n := range s.bucketEnd {
		s.bucketEnd[i] = at // start, for now
		at += n
	}
	s.order = slices.Grow(s.order[:0], len(s.ub))[:len(s.ub)]
	for ci, ub := range s.ub {
		bk := bucket(ub)
		s.order[s.bucketEnd[bk]] = int32(ci)
		s.bucketEnd[bk]++ // ends up at the bucket's end
	}
}

// codesConf is the sum of the codes' confidences, matchCodes' total.
func codesConf(codes []weightedCode) float64 {
	var t float64
	for _, c := range codes {
		t += c.conf
	}
	return t
}

// boundCodes adds to s.otherUB, for every candidate, bounds of the points
// of the cpv and bridge components: matchCodes' value is the sum of the
// best credits of the need's codes over their total confidence, and the
// points are the effective weight times the value. The deepest level at which a document is posted under a need
// code's prefixes is the longest prefix it shares with any of its codes,
// which bounds the best level of the pair; a pair whose side is inferred
// counts with its confidence, at most the need code's.
func (x *Index) boundCodes(q *query, s *scratch) {
	var credit [8]float64
	// add credits the candidates posted under c's prefixes in posts,
	// each once, at the deepest level it is posted at (so the walk is
	// deepest first).
	add := func(c weightedCode, scale float64, posts ...map[string][]int32) {
		st := s.nextStamp()
		for l := len(c.prefix); l >= 2; l-- {
			pts := credit[l-1] * scale
			for _, post := range posts {
				for _, di := range post[c.prefix[:l]] {
					if s.seen[di] && s.stamp[di] != st {
						s.stamp[di] = st
						s.otherUB[di] += pts
					}
				}
			}
		}
	}
	// Points per credit.
	cpvScale, bridgeScale := 0.0, 0.0
	if tot := codesConf(q.needCPV); tot > 0 {
		cpvScale = max(q.eff[ComponentCPV], 0) / tot
	}
	if tot := codesConf(q.needAll); tot > 0 {
		bridgeScale = max(q.eff[ComponentCPVBridge], 0) / tot
	}
	for i, c := range q.needAll {
		x.levelCredit(&credit, len(c.prefix), c.conf)
		if i < len(q.needCPV) && q.applies[ComponentCPV] {
			// Stated pairs: the need's stated codes with the vendor's.
			add(c, cpvScale, x.cpvPost)
		}
		switch {
		case !q.applies[ComponentCPVBridge]:
		case i < len(q.needCPV):
			// The bridge pairs a stated need code with the vendor's
			// inferred codes only, an inferred one with its stated codes.
			add(c, bridgeScale, x.infPost)
		default:
			add(c, bridgeScale, x.cpvPost)
		}
	}
}

// boundRequirements adds to s.otherUB, for every candidate, the points of
// the capabilities, certifications, region and product facts it can score
// as far as the postings tell.
func (x *Index) boundRequirements(q *query, s *scratch) {
	credit := func(post []int32, pts float64) {
		for _, di := range post {
			if s.seen[di] {
				s.otherUB[di] += pts
			}
		}
	}
	if q.applies[ComponentCapabilities] {
		each := max(q.eff[ComponentCapabilities], 0) / float64(len(q.needCaps))
		for _, toks := range q.needCaps {
			// A vendor meets the capability only with all its whole
			// words' stems among its own: the rarest one's posting holds
			// every vendor that does.
			var rarest []int32
			words := 0
			for _, t := range toks {
				if t.part {
					continue
				}
				if p := x.capPost[t.stem]; words == 0 || len(p) < len(rarest) {
					rarest = p
				}
				words++
			}
			// Every word yields its whole-word token (analyzeRequirement),
			// so a capability with tokens has words; a stem no vendor
			// states leaves rarest empty.
			if words > 0 {
				credit(rarest, each)
			}
		}
	}
	if q.applies[ComponentCertifications] {
		each := max(q.eff[ComponentCertifications], 0) / float64(len(q.need.Certifications))
		for _, c := range q.need.Certifications {
			credit(x.certPost[CertKey(c)], each)
		}
	}
	if q.applies[ComponentRegion] {
		pts, st := max(q.eff[ComponentRegion], 0), s.nextStamp()
		for r := range q.regionKeys {
			for _, di := range x.regionPost[r] {
				if s.seen[di] && s.stamp[di] != st {
					s.stamp[di] = st
					s.otherUB[di] += pts
				}
			}
		}
	}
	if q.applies[ComponentProductFacts] {
		each := max(q.eff[ComponentProductFacts], 0) / float64(len(q.need.ProductFacts))
		for _, k := range q.factKeys {
			credit(x.factPost[factKey(normFact(k), normFact(q.need.ProductFacts[k]))], each)
		}
	}
}

// levelCredit sets credit[l-1], for the shared prefix lengths l from 2 to
// n (the need code's length), to conf times the greatest level credit of a
// pair sharing at most l characters, as cpvLevel grades them.
func (x *Index) levelCredit(credit *[8]float64, n int, conf float64) {
	best := 0.0
	for l := 2; l <= n; l++ {
		lvl, _ := sharedLevel(l, n)
		best = max(best, x.w.Levels[lvl])
		credit[l-1] = conf * best
	}
}

// scoreOnly is explain's Score without the explanation: the same sums of
// the same terms in the same order, so the result is identical bit for bit
// (TestRankMatchesExhaustive holds it to that). textPts is the sum of the
// text matches' points.
func (x *Index) scoreOnly(q *query, d *doc, textPts float64, s *scratch) float64 {
	var total float64
	if q.applies[ComponentText] {
		total += textPts
	}
	if q.applies[ComponentCPV] {
		var v float64
		s.matches, v = matchCodes(s.matches[:0], q.needCPV, len(q.needCPV), d.cpv, len(d.cpv), &x.w.Levels, statedPair)
		total += cpvPoints(s.matches, q.eff[ComponentCPV], v)
	}
	if q.applies[ComponentCPVBridge] {
		s.codes = append(append(s.codes[:0], d.cpv...), d.inferred...)
		var v float64
		s.matches, v = matchCodes(s.matches[:0], q.needAll, len(q.needCPV), s.codes, len(d.cpv), &x.w.Levels, bridgePair)
		total += cpvPoints(s.matches, q.eff[ComponentCPVBridge], v)
	}
	need := q.need
	if q.applies[ComponentCapabilities] {
		each, pts := q.eff[ComponentCapabilities]/float64(len(q.needCaps)), 0.0
		for _, toks := range q.needCaps {
			if len(toks) > 0 && all2(toks, d.caps) {
				pts += each
			}
		}
		total += pts
	}
	if q.applies[ComponentCertifications] {
		each, pts := q.eff[ComponentCertifications]/float64(len(need.Certifications)), 0.0
		for _, c := range need.Certifications {
			if _, ok := d.certs[CertKey(c)]; ok {
				pts += each
			}
		}
		total += pts
	}
	if q.applies[ComponentRegion] {
		pts := 0.0
		for _, r := range d.regions {
			if q.regionKeys[r] {
				pts += q.eff[ComponentRegion]
				break
			}
		}
		total += pts
	}
	if q.applies[ComponentProductFacts] {
		each, pts := q.eff[ComponentProductFacts]/float64(len(need.ProductFacts)), 0.0
		for _, k := range q.factKeys {
			if v, ok := d.facts[normFact(k)]; ok && v == normFact(need.ProductFacts[k]) {
				pts += each
			}
		}
		total += pts
	}
	return total
}

// cpvPoints is the sum of the points cpvMatches gives ms, whose value is
// value.
func cpvPoints(ms []cpvMatch, eff, value float64) float64 {
	var sum float64
	for _, m := range ms {
		sum += m.value
	}
	var pts float64
	for _, m := range ms {
		p := 0.0
		if sum > 0 {
			p = eff * value * m.value / sum
		}
		pts += p
	}
	return pts
}

func cpvMatches(ms []cpvMatch, eff, value float64) []Match {
	out := make([]Match, 0, len(ms))
	var sum float64
	for _, m := range ms {
		sum += m.value
	}
	for _, m := range ms {
		code := func(c weightedCode) string { return c.prefix + strings.Repeat("0", 8-len(c.prefix)) }
		p := 0.0
		if sum > 0 {
			p = eff * value * m.value / sum
		}
		out = append(out, Match{
			Need: code(m.need), Vendor: code(m.vendor), Level: levelNames[m.level],
			Inferred: m.inferred,
			Points:   p,
		})
	}
	return out
}

func setPoints(ms []Match, each float64) {
	for i := range ms {
		ms[i].Points = each
	}
}

func all2(toks []token, have map[string]bool) bool {
	for _, t := range toks {
		if !t.part && !have[t.stem] {
			return false
		}
	}
	return true
}

// passes reports whether d is in the filters; certs are normalised.
func passes(d *doc, regions, certs []string) bool {
	for _, c := range certs {
		if _, ok := d.certs[c]; !ok {
			return false
		}
	}
	if len(regions) == 0 {
		return true
	}
	for _, want := range regions {
		for _, r := range d.regions {
			// A vendor serving a wider region serves every place in it.
			if strings.HasPrefix(want, r) && !strings.HasPrefix(r, "AGS:") || r == want || r == "DE" {
				return true
			}
		}
	}
	return false
}
