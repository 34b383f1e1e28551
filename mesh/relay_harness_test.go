package mesh_test

import (
	"context"
	"net"
	"testing"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// relaySource is the loopback address the relay dials brokers from in the
// intercept-mode tests; their brokers accept connections from it alone, so a
// request that bypasses the relay (a send-back to a real store host, say) is
// refused and fails the test.
const relaySource = "127.0.0.2"

// interceptConfig is a harnessConfig for the intercept data path, plus options
// for the cluster and the mesh.
type interceptConfig struct {
	harnessConfig
	cluster []meshtest.ClusterOption
}

// newInterceptHarness is newHarness for the intercept data path: the spec's
// clusters are left to the default data path, the relay dials from relaySource,
// and the brokers refuse everything else. When the test ends it checks that no
// broker refused a connection.
func newInterceptHarness(t testing.TB, ic interceptConfig) *harness {
	t.Helper()
	if !canDialFrom(relaySource) {
		t.Skipf("cannot dial from %s on this host: the relay's source address needs the whole 127.0.0.0/8 on loopback", relaySource)
	}
	copts := []meshtest.ClusterOption{meshtest.WithAllowedClients(relaySource)}
	for _, b := range ic.brokers {
		replicas := 0
		if ic.replica && b == "broker-a" {
			replicas = 1
		}
		copts = append(copts, meshtest.WithBroker(b, replicas))
	}
	for _, topic := range ic.topics {
		copts = append(copts, meshtest.WithTopic(topic, 4))
	}
	copts = append(copts, ic.cluster...)
	h := &harness{t: t, cluster: meshtest.RunCluster(t, copts...), cp: meshtest.StartControlPlane(t)}
	t.Cleanup(func() {
		for _, name := range h.cluster.BrokerNames() {
			for id := int64(0); ; id++ {
				b := h.cluster.Broker(name).Replica(id)
				if b == nil {
					break
				}
				if n := b.RefusedConnections(); n > 0 {
					t.Errorf("broker %s/%d refused %d connections that did not come through the relay", name, id, n)
				}
			}
		}
	})
	h.apply(ic.spec(h.cluster))
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	opts := append([]mesh.Option{
		mesh.WithBootstrap(h.cp.Bootstrap(ic.bootstrap...)),
		mesh.WithRelayOptions(transport.WithUpstreamSource(relaySource)),
	}, ic.meshOpts...)
	m, err := mesh.New(ctx, "xds:///"+listenerName, opts...)
	if err != nil {
		t.Fatalf("mesh.New: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("mesh.Close: %v", err)
		}
	})
	if err := m.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	h.mesh = m
	return h
}

// canDialFrom reports whether a loopback connection can come from ip.
func canDialFrom(ip string) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false
	}
	defer ln.Close()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// interceptAll is allBrokers on the default data path.
func interceptAll(c *meshtest.Cluster) meshtest.MeshSpec {
	spec := allBrokers(c)
	spec.Clusters[0].DataPath = ""
	return spec
}

// interceptAllWith is allBrokersWith on the default data path.
func interceptAllWith(edit func(*meshtest.EndpointSpec)) func(*meshtest.Cluster) meshtest.MeshSpec {
	return func(c *meshtest.Cluster) meshtest.MeshSpec {
		spec := interceptAll(c)
		for i := range spec.Clusters[0].Endpoints {
			edit(&spec.Clusters[0].Endpoints[i])
		}
		return spec
	}
}

// routeAddrs returns the broker addresses the mesh's nameserver endpoint
// answers for topic, by broker name and id.
func routeAddrs(t testing.TB, h *harness, topic string) map[string]map[int64]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	req := remoting.NewRequest(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
	req.Opaque = 1
	resp, err := transport.Call(ctx, h.mesh.NameServerAddr(), req)
	if err != nil {
		t.Fatalf("route query: %v", err)
	}
	if resp.Code != remoting.Success {
		t.Fatalf("route query for %q: code %d (%q)", topic, resp.Code, resp.Remark)
	}
	route, err := remoting.DecodeTopicRouteData(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int64]string{}
	for _, b := range route.BrokerDatas {
		out[b.BrokerName] = b.BrokerAddrs
	}
	return out
}

// waitRebalanced waits until the rebalances a consumer group's start set off
// have asked the brokers for the group's members. rocketmq-client-go v2.1.2
// rebalances once when a consumer starts and once per broker whose
// NOTIFY_CONSUMER_IDS_CHANGED answers its first heartbeat, each in a goroutine
// of its own that reads the client's closed flag without synchronisation; a
// client shut down while one still runs is a race -race reports. Each rebalance
// asks one broker for the member list of every subscribed topic (the topic and
// the group's retry topic), so the count of those requests tells when the last
// one is past its network calls.
func (h *harness) waitRebalanced(group string) {
	h.t.Helper()
	waitFor(h.t, "consumer group "+group+"'s start-up rebalances", func() bool {
		members, asked := 0, 0
		for _, name := range h.cluster.BrokerNames() {
			for id := int64(0); ; id++ {
				b := h.cluster.Broker(name).Replica(id)
				if b == nil {
					break
				}
				if len(b.ConsumerIDs(group)) > 0 {
					members++
				}
				for _, r := range b.Requests(remoting.CodeGetConsumerListByGroup) {
					if r.ExtFields["consumerGroup"] == group {
						asked++
					}
				}
			}
		}
		return members > 0 && asked >= 2*(1+members)
	})
}

// consumeRebalanced is consume, and waitRebalanced before the consumer shuts
// down when the test ends.
func (h *harness) consumeRebalanced(group, topic string, handler func(*collector, ...*primitive.MessageExt) consumer.ConsumeResult, opts ...consumer.Option) (*collector, rocketmq.PushConsumer) {
	h.t.Helper()
	col, c := h.consume(group, topic, handler, opts...)
	h.t.Cleanup(func() { h.waitRebalanced(group) })
	return col, c
}
