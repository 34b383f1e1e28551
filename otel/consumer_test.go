package otel_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
)

func TestPushConsumer_ProcessSpanContinuesJavaProducersTrace(t *testing.T) {
	r := newRecorder(t)
	fc := &fakePushConsumer{}
	c := r.tel.WrapPushConsumer(fc, rmqotel.ClientInfo{Group: "billing", ClientID: "10.0.0.2@app"})
	var inCallback trace.SpanContext
	var member string
	err := c.Subscribe("orders", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		inCallback = trace.SpanContextFromContext(ctx)
		member = baggage.FromContext(ctx).Member("tenant").Value()
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Properties exactly as the Java agent writes them into a message.
	producer := remoteContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	k, v := javaTraceparent(producer)
	msg := newMessageExt("orders", "m1", map[string]string{k: v, "baggage": "tenant=acme", "TAGS": "TagA"})
	if _, err := fc.deliver("orders", msg); err != nil {
		t.Fatal(err)
	}
	s := r.waitEnded(t, "process orders", 1)[0]
	if s.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("kind %v, want consumer", s.SpanKind())
	}
	if s.Parent().SpanID() != producer.SpanID() || s.SpanContext().TraceID() != producer.TraceID() {
		t.Errorf("process span parent %v trace %v, want the producer's %v", s.Parent(), s.SpanContext().TraceID(), producer)
	}
	if inCallback.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("callback ctx carries %v, want the process span", inCallback)
	}
	if member != "acme" {
		t.Errorf("baggage in the callback %q, want acme", member)
	}
	checkAttrs(t, s,
		semconv.MessagingSystemRocketMQ,
		semconv.MessagingOperationName("process"),
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingDestinationName("orders"),
		semconv.MessagingDestinationPartitionID("2"),
		semconv.MessagingConsumerGroupName("billing"),
		semconv.MessagingClientID("10.0.0.2@app"),
		semconv.MessagingMessageID("7F0000010000m1"),
		semconv.MessagingRocketMQMessageTag("TagA"),
		semconv.MessagingRocketMQConsumptionModelClustering,
		semconv.ServerAddress("127.0.0.1"),
		semconv.ServerPort(10911),
	)
	rm := r.metrics(t)
	if n := sum(t, rm, "messaging.client.consumed.messages", semconv.MessagingConsumerGroupName("billing")); n != 1 {
		t.Errorf("consumed messages = %d, want 1", n)
	}
	if n, _ := histogramCount(t, rm, "messaging.process.duration", semconv.MessagingOperationName("process")); n != 1 {
		t.Errorf("process duration count = %d, want 1", n)
	}
}

func TestPushConsumer_ResultsAndErrors(t *testing.T) {
	boom := errors.New("handler failed")
	for _, tc := range []struct {
		name     string
		result   consumer.ConsumeResult
		err      error
		wantErr  bool
		wantType string
	}{
		{"success", consumer.ConsumeSuccess, nil, false, ""},
		{"orderly commit", consumer.Commit, nil, false, ""},
		{"retry later", consumer.ConsumeRetryLater, nil, true, "ConsumeRetryLater"},
		{"orderly suspend", consumer.SuspendCurrentQueueAMoment, nil, true, "SuspendCurrentQueueAMoment"},
		{"orderly rollback", consumer.Rollback, nil, true, "Rollback"},
		{"error", consumer.ConsumeRetryLater, boom, true, "*errors.errorString"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(t)
			fc := &fakePushConsumer{}
			c := r.tel.WrapPushConsumer(fc, rmqotel.ClientInfo{})
			_ = c.Subscribe("orders", consumer.MessageSelector{}, func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
				return tc.result, tc.err
			})
			res, err := fc.deliver("orders", newMessageExt("orders", "m", nil))
			if res != tc.result || !errors.Is(err, tc.err) {
				t.Fatalf("callback returned (%v, %v) through the wrapper, want (%v, %v)", res, err, tc.result, tc.err)
			}
			s := r.waitEnded(t, "process orders", 1)[0]
			if got := s.Status().Code == codes.Error; got != tc.wantErr {
				t.Errorf("error status %v, want %v", got, tc.wantErr)
			}
			if tc.wantErr {
				checkAttrs(t, s, semconv.ErrorTypeKey.String(tc.wantType))
			}
		})
	}
}

func TestPushConsumer_PanicEndsSpanAndPropagates(t *testing.T) {
	r := newRecorder(t)
	fc := &fakePushConsumer{}
	c := r.tel.WrapPushConsumer(fc, rmqotel.ClientInfo{})
	_ = c.Subscribe("orders", consumer.MessageSelector{}, func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		panic("handler bug")
	})
	func() {
		defer func() {
			if r := recover(); r != "handler bug" {
				t.Errorf("recovered %v, want the callback's panic", r)
			}
		}()
		_, _ = fc.deliver("orders", newMessageExt("orders", "m", nil))
	}()
	s := r.waitEnded(t, "process orders", 1)[0]
	if s.Status().Code != codes.Error {
		t.Errorf("status %+v, want error", s.Status())
	}
}

func TestPushConsumer_BatchLinksEveryMessage(t *testing.T) {
	r := newRecorder(t)
	fc := &fakePushConsumer{}
	c := r.tel.WrapPushConsumer(fc, rmqotel.ClientInfo{})
	_ = c.Subscribe("orders", consumer.MessageSelector{}, func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		return consumer.ConsumeSuccess, nil
	})
	a := remoteContext("11111111111111111111111111111111", "1111111111111111")
	b := remoteContext("22222222222222222222222222222222", "2222222222222222")
	ka, va := javaTraceparent(a)
	kb, vb := javaTraceparent(b)
	msgs := []*primitive.MessageExt{
		newMessageExt("orders", "a", map[string]string{ka: va}),
		newMessageExt("orders", "b", map[string]string{kb: vb}),
		newMessageExt("orders", "c", nil), // no context: nothing to link
	}
	if _, err := fc.deliver("orders", msgs...); err != nil {
		t.Fatal(err)
	}
	s := r.waitEnded(t, "process orders", 1)[0]
	if s.Parent().IsValid() {
		t.Errorf("batch process span has parent %v, want a root with links", s.Parent())
	}
	links := s.Links()
	if len(links) != 2 || links[0].SpanContext.SpanID() != a.SpanID() || links[1].SpanContext.SpanID() != b.SpanID() {
		t.Errorf("links %v, want one to each message's context", links)
	}
	checkAttrs(t, s, semconv.MessagingBatchMessageCount(3))
	if n := sum(t, r.metrics(t), "messaging.client.consumed.messages"); n != 3 {
		t.Errorf("consumed messages = %d, want 3", n)
	}
}

func TestPushConsumer_BadTraceProperties(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"malformed", "00-zz-not-hex-01"},
		{"wrong version format", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"oversized", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" + strings.Repeat("x", 9000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRecorder(t)
			fc := &fakePushConsumer{}
			c := r.tel.WrapPushConsumer(fc, rmqotel.ClientInfo{})
			var body string
			_ = c.Subscribe("orders", consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
				body = string(msgs[0].Body)
				return consumer.ConsumeSuccess, nil
			})
			msg := newMessageExt("orders", "payload", map[string]string{"traceparent": tc.value})
			if _, err := fc.deliver("orders", msg); err != nil {
				t.Fatal(err)
			}
			s := r.waitEnded(t, "process orders", 1)[0]
			if s.Parent().IsValid() {
				t.Errorf("span continued a bad context: parent %v", s.Parent())
			}
			if body != "payload" || msg.GetProperty("traceparent") != tc.value {
				t.Errorf("message changed: body %q, traceparent %.40q", body, msg.GetProperty("traceparent"))
			}
		})
	}
}

func TestPullConsumer_ReceiveSpans(t *testing.T) {
	r := newRecorder(t)
	a := remoteContext("33333333333333333333333333333333", "3333333333333333")
	k, v := javaTraceparent(a)
	res := &primitive.PullResult{Status: primitive.PullFound}
	res.SetMessageExts([]*primitive.MessageExt{newMessageExt("orders", "a", map[string]string{k: v}), newMessageExt("orders", "b", nil)})
	fc := &fakePullConsumer{results: []*primitive.PullResult{{Status: primitive.PullNoNewMsg}, res}}
	c := r.tel.WrapPullConsumer(fc, rmqotel.ClientInfo{Group: "reader"})
	q := &primitive.MessageQueue{Topic: "orders", BrokerName: "broker-a", QueueId: 1}
	for range 2 {
		if _, err := c.PullFrom(context.Background(), q, 0, 32); err != nil {
			t.Fatal(err)
		}
	}
	spans := r.waitEnded(t, "receive orders", 1)
	if len(spans) != 1 {
		t.Fatalf("%d receive spans, want 1 (an empty pull records none)", len(spans))
	}
	s := spans[0]
	if s.SpanKind() != trace.SpanKindClient {
		t.Errorf("kind %v, want client", s.SpanKind())
	}
	checkAttrs(t, s, semconv.MessagingOperationTypeReceive, semconv.MessagingBatchMessageCount(2),
		semconv.MessagingConsumerGroupName("reader"), semconv.MessagingDestinationPartitionID("1"))
	if l := s.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != a.SpanID() {
		t.Errorf("links %v, want one to the first message's context", l)
	}
	if n := sum(t, r.metrics(t), "messaging.client.consumed.messages", semconv.MessagingOperationName("receive")); n != 2 {
		t.Errorf("consumed messages = %d, want 2", n)
	}

	fc.err = errors.New("CODE: 24, DESC: the consumer's group info not exist")
	if _, err := c.PullFrom(context.Background(), q, 0, 32); err == nil {
		t.Fatal("PullFrom succeeded, want the fake's error")
	}
	spans = r.waitEnded(t, "receive orders", 2)
	checkAttrs(t, spans[1], semconv.ErrorTypeKey.String("SUBSCRIPTION_NOT_EXIST"))
}
