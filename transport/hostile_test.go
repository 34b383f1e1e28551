package transport_test

import (
	"encoding/binary"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// heapInUse returns the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Issue 16 item 6: a broker that announces huge frames and sends a few bytes
// of each costs the relay what it sent, not what it announced.
func TestRelay_LyingLengthsDoNotAllocate(t *testing.T) {
	const conns = 16
	var mu sync.Mutex
	var held []net.Conn
	got := make(chan struct{}, conns)
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		// 16 MiB announced, 100 bytes sent, then silence.
		var h [4]byte
		binary.BigEndian.PutUint32(h[:], remoting.DefaultMaxFrameSize)
		_, _ = c.nc.Write(append(h[:], make([]byte, 100)...))
		mu.Lock()
		held = append(held, c.nc)
		mu.Unlock()
		got <- struct{}{}
		return nil
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	r := startRelay(t, router)
	endpoint := endpointOf(t, r, "broker-a", 0)
	before := heapInUse()
	for range conns {
		dialWire(t, endpoint).send(sendRequest("orders"))
	}
	for range conns {
		select {
		case <-got:
		case <-time.After(meshtest.DefaultTimeout):
			t.Fatal("the broker did not get every request")
		}
	}
	// The relay reads what arrived; give its readers a moment to block on
	// the rest (polling, not sleeping for a fixed time on a loaded host).
	deadline := time.Now().Add(meshtest.DefaultTimeout)
	var grown uint64
	for {
		if after := heapInUse(); after > before {
			grown = after - before
		}
		if grown > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("heap grew %d KiB for %d connections announcing 16 MiB frames", grown>>10, conns)
	if limit := uint64(conns) * 1 << 20; grown > limit {
		t.Errorf("heap grew %d MiB for %d connections that announced 16 MiB frames and sent 100 bytes, want under %d MiB",
			grown>>20, conns, limit>>20)
	}
	mu.Lock()
	for _, c := range held {
		c.Close()
	}
	mu.Unlock()
}

// Issue 16 item 6: a broker that answers requests it never got (opaques the
// client used for another broker's requests) or floods unsolicited answers
// reaches the client with none of them: the only answer to a request is
// from the broker that holds it.
func TestRelay_BrokerCannotAnswerAnotherBrokersRequests(t *testing.T) {
	release := make(chan struct{})
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code == remoting.CodeQueryConsumerOffset {
			go func() {
				<-release
				resp := remoting.NewResponse(req, remoting.Success, "from broker-a")
				c.send(resp)
			}()
			return nil
		}
		return echo(req)
	})
	var victim atomic.Int32
	b := startBroker(t, "broker-b", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		// Answer the held query and a thousand opaques before it, then the send.
		for o := victim.Load() - 1000; o <= victim.Load(); o++ {
			spoof := remoting.NewResponse(&remoting.Command{Opaque: o}, remoting.Success, "spoofed by broker-b")
			c.send(spoof)
		}
		return echo(req)
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true}) // not writable: sends go to b
	router.set("broker-b", 0, member{addr: b.addr(), readable: true, writable: true})
	r := startRelay(t, router)
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	query := request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders", "consumerGroup": "g", "queueId": "0"}, nil)
	victim.Store(query.Opaque)
	w.send(query)
	waitRequests(t, a, remoting.CodeQueryConsumerOffset, 1)
	send := sendRequest("orders")
	if resp := w.roundTrip(send); resp.Code != remoting.Success || strings.Contains(resp.Remark, "spoofed") {
		t.Fatalf("send answered with code %d %q, want broker-b's own answer", resp.Code, resp.Remark)
	}
	close(release)
	resp := w.read()
	if resp.Opaque != query.Opaque || resp.Remark != "from broker-a" {
		t.Fatalf("the held query was answered with opaque %d %q, want broker-a's answer", resp.Opaque, resp.Remark)
	}
}

// Issue 16 item 6: a broker flooding the client with requests it does not
// answer fills the connection's pending limit and no more: the excess is
// refused with SYSTEM_BUSY, and the client's own requests still go through.
func TestRelay_BrokerRequestFloodIsBounded(t *testing.T) {
	const limit = 50
	a := startBroker(t, "broker-a", func(c *brokerConn, req *remoting.Command) *remoting.Command {
		if req.Code == remoting.CodeHeartBeat {
			for i := range 3 * limit {
				check := remoting.NewRequest(remoting.CodeCheckTransactionState, map[string]string{"msgId": "m"}, nil)
				check.Opaque = int32(10000 + i)
				c.send(check)
			}
		}
		return echo(req)
	})
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	r := startRelay(t, router, transport.WithMaxPending(limit))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	w.send(request(remoting.CodeHeartBeat, nil, []byte("{}")))
	// The client reads, and never answers, the broker's requests.
	checks := 0
	for checks < limit {
		cmd := w.readAny()
		if !cmd.IsResponse() && cmd.Code == remoting.CodeCheckTransactionState {
			checks++
		}
	}
	deadline := time.Now().Add(meshtest.DefaultTimeout)
	refused := 0
	for time.Now().Before(deadline) {
		refused = 0
		for _, resp := range a.responses() {
			if resp.Code == remoting.SystemBusy {
				refused++
			}
		}
		if refused == 2*limit {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if refused != 2*limit {
		t.Fatalf("the broker got %d SYSTEM_BUSY answers for %d requests over the limit of %d", refused, 2*limit, limit)
	}
	// The relay is still responsive... but the limit counts both ways, so
	// the client's own request is refused while the broker's wait.
	resp := w.roundTripSkipping(sendRequest("orders"))
	if resp.Code != remoting.SystemBusy {
		t.Errorf("a client request with %d broker requests pending: code %d, want SYSTEM_BUSY", limit, resp.Code)
	}
}

// Issue 16 item 6: a TLS broker that accepts the connection and never
// completes the handshake costs one dial timeout, and the request is
// answered with the reason.
func TestRelay_TLSHandshakeThatNeverEndsIsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				return // the relay gave up
			}
		}
	}()
	defer wg.Wait()
	ca := meshtest.NewCA(t, "root")
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: ln.Addr().String(), readable: true, writable: true})
	router.setTLS("broker-a", &testTLS{roots: ca.Pool()})
	r := startRelay(t, router, transport.WithDialTimeout(500*time.Millisecond))
	w := dialWire(t, endpointOf(t, r, "broker-a", 0))
	resp := w.roundTrip(request(remoting.CodeQueryConsumerOffset, map[string]string{"topic": "orders", "consumerGroup": "g", "queueId": "0"}, nil))
	if resp.Code != remoting.ServiceNotAvailable || !strings.Contains(resp.Remark, "handshake not finished") {
		t.Fatalf("code %d (%q), want SERVICE_NOT_AVAILABLE naming the unfinished handshake", resp.Code, resp.Remark)
	}
}

// Issue 16 item 6: a broker that never answers holds requests until the
// client leaves; then the relay closes the broker connection and keeps
// nothing of the pair.
func TestRelay_SilentBrokerReleasedWithTheClient(t *testing.T) {
	a := startBroker(t, "broker-a", func(*brokerConn, *remoting.Command) *remoting.Command { return nil })
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: a.addr(), readable: true, writable: true})
	r := startRelay(t, router)
	endpoint := endpointOf(t, r, "broker-a", 0)
	base := runtime.NumGoroutine()
	w := dialWire(t, endpoint)
	for range 100 {
		w.send(sendRequest("orders"))
	}
	waitRequests(t, a, remoting.CodeSendMessage, 100)
	w.c.Close()
	deadline := time.Now().Add(meshtest.DefaultTimeout)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines after the client left, %d before", n, base)
	}
	// The broker's reader of the relay's connection is among the goroutines
	// counted: it ended, so the relay closed the connection.
}

// roundTripSkipping sends req and returns its answer, skipping the broker
// requests the relay passes on meanwhile.
func (w *wireConn) roundTripSkipping(req *remoting.Command) *remoting.Command {
	w.t.Helper()
	w.send(req)
	for {
		if cmd := w.readAny(); cmd.IsResponse() && cmd.Opaque == req.Opaque {
			return cmd
		}
	}
}
