package mesh_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// nameserverSpec routes every request for orders to a cluster of the meshtest
// cluster's nameserver, so route queries are forwarded and rewritten. Extra
// routes come first.
func nameserverSpec(first ...meshtest.RouteSpec) func(c *meshtest.Cluster) meshtest.MeshSpec {
	return func(c *meshtest.Cluster) meshtest.MeshSpec {
		return meshtest.MeshSpec{
			Listener: listenerName,
			Routes:   append(slices.Clone(first), meshtest.RouteSpec{Topic: "orders", Cluster: "nameservers"}),
			Clusters: []meshtest.ClusterSpec{{Name: "nameservers", Endpoints: c.NameServerEndpoints()}},
		}
	}
}

// routeQueries returns the topics of the route queries the nameserver received.
func routeQueries(c *meshtest.Cluster) []string {
	var out []string
	for _, r := range c.NameServer().Requests(remoting.CodeGetRouteInfoByTopic) {
		out = append(out, r.ExtFields["topic"])
	}
	return out
}

func permsByBroker(r *remoting.TopicRouteData) map[string]int32 {
	out := map[string]int32{}
	for _, q := range r.QueueDatas {
		out[q.BrokerName] = q.Perm
	}
	return out
}

func TestMesh_ForwardsRouteQueriesToNameServer(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a", "broker-b"},
			topics:  []string{"orders"},
			spec:    nameserverSpec(),
		})
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		before := len(routeQueries(h.cluster))
		r, err := h.mesh.TopicRoute(ctx, "orders")
		if err != nil {
			t.Fatalf("TopicRoute: %v", err)
		}
		if got := routeQueries(h.cluster)[before:]; !slices.Equal(got, []string{"orders"}) {
			t.Errorf("the nameserver was asked for %q, want one query for orders", got)
		}
		// The answer lists the brokers the nameserver knows (at their real
		// addresses, or the relay's), every one read-write.
		addrs := map[string]string{}
		for _, bd := range r.BrokerDatas {
			addrs[bd.BrokerName] = bd.MasterAddr()
		}
		for _, b := range []string{"broker-a", "broker-b"} {
			if want := h.clientAddr(b, 0); addrs[b] != want {
				t.Errorf("route lists %s at %q, want %q", b, addrs[b], want)
			}
		}
		if got, want := permsByBroker(r), map[string]int32{"broker-a": 6, "broker-b": 6}; !maps.Equal(got, want) {
			t.Errorf("perms %v, want %v", got, want)
		}

		// The official producer sends through the forwarded route and messages land.
		got := h.sendN(h.producer(), "orders", 20)
		if got["broker-a"]+got["broker-b"] != 20 {
			t.Errorf("sends landed on %v", got)
		}
		h.cluster.CheckMessageCount(t, "orders", 20)
	})
}

func TestMesh_ForwardedRouteWriteSubsetByBrokerName(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a", "broker-b"},
			topics:  []string{"orders"},
			// Sends may use broker-b only; reads and route queries take the last route.
			spec: nameserverSpec(meshtest.RouteSpec{
				Topic: "orders", Codes: []int{10, 310, 320}, Cluster: "nameservers",
				Subset: map[string]string{"broker_name": "broker-b"},
			}),
		})
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		r, err := h.mesh.TopicRoute(ctx, "orders")
		if err != nil {
			t.Fatalf("TopicRoute: %v", err)
		}
		// The nameserver answered both brokers read-write; the rewrite takes the
		// write bit from broker-a.
		if got, want := permsByBroker(r), map[string]int32{"broker-a": remoting.PermRead, "broker-b": remoting.PermRead | remoting.PermWrite}; !maps.Equal(got, want) {
			t.Errorf("rewritten perms %v, want %v", got, want)
		}

		h.seed(func(seed rocketmq.Producer) {
			for i := range 10 {
				sendTo(t, seed, "orders", "broker-a", i)
			}
		})
		if got := h.sendN(h.producer(), "orders", 30); got["broker-b"] != 30 {
			t.Errorf("sends went to %v, want all 30 on broker-b", got)
		}
		if n := len(h.cluster.Broker("broker-a").Messages("orders")); n != 10 {
			t.Errorf("broker-a stored %d messages, want only the 10 seeded", n)
		}
		col, _ := h.consume(uniqueName("cg"), "orders", nil)
		meshtest.WaitFor(t, "40 messages consumed", func() bool { return col.Distinct() == 40 })
		if got := col.PerBroker(); got["broker-a"] != 10 || got["broker-b"] != 30 {
			t.Errorf("consumed per broker %v, want broker-a 10 and broker-b 30 (reads see every broker)", got)
		}
	})
}

func TestMesh_ForwardToDeadNameServer(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers:  []string{"broker-a"},
			topics:   []string{"orders"},
			spec:     nameserverSpec(),
			meshOpts: []mesh.Option{mesh.WithRouteTimeout(time.Second)},
		})
		nsAddr := h.cluster.NameServerAddr()
		h.cluster.NameServer().Stop()

		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		_, err := h.mesh.TopicRoute(ctx, "orders")
		if err == nil {
			t.Fatal("route query succeeded with the only nameserver stopped")
		}
		wantAll(t, err, `"orders"`, `"`+listenerName+`"`, "no nameserver", nsAddr)

		// The official client's error carries the same reason, not a guess from the
		// synthesized route (which a nameserver cluster has none of).
		err = sendErr(t, h, "orders")
		wantAll(t, err, `"orders"`, `"`+listenerName+`"`, "no nameserver", nsAddr)
		if strings.Contains(err.Error(), "not brokers") {
			t.Errorf("send error %q blames the nameserver cluster for holding no brokers", err)
		}

		// Once the nameserver is back, the topic routes again.
		if err := h.cluster.NameServer().Restart(); err != nil {
			t.Fatalf("nameserver Restart: %v", err)
		}
		if got := h.sendN(h.producer(), "orders", 3); got["broker-a"] != 3 {
			t.Errorf("after the nameserver came back, sends went to %v", got)
		}
	})
}

func TestMesh_ForwardedTopicBrokerErrorIsNotExplainedAsRouting(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path, brokers: []string{"broker-a"}, topics: []string{"orders"}, spec: nameserverSpec()})
		p := h.producer()
		h.sendN(p, "orders", 1) // the route is known
		const remark = "meshtest: broker-a refuses sends"
		for _, code := range []int32{remoting.CodeSendMessage, remoting.CodeSendMessageV2} {
			h.cluster.Broker("broker-a").SetError(code, remoting.NoPermission, remark)
		}
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		_, err := p.SendSync(ctx, primitive.NewMessage("orders", []byte("refused")))
		if err == nil {
			t.Fatal("send succeeded against a broker that refuses sends")
		}
		if !strings.Contains(err.Error(), remark) || strings.Contains(err.Error(), "routing:") {
			t.Errorf("send error %q: want the broker's remark, not a routing explanation", err)
		}
	})
}
