package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/testdb"
)

// benchClient keeps connections open, as a real client would, so the
// benchmark measures govmatch and not TCP handshakes.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}

// latencies collects request durations from parallel benchmark workers.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// report adds requests/s, p50 and p99 to the benchmark's output.
func (l *latencies) report(b *testing.B, elapsed time.Duration) (perSecond float64) {
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	perSecond = float64(len(l.d)) / elapsed.Seconds()
	b.ReportMetric(perSecond, "req/s")
	b.ReportMetric(percentileMs(l.d, 0.50), "p50-ms")
	b.ReportMetric(percentileMs(l.d, 0.99), "p99-ms")
	b.ReportMetric(0, "ns/op") // wall time per op under parallelism misleads; req/s says it
	return perSecond
}

// percentileMs is the p-quantile of sorted durations in milliseconds (the
// value at index ⌊p·(n−1)⌋).
func percentileMs(sorted []time.Duration, p float64) float64 {
	return float64(sorted[int(p*float64(len(sorted)-1))].Microseconds()) / 1000
}

func benchDo(b *testing.B, req *http.Request, want int, lat *latencies) {
	start := time.Now()
	res, err := benchClient.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	lat.add(time.Since(start))
	if res.StatusCode != want {
		b.Errorf("%s %s: status %d", req.Method, req.URL.Path, res.StatusCode)
	}
}

// BenchmarkGateway measures creating and listing needs through the REST
// gateway, 8 concurrent clients on the monolith, on both backends:
//
//	make bench-gateway
func BenchmarkGateway(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dsn := ""
			if backend == "postgres" {
				dsn = testdb.Postgres(b)
			}
			sys := startMonolith(b, dsn, false, "GOVMATCH_RATE_LIMIT", "0")
			tok := sys.token(b, "stadt-giessen", identity.RoleBuyer)
			body := func(i int) []byte {
				buf, _ := json.Marshal(map[string]any{
					"title":               fmt.Sprintf("Online-Terminbuchung %d", i),
					"problemStatement":    "Bürgerinnen und Bürger warten zu lange auf einen Termin im Bürgerbüro; gesucht ist eine barrierefreie Lösung.",
					"cpvCodes":            []string{"72212000", "48000000"},
					"placesOfPerformance": []string{"06531005"},
					"estimatedBudget":     map[string]any{"minEur": 40000, "maxEur": 90000},
				})
				return buf
			}

			b.Run("create", func(b *testing.B) { benchCreate(b, sys, tok, body) })

			// Listing searches 2,000 needs for a word and a CPV branch.
			count := countNeeds(b, sys, tok)
			for i := count; i < 2000; i++ {
				req, _ := http.NewRequest("POST", sys.base+"/v1/needs", bytes.NewReader(body(i)))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				benchDo(b, req, http.StatusOK, &latencies{})
			}
			for _, q := range []struct{ name, query string }{
				{"list", "pageSize=20"},
				{"search", "pageSize=20&cpvCodes=72000000&regions=DE7&query=termin"},
			} {
				b.Run(q.name, func(b *testing.B) {
					var lat latencies
					b.SetParallelism(4)
					start := time.Now()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							req, _ := http.NewRequest("GET", sys.base+"/v1/needs?"+q.query, nil)
							req.Header.Set("Authorization", "Bearer "+tok)
							benchDo(b, req, http.StatusOK, &lat)
						}
					})
					lat.report(b, time.Since(start))
				})
			}
		})
	}
}

// countNeeds counts the caller's needs by paging through them.
func countNeeds(b *testing.B, sys *system, tok string) int {
	n, page := 0, ""
	for {
		res := sys.call(b, "GET", "/v1/needs?pageSize=100&pageToken="+page, tok, nil)
		needs, _ := res.body["needs"].([]any)
		n += len(needs)
		page, _ = res.body["nextPageToken"].(string)
		if page == "" {
			return n
		}
	}
}

// benchCreate creates needs through REST from 4×GOMAXPROCS clients and
// reports requests per second and latency percentiles.
func benchCreate(b *testing.B, sys *system, tok string, body func(int) []byte) float64 {
	var lat latencies
	var seq atomic.Int64
	b.SetParallelism(4)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", sys.base+"/v1/needs", bytes.NewReader(body(int(seq.Add(1)))))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			benchDo(b, req, http.StatusOK, &lat)
		}
	})
	return lat.report(b, time.Since(start))
}

// BenchmarkAuditOverhead creates needs through the gateway of a system
// with its audit trail and of one without, both running at once, in
// alternating rounds, so that the machine's load meets both alike:
//
//	make bench-audit
func BenchmarkAuditOverhead(b *testing.B) {
	const auditRounds = 8
	body := func(i int) []byte {
		buf, _ := json.Marshal(map[string]any{
			"title":               fmt.Sprintf("Online-Terminbuchung %d", i),
			"problemStatement":    "Bürgerinnen und Bürger warten zu lange auf einen Termin im Bürgerbüro.",
			"cpvCodes":            []string{"72212000"},
			"placesOfPerformance": []string{"06531005"},
		})
		return buf
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			systems := map[string]*system{}
			for _, trail := range []string{"on", "off"} {
				dsn := ""
				if backend == "postgres" {
					dsn = testdb.Postgres(b)
				}
				systems[trail] = startMonolith(b, dsn, false, "GOVMATCH_RATE_LIMIT", "0", testNoAudit, fmt.Sprint(trail == "off"))
			}
			// Warm both up alike (connections, caches, the first pages of
			// the tables), so that the first round is no cold start.
			for _, sys := range systems {
				tok := sys.token(b, "stadt-giessen", identity.RoleBuyer)
				for i := range 200 {
					req, _ := http.NewRequest("POST", sys.base+"/v1/needs", bytes.NewReader(body(-i)))
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("Content-Type", "application/json")
					benchDo(b, req, http.StatusOK, &latencies{})
				}
			}
			// Rounds alternate the order (on, off, off, on, ...), so that a
			// drift of the machine's speed during the run meets both alike.
			var ratios []float64
			for round := range auditRounds {
				order := []string{"on", "off"}
				if round%2 == 1 {
					order = []string{"off", "on"}
				}
				rate := map[string]float64{}
				for _, trail := range order {
					b.Run(fmt.Sprintf("audit=%s/round=%d", trail, round), func(b *testing.B) {
						sys := systems[trail]
						rate[trail] = benchCreate(b, sys, sys.token(b, "stadt-giessen", identity.RoleBuyer), body)
					})
				}
				if rate["off"] > 0 {
					ratios = append(ratios, rate["on"]/rate["off"])
				}
			}
			if n := len(ratios); n > 0 {
				slices.Sort(ratios)
				median := (ratios[(n-1)/2] + ratios[n/2]) / 2
				b.Logf("audit on/off requests/s per round: %.3f; median %.3f (%+.1f %%)", ratios, median, 100*(median-1))
			}
		})
	}
}
