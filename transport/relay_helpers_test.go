package transport_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// fakeBroker is a remoting server standing in for a broker endpoint: it records
// every frame it reads and answers requests through handle (nil: success with
// the request's extFields echoed, and its body).
type fakeBroker struct {
	t      testing.TB
	name   string
	ln     net.Listener
	handle func(c *brokerConn, req *remoting.Command) *remoting.Command

	mu    sync.Mutex
	reqs  []*remoting.Command
	resps []*remoting.Command // answers to requests the broker sent
	conns []*brokerConn
	wg    sync.WaitGroup
	seen  chan struct{} // signalled on every frame
}

type brokerConn struct {
	b   *fakeBroker
	nc  net.Conn
	wmu sync.Mutex
}

func startBroker(t testing.TB, name string, handle func(c *brokerConn, req *remoting.Command) *remoting.Command) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startBrokerOn(t, name, ln, handle)
}

// startBrokerOn is startBroker on a given listener.
func startBrokerOn(t testing.TB, name string, ln net.Listener, handle func(c *brokerConn, req *remoting.Command) *remoting.Command) *fakeBroker {
	t.Helper()
	b := &fakeBroker{t: t, name: name, ln: ln, handle: handle, seen: make(chan struct{}, 1)}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.stop)
	return b
}

func (b *fakeBroker) addr() string { return b.ln.Addr().String() }

func (b *fakeBroker) accept() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			return
		}
		c := &brokerConn{b: b, nc: nc}
		b.mu.Lock()
		b.conns = append(b.conns, c)
		b.mu.Unlock()
		b.wg.Add(1)
		go c.read()
	}
}

func (c *brokerConn) read() {
	defer c.b.wg.Done()
	defer c.nc.Close()
	for {
		cmd, err := remoting.ReadCommand(c.nc, 0)
		if err != nil {
			return
		}
		c.b.mu.Lock()
		if cmd.IsResponse() {
			c.b.resps = append(c.b.resps, cmd)
		} else {
			c.b.reqs = append(c.b.reqs, cmd)
		}
		c.b.mu.Unlock()
		select {
		case c.b.seen <- struct{}{}:
		default:
		}
		if cmd.IsResponse() {
			continue
		}
		var resp *remoting.Command
		if c.b.handle != nil {
			resp = c.b.handle(c, cmd)
		} else {
			resp = echo(cmd)
		}
		if resp != nil {
			c.send(resp)
		}
	}
}

// echo answers success, with the request's extFields and body, and names the
// broker that answered.
func echo(req *remoting.Command) *remoting.Command {
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.ExtFields = map[string]string{}
	for k, v := range req.ExtFields {
		resp.ExtFields[k] = v
	}
	resp.Body = req.Body
	return resp
}

func (c *brokerConn) send(cmd *remoting.Command) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = remoting.WriteCommand(c.nc, cmd)
}

// requests returns the requests with the given code the broker read (every
// request for code < 0).
func (b *fakeBroker) requests(code int32) []*remoting.Command {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*remoting.Command
	for _, r := range b.reqs {
		if code < 0 || r.Code == code {
			out = append(out, r)
		}
	}
	return out
}

func (b *fakeBroker) responses() []*remoting.Command {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.resps)
}

func (b *fakeBroker) connections() []*brokerConn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.conns)
}

func (b *fakeBroker) stop() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.nc.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// member is one endpoint of a staticRouter broker.
type member struct {
	addr               string
	readable, writable bool
}

// staticRouter routes from a fixed table it can be told to change, and records
// every query.
type staticRouter struct {
	mu      sync.Mutex
	brokers map[string]map[int64]member
	err     error
	queries []transport.Query
	policy  *transport.ClusterPolicy               // handed out with every target
	tls     map[string]transport.TLSConfigProvider // by broker name
}

// setPolicy makes every target carry p.
func (r *staticRouter) setPolicy(p *transport.ClusterPolicy) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.policy = p
}

// setTLS makes the router's targets of broker carry p.
func (r *staticRouter) setTLS(broker string, p transport.TLSConfigProvider) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tls == nil {
		r.tls = map[string]transport.TLSConfigProvider{}
	}
	r.tls[broker] = p
}

func newStaticRouter() *staticRouter {
	return &staticRouter{brokers: map[string]map[int64]member{}}
}

func (r *staticRouter) set(broker string, id int64, m member) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.brokers[broker] == nil {
		r.brokers[broker] = map[int64]member{}
	}
	r.brokers[broker][id] = m
}

func (r *staticRouter) remove(broker string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.brokers, broker)
}

func (r *staticRouter) setErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *staticRouter) recorded() []transport.Query {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.queries)
}

func (r *staticRouter) Route(q *transport.Query) (transport.Target, error) {
	t, err := r.route(q)
	if err == nil {
		r.mu.Lock()
		t.TLS = r.tls[t.Broker]
		r.mu.Unlock()
	}
	return t, err
}

func (r *staticRouter) route(q *transport.Query) (transport.Target, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, *q)
	if r.err != nil {
		return transport.Target{}, r.err
	}
	cluster := "test"
	if r.policy != nil {
		cluster = r.policy.Name
	}
	target := func(name string, id int64) (transport.Target, bool) {
		m, ok := r.brokers[name][id]
		if !ok || q.Avoided("", m.addr) {
			return transport.Target{}, false
		}
		return transport.Target{Broker: name, Addr: m.addr, Cluster: cluster, BrokerID: id, Policy: r.policy}, true
	}
	names := make([]string, 0, len(r.brokers))
	for n := range r.brokers {
		names = append(names, n)
	}
	sort.Strings(names)
	switch q.Kind {
	case transport.KindWrite:
		if m := r.brokers[q.Broker][0]; m.writable && !q.Avoided(q.Broker, m.addr) {
			return transport.Target{Broker: q.Broker, Addr: m.addr, Cluster: cluster, Policy: r.policy}, nil
		}
		for _, n := range names {
			if m := r.brokers[n][0]; m.writable && !q.Avoided(n, m.addr) {
				return transport.Target{Broker: n, Addr: m.addr, Cluster: cluster, Policy: r.policy}, nil
			}
		}
		return transport.Target{}, fmt.Errorf("routing: topic %q: cluster %q: no writable broker", q.Topic, cluster)
	case transport.KindRead, transport.KindEndpoint:
		if t, ok := target(q.Broker, q.BrokerID); ok {
			return t, nil
		}
	}
	if t, ok := target(q.Broker, 0); ok {
		return t, nil
	}
	switch q.Kind {
	case transport.KindAnyMaster:
		for _, n := range names {
			if t, ok := target(n, 0); ok && !q.Avoided(n, "") {
				return t, nil
			}
		}
	case transport.KindMasterOrReplica, transport.KindRead:
		for id := int64(1); id < 4; id++ {
			if m, ok := r.brokers[q.Broker][id]; ok && m.readable {
				if t, ok := target(q.Broker, id); ok {
					return t, nil
				}
			}
		}
	}
	return transport.Target{}, fmt.Errorf("broker %q has no master in cluster %q", q.Broker, cluster)
}

func (r *staticRouter) Routed(broker string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.brokers[broker]) > 0
}

func (r *staticRouter) Serves(broker, addr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.brokers[broker] {
		if m.addr == addr {
			return true
		}
	}
	return false
}

func startRelay(t testing.TB, router transport.Router, opts ...transport.Option) *transport.Relay {
	t.Helper()
	r, err := transport.NewRelay(router, opts...)
	if err != nil {
		t.Fatalf("NewRelay: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("relay Close: %v", err)
		}
	})
	return r
}

func endpointOf(t testing.TB, r *transport.Relay, broker string, id int64) string {
	t.Helper()
	addr, err := r.Endpoint(broker, id)
	if err != nil {
		t.Fatalf("Endpoint(%q, %d): %v", broker, id, err)
	}
	return addr
}

// request builds a request with a fresh opaque.
func request(code int32, ext map[string]string, body []byte) *remoting.Command {
	req := remoting.NewRequest(code, ext, body)
	req.Opaque = opaqueSeq.Add(1)
	return req
}

func sendRequest(topic string) *remoting.Command {
	return request(remoting.CodeSendMessage, map[string]string{"topic": topic, "queueId": "3", "producerGroup": "pg", "sysFlag": "0", "properties": "UNIQ_KEY\x01abc\x02"}, []byte("payload"))
}

// readAny reads the next frame, response or request, from the relay.
func (w *wireConn) readAny() *remoting.Command {
	w.t.Helper()
	cmd, err := remoting.ReadCommand(w.c, 0)
	if err != nil {
		w.t.Fatalf("reading from the relay: %v", err)
	}
	return cmd
}

// expectClosed waits for the relay to close the connection.
func (w *wireConn) expectClosed() {
	w.t.Helper()
	for {
		_, err := remoting.ReadCommand(w.c, 0)
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) && !isReset(err) {
			w.t.Fatalf("reading: %v, want the relay to close the connection", err)
		}
		return
	}
}

// waitRequests waits until broker b has read n requests with code.
func waitRequests(t testing.TB, b *fakeBroker, code int32, n int) []*remoting.Command {
	t.Helper()
	deadline := time.After(meshtest.DefaultTimeout)
	for {
		if got := b.requests(code); len(got) >= n {
			return got
		}
		select {
		case <-b.seen:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("broker %s read %d requests with code %d, want %d", b.name, len(b.requests(code)), code, n)
		}
	}
}

// deadBrokerA routes writable broker-a to an address where nothing listens and
// writable broker-b to a live broker, which it returns.
func deadBrokerA(t *testing.T) (b *fakeBroker, deadAddr string, router *staticRouter) {
	t.Helper()
	b = startBroker(t, "broker-b", nil)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr = dead.Addr().String()
	dead.Close()
	router = newStaticRouter()
	router.set("broker-a", 0, member{addr: deadAddr, writable: true})
	router.set("broker-b", 0, member{addr: b.addr(), writable: true})
	return b, deadAddr, router
}
