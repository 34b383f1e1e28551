package otel_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/rmqmesh/rmqmesh/meshtest"
	rmqotel "github.com/rmqmesh/rmqmesh/otel"
)

// okResult is what the official client returns for a message stored on queue 3
// of broker-a at 127.0.0.1:10911.
func okResult(n int) *primitive.SendResult {
	ids := "UNIQ-1"
	for i := 2; i <= n; i++ {
		ids += fmt.Sprintf(",UNIQ-%d", i)
	}
	return &primitive.SendResult{
		Status: primitive.SendOK, MsgID: ids, QueueOffset: 7,
		MessageQueue: &primitive.MessageQueue{Topic: "orders", BrokerName: "broker-a", QueueId: 3},
		OffsetMsgID:  primitive.CreateMessageId([]byte{127, 0, 0, 1}, 10911, 4242),
	}
}

func TestProducer_SendSyncSpanAttributesAndContext(t *testing.T) {
	r := newRecorder(t)
	p := r.tel.WrapProducer(&fakeProducer{result: okResult(1)}, rmqotel.ClientInfo{Group: "pg", Namespace: "ns1", ClientID: "10.0.0.1@app"})
	msg := primitive.NewMessage("ns1%orders", []byte("hello")).WithTag("TagA").WithKeys([]string{"k1", "k2"})
	if _, err := p.SendSync(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	spans := r.ended("send orders")
	if len(spans) != 1 {
		t.Fatalf("ended spans %v, want one \"send orders\"", spanNames(r.Spans.Ended()))
	}
	s := spans[0]
	if s.SpanKind() != trace.SpanKindProducer {
		t.Errorf("kind %v, want producer", s.SpanKind())
	}
	if s.InstrumentationScope().Name != rmqotel.ScopeName || s.InstrumentationScope().Version != rmqotel.Version() || s.InstrumentationScope().SchemaURL != semconv.SchemaURL {
		t.Errorf("scope %+v, want %s %s %s", s.InstrumentationScope(), rmqotel.ScopeName, rmqotel.Version(), semconv.SchemaURL)
	}
	checkAttrs(t, s,
		semconv.MessagingSystemRocketMQ,
		semconv.MessagingOperationName("send"),
		semconv.MessagingOperationTypeSend,
		semconv.MessagingDestinationName("orders"),
		semconv.MessagingDestinationPartitionID("3"),
		semconv.MessagingMessageID("UNIQ-1"),
		semconv.MessagingClientID("10.0.0.1@app"),
		semconv.MessagingRocketMQNamespace("ns1"),
		semconv.MessagingRocketMQMessageTag("TagA"),
		semconv.MessagingRocketMQMessageKeys("k1", "k2"),
		semconv.MessagingRocketMQMessageTypeNormal,
		semconv.ServerAddress("127.0.0.1"),
		semconv.ServerPort(10911),
	)
	if s.Status().Code != codes.Unset {
		t.Errorf("status %v, want unset", s.Status())
	}
	if got := contextOf(msg); got.TraceID() != s.SpanContext().TraceID() || got.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("message carries %v, want the send span %v", got, s.SpanContext())
	}
	rm := r.metrics(t)
	if n := sum(t, rm, "messaging.client.sent.messages", semconv.MessagingDestinationName("orders"), semconv.MessagingOperationName("send")); n != 1 {
		t.Errorf("messaging.client.sent.messages = %d, want 1", n)
	}
	n, bounds := histogramCount(t, rm, "messaging.client.operation.duration", semconv.MessagingOperationName("send"), semconv.ServerAddress("127.0.0.1"))
	if n != 1 {
		t.Errorf("messaging.client.operation.duration count = %d, want 1", n)
	}
	if !slices.Equal(bounds, rmqotel.DurationBuckets) {
		t.Errorf("duration buckets %v, want %v", bounds, rmqotel.DurationBuckets)
	}
}

func TestProducer_MessageTypes(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  *primitive.Message
		want []attribute.KeyValue
	}{
		{"delay", primitive.NewMessage("orders", nil).WithDelayTimeLevel(3),
			[]attribute.KeyValue{semconv.MessagingRocketMQMessageTypeDelay, semconv.MessagingRocketMQMessageDelayTimeLevel(3)}},
		{"fifo", primitive.NewMessage("orders", nil).WithShardingKey("customer-42"),
			[]attribute.KeyValue{semconv.MessagingRocketMQMessageTypeFifo, semconv.MessagingRocketMQMessageGroup("customer-42")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(t)
			p := r.tel.WrapProducer(&fakeProducer{result: okResult(1)}, rmqotel.ClientInfo{})
			if _, err := p.SendSync(context.Background(), tc.msg); err != nil {
				t.Fatal(err)
			}
			checkAttrs(t, r.waitEnded(t, "send orders", 1)[0], tc.want...)
		})
	}
}

func TestProducer_ErrorSpans(t *testing.T) {
	for _, tc := range []struct {
		name, wantType string
		err            error
	}{
		{"response code", "NO_PERMISSION", errors.New("CODE: 16, DESC: the topic[orders] sending message is forbidden")},
		{"response code wrapped by the mesh", "TOPIC_NOT_EXIST", fmt.Errorf("rmqmesh: topic %q: no route (client: %v)", "orders", errors.New("CODE: 17, DESC: topic not exist"))},
		{"deadline", "timeout", context.DeadlineExceeded},
		{"go error", "*fs.PathError", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(t)
			p := r.tel.WrapProducer(&fakeProducer{err: tc.err}, rmqotel.ClientInfo{})
			if _, err := p.SendSync(context.Background(), primitive.NewMessage("orders", nil)); !errors.Is(err, tc.err) {
				t.Fatalf("SendSync error %v, want the client's %v", err, tc.err)
			}
			s := r.waitEnded(t, "send orders", 1)[0]
			if s.Status().Code != codes.Error || s.Status().Description != tc.err.Error() {
				t.Errorf("status %+v, want error %q", s.Status(), tc.err)
			}
			checkAttrs(t, s, semconv.ErrorTypeKey.String(tc.wantType))
			if n := sum(t, r.metrics(t), "messaging.client.sent.messages", semconv.ErrorTypeKey.String(tc.wantType)); n != 1 {
				t.Errorf("sent messages with error.type %s = %d, want 1", tc.wantType, n)
			}
		})
	}
}

func TestProducer_BatchInjectsEveryMessage(t *testing.T) {
	r := newRecorder(t)
	p := r.tel.WrapProducer(&fakeProducer{result: okResult(3)}, rmqotel.ClientInfo{})
	msgs := []*primitive.Message{primitive.NewMessage("orders", []byte("a")), primitive.NewMessage("orders", []byte("b")), primitive.NewMessage("orders", []byte("c"))}
	if _, err := p.SendSync(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
	s := r.waitEnded(t, "send orders", 1)[0]
	checkAttrs(t, s, semconv.MessagingBatchMessageCount(3))
	if _, ok := attrs(s)[semconv.MessagingMessageIDKey]; ok {
		t.Errorf("batch span has a single messaging.message.id")
	}
	for i, m := range msgs {
		if got := contextOf(m); got.SpanID() != s.SpanContext().SpanID() {
			t.Errorf("message %d carries %v, want the send span", i, got)
		}
	}
	if n := sum(t, r.metrics(t), "messaging.client.sent.messages"); n != 3 {
		t.Errorf("sent messages = %d, want 3", n)
	}
}

func TestProducer_SendOneWay(t *testing.T) {
	r := newRecorder(t)
	p := r.tel.WrapProducer(&fakeProducer{}, rmqotel.ClientInfo{})
	msg := primitive.NewMessage("orders", nil)
	if err := p.SendOneWay(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	s := r.waitEnded(t, "send orders", 1)[0]
	if contextOf(msg).SpanID() != s.SpanContext().SpanID() {
		t.Error("oneway message does not carry the send span")
	}
}

func TestProducer_SendAsyncEndsInCallbackOnce(t *testing.T) {
	r := newRecorder(t)
	p := r.tel.WrapProducer(&fakeProducer{result: okResult(1), callAsync: true}, rmqotel.ClientInfo{})
	called := make(chan struct{}, 2)
	err := p.SendAsync(context.Background(), func(context.Context, *primitive.SendResult, error) { called <- struct{}{} }, primitive.NewMessage("orders", nil))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-called:
		case <-time.After(meshtest.DefaultTimeout):
			t.Fatal("callback not called")
		}
	}
	s := r.waitEnded(t, "send orders", 1)
	if len(s) != 1 {
		t.Fatalf("%d spans ended, want 1", len(s))
	}
	checkAttrs(t, s[0], semconv.MessagingMessageID("UNIQ-1"))
	if n := sum(t, r.metrics(t), "messaging.client.sent.messages"); n != 1 {
		t.Errorf("sent messages = %d, want 1 (a second callback must not count again)", n)
	}
}

func TestProducer_SendAsyncCallbackThatNeverComesEndsSpan(t *testing.T) {
	r := newRecorder(t)
	rmqotel.SetCallbackGrace(r.tel, time.Millisecond)
	p := r.tel.WrapProducer(&fakeProducer{}, rmqotel.ClientInfo{}) // never calls back
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.SendAsync(ctx, func(context.Context, *primitive.SendResult, error) {}, primitive.NewMessage("orders", nil)); err != nil {
		t.Fatal(err)
	}
	s := r.waitEnded(t, "send orders", 1)[0]
	if s.Status().Code != codes.Error {
		t.Errorf("status %+v, want error", s.Status())
	}
	checkAttrs(t, s, semconv.ErrorTypeKey.String("timeout"))
}

func TestProducer_SendAsyncSynchronousError(t *testing.T) {
	r := newRecorder(t)
	boom := errors.New("boom")
	p := r.tel.WrapProducer(asyncErrProducer{fakeProducer: &fakeProducer{}, err: boom}, rmqotel.ClientInfo{})
	if err := p.SendAsync(context.Background(), nil, primitive.NewMessage("orders", nil)); !errors.Is(err, boom) {
		t.Fatalf("SendAsync = %v, want %v", err, boom)
	}
	if s := r.ended("send orders"); len(s) != 1 || s[0].Status().Code != codes.Error {
		t.Fatalf("want one error span at once, got %v", spanNames(r.Spans.Ended()))
	}
}

type asyncErrProducer struct {
	*fakeProducer
	err error
}

func (p asyncErrProducer) SendAsync(context.Context, func(context.Context, *primitive.SendResult, error), ...*primitive.Message) error {
	return p.err
}

func TestProducer_DuplicateInstrumentation(t *testing.T) {
	r := newRecorder(t)
	p := r.tel.WrapProducer(&fakeProducer{result: okResult(2)}, rmqotel.ClientInfo{})

	// Another instrumentation (a Java-agent-style hook, the application) put
	// the context of another trace into the first message.
	foreign := remoteContext("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
	k, v := javaTraceparent(foreign)
	first := primitive.NewMessage("orders", []byte("a"))
	first.WithProperty(k, v)
	// The second carries a context of the caller's own trace, as after an
	// earlier attempt to send it: it is replaced by the new send span's.
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "parent")
	defer parent.End()
	second := primitive.NewMessage("orders", []byte("b"))
	w3c.Inject(ctx, rmqotel.MessageCarrier{Msg: second})

	if _, err := p.SendSync(ctx, first, second); err != nil {
		t.Fatal(err)
	}
	s := r.waitEnded(t, "send orders", 1)[0]
	if got := first.GetProperty("traceparent"); got != v {
		t.Errorf("foreign traceparent replaced: %q, want %q", got, v)
	}
	if got := contextOf(second); got.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("same-trace context not replaced by the send span's: %v", got)
	}
	if links := s.Links(); len(links) != 1 || links[0].SpanContext.TraceID() != foreign.TraceID() || links[0].SpanContext.SpanID() != foreign.SpanID() {
		t.Errorf("send span links %v, want one to the foreign context", links)
	}

	// Wrapping twice does not instrument twice.
	if again := r.tel.WrapProducer(p, rmqotel.ClientInfo{}); again != p {
		t.Error("wrapping a wrapped producer wrapped it again")
	}
}

func TestProducer_MalformedContextReplaced(t *testing.T) {
	r := newRecorder(t)
	p := r.tel.WrapProducer(&fakeProducer{result: okResult(1)}, rmqotel.ClientInfo{})
	msg := primitive.NewMessage("orders", nil)
	msg.WithProperty("traceparent", "00-not-a-trace-context")
	if _, err := p.SendSync(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	s := r.waitEnded(t, "send orders", 1)[0]
	if contextOf(msg).SpanID() != s.SpanContext().SpanID() {
		t.Errorf("malformed context kept: %q", msg.GetProperty("traceparent"))
	}
}

func TestProducer_PropagatesBaggage(t *testing.T) {
	r := newRecorder(t)
	p := r.tel.WrapProducer(&fakeProducer{result: okResult(1)}, rmqotel.ClientInfo{})
	msg := primitive.NewMessage("orders", nil)
	ctx := w3c.Extract(context.Background(), rmqotel.PropertiesCarrier{"baggage": "tenant=acme"})
	if _, err := p.SendSync(ctx, msg); err != nil {
		t.Fatal(err)
	}
	if got := msg.GetProperty("baggage"); got != "tenant=acme" {
		t.Errorf("baggage property %q, want tenant=acme", got)
	}
}

// With nothing recording (no SDK behind the providers) the wrapper still
// carries the caller's trace context into the message, and hands the
// caller's callback every answer.
func TestProducer_OffStillPropagatesAndCallsBack(t *testing.T) {
	p := offTelemetry().WrapProducer(&fakeProducer{result: okResult(1), callAsync: true}, rmqotel.ClientInfo{})
	parent := remoteContext("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
	msg := primitive.NewMessage("orders", nil)
	got := make(chan *primitive.SendResult, 2)
	err := p.SendAsync(trace.ContextWithRemoteSpanContext(context.Background(), parent), func(_ context.Context, res *primitive.SendResult, _ error) { got <- res }, msg)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the fake calls back twice
		select {
		case res := <-got:
			if res == nil || res.MsgID != "UNIQ-1" {
				t.Errorf("callback got %+v, want the producer's result", res)
			}
		case <-time.After(meshtest.DefaultTimeout):
			t.Fatal("callback not called")
		}
	}
	if sc := contextOf(msg); sc.TraceID() != parent.TraceID() {
		t.Errorf("message carries trace %s, want the caller's %s", sc.TraceID(), parent.TraceID())
	}
}

// Metrics without tracing are not "nothing recording": an async send is
// still measured when its callback comes.
func TestProducer_MetricsWithoutTracing(t *testing.T) {
	r := newRecorder(t)
	tel := rmqotel.New(rmqotel.WithTracerProvider(tracenoop.NewTracerProvider()), rmqotel.WithMeterProvider(r.MeterProvider), rmqotel.WithPropagators(w3c))
	p := tel.WrapProducer(&fakeProducer{result: okResult(1), callAsync: true}, rmqotel.ClientInfo{})
	done := make(chan struct{}, 2)
	if err := p.SendAsync(context.Background(), func(context.Context, *primitive.SendResult, error) { done <- struct{}{} }, primitive.NewMessage("orders", nil)); err != nil {
		t.Fatal(err)
	}
	<-done
	<-done
	if n := sum(t, r.metrics(t), "messaging.client.sent.messages"); n != 1 {
		t.Errorf("sent messages = %d, want 1", n)
	}
	if n, _ := histogramCount(t, r.metrics(t), "messaging.client.operation.duration"); n != 1 {
		t.Errorf("operation durations recorded = %d, want 1", n)
	}
}

// Instrumentation an application did not turn on costs a send few
// allocations (BenchmarkWrapperSend measures the time). Allocation counts are
// deterministic, so the bound is asserted here.
func TestProducer_OffCostsFewAllocations(t *testing.T) {
	// The span start the wrapper cannot know to skip (name, options, the
	// global tracer's non-recording span and context), and the send's state.
	maxOffAllocs := 6.0
	if raceDetector {
		// The detector's instrumentation makes one more value of the global
		// providers' path escape; .ci/run asserts the 6 without -race.
		maxOffAllocs++
	}
	fake := benchProducer{fakeProducer: &fakeProducer{}, result: okResult(1)}
	msg := primitive.NewMessage("orders", nil)
	cb := func(context.Context, *primitive.SendResult, error) {}
	// "global" is what an application that set up no SDK gets: the global
	// providers, whose instruments are delegates waiting for one (no test of
	// this package sets them).
	for tel, telemetry := range map[string]*rmqotel.Telemetry{"no-op": offTelemetry(), "global": rmqotel.New(rmqotel.WithPropagators(w3c))} {
		p := telemetry.WrapProducer(fake, rmqotel.ClientInfo{Group: "pg"})
		for name, send := range map[string]func(){
			"SendSync":  func() { _, _ = p.SendSync(context.Background(), msg) },
			"SendAsync": func() { _ = p.SendAsync(context.Background(), cb, msg) },
		} {
			if n := testing.AllocsPerRun(1000, send); n > maxOffAllocs {
				t.Errorf("%s providers: %s with nothing recording allocates %v times, want at most %v", tel, name, n, maxOffAllocs)
			}
		}
	}
}
