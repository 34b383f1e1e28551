package mesh_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

func twoClusterSpec(c *meshtest.Cluster) meshtest.MeshSpec {
	return meshtest.MeshSpec{
		Listener: listenerName,
		Routes: []meshtest.RouteSpec{
			{Topic: "orders", Cluster: "cluster-a"},
			{TopicPrefix: "pay", Cluster: "cluster-b"},
		},
		Clusters: []meshtest.ClusterSpec{
			{Name: "cluster-a", DataPath: "direct", Endpoints: endpointsOf(c, "broker-a")},
			{Name: "cluster-b", DataPath: "direct", Endpoints: endpointsOf(c, "broker-b")},
		},
	}
}

func TestMesh_ConfigDump(t *testing.T) {
	h := newHarness(t, harnessConfig{brokers: []string{"broker-a", "broker-b"}, spec: twoClusterSpec})
	raw, err := h.mesh.ConfigDump()
	if err != nil {
		t.Fatalf("ConfigDump: %v", err)
	}
	if !json.Valid(raw) {
		t.Fatalf("config dump is not valid JSON:\n%s", raw)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	var target, nsAddr, pending string
	_ = json.Unmarshal(top["target"], &target)
	_ = json.Unmarshal(top["nameServerEndpoint"], &nsAddr)
	_ = json.Unmarshal(top["pending"], &pending)
	if target != "xds:///"+listenerName || nsAddr != h.mesh.NameServerAddr() || pending != "nothing" {
		t.Errorf("dump target %q, nameServerEndpoint %q, pending %q; want %q, %q, \"nothing\"", target, nsAddr, pending, "xds:///"+listenerName, h.mesh.NameServerAddr())
	}

	d := configDump(t, h.mesh)
	if d.Listener != listenerName || d.RouteTable.Listener != listenerName {
		t.Errorf("dump listener %q, route table listener %q, want %q", d.Listener, d.RouteTable.Listener, listenerName)
	}

	// Every resource in force, with the control plane's version.
	version := h.cp.Version()
	type key struct{ typeURL, name string }
	got := map[key]string{}
	for _, r := range d.Resources {
		got[key{r.TypeURL, r.Name}] = r.Version
	}
	for _, k := range []key{
		{xdsclient.ListenerTypeURL, listenerName},
		{xdsclient.ClusterTypeURL, "cluster-a"},
		{xdsclient.ClusterTypeURL, "cluster-b"},
		{xdsclient.EndpointsTypeURL, "cluster-a"},
		{xdsclient.EndpointsTypeURL, "cluster-b"},
	} {
		if v, ok := got[k]; !ok || v != version {
			t.Errorf("resource %s %q: version %q (present %v), want %q", k.typeURL, k.name, v, ok, version)
		}
	}
	for _, k := range []string{"listener/" + listenerName, "cluster/cluster-a", "cluster/cluster-b", "endpoints/cluster-a", "endpoints/cluster-b"} {
		if v := d.RouteTable.Versions[k]; v != version {
			t.Errorf("route table built from %s version %q, want %q", k, v, version)
		}
	}

	// The route table names the routes' clusters and resolves both.
	var routeClusters []string
	for _, r := range d.RouteTable.RouteConfig.Routes {
		routeClusters = append(routeClusters, r.Cluster)
	}
	if want := []string{"cluster-a", "cluster-b"}; !slices.Equal(routeClusters, want) {
		t.Errorf("route table routes go to %q, want %q", routeClusters, want)
	}
	if d.RouteTable.RouteConfig.Name != listenerName+"-routes" {
		t.Errorf("route config name %q, want %q", d.RouteTable.RouteConfig.Name, listenerName+"-routes")
	}
	var clusters []string
	for _, c := range d.RouteTable.Clusters {
		clusters = append(clusters, c.Name+":"+c.Type)
	}
	if want := []string{"cluster-a:brokers", "cluster-b:brokers"}; !slices.Equal(clusters, want) {
		t.Errorf("route table clusters %q, want %q", clusters, want)
	}

	// An update shows up with its new version.
	// A changed listener shows up with its new version, in the resources and in
	// the route table built from it. (An update that changes nothing moves the
	// resources' versions only: the xDS client does not report it.)
	spec := twoClusterSpec(h.cluster)
	spec.Routes = append(spec.Routes, meshtest.RouteSpec{TopicPrefix: "audit", Cluster: "cluster-a"})
	h.apply(spec)
	next := h.cp.Version()
	// xDS orders nothing across resource types: the listener can be in force
	// while the endpoints' response for the same version is still on its way,
	// so wait for every resource rather than for the listener alone.
	meshtest.WaitFor(t, "every resource and the route table at version "+next, func() bool {
		d = configDump(t, h.mesh)
		for _, r := range d.Resources {
			if r.Version != next {
				return false
			}
		}
		return len(d.Resources) > 0 && d.RouteTable.Versions["listener/"+listenerName] == next
	})
	if n := len(d.RouteTable.RouteConfig.Routes); n != 3 {
		t.Errorf("after the update the route table has %d routes, want 3", n)
	}
}

func TestMesh_ClusterInfoListsRoutedBrokers(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path, brokers: []string{"broker-a", "broker-b"}, replica: true, topics: []string{"orders"}, spec: allBrokers})
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		info, err := h.mesh.ClusterInfo(ctx)
		if err != nil {
			t.Fatalf("ClusterInfo: %v", err)
		}
		want := map[int64]string{0: h.clientAddr("broker-a", 0), 1: h.clientAddr("broker-a", 1)}
		if diff := cmp.Diff(info.BrokerAddrTable["broker-a"].BrokerAddrs, want); diff != "" {
			t.Errorf("broker-a addresses (-got +want):\n%s", diff)
		}
		if diff := cmp.Diff(info.ClusterAddrTable[h.cluster.ClusterName()], []string{"broker-a", "broker-b"}); diff != "" {
			t.Errorf("cluster members (-got +want):\n%s", diff)
		}
	})
}

// TestMesh_ConfigDumpShowsDataPathInForce checks that the dump says what is
// served, not what is asked for: with the relay (the default) clusters are
// intercepted unless they ask for direct; with mesh.WithDataPath(direct) every
// cluster is served direct, whatever its data_path knob requests. The route
// the client gets agrees.
func TestMesh_ConfigDumpShowsDataPathInForce(t *testing.T) {
	cp := controlPlaneWith(t, meshtest.MeshSpec{
		Listener: listenerName,
		Routes: []meshtest.RouteSpec{
			{Topic: "orders", Cluster: "wants-intercept"},
			{Topic: "payments", Cluster: "wants-direct"},
			{Cluster: "no-knob"},
		},
		Clusters: []meshtest.ClusterSpec{
			{Name: "wants-intercept", DataPath: "intercept", Endpoints: fakeBrokerA},
			{Name: "wants-direct", DataPath: "direct", Endpoints: fakeBrokerA},
			{Name: "no-knob", Endpoints: fakeBrokerA},
		},
	})
	for _, tc := range []struct {
		name       string
		opts       []mesh.Option
		want       map[string]string
		ordersReal bool // the client gets broker-a's real address for orders
	}{
		{
			name: "relay",
			want: map[string]string{
				"wants-intercept": "intercept (requested intercept)",
				"wants-direct":    "direct (requested direct)",
				"no-knob":         "intercept (requested unset)",
			},
		},
		{
			name: "direct everywhere",
			opts: []mesh.Option{mesh.WithDataPath(routing.DataPathDirect)},
			want: map[string]string{
				"wants-intercept": "direct (requested intercept)",
				"wants-direct":    "direct (requested direct)",
				"no-knob":         "direct (requested unset)",
			},
			ordersReal: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
			defer cancel()
			m := newBareMesh(t, cp.Bootstrap(), tc.opts...)
			if err := m.WaitReady(ctx); err != nil {
				t.Fatalf("WaitReady: %v", err)
			}
			raw, err := m.ConfigDump()
			if err != nil {
				t.Fatalf("ConfigDump: %v", err)
			}
			var d struct {
				RouteTable struct {
					Clusters []struct {
						Name      string `json:"name"`
						InForce   string `json:"data_path"`
						Requested string `json:"requested_data_path"`
					} `json:"clusters"`
				} `json:"routeTable"`
			}
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, c := range d.RouteTable.Clusters {
				got[c.Name] = c.InForce + " (requested " + c.Requested + ")"
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("data paths in the dump (-got +want):\n%s", diff)
			}
			// And it is what the client gets: the real broker address on the
			// direct path, a relay endpoint otherwise.
			for topic, real := range map[string]bool{"orders": tc.ordersReal, "payments": true} {
				r, err := m.TopicRoute(ctx, topic)
				if err != nil || len(r.BrokerDatas) != 1 {
					t.Fatalf("TopicRoute(%s) = %+v, %v; want broker-a", topic, r, err)
				}
				if got := r.BrokerDatas[0].BrokerAddrs[0]; (got == "127.0.0.1:10911") != real {
					t.Errorf("TopicRoute(%s) lists broker-a at %s; want the real address %v", topic, got, real)
				}
			}
		})
	}
}
