package otel_test

import (
	"context"
	"testing"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// BenchmarkWrapperSend measures what the producer wrapper adds to one send,
// without a broker: a fake producer answers at once (SendAsync calls back
// before returning), so ns/op and allocs/op are the instrumentation's own.
// "bare" is the fake alone; "traced" has the SDK sampling every span into a
// batch processor, context injection and two metrics; "unsampled" is the same
// with a sampler that records nothing: what is left is this package's own
// work (attributes, context injection, metrics) and the SDK's cheapest path,
// what most sends cost under head sampling; "off" has the wrapper with nothing
// recording, as an application that set up no OpenTelemetry SDK gets it. Goal
// for "off": a fraction of a microsecond and at most 6 allocations
// (TestProducer_OffCostsFewAllocations).
//
//	go test -run '^$' -bench WrapperSend -benchmem ./otel/
func BenchmarkWrapperSend(b *testing.B) {
	fake := benchProducer{fakeProducer: &fakeProducer{}, result: okResult(1)}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	info := rmqotel.ClientInfo{Group: "pg", ClientID: "10.0.0.1@rmqmesh-1234-1"}
	sampled := func(s sdktrace.Sampler) rocketmq.Producer {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s), sdktrace.WithBatcher(discard{}))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return rmqotel.New(rmqotel.WithTracerProvider(tp), rmqotel.WithMeterProvider(mp), rmqotel.WithPropagators(w3c)).WrapProducer(fake, info)
	}
	body := make([]byte, 100)
	callback := func(context.Context, *primitive.SendResult, error) {}
	for _, bc := range []struct {
		name string
		p    rocketmq.Producer
	}{
		{"bare", fake},
		{"off", offTelemetry().WrapProducer(fake, info)},
		{"traced", sampled(sdktrace.AlwaysSample())},
		{"unsampled", sampled(sdktrace.NeverSample())},
	} {
		b.Run(bc.name+"/sync", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = bc.p.SendSync(context.Background(), primitive.NewMessage("orders", body))
			}
		})
		b.Run(bc.name+"/async", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bc.p.SendAsync(context.Background(), callback, primitive.NewMessage("orders", body))
			}
		})
	}
}

// offTelemetry is instrumentation with nothing recording: no-op providers,
// as the global ones are until an application sets an SDK.
func offTelemetry() *rmqotel.Telemetry {
	return rmqotel.New(rmqotel.WithTracerProvider(tracenoop.NewTracerProvider()), rmqotel.WithMeterProvider(metricnoop.NewMeterProvider()), rmqotel.WithPropagators(w3c))
}

// benchProducer answers every send at once and keeps nothing.
type benchProducer struct {
	*fakeProducer
	result *primitive.SendResult
}

func (p benchProducer) SendSync(context.Context, ...*primitive.Message) (*primitive.SendResult, error) {
	return p.result, nil
}

func (p benchProducer) SendAsync(ctx context.Context, f func(context.Context, *primitive.SendResult, error), _ ...*primitive.Message) error {
	f(ctx, p.result, nil)
	return nil
}

type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkRelayCounters measures what the relay's tracing link adds to every
// relayed request when per-RPC spans are off: one rmqmesh.relay.requests
// increment (and a failover check) on the SDK's meter.
//
//	go test -run '^$' -bench RelayCounters -benchmem ./otel/
func BenchmarkRelayCounters(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	tel := rmqotel.New(rmqotel.WithMeterProvider(mp))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tel.RelayRequest(ctx, remoting.CodeSendMessage, "brokers", "10.0.0.1:10911")
		tel.RelayFailovers(ctx, remoting.CodeSendMessage, "brokers", 0)
	}
}
