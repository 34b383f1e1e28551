package meshtest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"

	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func cpSpec() MeshSpec {
	return MeshSpec{
		Listener: "rmq",
		Routes:   []RouteSpec{{Topic: "orders", Codes: []int{10, 310, 320}, Cluster: "brokers", Subset: map[string]string{"version": "canary"}}},
		Clusters: []ClusterSpec{{Name: "brokers", Endpoints: []EndpointSpec{{Address: "127.0.0.1:10911", BrokerName: "broker-a", LBMetadata: map[string]string{"version": "canary"}}}}},
	}
}

func startClient(t *testing.T, cp *ControlPlane, opts ...BootstrapOption) *xdsclient.Client {
	t.Helper()
	cfg, err := bootstrap.Parse(cp.Bootstrap(opts...), "test")
	if err != nil {
		t.Fatalf("Bootstrap() is not valid: %v", err)
	}
	c, err := xdsclient.New(cfg, xdsclient.WithBackoff(func(int) time.Duration { return 20 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestControlPlane_UpdateBumpsVersion(t *testing.T) {
	cp := RunControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	res, err := cpSpec().Resources()
	if err != nil {
		t.Fatal(err)
	}
	v0, _ := strconv.Atoi(cp.Version())
	for i := 1; i <= 3; i++ {
		if err := cp.Update(ctx, res); err != nil {
			t.Fatal(err)
		}
		if got, want := cp.Version(), strconv.Itoa(v0+i); got != want {
			t.Errorf("after %d identical updates Version() = %q, want %q", i, got, want)
		}
	}
	c := startClient(t, cp)
	got := make(chan string, 10)
	defer c.WatchCluster("brokers", xdsclient.WatcherFuncs[*xdsclient.ClusterUpdate]{OnResourceChanged: func(u *xdsclient.ClusterUpdate) { got <- u.Version }})()
	select {
	case v := <-got:
		if v != cp.Version() {
			t.Errorf("client got version %q, want %q", v, cp.Version())
		}
	case <-ctx.Done():
		t.Fatal("timed out waiting for the cluster")
	}
}

func TestControlPlane_InvalidResourceIsNACKed(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			cp := RunControlPlane(t)
			ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
			defer cancel()
			res, err := cpSpec().Resources()
			if err != nil {
				t.Fatal(err)
			}
			if err := cp.Update(ctx, res); err != nil {
				t.Fatal(err)
			}
			c := startClient(t, cp, WithBootstrapProtocol(protocol))
			defer c.WatchCluster("brokers", xdsclient.WatcherFuncs[*xdsclient.ClusterUpdate]{})()
			if err := cp.ServeInvalid(ctx, &clusterv3.Cluster{Name: "brokers"}); err != nil {
				t.Fatal(err)
			}
			req, err := cp.WaitForRequest(ctx, XDSRequest.IsNACK)
			if err != nil {
				t.Fatal(err)
			}
			if req.TypeURL != xdsclient.ClusterTypeURL || req.Delta != (protocol == "delta") || !strings.Contains(req.ErrorDetail.GetMessage(), `cluster "brokers"`) {
				t.Errorf("NACK = %+v", req)
			}
		})
	}
}

func TestControlPlane_RestartKeepsAddress(t *testing.T) {
	cp := RunControlPlane(t)
	addr := cp.Addr()
	cp.Stop()
	cp.Stop() // idempotent
	if err := cp.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := cp.Addr(); got != addr {
		t.Errorf("Addr() after Restart = %q, want %q", got, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	res, _ := cpSpec().Resources()
	if err := cp.Update(ctx, res); err != nil {
		t.Fatal(err)
	}
	c := startClient(t, cp)
	done := make(chan struct{})
	defer c.WatchListener("rmq", xdsclient.WatcherFuncs[*xdsclient.ListenerUpdate]{OnResourceChanged: func(*xdsclient.ListenerUpdate) { close(done) }})()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("timed out waiting for the listener after Restart")
	}
}

func TestMeshSpec_Resources(t *testing.T) {
	res, err := cpSpec().Resources()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Listeners) != 1 || len(res.Clusters) != 1 || len(res.Endpoints) != 1 || len(res.RouteConfigs) != 0 {
		t.Fatalf("Resources() = %d listeners, %d clusters, %d endpoints, %d route configs", len(res.Listeners), len(res.Clusters), len(res.Endpoints), len(res.RouteConfigs))
	}
	s := cpSpec()
	s.OnDemand = true
	od, err := s.Resources()
	if err != nil {
		t.Fatal(err)
	}
	if len(od.RouteConfigs) != 1 || od.RouteConfigs[0].GetName() != "rmq-routes/orders" {
		t.Errorf("on-demand route configs = %v", od.RouteConfigs)
	}
	h := od.RouteConfigs[0].GetRoutes()[0].GetMatch().GetHeaders()[0]
	if h.GetName() != "code" || h.GetStringMatch().GetSafeRegex().GetRegex() != "^(10|310|320)$" {
		t.Errorf("code header matcher = %v", h)
	}
	for _, bad := range []MeshSpec{
		{},
		{Listener: "l", Routes: []RouteSpec{{Topic: "a", TopicPrefix: "b", Cluster: "c"}}},
		{Listener: "l", Routes: []RouteSpec{{Topic: "a"}}},
		{Listener: "l", Clusters: []ClusterSpec{{Name: "c"}, {Name: "c"}}},
		{Listener: "l", Clusters: []ClusterSpec{{Name: "c", Endpoints: []EndpointSpec{{Address: "nohost"}}}}},
	} {
		if _, err := bad.Resources(); err == nil || !strings.HasPrefix(err.Error(), "meshtest: ") {
			t.Errorf("Resources(%+v) error = %v, want a meshtest error", bad, err)
		}
	}
}

func TestControlPlane_Bootstrap(t *testing.T) {
	cp := RunControlPlane(t)
	cfg, err := bootstrap.Parse(cp.Bootstrap(WithBootstrapProtocol("delta"), WithBootstrapNode("n1", "c1"), WithBootstrapLocality("r", "z", "s"),
		WithBootstrapServerFeatures("ignore_resource_deletion"), WithBootstrapResourceTimeout(time.Second), WithBootstrapAuthorities("a.example")), "test")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.XDSServers[0].ServerURI != cp.Addr() || !cfg.XDSServers[0].IgnoreResourceDeletion || cfg.Mesh.Protocol != bootstrap.ProtocolDelta ||
		cfg.Mesh.ResourceTimeout != time.Second || cfg.NodeConfig.ID != "n1" || cfg.NodeConfig.Locality.Zone != "z" || cfg.Authorities["a.example"] == nil {
		t.Errorf("bootstrap = %+v", cfg)
	}
}

// TestControlPlane_DeprecatedNames keeps the names that RunControlPlane and Addr
// replaced working for code outside the repository.
func TestControlPlane_DeprecatedNames(t *testing.T) {
	cp := StartControlPlane(t)
	if cp.Address() != cp.Addr() || cp.Addr() == "" {
		t.Errorf("Address() = %q, Addr() = %q, want the same non-empty address", cp.Address(), cp.Addr())
	}
}
