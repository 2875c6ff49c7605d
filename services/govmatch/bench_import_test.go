package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/govmatch/govmatch/pkg/identity"
	"github.com/govmatch/govmatch/pkg/testdb"
)

// BenchmarkImportAwards imports the 1,073 vendors of the awards-en
// evaluation set with `govmatch import vendors` (default batches, the
// server's default 1 MiB body limit) into a fresh monolith, on both
// backends, and reports vendors/s:
//
//	go test -run='^$' -bench=ImportAwards -benchtime=1x ./services/govmatch/
//
// With DATABASE_URL unset a throwaway PostgreSQL is started from PATH.
// Each iteration after the first imports a copy of the file under new ids,
// so every iteration creates 1,073 vendors rather than finding them.
func BenchmarkImportAwards(b *testing.B) {
	const file = "/work/shared/data/eval/awards-en/vendors.jsonl"
	data, err := os.ReadFile(file)
	if err != nil {
		b.Skipf("evaluation set: %v", err)
	}
	records := strings.Count(strings.TrimSpace(string(data)), "\n") + 1
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			dsn := ""
			if backend == "postgres" {
				dsn = testdb.Postgres(b)
			}
			sys := startMonolith(b, dsn, false, "GOVMATCH_RATE_LIMIT", "0")
			tok := sys.token(b, "govtechhh", identity.RoleVentureUnit)
			var elapsed time.Duration
			i := 0
			for b.Loop() {
				b.StopTimer()
				path := file
				if i > 0 {
					path = filepath.Join(b.TempDir(), "vendors.jsonl")
					copied := strings.ReplaceAll(string(data), `{"id": "`, fmt.Sprintf(`{"id": "r%d-`, i))
					if err := os.WriteFile(path, []byte(copied), 0o600); err != nil {
						b.Fatal(err)
					}
				}
				i++
				b.StartTimer()
				start := time.Now()
				stdout, stderr, err := importRun(b, "-server", sys.base, "-token", tok, path)
				elapsed += time.Since(start)
				if err != nil {
					b.Fatalf("import: %v\n%s", err, stderr)
				}
				if want := fmt.Sprintf("imported %d vendors, 0 already present", records); !strings.Contains(stdout, want) {
					b.Fatalf("summary %q, want %q", stdout, want)
				}
			}
			b.ReportMetric(float64(records*i)/elapsed.Seconds(), "vendors/s")
		})
	}
}
