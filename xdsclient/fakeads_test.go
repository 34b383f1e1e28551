package xdsclient_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
	"github.com/rmqmesh/rmqmesh/xdsclient/transport"
)

// fakeNet is a transport whose management servers, one per server_uri, the
// test drives message by message: it sees every stream the client opens and
// every request it sends, and decides every response and every failure.
type fakeNet struct {
	mu      sync.Mutex
	servers map[string]*fakeServer
}

func newFakeNet() *fakeNet { return &fakeNet{servers: map[string]*fakeServer{}} }

// server returns the fake server for uri, creating it.
func (n *fakeNet) server(uri string) *fakeServer {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.servers[uri]
	if s == nil {
		s = &fakeServer{uri: uri, streams: make(chan *fakeStreamConn, 100)}
		n.servers[uri] = s
	}
	return s
}

func (n *fakeNet) Build(sc *bootstrap.ServerConfig) (transport.Transport, error) {
	return &fakeTransport{s: n.server(sc.ServerURI)}, nil
}

// fakeServer is one management server of a fakeNet.
type fakeServer struct {
	uri     string
	streams chan *fakeStreamConn

	mu       sync.Mutex
	down     bool          // NewStream fails
	sendGate chan struct{} // when set, Send on new streams blocks until it is closed
}

// setDown makes new streams fail (true) or succeed (false).
func (s *fakeServer) setDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// holdSends makes the requests of new streams block until the returned
// func is called.
func (s *fakeServer) holdSends() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.sendGate = gate
	s.mu.Unlock()
	return sync.OnceFunc(func() {
		s.mu.Lock()
		s.sendGate = nil
		s.mu.Unlock()
		close(gate)
	})
}

// nextStream waits for the client to open a stream.
func (s *fakeServer) nextStream(t *testing.T, ctx context.Context) *fakeStreamConn {
	t.Helper()
	select {
	case st := <-s.streams:
		return st
	case <-ctx.Done():
		t.Fatalf("timed out waiting for a stream to %q", s.uri)
		return nil
	}
}

type fakeTransport struct{ s *fakeServer }

func (t *fakeTransport) Close() error { return nil }

func (t *fakeTransport) NewStream(ctx context.Context, method string) (transport.Stream, error) {
	t.s.mu.Lock()
	down, gate := t.s.down, t.s.sendGate
	t.s.mu.Unlock()
	if down {
		return nil, fmt.Errorf("fake server %q is down", t.s.uri)
	}
	st := &fakeStreamConn{
		ctx: ctx, method: method, gate: gate,
		reqs: make(chan []byte, 1000), resps: make(chan []byte, 1000), end: make(chan error, 1),
	}
	t.s.streams <- st
	return st, nil
}

// fakeStreamConn is one ADS stream, seen from the server side by the test.
type fakeStreamConn struct {
	ctx    context.Context
	method string
	gate   chan struct{}
	reqs   chan []byte
	resps  chan []byte
	end    chan error
}

func (c *fakeStreamConn) Send(m []byte) error {
	if c.gate != nil {
		select {
		case <-c.gate:
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	}
	select {
	case c.reqs <- m:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	}
}

func (c *fakeStreamConn) Recv() ([]byte, error) {
	select {
	case m := <-c.resps:
		return m, nil
	case err := <-c.end:
		return nil, err
	case <-c.ctx.Done():
		return nil, errors.New("stream canceled")
	}
}

// close ends the stream from the server side with err (io.EOF for a clean
// end).
func (c *fakeStreamConn) close(err error) { c.end <- err }

// sotwRequest waits for the next SotW request on the stream.
func (c *fakeStreamConn) sotwRequest(t *testing.T, ctx context.Context) *discoveryv3.DiscoveryRequest {
	t.Helper()
	req := &discoveryv3.DiscoveryRequest{}
	c.request(t, ctx, req)
	return req
}

// deltaRequest waits for the next delta request on the stream.
func (c *fakeStreamConn) deltaRequest(t *testing.T, ctx context.Context) *discoveryv3.DeltaDiscoveryRequest {
	t.Helper()
	req := &discoveryv3.DeltaDiscoveryRequest{}
	c.request(t, ctx, req)
	return req
}

func (c *fakeStreamConn) request(t *testing.T, ctx context.Context, m proto.Message) {
	t.Helper()
	select {
	case b := <-c.reqs:
		if err := proto.Unmarshal(b, m); err != nil {
			t.Fatalf("cannot decode request: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("timed out waiting for a request")
	}
}

// noRequest fails if a request is pending on the stream.
func (c *fakeStreamConn) noRequest(t *testing.T) {
	t.Helper()
	select {
	case b := <-c.reqs:
		req := &discoveryv3.DiscoveryRequest{}
		_ = proto.Unmarshal(b, req)
		t.Errorf("unexpected request %v", req)
	default:
	}
}

func (c *fakeStreamConn) send(t *testing.T, m proto.Message) {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c.resps <- b
}

// fakeBootstrap is a bootstrap for fake servers named uris, in order.
func fakeBootstrap(uris ...string) []byte {
	s := `{"xds_servers":[`
	for i, u := range uris {
		if i > 0 {
			s += ","
		}
		s += `{"server_uri":"` + u + `","channel_creds":[{"type":"insecure"}]}`
	}
	return []byte(s + `]}`)
}
