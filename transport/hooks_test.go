package transport_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// attempt is what an OnAttempt hook saw.
type attempt struct {
	n      int
	broker string
	prev   bool // the hook was told why the previous attempt failed
}

// TestRelay_AttemptHookSeesEveryTarget: a send to an unreachable broker moves to
// another; an outer link sees both attempts through OnAttempt, in order, the
// second with the first one's failure, and the answer through OnResponse.
func TestRelay_AttemptHookSeesEveryTarget(t *testing.T) {
	_, deadAddr, router := deadBrokerA(t)
	var (
		mu       sync.Mutex
		attempts []attempt
		final    int
		awaits   bool
	)
	responded := make(chan int32, 1)
	observe := func(ctx context.Context, c *transport.Request, next transport.Invoker) error {
		c.OnAttempt(func(n int, target transport.Target, prev error) {
			mu.Lock()
			attempts = append(attempts, attempt{n, target.Broker, prev != nil})
			mu.Unlock()
			if n > 1 && !strings.Contains(prev.Error(), deadAddr) {
				t.Errorf("attempt %d: previous failure %q does not name %s", n, prev, deadAddr)
			}
		})
		c.OnResponse(func(resp *remoting.FrameView) { responded <- resp.Code() })
		err := next(ctx, c)
		mu.Lock()
		final, awaits = c.Attempt(), c.AwaitsResponse()
		mu.Unlock()
		return err
	}
	r := startRelay(t, router, transport.WithInterceptors(observe))
	if resp := dialWire(t, endpointOf(t, r, "broker-a", 0)).roundTrip(sendRequest("orders")); resp.Code != remoting.Success {
		t.Fatalf("send: code %d (%q), want it moved to broker-b", resp.Code, resp.Remark)
	}
	if code := <-responded; code != remoting.Success {
		t.Errorf("OnResponse saw code %d, want SUCCESS", code)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []attempt{{1, "broker-a", false}, {2, "broker-b", true}}
	if !slices.Equal(attempts, want) {
		t.Errorf("attempts %v, want %v", attempts, want)
	}
	if final != 2 || !awaits {
		t.Errorf("after the chain: Attempt() = %d, AwaitsResponse() = %v; want 2, true", final, awaits)
	}
}

// TestRequest_AwaitsResponse: oneway requests and END_TRANSACTION with the
// unknown state get no answer from a broker, so their hooks never run.
func TestRequest_AwaitsResponse(t *testing.T) {
	awaits := make(chan bool, 1)
	w := dialLinked(t, func(ctx context.Context, c *transport.Request, next transport.Invoker) error {
		awaits <- c.AwaitsResponse()
		return next(ctx, c)
	})
	oneway := sendRequest("orders")
	oneway.Flag |= remoting.FlagOneway
	unknown := request(remoting.CodeEndTransaction, map[string]string{"commitOrRollback": "0"}, nil)
	commit := request(remoting.CodeEndTransaction, map[string]string{"commitOrRollback": "8"}, nil)
	for _, tc := range []struct {
		name string
		req  *remoting.Command
		want bool
	}{
		{"send", sendRequest("orders"), true},
		{"oneway send", oneway, false},
		{"end-transaction unknown", unknown, false},
		{"end-transaction commit", commit, true},
	} {
		w.send(tc.req)
		if got := <-awaits; got != tc.want {
			t.Errorf("%s: AwaitsResponse() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRequest_MessageProperties reads the properties of every kind of send:
// the header's, in either form, and a batch's first member's.
func TestRequest_MessageProperties(t *testing.T) {
	props := make(chan string, 1)
	w := dialLinked(t, func(ctx context.Context, c *transport.Request, next transport.Invoker) error {
		props <- c.MessageProperties()
		return next(ctx, c)
	})
	const traced = "UNIQ_KEY\x01abc\x02traceparent\x0100-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\x02"
	var batch []byte
	batch = remoting.AppendBatchMessage(batch, remoting.BatchMessage{Body: []byte("1"), Properties: traced})
	batch = remoting.AppendBatchMessage(batch, remoting.BatchMessage{Body: []byte("2"), Properties: "UNIQ_KEY\x01def\x02"})
	for _, tc := range []struct {
		name string
		req  *remoting.Command
		want string
	}{
		{"send", request(remoting.CodeSendMessage, map[string]string{"topic": "orders", "properties": traced}, nil), traced},
		{"send V2", request(remoting.CodeSendMessageV2, map[string]string{"b": "orders", "i": traced}, nil), traced},
		{"reply", request(remoting.CodeSendReplyMessage, map[string]string{"topic": "orders", "properties": traced}, nil), traced},
		{"batch", request(remoting.CodeSendBatchMessage, map[string]string{"b": "orders", "i": "WAIT\x01true"}, batch), traced},
		{"malformed batch", request(remoting.CodeSendBatchMessage, map[string]string{"b": "orders"}, []byte{0, 0, 0, 99}), ""},
		{"pull", request(remoting.CodePullMessage, map[string]string{"topic": "orders", "properties": traced}, nil), ""},
	} {
		w.roundTrip(tc.req)
		if got := <-props; got != tc.want {
			t.Errorf("%s: MessageProperties() = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestRelay_EndpointAt(t *testing.T) {
	router := newStaticRouter()
	router.set("broker-a", 1, member{addr: "127.0.0.1:1"})
	r := startRelay(t, router)
	addr := netip.MustParseAddrPort(endpointOf(t, r, "broker-a", 1))
	if ep, ok := r.EndpointAt(addr); !ok || ep != (transport.Endpoint{BrokerName: "broker-a", BrokerID: 1}) {
		t.Errorf("EndpointAt(%v) = %v, %v; want broker-a/1", addr, ep, ok)
	}
	if ep, ok := r.EndpointAt(netip.MustParseAddrPort("127.0.0.1:1")); ok {
		t.Errorf("EndpointAt(a broker's own address) = %v, want none", ep)
	}
	router.remove("broker-a")
	r.Update()
	if ep, ok := r.EndpointAt(addr); ok {
		t.Errorf("EndpointAt(%v) after the endpoint was released = %v", addr, ep)
	}
}

// dialLinked connects to the endpoint of an echoing broker-a on a relay whose
// chain starts with link.
func dialLinked(t *testing.T, link transport.Interceptor) *wireConn {
	t.Helper()
	a := startBroker(t, "broker-a", nil)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	r := startRelay(t, router, transport.WithInterceptors(link))
	return dialWire(t, endpointOf(t, r, "broker-a", 0))
}
