// Package corpus generates realistic vendors and needs for benchmarks of
// matching: their text and codes are drawn from the real vocabulary in
// shared/data (award notices of Contracts Finder, records of the
// Musterdatenkatalog, the CPV 2008 labels and the German regions), so the
// index sees the term distribution it meets in production, not uniform
// noise. Generation is deterministic: the same sources and seed give the
// same corpus.
package corpus

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/govmatch/govmatch/pkg/refdata"
	"github.com/govmatch/govmatch/services/matching/score"
)

// Paths of the sources relative to the data directory (shared/data).
const (
	AwardsFile  = "awards/contractsfinder_2020q3.csv"
	RecordsFile = "musterdatenkatalog/records_dev.csv"
)

// Doc is one source text: an award notice (English) or a data-set record
// (German).
type Doc struct {
	Title       string
	Description string
	// Topic is a short subject ("Abfallkalender", the award's title).
	Topic string
	// Org is the supplier (awards) or the publishing body (records).
	Org string
	// CPVCodes are the valid canonical codes the source names, if any.
	CPVCodes []string
}

// Sources is the vocabulary the generator draws from.
type Sources struct {
	English, German []Doc
}

// Load reads the sources from dataDir (shared/data).
func Load(dataDir string) (*Sources, error) {
	var s Sources
	var err error
	if s.English, err = readAwards(filepath.Join(dataDir, AwardsFile)); err != nil {
		return nil, err
	}
	if s.German, err = readRecords(filepath.Join(dataDir, RecordsFile)); err != nil {
		return nil, err
	}
	return &s, nil
}

func readCSV(path string, want []string, row func(col map[string]int, rec []string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	col := make(map[string]int, len(head))
	for i, h := range head {
		col[h] = i
	}
	for _, w := range want {
		if _, ok := col[w]; !ok {
			return fmt.Errorf("%s: no column %q", path, w)
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) == len(head) {
			row(col, rec)
		}
	}
}

func readAwards(path string) ([]Doc, error) {
	var out []Doc
	err := readCSV(path, []string{"Title", "Description", "Cpv Codes", "Supplier [Name|Address|Ref type|Ref Number|Is SME|Is VCSE]"},
		func(col map[string]int, rec []string) {
			d := Doc{
				Title:       strings.TrimSpace(rec[col["Title"]]),
				Description: strings.Join(strings.Fields(rec[col["Description"]]), " "),
			}
			d.Topic = d.Title
			sup := rec[col["Supplier [Name|Address|Ref type|Ref Number|Is SME|Is VCSE]"]]
			if name, _, ok := strings.Cut(strings.TrimPrefix(sup, "["), "|"); ok {
				d.Org = strings.TrimSpace(name)
			}
			for _, c := range strings.Fields(rec[col["Cpv Codes"]]) {
				if n, err := refdata.NormalizeCPV(c); err == nil {
					d.CPVCodes = append(d.CPVCodes, n)
				}
			}
			if d.Title != "" && d.Description != "" {
				out = append(out, d)
			}
		})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("%s: no awards", path)
	}
	return out, err
}

func readRecords(path string) ([]Doc, error) {
	var out []Doc
	err := readCSV(path, []string{"dct:title", "dct:description", "BEZEICHNUNG", "ORG"},
		func(col map[string]int, rec []string) {
			d := Doc{
				Title:       strings.TrimSpace(rec[col["dct:title"]]),
				Description: strings.Join(strings.Fields(rec[col["dct:description"]]), " "),
				Topic:       strings.TrimSpace(rec[col["BEZEICHNUNG"]]),
				Org:         strings.TrimSpace(rec[col["ORG"]]),
			}
			if d.Title != "" && d.Description != "" {
				out = append(out, d)
			}
		})
	if err == nil && len(out) == 0 {
		err = fmt.Errorf("%s: no records", path)
	}
	return out, err
}

// FindDataDir returns the nearest shared/data at or above dir, or "".
func FindDataDir(dir string) string {
	for {
		p := filepath.Join(dir, "shared", "data")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Sizes of generated texts, in words.
const (
	MinWords = 30
	MaxWords = 200
)

// divisionWeights bias CPV codes towards the IT and service divisions that
// govmatch's buyers mostly procure; the rest is spread over every code.
var divisionWeights = []struct {
	div string
	w   int
}{
	{"72", 30}, // IT services
	{"48", 15}, // software packages
	{"79", 10}, // business services
	{"71", 8},  // architectural and engineering services
	{"80", 5},  // education
	{"85", 5},  // health and social work
	{"90", 5},  // sewage, refuse, cleaning, environment
	{"", 22},   // any code
}

// Certifications vendors hold and needs ask for.
var Certifications = []string{
	"ISO 27001", "ISO 9001", "ISO 14001", "BSI C5", "BSI IT-Grundschutz",
	"TISAX", "Cyber Essentials", "Cyber Essentials Plus", "SOC 2",
}

var licences = []string{"EUPL-1.2", "MIT", "Apache-2.0", "GPL-3.0", "proprietär"}
var hosting = []string{"DE", "EU", "on-premises"}
var suffixes = []string{"GmbH", "AG", "GmbH & Co. KG", "eG", "Ltd", "UG"}

// Generator draws vendors and needs. It is not safe for concurrent use.
type Generator struct {
	src     *Sources
	r       *rand.Rand
	codes   []string            // every CPV code
	byDiv   map[string][]string // codes by division
	regions []string            // region codes
	labels  map[string][2]string
}

// New returns a generator over src seeded with seed.
func New(src *Sources, seed uint64) *Generator {
	g := &Generator{src: src, r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		byDiv: make(map[string][]string), labels: make(map[string][2]string)}
	for _, c := range refdata.CPVCodes() {
		g.codes = append(g.codes, c.Code)
		g.byDiv[c.Code[:2]] = append(g.byDiv[c.Code[:2]], c.Code)
		g.labels[c.Code] = [2]string{c.NameEN, c.NameDE}
	}
	for _, r := range refdata.Regions() {
		g.regions = append(g.regions, r.Code)
	}
	return g
}

func (g *Generator) pick(s []string) string { return s[g.r.IntN(len(s))] }

// code returns a random CPV code, weighted towards divisionWeights.
func (g *Generator) code() string {
	total := 0
	for _, d := range divisionWeights {
		total += d.w
	}
	n := g.r.IntN(total)
	for _, d := range divisionWeights {
		if n < d.w {
			if d.div != "" {
				return g.pick(g.byDiv[d.div])
			}
			break
		}
		n -= d.w
	}
	return g.pick(g.codes)
}

// codes returns between lo and hi distinct codes, preferring those of doc.
func (g *Generator) codeSet(doc Doc, lo, hi int) []string {
	n := lo + g.r.IntN(hi-lo+1)
	var out []string
	seen := map[string]bool{}
	for _, c := range doc.CPVCodes {
		if len(out) < n && !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for len(out) < n {
		if c := g.code(); !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// docs returns the pool of one language: German for de, else English.
func (g *Generator) docs(de bool) []Doc {
	if de {
		return g.src.German
	}
	return g.src.English
}

// text returns a description of MinWords–MaxWords words, starting with
// first and continued with other texts of the same language.
func (g *Generator) text(first Doc, de bool) string {
	n := MinWords + g.r.IntN(MaxWords-MinWords+1)
	words := strings.Fields(first.Description)
	for len(words) < n {
		words = append(words, strings.Fields(g.pick2(g.docs(de)).Description)...)
	}
	return strings.Join(words[:n], " ")
}

func (g *Generator) pick2(ds []Doc) Doc { return ds[g.r.IntN(len(ds))] }

func (g *Generator) label(code string, de bool) string {
	if de {
		return g.labels[code][1]
	}
	return g.labels[code][0]
}

func (g *Generator) regionSet(n int) []string {
	out := make([]string, 0, n)
	for range n {
		if g.r.IntN(10) == 0 {
			out = append(out, "DE")
		} else {
			out = append(out, g.pick(g.regions))
		}
	}
	return out
}

// Vendors returns n vendors with ids v000000, v000001, ….
func (g *Generator) Vendors(n int) []score.Vendor {
	out := make([]score.Vendor, n)
	for i := range out {
		de := g.r.IntN(2) == 0
		doc := g.pick2(g.docs(de))
		v := score.Vendor{ID: fmt.Sprintf("v%06d", i)}
		org := doc.Org
		if org == "" || de {
			org = doc.Topic + " " + g.pick(suffixes)
		}
		v.Name = org
		v.Description = g.text(doc, de)
		v.CPVCodes = g.codeSet(doc, 1, 5)
		for _, c := range v.CPVCodes[:1+g.r.IntN(len(v.CPVCodes))] {
			v.Capabilities = append(v.Capabilities, g.label(c, de))
		}
		if de {
			v.Capabilities = append(v.Capabilities, doc.Topic)
		}
		for range g.r.IntN(3) {
			v.Certifications = append(v.Certifications, g.pick(Certifications))
		}
		v.Regions = g.regionSet(1 + g.r.IntN(3))
		if g.r.IntN(3) == 0 {
			v.ProductFacts = map[string]string{"licence": g.pick(licences), "hosting": g.pick(hosting)}
		}
		out[i] = v
	}
	return out
}

// Needs returns n needs.
func (g *Generator) Needs(n int) []score.Need {
	out := make([]score.Need, n)
	for i := range out {
		de := g.r.IntN(2) == 0
		doc := g.pick2(g.docs(de))
		nd := score.Need{Title: doc.Title, Description: g.text(doc, de)}
		if g.r.IntN(10) < 7 {
			nd.CPVCodes = g.codeSet(doc, 1, 3)
		}
		if g.r.IntN(3) == 0 {
			nd.Capabilities = []string{g.label(g.code(), de)}
		}
		if g.r.IntN(5) == 0 {
			nd.Certifications = []string{g.pick(Certifications)}
		}
		if g.r.IntN(2) == 0 {
			nd.Region = g.pick(g.regions)
		}
		if g.r.IntN(10) == 0 {
			nd.ProductFacts = map[string]string{"licence": g.pick(licences)}
		}
		out[i] = nd
	}
	return out
}
