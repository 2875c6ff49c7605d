// Package score ranks vendors for a buyer's need in a way a procurement
// lawyer can follow: every score is the sum of named components, each a
// documented weight times a value between 0 and 1, and every result carries
// that sum term by term (Explanation). Ranking is deterministic: equal scores
// are ordered by vendor id. Nothing about a vendor's size, kind, popularity,
// past wins or payments is an input.
//
// The components are
//
//   - text: the need's words against the vendor's name, capabilities,
//     description and product facts, as BM25F over Snowball stems (German
//     or English, detected per text), with German compounds split into
//     their parts so "Terminbuchung" meets "Buchung von Terminen" (into
//     known parts, else at a known head: "Europawahl" meets "Wahl"),
//     umlauts spelt out folded ("Koeln" meets "Köln"), and markup such as
//     HTML tags and the words that name the act of procuring ("contract",
//     "lot", "Auftrag") left out;
//   - cpv: the need's CPV codes against the vendor's through the CPV tree
//     (exact or within the need's code, graded at that code's level when
//     it is broader than a category > same category > class > group >
//     division);
//   - cpvBridge: the same hierarchy match where one side's codes were
//     inferred from its text through the German and English CPV labels, so
//     a need written in words meets a vendor described in codes and back
//     (two inferred codes do not pair: that would be text meeting text,
//     which the text component measures on the words themselves);
//   - capabilities, certifications, region and productFacts: the share of
//     what the need asks for that the vendor states.
//
// A component the need does not ask for (no CPV codes, no region, …) is left
// out and the others are scaled so the weights in play add up to 100; the
// Explanation shows the nominal and the effective weight.
package score

// Weights are the named, versioned constants of the scoring. Change any of
// them, or how text is analysed, and the Version must change too, since
// every answer reports it: 2026-12.1 leaves out the words that name the act
// of procuring (procedural), chosen on the "tune" half of the evaluation
// needs and confirmed on the "test" half.
type Weights struct {
	// Version names this set of weights; it is part of every Explanation.
	Version string

	// Component weights, in points out of 100 when every component applies.

	// Text is the weight of free-text relevance: what the need says in
	// words is its primary statement of the problem.
	Text float64
	// CPV is the weight of the need's own CPV codes against the vendor's:
	// codes are the legal vocabulary of procurement and the strongest
	// structured evidence, but many needs and vendors code poorly, so text
	// keeps the larger share.
	CPV float64
	// CPVBridge is the weight of hierarchy matches where codes were inferred
	// from text; inference is a guess, so it counts less than stated codes.
	// Since 2026-11.2 only pairs with exactly one inferred side count, as
	// the package doc says; before, pairs of two inferred codes counted too
	// and the best inferred code (confidence 1) was taken for a stated one.
	CPVBridge float64
	// Capabilities, Certifications, Region and ProductFacts weigh the
	// explicit requirements of a need. They are hard facts but usually few,
	// so each weighs less than the text that describes the whole problem.
	Capabilities, Certifications, Region, ProductFacts float64

	// Field weights of BM25F: a vendor's name and stated capabilities say
	// what it is, so a word there counts more than one in the long
	// description; product facts are short attributes and count as much as
	// the description. Since 2026-11.1 the short fields are length-
	// normalised apart from the description (see BLabels), so a name word
	// is no longer diluted by a long description and its weight is what
	// it says: 8 was chosen on the "tune" half of the evaluation needs
	// (relevance.HalfOf) among 2, 3, 4, 6, 8 and confirmed on the "test"
	// half (cmd/relevance -half).
	FieldName, FieldCapabilities, FieldDescription, FieldFacts float64
	// FieldCPV weighs the labels of a vendor's CPV codes (in its
	// profile's language) as a field of their own, and QueryCPVLabel the
	// labels of a need's codes as extra query words, relative to a word of
	// the need's description: the bridge between the words of one side
	// and the codes of the other. A label is the official vocabulary,
	// not the writer's own words, so it counts as a description word on
	// the vendor's side and as half of one on the need's (the need's own
	// words state its problem; the label only names its category).
	FieldCPV, QueryCPVLabel float64
	// TitleBoost multiplies the weight of words in a need's title, which
	// names the problem, over those in its description.
	TitleBoost float64
	// CompoundPart is the weight of a compound's part relative to a whole
	// word: "Buchung" inside "Terminbuchung" is evidence of what the text
	// is about. Until 2026-11.1 it was 0.5, weaker than the word. Since
	// 2026-11.2 compounds are also split at a known head when not all
	// parts are known, and 1 was chosen on the "tune" half among 0.5,
	// 0.75 and 1 and confirmed on the "test" half: a part counts as a
	// word, as in decompounding retrieval generally, while the compound
	// itself, which is indexed too, still counts more than any one part.
	CompoundPart float64
	// K1 and B are BM25's term-frequency saturation and length
	// normalization, at the values the BM25 literature (Robertson &
	// Zaragoza 2009) recommends as defaults.
	K1, B float64
	// BLabels is the length normalisation of the short fields that label
	// a vendor (name, capabilities, product facts, CPV labels), which
	// BM25F normalises apart from the description. It is the literature's
	// default like B: labels vary in length (a bare name, a list of
	// capabilities), and a word in a longer list says less.
	BLabels float64

	// Levels are the credit of a CPV match by the deepest level both codes
	// share: [0] exact (the vendor's code is the need's or inside it),
	// [1] category, [2] class, [3] group, [4] division. Each level up the
	// five-level tree loses a fifth of the credit, so any shared level
	// counts but a closer one always counts more. Since 2026-11.2 a vendor
	// code inside a need's code broader than a category shares that
	// code's level, not exact (cpvLevel).
	Levels [5]float64

	// BridgeCodes is how many CPV codes are inferred from a text, and
	// BridgeMinShare the least label-match score, relative to the best
	// code, an inferred code must reach: a few strong guesses, not a list.
	BridgeCodes    int
	BridgeMinShare float64
}

// DefaultWeights are the weights govmatch answers with.
var DefaultWeights = Weights{
	Version:           "2026-12.1",
	Text:              50,
	CPV:               25,
	CPVBridge:         5,
	Capabilities:      5,
	Certifications:    4,
	Region:            4,
	ProductFacts:      2,
	FieldName:         8,
	FieldCapabilities: 8,
	FieldDescription:  1,
	FieldFacts:        1,
	FieldCPV:          1,
	QueryCPVLabel:     0.5,
	TitleBoost:        2,
	CompoundPart:      1,
	K1:                1.2,
	B:                 0.75,
	BLabels:           0.75,
	Levels:            [5]float64{1, 0.8, 0.6, 0.4, 0.2},
	BridgeCodes:       5,
	BridgeMinShare:    0.5,
}
