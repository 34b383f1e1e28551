package discovery_test

import (
	"context"
	"testing"

	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/meshtest"
)

// BenchmarkRemote_TopicRoute is the cost of one code-105 query over the
// wire (a connection per query, as transport.Call does), meshtest's
// nameserver answering in the same process: an upper bound of what a topic
// refresh costs the control plane against real nameservers.
func BenchmarkRemote_TopicRoute(b *testing.B) {
	c := meshtest.RunCluster(b, meshtest.WithBroker("broker-a", 1), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("orders", 8))
	ns := discovery.Remote(c.NameServerAddr())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ns.TopicRoute(ctx, "orders"); err != nil {
			b.Fatal(err)
		}
	}
}
