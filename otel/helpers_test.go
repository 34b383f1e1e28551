package otel_test

import (
	"context"
	"sync"
	"testing"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
	"github.com/rmqmesh/rmqmesh/otel/oteltest"
)

// w3c is the default propagators, given explicitly so tests never depend on
// the global one.
var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// recorder is a Telemetry wired to an oteltest.Recorder.
type recorder struct {
	*oteltest.Recorder
	tel *rmqotel.Telemetry
	tp  *sdktrace.TracerProvider
}

func newRecorder(t *testing.T, opts ...rmqotel.Option) *recorder {
	t.Helper()
	rec := oteltest.New(t)
	r := &recorder{Recorder: rec, tp: rec.TracerProvider}
	r.tel = rmqotel.New(append([]rmqotel.Option{
		rmqotel.WithTracerProvider(rec.TracerProvider), rmqotel.WithMeterProvider(rec.MeterProvider), rmqotel.WithPropagators(w3c),
	}, opts...)...)
	return r
}

func (r *recorder) ended(name string) []sdktrace.ReadOnlySpan { return r.Ended(name) }

func (r *recorder) waitEnded(t *testing.T, name string, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	return r.WaitEnded(t, name, n)
}

func (r *recorder) metrics(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	return r.Metrics(t)
}

var (
	spanNames      = oteltest.Names
	sum            = oteltest.Sum
	histogramCount = oteltest.HistogramCount
	checkAttrs     = oteltest.CheckAttrs
)

// attrs returns a span's attributes as a map.
func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value
	}
	return m
}

// contextOf extracts the W3C context a message carries.
func contextOf(m *primitive.Message) trace.SpanContext {
	return trace.SpanContextFromContext(w3c.Extract(context.Background(), rmqotel.MessageCarrier{Msg: m}))
}

// javaTraceparent builds a traceparent property value exactly as the Java
// agent's RocketMQ instrumentation writes it: the W3C propagator's
// "00-{trace id}-{span id}-{flags}" under the key "traceparent".
func javaTraceparent(sc trace.SpanContext) (key, value string) {
	return "traceparent", "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

func remoteContext(traceHex, spanHex string) trace.SpanContext {
	tid, _ := trace.TraceIDFromHex(traceHex)
	sid, _ := trace.SpanIDFromHex(spanHex)
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
}

// fakeProducer stands in for the official producer where a test needs answers
// a broker cannot give (a callback that never comes). Request and RequestAsync
// are not faked: the official type of RequestAsync's callback is internal.
type fakeProducer struct {
	rocketmq.Producer
	result    *primitive.SendResult
	err       error
	callAsync bool // SendAsync calls back (with result, err) when set
	mu        sync.Mutex
	sent      [][]*primitive.Message
}

func (f *fakeProducer) record(msgs []*primitive.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, msgs)
}

func (f *fakeProducer) SendSync(_ context.Context, msgs ...*primitive.Message) (*primitive.SendResult, error) {
	f.record(msgs)
	return f.result, f.err
}

func (f *fakeProducer) SendOneWay(_ context.Context, msgs ...*primitive.Message) error {
	f.record(msgs)
	return f.err
}

func (f *fakeProducer) SendAsync(ctx context.Context, cb func(context.Context, *primitive.SendResult, error), msgs ...*primitive.Message) error {
	f.record(msgs)
	if f.callAsync {
		go func() {
			cb(ctx, f.result, f.err)
			cb(ctx, f.result, f.err) // a second call must not end the span twice
		}()
	}
	return nil
}

// fakePushConsumer keeps the callbacks subscribed so a test can deliver
// messages to them as the official client would.
type fakePushConsumer struct {
	rocketmq.PushConsumer
	mu        sync.Mutex
	callbacks map[string]rmqotel.ConsumeFunc
}

func (f *fakePushConsumer) Subscribe(topic string, _ consumer.MessageSelector, cb func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.callbacks == nil {
		f.callbacks = map[string]rmqotel.ConsumeFunc{}
	}
	f.callbacks[topic] = cb
	return nil
}

// deliver calls topic's callback with msgs and the context the official push
// consumer gives it.
func (f *fakePushConsumer) deliver(topic string, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	f.mu.Lock()
	cb := f.callbacks[topic]
	f.mu.Unlock()
	ctx := primitive.WithConsumerCtx(context.Background(), &primitive.ConsumeMessageContext{
		ConsumerGroup: "billing",
		MQ:            &primitive.MessageQueue{Topic: topic, BrokerName: "broker-a", QueueId: 2},
		Msgs:          msgs,
		Properties:    map[string]string{},
	})
	return cb(ctx, msgs...)
}

func newMessageExt(topic, body string, props map[string]string) *primitive.MessageExt {
	m := &primitive.MessageExt{MsgId: "7F0000010000" + body, StoreHost: "127.0.0.1:10911",
		Message: primitive.Message{Topic: topic, Body: []byte(body), Queue: &primitive.MessageQueue{Topic: topic, BrokerName: "broker-a", QueueId: 2}}}
	m.WithProperties(props)
	return m
}

// fakePullConsumer answers PullFrom with its results in order, then with err.
type fakePullConsumer struct {
	rocketmq.PullConsumer
	results []*primitive.PullResult
	err     error
}

func (f *fakePullConsumer) PullFrom(context.Context, *primitive.MessageQueue, int64, int) (*primitive.PullResult, error) {
	if f.err != nil {
		return nil, f.err
	}
	r := f.results[0]
	f.results = f.results[1:]
	return r, nil
}
