package outbox_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/govmatch/govmatch/pkg/testdb"
	eventsv1 "github.com/govmatch/govmatch/proto/govmatch/events/v1"
)

// BenchmarkCommitToConsumer measures the time from a write's commit to its
// event reaching a consumer through Redis Streams, one write at a time:
// the latency without queueing, p50 and p99.
func BenchmarkCommitToConsumer(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			d := e.open(b)
			bus := sharedRedisBus(b)
			got := make(chan time.Time, 1)
			run(b, func(ctx context.Context) {
				_ = bus.Subscribe(ctx, source, "bench", func(context.Context, *eventsv1.Event) error {
					got <- time.Now()
					return nil
				})
			})
			r := fastRelay(d.store(), bus)
			run(b, func(ctx context.Context) { _ = r.Run(ctx) })

			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				if err := d.write(ctx, "item"); err != nil {
					b.Fatal(err)
				}
				committed := time.Now()
				r.Notify()
				select {
				case t := <-got:
					lat = append(lat, t.Sub(committed))
				case <-time.After(10 * time.Second):
					b.Fatal("event not delivered within 10s")
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkDrainAfterOutage builds a backlog of b.N events while Redis is
// stopped, starts Redis, and measures how fast the relay drains it to the
// consumer while writes go on (about 100/s). Run it with a fixed count,
// e.g. -benchtime=20000x; the metric is events/s of the backlog.
func BenchmarkDrainAfterOutage(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			d := e.open(b)
			srv := testdb.RedisServer(b)
			bus := redisBus(b, srv.URL(), "drain:")
			var applied atomic.Int64
			run(b, func(ctx context.Context) {
				_ = bus.Subscribe(ctx, source, "bench", func(context.Context, *eventsv1.Event) error {
					applied.Add(1)
					return nil
				})
			})
			r := fastRelay(d.store(), bus)
			run(b, func(ctx context.Context) { _ = r.Run(ctx) })

			b.StopTimer()
			srv.Stop()
			w := newWriter(d, 8)
			w.writeN(b, b.N, nil)
			backlog := int64(w.total)

			// Write load during the drain.
			var written atomic.Int64
			run(b, func(ctx context.Context) {
				t := time.NewTicker(10 * time.Millisecond)
				defer t.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-t.C:
						if d.write(ctx, "load") == nil {
							written.Add(1)
							r.Notify()
						}
					}
				}
			})
			srv.Start()
			start := time.Now()
			b.StartTimer()
			for applied.Load() < backlog {
				if time.Since(start) > 5*time.Minute {
					b.Fatalf("drained %d of %d in 5 minutes", applied.Load(), backlog)
				}
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(backlog)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
