package xdsclient_test

import (
	"context"
	"errors"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/rmqmesh/rmqmesh/internal/testutil"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
	"github.com/rmqmesh/rmqmesh/xdsclient/transport"
)

// TestClient_WatchFromCallback proves callbacks run without the client's
// lock: a callback may watch, cancel its own watch and cancel others.
func TestClient_WatchFromCallback(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.RunControlPlane(t)
		ctx := testCtx(t)
		if err := cp.Update(ctx, mustResources(t, baseSpec())); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)))

		cw := newRecorder[*xdsclient.ClusterUpdate]()
		cancelCluster := make(chan func(), 1)
		cancelListener := make(chan func(), 1)
		listenerSeen := make(chan struct{})
		cancelListener <- c.WatchListener("rmq-prod", xdsclient.WatcherFuncs[*xdsclient.ListenerUpdate]{
			OnResourceChanged: func(u *xdsclient.ListenerUpdate) {
				select {
				case <-listenerSeen:
					return
				default:
				}
				close(listenerSeen)
				cancelCluster <- c.WatchCluster(u.RouteConfig.GetRoutes()[0].GetRoute().GetCluster(), cw)
				cancel := <-cancelListener
				cancel() // its own watch, from its own callback
				cancel()
			},
		})
		cw.waitUpdate(t, "cluster watched from a listener callback", nil)
		if got := c.CacheSize(xdsclient.ListenerTypeURL); got != 0 {
			t.Errorf("listener cache size after cancel from callback = %d, want 0", got)
		}

		// A callback that cancels another watch and re-watches its own name.
		ew := newRecorder[*xdsclient.EndpointsUpdate]()
		done := make(chan struct{})
		var once bool
		defer c.WatchCluster("brokers", xdsclient.WatcherFuncs[*xdsclient.ClusterUpdate]{
			OnResourceChanged: func(u *xdsclient.ClusterUpdate) {
				if once {
					return
				}
				once = true
				(<-cancelCluster)()
				cancel := c.WatchCluster(u.Name, xdsclient.WatcherFuncs[*xdsclient.ClusterUpdate]{})
				cancel()
				c.WatchEndpoints(u.EDSServiceName, ew)
				close(done)
			},
		})()
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("callback calling Watch/cancel did not return (deadlock?)")
		}
		ew.waitUpdate(t, "endpoints watched from a cluster callback", nil)
		if got := c.CacheSize(xdsclient.ClusterTypeURL); got != 1 {
			t.Errorf("cluster cache size = %d, want 1 (one watcher left)", got)
		}
	})
}

func TestClient_InvalidWatch(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	c := newClient(t, cp.Bootstrap())
	for _, name := range []string{"", "*"} {
		w := newRecorder[*xdsclient.ClusterUpdate]()
		cancel := c.WatchCluster(name, w)
		w.waitResourceError(t, xdsclient.KindResourceNotFound)
		cancel()
		cancel()
		if got := c.CacheSize(xdsclient.ClusterTypeURL); got != 0 {
			t.Errorf("WatchCluster(%q) subscribed: cache size %d", name, got)
		}
	}
	// A nil watcher does not crash the callback goroutine.
	c.WatchListener("rmq-prod", nil)()

	if _, err := xdsclient.New(&bootstrap.Config{XDSServers: []*bootstrap.ServerConfig{nil}}); err == nil {
		t.Error("New() with a nil server entry succeeded")
	}
	if _, err := xdsclient.New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// fakeBuilder is a transport whose single stream the test drives.
type fakeBuilder struct {
	sent chan []byte
	recv chan []byte
}

func newFakeBuilder() *fakeBuilder {
	return &fakeBuilder{sent: make(chan []byte, 100), recv: make(chan []byte, 100)}
}

func (b *fakeBuilder) Build(*bootstrap.ServerConfig) (transport.Transport, error) { return b, nil }
func (b *fakeBuilder) Close() error                                               { return nil }
func (b *fakeBuilder) NewStream(ctx context.Context, _ string) (transport.Stream, error) {
	return &fakeStream{ctx: ctx, b: b}, nil
}

type fakeStream struct {
	ctx context.Context
	b   *fakeBuilder
}

func (s *fakeStream) Send(m []byte) error {
	select {
	case s.b.sent <- m:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

func (s *fakeStream) Recv() ([]byte, error) {
	select {
	case m := <-s.b.recv:
		return m, nil
	case <-s.ctx.Done():
		return nil, errors.New("stream closed")
	}
}

func (b *fakeBuilder) nextRequest(t *testing.T, ctx context.Context) *discoveryv3.DiscoveryRequest {
	t.Helper()
	select {
	case m := <-b.sent:
		req := &discoveryv3.DiscoveryRequest{}
		if err := proto.Unmarshal(m, req); err != nil {
			t.Fatal(err)
		}
		if req.GetTypeUrl() == "" {
			t.Fatalf("request without type_url (%d bytes): servers reject it", len(m))
		}
		return req
	case <-ctx.Done():
		t.Fatal("timed out waiting for a request")
		return nil
	}
}

func (b *fakeBuilder) respond(t *testing.T, resp *discoveryv3.DiscoveryResponse) {
	t.Helper()
	m, err := proto.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	b.recv <- m
}

// TestClient_SotWUnnamedNACKKeepsLastGood: a full-state response whose bad
// resource cannot be named must not delete the cached resources it may
// stand for, and an unsolicited type is never ACKed as a wildcard request.
func TestClient_SotWUnnamedNACKKeepsLastGood(t *testing.T) {
	ctx := testCtx(t)
	fb := newFakeBuilder()
	c := newClient(t, []byte(`{"xds_servers":[{"server_uri":"fake","channel_creds":[{"type":"insecure"}]}]}`), xdsclient.WithTransport(fb))
	cw := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("brokers", cw)()
	if req := fb.nextRequest(t, ctx); req.GetTypeUrl() != xdsclient.ClusterTypeURL || len(req.GetResourceNames()) != 1 {
		t.Fatalf("first request = %v", req)
	}
	good := edsCluster("brokers")
	fb.respond(t, &discoveryv3.DiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, VersionInfo: "1", Nonce: "a", Resources: []*anypb.Any{testutil.MustAny(t, good)}})
	cw.waitUpdate(t, "cluster", nil)
	if req := fb.nextRequest(t, ctx); req.GetVersionInfo() != "1" || req.GetResponseNonce() != "a" || req.GetErrorDetail() != nil {
		t.Fatalf("ACK = %v", req)
	}

	// Version 2 holds one resource that cannot even be decoded.
	bad := &anypb.Any{TypeUrl: xdsclient.ClusterTypeURL, Value: []byte{0xff, 0xff}}
	fb.respond(t, &discoveryv3.DiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, VersionInfo: "2", Nonce: "b", Resources: []*anypb.Any{bad}})
	req := fb.nextRequest(t, ctx)
	if req.GetErrorDetail() == nil || req.GetVersionInfo() != "1" || req.GetResponseNonce() != "b" {
		t.Fatalf("NACK = %v, want error detail, version 1, nonce b", req)
	}
	// An unsolicited listener response is ignored, not ACKed with an empty
	// (wildcard) resource list.
	fb.respond(t, &discoveryv3.DiscoveryResponse{TypeUrl: xdsclient.ListenerTypeURL, VersionInfo: "9", Nonce: "c"})
	// A new watcher is a barrier: callbacks run in order, so once it has the
	// cached cluster every earlier callback of cw has run.
	cw2 := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster("brokers", cw2)()
	cw2.waitUpdate(t, "cached cluster after the NACK", nil)
	close(cw.ch)
	for e := range cw.ch {
		if e.resErr != nil {
			t.Errorf("resource error %v: the last good cluster was dropped", e.resErr)
		}
	}
	for _, d := range c.Dump() {
		if d.Name == "brokers" && (d.Status != xdsclient.StatusAcked || d.Version != "1" || d.JSON == nil) {
			t.Errorf("dump = %+v, want the cached version 1", d)
		}
	}
	select {
	case m := <-fb.sent:
		req := &discoveryv3.DiscoveryRequest{}
		err := proto.Unmarshal(m, req)
		t.Errorf("unexpected request %v (%d bytes, %v)", req, len(m), err)
	default:
	}
}
