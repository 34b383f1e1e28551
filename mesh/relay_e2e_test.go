package mesh_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// TestIntercept_ClientsReachBrokersOnlyThroughTheRelay checks the default data
// path end to end: routes name the relay's virtual endpoints, and sends and
// consumption work although the brokers refuse every connection that does not
// come from the relay.
func TestIntercept_ClientsReachBrokersOnlyThroughTheRelay(t *testing.T) {
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		brokers: []string{"broker-a", "broker-b"}, replica: true, topics: []string{"orders"}, spec: allBrokers,
	}})
	addrs := routeAddrs(t, h, "orders")
	real := map[string]bool{}
	for _, e := range h.cluster.BrokerEndpoints(4) {
		real[e.Address] = true
	}
	for broker, ids := range addrs {
		for id, addr := range ids {
			ap, err := netip.ParseAddrPort(addr)
			if err != nil || !ap.Addr().IsLoopback() || real[addr] {
				t.Errorf("route lists %s/%d at %s, want a virtual loopback endpoint of the relay", broker, id, addr)
			}
		}
	}
	if len(addrs["broker-a"]) != 2 || len(addrs["broker-b"]) != 1 {
		t.Errorf("route lists %v, want broker-a master and replica and broker-b", addrs)
	}
	sent := h.sendN(h.producer(), "orders", 20)
	if sent["broker-a"]+sent["broker-b"] != 20 {
		t.Fatalf("sends landed on %v", sent)
	}
	col, _ := h.consume(uniqueName("cg"), "orders", nil)
	meshtest.WaitFor(t, "20 messages consumed through the relay", func() bool { return col.Distinct() == 20 })
	for _, b := range []string{"broker-a", "broker-b"} {
		for _, r := range h.cluster.Broker(b).Requests(remoting.CodeSendMessage) {
			if !strings.HasPrefix(r.RemoteAddr, relaySource+":") {
				t.Errorf("%s got a send from %s, want the relay's %s", b, r.RemoteAddr, relaySource)
			}
			if r.ExtFields["bname"] != b {
				t.Errorf("%s got a send with bname %q", b, r.ExtFields["bname"])
			}
		}
	}
	dump, err := h.mesh.ConfigDump()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		DataPath string            `json:"defaultDataPath"`
		Relay    map[string]string `json:"relayEndpoints"`
	}
	if err := json.Unmarshal(dump, &d); err != nil {
		t.Fatal(err)
	}
	if d.DataPath != "intercept" || d.Relay[addrs["broker-a"][0]] != "broker-a/0" {
		t.Errorf("config dump: data path %q, relay endpoints %v; want intercept and broker-a/0 at %s", d.DataPath, d.Relay, addrs["broker-a"][0])
	}
}

// TestIntercept_DirectClusterKeepsRealAddresses checks that a cluster's
// data_path "direct" still hands the client real addresses while others are
// intercepted.
func TestIntercept_DirectClusterKeepsRealAddresses(t *testing.T) {
	h := newHarness(t, harnessConfig{
		path:         interceptPath,
		unrestricted: true, // the direct cluster's broker is dialled by the client
		brokers:      []string{"broker-a", "broker-b"},
		topics:       []string{"orders", "payments"},
		spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
			return meshtest.MeshSpec{
				Listener: listenerName,
				Routes:   []meshtest.RouteSpec{{Topic: "orders", Cluster: "a"}, {Topic: "payments", Cluster: "b"}},
				Clusters: []meshtest.ClusterSpec{
					{Name: "a", Endpoints: endpointsOf(c, "broker-a")},
					{Name: "b", DataPath: "direct", Endpoints: endpointsOf(c, "broker-b")},
				},
			}
		},
	})
	if got := routeAddrs(t, h, "payments")["broker-b"][0]; got != h.cluster.Broker("broker-b").Addr() {
		t.Errorf("direct cluster: broker-b at %s, want its real address %s", got, h.cluster.Broker("broker-b").Addr())
	}
	if got := routeAddrs(t, h, "orders")["broker-a"][0]; got == h.cluster.Broker("broker-a").Addr() {
		t.Errorf("intercepted cluster: broker-a at its real address %s", got)
	}
	p := h.producer()
	if got := h.sendN(p, "orders", 5); got["broker-a"] != 5 {
		t.Errorf("orders went to %v", got)
	}
	if got := h.sendN(p, "payments", 5); got["broker-b"] != 5 {
		t.Errorf("payments went to %v", got)
	}
}
