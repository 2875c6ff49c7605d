// Package relevance measures how well a Ranker orders vendors for a need,
// following the protocol of shared/data/eval/README.md: each set directory
// holds vendors.jsonl, needs.jsonl and qrels.tsv; for every need the ranker
// returns vendor ids, best first, and Evaluate reports MRR over the top 100,
// Recall@10 and nDCG@10 with binary gains.
package relevance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// Language is the language of a set's text, as an ISO 639-1 code. Baselines
// pick their stemmer and stop words from it.
type Language string

// The languages of the evaluation sets.
const (
	English Language = "en"
	German  Language = "de"
)

// Vendor is a vendor profile as the evaluation sets describe it.
type Vendor struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	CPVCodes    []string `json:"cpvCodes"`
}

// Need is a buyer's need as the evaluation sets describe it.
type Need struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	CPVCodes    []string `json:"cpvCodes"`
}

// Set is one evaluation set: the vendors to rank, the needs to rank them
// for, and which vendors are right for which need.
type Set struct {
	Name     string // the directory's base name, e.g. "awards-en"
	Language Language
	Vendors  []Vendor
	Needs    []Need
	// Right maps a need id to the ids of the vendors that are right for it.
	Right map[string]map[string]bool
	// DuplicateNeeds counts needs.jsonl lines that repeated an earlier need
	// exactly and were dropped, so that no need is scored twice.
	DuplicateNeeds int
}

// Load reads the set in dir. The language comes from the directory name's
// suffix ("-en", "-de"); use LoadLanguage for a directory named otherwise.
func Load(dir string) (*Set, error) {
	lang, err := LanguageOf(filepath.Base(filepath.Clean(dir)))
	if err != nil {
		return nil, err
	}
	return LoadLanguage(dir, lang)
}

// LanguageOf returns the language that a set name such as "awards-en" ends
// with.
func LanguageOf(name string) (Language, error) {
	i := strings.LastIndexByte(name, '-')
	if i >= 0 {
		switch l := Language(name[i+1:]); l {
		case English, German:
			return l, nil
		}
	}
	return "", fmt.Errorf("relevance: set %q: name does not end in -%s or -%s", name, English, German)
}

// LoadLanguage reads the set in dir, whose text is in lang.
//
// It fails on records without an id, on two different records with one id,
// and on judgements that name an unknown need or vendor: a broken set must
// not quietly change the figures. A need line repeated verbatim is dropped
// and counted in DuplicateNeeds.
func LoadLanguage(dir string, lang Language) (*Set, error) {
	s := &Set{
		Name:     filepath.Base(filepath.Clean(dir)),
		Language: lang,
		Right:    make(map[string]map[string]bool),
	}

	vendors, err := readJSONL[Vendor](filepath.Join(dir, "vendors.jsonl"), func(v Vendor) string { return v.ID })
	if err != nil {
		return nil, err
	}
	if dup := firstDuplicate(vendors.records, func(v Vendor) string { return v.ID }); dup != "" {
		return nil, fmt.Errorf("relevance: %s: vendor id %q occurs twice", dir, dup)
	}
	s.Vendors = vendors.records

	needs, err := readJSONL[Need](filepath.Join(dir, "needs.jsonl"), func(n Need) string { return n.ID })
	if err != nil {
		return nil, err
	}
	if dup := firstDuplicate(needs.records, func(n Need) string { return n.ID }); dup != "" {
		return nil, fmt.Errorf("relevance: %s: need id %q occurs twice with different content", dir, dup)
	}
	s.Needs, s.DuplicateNeeds = needs.records, needs.repeated

	vendorIDs := make(map[string]bool, len(s.Vendors))
	for _, v := range s.Vendors {
		vendorIDs[v.ID] = true
	}
	needIDs := make(map[string]bool, len(s.Needs))
	for _, n := range s.Needs {
		needIDs[n.ID] = true
	}
	if err := readQrels(filepath.Join(dir, "qrels.tsv"), needIDs, vendorIDs, s.Right); err != nil {
		return nil, err
	}
	return s, nil
}

type jsonl[T any] struct {
	records  []T
	repeated int // lines equal to an earlier record, dropped
}

// readJSONL decodes one T per non-blank line. A record equal to an earlier
// one with the same id is dropped; a different one with the same id is kept
// for the caller to reject.
func readJSONL[T any](path string, id func(T) string) (jsonl[T], error) {
	var out jsonl[T]
	f, err := os.Open(path)
	if err != nil {
		return out, fmt.Errorf("relevance: %w", err)
	}
	defer f.Close()

	seen := make(map[string]T)
	r := bufio.NewReader(f)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return out, fmt.Errorf("relevance: %s: %w", path, err)
		}
		if len(bytes.TrimSpace(b)) > 0 {
			var rec T
			if err := json.Unmarshal(b, &rec); err != nil {
				return out, fmt.Errorf("relevance: %s:%d: %w", path, line, err)
			}
			key := id(rec)
			if key == "" {
				return out, fmt.Errorf("relevance: %s:%d: record has no id", path, line)
			}
			if prev, ok := seen[key]; ok && reflect.DeepEqual(prev, rec) {
				out.repeated++
			} else {
				seen[key] = rec
				out.records = append(out.records, rec)
			}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
	}
}

func firstDuplicate[T any](records []T, id func(T) string) string {
	seen := make(map[string]bool, len(records))
	for _, r := range records {
		if seen[id(r)] {
			return id(r)
		}
		seen[id(r)] = true
	}
	return ""
}

// readQrels reads "need_id TAB vendor_id TAB relevance" lines into right.
// Gains are binary: a relevance above 0 makes the vendor right.
func readQrels(path string, needs, vendors map[string]bool, right map[string]map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("relevance: %w", err)
	}
	defer f.Close()

	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		fields := strings.Split(text, "\t")
		if len(fields) != 3 {
			return fmt.Errorf("relevance: %s:%d: want 3 tab-separated fields, got %d", path, line, len(fields))
		}
		need, vendor := fields[0], fields[1]
		rel, err := strconv.Atoi(fields[2])
		if err != nil {
			return fmt.Errorf("relevance: %s:%d: relevance: %w", path, line, err)
		}
		if !needs[need] {
			return fmt.Errorf("relevance: %s:%d: unknown need %q", path, line, need)
		}
		if !vendors[vendor] {
			return fmt.Errorf("relevance: %s:%d: unknown vendor %q", path, line, vendor)
		}
		if rel <= 0 {
			continue
		}
		if right[need] == nil {
			right[need] = make(map[string]bool)
		}
		right[need][vendor] = true
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("relevance: %s: %w", path, err)
	}
	return nil
}
