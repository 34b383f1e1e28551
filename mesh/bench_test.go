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
// force in the mesh: from ControlPlane.Update returning to the mesh answering
// route queries with the new permissions. Each iteration flips broker-b between
// read-write and read-only.
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

// BenchmarkQueueSelector measures the mesh's QueueSelector alone, as the producer
// calls it on every send, with and without a sharding key. It should not allocate:
//
//	go test -run '^$' -bench QueueSelector -benchmem ./mesh/
func BenchmarkQueueSelector(b *testing.B) {
	h := newBenchHarness(b)
	var mqs []*primitive.MessageQueue
	for _, broker := range []string{"broker-a", "broker-b"} {
		for q := range 4 {
			mqs = append(mqs, &primitive.MessageQueue{Topic: "orders", BrokerName: broker, QueueId: q})
		}
	}
	sel := h.mesh.QueueSelector(nil)
	plain := primitive.NewMessage("orders", []byte("x"))
	keyed := primitive.NewMessage("orders", []byte("x"))
	keyed.WithShardingKey("customer-42")
	for _, bc := range []struct {
		name string
		msg  *primitive.Message
	}{{"random", plain}, {"sharding-key", keyed}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if sel.Select(bc.msg, mqs, "") == nil {
					b.Fatal("no queue selected")
				}
			}
		})
	}
}
