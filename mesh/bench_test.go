package mesh_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// BenchmarkSend compares the bare official producer with the same producer built
// through the mesh (direct data path), in one run against one in-memory cluster.
// Each iteration is one send of each; ns/op covers both:
//
//	go test -run '^$' -bench Send -benchmem ./mesh/
//
// The direct path adds only the queue selector's routing pick per message, so the
// two should be within noise of each other.
func BenchmarkSend(b *testing.B) {
	h := newBenchHarness(b)
	bare, err := rocketmq.NewProducer(
		producer.WithNameServer([]string{h.cluster.NameServerAddr()}),
		producer.WithGroupName(uniqueName("bench-bare")),
		producer.WithInstanceName(uniqueName("bench-bare")),
	)
	if err != nil {
		b.Fatal(err)
	}
	if err := bare.Start(); err != nil {
		b.Fatal(err)
	}
	defer bare.Shutdown()
	meshed, err := h.mesh.NewProducer(producer.WithGroupName(uniqueName("bench-mesh")))
	if err != nil {
		b.Fatal(err)
	}
	if err := meshed.Start(); err != nil {
		b.Fatal(err)
	}
	defer meshed.Shutdown()

	ctx := context.Background()
	body := make([]byte, 100)
	send := func(p rocketmq.Producer) time.Duration {
		start := time.Now()
		if _, err := p.SendSync(ctx, primitive.NewMessage("orders", body)); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	send(bare) // warm both routes before timing
	send(meshed)
	// Sends alternate, and which goes first alternates too, so the store growing
	// and the machine's noise weigh on both the same.
	var bareTime, meshTime time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			bareTime += send(bare)
			meshTime += send(meshed)
		} else {
			meshTime += send(meshed)
			bareTime += send(bare)
		}
	}
	b.ReportMetric(float64(bareTime.Nanoseconds())/float64(b.N), "bare-ns/send")
	b.ReportMetric(float64(meshTime.Nanoseconds())/float64(b.N), "mesh-ns/send")
	b.ReportMetric(float64(meshTime)/float64(bareTime), "mesh/bare")
}

// newBenchHarness is a harness with two brokers behind one catch-all route.
func newBenchHarness(b *testing.B) *harness {
	b.Helper()
	return newHarness(b, harnessConfig{brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokers})
}

// BenchmarkConvergence measures how long a control-plane change takes to be in
// force in the mesh (xDS update → route applied): from ControlPlane.Update
// returning to the mesh answering route queries with the new permissions. Each
// iteration flips broker-b between read-write and read-only. Goal: at most
// 10 ms at p50 on loopback, where the official client alone would wait for its
// 30 s route poll (the relay applies the change to the next request).
//
//	go test -run '^$' -bench Convergence -benchtime 200x ./mesh/
func BenchmarkConvergence(b *testing.B) {
	h := newBenchHarness(b)
	specs := [2]meshtest.MeshSpec{allBrokers(h.cluster), allBrokersWith(readOnly("broker-b"))(h.cluster)}
	ctx := context.Background()
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		spec := specs[(i+1)%2]
		wantPerm := int32(6)
		if (i+1)%2 == 1 {
			wantPerm = 4
		}
		res, err := spec.Resources()
		if err != nil {
			b.Fatal(err)
		}
		if err := h.cp.Update(ctx, res); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for {
			r, err := h.mesh.TopicRoute(ctx, "orders")
			if err == nil && permOf(r, "broker-b") == wantPerm {
				break
			}
			if time.Since(start) > meshtest.DefaultTimeout {
				b.Fatalf("update %d never took effect", i)
			}
			runtime.Gosched()
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

func permOf(r *remoting.TopicRouteData, broker string) int32 {
	for _, q := range r.QueueDatas {
		if q.BrokerName == broker {
			return q.Perm
		}
	}
	return -1
}

// routingDecision is the decision the mesh makes for one send on a data path:
// on the direct path its queue selector picks the queue (weights, subsets,
// locality, sharding keys) and that is all; on the intercept path the relay's
// router then confirms the broker for the request (route match on topic and
// code, that broker's writable master).
type routingDecision struct {
	name   string
	decide func()
}

// routingDecisions builds the decisions of a mesh on the intercept path, for
// sends with and without a sharding key, over two brokers of four queues.
func routingDecisions(tb testing.TB) []routingDecision {
	h := newHarness(tb, harnessConfig{brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokers, path: interceptPath, unrestricted: true})
	var mqs []*primitive.MessageQueue
	for _, broker := range []string{"broker-a", "broker-b"} {
		for q := range 4 {
			mqs = append(mqs, &primitive.MessageQueue{Topic: "orders", BrokerName: broker, QueueId: q})
		}
	}
	sel := h.mesh.QueueSelector(nil)
	router := h.mesh.RelayRouter()
	plain := primitive.NewMessage("orders", []byte("x"))
	keyed := primitive.NewMessage("orders", []byte("x"))
	keyed.WithShardingKey("customer-42")
	var out []routingDecision
	for _, m := range []struct {
		name string
		msg  *primitive.Message
	}{{"random", plain}, {"sharding-key", keyed}} {
		msg := m.msg
		selectQueue := func() *primitive.MessageQueue {
			mq := sel.Select(msg, mqs, "")
			if mq == nil {
				tb.Fatal("no queue selected")
			}
			return mq
		}
		// The relay keeps one Query per connection and reuses it.
		q := &transport.Query{Code: remoting.CodeSendMessageV2, Kind: transport.KindWrite}
		out = append(out,
			routingDecision{"direct/" + m.name, func() { selectQueue() }},
			routingDecision{"intercept/" + m.name, func() {
				mq := selectQueue()
				q.Topic, q.Broker = mq.Topic, mq.BrokerName
				q.Rand += 0x9e3779b97f4a7c15
				if t, err := router.Route(q); err != nil || t.Broker != mq.BrokerName {
					tb.Fatalf("relay routed a send to %s to %+v, %v", mq.BrokerName, t, err)
				}
			}},
		)
	}
	return out
}

// BenchmarkRoutingDecision measures the mesh's routing decision per send on
// each data path (see routingDecision), with and without a sharding key.
// Goal: at most 200 ns and no allocation per decision; the allocations, which
// are deterministic, are asserted by TestRoutingDecision_DoesNotAllocate.
//
//	go test -run '^$' -bench RoutingDecision -benchmem ./mesh/
func BenchmarkRoutingDecision(b *testing.B) {
	for _, d := range routingDecisions(b) {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d.decide()
			}
		})
	}
}

// The routing decision is made for every message: it must not allocate
// (BenchmarkRoutingDecision measures its time).
func TestRoutingDecision_DoesNotAllocate(t *testing.T) {
	for _, d := range routingDecisions(t) {
		d.decide() // first use builds the per-snapshot caches
		if n := testing.AllocsPerRun(1000, d.decide); n != 0 {
			t.Errorf("%s: a routing decision allocates %v times", d.name, n)
		}
	}
}
