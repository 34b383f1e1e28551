package mesh_test

import (
	"context"
	"encoding/json"
	"net"
	"strconv"
	"testing"

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
// for the cluster.
type interceptConfig struct {
	harnessConfig
	cluster []meshtest.ClusterOption
}

// newInterceptHarness is newHarness on the restricted intercept data path.
func newInterceptHarness(t testing.TB, ic interceptConfig) *harness {
	t.Helper()
	hc := ic.harnessConfig
	hc.path = interceptPath
	hc.cluster = append(hc.cluster, ic.cluster...)
	return newHarness(t, hc)
}

// checkNothingBypassed fails the test when a broker refused a connection that
// did not come from the relay.
func (h *harness) checkNothingBypassed() {
	for _, name := range h.cluster.BrokerNames() {
		for id := int64(0); ; id++ {
			b := h.cluster.Broker(name).Replica(id)
			if b == nil {
				break
			}
			if n := b.RefusedConnections(); n > 0 {
				h.t.Errorf("broker %s/%d refused %d connections that did not come through the relay", name, id, n)
			}
		}
	}
}

// clientAddr returns the address the mesh's routes give clients for a broker
// member: the relay's virtual endpoint on the intercept path, the real one on
// the direct path.
func (h *harness) clientAddr(name string, id int64) string {
	h.t.Helper()
	real := h.cluster.Broker(name).Replica(id).Addr()
	if !h.path.intercept {
		return real
	}
	dump, err := h.mesh.ConfigDump()
	if err != nil {
		h.t.Fatal(err)
	}
	var d struct {
		Relay map[string]string `json:"relayEndpoints"`
	}
	if err := json.Unmarshal(dump, &d); err != nil {
		h.t.Fatal(err)
	}
	want := name + "/" + strconv.FormatInt(id, 10)
	for addr, ep := range d.Relay {
		if ep == want {
			return addr
		}
	}
	h.t.Fatalf("the relay has no endpoint for %s", want)
	return ""
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

// routeAddrs returns the broker addresses the mesh's nameserver endpoint
// answers for topic, by broker name and id.
func routeAddrs(t testing.TB, h *harness, topic string) map[string]map[int64]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
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
