package transport_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// failoverPair is two writable brokers behind one router and relay, broker-a
// answering with a handler and broker-b echoing.
type failoverPair struct {
	a, b   *fakeBroker
	router *staticRouter
	relay  *transport.Relay
	events *eventLog
}

// eventLog records the relay's hook calls.
type eventLog struct {
	mu        sync.Mutex
	failovers []transport.FailoverEvent
	ejections []transport.EjectionEvent
	limits    []transport.LimitEvent
}

func (l *eventLog) hooks() transport.Hooks {
	return transport.Hooks{
		OnFailover: func(e transport.FailoverEvent) { l.mu.Lock(); l.failovers = append(l.failovers, e); l.mu.Unlock() },
		OnEjection: func(e transport.EjectionEvent) { l.mu.Lock(); l.ejections = append(l.ejections, e); l.mu.Unlock() },
		OnLimit:    func(e transport.LimitEvent) { l.mu.Lock(); l.limits = append(l.limits, e); l.mu.Unlock() },
	}
}

func (l *eventLog) snapshot() ([]transport.FailoverEvent, []transport.EjectionEvent, []transport.LimitEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]transport.FailoverEvent(nil), l.failovers...), append([]transport.EjectionEvent(nil), l.ejections...), append([]transport.LimitEvent(nil), l.limits...)
}

func newFailoverPair(t *testing.T, policy *transport.ClusterPolicy, handleA func(c *brokerConn, req *remoting.Command) *remoting.Command, opts ...transport.Option) *failoverPair {
	t.Helper()
	fp := &failoverPair{events: &eventLog{}}
	fp.a = startBroker(t, "broker-a", handleA)
	fp.b = startBroker(t, "broker-b", nil)
	fp.router = newStaticRouter()
	fp.router.set("broker-a", 0, member{addr: fp.a.addr(), readable: true, writable: true})
	fp.router.set("broker-b", 0, member{addr: fp.b.addr(), readable: true, writable: true})
	fp.router.setPolicy(policy)
	fp.relay = startRelay(t, fp.router, append([]transport.Option{transport.WithHooks(fp.events.hooks())}, opts...)...)
	return fp
}

func answerSends(code int32, remark string) func(c *brokerConn, req *remoting.Command) *remoting.Command {
	return func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code == remoting.CodeSendMessage {
			return remoting.NewResponse(req, code, remark)
		}
		return echo(req)
	}
}

// The answers Apache RocketMQ 4.9.8 gives a send it did not store are tried on
// another broker inside the request; answers that may mean "stored", or that
// every broker would give, reach the client as they are.
func TestRelay_SendFailoverByAnswer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		code     int32
		remark   string
		failover bool
	}{
		{"system busy", remoting.SystemBusy, "[REJECTREQUEST]system busy, start flow control for a while", true},
		{"service not available", remoting.ServiceNotAvailable, "service not available now. It may be caused by one of the following reasons: the broker's disk is full [CL:  0.91 CQ:  0.91 INDEX:  0.91], messages are put to the slave, message store has been shut down, etc.", true},
		{"no permission", remoting.NoPermission, "the broker[10.0.0.1] sending message is forbidden", true},
		{"topic not exist", remoting.TopicNotExist, "topic[orders] not exist, apply first please!", true},
		{"page cache busy", remoting.SystemError, "[PC_SYNCHRONIZED]broker busy, start flow control for a while", true},
		{"mapped file", remoting.SystemError, "create mapped file failed, server is busy or broken.", true},
		{"go away", 1500, "please go away", true},
		{"unknown error", remoting.SystemError, "UNKNOWN_ERROR", false},
		{"flush disk timeout", remoting.FlushDiskTimeout, "", false},
		{"slave not available", remoting.SlaveNotAvailable, "", false},
		{"message illegal", remoting.MessageIllegal, "the message is illegal, maybe msg body or properties length not matched.", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp := newFailoverPair(t, nil, answerSends(tc.code, tc.remark))
			w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
			send := sendRequest("orders")
			resp := w.roundTrip(send)
			got := fp.b.requests(remoting.CodeSendMessage)
			if !tc.failover {
				if resp.Code != tc.code || len(got) != 0 {
					t.Fatalf("answer code %d (%q), %d sends on broker-b; want broker-a's %d as is, nothing on broker-b", resp.Code, resp.Remark, len(got), tc.code)
				}
				return
			}
			if resp.Code != remoting.Success || len(got) != 1 {
				t.Fatalf("answer code %d (%q), %d sends on broker-b; want success from broker-b", resp.Code, resp.Remark, len(got))
			}
			if q := got[0].ExtFields["queueId"]; q != "-1" {
				t.Errorf("the send moved to broker-b with queueId %q, want -1 (broker-b picks its own queue)", q)
			}
			if got[0].ExtFields["bname"] != "broker-b" {
				t.Errorf("moved send has bname %q, want broker-b", got[0].ExtFields["bname"])
			}
			if got[0].Opaque >= 0 {
				t.Errorf("the second try went out under the client's opaque %d, want one of the relay's", got[0].Opaque)
			}
			failovers, _, _ := fp.events.snapshot()
			if len(failovers) != 1 || failovers[0].From.Broker != "broker-a" || failovers[0].To.Broker != "broker-b" || failovers[0].Attempt != 1 {
				t.Errorf("failover events %+v, want one from broker-a to broker-b after try 1", failovers)
			}
		})
	}
}

// A broker whose connection breaks with the send unanswered (killed, reset)
// costs the client nothing: the send goes to another broker.
func TestRelay_SendFailoverOnReset(t *testing.T) {
	fp := newFailoverPair(t, nil, func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code == remoting.CodeSendMessage {
			if tc, ok := c.nc.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.nc.Close()
			return nil
		}
		return echo(req)
	})
	w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
	for i := 0; i < 5; i++ {
		send := sendRequest("orders")
		if resp := w.roundTrip(send); resp.Code != remoting.Success {
			t.Fatalf("send %d: code %d (%q), want success from broker-b", i, resp.Code, resp.Remark)
		}
	}
	if n := len(fp.b.requests(remoting.CodeSendMessage)); n != 5 {
		t.Errorf("broker-b stored %d sends, want 5", n)
	}
}

// A send unanswered within the per-try timeout goes to another broker; the
// first broker's late answer is dropped, and the client gets one answer.
func TestRelay_SendFailoverOnPerTryTimeout(t *testing.T) {
	release := make(chan struct{})
	var held atomic.Int32
	fp := newFailoverPair(t, &transport.ClusterPolicy{Name: "c", Failover: transport.Failover{PerTryTimeout: 50 * time.Millisecond}},
		func(c *brokerConn, req *remoting.Command) *remoting.Command {
			if req.Code != remoting.CodeSendMessage {
				return echo(req)
			}
			held.Add(1)
			go func() {
				<-release
				c.send(echo(req)) // the late answer
			}()
			return nil
		})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
	send := sendRequest("orders")
	resp := w.roundTrip(send)
	if resp.Code != remoting.Success || len(fp.b.requests(remoting.CodeSendMessage)) != 1 {
		t.Fatalf("code %d (%q), want success from broker-b after broker-a's per-try timeout", resp.Code, resp.Remark)
	}
	close(release)
	// The late answer must not reach the client: the next answer it reads is
	// the next request's.
	ping := request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders"}, nil)
	if resp := w.roundTrip(ping); resp.Opaque != ping.Opaque {
		t.Fatalf("read an answer with opaque %d, want only the next request's %d", resp.Opaque, ping.Opaque)
	}
	if held.Load() != 1 {
		t.Errorf("broker-a received %d sends, want 1", held.Load())
	}
}

// With nowhere else to go, a slow send stays in flight past its per-try
// timeout: a late answer beats no answer.
func TestRelay_SlowSendWithoutAlternativeStaysInFlight(t *testing.T) {
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code != remoting.CodeSendMessage {
			return echo(req)
		}
		time.Sleep(200 * time.Millisecond) // several per-try timeouts
		return echo(req)
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), writable: true})
	router.setPolicy(&transport.ClusterPolicy{Name: "c", Failover: transport.Failover{PerTryTimeout: 20 * time.Millisecond}})
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
		t.Fatalf("code %d (%q), want broker-a's late success", resp.Code, resp.Remark)
	}
	if n := len(a.requests(remoting.CodeSendMessage)); n != 1 {
		t.Errorf("broker-a received %d sends, want 1", n)
	}
}

// A send with a sharding key is retried on its own broker only, unless the
// cluster lets keyed sends move.
func TestRelay_KeyedSendStaysOnItsBroker(t *testing.T) {
	keyed := func() *remoting.Command {
		return request(remoting.CodeSendMessage, map[string]string{"topic": "orders", "queueId": "2", "producerGroup": "pg", "sysFlag": "0",
			"properties": "UNIQ_KEY\x01abc\x02__SHARDINGKEY\x01order-42\x02"}, []byte("payload"))
	}
	for _, move := range []bool{false, true} {
		name := "stays"
		if move {
			name = "moves when allowed"
		}
		t.Run(name, func(t *testing.T) {
			var sends atomic.Int32
			fp := newFailoverPair(t, &transport.ClusterPolicy{Name: "c", Failover: transport.Failover{MoveKeyedSends: move}},
				func(c *brokerConn, req *remoting.Command) *remoting.Command {
					if req.Code == remoting.CodeSendMessage && sends.Add(1) == 1 {
						return remoting.NewResponse(req, remoting.SystemBusy, "[OVERLOAD]system busy, start flow control for a while")
					}
					return echo(req)
				})
			w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
			if resp := w.roundTrip(keyed()); resp.Code != remoting.Success {
				t.Fatalf("code %d (%q), want success", resp.Code, resp.Remark)
			}
			onA, onB := fp.a.requests(remoting.CodeSendMessage), fp.b.requests(remoting.CodeSendMessage)
			switch {
			case !move && (len(onA) != 2 || len(onB) != 0):
				t.Errorf("sends: %d on broker-a, %d on broker-b; want both tries on broker-a", len(onA), len(onB))
			case !move && onA[1].ExtFields["queueId"] != "2":
				t.Errorf("the retry on broker-a has queueId %q, want the client's 2", onA[1].ExtFields["queueId"])
			case move && (len(onA) != 1 || len(onB) != 1):
				t.Errorf("sends: %d on broker-a, %d on broker-b; want the retry on broker-b", len(onA), len(onB))
			}
		})
	}
}

// When every try fails the client gets the last broker's answer, with a
// remark naming each try; the tries stop at max_attempts.
func TestRelay_SendFailoverGivesUp(t *testing.T) {
	busy := answerSends(remoting.SystemBusy, "[OVERLOAD]system busy, start flow control for a while")
	a := startBroker(t, "broker-a", busy)
	b := startBroker(t, "broker-b", busy)
	c := startBroker(t, "broker-c", busy)
	router := newStaticRouter()
	for _, fb := range []*fakeBroker{a, b, c} {
		router.set(fb.name, 0, member{addr: fb.addr(), writable: true})
	}
	router.setPolicy(&transport.ClusterPolicy{Name: "c", Failover: transport.Failover{MaxAttempts: 2}})
	events := &eventLog{}
	r := startRelay(t, router, transport.WithHooks(events.hooks()))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	resp := w.roundTrip(sendRequest("orders"))
	if resp.Code != remoting.SystemBusy {
		t.Fatalf("code %d (%q), want the last broker's SYSTEM_BUSY", resp.Code, resp.Remark)
	}
	for _, want := range []string{"2 tries", a.addr(), b.addr(), "system busy"} {
		if !strings.Contains(resp.Remark, want) {
			t.Errorf("remark %q does not mention %q", resp.Remark, want)
		}
	}
	if n := len(c.requests(remoting.CodeSendMessage)); n != 0 {
		t.Errorf("broker-c got %d sends beyond max_attempts 2", n)
	}
	failovers, _, _ := events.snapshot()
	if len(failovers) != 2 || failovers[1].To.Addr != "" {
		t.Errorf("failover events %+v, want a move then a give-up", failovers)
	}
}

// With failover disabled, a broker's "not stored" answer reaches the client.
func TestRelay_SendFailoverDisabled(t *testing.T) {
	fp := newFailoverPair(t, &transport.ClusterPolicy{Name: "c", Failover: transport.Failover{Disabled: true}},
		answerSends(remoting.SystemBusy, "[OVERLOAD]system busy"))
	w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
	if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.SystemBusy {
		t.Fatalf("code %d (%q), want SYSTEM_BUSY as broker-a answered", resp.Code, resp.Remark)
	}
	if n := len(fp.b.requests(remoting.CodeSendMessage)); n != 0 {
		t.Errorf("broker-b got %d sends with failover disabled", n)
	}
}

// Many sends in flight on one connection while their broker breaks: every one
// is answered once, under its own opaque.
func TestRelay_SendFailoverPipelined(t *testing.T) {
	var seen atomic.Int32
	const n = 64
	fp := newFailoverPair(t, nil, func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code != remoting.CodeSendMessage {
			return echo(req)
		}
		if seen.Add(1) == n/2 {
			if tc, ok := c.nc.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.nc.Close()
			return nil
		}
		return echo(req)
	})
	w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
	want := map[int32]bool{}
	var reqs []*remoting.Command
	for i := 0; i < n; i++ {
		req := sendRequest("orders")
		want[req.Opaque] = true
		reqs = append(reqs, req)
	}
	w.send(reqs...)
	for i := 0; i < n; i++ {
		resp := w.read()
		if !want[resp.Opaque] {
			t.Fatalf("answer %d has opaque %d: not an unanswered request of the client", i, resp.Opaque)
		}
		delete(want, resp.Opaque)
		if resp.Code != remoting.Success {
			t.Errorf("request %d: code %d (%q)", resp.Opaque, resp.Code, resp.Remark)
		}
	}
}

func outlierPolicy(consecutive uint32, ejection time.Duration) *transport.ClusterPolicy {
	return &transport.ClusterPolicy{Name: "c", Hosts: 2, Outlier: &transport.OutlierDetection{
		Interval: time.Second, BaseEjectionTime: ejection, MaxEjectionTime: time.Minute, MaxEjectionPercent: 50,
		Consecutive5xx: consecutive, EnforcingConsecutive5xx: 100, ConsecutiveGatewayFailure: consecutive,
		ConsecutiveLocalOriginFailure: consecutive, EnforcingConsecutiveLocalOriginFailure: 100,
	}}
}

// A broker that refuses connections is ejected after the configured number of
// consecutive failures: no send tries it while it is ejected, its state shows
// in Clusters, and it returns when the ejection ends.
func TestRelay_OutlierEjectsRefusingBroker(t *testing.T) {
	b := startBroker(t, "broker-b", nil)
	dead := deadListener(t)
	var dials sync.Map
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		v, _ := dials.LoadOrStore(addr, new(atomic.Int32))
		v.(*atomic.Int32).Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	dialsTo := func(addr string) int32 {
		v, ok := dials.Load(addr)
		if !ok {
			return 0
		}
		return v.(*atomic.Int32).Load()
	}
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: dead, writable: true})
	router.set("broker-b", 0, member{addr: b.addr(), writable: true})
	const ejection = 300 * time.Millisecond
	router.setPolicy(outlierPolicy(2, ejection))
	events := &eventLog{}
	r := startRelay(t, router, transport.WithDialer(dialer), transport.WithHooks(events.hooks()))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	// Each send tries broker-a first (the client's choice) until it is
	// ejected; the relay's own backoff after a refused dial spaces them.
	deadline := time.Now().Add(meshtest.DefaultTimeout)
	for {
		if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
			t.Fatalf("send: code %d (%q)", resp.Code, resp.Remark)
		}
		if _, ej, _ := events.snapshot(); len(ej) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker-a not ejected after %d refused dials", dialsTo(dead))
		}
		time.Sleep(120 * time.Millisecond) // past the relay's first dial backoff
	}
	_, ej, _ := events.snapshot()
	if !ej[0].Ejected || ej[0].Addr != dead || ej[0].Reason != "consecutive gateway failures" && ej[0].Reason != "consecutive errors" {
		t.Errorf("ejection event %+v", ej[0])
	}
	st := r.Clusters()
	if len(st) != 1 || len(st[0].Hosts) == 0 {
		t.Fatalf("Clusters() = %+v, want cluster c with broker-a's state", st)
	}
	var host transport.HostStat
	for _, h := range st[0].Hosts {
		if h.Addr == dead {
			host = h
		}
	}
	if !host.Ejected || host.Ejections != 1 || host.EjectedUntil.IsZero() {
		t.Errorf("broker-a's state %+v, want ejected once with an end time", host)
	}
	// While ejected, sends do not even try broker-a.
	before := dialsTo(dead)
	for i := 0; i < 5; i++ {
		if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
			t.Fatalf("send while ejected: code %d (%q)", resp.Code, resp.Remark)
		}
	}
	if after := dialsTo(dead); after != before {
		t.Errorf("broker-a was dialled %d times while ejected", after-before)
	}
	// After the ejection it is tried again.
	time.Sleep(ejection)
	meshtest.WaitFor(t, "broker-a to return from ejection", func() bool {
		w.roundTrip(sendRequest("orders"))
		_, ej, _ := events.snapshot()
		return len(ej) >= 2 && !ej[1].Ejected
	})
}

// max_ejection_percent keeps the last hosts in service unless
// always_eject_one_host says otherwise.
func TestRelay_OutlierMaxEjectionPercent(t *testing.T) {
	for _, always := range []bool{false, true} {
		t.Run(map[bool]string{false: "bounded", true: "always eject one"}[always], func(t *testing.T) {
			policy := outlierPolicy(1, time.Minute)
			policy.Outlier.MaxEjectionPercent = 10
			policy.Outlier.AlwaysEjectOneHost = always
			fp := newFailoverPair(t, policy, answerSends(remoting.SystemBusy, "[OVERLOAD]system busy"))
			w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
			w.roundTrip(sendRequest("orders"))
			_, ej, _ := fp.events.snapshot()
			if got := len(ej) == 1; got != always {
				t.Errorf("ejections %+v with 10%% of 2 hosts and always_eject_one_host %v", ej, always)
			}
		})
	}
}

// A pull whose broker is ejected and has no other member fails fast with a
// remark saying so; with a readable replica it goes there.
//
// SYSTEM_ERROR answers to anything but sends do not count against a broker:
// RocketMQ gives them for an application's conditions.
func TestRelay_PullToEjectedBroker(t *testing.T) {
	fp := newFailoverPair(t, outlierPolicy(1, time.Minute), func(c *brokerConn, req *remoting.Command) *remoting.Command {
		return remoting.NewResponse(req, remoting.ServiceNotAvailable, "service not available now")
	})
	w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
	pull := func() *remoting.Command {
		return request(remoting.CodePullMessage, map[string]string{"topic": "orders", "queueId": "0", "consumerGroup": "g"}, nil)
	}
	w.roundTrip(pull()) // a SERVICE_NOT_AVAILABLE ejects broker-a (consecutive_5xx 1)
	resp := w.roundTrip(pull())
	if resp.Code != remoting.ServiceNotAvailable || !strings.Contains(resp.Remark, "ejected") {
		t.Fatalf("pull of an ejected broker: code %d (%q), want SERVICE_NOT_AVAILABLE saying it is ejected", resp.Code, resp.Remark)
	}
	if n := len(fp.a.requests(remoting.CodePullMessage)); n != 1 {
		t.Errorf("broker-a got %d pulls, want only the one before its ejection", n)
	}
	replica := startBroker(t, "broker-a-replica", nil)
	fp.router.set("broker-a", 1, member{addr: replica.addr(), readable: true})
	if resp := w.roundTrip(pull()); resp.Code != remoting.Success {
		t.Fatalf("pull with a replica up: code %d (%q)", resp.Code, resp.Remark)
	}
	if n := len(replica.requests(remoting.CodePullMessage)); n != 1 {
		t.Errorf("the replica got %d pulls, want 1", n)
	}
}

// Circuit breakers: requests over max_requests are refused with SYSTEM_BUSY
// naming the cluster and the limit.
func TestRelay_MaxRequests(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code == remoting.CodePullMessage {
			go func() {
				<-hold
				c.send(echo(req))
			}()
			return nil
		}
		return echo(req)
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	router.setPolicy(&transport.ClusterPolicy{Name: "orders-cluster", Limits: transport.Limits{MaxRequests: 2}})
	events := &eventLog{}
	r := startRelay(t, router, transport.WithHooks(events.hooks()))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	pull := func() *remoting.Command {
		return request(remoting.CodePullMessage, map[string]string{"topic": "orders", "queueId": "0"}, nil)
	}
	w.send(pull(), pull())
	waitRequests(t, a, remoting.CodePullMessage, 2)
	resp := w.roundTrip(sendRequest("orders"))
	if resp.Code != remoting.SystemBusy || !strings.Contains(resp.Remark, `"orders-cluster"`) || !strings.Contains(resp.Remark, "max_requests = 2") {
		t.Fatalf("third request: code %d (%q), want SYSTEM_BUSY naming the cluster and max_requests", resp.Code, resp.Remark)
	}
	if st := r.Clusters(); len(st) != 1 || st[0].Requests != 2 {
		t.Errorf("Clusters() = %+v, want 2 requests in flight", st)
	}
	if _, _, lim := events.snapshot(); len(lim) != 1 || lim[0].Limit != "max_requests" || lim[0].Cluster != "orders-cluster" {
		t.Errorf("limit events %+v", lim)
	}
}

// connect_timeout bounds the relay's connection attempt to a broker.
func TestRelay_ConnectTimeoutFromPolicy(t *testing.T) {
	var got atomic.Int64
	dialer := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dl, ok := ctx.Deadline(); ok {
			got.Store(int64(time.Until(dl)))
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: "127.0.0.1:9", readable: true})
	router.setPolicy(&transport.ClusterPolicy{Name: "c", ConnectTimeout: 150 * time.Millisecond})
	r := startRelay(t, router, transport.WithDialer(dialer), transport.WithDialTimeout(time.Hour))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	resp := w.roundTrip(request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders"}, nil))
	if resp.Code != remoting.ServiceNotAvailable {
		t.Fatalf("code %d (%q), want SERVICE_NOT_AVAILABLE after the connect timeout", resp.Code, resp.Remark)
	}
	if d := time.Duration(got.Load()); d <= 0 || d > 150*time.Millisecond {
		t.Errorf("the dial's deadline was %v away, want the cluster's 150ms connect timeout", d)
	}
}

// A request for a master's state goes to a readable replica while the master
// cannot be reached; a commit the replica took is kept and delivered to the
// master once it is back.
func TestRelay_ReplicaTakesOffsetsWhileMasterIsAway(t *testing.T) {
	var mu sync.Mutex
	masterOffsets := map[string]string{}
	master := func(c *brokerConn, req *remoting.Command) *remoting.Command {
		switch req.Code {
		case remoting.CodeUpdateConsumerOffset:
			mu.Lock()
			masterOffsets[req.ExtFields["queueId"]] = req.ExtFields["commitOffset"]
			mu.Unlock()
		case remoting.CodeQueryConsumerOffset:
			resp := remoting.NewResponse(req, remoting.Success, "")
			mu.Lock()
			resp.ExtFields = map[string]string{"offset": masterOffsets[req.ExtFields["queueId"]]}
			mu.Unlock()
			if resp.ExtFields["offset"] == "" {
				resp.ExtFields["offset"] = "0"
			}
			return resp
		}
		return echo(req)
	}
	replica := startBroker(t, "replica", nil)
	dead := deadListener(t)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: dead, readable: true, writable: true})
	router.set("broker-a", 1, member{addr: replica.addr(), readable: true})
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	commit := request(remoting.CodeUpdateConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "orders", "queueId": "3", "commitOffset": "42"}, nil)
	if resp := w.roundTrip(commit); resp.Code != remoting.Success {
		t.Fatalf("commit with the master away: code %d (%q)", resp.Code, resp.Remark)
	}
	if n := len(replica.requests(remoting.CodeUpdateConsumerOffset)); n != 1 {
		t.Fatalf("the replica took %d commits, want 1", n)
	}
	if r.KeptCommits() != 1 {
		t.Fatalf("KeptCommits() = %d, want the replica's commit kept for the master", r.KeptCommits())
	}
	if resp := w.roundTrip(request(remoting.CodeQueryConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "orders", "queueId": "3"}, nil)); resp.Code != remoting.Success {
		t.Fatalf("offset query with the master away: code %d (%q)", resp.Code, resp.Remark)
	}
	// The master comes back at its address.
	ln, err := net.Listen("tcp", dead)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", dead, err)
	}
	back := startBrokerOn(t, "broker-a", ln, master)
	meshtest.WaitFor(t, "the kept commit to reach the master", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return masterOffsets["3"] == "42"
	})
	meshtest.WaitFor(t, "the kept commit to be forgotten", func() bool { return r.KeptCommits() == 0 })
	if n := len(back.requests(remoting.CodeQueryConsumerOffset)); n == 0 {
		t.Errorf("the relay delivered the commit without asking the master for its offset first")
	}
}

// deadListener returns a loopback address nothing listens on.
func deadListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// SYSTEM_ERROR answers to requests other than sends are RocketMQ's way of
// saying "no consumer for this group" and the like: they eject nobody.
func TestRelay_OutlierIgnoresApplicationErrors(t *testing.T) {
	fp := newFailoverPair(t, outlierPolicy(1, time.Minute), func(c *brokerConn, req *remoting.Command) *remoting.Command {
		return remoting.NewResponse(req, remoting.SystemError, "no consumer for this group, g")
	})
	w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
	for i := 0; i < 3; i++ {
		w.roundTrip(request(remoting.CodeGetConsumerListByGroup, map[string]string{"consumerGroup": "g"}, nil))
	}
	if _, ej, _ := fp.events.snapshot(); len(ej) != 0 {
		t.Errorf("ejections %+v for SYSTEM_ERROR answers to a consumer list query", ej)
	}
}

// An interceptor sees a failed-over send as attempts: the first to broker-a,
// the second to broker-b with broker-a's answer as the reason, and one
// response, broker-b's.
func TestRelay_SendFailoverAttemptsReachInterceptors(t *testing.T) {
	type attempt struct {
		n    int
		to   string
		prev string
	}
	var mu sync.Mutex
	var attempts []attempt
	var answers []int32
	link := func(ctx context.Context, c *transport.Request, next transport.Invoker) error {
		c.OnAttempt(func(n int, t transport.Target, prev error) {
			a := attempt{n: n, to: t.Broker}
			if prev != nil {
				a.prev = prev.Error()
			}
			mu.Lock()
			attempts = append(attempts, a)
			mu.Unlock()
		})
		c.OnResponse(func(resp *remoting.FrameView) {
			mu.Lock()
			answers = append(answers, resp.Code())
			mu.Unlock()
		})
		return next(ctx, c)
	}
	fp := newFailoverPair(t, nil, answerSends(remoting.SystemBusy, "[REJECTREQUEST]system busy"), transport.WithInterceptors(link))
	w := dialWire(t, endpointOf(t, fp.relay, "broker-a", 0))
	if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
		t.Fatalf("send: code %d (%q), want success from broker-b", resp.Code, resp.Remark)
	}
	meshtest.WaitFor(t, "the response hook", func() bool { mu.Lock(); defer mu.Unlock(); return len(answers) > 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 2 || attempts[0] != (attempt{n: 1, to: "broker-a"}) || attempts[1].n != 2 || attempts[1].to != "broker-b" || !strings.Contains(attempts[1].prev, "SYSTEM_BUSY") {
		t.Errorf("attempts %+v, want 1 to broker-a, then 2 to broker-b after its SYSTEM_BUSY", attempts)
	}
	if len(answers) != 1 || answers[0] != remoting.Success {
		t.Errorf("the response hook saw %v, want broker-b's success once", answers)
	}
}
