package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/testdb"
)

// BenchmarkFreshness measures how long after a vendor's profile edit is
// acknowledged the matches of a need reflect it: the edit goes through the
// outbox, the event bus and the read model, and a cached ranking must not
// outlive it. Once with the in-process bus and cache (the monolith), once
// with Redis Streams and the Redis cache (what the microservices use):
//
//	make bench-freshness
func BenchmarkFreshness(b *testing.B) {
	for _, mode := range []string{"in-process", "redis"} {
		b.Run(mode, func(b *testing.B) {
			var env []string
			if mode == "redis" {
				url, prefix := testdb.Redis(b)
				env = []string{"REDIS_URL", url, "GOVMATCH_REDIS_PREFIX", prefix}
			}
			sys := startMonolith(b, "", true, env...)
			buyer := sys.token(b, "stadt-giessen", identity.RoleBuyer)
			vendor := sys.token(b, "lieferzone", identity.RoleVendor)
			need := sys.call(b, "POST", "/v1/needs", buyer, map[string]any{
				"title": "Quokkaverwaltung", "problemStatement": "Quokkaverwaltung für den Stadtpark",
			}).expect(b, "draft", http.StatusOK)
			matches := fmt.Sprintf("/v1/%s/matches?pageSize=100", need.body["name"])
			// quokka reports whether the vendor is ranked for the need on the
			// word only the edited description holds; -1 before the index
			// is built.
			quokka := func() int {
				res := sys.call(b, "GET", matches, buyer, nil)
				if res.status != http.StatusOK {
					return -1
				}
				ms, _ := res.body["matches"].([]any)
				for _, m := range ms {
					m := m.(map[string]any)
					if m["vendor"] != "vendors/lieferzone" {
						continue
					}
					for _, c := range m["explanation"].(map[string]any)["components"].([]any) {
						evidence, _ := c.(map[string]any)["matches"].([]any)
						for _, e := range evidence {
							if q, _ := e.(map[string]any)["queryValue"].(string); strings.HasPrefix(q, "quokka") {
								return 1
							}
						}
					}
				}
				return 0
			}
			for deadline := time.Now().Add(30 * time.Second); quokka() < 0; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatal("matching index not ready within 30 s")
				}
			}
			descriptions := [2]string{"Quokkaverwaltung für Parks und Zoos.", "Lieferzonen-Management für Innenstädte."}
			var lat []time.Duration
			b.ResetTimer()
			for i := range b.N {
				withWord := i%2 == 0
				sys.call(b, "PATCH", "/v1/vendors/lieferzone", vendor, map[string]any{"description": descriptions[i%2]}).
					expect(b, "vendor edit", http.StatusOK)
				acked := time.Now()
				for (quokka() == 1) != withWord {
					if time.Since(acked) > 10*time.Second {
						b.Fatalf("edit %d not reflected within 10 s", i)
					}
					time.Sleep(time.Millisecond)
				}
				lat = append(lat, time.Since(acked))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(percentileMs(lat, 0.50), "p50-ms")
			b.ReportMetric(percentileMs(lat, 0.99), "p99-ms")
			b.ReportMetric(percentileMs(lat, 1), "max-ms")
			b.ReportMetric(0, "ns/op")
		})
	}
}
