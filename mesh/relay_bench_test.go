package mesh_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// dataPaths is one in-memory cluster and three producers on it: the bare
// official client on the cluster's own nameserver, one built by a mesh on the
// direct data path, and one built by a mesh on the intercept data path (the
// default), both meshes following the same control plane.
type dataPaths struct {
	names     []string
	producers []rocketmq.Producer
}

func newDataPaths(b *testing.B) *dataPaths {
	b.Helper()
	h := newHarness(b, harnessConfig{
		brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokers,
		path: interceptPath, unrestricted: true, // the bare client dials the brokers
	})
	direct, err := mesh.New(context.Background(), "xds:///"+listenerName, mesh.WithBootstrap(h.cp.Bootstrap()), mesh.WithDataPath(routing.DataPathDirect))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { direct.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if err := direct.WaitReady(ctx); err != nil {
		b.Fatal(err)
	}
	start := func(p rocketmq.Producer, err error) rocketmq.Producer {
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = p.Shutdown() })
		return p
	}
	bare := start(rocketmq.NewProducer(
		producer.WithNameServer([]string{h.cluster.NameServerAddr()}),
		producer.WithGroupName(uniqueName("bench-bare")),
		producer.WithInstanceName(uniqueName("bench-bare")),
	))
	dp := &dataPaths{
		names: []string{"bare", "direct", "intercept"},
		producers: []rocketmq.Producer{
			bare,
			start(direct.NewProducer(producer.WithGroupName(uniqueName("bench-direct")))),
			start(h.mesh.NewProducer(producer.WithGroupName(uniqueName("bench-intercept")))),
		},
	}
	for _, p := range dp.producers { // warm every route and connection
		for range 10 {
			if _, err := p.SendSync(ctx, primitive.NewMessage("orders", benchBody)); err != nil {
				b.Fatal(err)
			}
		}
	}
	return dp
}

var benchBody = []byte(strings.Repeat("m", 1024))

// BenchmarkDataPathLatency compares the sync send latency of the bare client,
// the direct data path and the intercept data path in one run: each iteration
// is one 1 KiB SendSync on each, in rotating order so that the store growing and
// the machine's noise weigh on all three alike.
//
//	go test -run '^$' -bench DataPathLatency -benchtime 3000x ./mesh/
func BenchmarkDataPathLatency(b *testing.B) {
	dp := newDataPaths(b)
	ctx := context.Background()
	lat := make([][]time.Duration, len(dp.producers))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range dp.producers {
			j := (i + k) % len(dp.producers)
			start := time.Now()
			if _, err := dp.producers[j].SendSync(ctx, primitive.NewMessage("orders", benchBody)); err != nil {
				b.Fatal(err)
			}
			lat[j] = append(lat[j], time.Since(start))
		}
	}
	b.StopTimer()
	p50 := make([]time.Duration, len(lat))
	for j, l := range lat {
		slices.Sort(l)
		p50[j] = l[len(l)/2]
		b.ReportMetric(float64(p50[j].Microseconds()), dp.names[j]+"-p50-µs")
		b.ReportMetric(float64(l[len(l)*99/100].Microseconds()), dp.names[j]+"-p99-µs")
	}
	b.ReportMetric(float64((p50[2] - p50[0]).Microseconds()), "intercept-minus-bare-p50-µs")
	b.ReportMetric(float64((p50[1] - p50[0]).Microseconds()), "direct-minus-bare-p50-µs")
}

// BenchmarkDataPathThroughput compares the async send throughput of the bare
// client, the direct data path and the intercept data path in one run: each
// iteration sends a burst of 1,000 messages of 1 KiB with SendAsync on each, the
// whole burst in flight, in rotating order. The rates are reported side by side, and the
// ratios to the bare client as the median of the per-iteration ratios, which a
// machine whose load changes from second to second disturbs least. The process's
// CPU time per message is reported too: everything (client, relay, brokers) runs
// in this process, so on a busy machine it says what each path costs more
// steadily than wall-clock rates do.
//
//	go test -run '^$' -bench DataPathThroughput -benchtime 40x ./mesh/
func BenchmarkDataPathThroughput(b *testing.B) {
	const burst, window = 1000, 1000 // the whole burst in flight
	dp := newDataPaths(b)
	elapsed := make([]time.Duration, len(dp.producers))
	cpu := make([]time.Duration, len(dp.producers))
	ratios := make([][]float64, len(dp.producers))
	ctx := context.Background()
	run := func(p rocketmq.Producer) time.Duration {
		sem := make(chan struct{}, window)
		var wg sync.WaitGroup
		var failed sync.Once
		var sendErr error
		start := time.Now()
		for range burst {
			sem <- struct{}{}
			wg.Add(1)
			err := p.SendAsync(ctx, func(_ context.Context, _ *primitive.SendResult, err error) {
				if err != nil {
					failed.Do(func() { sendErr = err })
				}
				<-sem
				wg.Done()
			}, primitive.NewMessage("orders", benchBody))
			if err != nil {
				b.Fatal(err)
			}
		}
		wg.Wait()
		if sendErr != nil {
			b.Fatal(sendErr)
		}
		return time.Since(start)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		round := make([]time.Duration, len(dp.producers))
		for k := range dp.producers {
			j := (i + k) % len(dp.producers)
			before := processCPU()
			round[j] = run(dp.producers[j])
			cpu[j] += processCPU() - before
			elapsed[j] += round[j]
		}
		for j := range round {
			ratios[j] = append(ratios[j], round[0].Seconds()/round[j].Seconds())
		}
	}
	b.StopTimer()
	for j, e := range elapsed {
		b.ReportMetric(float64(burst*b.N)/e.Seconds(), dp.names[j]+"-msg/s")
		b.ReportMetric(float64(cpu[j].Microseconds())/float64(burst*b.N), dp.names[j]+"-cpu-µs/msg")
	}
	median := func(xs []float64) float64 {
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	b.ReportMetric(median(ratios[1]), "direct/bare")
	b.ReportMetric(median(ratios[2]), "intercept/bare")
}

// processCPU returns the CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measureMoves moves broker-a's endpoint between its two addresses n times and
// returns, per move, the time from the control plane accepting it to the first
// send that reaches the new address.
func measureMoves(tb testing.TB, h *harness, p rocketmq.Producer, addrs [2]string, n int) []time.Duration {
	tb.Helper()
	b := h.cluster.Broker("broker-a")
	var lat []time.Duration
	for i := 1; i <= n; i++ {
		want := addrs[i%2]
		h.apply(movedSpec(h.cluster, want))
		start := time.Now()
		for {
			h.sendN(p, "orders", 1)
			reqs := b.Requests(remoting.CodeSendMessage)
			if reqs[len(reqs)-1].LocalAddr == want {
				break
			}
			if time.Since(start) > meshtest.DefaultTimeout {
				tb.Fatalf("move %d: sends never reached %s", i, want)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	return lat
}

// BenchmarkEndpointMove measures how long an endpoint address change takes to
// carry the next send on the intercept data path (see measureMoves):
//
//	go test -run '^$' -bench EndpointMove -benchtime 100x ./mesh/
func BenchmarkEndpointMove(b *testing.B) {
	h, alt := newMovableHarness(b)
	p := h.producer()
	h.sendN(p, "orders", 1)
	b.ResetTimer()
	lat := measureMoves(b, h, p, [2]string{h.cluster.Broker("broker-a").Addr(), alt}, b.N)
	b.StopTimer()
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
