package xdsclient_test

import (
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

func baseSpec() meshtest.MeshSpec {
	return meshtest.MeshSpec{
		Listener: "rmq-prod",
		Routes: []meshtest.RouteSpec{
			{Topic: "orders", Cluster: "brokers"},
			{Codes: []int{105}, Cluster: "nameservers"},
		},
		Clusters: []meshtest.ClusterSpec{
			{Name: "brokers", DataPath: "direct", Endpoints: []meshtest.EndpointSpec{
				{Address: "127.0.0.1:10911", BrokerName: "broker-a", BrokerID: 0, ClusterName: "DefaultCluster"},
				{Address: "127.0.0.1:10921", BrokerName: "broker-a", BrokerID: 1, ClusterName: "DefaultCluster", Perm: 4},
			}},
			{Name: "nameservers", Endpoints: []meshtest.EndpointSpec{{Address: "127.0.0.1:9876"}}},
		},
	}
}

func addrs(cla *endpointv3.ClusterLoadAssignment) []string {
	var out []string
	for _, l := range cla.GetEndpoints() {
		for _, e := range l.GetLbEndpoints() {
			out = append(out, e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
		}
	}
	return out
}

func TestClient_FullChain(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.RunControlPlane(t)
		ctx := testCtx(t)
		if err := cp.Update(ctx, mustResources(t, baseSpec())); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)))

		lw := newRecorder[*xdsclient.ListenerUpdate]()
		defer c.WatchListener("rmq-prod", lw)()
		lu := lw.waitUpdate(t, "listener", nil)
		if lu.Proxy == nil || lu.OnDemand || lu.RouteConfigName != "rmq-prod-routes" || len(lu.RouteConfig.GetRoutes()) != 2 {
			t.Fatalf("listener update = %+v", lu)
		}
		cluster := lu.RouteConfig.GetRoutes()[0].GetRoute().GetCluster()

		cw := newRecorder[*xdsclient.ClusterUpdate]()
		defer c.WatchCluster(cluster, cw)()
		cu := cw.waitUpdate(t, "cluster", nil)
		if dp, err := wellknown.ParseDataPath(cu.Cluster.GetMetadata()); cu.EDSServiceName != "brokers" || dp != wellknown.DataPathDirect || err != nil {
			t.Fatalf("cluster update = %+v (data path %q, %v)", cu, dp, err)
		}

		ew := newRecorder[*xdsclient.EndpointsUpdate]()
		defer c.WatchEndpoints(cu.EDSServiceName, ew)()
		eu := ew.waitUpdate(t, "endpoints", nil)
		if got, want := len(addrs(eu.Assignment)), 2; got != want {
			t.Fatalf("endpoints = %d, want %d", got, want)
		}
		md := eu.Assignment.GetEndpoints()[0].GetLbEndpoints()[0].GetMetadata().GetFilterMetadata()
		if md[wellknown.BrokerMetadataNamespace].GetFields()["broker_name"].GetStringValue() != "broker-a" ||
			md["envoy.lb"].GetFields()["broker_name"].GetStringValue() != "broker-a" {
			t.Errorf("broker metadata = %v", md)
		}

		// A second watcher gets the cached value at once.
		lw2 := newRecorder[*xdsclient.ListenerUpdate]()
		cancel2 := c.WatchListener("rmq-prod", lw2)
		if got := lw2.waitUpdate(t, "cached listener", nil); got.Version != lu.Version {
			t.Errorf("cached version = %q, want %q", got.Version, lu.Version)
		}
		cancel2()
		cancel2() // safe twice

		dump := c.Dump()
		var types []string
		for _, d := range dump {
			types = append(types, d.TypeURL)
			if d.Status != xdsclient.StatusAcked || len(d.JSON) == 0 {
				t.Errorf("dump %s %q: status %v, json %d bytes", d.TypeURL, d.Name, d.Status, len(d.JSON))
			}
		}
		want := []string{xdsclient.ClusterTypeURL, xdsclient.EndpointsTypeURL, xdsclient.ListenerTypeURL}
		if diff := cmp.Diff(types, want); diff != "" {
			t.Errorf("dump types (-got +want):\n%s", diff)
		}
	})
}

func TestClient_UpdateAndDelete(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.RunControlPlane(t)
		ctx := testCtx(t)
		spec := baseSpec()
		if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)))
		cw := newRecorder[*xdsclient.ClusterUpdate]()
		defer c.WatchCluster("brokers", cw)()
		ew := newRecorder[*xdsclient.EndpointsUpdate]()
		defer c.WatchEndpoints("brokers", ew)()
		cw.waitUpdate(t, "cluster", nil)
		ew.waitUpdate(t, "endpoints", nil)

		spec.Clusters[0].Endpoints = append(spec.Clusters[0].Endpoints, meshtest.EndpointSpec{Address: "127.0.0.2:10911", BrokerName: "broker-b"})
		if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
			t.Fatal(err)
		}
		ew.waitUpdate(t, "endpoints with broker-b", func(u *xdsclient.EndpointsUpdate) bool {
			return slices.Contains(addrs(u.Assignment), "127.0.0.2")
		})

		spec.Clusters = spec.Clusters[1:]
		if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
			t.Fatal(err)
		}
		cw.waitResourceError(t, xdsclient.KindResourceNotFound)
		for _, d := range c.Dump() {
			if d.TypeURL == xdsclient.ClusterTypeURL && (d.Status != xdsclient.StatusDoesNotExist || d.JSON != nil) {
				t.Errorf("dump of deleted cluster = %+v", d)
			}
		}
	})
}

func TestClient_IgnoreResourceDeletion(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	ctx := testCtx(t)
	spec := baseSpec()
	if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapServerFeatures("ignore_resource_deletion")))
	cw := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("brokers", cw)()
	cw.waitUpdate(t, "cluster", nil)
	spec.Clusters = spec.Clusters[1:]
	if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
		t.Fatal(err)
	}
	// Wait until the client ACKed the version without the cluster.
	v := cp.Version()
	if _, err := cp.WaitForRequest(ctx, func(r meshtest.XDSRequest) bool {
		return r.TypeURL == xdsclient.ClusterTypeURL && r.VersionInfo == v && !r.IsNACK()
	}); err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Dump() {
		if d.TypeURL == xdsclient.ClusterTypeURL && d.Status != xdsclient.StatusAcked {
			t.Errorf("cluster status = %v, want acked (deletion ignored)", d.Status)
		}
	}
	// Callbacks run in order: once a new watcher has the cached cluster,
	// every callback queued for cw before it has run.
	cw2 := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("brokers", cw2)()
	cw2.waitUpdate(t, "cached cluster", nil)
	for len(cw.ch) > 0 {
		if e := <-cw.ch; e.resErr != nil {
			t.Errorf("got resource error %v, want the deletion ignored", e.resErr)
		}
	}
}

func TestClient_NACKKeepsLastGood(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.RunControlPlane(t)
		ctx := testCtx(t)
		spec := baseSpec()
		if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)))
		cw := newRecorder[*xdsclient.ClusterUpdate]()
		defer c.WatchCluster("brokers", cw)()
		ew := newRecorder[*xdsclient.EndpointsUpdate]()
		defer c.WatchEndpoints("brokers", ew)()
		ew2 := newRecorder[*xdsclient.EndpointsUpdate]()
		defer c.WatchEndpoints("nameservers", ew2)()
		good := cw.waitUpdate(t, "cluster", nil)
		ew.waitUpdate(t, "endpoints", nil)
		ew2.waitUpdate(t, "nameserver endpoints", nil)

		// An invalid cluster (not EDS) and, in the same response, a bad and a
		// good assignment.
		bad := &clusterv3.Cluster{Name: "brokers", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}
		r := mustResources(t, spec)
		dup := r.Endpoints[0]
		dup.Endpoints[0].LbEndpoints[1].Metadata = dup.Endpoints[0].LbEndpoints[0].Metadata // duplicate broker-a/0
		nsGood := r.Endpoints[1]
		nsGood.Endpoints[0].LbEndpoints[0].GetEndpoint().GetAddress().GetSocketAddress().Address = "127.0.0.9"
		if err := cp.ServeInvalid(ctx, bad, dup, nsGood); err != nil {
			t.Fatal(err)
		}
		err := cw.waitAmbientError(t, xdsclient.KindNACKed)
		if !strings.Contains(err.Error(), `cluster "brokers"`) || !strings.Contains(err.Error(), "want EDS") {
			t.Errorf("ambient error = %v", err)
		}
		ew.waitAmbientError(t, xdsclient.KindNACKed)
		ew2.waitUpdate(t, "good assignment in a NACKed response", func(u *xdsclient.EndpointsUpdate) bool {
			return slices.Contains(addrs(u.Assignment), "127.0.0.9")
		})

		for _, typ := range []string{xdsclient.ClusterTypeURL, xdsclient.EndpointsTypeURL} {
			req, err := cp.WaitForRequest(ctx, func(r meshtest.XDSRequest) bool { return r.TypeURL == typ && r.IsNACK() })
			if err != nil {
				t.Fatal(err)
			}
			msg := req.ErrorDetail.GetMessage()
			wantSub := `cluster "brokers": discovery type`
			if typ == xdsclient.EndpointsTypeURL {
				wantSub = `endpoints "brokers": endpoints[0].lb_endpoints[1] (127.0.0.1:10921): duplicate broker (broker_name "broker-a", broker_id 0)`
			}
			if !strings.Contains(msg, wantSub) {
				t.Errorf("NACK detail for %s = %q, want it to contain %q", typ, msg, wantSub)
			}
			if strings.Contains(msg, "nameservers") {
				t.Errorf("NACK detail %q names the good resource", msg)
			}
		}
		for _, d := range c.Dump() {
			if d.TypeURL == xdsclient.ClusterTypeURL {
				if d.Status != xdsclient.StatusNacked || d.Version != good.Version || !strings.Contains(string(d.JSON), "EDS") {
					t.Errorf("dump after NACK = status %v version %q (want nacked, %q), json %s", d.Status, d.Version, good.Version, d.JSON)
				}
			}
		}
		// A new watcher gets the last good version and the NACK.
		cw2 := newRecorder[*xdsclient.ClusterUpdate]()
		defer c.WatchCluster("brokers", cw2)()
		if got := cw2.waitUpdate(t, "last good cluster", nil); got.Cluster.GetType() != clusterv3.Cluster_EDS {
			t.Errorf("cached cluster type = %v, want EDS", got.Cluster.GetType())
		}
		cw2.waitAmbientError(t, xdsclient.KindNACKed)

		// A fixed version is accepted again.
		if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
			t.Fatal(err)
		}
		ew.waitUpdate(t, "fixed endpoints", nil)
	})
}

func TestClient_ServerRestart(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.RunControlPlane(t)
		ctx := testCtx(t)
		spec := baseSpec()
		if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)))
		ew := newRecorder[*xdsclient.EndpointsUpdate]()
		defer c.WatchEndpoints("brokers", ew)()
		ew.waitUpdate(t, "endpoints", nil)
		before := len(cp.Requests())

		cp.Stop()
		ew.waitAmbientError(t, xdsclient.KindConnection)
		if err := cp.Restart(); err != nil {
			t.Fatal(err)
		}
		// The client re-subscribes on the new stream.
		seen := 0
		req, err := cp.WaitForRequest(ctx, func(r meshtest.XDSRequest) bool {
			seen++
			return seen > before && r.TypeURL == xdsclient.EndpointsTypeURL && slices.Contains(r.ResourceNames, "brokers")
		})
		if err != nil {
			t.Fatal(err)
		}
		if protocol == "delta" && req.InitialResourceVersions["brokers"] == "" {
			t.Errorf("delta re-subscription has no initial_resource_versions: %+v", req)
		}
		spec.Clusters[0].Endpoints[0].Address = "127.0.0.3:10911"
		if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
			t.Fatal(err)
		}
		ew.waitUpdate(t, "endpoints after restart", func(u *xdsclient.EndpointsUpdate) bool {
			return slices.Contains(addrs(u.Assignment), "127.0.0.3")
		})
	})
}

func TestClient_Fallback(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	ctx := testCtx(t)
	if err := cp.Update(ctx, mustResources(t, baseSpec())); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapServers(unusedAddr(t), cp.Addr())))
	lw := newRecorder[*xdsclient.ListenerUpdate]()
	defer c.WatchListener("rmq-prod", lw)()
	lw.waitUpdate(t, "listener from the fallback server", nil)
}

func TestClient_Unreachable(t *testing.T) {
	cfg := []byte(`{"xds_servers":[{"server_uri":"` + unusedAddr(t) + `","channel_creds":[{"type":"insecure"}]}]}`)
	c := newClient(t, cfg, xdsclient.WithResourceTimeout(100_000_000))
	lw := newRecorder[*xdsclient.ListenerUpdate]()
	defer c.WatchListener("rmq-prod", lw)()
	err := lw.waitResourceError(t, xdsclient.KindConnection)
	if !strings.Contains(err.Error(), `listener "rmq-prod"`) {
		t.Errorf("error = %v, want it to name the listener", err)
	}
}

// TestClient_UnreachableReportedBeforeResourceTimeout checks that a watcher
// of a resource with nothing cached learns that no server is reachable as soon
// as every server has failed, not when the does-not-exist timer fires, and
// once per outage.
func TestClient_UnreachableReportedBeforeResourceTimeout(t *testing.T) {
	cfg := []byte(`{"xds_servers":[{"server_uri":"` + unusedAddr(t) + `","channel_creds":[{"type":"insecure"}]}]}`)
	var rounds atomic.Int64 // failed rounds over every server
	backoff := func(int) time.Duration { rounds.Add(1); return fastBackoff(0) }
	c := newClient(t, cfg, xdsclient.WithResourceTimeout(time.Hour), xdsclient.WithBackoff(backoff))
	lw := newRecorder[*xdsclient.ListenerUpdate]()
	defer c.WatchListener("rmq-prod", lw)()
	err := lw.waitResourceError(t, xdsclient.KindConnection)
	if !strings.Contains(err.Error(), `listener "rmq-prod"`) || !strings.Contains(err.Error(), "no xDS server reachable") {
		t.Errorf("error = %v, want it to name the listener and say no server is reachable", err)
	}
	// The client keeps retrying; the watcher is not told again.
	seen := rounds.Load()
	deadline := time.Now().Add(meshtest.DefaultTimeout)
	for rounds.Load() < seen+3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if rounds.Load() < seen+3 {
		t.Fatalf("the client stopped retrying after %d rounds", rounds.Load())
	}
	select {
	case e := <-lw.ch:
		t.Errorf("callback repeated during one outage: %+v", e)
	default:
	}
	// A second watcher of the same resource is told at once.
	lw2 := newRecorder[*xdsclient.ListenerUpdate]()
	defer c.WatchListener("rmq-prod", lw2)()
	lw2.waitResourceError(t, xdsclient.KindConnection)
}

func TestClient_CloseIdempotent(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	c := newClient(t, cp.Bootstrap())
	if err := c.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	c.WatchListener("x", newRecorder[*xdsclient.ListenerUpdate]())() // no panic, no leak
}
