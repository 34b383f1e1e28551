package otel_test

import (
	"context"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// BenchmarkWrapperSendSync measures what the producer wrapper adds to one
// send, without a broker: a fake producer answers at once, so ns/op and
// allocs/op are the instrumentation's own (span with the SDK sampling every
// span into a batch processor, context injection, two metrics).
//
//	go test -run '^$' -bench WrapperSendSync -benchmem ./otel/
//
// "unsampled" is the same with a sampler that records nothing: what is left
// is this package's own work (attributes, context injection, metrics) and the
// SDK's cheapest path, what most sends cost under head sampling.
func BenchmarkWrapperSendSync(b *testing.B) {
	fake := benchProducer{fakeProducer: &fakeProducer{}, result: okResult(1)}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	info := rmqotel.ClientInfo{Group: "pg", ClientID: "10.0.0.1@rmqmesh-1234-1"}
	body := make([]byte, 100)
	for _, bc := range []struct {
		name    string
		sampler sdktrace.Sampler // nil: the bare producer
	}{{"bare", nil}, {"traced", sdktrace.AlwaysSample()}, {"unsampled", sdktrace.NeverSample()}} {
		b.Run(bc.name, func(b *testing.B) {
			var send func(*primitive.Message)
			if bc.sampler != nil {
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(bc.sampler), sdktrace.WithBatcher(discard{}))
				defer tp.Shutdown(context.Background())
				tel := rmqotel.New(rmqotel.WithTracerProvider(tp), rmqotel.WithMeterProvider(mp), rmqotel.WithPropagators(w3c))
				w := tel.WrapProducer(fake, info)
				send = func(m *primitive.Message) { _, _ = w.SendSync(context.Background(), m) }
			} else {
				send = func(m *primitive.Message) { _, _ = fake.SendSync(context.Background(), m) }
			}
			b.ReportAllocs()
			for b.Loop() {
				send(primitive.NewMessage("orders", body))
			}
		})
	}
}

// benchProducer answers every send at once and keeps nothing.
type benchProducer struct {
	*fakeProducer
	result *primitive.SendResult
}

func (p benchProducer) SendSync(context.Context, ...*primitive.Message) (*primitive.SendResult, error) {
	return p.result, nil
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
