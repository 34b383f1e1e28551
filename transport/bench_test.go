package transport_test

import (
	"bufio"
	"context"
	"encoding/binary"
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

func startRawBroker(b *testing.B) *rawBroker {
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

// BenchmarkRelay measures the relay alone: a client writing pre-encoded 1 KiB
// SEND_MESSAGE frames to a virtual endpoint, a broker answering with one
// pre-encoded frame, neither allocating. allocs/op is the relay's work per
// request (routing, bname, the offset msgId rewrite of the answer). The
// "failover" runs keep each send's frame and its per-try deadline, as the
// default policy does; "no-failover" runs are a cluster that turned it off.
// "+link" cases add an outer interceptor that reads what the mesh's tracing
// link reads of every request when per-RPC spans are off (target, attempts)
// and counts: the chain's cost of such a link.
//
//	go test -run '^$' -bench Relay -benchmem ./transport/
func BenchmarkRelay(b *testing.B) {
	for _, fo := range []struct {
		name   string
		policy *transport.ClusterPolicy
	}{
		{"failover", &transport.ClusterPolicy{Name: "c"}},
		{"no-failover", &transport.ClusterPolicy{Name: "c", Failover: transport.Failover{Disabled: true}}},
	} {
		b.Run(fo.name, func(b *testing.B) { benchmarkRelayPolicy(b, fo.policy) })
	}
}

func benchmarkRelayPolicy(b *testing.B, policy *transport.ClusterPolicy) {
	rb := startRawBroker(b)
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: rb.ln.Addr().String(), readable: true, writable: true})
	// The benchmark's router records every query; the mesh's does not.
	quiet := &quietRouter{staticRouter: router, policy: policy}
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
	for _, link := range []bool{false, true} {
		var opts []transport.Option
		suffix := ""
		if link {
			opts, suffix = []transport.Option{transport.WithInterceptors(count)}, "+link"
		}
		benchmarkRelay(b, endpointOf(b, startRelay(b, quiet, opts...), "broker-a", 0), suffix)
	}
	if counted.Load() == 0 || failovers.Load() != 0 {
		b.Errorf("the link counted %d requests and %d failovers", counted.Load(), failovers.Load())
	}
}

func benchmarkRelay(b *testing.B, addr, suffix string) {
	req := remoting.NewRequest(remoting.CodeSendMessage, map[string]string{
		"producerGroup": "bench", "topic": "orders", "queueId": "1", "sysFlag": "0", "bornTimestamp": "1700000000000",
		"flag": "0", "properties": "UNIQ_KEY\x01AC1100020001000000000000000000\x02WAIT\x01true\x02", "reconsumeTimes": "0",
		"unitMode": "false", "batch": "false", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
	}, []byte(strings.Repeat("x", 1024)))
	req.Opaque = 1000000
	frame, err := req.EncodeFrame()
	if err != nil {
		b.Fatal(err)
	}
	for _, window := range []int{1, 64} {
		name := "sync"
		if window > 1 {
			name = "pipelined-64"
		}
		b.Run(name+suffix, func(b *testing.B) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReaderSize(c, 64<<10)
			out := append([]byte(nil), frame...)
			var v, in remoting.FrameView
			if v.Reset(out) != nil {
				b.Fatal("bad frame")
			}
			opaque := int32(1000000)
			send := func() {
				opaque++
				if opaque > 9999999 {
					opaque = 1000000
				}
				v.SetOpaqueInPlace(opaque)
				if _, err := c.Write(out); err != nil {
					b.Fatal(err)
				}
			}
			recv := func() {
				h, err := br.Peek(4)
				if err != nil {
					b.Fatal(err)
				}
				n := 4 + int(binary.BigEndian.Uint32(h))
				f, err := br.Peek(n)
				if err != nil {
					b.Fatal(err)
				}
				if err := in.Reset(f); err != nil || in.Code() != remoting.Success {
					b.Fatalf("answer: %v code %d", err, in.Code())
				}
				_, _ = br.Discard(n)
			}
			for range window {
				send()
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				recv()
				if i+window < b.N {
					send()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N), "process-cpu-ns/op")
			for range max(0, window-b.N) {
				recv()
			}
		})
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
type quietRouter struct {
	*staticRouter
	policy *transport.ClusterPolicy
}

func (q *quietRouter) Route(query *transport.Query) (transport.Target, error) {
	q.mu.Lock()
	m := q.brokers[query.Broker][0]
	q.mu.Unlock()
	return transport.Target{Broker: query.Broker, Addr: m.addr, Policy: q.policy}, nil
}
