package score_test

import (
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/govmatch/govmatch/services/matching/corpus"
	"github.com/govmatch/govmatch/services/matching/score"
)

// benchCorpus is the corpus of cmd/benchmatch (seed 1), built once per
// process: building 100,000 vendors takes longer than ranking.
type benchCorpus struct {
	x     *score.Index
	needs []score.Need
}

var benchCorpora sync.Map // vendors → func() (*benchCorpus, error)

func loadBenchCorpus(b *testing.B, vendors int) *benchCorpus {
	b.Helper()
	f, _ := benchCorpora.LoadOrStore(vendors, sync.OnceValues(func() (*benchCorpus, error) {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		dir := corpus.FindDataDir(wd)
		if dir == "" {
			return nil, nil
		}
		src, err := corpus.Load(dir)
		if err != nil {
			return nil, err
		}
		g := corpus.New(src, 1)
		vs := g.Vendors(vendors)
		c := &benchCorpus{x: score.NewIndex(score.DefaultWeights), needs: g.Needs(10_000)}
		for _, v := range vs {
			if err := c.x.Add(v); err != nil {
				return nil, err
			}
		}
		return c, nil
	}))
	c, err := f.(func() (*benchCorpus, error))()
	if err != nil {
		b.Fatal(err)
	}
	if c == nil {
		b.Skip("no shared/data")
	}
	return c
}

// benchRank ranks the top 100 of needs drawn as cmd/benchmatch draws them,
// one need per iteration, and reports the latencies' p50 and p99.
func benchRank(b *testing.B, vendors int) {
	c := loadBenchCorpus(b, vendors)
	r := rand.New(rand.NewPCG(1, 2))
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		n := c.needs[r.IntN(len(c.needs))]
		t := time.Now()
		if _, err := c.x.Rank(n, 100, score.Filters{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 {
		i := min(max(int(p*float64(len(lat))+0.999999)-1, 0), len(lat)-1)
		return float64(lat[i].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}

func BenchmarkRank20k(b *testing.B)  { benchRank(b, 20_000) }
func BenchmarkRank100k(b *testing.B) { benchRank(b, 100_000) }

// BenchmarkIndexMemory100k reports the heap an index of 100,000 generated
// vendors holds per vendor, measured as cmd/benchmatch measures it.
func BenchmarkIndexMemory100k(b *testing.B) {
	g := generator(b, 1)
	vs, need := g.Vendors(100_000), g.Needs(1)[0]
	// Load the shared CPV data first: the dictionary with the first index,
	// the label index with the first Add.
	if err := score.NewIndex(score.DefaultWeights).Add(vs[0]); err != nil {
		b.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	b.ResetTimer()
	for range b.N {
		before := heap()
		x := score.NewIndex(score.DefaultWeights)
		for _, v := range vs {
			if err := x.Add(v); err != nil {
				b.Fatal(err)
			}
		}
		// As it ranks: the first ranking adds the length normalisers.
		if _, err := x.Rank(need, 100, score.Filters{}); err != nil {
			b.Fatal(err)
		}
		after := heap()
		runtime.KeepAlive(x)
		b.ReportMetric(float64(int64(after)-int64(before))/float64(len(vs)), "B/vendor")
	}
}
