package transport_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

func TestRelay_ForwardsToTheEndpointsBrokerWithBrokerName(t *testing.T) {
	a := startBroker(t, "broker-a", nil)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	for _, st := range []remoting.SerializeType{remoting.SerializeJSON, remoting.SerializeRocketMQ} {
		req := sendRequest("orders")
		req.SerializeType = st
		resp := w.roundTrip(req)
		if resp.Code != remoting.Success {
			t.Fatalf("%v: code %d (%q)", st, resp.Code, resp.Remark)
		}
		if resp.SerializeType != st {
			t.Errorf("answer serialize type %v, want %v", resp.SerializeType, st)
		}
		got := a.requests(remoting.CodeSendMessage)
		last := got[len(got)-1]
		if last.Opaque != req.Opaque {
			t.Errorf("%v: the broker saw opaque %d, the client sent %d", st, last.Opaque, req.Opaque)
		}
		if last.ExtFields["bname"] != "broker-a" {
			t.Errorf("%v: bname %q, want broker-a", st, last.ExtFields["bname"])
		}
		if last.ExtFields["queueId"] != "3" || last.ExtFields["topic"] != "orders" || string(last.Body) != "payload" {
			t.Errorf("%v: the request changed beyond bname: %v %q", st, last.ExtFields, last.Body)
		}
	}
	// SEND_MESSAGE_V2 and batches carry the name as "n", as a RocketMQ 5 proxy
	// reads it; a name the client set is kept.
	v2 := request(remoting.CodeSendBatchMessage, map[string]string{"b": "orders", "e": "1"}, nil)
	w.roundTrip(v2)
	own := request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders", "bname": "client-set"}, nil)
	w.roundTrip(own)
	if got := a.requests(remoting.CodeSendBatchMessage); got[0].ExtFields["n"] != "broker-a" || got[0].ExtFields["bname"] != "" {
		t.Errorf("batch send: n %q bname %q, want n=broker-a only", got[0].ExtFields["n"], got[0].ExtFields["bname"])
	}
	if got := a.requests(remoting.CodeQueryConsumerOffset); got[0].ExtFields["bname"] != "client-set" {
		t.Errorf("a bname the client set became %q", got[0].ExtFields["bname"])
	}
	// The router was asked once per request, with what the request says.
	qs := router.recorded()
	if len(qs) != 4 {
		t.Fatalf("the router was asked %d times for 4 requests", len(qs))
	}
	for i, want := range []transport.Query{
		{Code: remoting.CodeSendMessage, Kind: transport.KindWrite, Topic: "orders", Broker: "broker-a"},
		{Code: remoting.CodeSendMessage, Kind: transport.KindWrite, Topic: "orders", Broker: "broker-a"},
		{Code: remoting.CodeSendBatchMessage, Kind: transport.KindWrite, Topic: "orders", Broker: "broker-a"},
		{Code: remoting.CodeQueryConsumerOffset, Kind: transport.KindMasterOrReplica, Topic: "orders", Broker: "broker-a"},
	} {
		got := qs[i]
		if got.Code != want.Code || got.Kind != want.Kind || got.Topic != want.Topic || got.Broker != want.Broker || got.BrokerID != 0 || got.Avoid != "" {
			t.Errorf("query %d: %+v, want %+v", i, got, want)
		}
	}
}

func TestRelay_WithoutBrokerName(t *testing.T) {
	a := startBroker(t, "broker-a", nil)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), writable: true})
	r := startRelay(t, router, transport.WithoutBrokerName())
	dialWire(t, endpointOf(t, r, "broker-a", 0)).roundTrip(sendRequest("orders"))
	if got := a.requests(remoting.CodeSendMessage)[0]; got.ExtFields["bname"] != "" {
		t.Errorf("bname %q added with WithoutBrokerName", got.ExtFields["bname"])
	}
}

func TestRelay_PipelinedRequestsDoNotWaitForSlowOnes(t *testing.T) {
	release := make(chan struct{})
	var parked sync.WaitGroup
	parked.Add(1)
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code == remoting.CodePullMessage {
			// A long poll: answered only after the send behind it.
			go func() {
				parked.Done()
				<-release
				c.send(echo(req))
			}()
			return nil
		}
		return echo(req)
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	pull := request(remoting.CodePullMessage, map[string]string{"topic": "orders", "queueId": "0"}, nil)
	send := sendRequest("orders")
	w.send(pull, send)
	parked.Wait()
	if got := w.read(); got.Opaque != send.Opaque {
		t.Fatalf("first answer has opaque %d, want the send's %d (the pull is still parked)", got.Opaque, send.Opaque)
	}
	close(release)
	if got := w.read(); got.Opaque != pull.Opaque {
		t.Fatalf("second answer has opaque %d, want the pull's %d", got.Opaque, pull.Opaque)
	}
}

// twoBrokers starts two echoing brokers, both writable, and a relay, and dials
// broker-a's virtual endpoint.
func twoBrokers(t *testing.T) (a, b *fakeBroker, router *staticRouter, w *wireConn) {
	t.Helper()
	a, b = startBroker(t, "broker-a", nil), startBroker(t, "broker-b", nil)
	router = newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), writable: true})
	router.set("broker-b", 0, member{addr: b.addr(), writable: true})
	r := startRelay(t, router)
	return a, b, router, dialWire(t, endpointOf(t, r, "broker-a", 0))
}

func TestRelay_BrokerRequestsGetTheirOwnOpaques(t *testing.T) {
	a, b, router, w := twoBrokers(t)
	// broker-b becomes an upstream of this connection through a redirect.
	router.set("broker-a", 0, member{addr: a.addr(), writable: false})
	w.roundTrip(sendRequest("orders"))
	router.set("broker-a", 0, member{addr: a.addr(), writable: true})
	w.roundTrip(sendRequest("orders"))
	if len(a.connections()) != 1 || len(b.connections()) != 1 {
		t.Fatalf("connections: broker-a %d, broker-b %d; want one each", len(a.connections()), len(b.connections()))
	}
	// Both brokers ask the client something with the same opaque.
	for _, br := range []*fakeBroker{a, b} {
		q := &remoting.Command{Code: remoting.CodeGetConsumerRunningInfo, Language: "JAVA", Version: remoting.VersionV4_9_8, Opaque: 77,
			ExtFields: map[string]string{"asker": br.name}, Style: remoting.StyleJava}
		br.connections()[0].send(q)
	}
	asked := map[int32]string{}
	for range 2 {
		q := w.readAny()
		if q.IsResponse() || q.Code != remoting.CodeGetConsumerRunningInfo {
			t.Fatalf("got code %d response %v, want a broker request", q.Code, q.IsResponse())
		}
		if _, dup := asked[q.Opaque]; dup {
			t.Fatalf("two broker requests reached the client with opaque %d", q.Opaque)
		}
		asked[q.Opaque] = q.ExtFields["asker"]
	}
	for opaque, asker := range asked {
		ans := remoting.NewResponse(&remoting.Command{Opaque: opaque}, remoting.Success, "")
		ans.Language, ans.Version, ans.Style = remoting.LanguageGo, remoting.VersionGoClient, remoting.StyleGo
		ans.Remark = "answer for " + asker
		w.send(ans)
	}
	for _, br := range []*fakeBroker{a, b} {
		meshtest.WaitFor(t, br.name+" to get its answer", func() bool { return len(br.responses()) == 1 })
		got := br.responses()[0]
		if got.Opaque != 77 || got.Remark != "answer for "+br.name {
			t.Errorf("%s got opaque %d remark %q, want 77 and its own answer", br.name, got.Opaque, got.Remark)
		}
	}
}

func TestRelay_HeartbeatReplayedFirstOnNewUpstreamAndFannedOut(t *testing.T) {
	a, b, router, w := twoBrokers(t)
	hb := request(remoting.CodeHeartBeat, nil, []byte(`{"clientID":"c1"}`))
	if resp := w.roundTrip(hb); resp.Code != remoting.Success {
		t.Fatalf("heartbeat: %d", resp.Code)
	}
	// A redirect opens an upstream to broker-b: the heartbeat comes first there.
	router.set("broker-a", 0, member{addr: a.addr(), writable: false})
	send := sendRequest("orders")
	if resp := w.roundTrip(send); resp.Code != remoting.Success {
		t.Fatalf("redirected send: %d (%q)", resp.Code, resp.Remark)
	}
	got := b.requests(-1)
	if len(got) != 2 || got[0].Code != remoting.CodeHeartBeat || string(got[0].Body) != string(hb.Body) || got[1].Code != remoting.CodeSendMessage {
		t.Fatalf("broker-b read %v, want the replayed heartbeat then the send", codes(got))
	}
	if got[0].Opaque == hb.Opaque || got[0].Opaque >= 0 {
		t.Errorf("the replayed heartbeat has opaque %d; want one of the relay's own (negative)", got[0].Opaque)
	}
	if got[1].ExtFields["queueId"] != "-1" || got[1].ExtFields["bname"] != "broker-b" {
		t.Errorf("redirected send: queueId %q bname %q, want -1 and broker-b", got[1].ExtFields["queueId"], got[1].ExtFields["bname"])
	}
	// The next heartbeat reaches both upstreams; the client gets one answer.
	hb2 := request(remoting.CodeHeartBeat, nil, []byte(`{"clientID":"c1","n":2}`))
	if resp := w.roundTrip(hb2); resp.Code != remoting.Success {
		t.Fatalf("second heartbeat: %d", resp.Code)
	}
	waitRequests(t, a, remoting.CodeHeartBeat, 2)
	waitRequests(t, b, remoting.CodeHeartBeat, 2)
	w.send(sendRequest("orders"))
	if resp := w.read(); resp.Code != remoting.Success || resp.Opaque == hb2.Opaque {
		t.Errorf("after the heartbeat the client read opaque %d code %d; the copy's answer leaked", resp.Opaque, resp.Code)
	}
}

func codes(cmds []*remoting.Command) []int32 {
	out := make([]int32, len(cmds))
	for i, c := range cmds {
		out[i] = c.Code
	}
	return out
}

func TestRelay_UnreachableBrokerRedirectsWritesAndFailsStateRequests(t *testing.T) {
	b, deadAddr, router := deadBrokerA(t)
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	send := sendRequest("orders")
	if resp := w.roundTrip(send); resp.Code != remoting.Success {
		t.Fatalf("send with broker-a down: code %d (%q), want it redirected", resp.Code, resp.Remark)
	}
	if got := b.requests(remoting.CodeSendMessage); len(got) != 1 || got[0].ExtFields["queueId"] != "-1" {
		t.Fatalf("broker-b read %d sends (%v), want the redirected one with queueId -1", len(got), got)
	}
	// Offsets live on broker-a: no redirect, an error the client retries.
	off := request(remoting.CodeUpdateConsumerOffset, map[string]string{"topic": "orders", "consumerGroup": "g"}, nil)
	resp := w.roundTrip(off)
	if resp.Code != remoting.ServiceNotAvailable {
		t.Errorf("offset update to an unreachable broker: code %d, want SERVICE_NOT_AVAILABLE", resp.Code)
	}
	for _, want := range []string{"UPDATE_CONSUMER_OFFSET", `"orders"`, `"broker-a"`, deadAddr, "unreachable"} {
		if !strings.Contains(resp.Remark, want) {
			t.Errorf("remark %q does not name %s", resp.Remark, want)
		}
	}
}

func TestRelay_RoutingErrorAnsweredWithRemark(t *testing.T) {
	router := newStaticRouter()
	router.setErr(errors.New(`routing: topic "orders": no route in listener "l" (code 10)`))
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	resp := w.roundTrip(sendRequest("orders"))
	if resp.Code != remoting.SystemError {
		t.Errorf("code %d, want SYSTEM_ERROR", resp.Code)
	}
	want := `rmqmesh relay: SEND_MESSAGE (topic "orders") for broker "broker-a": routing: topic "orders": no route in listener "l" (code 10)`
	if resp.Remark != want {
		t.Errorf("remark %q, want %q", resp.Remark, want)
	}
	// A oneway request gets nothing; the connection keeps working.
	ow := sendRequest("orders")
	ow.Flag |= remoting.FlagOneway
	w.send(ow)
	if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.SystemError {
		t.Errorf("after a oneway: code %d", resp.Code)
	}
}

func TestRelay_RewritesStoreHostsAndOffsetMsgIDs(t *testing.T) {
	realHost := netip.MustParseAddrPort("10.9.8.7:10911")
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		resp := remoting.NewResponse(req, remoting.Success, "")
		switch req.Code {
		case remoting.CodePullMessage:
			resp.ExtFields = map[string]string{"nextBeginOffset": "2"}
			for i := range 2 {
				resp.Body = remoting.AppendMessage(resp.Body, &remoting.Message{Topic: "orders", Body: []byte{byte('a' + i)}, StoreHost: realHost, BornHost: realHost, CommitLogOffset: int64(100 * i)})
			}
		case remoting.CodeSendMessage:
			resp.ExtFields = map[string]string{"msgId": remoting.OffsetMsgID(realHost, 4242), "queueId": "1"}
		}
		return resp
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	router.set("broker-a", 1, member{addr: a.addr(), readable: true})
	r := startRelay(t, router)
	master := endpointOf(t, r, "broker-a", 0)
	virtual := netip.MustParseAddrPort(master)
	// Pulls through the replica's endpoint name the master's virtual endpoint:
	// that is where messages are sent back to.
	w := dialWire(t, endpointOf(t, r, "broker-a", 1))
	resp := w.roundTrip(request(remoting.CodePullMessage, map[string]string{"topic": "orders"}, nil))
	msgs, err := remoting.DecodeMessages(resp.Body)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("pulled messages: %v, %v", msgs, err)
	}
	for _, m := range msgs {
		if m.StoreHost != virtual || m.BornHost != realHost {
			t.Errorf("message %q: store host %v born host %v; want the store host rewritten to %v only", m.Body, m.StoreHost, m.BornHost, virtual)
		}
	}
	resp = dialWire(t, master).roundTrip(sendRequest("orders"))
	host, off, err := remoting.DecodeOffsetMsgID(resp.ExtFields["msgId"])
	if err != nil || host != virtual || off != 4242 {
		t.Errorf("send answer msgId %q decodes to %v offset %d (%v); want %v offset 4242", resp.ExtFields["msgId"], host, off, err, virtual)
	}
}

// TestRelay_UpstreamClosingAnswersInFlightRequests: a request in flight when
// its upstream closes gets an error answer the client retries, and a response
// hook sees that answer, so that whatever it started for the request ends.
func TestRelay_UpstreamClosingAnswersInFlightRequests(t *testing.T) {
	var mu sync.Mutex
	var conn *brokerConn
	got := make(chan struct{}, 1)
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		mu.Lock()
		conn = c
		mu.Unlock()
		got <- struct{}{}
		return nil // never answered
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	type seen struct{ opaque, code int32 }
	hooked := make(chan seen, 1)
	observe := func(ctx context.Context, c *transport.Request, next transport.Invoker) error {
		c.OnResponse(func(resp *remoting.FrameView) { hooked <- seen{resp.Opaque(), resp.Code()} })
		return next(ctx, c)
	}
	r := startRelay(t, router, transport.WithInterceptors(observe))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	pull := request(remoting.CodePullMessage, map[string]string{"topic": "orders"}, nil)
	w.send(pull)
	<-got
	mu.Lock()
	conn.nc.Close()
	mu.Unlock()
	resp := w.read()
	if resp.Opaque != pull.Opaque || resp.Code != remoting.ServiceNotAvailable {
		t.Fatalf("in-flight pull answered with opaque %d code %d, want %d and SERVICE_NOT_AVAILABLE", resp.Opaque, resp.Code, pull.Opaque)
	}
	if !strings.Contains(resp.Remark, "PULL_MESSAGE") || !strings.Contains(resp.Remark, a.addr()) {
		t.Errorf("remark %q does not name the request and the broker", resp.Remark)
	}
	select {
	case h := <-hooked:
		if h != (seen{pull.Opaque, remoting.ServiceNotAvailable}) {
			t.Errorf("response hook saw opaque %d code %d, want the answer the client got", h.opaque, h.code)
		}
	case <-time.After(meshtest.DefaultTimeout):
		t.Error("the response hook never ran for the request the relay answered")
	}
}

func TestRelay_UpdateDrainsUpstreamsThatLeftTheConfiguration(t *testing.T) {
	release := make(chan struct{})
	parked := make(chan struct{}, 1)
	handler := func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code == remoting.CodePullMessage {
			go func() {
				parked <- struct{}{}
				<-release
				c.send(echo(req))
			}()
			return nil
		}
		return echo(req)
	}
	oldAddr := startBroker(t, "broker-a@old", handler)
	newAddr := startBroker(t, "broker-a@new", handler)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: oldAddr.addr(), readable: true, writable: true})
	r := startRelay(t, router)
	addr := endpointOf(t, r, "broker-a", 0)
	w := dialWire(t, addr)
	w.roundTrip(request(remoting.CodeHeartBeat, nil, []byte(`{"clientID":"c"}`)))
	pull := request(remoting.CodePullMessage, map[string]string{"topic": "orders"}, nil)
	w.send(pull)
	<-parked
	// The endpoint moves; the parked pull stays on the old address.
	router.set("broker-a", 0, member{addr: newAddr.addr(), readable: true, writable: true})
	r.Update()
	if again := endpointOf(t, r, "broker-a", 0); again != addr {
		t.Errorf("the virtual endpoint moved from %s to %s with its broker", addr, again)
	}
	send := sendRequest("orders")
	if resp := w.roundTrip(send); resp.Code != remoting.Success {
		t.Fatalf("send after the move: %d", resp.Code)
	}
	if n := len(newAddr.requests(remoting.CodeSendMessage)); n != 1 {
		t.Errorf("the new address read %d sends, want the one after the move", n)
	}
	if got := newAddr.requests(-1); got[0].Code != remoting.CodeHeartBeat {
		t.Errorf("the new address read code %d first, want the replayed heartbeat", got[0].Code)
	}
	close(release)
	if resp := w.read(); resp.Opaque != pull.Opaque || resp.Code != remoting.Success {
		t.Fatalf("the drained pull got opaque %d code %d, want its success from the old address", resp.Opaque, resp.Code)
	}
	meshtest.WaitFor(t, "the drained upstream to close", func() bool {
		cs := oldAddr.connections()
		if len(cs) != 1 {
			return false
		}
		_ = cs[0].nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		_, err := cs[0].nc.Read(b[:])
		var ne net.Error
		return err != nil && !(errors.As(err, &ne) && ne.Timeout())
	})
}

func TestRelay_EndpointReleasedWhenUnroutedAndUnused(t *testing.T) {
	a := startBroker(t, "broker-a", nil)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), writable: true})
	r := startRelay(t, router)
	addr := endpointOf(t, r, "broker-a", 0)
	w := dialWire(t, addr)
	w.roundTrip(sendRequest("orders"))
	router.remove("broker-a")
	r.Update()
	if _, ok := r.Endpoints()[addr]; !ok {
		t.Fatal("an endpoint with a client connection was released")
	}
	w.c.Close()
	meshtest.WaitFor(t, "the endpoint to be released", func() bool {
		_, ok := r.Endpoints()[addr]
		return !ok
	})
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after its release", addr)
	}
}

func TestRelay_MalformedFramesClose(t *testing.T) {
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code == 999 {
			_, _ = c.nc.Write([]byte{0, 0, 0, 7, 0, 0, 0, 3, 'x', 'y', 'z'})
			return nil
		}
		return echo(req)
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), writable: true})
	var logs logBuffer
	r := startRelay(t, router, transport.WithLogger(logs.logger()))
	addr := endpointOf(t, r, "broker-a", 0)
	t.Run("from the client", func(t *testing.T) {
		w := dialWire(t, addr)
		w.roundTrip(sendRequest("orders"))
		if _, err := w.c.Write([]byte{0, 0, 0, 7, 0, 0, 0, 3, 'x', 'y', 'z'}); err != nil {
			t.Fatal(err)
		}
		w.expectClosed()
	})
	t.Run("from the broker", func(t *testing.T) {
		w := dialWire(t, addr)
		slow := request(remoting.CodePullMessage, nil, nil)
		w.send(slow, request(999, nil, nil))
		// The pull's answer (or the relay's error for it) may come first;
		// then the connection pair closes.
		w.expectClosed()
	})
	if l := logs.String(); !strings.Contains(l, "malformed frame") || !strings.Contains(l, "closing the connection pair") {
		t.Errorf("the log does not say why:\n%s", l)
	}
	if resp := dialWire(t, addr).roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
		t.Errorf("a new connection after the bad ones: code %d", resp.Code)
	}
}

func TestRelay_PendingLimit(t *testing.T) {
	hold := make(chan struct{})
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		go func() { <-hold; c.send(echo(req)) }()
		return nil
	})
	t.Cleanup(func() { close(hold) })
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	r := startRelay(t, router, transport.WithMaxPending(2))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	w.send(sendRequest("orders"), sendRequest("orders"))
	third := sendRequest("orders")
	w.send(third)
	resp := w.read()
	if resp.Opaque != third.Opaque || resp.Code != remoting.SystemBusy || !strings.Contains(resp.Remark, "limit 2") {
		t.Errorf("third request: opaque %d code %d remark %q; want SYSTEM_BUSY naming the limit", resp.Opaque, resp.Code, resp.Remark)
	}
}

func TestRelay_InterceptorOrder(t *testing.T) {
	a := startBroker(t, "broker-a", nil)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), writable: true})
	var (
		mu    sync.Mutex
		trace []string
	)
	mark := func(name string) transport.Interceptor {
		return func(ctx context.Context, c *transport.Request, next transport.Invoker) error {
			mu.Lock()
			trace = append(trace, name+">"+c.Target.Broker)
			mu.Unlock()
			err := next(ctx, c)
			mu.Lock()
			trace = append(trace, "<"+name+":"+c.Target.Broker)
			mu.Unlock()
			return err
		}
	}
	responded := make(chan int32, 1)
	observe := func(ctx context.Context, c *transport.Request, next transport.Invoker) error {
		c.OnResponse(func(resp *remoting.FrameView) { responded <- resp.Opaque() })
		return next(ctx, c)
	}
	r := startRelay(t, router, transport.WithInterceptors(mark("first"), nil, mark("second"), observe))
	req := sendRequest("orders")
	dialWire(t, endpointOf(t, r, "broker-a", 0)).roundTrip(req)
	mu.Lock()
	defer mu.Unlock()
	// The user's interceptors run outside the relay's links: they see no
	// target on the way in, and the routed one on the way out.
	want := []string{"first>", "second>", "<second:broker-a", "<first:broker-a"}
	if !slices.Equal(trace, want) {
		t.Errorf("trace %v, want %v", trace, want)
	}
	if got := <-responded; got != req.Opaque {
		t.Errorf("OnResponse saw opaque %d, want %d", got, req.Opaque)
	}
}

func TestRelay_CloseReleasesEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	hold := make(chan struct{})
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code == remoting.CodePullMessage {
			go func() { <-hold }()
			return nil
		}
		return echo(req)
	})
	defer close(hold)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	r, err := transport.NewRelay(router)
	if err != nil {
		t.Fatal(err)
	}
	addr := endpointOf(t, r, "broker-a", 0)
	w := dialWire(t, addr)
	w.roundTrip(sendRequest("orders"))
	w.send(request(remoting.CodePullMessage, nil, nil))
	waitRequests(t, a, remoting.CodePullMessage, 1)
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	w.expectClosed()
	if _, err := r.Endpoint("broker-a", 0); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Endpoint after Close: %v, want net.ErrClosed", err)
	}
	a.stop()
}

func TestNewRelay_Errors(t *testing.T) {
	if _, err := transport.NewRelay(nil); err == nil {
		t.Error("NewRelay(nil) succeeded")
	}
	for _, tc := range []struct {
		opt  transport.Option
		want string
	}{
		{transport.WithListenAddress("10.0.0.1"), `"10.0.0.1" is not a loopback`},
		{transport.WithListenAddress("nowhere"), `"nowhere" is not a loopback IP`},
		{transport.WithUpstreamSource("not-an-ip"), `upstream source "not-an-ip"`},
		{transport.WithCredentials(transport.Credentials{AccessKey: "ak"}), "secret key"},
	} {
		r, err := transport.NewRelay(newStaticRouter(), tc.opt)
		if err == nil {
			r.Close()
			t.Errorf("NewRelay succeeded, want an error containing %q", tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %q does not contain %q", err, tc.want)
		}
	}
}

// A broker's GO_AWAY retires the connection it came on: the send it refused
// is tried again, inside the client's request, on a new connection that
// starts with the client's heartbeat, and so is every later request.
func TestRelay_GoAwayRetiresTheUpstream(t *testing.T) {
	var mu sync.Mutex
	goAway := true
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		mu.Lock()
		defer mu.Unlock()
		if req.Code == remoting.CodeSendMessage && goAway {
			goAway = false
			return remoting.NewResponse(req, 1500, "shutting down")
		}
		return echo(req)
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), writable: true})
	var drains []transport.DrainEvent
	r := startRelay(t, router, transport.WithHooks(transport.Hooks{OnDrain: func(e transport.DrainEvent) {
		mu.Lock()
		drains = append(drains, e)
		mu.Unlock()
	}}))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	w.roundTrip(request(remoting.CodeHeartBeat, nil, []byte(`{"clientID":"c"}`)))
	send := sendRequest("orders")
	resp := w.roundTrip(send)
	if resp.Code != remoting.Success || resp.Opaque != send.Opaque {
		t.Fatalf("the send answered GO_AWAY: code %d opaque %d (%q), want success under the client's opaque %d after a try on a new connection", resp.Code, resp.Opaque, resp.Remark, send.Opaque)
	}
	if resp := w.roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
		t.Fatalf("the next send: code %d (%q)", resp.Code, resp.Remark)
	}
	conns := a.connections()
	if len(conns) != 2 {
		t.Fatalf("the broker has %d connections from the relay, want a new one after GO_AWAY", len(conns))
	}
	// The new connection starts with the client's heartbeat, then the send
	// that was refused.
	var onNew []*remoting.Command
	for _, r := range a.requests(-1) {
		if r.Opaque < 0 {
			onNew = append(onNew, r)
		}
	}
	if len(onNew) != 2 || onNew[0].Code != remoting.CodeHeartBeat || onNew[1].Code != remoting.CodeSendMessage {
		t.Errorf("requests under the relay's own opaques: %v, want the replayed heartbeat then the retried send", codesOf(onNew))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(drains) != 1 || !drains[0].GoAway || drains[0].Target.Addr != a.addr() {
		t.Errorf("drain events %+v, want one GO_AWAY drain of %s", drains, a.addr())
	}
}

func codesOf(cmds []*remoting.Command) []int32 {
	out := make([]int32, len(cmds))
	for i, c := range cmds {
		out[i] = c.Code
	}
	return out
}

func TestRelay_PanickingInterceptorFailsTheRequestOnly(t *testing.T) {
	a := startBroker(t, "broker-a", nil)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), writable: true})
	boom := func(ctx context.Context, c *transport.Request, next transport.Invoker) error {
		if c.Code == remoting.CodeSendMessage {
			panic("interceptor bug")
		}
		c.OnResponse(func(*remoting.FrameView) { panic("hook bug") })
		return next(ctx, c)
	}
	r := startRelay(t, router, transport.WithInterceptors(boom))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	resp := w.roundTrip(sendRequest("orders"))
	if resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "interceptor bug") {
		t.Errorf("code %d remark %q, want SYSTEM_ERROR naming the panic", resp.Code, resp.Remark)
	}
	if resp := w.roundTrip(request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders"}, nil)); resp.Code != remoting.Success {
		t.Errorf("after the panics: code %d (%q), want the request answered", resp.Code, resp.Remark)
	}
}
