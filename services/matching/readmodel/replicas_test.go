package readmodel_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/govmatch/govmatch/pkg/await"
	"github.com/govmatch/govmatch/pkg/eventbus"
	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
	"github.com/govmatch/govmatch/services/matching/readmodel"
	"github.com/govmatch/govmatch/services/matching/score"
)

// TestReplicasEachSeeEveryEvent runs two read models, as two matching
// replicas would, each as its own consumer group on one bus: both must
// hold every vendor. (In one shared group the bus would split the events
// between them and each index would miss some.)
func TestReplicasEachSeeEveryEvent(t *testing.T) {
	bus := eventbus.NewMemory(eventbus.MemoryOptions{})
	groups := []string{"matching-0", "matching-1"}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var models []*readmodel.Model
	for _, g := range groups {
		bus.Declare(readmodel.StreamNeeds, g)
		bus.Declare(readmodel.StreamVendors, g)
		rm := readmodel.New(score.DefaultWeights)
		rm.MarkReady()
		models = append(models, rm)
		wg.Go(func() {
			if err := rm.Run(ctx, bus, g); err != nil {
				t.Errorf("Run(%s): %v", g, err)
			}
		})
	}
	h := &harness{t: t, bus: bus, rm: models[0]}
	ids := []string{"a", "b", "c", "d", "e", "f"}
	for i, id := range ids {
		h.publish(readmodel.StreamVendors, id, int64(i+1), &vendorsv1.VendorCreated{Vendor: vendor(id, "Vendor "+id, "Terminbuchung")})
	}
	for i, rm := range models {
		for _, id := range ids {
			await.True(t, fmt.Sprintf("replica %s received vendor %s", groups[i], id), func() bool {
				_, ok := rm.Vendor(id)
				return ok
			})
		}
	}
}
