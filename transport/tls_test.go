package transport_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// testTLS is a TLSConfigProvider verifying the broker by the name
// "broker.test" against roots, presenting cert when set, and counting calls.
type testTLS struct {
	roots *x509.CertPool
	cert  *tls.Certificate
	err   error
	calls atomic.Int32
}

func (p *testTLS) TLSConfig() (*tls.Config, error) {
	p.calls.Add(1)
	if p.err != nil {
		return nil, p.err
	}
	cfg := &tls.Config{RootCAs: p.roots, ServerName: "broker.test", MinVersion: tls.VersionTLS12}
	if p.cert != nil {
		cfg.Certificates = []tls.Certificate{*p.cert}
	}
	return cfg, nil
}

// startTLSBroker is startBroker serving TLS with cfg.
func startTLSBroker(t testing.TB, name string, cfg *tls.Config) *fakeBroker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startBrokerOn(t, name, tls.NewListener(ln, cfg), nil)
}

// tlsState returns the TLS state of the broker's i-th connection after its
// handshake.
func (b *fakeBroker) tlsState(t *testing.T, i int) tls.ConnectionState {
	t.Helper()
	tc, ok := b.connections()[i].nc.(*tls.Conn)
	if !ok {
		t.Fatalf("broker %s: connection %d is not TLS", b.name, i)
	}
	return tc.ConnectionState()
}

// Issue 16 item 1: the relay speaks TLS to a broker whose target carries a
// provider, presenting the provider's client certificate, and asks the
// provider once per connection, not per request.
func TestRelay_TLSUpstream(t *testing.T) {
	ca := meshtest.NewCA(t, "root")
	server := meshtest.ServerTLS(ca.Issue(t, meshtest.LeafSpec{DNSNames: []string{"broker.test"}}), ca)
	client := ca.Issue(t, meshtest.LeafSpec{CommonName: "relay"})
	a := startTLSBroker(t, "broker-a", server)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	p := &testTLS{roots: ca.Pool(), cert: &client.Certificate}
	router.setTLS("broker-a", p)
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	for range 3 {
		if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
			t.Fatalf("send over TLS: code %d (%q)", resp.Code, resp.Remark)
		}
	}
	if n := len(a.connections()); n != 1 {
		t.Fatalf("broker saw %d connections, want 1", n)
	}
	st := a.tlsState(t, 0)
	if len(st.PeerCertificates) == 0 || st.PeerCertificates[0].SerialNumber.Cmp(client.Serial) != 0 {
		t.Errorf("broker saw client certificates %v, want serial %v", st.PeerCertificates, client.Serial)
	}
	if n := p.calls.Load(); n != 1 {
		t.Errorf("provider asked %d times for one connection", n)
	}
}

// Issue 16 item 1: a broker whose certificate does not verify is not used:
// a send goes to another writable broker, and a request only it can take
// is answered with an error naming the cluster, the endpoint and the reason.
func TestRelay_TLSBadCertificateIsNotUsed(t *testing.T) {
	ca, rogue := meshtest.NewCA(t, "root"), meshtest.NewCA(t, "rogue")
	bad := startTLSBroker(t, "broker-a", meshtest.ServerTLS(rogue.Issue(t, meshtest.LeafSpec{DNSNames: []string{"broker.test"}}), nil))
	good := startTLSBroker(t, "broker-b", meshtest.ServerTLS(ca.Issue(t, meshtest.LeafSpec{DNSNames: []string{"broker.test"}}), nil))
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: bad.addr(), readable: true, writable: true})
	router.set("broker-b", 0, member{addr: good.addr(), readable: true, writable: true})
	p := &testTLS{roots: ca.Pool()}
	router.setTLS("broker-a", p)
	router.setTLS("broker-b", p)
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
		t.Fatalf("send: code %d (%q), want it redirected to broker-b", resp.Code, resp.Remark)
	}
	if n := len(good.requests(remoting.CodeSendMessage)); n != 1 {
		t.Errorf("broker-b stored %d sends, want 1", n)
	}
	if n := len(bad.requests(-1)); n != 0 {
		t.Errorf("the broker whose certificate does not verify read %d requests", n)
	}
	resp := w.roundTrip(request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders", "consumerGroup": "g", "queueId": "0"}, nil))
	if resp.Code != remoting.ServiceNotAvailable {
		t.Fatalf("offset query to the bad broker: code %d (%q), want SERVICE_NOT_AVAILABLE", resp.Code, resp.Remark)
	}
	for _, want := range []string{`cluster "test"`, `broker "broker-a"`, bad.addr(), "x509: certificate signed by unknown authority"} {
		if !strings.Contains(resp.Remark, want) {
			t.Errorf("remark %q does not name %s", resp.Remark, want)
		}
	}
}

// Issue 16 item 1: a provider that has no key material yet fails the
// connection with its reason; nothing is sent in plaintext instead.
func TestRelay_TLSProviderErrorIsNotPlaintext(t *testing.T) {
	a := startBroker(t, "broker-a", nil)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	router.setTLS("broker-a", &testTLS{err: errors.New(`certificate provider instance "default": no such file`)})
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	resp := w.roundTrip(request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders", "consumerGroup": "g", "queueId": "0"}, nil))
	if resp.Code != remoting.ServiceNotAvailable || !strings.Contains(resp.Remark, `certificate provider instance "default": no such file`) {
		t.Fatalf("code %d (%q), want SERVICE_NOT_AVAILABLE naming the provider's reason", resp.Code, resp.Remark)
	}
	if n := len(a.connections()); n != 0 {
		t.Errorf("the relay connected %d times without TLS", n)
	}
}

// Issue 16 item 1: a TLS cluster pointed at a plaintext broker fails the
// handshake, and the other way round the broker never sees a request.
func TestRelay_TLSMismatchWithPlaintextBroker(t *testing.T) {
	ca := meshtest.NewCA(t, "root")
	plain := startBroker(t, "broker-a", func(*brokerConn, *remoting.Command) *remoting.Command { return nil })
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: plain.addr(), readable: true, writable: true})
	router.setTLS("broker-a", &testTLS{roots: ca.Pool()})
	r := startRelay(t, router, transport.WithDialTimeout(meshtest.DefaultTimeout/4))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	resp := w.roundTrip(request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders", "consumerGroup": "g", "queueId": "0"}, nil))
	if resp.Code != remoting.ServiceNotAvailable || !strings.Contains(resp.Remark, `TLS to broker "broker-a"`) {
		t.Fatalf("code %d (%q), want a TLS failure", resp.Code, resp.Remark)
	}

	tlsBroker := startTLSBroker(t, "broker-b", meshtest.ServerTLS(ca.Issue(t, meshtest.LeafSpec{DNSNames: []string{"broker.test"}}), nil))
	router.set("broker-b", 0, member{addr: tlsBroker.addr(), readable: true, writable: true})
	w2 := dialWire(t, endpointOf(t, r, "broker-b", 0))
	resp = w2.roundTrip(request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders", "consumerGroup": "g", "queueId": "0"}, nil))
	if resp.Code != remoting.ServiceNotAvailable {
		t.Fatalf("plaintext to a TLS broker: code %d (%q), want SERVICE_NOT_AVAILABLE", resp.Code, resp.Remark)
	}
	if n := len(tlsBroker.requests(-1)); n != 0 {
		t.Errorf("the TLS broker read %d plaintext requests", n)
	}
}

// Issue 16 item 1: when a cluster's TLS setting changes (the router hands a
// new provider), the connection made with the old one is replaced; a
// rotation behind the same provider keeps it.
func TestRelay_TLSSettingChangeReplacesTheConnection(t *testing.T) {
	ca := meshtest.NewCA(t, "root")
	a := startTLSBroker(t, "broker-a", meshtest.ServerTLS(ca.Issue(t, meshtest.LeafSpec{DNSNames: []string{"broker.test"}}), nil))
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	first := &testTLS{roots: ca.Pool()}
	router.setTLS("broker-a", first)
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	w.roundTrip(sendRequest("orders"))
	w.roundTrip(sendRequest("orders"))
	if n := len(a.connections()); n != 1 {
		t.Fatalf("broker saw %d connections with one setting, want 1", n)
	}
	second := &testTLS{roots: ca.Pool()}
	router.setTLS("broker-a", second)
	if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
		t.Fatalf("send after the change: code %d (%q)", resp.Code, resp.Remark)
	}
	if n := len(a.connections()); n != 2 || second.calls.Load() != 1 {
		t.Fatalf("after the change: %d connections, new provider asked %d times; want 2 and 1", n, second.calls.Load())
	}
}

// Issue 16 item 1: nameserver queries the mesh forwards speak TLS when the
// nameserver cluster asks for it, and fail with a TLSError naming the
// cluster otherwise.
func TestCall_TLS(t *testing.T) {
	ca, rogue := meshtest.NewCA(t, "root"), meshtest.NewCA(t, "rogue")
	ns := startTLSBroker(t, "ns", meshtest.ServerTLS(ca.Issue(t, meshtest.LeafSpec{DNSNames: []string{"broker.test"}}), nil))
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	req := request(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "orders"}, nil)
	resp, err := transport.Call(ctx, ns.addr(), req, transport.CallTLS("nameservers", &testTLS{roots: ca.Pool()}))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("Call over TLS = %v, %v", resp, err)
	}
	_, err = transport.Call(ctx, ns.addr(), req, transport.CallTLS("nameservers", &testTLS{roots: rogue.Pool()}))
	tlsErr, ok := errors.AsType[*transport.TLSError](err)
	if !ok || tlsErr.Cluster != "nameservers" || tlsErr.Addr != ns.addr() || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("Call with the wrong roots = %v, want a TLSError naming the cluster, address and reason", err)
	}
}

// Issues 15 and 16 together: a send a TLS broker did not store fails over
// to another writable broker over TLS too, with that broker's cluster
// settings and the relay's client certificate, even through a custom
// dialer, which supplies the transport but never skips the handshake.
func TestRelay_TLSFailoverKeepsTLS(t *testing.T) {
	ca := meshtest.NewCA(t, "root")
	server := meshtest.ServerTLS(ca.Issue(t, meshtest.LeafSpec{DNSNames: []string{"broker.test"}}), ca)
	client := ca.Issue(t, meshtest.LeafSpec{CommonName: "relay"})
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := startBrokerOn(t, "broker-a", tls.NewListener(lnA, server), answerSends(remoting.SystemBusy, "[REJECTREQUEST]system busy, start flow control for a while"))
	b := startTLSBroker(t, "broker-b", server)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	router.set("broker-b", 0, member{addr: b.addr(), readable: true, writable: true})
	p := &testTLS{roots: ca.Pool(), cert: &client.Certificate}
	router.setTLS("broker-a", p)
	router.setTLS("broker-b", p)
	var dials atomic.Int32
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	events := &eventLog{}
	r := startRelay(t, router, transport.WithDialer(dialer), transport.WithHooks(events.hooks()))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
		t.Fatalf("send: code %d (%q), want success from broker-b after broker-a's SYSTEM_BUSY", resp.Code, resp.Remark)
	}
	if n := len(a.requests(remoting.CodeSendMessage)); n != 1 {
		t.Errorf("broker-a read %d sends, want 1", n)
	}
	if n := len(b.requests(remoting.CodeSendMessage)); n != 1 {
		t.Fatalf("broker-b stored %d sends, want the failed-over one", n)
	}
	for _, br := range []*fakeBroker{a, b} {
		st := br.tlsState(t, 0)
		if len(st.PeerCertificates) == 0 || st.PeerCertificates[0].SerialNumber.Cmp(client.Serial) != 0 {
			t.Errorf("broker %s saw client certificates %v, want the relay's (serial %v)", br.name, st.PeerCertificates, client.Serial)
		}
	}
	if n := p.calls.Load(); n != 2 {
		t.Errorf("provider asked %d times, want once per broker connection (2)", n)
	}
	if n := dials.Load(); n != 2 {
		t.Errorf("custom dialer used %d times, want 2", n)
	}
	failovers, _, _ := events.snapshot()
	if len(failovers) != 1 || failovers[0].To.Broker != "broker-b" || failovers[0].To.TLS != p {
		t.Errorf("failover events %+v, want one to broker-b carrying its TLS provider", failovers)
	}
}

// A send under failover whose next broker fails the TLS handshake is not
// sent there in plaintext: it goes on to a broker that verifies.
func TestRelay_TLSFailoverSkipsABrokerThatDoesNotVerify(t *testing.T) {
	ca, rogue := meshtest.NewCA(t, "root"), meshtest.NewCA(t, "rogue")
	server := meshtest.ServerTLS(ca.Issue(t, meshtest.LeafSpec{DNSNames: []string{"broker.test"}}), nil)
	lnA, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := startBrokerOn(t, "broker-a", tls.NewListener(lnA, server), answerSends(remoting.SystemBusy, "[REJECTREQUEST]system busy, start flow control for a while"))
	bad := startTLSBroker(t, "broker-b", meshtest.ServerTLS(rogue.Issue(t, meshtest.LeafSpec{DNSNames: []string{"broker.test"}}), nil))
	good := startTLSBroker(t, "broker-c", server)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	router.set("broker-b", 0, member{addr: bad.addr(), readable: true, writable: true})
	router.set("broker-c", 0, member{addr: good.addr(), readable: true, writable: true})
	p := &testTLS{roots: ca.Pool()}
	for _, name := range []string{"broker-a", "broker-b", "broker-c"} {
		router.setTLS(name, p)
	}
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
		t.Fatalf("send: code %d (%q), want success from broker-c", resp.Code, resp.Remark)
	}
	if n := len(good.requests(remoting.CodeSendMessage)); n != 1 {
		t.Errorf("broker-c stored %d sends, want 1", n)
	}
	if n := len(bad.requests(-1)); n != 0 {
		t.Errorf("the broker whose certificate does not verify read %d requests", n)
	}
}
