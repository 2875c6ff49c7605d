package refsearch

import (
	"testing"

	"github.com/govmatch/govmatch/pkg/refdata"
)

// BenchmarkSearch measures one search, index built beforehand, for the
// kinds of query people type while writing a need. Each must stay well
// under 5 ms.
func BenchmarkSearch(b *testing.B) {
	loadCPVIndex()
	loadRegionIndex()
	cpv := []string{"Software", "Programmierung Anwendersoftware", "application software programming", "s", "722", ""}
	for _, q := range cpv {
		b.Run("cpv/"+q, func(b *testing.B) {
			for b.Loop() {
				if _, err := ListCPV(CPVListRequest{Query: q}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	regions := []string{"Muenchen", "Gießen", "frankfurt am", "b", "06", "DE7", ""}
	for _, q := range regions {
		b.Run("regions/"+q, func(b *testing.B) {
			for b.Loop() {
				if _, err := ListRegions(RegionListRequest{Query: q}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBuildIndexes measures the one-off cost of the first request.
func BenchmarkBuildIndexes(b *testing.B) {
	refdata.CPVCodes()
	refdata.Regions()
	for b.Loop() {
		loadCPVIndex = onceCPV()
		loadRegionIndex = onceRegions()
		loadCPVIndex()
		loadRegionIndex()
	}
}
