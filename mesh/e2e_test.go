package mesh_test

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/meshtest"
)

func TestMesh_RoutesByTopicToCluster(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a", "broker-b"},
			topics:  []string{"orders", "payments"},
			spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
				return meshtest.MeshSpec{
					Listener: listenerName,
					Routes: []meshtest.RouteSpec{
						{Topic: "orders", Cluster: "cluster-a"},
						{TopicPrefix: "pay", Cluster: "cluster-b"},
					},
					Clusters: []meshtest.ClusterSpec{
						{Name: "cluster-a", Endpoints: endpointsOf(c, "broker-a")},
						{Name: "cluster-b", Endpoints: endpointsOf(c, "broker-b")},
					},
				}
			},
		})
		p := h.producer()
		if got := h.sendN(p, "orders", 20); got["broker-a"] != 20 {
			t.Errorf("orders went to %v, want all 20 on broker-a", got)
		}
		if got := h.sendN(p, "payments", 20); got["broker-b"] != 20 {
			t.Errorf("payments went to %v, want all 20 on broker-b", got)
		}
		if n := len(h.cluster.Broker("broker-b").Messages("orders")); n != 0 {
			t.Errorf("broker-b stored %d orders messages, want 0", n)
		}
		if n := len(h.cluster.Broker("broker-a").Messages("payments")); n != 0 {
			t.Errorf("broker-a stored %d payments messages, want 0", n)
		}
	})
}

func TestMesh_UnknownTopicErrorNamesTopicAndListener(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a"},
			topics:  []string{"orders"},
			spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
				return meshtest.MeshSpec{
					Listener: listenerName,
					Routes:   []meshtest.RouteSpec{{Topic: "orders", Cluster: "cluster-a"}},
					Clusters: []meshtest.ClusterSpec{{Name: "cluster-a", Endpoints: endpointsOf(c, "broker-a")}},
				}
			},
		})
		p := h.producer()
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		_, err := p.SendSync(ctx, primitive.NewMessage("no-such-topic", []byte("x")))
		if err == nil {
			t.Fatal("send to an unrouted topic succeeded")
		}
		for _, want := range []string{`"no-such-topic"`, `"` + listenerName + `"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
		}
	})
}

func TestMesh_SubsetByRequestCode(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a", "broker-b"},
			topics:  []string{"orders"},
			spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
				eps := c.BrokerEndpoints(4)
				for i := range eps {
					if eps[i].BrokerName == "broker-b" {
						eps[i].LBMetadata = map[string]string{"version": "canary"}
					}
				}
				return meshtest.MeshSpec{
					Listener: listenerName,
					Routes: []meshtest.RouteSpec{
						{Topic: "orders", Codes: []int{10, 310, 320}, Cluster: "brokers", Subset: map[string]string{"version": "canary"}},
						{Topic: "orders", Cluster: "brokers"},
					},
					Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: eps}},
				}
			},
		})
		// Seed broker-a behind the mesh's back, as an older writer would have.
		h.seed(func(seed rocketmq.Producer) {
			for i := 0; i < 10; i++ {
				sendTo(t, seed, "orders", "broker-a", i)
			}
		})
		p := h.producer()
		if got := h.sendN(p, "orders", 30); got["broker-b"] != 30 {
			t.Errorf("sends went to %v, want all 30 on the canary broker-b", got)
		}
		col, _ := h.consume(uniqueName("cg"), "orders", nil)
		meshtest.WaitFor(t, "40 messages consumed", func() bool { return col.Distinct() == 40 })
		if got := col.PerBroker(); got["broker-a"] != 10 || got["broker-b"] != 30 {
			t.Errorf("consumed per broker %v, want broker-a 10 and broker-b 30 (reads see every broker)", got)
		}
	})
}

func TestMesh_WeightedSplit(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a", "broker-b"},
			topics:  []string{"orders"},
			spec: allBrokersWith(func(e *meshtest.EndpointSpec) {
				e.Weight = 80
				if e.BrokerName == "broker-b" {
					e.Weight = 20
				}
			}),
		})
		const n = 2000
		got := h.sendN(h.producer(), "orders", n)
		share := float64(got["broker-a"]) / n
		t.Logf("80/20 split over %d sends: broker-a %d (%.1f%%), broker-b %d", n, got["broker-a"], 100*share, got["broker-b"])
		if share < 0.75 || share > 0.85 {
			t.Errorf("broker-a got %.1f%% of %d sends, want 80%% ± 5%%", 100*share, n)
		}
		if got["broker-a"]+got["broker-b"] != n {
			t.Errorf("sends landed on %v, want only broker-a and broker-b", got)
		}
	})
}

func TestMesh_ReadOnlyBrokerGetsNoWritesAndIsConsumed(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a", "broker-b"},
			topics:  []string{"orders"},
			spec:    allBrokersWith(readOnly("broker-b")),
		})
		h.seed(func(seed rocketmq.Producer) {
			for i := 0; i < 10; i++ {
				sendTo(t, seed, "orders", "broker-b", i)
			}
		})
		if got := h.sendN(h.producer(), "orders", 50); got["broker-a"] != 50 {
			t.Errorf("sends went to %v, want all 50 on broker-a (broker-b is read-only)", got)
		}
		col, _ := h.consume(uniqueName("cg"), "orders", nil)
		meshtest.WaitFor(t, "60 messages consumed", func() bool { return col.Distinct() == 60 })
		if got := col.PerBroker(); got["broker-b"] != 10 {
			t.Errorf("consumed per broker %v, want the 10 seeded on read-only broker-b", got)
		}
	})
}
