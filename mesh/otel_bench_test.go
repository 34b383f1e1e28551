package mesh_test

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/routing"
)

// discardExporter is an exporter that drops what it is given: the SDK's batch
// processor still builds and hands over every span, as with a real exporter.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkTracingOverhead compares, in one run against one in-memory cluster,
// a producer of a mesh with telemetry on — the SDK sampling every span (or one
// trace in ten) into a batch processor, and a meter provider with a reader —
// and a producer of a mesh built WithoutTelemetry, both on the same data path:
// intercept (the default; the relay's tracing link counts every request) or
// direct. Sends alternate between them as in BenchmarkSend.
//
//	go test -run '^$' -bench TracingOverhead -benchtime 5000x ./mesh/
//
// Reported: median ns per send of each, on/off throughput from the medians and
// from the means (goal ≥ 0.95), and the allocations per send each side made in
// the whole process (client, relay and in-memory broker alike; the broker's
// share is the same for both, apart from parsing the longer properties).
func BenchmarkTracingOverhead(b *testing.B) {
	for _, path := range []routing.DataPath{routing.DataPathIntercept, routing.DataPathDirect} {
		for _, bc := range []struct {
			name    string
			sampler sdktrace.Sampler
		}{
			{"sample=all", sdktrace.AlwaysSample()},
			// Head sampling of one trace in ten, as production setups often
			// do: unsampled sends still carry context and record metrics.
			{"sample=1in10", sdktrace.TraceIDRatioBased(0.1)},
		} {
			b.Run(path.String()+"/"+bc.name, func(b *testing.B) { benchmarkTracingOverhead(b, path, bc.sampler) })
		}
	}
}

func benchmarkTracingOverhead(b *testing.B, path routing.DataPath, sampler sdktrace.Sampler) {
	h := newBenchHarness(b)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithBatcher(discardExporter{}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer tp.Shutdown(context.Background())
	defer mp.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	traced, err := mesh.New(ctx, "xds:///"+listenerName, mesh.WithBootstrap(h.cp.Bootstrap()), mesh.WithDataPath(path),
		mesh.WithTracerProvider(tp), mesh.WithMeterProvider(mp), mesh.WithPropagators(w3c))
	if err != nil {
		b.Fatal(err)
	}
	defer traced.Close()
	plain, err := mesh.New(ctx, "xds:///"+listenerName, mesh.WithBootstrap(h.cp.Bootstrap()), mesh.WithDataPath(path), mesh.WithoutTelemetry())
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	for _, m := range []*mesh.Mesh{traced, plain} {
		if err := m.WaitReady(ctx); err != nil {
			b.Fatal(err)
		}
	}
	on := startBenchProducer(b, traced)
	off := startBenchProducer(b, plain)

	body := make([]byte, 100)
	send := func(p rocketmq.Producer) time.Duration {
		start := time.Now()
		if _, err := p.SendSync(context.Background(), primitive.NewMessage("orders", body)); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	send(on) // warm both routes before timing
	send(off)
	onTimes := make([]time.Duration, 0, b.N)
	offTimes := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			onTimes = append(onTimes, send(on))
			offTimes = append(offTimes, send(off))
		} else {
			offTimes = append(offTimes, send(off))
			onTimes = append(onTimes, send(on))
		}
	}
	b.StopTimer()
	// Allocations are counted apart from the timing: reading them stops the
	// world.
	allocs := func(p rocketmq.Producer) float64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		before := ms.Mallocs
		for range b.N {
			send(p)
		}
		runtime.ReadMemStats(&ms)
		return float64(ms.Mallocs-before) / float64(b.N)
	}
	// The machine is shared: a stall of a few milliseconds in either
	// producer's send moves a mean by more than tracing costs, so the
	// medians are reported beside the means.
	onMean, offMean := mean(onTimes), mean(offTimes)
	onMedian, offMedian := median(onTimes), median(offTimes)
	b.ReportMetric(float64(onMedian.Nanoseconds()), "on-p50-ns/send")
	b.ReportMetric(float64(offMedian.Nanoseconds()), "off-p50-ns/send")
	b.ReportMetric(float64(offMedian)/float64(onMedian), "on/off-p50-throughput")
	b.ReportMetric(float64(offMean)/float64(onMean), "on/off-mean-throughput")
	b.ReportMetric(allocs(on), "on-allocs/send")
	b.ReportMetric(allocs(off), "off-allocs/send")
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(max(len(ds), 1))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func startBenchProducer(b *testing.B, m *mesh.Mesh) rocketmq.Producer {
	b.Helper()
	p, err := m.NewProducer(producer.WithGroupName(uniqueName("bench")))
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Shutdown() })
	return p
}
