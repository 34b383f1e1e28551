package xdsclient_test

// Regression tests for the deviations from grpc-go and Envoy found by the
// conformance review (issue 12). Each names the behaviour it pins.

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/rmqmesh/rmqmesh/internal/testutil"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// edsCluster is a minimal valid EDS cluster fetched over ADS.
func edsCluster(name string) *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		}},
	}
}

func sotwClusters(t *testing.T, version, nonce string, names ...string) *discoveryv3.DiscoveryResponse {
	resp := &discoveryv3.DiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, VersionInfo: version, Nonce: nonce}
	for _, n := range names {
		resp.Resources = append(resp.Resources, testutil.MustAny(t, edsCluster(n)))
	}
	return resp
}

// noEvent fails on any event queued for r that matches bad.
func (r *recorder[T]) noEvent(t *testing.T, what string, bad func(event[T]) bool) {
	t.Helper()
	for {
		select {
		case e := <-r.ch:
			if bad(e) {
				t.Errorf("unexpected %s: %+v", what, e)
			}
		default:
			return
		}
	}
}

func dumpStatus(c *xdsclient.Client, typeURL, name string) xdsclient.ResourceStatus {
	for _, d := range c.Dump() {
		if d.TypeURL == typeURL && d.Name == name {
			return d.Status
		}
	}
	return -1
}

// Item 1: a cancel followed at once by a re-watch of the same name must
// reach the server as two requests, or the server never re-sends the
// resource the client dropped.
func TestClient_RewatchAfterCancel_RequestPerChange(t *testing.T) {
	ctx := testCtx(t)
	fn := newFakeNet()
	srv := fn.server("primary")
	c := newClient(t, fakeBootstrap("primary"), xdsclient.WithTransport(fn), xdsclient.WithResourceTimeout(time.Hour))
	w := newRecorder[*xdsclient.ClusterUpdate]()
	cancel := c.WatchCluster("a", w)
	st := srv.nextStream(t, ctx)
	if req := st.sotwRequest(t, ctx); !slices.Equal(req.GetResourceNames(), []string{"a"}) {
		t.Fatalf("first request = %v", req)
	}
	for i := range 20 {
		v, nonce := fmt.Sprint(i), fmt.Sprint("n", i)
		st.send(t, sotwClusters(t, v, nonce, "a"))
		w.waitUpdate(t, "cluster a", nil)
		if ack := st.sotwRequest(t, ctx); ack.GetResponseNonce() != nonce || ack.GetErrorDetail() != nil {
			t.Fatalf("ACK = %v", ack)
		}
		cancel()
		cancel = c.WatchCluster("a", w)
		if req := st.sotwRequest(t, ctx); len(req.GetResourceNames()) != 0 {
			t.Fatalf("iteration %d: request after cancel = %v, want no names", i, req)
		}
		if req := st.sotwRequest(t, ctx); !slices.Equal(req.GetResourceNames(), []string{"a"}) {
			t.Fatalf("iteration %d: request after re-watch = %v, want [a]", i, req)
		}
	}
	cancel()
}

// Item 1 against go-control-plane: the re-watched resource comes back.
func TestClient_RewatchAfterCancel_ControlPlane(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.RunControlPlane(t)
		ctx := testCtx(t)
		if err := cp.Update(ctx, mustResources(t, onDemandSpec(3))); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)), xdsclient.WithResourceTimeout(time.Hour))
		name := wellknown.TopicRouteName("rmq-routes", "topic-1")
		for i := range 10 {
			w := newRecorder[*xdsclient.RouteConfigUpdate]()
			cancel := c.WatchRouteConfig(name, w)
			w.waitUpdate(t, fmt.Sprintf("route config (watch %d)", i), nil)
			cancel()
		}
	})
}

// Item 2: once the primary is back and answers, the client returns to it
// and closes the fallback stream (A71).
func TestClient_FallbackRevertsToPrimary(t *testing.T) {
	ctx := testCtx(t)
	primary := meshtest.RunControlPlane(t)
	fallback := meshtest.RunControlPlane(t)
	spec := baseSpec()
	for _, cp := range []*meshtest.ControlPlane{primary, fallback} {
		if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
			t.Fatal(err)
		}
	}
	primary.Stop()
	c := newClient(t, primary.Bootstrap(meshtest.WithBootstrapServers(primary.Addr(), fallback.Addr())))
	lw := newRecorder[*xdsclient.ListenerUpdate]()
	defer c.WatchListener("rmq-prod", lw)()
	lw.waitUpdate(t, "listener from the fallback", nil)

	if err := primary.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the client to use the primary only", func() bool {
		return primary.OpenStreams() > 0 && fallback.OpenStreams() == 0
	})
	// Updates now come from the primary.
	spec.Routes[0].Cluster = "from-primary"
	spec.Clusters = append(spec.Clusters, meshtest.ClusterSpec{Name: "from-primary", Endpoints: []meshtest.EndpointSpec{{Address: "127.0.0.1:1"}}})
	if err := primary.Update(ctx, mustResources(t, spec)); err != nil {
		t.Fatal(err)
	}
	lw.waitUpdate(t, "listener update from the primary", func(u *xdsclient.ListenerUpdate) bool {
		return u.RouteConfig.GetRoutes()[0].GetRoute().GetCluster() == "from-primary"
	})
}

// Item 3: a primary outage while everything watched is cached keeps the
// client on the primary (A71 falls back only for uncached resources).
func TestClient_NoFallbackWhenAllCached(t *testing.T) {
	ctx := testCtx(t)
	primary := meshtest.RunControlPlane(t)
	fallback := meshtest.RunControlPlane(t)
	for _, cp := range []*meshtest.ControlPlane{primary, fallback} {
		if err := cp.Update(ctx, mustResources(t, baseSpec())); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, primary.Bootstrap(meshtest.WithBootstrapServers(primary.Addr(), fallback.Addr())))
	lw := newRecorder[*xdsclient.ListenerUpdate]()
	defer c.WatchListener("rmq-prod", lw)()
	lw.waitUpdate(t, "listener from the primary", nil)

	primary.Stop()
	// Every failed reconnect is reported to the watcher of the cached
	// listener; three of them prove the client kept trying the primary.
	for range 3 {
		lw.waitAmbientError(t, xdsclient.KindConnection)
	}
	if got := fallback.Requests(); len(got) != 0 {
		t.Fatalf("fallback server got %d requests while everything watched was cached", len(got))
	}
	if err := primary.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the client back on the primary", func() bool { return primary.OpenStreams() > 0 })
	if got := fallback.Requests(); len(got) != 0 {
		t.Errorf("fallback server got %d requests", len(got))
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(meshtest.DefaultTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Item 5: SotW resources wrapped in envoy.service.discovery.v3.Resource (as
// servers using TTLs send them) are unwrapped, and a wrapper without a body
// (a TTL heartbeat) keeps the cached resource.
func TestClient_SotWResourceWrapper(t *testing.T) {
	ctx := testCtx(t)
	fn := newFakeNet()
	c := newClient(t, fakeBootstrap("s"), xdsclient.WithTransport(fn), xdsclient.WithResourceTimeout(time.Hour))
	w := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("a", w)()
	st := fn.server("s").nextStream(t, ctx)
	st.sotwRequest(t, ctx)
	wrapped := testutil.MustAny(t, &discoveryv3.Resource{Name: "a", Version: "1", Resource: testutil.MustAny(t, edsCluster("a"))})
	st.send(t, &discoveryv3.DiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, VersionInfo: "1", Nonce: "n1", Resources: []*anypb.Any{wrapped}})
	if got := w.waitUpdate(t, "wrapped cluster", nil); got.Name != "a" {
		t.Errorf("update = %+v", got)
	}
	if ack := st.sotwRequest(t, ctx); ack.GetErrorDetail() != nil || ack.GetVersionInfo() != "1" {
		t.Fatalf("response with a wrapped resource was not ACKed: %v", ack)
	}
	heartbeat := testutil.MustAny(t, &discoveryv3.Resource{Name: "a", Version: "1"})
	st.send(t, &discoveryv3.DiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, VersionInfo: "2", Nonce: "n2", Resources: []*anypb.Any{heartbeat}})
	if ack := st.sotwRequest(t, ctx); ack.GetErrorDetail() != nil || ack.GetVersionInfo() != "2" {
		t.Fatalf("heartbeat was not ACKed: %v", ack)
	}
	barrier := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("a", barrier)()
	barrier.waitUpdate(t, "cached cluster after the heartbeat", nil)
	w.noEvent(t, "event after a heartbeat", func(e event[*xdsclient.ClusterUpdate]) bool { return e.resErr != nil || e.ambErr != nil })
}

// Item 6: a delta resource without a body is a TTL heartbeat, not an error.
func TestClient_DeltaHeartbeat(t *testing.T) {
	ctx := testCtx(t)
	fn := newFakeNet()
	c := newClient(t, fakeBootstrap("s"), xdsclient.WithTransport(fn), xdsclient.WithProtocol(bootstrap.ProtocolDelta), xdsclient.WithResourceTimeout(time.Hour))
	w := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("a", w)()
	st := fn.server("s").nextStream(t, ctx)
	if req := st.deltaRequest(t, ctx); !slices.Equal(req.GetResourceNamesSubscribe(), []string{"a"}) {
		t.Fatalf("first request = %v", req)
	}
	st.send(t, &discoveryv3.DeltaDiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, Nonce: "n1",
		Resources: []*discoveryv3.Resource{{Name: "a", Version: "1", Resource: testutil.MustAny(t, edsCluster("a"))}}})
	w.waitUpdate(t, "cluster", nil)
	if ack := st.deltaRequest(t, ctx); ack.GetErrorDetail() != nil {
		t.Fatalf("NACK of a valid cluster: %v", ack)
	}
	st.send(t, &discoveryv3.DeltaDiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, Nonce: "n2",
		Resources: []*discoveryv3.Resource{{Name: "a", Version: "1"}}})
	if ack := st.deltaRequest(t, ctx); ack.GetErrorDetail() != nil || ack.GetResponseNonce() != "n2" {
		t.Fatalf("heartbeat was not ACKed: %v", ack)
	}
	barrier := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("a", barrier)()
	barrier.waitUpdate(t, "cached cluster after the heartbeat", nil)
	w.noEvent(t, "event after a heartbeat", func(e event[*xdsclient.ClusterUpdate]) bool { return e.resErr != nil || e.ambErr != nil })
	if s := dumpStatus(c, xdsclient.ClusterTypeURL, "a"); s != xdsclient.StatusAcked {
		t.Errorf("status after heartbeat = %v, want acked", s)
	}
}

// Item 7 (A47): names in an authority with its own xds_servers are fetched
// from those servers, while old-style names stay on the top-level servers.
func TestClient_FederationPerAuthorityServers(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		ctx := testCtx(t)
		top := meshtest.RunControlPlane(t)
		fed := meshtest.RunControlPlane(t)
		const lname = "xdstp://fed.example/envoy.config.listener.v3.Listener/rmq"
		if err := top.Update(ctx, mustResources(t, baseSpec())); err != nil {
			t.Fatal(err)
		}
		fedSpec := baseSpec()
		fedSpec.Listener = lname
		if err := fed.Update(ctx, mustResources(t, fedSpec)); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(`{
		  "xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "insecure"}]}],
		  "authorities": {"fed.example": {"xds_servers": [{"server_uri": %q, "channel_creds": [{"type": "insecure"}]}]}},
		  "rmqmesh": {"protocol": %q}
		}`, top.Addr(), fed.Addr(), protocol)
		c := newClient(t, []byte(cfg))
		lw := newRecorder[*xdsclient.ListenerUpdate]()
		defer c.WatchListener(lname, lw)()
		if got := lw.waitUpdate(t, "federated listener", nil); got.Name != lname {
			t.Errorf("listener name = %q", got.Name)
		}
		cw := newRecorder[*xdsclient.ClusterUpdate]()
		defer c.WatchCluster("brokers", cw)()
		cw.waitUpdate(t, "cluster from the top-level server", nil)
		for _, r := range top.Requests() {
			if slices.Contains(r.ResourceNames, lname) {
				t.Errorf("top-level server was asked for %q: %+v", lname, r)
			}
		}
		for _, r := range fed.Requests() {
			if slices.Contains(r.ResourceNames, "brokers") {
				t.Errorf("authority server was asked for an old-style name: %+v", r)
			}
		}
	})
}

// Item 8: the does-not-exist timer stops when the stream breaks and starts
// again only when the request is actually sent.
func TestClient_WatchExpiryFollowsStream(t *testing.T) {
	ctx := testCtx(t)
	const timeout = 200 * time.Millisecond
	fn := newFakeNet()
	srv := fn.server("s")
	c := newClient(t, fakeBootstrap("s"), xdsclient.WithTransport(fn), xdsclient.WithResourceTimeout(timeout))
	w := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("a", w)()
	st := srv.nextStream(t, ctx)
	st.sotwRequest(t, ctx)

	// The stream breaks at once and the server stays down for several
	// timeouts. The sleeps give a wrongly running timer time to fire; they
	// wait for nothing.
	srv.setDown(true)
	st.close(errors.New("connection reset"))
	time.Sleep(4 * timeout)
	notFound := func(e event[*xdsclient.ClusterUpdate]) bool {
		return e.resErr != nil && xdsclient.KindOf(e.resErr) == xdsclient.KindResourceNotFound
	}
	w.noEvent(t, "does-not-exist while disconnected", notFound)
	if s := dumpStatus(c, xdsclient.ClusterTypeURL, "a"); s != xdsclient.StatusRequested {
		t.Errorf("status while disconnected = %v, want requested", s)
	}

	// The server is back but the request is stuck in the send path.
	release := srv.holdSends()
	defer release()
	srv.setDown(false)
	st2 := srv.nextStream(t, ctx)
	time.Sleep(4 * timeout)
	w.noEvent(t, "does-not-exist before the request was sent", notFound)
	release()
	if req := st2.sotwRequest(t, ctx); !slices.Equal(req.GetResourceNames(), []string{"a"}) {
		t.Fatalf("request = %v", req)
	}
	w.waitResourceError(t, xdsclient.KindResourceNotFound)
}

// Item 9: "does not exist" survives a reconnect; a new watcher learns it at
// once instead of waiting for the timeout again.
func TestClient_DoesNotExistSurvivesReconnect(t *testing.T) {
	ctx := testCtx(t)
	fn := newFakeNet()
	srv := fn.server("s")
	c := newClient(t, fakeBootstrap("s"), xdsclient.WithTransport(fn), xdsclient.WithResourceTimeout(200*time.Millisecond))
	wa := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("missing", wa)()
	st := srv.nextStream(t, ctx)
	st.sotwRequest(t, ctx)
	wa.waitResourceError(t, xdsclient.KindResourceNotFound)
	wb := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("b", wb)()
	st.sotwRequest(t, ctx)
	st.send(t, sotwClusters(t, "1", "n1", "b"))
	wb.waitUpdate(t, "cluster b", nil)
	st.sotwRequest(t, ctx) // ACK

	st.close(io.EOF)
	st2 := srv.nextStream(t, ctx)
	if req := st2.sotwRequest(t, ctx); len(req.GetResourceNames()) != 2 {
		t.Fatalf("re-subscription = %v", req)
	}
	if s := dumpStatus(c, xdsclient.ClusterTypeURL, "missing"); s != xdsclient.StatusDoesNotExist {
		t.Errorf("status after reconnect = %v, want does-not-exist", s)
	}
	wa2 := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("missing", wa2)()
	wb2 := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("b", wb2)()
	wb2.waitUpdate(t, "cached b (barrier)", nil)
	select {
	case e := <-wa2.ch:
		if xdsclient.KindOf(e.resErr) != xdsclient.KindResourceNotFound {
			t.Errorf("new watcher got %+v, want does-not-exist", e)
		}
	default:
		t.Error("a new watcher of a resource known not to exist got nothing at once")
	}
}

// Item 10: a stream that ends after a response (a server closing streams
// at max age) is not an error for watchers (A57).
func TestClient_CleanStreamEndIsSilent(t *testing.T) {
	ctx := testCtx(t)
	fn := newFakeNet()
	srv := fn.server("s")
	c := newClient(t, fakeBootstrap("s"), xdsclient.WithTransport(fn), xdsclient.WithResourceTimeout(time.Hour))
	w := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("a", w)()
	st := srv.nextStream(t, ctx)
	st.sotwRequest(t, ctx)
	st.send(t, sotwClusters(t, "1", "n1", "a"))
	w.waitUpdate(t, "cluster", nil)
	st.sotwRequest(t, ctx) // ACK
	st.close(io.EOF)
	st2 := srv.nextStream(t, ctx)
	if req := st2.sotwRequest(t, ctx); req.GetVersionInfo() != "1" {
		t.Errorf("re-subscription version = %q, want the last accepted %q", req.GetVersionInfo(), "1")
	}
	barrier := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("a", barrier)()
	barrier.waitUpdate(t, "cached cluster", nil)
	w.noEvent(t, "error after a clean stream end", func(e event[*xdsclient.ClusterUpdate]) bool { return e.ambErr != nil || e.resErr != nil })
}

// Item 11: a name under an authority the bootstrap does not know fails at
// once and is never requested.
func TestClient_UnknownAuthorityFailsAtOnce(t *testing.T) {
	ctx := testCtx(t)
	fn := newFakeNet()
	c := newClient(t, fakeBootstrap("s"), xdsclient.WithTransport(fn), xdsclient.WithResourceTimeout(time.Hour))
	const name = "xdstp://unknown.example/envoy.config.listener.v3.Listener/rmq"
	lw := newRecorder[*xdsclient.ListenerUpdate]()
	defer c.WatchListener(name, lw)()
	err := lw.waitResourceError(t, xdsclient.KindResourceNotFound)
	if !strings.Contains(err.Error(), `"unknown.example"`) {
		t.Errorf("error = %v, want it to name the authority", err)
	}
	defer c.WatchCluster("ok", newRecorder[*xdsclient.ClusterUpdate]())()
	st := fn.server("s").nextStream(t, ctx)
	if req := st.sotwRequest(t, ctx); req.GetTypeUrl() != xdsclient.ClusterTypeURL {
		t.Fatalf("first request = %v, want the cluster only", req)
	}
	st.noRequest(t)
	if got := c.CacheSize(xdsclient.ListenerTypeURL); got != 0 {
		t.Errorf("listener cache size = %d, want 0", got)
	}
}
