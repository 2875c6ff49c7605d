package testdb

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster starts a Redis Cluster of its own of n masters (no
// replicas), each a throwaway redis-server on a loopback port, with the
// 16,384 hash slots split evenly, and returns their addresses once every
// node reports the cluster ok. They are killed when the test ends. Without
// redis-server on PATH the test is skipped (or fails, see RequireOrSkip).
func RedisCluster(tb testing.TB, n int) []string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		RequireOrSkip(tb, "redis-server", "put redis-server on PATH")
		return nil // only reached with a testing.TB whose Skipf returns
	}
	nodes := make([]*RedisProcess, n)
	buses := make([]int, n)
	for i := range nodes {
		// The cluster bus defaults to the port + 10,000, which may be
		// taken or beyond 65,535: it gets a free port of its own.
		bus, err := freePort()
		if err != nil {
			tb.Fatalf("testdb: %v", err)
		}
		p, err := startRedis(bin, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "5000", "--cluster-port", fmt.Sprint(bus))
		if err != nil {
			tb.Fatalf("testdb: cluster node %d: %v", i, err)
		}
		p.tb = tb
		tb.Cleanup(func() {
			if err := p.close(); err != nil {
				tb.Errorf("testdb: %v", err)
			}
		})
		nodes[i], buses[i] = p, bus
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := formCluster(ctx, nodes, buses); err != nil {
		tb.Fatalf("testdb: form a Redis Cluster: %v", err)
	}
	addrs := make([]string, n)
	for i, p := range nodes {
		addrs[i] = p.Addr()
	}
	return addrs
}

// formCluster gives each node its share of the slots, introduces them to
// the first and waits until all agree the cluster is ok.
func formCluster(ctx context.Context, nodes []*RedisProcess, buses []int) error {
	const slots = 16384
	clients := make([]*redis.Client, len(nodes))
	for i, p := range nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: p.Addr()})
		defer clients[i].Close()
	}
	for i, c := range clients {
		lo, hi := i*slots/len(nodes), (i+1)*slots/len(nodes)-1
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fmt.Errorf("node %d: ADDSLOTSRANGE %d %d: %w", i, lo, hi, err)
		}
		if i > 0 {
			if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", nodes[i].port, buses[i]).Err(); err != nil {
				return fmt.Errorf("node %d: MEET: %w", i, err)
			}
		}
	}
	want := fmt.Sprintf("cluster_known_nodes:%d", len(nodes))
	for {
		ok := true
		var info string
		for _, c := range clients {
			var err error
			info, err = c.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; last CLUSTER INFO:\n%s", ctx.Err(), info)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
