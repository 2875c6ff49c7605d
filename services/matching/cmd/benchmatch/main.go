// Command benchmatch measures the speed and memory of score.Index on a
// generated corpus (package corpus) of real procurement vocabulary: index
// build time, heap per vendor, and the latency of uncached rankings of one
// need against every vendor. It then loads the same vendors and needs into
// matching's read model (straight, as a Rebuild from the registries would)
// and measures, with -clients concurrent clients for -duration each:
// cached rankings through the REST gateway (in-process cache with the
// gateway's revalidated copies, as govmatch runs; without the copies; and
// Redis without the copies when REDIS_URL answers), and two references
// under the same load: a trivial API endpoint (GET of a constant vendor
// through the gateway and gRPC) and the gateway's /healthz, which
// involves neither. Last, PostgreSQL full-text search over the same
// vendors (skipped when DATABASE_URL does not answer). It prints the figures as a
// table, then all of them as one JSON object on the last line.
//
//	go run ./services/matching/cmd/benchmatch [-vendors 100000] [-needs 10000] [-queries 1000] [-k 100] [-clients 32] [-duration 10s]
//
// The sources are read from -data-dir, else the nearest shared/data up from
// the working directory.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/govmatch/govmatch/services/matching/corpus"
	"github.com/govmatch/govmatch/services/matching/score"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchmatch:", err)
		stop()
		os.Exit(1)
	}
}

type config struct {
	DataDir                 string
	Vendors, Needs, Queries int
	K                       int
	Seed                    uint64
	CPUProfile              string
	// The REST load: clients, how long each run lasts, how many needs'
	// rankings are cached and requested.
	Clients  int
	Duration time.Duration
	HotNeeds int
	RedisURL string
	// PostgreSQL full-text search: at most PGQueries needs, within PGBudget.
	DatabaseURL string
	PGQueries   int
	PGBudget    time.Duration
}

// defaultDatabaseURL is bench-relevance's local PostgreSQL.
const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func parseConfig(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("benchmatch", flag.ContinueOnError)
	fs.StringVar(&c.DataDir, "data-dir", "", "directory of the sources (default: the nearest shared/data up from the working directory)")
	fs.IntVar(&c.Vendors, "vendors", 100_000, "vendors in the index")
	fs.IntVar(&c.Needs, "needs", 10_000, "needs generated")
	fs.IntVar(&c.Queries, "queries", 1_000, "needs ranked, drawn from the generated ones")
	fs.IntVar(&c.K, "k", 100, "results per ranking")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the generator")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the build and the rankings to this file")
	fs.IntVar(&c.Clients, "clients", 32, "concurrent REST clients")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "length of each REST load run")
	fs.IntVar(&c.HotNeeds, "hot-needs", 100, "needs whose cached rankings the REST clients request")
	fs.StringVar(&c.RedisURL, "redis-url", os.Getenv("REDIS_URL"), "Redis for the shared cache's figures (default $REDIS_URL; none: skipped)")
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		dsn = defaultDatabaseURL
	}
	fs.StringVar(&c.DatabaseURL, "database-url", dsn, "PostgreSQL for the full-text search reference (default $DATABASE_URL, else the local one)")
	fs.IntVar(&c.PGQueries, "pg-queries", 1_000, "needs ranked by PostgreSQL full-text search, at most")
	fs.DurationVar(&c.PGBudget, "pg-budget", time.Minute, "time for the PostgreSQL queries, at most")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.Vendors <= 0 || c.Needs <= 0 || c.Queries <= 0 || c.K <= 0 || c.Clients <= 0 || c.Duration <= 0 || c.PGQueries <= 0 || c.PGBudget <= 0 {
		return c, errors.New("-vendors, -needs, -queries, -k, -clients, -duration, -pg-queries and -pg-budget must be positive")
	}
	if c.HotNeeds <= 0 || c.HotNeeds > c.Needs {
		return c, errors.New("-hot-needs must be between 1 and -needs")
	}
	if c.DataDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return c, err
		}
		if c.DataDir = corpus.FindDataDir(wd); c.DataDir == "" {
			return c, fmt.Errorf("no shared/data in %s or its parents: set -data-dir", wd)
		}
	}
	return c, nil
}

// Figures are the results, as the JSON line prints them.
type Figures struct {
	Vendors        int     `json:"vendors"`
	Queries        int     `json:"queries"`
	K              int     `json:"k"`
	BuildSeconds   float64 `json:"build_s"`
	BytesPerVendor float64 `json:"bytes_per_vendor"`
	RankP50Ms      float64 `json:"rank_p50_ms"`
	RankP99Ms      float64 `json:"rank_p99_ms"`
	RankMeanMs     float64 `json:"rank_mean_ms"`
	RankMaxMs      float64 `json:"rank_max_ms"`
	MeanResults    float64 `json:"mean_results"`
	GOMAXPROCS     int     `json:"gomaxprocs"`

	Needs            int     `json:"needs"`
	ModelLoadSeconds float64 `json:"readmodel_load_s"`
	Clients          int     `json:"clients"`
	LoadSeconds      float64 `json:"load_s"`
	HotNeeds         int     `json:"hot_needs"`
	// CachedREST is the in-process cache (the monolith) with the
	// gateway's revalidated copies, as govmatch runs; CachedRESTNoCopies
	// the same without the copies (each answer read from the cache,
	// carried over gRPC and rendered); CachedRESTRedis the shared cache
	// (microservices), without copies, so that each answer is read from
	// Redis; TrivialREST the reference (a trivial API endpoint),
	// HealthzREST the gateway's /healthz.
	CachedREST         Load   `json:"cached_rest"`
	CachedRESTNoCopies Load   `json:"cached_rest_no_copies"`
	CachedRESTRedis    *Load  `json:"cached_rest_redis,omitempty"`
	RedisSkipped       string `json:"redis_skipped,omitempty"`
	TrivialREST        Load   `json:"trivial_rest"`
	HealthzREST        Load   `json:"healthz_rest"`
	// CachedCall is the cache alone, called from Go.
	CachedCall      Load    `json:"cached_call"`
	CachedToTrivial float64 `json:"cached_to_trivial"`
	CachedToHealthz float64 `json:"cached_to_healthz"`

	PGLoadSeconds float64 `json:"pg_load_s,omitempty"`
	PGQueries     int     `json:"pg_queries,omitempty"`
	PGP50Ms       float64 `json:"pg_fts_p50_ms,omitempty"`
	PGP99Ms       float64 `json:"pg_fts_p99_ms,omitempty"`
	PGSkipped     string  `json:"pg_skipped,omitempty"`
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	c, err := parseConfig(args)
	if err != nil {
		return err
	}
	src, err := corpus.Load(c.DataDir)
	if err != nil {
		return err
	}
	g := corpus.New(src, c.Seed)
	vendors := g.Vendors(c.Vendors)
	needs := g.Needs(c.Needs)
	// Load the shared CPV data before measuring: the dictionary with the
	// first index, the label index with the first Add.
	if err := score.NewIndex(score.DefaultWeights).Add(vendors[0]); err != nil {
		return err
	}
	if c.CPUProfile != "" {
		pf, err := os.Create(c.CPUProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	before := heap()
	start := time.Now()
	x := score.NewIndex(score.DefaultWeights)
	for _, v := range vendors {
		if err := x.Add(v); err != nil {
			return err
		}
	}
	build := time.Since(start)
	// The index as it ranks: the first ranking computes the length
	// normalisers of every vendor, which count.
	if _, err := x.Rank(needs[0], c.K, score.Filters{}); err != nil {
		return err
	}
	after := heap()
	f := Figures{Vendors: c.Vendors, Needs: c.Needs, Queries: c.Queries, K: c.K, GOMAXPROCS: runtime.GOMAXPROCS(0),
		BuildSeconds:   build.Seconds(),
		BytesPerVendor: float64(int64(after)-int64(before)) / float64(c.Vendors)}

	r := rand.New(rand.NewPCG(c.Seed, 2))
	lat := make([]time.Duration, 0, c.Queries)
	var results int
	for range c.Queries {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := needs[r.IntN(len(needs))]
		t := time.Now()
		res, err := x.Rank(n, c.K, score.Filters{})
		lat = append(lat, time.Since(t))
		if err != nil {
			return err
		}
		results += len(res)
	}
	runtime.KeepAlive(x)
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	f.RankP50Ms = ms(quantile(lat, 0.50))
	f.RankP99Ms = ms(quantile(lat, 0.99))
	f.RankMeanMs = ms(sum / time.Duration(len(lat)))
	f.RankMaxMs = ms(lat[len(lat)-1])
	f.MeanResults = float64(results) / float64(len(lat))
	// x is garbage from here: the read model builds an index of its own.
	if err := systemFigures(ctx, c, vendors, needs, &f); err != nil {
		return err
	}
	if f.PGSkipped, err = pgFigures(ctx, c, vendors, needs, &f); err != nil {
		return err
	}
	return report(stdout, f)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// quantile is the nearest-rank quantile of sorted durations.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func report(w io.Writer, f Figures) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	ok := func(pass bool) string {
		if pass {
			return "ok"
		}
		return "MISSED"
	}
	fmt.Fprintf(tw, "figure\tvalue\ttarget\t\n")
	fmt.Fprintf(tw, "vendors\t%d\t\t\n", f.Vendors)
	fmt.Fprintf(tw, "index build\t%.2f s\t\t\n", f.BuildSeconds)
	fmt.Fprintf(tw, "index memory per vendor\t%.0f B\t≤ 4096 B %s\t\n", f.BytesPerVendor, ok(f.BytesPerVendor <= 4096))
	fmt.Fprintf(tw, "uncached rank p50 (top %d, %d needs)\t%.2f ms\t≤ 20 ms %s\t\n", f.K, f.Queries, f.RankP50Ms, ok(f.RankP50Ms <= 20))
	fmt.Fprintf(tw, "uncached rank p99\t%.2f ms\t≤ 50 ms %s\t\n", f.RankP99Ms, ok(f.RankP99Ms <= 50))
	fmt.Fprintf(tw, "uncached rank mean\t%.2f ms\t\t\n", f.RankMeanMs)
	fmt.Fprintf(tw, "uncached rank max\t%.2f ms\t\t\n", f.RankMaxMs)
	fmt.Fprintf(tw, "mean results per need\t%.1f\t\t\n", f.MeanResults)
	fmt.Fprintf(tw, "read model load (%d vendors, %d needs)\t%.2f s\t\t\n", f.Vendors, f.Needs, f.ModelLoadSeconds)
	loadRows := func(name string, l Load) {
		fmt.Fprintf(tw, "%s p50\t%.3f ms\t\t\n", name, l.P50Ms)
		fmt.Fprintf(tw, "%s p99\t%.3f ms\t\t\n", name, l.P99Ms)
		fmt.Fprintf(tw, "%s throughput\t%.0f req/s\t\t\n", name, l.RPS)
	}
	loadRows(fmt.Sprintf("cached REST ranking (%d clients, %d needs)", f.Clients, f.HotNeeds), f.CachedREST)
	loadRows("cached REST ranking, gateway copies off", f.CachedRESTNoCopies)
	if f.CachedRESTRedis != nil {
		loadRows("cached REST ranking, Redis, gateway copies off", *f.CachedRESTRedis)
	} else {
		fmt.Fprintf(tw, "cached REST ranking, Redis\tskipped: %s\t\t\n", f.RedisSkipped)
	}
	fmt.Fprintf(tw, "cached REST ranking response size\t%.0f B\t\t\n", f.CachedREST.MeanBytes)
	loadRows("trivial API endpoint GET "+trivialAPIPath, f.TrivialREST)
	fmt.Fprintf(tw, "cached / trivial API throughput\t%.0f %%\t≥ 50 %% %s\t\n", 100*f.CachedToTrivial, ok(f.CachedToTrivial >= 0.5))
	loadRows("gateway "+healthzPath+" (no backend)", f.HealthzREST)
	fmt.Fprintf(tw, "cached / %s throughput\t%.0f %%\t\t\n", healthzPath, 100*f.CachedToHealthz)
	loadRows("cached ranking, Go call into the cache", f.CachedCall)
	if f.PGSkipped != "" {
		fmt.Fprintf(tw, "PostgreSQL full-text search\tskipped: %s\t\t\n", f.PGSkipped)
	} else {
		fmt.Fprintf(tw, "PostgreSQL FTS load\t%.2f s\t\t\n", f.PGLoadSeconds)
		fmt.Fprintf(tw, "PostgreSQL FTS p50 (top %d, %d needs)\t%.2f ms\t\t\n", f.K, f.PGQueries, f.PGP50Ms)
		fmt.Fprintf(tw, "PostgreSQL FTS p99\t%.2f ms\t\t\n", f.PGP99Ms)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
