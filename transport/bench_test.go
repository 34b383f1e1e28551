package transport_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// rawBroker answers every request with one pre-encoded send answer, its opaque
// patched: a broker endpoint that allocates nothing per request, so that a
// benchmark's allocations are the relay's.
type rawBroker struct {
	ln   net.Listener
	resp []byte
	wg   sync.WaitGroup
}

func startRawBroker(b testing.TB) *rawBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	resp := remoting.NewResponse(&remoting.Command{Opaque: 1000000}, remoting.Success, "")
	resp.ExtFields = map[string]string{
		"msgId":       remoting.OffsetMsgID(netip.MustParseAddrPort("10.0.0.1:10911"), 123456),
		"queueId":     "1",
		"queueOffset": "42",
		"MSG_REGION":  "DefaultRegion",
		"TRACE_ON":    "true",
	}
	frame, err := resp.EncodeFrame()
	if err != nil {
		b.Fatal(err)
	}
	rb := &rawBroker{ln: ln, resp: frame}
	rb.wg.Add(1)
	go func() {
		defer rb.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rb.wg.Add(1)
			go rb.serve(c)
		}
	}()
	b.Cleanup(func() { ln.Close(); rb.wg.Wait() })
	return rb
}

func (rb *rawBroker) serve(c net.Conn) {
	defer rb.wg.Done()
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	out := append([]byte(nil), rb.resp...)
	var req, resp remoting.FrameView
	if resp.Reset(out) != nil {
		return
	}
	for {
		h, err := br.Peek(4)
		if err != nil {
			return
		}
		n := 4 + int(binary.BigEndian.Uint32(h))
		f, err := br.Peek(n)
		if err != nil || req.Reset(f) != nil {
			return
		}
		resp.SetOpaqueInPlace(req.Opaque())
		_, _ = br.Discard(n)
		if _, err := bw.Write(out); err != nil {
			return
		}
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}

// relayedClient writes pre-encoded 1 KiB SEND_MESSAGE frames to a relay's
// virtual endpoint in front of a rawBroker, and reads the answers: nothing on
// either side of the relay allocates, so the process's allocations are the
// relay's.
type relayedClient struct {
	tb     testing.TB
	c      net.Conn
	br     *bufio.Reader
	out    []byte
	v, in  remoting.FrameView
	opaque int32
}

// The ways from the client to the rawBroker that BenchmarkRelay compares.
const (
	viaRelay = "relay" // the relay
	// the relay with an outer interceptor that reads what the mesh's tracing
	// link reads of every request when per-RPC spans are off (target,
	// attempts) and counts: the chain's cost of such a link
	viaRelayLink = "relay+link"
	viaSplice    = "splice" // a proxy that copies bytes both ways and does nothing else
	viaDirect    = "direct" // no hop
)

// newRelayedClient connects to the rawBroker the way via says; opts are the
// relay's.
func newRelayedClient(tb testing.TB, via string, opts ...transport.Option) *relayedClient {
	rb := startRawBroker(tb)
	addr := rb.ln.Addr().String()
	switch via {
	case viaRelay, viaRelayLink:
		router := newStaticRouter()
		router.set("broker-a", 0, member{addr: addr, readable: true, writable: true})
		// The test router records every query; the mesh's does not.
		quiet := &quietRouter{router}
		r := startRelay(tb, quiet, opts...)
		addr = endpointOf(tb, r, "broker-a", 0)
	case viaSplice:
		addr = startSplice(tb, addr)
	}
	req := remoting.NewRequest(remoting.CodeSendMessage, map[string]string{
		"producerGroup": "bench", "topic": "orders", "queueId": "1", "sysFlag": "0", "bornTimestamp": "1700000000000",
		"flag": "0", "properties": "UNIQ_KEY\x01AC1100020001000000000000000000\x02WAIT\x01true\x02", "reconsumeTimes": "0",
		"unitMode": "false", "batch": "false", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
	}, []byte(strings.Repeat("x", 1024)))
	req.Opaque = 1000000
	frame, err := req.EncodeFrame()
	if err != nil {
		tb.Fatal(err)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	rc := &relayedClient{tb: tb, c: c, br: bufio.NewReaderSize(c, 64<<10), out: frame, opaque: 1000000}
	if rc.v.Reset(rc.out) != nil {
		tb.Fatal("bad frame")
	}
	return rc
}

func (rc *relayedClient) send() {
	rc.opaque++
	if rc.opaque > 9999999 {
		rc.opaque = 1000000
	}
	rc.v.SetOpaqueInPlace(rc.opaque)
	if _, err := rc.c.Write(rc.out); err != nil {
		rc.tb.Fatal(err)
	}
}

func (rc *relayedClient) recv() {
	h, err := rc.br.Peek(4)
	if err != nil {
		rc.tb.Fatal(err)
	}
	n := 4 + int(binary.BigEndian.Uint32(h))
	f, err := rc.br.Peek(n)
	if err != nil {
		rc.tb.Fatal(err)
	}
	if err := rc.in.Reset(f); err != nil || rc.in.Code() != remoting.Success {
		rc.tb.Fatalf("answer: %v code %d", err, rc.in.Code())
	}
	_, _ = rc.br.Discard(n)
}

// startSplice starts the least any in-process hop can do: a proxy that copies
// bytes between each client connection and a connection to upstream, one
// goroutine per direction. It returns the proxy's address.
func startSplice(tb testing.TB, upstream string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(u, c); u.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// BenchmarkRelay measures the relay alone (see relayedClient), one request at
// a time and 64 pipelined, beside the same client talking to the broker
// directly and through a splice proxy (startSplice): the difference between
// splice and direct is what any in-process hop costs (system calls, wake-ups),
// the difference between relay and splice what the relay's own work costs.
// allocs/op is the relay's work per request (routing, bname, the offset msgId
// rewrite of the answer). Goal: at most 2 allocations per relayed request,
// asserted by TestRelay_RequestAllocatesAtMostTwice. process-cpu-ns/op is the
// CPU the whole process spent per request; the benchmark program (go run
// ./bench) shows the relay's cost against the bare client. "relay+link" adds
// the mesh's tracing link as it is when per-RPC spans are off (viaRelayLink).
//
//	go test -run '^$' -bench Relay -benchmem ./transport/
func BenchmarkRelay(b *testing.B) {
	var counted, failovers atomic.Int64
	count := func(ctx context.Context, c *transport.Request, next transport.Invoker) error {
		err := next(ctx, c)
		if err == nil && c.Target.Addr != "" {
			counted.Add(1)
		}
		if n := c.Attempt(); n > 1 {
			failovers.Add(int64(n - 1))
		}
		return err
	}
	for _, via := range []string{viaDirect, viaSplice, viaRelay, viaRelayLink} {
		var opts []transport.Option
		if via == viaRelayLink {
			opts = []transport.Option{transport.WithInterceptors(count)}
		}
		for _, window := range []int{1, 64} {
			name := via + "/sync"
			if window > 1 {
				name = via + "/pipelined-64"
			}
			b.Run(name, func(b *testing.B) { benchmarkRelay(b, via, window, opts...) })
		}
	}
	if counted.Load() == 0 || failovers.Load() != 0 {
		b.Errorf("the link counted %d requests and %d failovers", counted.Load(), failovers.Load())
	}
}

func benchmarkRelay(b *testing.B, via string, window int, opts ...transport.Option) {
	rc := newRelayedClient(b, via, opts...)
	for range window {
		rc.send()
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(rc.out)))
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		rc.recv()
		if i+window < b.N {
			rc.send()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N), "process-cpu-ns/op")
	for range max(0, window-b.N) {
		rc.recv()
	}
}

// The relay forwards every broker RPC: a relayed request may cost it at most
// two allocations (BenchmarkRelay measures its time).
func TestRelay_RequestAllocatesAtMostTwice(t *testing.T) {
	rc := newRelayedClient(t, viaRelay)
	rc.send() // the first request dials the upstream
	rc.recv()
	if n := testing.AllocsPerRun(1000, func() { rc.send(); rc.recv() }); n > 2 {
		t.Errorf("a relayed request allocates %v times, want at most 2", n)
	}
}

// processCPU returns the CPU time the process has used: the client, relay and
// broker of this benchmark, of which only the relay does real work.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// quietRouter is a staticRouter that does not record queries.
type quietRouter struct{ *staticRouter }

func (q *quietRouter) Route(query *transport.Query) (transport.Target, error) {
	q.mu.Lock()
	m := q.brokers[query.Broker][0]
	q.mu.Unlock()
	return transport.Target{Broker: query.Broker, Addr: m.addr}, nil
}
