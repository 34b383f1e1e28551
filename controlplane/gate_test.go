package controlplane_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/rmqmesh/rmqmesh/controlplane"
	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// stallNS is a real nameserver whose answers the test holds back or fails:
// broker queries (106) while holdBrokers is in force, a topic's route
// query (105) while the topic is held or failing. A held request waits
// for its release, not for its context: the test decides when the
// nameserver answers, however loaded the machine.
type stallNS struct {
	discovery.NameServer
	mu      sync.Mutex
	brokers chan struct{}            // non-nil: 106 waits until it is closed
	topics  map[string]chan struct{} // 105 of a topic waits until closed
	fail    map[string]bool          // 105 of a topic fails
	done    chan struct{}            // closed at cleanup: nothing waits any more
}

func newStallNS(c *meshtest.Cluster) *stallNS {
	return &stallNS{NameServer: discovery.Remote(c.NameServerAddr()), topics: map[string]chan struct{}{}, fail: map[string]bool{}, done: make(chan struct{})}
}

// startStalled starts a server discovering through ns. Whatever ns still
// holds is let go before the server closes, which waits for discovery.
func startStalled(t testing.TB, ns *stallNS, opts ...controlplane.Option) *controlplane.Server {
	t.Helper()
	s := startServer(t, append([]controlplane.Option{controlplane.WithNameServerClients(ns),
		controlplane.WithPolicyFile(writePolicy(t, issueDoc(t)))}, opts...)...)
	t.Cleanup(func() { close(ns.done) })
	return s
}

func (n *stallNS) holdBrokers() { n.mu.Lock(); n.brokers = make(chan struct{}); n.mu.Unlock() }
func (n *stallNS) releaseBrokers() {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.brokers)
	n.brokers = nil
}

func (n *stallNS) holdTopic(topic string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.topics[topic] = make(chan struct{})
}

func (n *stallNS) releaseTopic(topic string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	close(n.topics[topic])
	delete(n.topics, topic)
}

func (n *stallNS) failTopic(topic string, fail bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fail[topic] = fail
}

func (n *stallNS) wait(ch chan struct{}) {
	if ch != nil {
		select {
		case <-ch:
		case <-n.done:
		}
	}
}

func (n *stallNS) ClusterInfo(ctx context.Context) (*remoting.ClusterInfo, error) {
	n.mu.Lock()
	ch := n.brokers
	n.mu.Unlock()
	n.wait(ch)
	return n.NameServer.ClusterInfo(ctx)
}

func (n *stallNS) TopicRoute(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
	n.mu.Lock()
	ch, fail := n.topics[topic], n.fail[topic]
	n.mu.Unlock()
	if fail {
		return nil, errors.New("stall: nameserver failing " + topic)
	}
	n.wait(ch)
	return n.NameServer.TopicRoute(ctx, topic)
}

// adsResponse is one response on a raw ADS stream, SotW or delta.
type adsResponse struct {
	typeURL   string
	resources map[string]proto.Message
	removed   []string
	version   string // SotW
	nonce     string
}

// adsConn is a raw ADS stream: the test sees every response exactly as
// the server sends it.
type adsConn struct {
	t     testing.TB
	delta bool
	sotw  discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	dstr  discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	resps chan adsResponse
	node  *corev3.Node
}

func dialADS(t testing.TB, addr, protocol, node string) *adsConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &adsConn{t: t, delta: protocol == "delta", resps: make(chan adsResponse, 64), node: &corev3.Node{Id: node}}
	ads := discoveryv3.NewAggregatedDiscoveryServiceClient(conn)
	var recv func() (adsResponse, error)
	if a.delta {
		if a.dstr, err = ads.DeltaAggregatedResources(ctx); err != nil {
			t.Fatal(err)
		}
		recv = func() (adsResponse, error) {
			m, err := a.dstr.Recv()
			if err != nil {
				return adsResponse{}, err
			}
			r := adsResponse{typeURL: m.GetTypeUrl(), resources: map[string]proto.Message{}, removed: m.GetRemovedResources(), nonce: m.GetNonce()}
			for _, res := range m.GetResources() {
				r.resources[res.GetName()] = decodeAny(t, res.GetResource())
			}
			return r, nil
		}
	} else {
		if a.sotw, err = ads.StreamAggregatedResources(ctx); err != nil {
			t.Fatal(err)
		}
		recv = func() (adsResponse, error) {
			m, err := a.sotw.Recv()
			if err != nil {
				return adsResponse{}, err
			}
			r := adsResponse{typeURL: m.GetTypeUrl(), resources: map[string]proto.Message{}, version: m.GetVersionInfo(), nonce: m.GetNonce()}
			for _, res := range m.GetResources() {
				msg := decodeAny(t, res)
				r.resources[resourceName(msg)] = msg
			}
			return r, nil
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			r, err := recv()
			if err != nil {
				return
			}
			a.resps <- r
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		conn.Close()
	})
	return a
}

func decodeAny(t testing.TB, a *anypb.Any) proto.Message {
	m, err := a.UnmarshalNew()
	if err != nil {
		t.Errorf("undecodable resource %s: %v", a.GetTypeUrl(), err)
	}
	return m
}

func resourceName(m proto.Message) string {
	switch r := m.(type) {
	case *listenerv3.Listener:
		return r.GetName()
	case *clusterv3.Cluster:
		return r.GetName()
	case *endpointv3.ClusterLoadAssignment:
		return r.GetClusterName()
	case *rocketmqv3.RouteConfiguration:
		return r.GetName()
	}
	return ""
}

// subscribe sends the first request of a type: names, and a version the
// client claims to hold them at ("" for none), as a client does that
// reconnects.
func (a *adsConn) subscribe(typeURL string, names []string, version string) {
	a.t.Helper()
	var err error
	if a.delta {
		req := &discoveryv3.DeltaDiscoveryRequest{Node: a.node, TypeUrl: typeURL, ResourceNamesSubscribe: names}
		if version != "" {
			req.InitialResourceVersions = map[string]string{}
			for _, n := range names {
				req.InitialResourceVersions[n] = version
			}
		}
		err = a.dstr.Send(req)
	} else {
		err = a.sotw.Send(&discoveryv3.DiscoveryRequest{Node: a.node, TypeUrl: typeURL, ResourceNames: names, VersionInfo: version})
	}
	if err != nil {
		a.t.Fatal(err)
	}
}

// next returns the next response.
func (a *adsConn) next(what string) adsResponse {
	a.t.Helper()
	select {
	case r := <-a.resps:
		return r
	case <-time.After(meshtest.DefaultTimeout):
		a.t.Fatalf("timed out waiting for %s", what)
	}
	return adsResponse{}
}

// until returns the responses up to and including the first of typeURL.
func (a *adsConn) until(typeURL string) []adsResponse {
	a.t.Helper()
	var out []adsResponse
	for {
		r := a.next("a " + typeLabel(typeURL) + " response")
		out = append(out, r)
		if r.typeURL == typeURL {
			return out
		}
	}
}

// received returns what has arrived so far without waiting.
func (a *adsConn) received() []adsResponse {
	var out []adsResponse
	for {
		select {
		case r := <-a.resps:
			out = append(out, r)
		default:
			return out
		}
	}
}

func typeLabel(typeURL string) string {
	return typeURL[strings.LastIndex(typeURL, ".")+1:]
}

// clientTypes returns what the server shows of node's stream, by type.
func clientTypes(s *controlplane.Server, node string) map[string]controlplane.ClientTypeInfo {
	for _, ci := range s.Clients() {
		if ci.Node == node {
			return ci.Types
		}
	}
	return nil
}

// waitHeld waits until each type of node's stream is held (true) or not.
func waitHeld(t testing.TB, s *controlplane.Server, node string, held bool, types ...string) {
	t.Helper()
	meshtest.WaitFor(t, "the answers to be held or not", func() bool {
		ct := clientTypes(s, node)
		for _, typ := range types {
			if ti, ok := ct[typ]; !ok || ti.Held != held {
				return false
			}
		}
		return true
	})
}

func healthStatus(t testing.TB, s *controlplane.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.AdminAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const shape = "default/r4w4p6" // orders' cluster: 4 queues on every broker

// routeCluster returns the cluster of the first route of the route
// configuration name in r.
func routeCluster(r adsResponse, name string) string {
	rc, _ := r.resources[name].(*rocketmqv3.RouteConfiguration)
	if len(rc.GetRoutes()) == 0 {
		return ""
	}
	return rc.GetRoutes()[0].GetRoute().GetCluster()
}

// Until some nameserver has answered, a replica answers nobody, however
// long that takes (the hold timeout does not run yet) and says so in
// /healthz; then each first answer is complete: the route with the
// topic's cluster, the cluster itself, its endpoints. Nothing is said to be
// removed.
func TestServer_HoldsAnswersUntilFirstDiscovery(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 1), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("orders", 4))
			ns := newStallNS(c)
			ns.holdBrokers()
			s := startStalled(t, ns, controlplane.WithAdminAddress("127.0.0.1:0"), controlplane.WithHoldTimeout(time.Minute))
			a := dialADS(t, s.Addr(), protocol, "reconnecting")
			// A client coming back from another replica, holding everything.
			a.subscribe(resource.ListenerType, []string{"rocketmq"}, "elsewhere")
			a.subscribe(resource.RouteConfigType, []string{"rocketmq/orders"}, "elsewhere")
			a.subscribe(resource.ClusterType, []string{shape}, "elsewhere")
			a.subscribe(resource.EndpointType, []string{shape}, "elsewhere")
			waitHeld(t, s, "reconnecting", true, "listener", "route", "cluster", "endpoint")
			if got := a.received(); len(got) != 0 {
				t.Fatalf("answered before any nameserver did: %+v", got)
			}
			if code, body := healthStatus(t, s, "/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no nameserver has answered yet") || !strings.Contains(body, `"held_answers": 4`) {
				t.Errorf("/healthz before discovery: %d\n%s", code, body)
			}
			if code, _ := healthStatus(t, s, "/livez"); code != http.StatusOK {
				t.Errorf("/livez before discovery: %d", code)
			}

			ns.releaseBrokers()
			first := map[string]adsResponse{}
			for len(first) < 4 {
				r := a.next("the first answers")
				if len(r.removed) > 0 {
					t.Errorf("%s response removes %q", typeLabel(r.typeURL), r.removed)
				}
				if _, ok := first[r.typeURL]; !ok {
					first[r.typeURL] = r
				}
			}
			if _, ok := first[resource.ListenerType].resources["rocketmq"]; !ok {
				t.Errorf("listener answer: %v", first[resource.ListenerType].resources)
			}
			if got := routeCluster(first[resource.RouteConfigType], "rocketmq/orders"); got != shape {
				t.Errorf("first route of orders goes to %q, want %q", got, shape)
			}
			for _, typ := range []string{resource.ClusterType, resource.EndpointType} {
				if _, ok := first[typ].resources[shape]; !ok || len(first[typ].resources) != 1 {
					t.Errorf("first %s answer has %v, want %s only", typeLabel(typ), slices.Collect(maps.Keys(first[typ].resources)), shape)
				}
			}
			if cla, _ := first[resource.EndpointType].resources[shape].(*endpointv3.ClusterLoadAssignment); len(cla.GetEndpoints()) == 0 {
				t.Errorf("first endpoints of %s: %v", shape, cla)
			}
			if code, body := healthStatus(t, s, "/healthz"); code != http.StatusOK {
				t.Errorf("/healthz after discovery: %d\n%s", code, body)
			}
		})
	}
}

// The hold timeout starts when the replica is ready: a client that waited
// a long time for the first discovery still gets its complete first answer.
func TestServer_HoldTimeoutStartsAtReadiness(t *testing.T) {
	c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithTopic("orders", 4))
	ns := newStallNS(c)
	ns.holdBrokers()
	s := startStalled(t, ns, controlplane.WithHoldTimeout(20*time.Millisecond))
	a := dialADS(t, s.Addr(), "delta", "early")
	a.subscribe(resource.ListenerType, []string{"rocketmq"}, "")
	waitHeld(t, s, "early", true, "listener")
	time.Sleep(200 * time.Millisecond) // ten hold timeouts: none applies yet
	if got := a.received(); len(got) != 0 || !clientTypes(s, "early")["listener"].Held {
		t.Fatalf("the hold timed out before discovery answered: %+v", got)
	}
	ns.releaseBrokers()
	if r := a.until(resource.ListenerType); len(r[0].resources) != 1 {
		t.Errorf("listener answer %+v", r)
	}
}

// A topic a client newly subscribes to is answered once its queue data is
// in: not before, and never with a placeholder; the cluster the route
// names is answered with it, never "absent" first.
func TestServer_HoldsNewTopicUntilFetched(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 1), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("orders", 4))
			ns := newStallNS(c)
			ns.holdTopic("orders")
			s := startStalled(t, ns, controlplane.WithHoldTimeout(time.Minute))
			meshtest.WaitFor(t, "readiness", func() bool { return s.Health().OK })
			a := dialADS(t, s.Addr(), protocol, "new")
			a.subscribe(resource.ListenerType, []string{"rocketmq"}, "")
			a.subscribe(resource.RouteConfigType, []string{"rocketmq/orders"}, "")
			a.subscribe(resource.ClusterType, []string{shape}, "")
			a.subscribe(resource.EndpointType, []string{shape}, "")
			waitHeld(t, s, "new", true, "route", "cluster", "endpoint")
			waitHeld(t, s, "new", false, "listener")
			for _, r := range a.received() {
				if r.typeURL != resource.ListenerType {
					t.Errorf("answered %s while orders was being fetched: %v", typeLabel(r.typeURL), slices.Collect(maps.Keys(r.resources)))
				}
			}
			if h := s.Health(); !h.OK || h.HeldAnswers != 3 {
				t.Errorf("health while orders is fetched: ok %v, %d held, want ready with 3", h.OK, h.HeldAnswers)
			}

			ns.releaseTopic("orders")
			first := map[string]adsResponse{}
			for len(first) < 3 {
				r := a.next("the answers about orders")
				if len(r.removed) > 0 {
					t.Errorf("%s response removes %q", typeLabel(r.typeURL), r.removed)
				}
				if _, ok := first[r.typeURL]; !ok && r.typeURL != resource.ListenerType {
					first[r.typeURL] = r
				}
			}
			if got := routeCluster(first[resource.RouteConfigType], "rocketmq/orders"); got != shape {
				t.Errorf("first route of orders goes to %q, want %q", got, shape)
			}
			for _, typ := range []string{resource.ClusterType, resource.EndpointType} {
				if _, ok := first[typ].resources[shape]; !ok {
					t.Errorf("first %s answer has %v, want %s", typeLabel(typ), slices.Collect(maps.Keys(first[typ].resources)), shape)
				}
			}
		})
	}
}

// When the nameservers cannot say anything of a topic, the hold ends
// without an answer: no placeholder, and a client that holds the route
// from elsewhere is not told it is gone. The answer comes once they can.
func TestServer_FailedTopicFetchIsNotARemoval(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("orders", 4))
			ns := newStallNS(c)
			ns.failTopic("orders", true)
			s := startStalled(t, ns, controlplane.WithHoldTimeout(time.Minute))
			meshtest.WaitFor(t, "readiness", func() bool { return s.Health().OK })
			a := dialADS(t, s.Addr(), protocol, "holder")
			a.subscribe(resource.RouteConfigType, []string{"rocketmq/orders"}, "elsewhere")
			// Released by the failure, well before the minute's timeout.
			waitHeld(t, s, "holder", false, "route")
			// The ADS stream is ordered: a route answer sent on release
			// arrives before the answer to a later request.
			a.subscribe(resource.ListenerType, []string{"rocketmq"}, "")
			for _, r := range a.until(resource.ListenerType) {
				if r.typeURL == resource.RouteConfigType {
					t.Errorf("answered the route of a topic no nameserver answered about: %v, removed %q", slices.Collect(maps.Keys(r.resources)), r.removed)
				}
			}

			ns.failTopic("orders", false)
			r := a.until(resource.RouteConfigType)
			got := r[len(r)-1]
			if len(got.removed) > 0 || routeCluster(got, "rocketmq/orders") != "default/r4w4p6" {
				t.Errorf("route once the nameserver answers: %v, removed %q", slices.Collect(maps.Keys(got.resources)), got.removed)
			}
		})
	}
}

// A fetch that takes longer than the hold timeout lets the answer go: the
// client is not left waiting, and gets nothing made up.
func TestServer_HoldTimesOut(t *testing.T) {
	c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithTopic("orders", 4))
	ns := newStallNS(c)
	ns.holdTopic("orders")
	s := startStalled(t, ns, controlplane.WithHoldTimeout(50*time.Millisecond))
	meshtest.WaitFor(t, "readiness", func() bool { return s.Health().OK })
	a := dialADS(t, s.Addr(), "delta", "patient")
	a.subscribe(resource.RouteConfigType, []string{"rocketmq/orders"}, "elsewhere")
	waitHeld(t, s, "patient", false, "route")
	a.subscribe(resource.ListenerType, []string{"rocketmq"}, "")
	for _, r := range a.until(resource.ListenerType) {
		if r.typeURL == resource.RouteConfigType {
			t.Errorf("answered a route still being fetched: %v, removed %q", slices.Collect(maps.Keys(r.resources)), r.removed)
		}
	}
	if h := s.Health(); !h.OK || h.HeldAnswers != 0 {
		t.Errorf("health after the timeout: ok %v, %d held", h.OK, h.HeldAnswers)
	}
	ns.releaseTopic("orders")
	r := a.until(resource.RouteConfigType)
	if got := r[len(r)-1]; routeCluster(got, "rocketmq/orders") != "default/r4w4p6" {
		t.Errorf("route once fetched: %v", slices.Collect(maps.Keys(got.resources)))
	}
}

// lbProxy stands for a load balancer in front of replicas: it forwards
// each connection to the current target and, on switchTo, breaks them all
// so clients reconnect to the new one.
type lbProxy struct {
	l      net.Listener
	mu     sync.Mutex
	target string
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newLBProxy(t testing.TB, target string) *lbProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &lbProxy{l: l, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		l.Close()
		p.breakAll()
		p.wg.Wait()
	})
	return p
}

func (p *lbProxy) Addr() string { return p.l.Addr().String() }

func (p *lbProxy) accept() {
	for {
		down, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		up, err := net.Dial("tcp", target)
		if err != nil {
			down.Close()
			continue
		}
		p.mu.Lock()
		p.conns[down], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		p.wg.Go(func() { pipe(up, down) })
		p.wg.Go(func() { pipe(down, up) })
	}
}

func (p *lbProxy) breakAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// switchTo sends new connections to target and breaks the current ones.
func (p *lbProxy) switchTo(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
	p.breakAll()
}

// A client behind a load balancer moves to a replica that has run all
// along but held nothing of the client's topic: it is told nothing new,
// not that its topic's cluster is gone for a moment.
func TestServer_ClientMovesToWarmReplica(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 1), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("orders", 4))
			path := writePolicy(t, issueDoc(t))
			r1 := startServer(t, controlplane.WithNameservers(c.NameServerAddr()), controlplane.WithPolicyFile(path))
			r2 := startServer(t, controlplane.WithNameservers(c.NameServerAddr()), controlplane.WithPolicyFile(path))
			lb := newLBProxy(t, r1.Addr())

			w := watchOrders(t, xdsClient(t, protocol, lb.Addr()))
			meshtest.WaitFor(t, "replica 2 to be ready and hold no topic", func() bool {
				return r2.Health().OK && len(r2.Resources().RouteConfigs) == 0
			})
			before := w.state()
			lb.switchTo(r2.Addr())
			checkMovedQuietly(t, r2, protocol, w, before)
		})
	}
}
