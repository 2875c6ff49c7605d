// Command relevance measures how well each system ranks the right vendors
// for the needs of the evaluation sets (shared/data/eval/README.md) and
// prints, per set, MRR over the top 100, Recall@10 and nDCG@10 of every
// system as a table, then all figures as one JSON object on the last line.
//
// The systems are govmatch (score.Index with its default weights) and the
// baselines PostgreSQL full-text search and Bleve BM25.
// PostgreSQL is required: set DATABASE_URL (or -database-url) to a database
// where the command may create temporary tables; it writes nothing lasting.
//
//	DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable \
//	  go run ./cmd/relevance [-eval-dir DIR] [-sets awards-en,datasets-de] \
//	  [-half tune|test] [-systems govmatch,...]
//
// -half evaluates only one deterministic half of each set's needs (by a hash
// of the need id, relevance.HalfOf): parameters are tuned on "tune" and
// reported on "test", so a choice made by looking at figures is judged on
// needs it was not chosen on.
//
// The sets are the subdirectories of the evaluation directory: -eval-dir,
// else $GOVMATCH_EVAL_DIR, else shared/data/eval in the working directory or
// the nearest parent that has one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/govmatch/govmatch/services/matching/relevance"
	"github.com/govmatch/govmatch/services/matching/relevance/baseline"
	"github.com/govmatch/govmatch/services/matching/score"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "relevance:", err)
		stop()
		os.Exit(1)
	}
}

// config is everything the command reads from flags and environment.
type config struct {
	EvalDir     string
	Sets        []string // names of set directories; all of them when empty
	DatabaseURL string
	Half        relevance.Half
	Systems     []string // names of systems to run; all of them when empty
}

// evalDirRel is where the evaluation sets live relative to the directory
// that holds the repository.
const evalDirRel = "shared/data/eval"

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	var sets, half, systemNames string
	fs := flag.NewFlagSet("relevance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.EvalDir, "eval-dir", getenv("GOVMATCH_EVAL_DIR"),
		"directory of evaluation sets (default $GOVMATCH_EVAL_DIR, else the nearest "+evalDirRel+" up from the working directory)")
	fs.StringVar(&sets, "sets", "", "comma-separated set names (default: every set in the directory)")
	fs.StringVar(&c.DatabaseURL, "database-url", getenv("DATABASE_URL"),
		"PostgreSQL DSN for the full-text search baseline (default $DATABASE_URL; required)")
	fs.StringVar(&half, "half", "", `evaluate only this half of each set's needs: "tune" or "test" (default: all needs)`)
	fs.StringVar(&systemNames, "systems", "", "comma-separated systems to run (default: all)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch c.Half = relevance.Half(half); c.Half {
	case relevance.HalfAll, relevance.HalfTune, relevance.HalfTest:
	default:
		return c, fmt.Errorf("-half %q: want tune or test", half)
	}
	if systemNames != "" {
		c.Systems = strings.Split(systemNames, ",")
		for _, n := range c.Systems {
			if !slices.ContainsFunc(systems, func(s system) bool { return s.name == n }) {
				return c, fmt.Errorf("-systems: unknown system %q", n)
			}
		}
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if sets != "" {
		c.Sets = strings.Split(sets, ",")
	}
	if c.DatabaseURL == "" {
		return c, errors.New("no PostgreSQL: set DATABASE_URL or -database-url (the full-text search baseline needs it)")
	}
	if c.EvalDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return c, err
		}
		if c.EvalDir = findUp(wd, evalDirRel); c.EvalDir == "" {
			return c, fmt.Errorf("no %s in %s or its parents: set -eval-dir or GOVMATCH_EVAL_DIR", evalDirRel, wd)
		}
	}
	return c, nil
}

// findUp returns dir/rel for the first of dir and its parents where that is
// a directory, or "".
func findUp(dir, rel string) string {
	for {
		p := filepath.Join(dir, rel)
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// system is one ranker under evaluation, built afresh for every set.
type system struct {
	name string
	open func(ctx context.Context, c config, set *relevance.Set) (relevance.Ranker, func() error, error)
}

var systems = []system{
	{name: "postgres-fts", open: func(ctx context.Context, c config, set *relevance.Set) (relevance.Ranker, func() error, error) {
		r, err := baseline.NewPostgres(ctx, c.DatabaseURL, set.Language, set.Vendors)
		if err != nil {
			return nil, nil, err
		}
		return r, func() error { return r.Close(context.WithoutCancel(ctx)) }, nil
	}},
	{name: "bm25-bleve", open: func(_ context.Context, _ config, set *relevance.Set) (relevance.Ranker, func() error, error) {
		r, err := baseline.NewBM25(set.Language, set.Vendors)
		if err != nil {
			return nil, nil, err
		}
		return r, r.Close, nil
	}},
	{name: "govmatch", open: func(_ context.Context, _ config, set *relevance.Set) (relevance.Ranker, func() error, error) {
		r, err := newGovmatch(set.Vendors)
		if err != nil {
			return nil, nil, err
		}
		return r, func() error { return nil }, nil
	}},
}

// newGovmatch loads the vendors into the score.Index the matching service
// ranks with, with its default weights, and ranks through it. The set's
// language is not passed on: the index detects it per text, as it must for
// real needs.
func newGovmatch(vendors []relevance.Vendor) (relevance.Ranker, error) {
	idx := score.NewIndex(score.DefaultWeights)
	for _, v := range vendors {
		if err := idx.Add(score.Vendor{ID: v.ID, Name: v.Name, Description: v.Description, CPVCodes: v.CPVCodes}); err != nil {
			return nil, err
		}
	}
	return relevance.RankerFunc(func(_ context.Context, need relevance.Need, k int) ([]string, error) {
		res, err := idx.Rank(score.Need{Title: need.Title, Description: need.Description, CPVCodes: need.CPVCodes}, k, score.Filters{})
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(res))
		for i, r := range res {
			ids[i] = r.VendorID
		}
		return ids, nil
	}), nil
}

// setReport is one set's figures in the JSON line.
type setReport struct {
	Language       relevance.Language           `json:"language"`
	Half           relevance.Half               `json:"half,omitempty"`
	Vendors        int                          `json:"vendors"`
	Needs          int                          `json:"needs"`
	DuplicateNeeds int                          `json:"duplicateNeeds,omitempty"`
	Systems        map[string]relevance.Figures `json:"systems"`
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "relevance: sets in %s, PostgreSQL at %s\n", c.EvalDir, redact(c.DatabaseURL))

	names := c.Sets
	if len(names) == 0 {
		if names, err = setNames(c.EvalDir); err != nil {
			return err
		}
	}

	report := struct {
		Sets map[string]setReport `json:"sets"`
	}{Sets: make(map[string]setReport, len(names))}
	for _, name := range names {
		set, err := relevance.Load(filepath.Join(c.EvalDir, name))
		if err != nil {
			return err
		}
		set = set.Restrict(c.Half)
		sr := setReport{
			Language:       set.Language,
			Half:           c.Half,
			Vendors:        len(set.Vendors),
			Needs:          len(set.Needs),
			DuplicateNeeds: set.DuplicateNeeds,
			Systems:        make(map[string]relevance.Figures, len(systems)),
		}
		for _, sys := range systems {
			if len(c.Systems) > 0 && !slices.Contains(c.Systems, sys.name) {
				continue
			}
			start := time.Now()
			f, err := evaluate(ctx, c, set, sys)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", sys.name, name, err)
			}
			fmt.Fprintf(stderr, "relevance: %s on %s took %v\n", sys.name, name, time.Since(start).Round(time.Millisecond))
			sr.Systems[sys.name] = f
		}
		report.Sets[name] = sr
		printTable(stdout, name, sr)
	}

	line, err := json.Marshal(report)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}

func evaluate(ctx context.Context, c config, set *relevance.Set, sys system) (_ relevance.Figures, err error) {
	r, closeRanker, err := sys.open(ctx, c, set)
	if err != nil {
		return relevance.Figures{}, err
	}
	defer func() { err = errors.Join(err, closeRanker()) }()
	return relevance.Evaluate(ctx, set, r)
}

// setNames lists the subdirectories of dir that hold a set, sorted.
func setNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "qrels.tsv")); e.IsDir() && err == nil {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no evaluation sets in %s", dir)
	}
	slices.Sort(names)
	return names, nil
}

func printTable(w io.Writer, name string, sr setReport) {
	var scored, unjudged int
	for _, f := range sr.Systems {
		scored, unjudged = f.Needs, f.Unjudged
	}
	fmt.Fprintf(w, "\n%s (%s): %d vendors, %d needs scored", name, sr.Language, sr.Vendors, scored)
	if sr.Half != relevance.HalfAll {
		fmt.Fprintf(w, " (%s half)", sr.Half)
	}
	if unjudged > 0 {
		fmt.Fprintf(w, ", %d without a right vendor left out", unjudged)
	}
	if sr.DuplicateNeeds > 0 {
		fmt.Fprintf(w, ", %d repeated need line(s) dropped", sr.DuplicateNeeds)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "system\tMRR@100\tRecall@10\tnDCG@10")
	for _, sys := range systems {
		f, ok := sr.Systems[sys.name]
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\n", sys.name, f.MRR, f.Recall10, f.NDCG10)
	}
	tw.Flush()
}

// redact hides the password of a URL-style DSN.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(DSN not shown)"
	}
	return u.Redacted()
}
