package otel_test

import (
	"context"
	"errors"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// TestRPC_NestsUnderTheSendSpanOfItsMessage drives the relay's hook as the
// relay will: with the decoded properties of the send request the producer
// wrapper injected.
func TestRPC_NestsUnderTheSendSpanOfItsMessage(t *testing.T) {
	r := newRecorder(t, rmqotel.WithRPCSpans(true))
	p := r.tel.WrapProducer(&fakeProducer{result: okResult(1)}, rmqotel.ClientInfo{})
	msg := primitive.NewMessage("orders", nil)
	if _, err := p.SendSync(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	send := r.waitEnded(t, "send orders", 1)[0]

	// The properties as the relay reads them from the request: wire form.
	props := remoting.FormatProperties(msg.GetProperties())
	ctx := context.Background()
	_, first := r.tel.StartRPC(ctx, rmqotel.RPC{
		Code: remoting.CodeSendMessageV2, Topic: "orders", Cluster: "brokers", Endpoint: "127.0.0.1:10911", Attempt: 1,
		Properties: props,
	})
	first.Failover("127.0.0.1:10921", errors.New("connection reset"))
	first.End(0, errors.New("connection reset"))
	_, second := r.tel.StartRPC(ctx, rmqotel.RPC{
		Code: remoting.CodeSendMessageV2, Topic: "orders", Cluster: "brokers", Endpoint: "127.0.0.1:10921", Attempt: 2,
		Properties: props,
	})
	second.End(remoting.Success, nil)
	second.End(remoting.SystemError, nil) // a second end changes nothing
	r.tel.RelayRequest(ctx, remoting.CodeSendMessageV2, "brokers", "127.0.0.1:10921")
	r.tel.RelayFailovers(ctx, remoting.CodeSendMessageV2, "brokers", 1)

	spans := r.waitEnded(t, "SEND_MESSAGE_V2 orders", 2)
	for i, s := range spans {
		if s.SpanKind() != trace.SpanKindClient {
			t.Errorf("rpc %d kind %v, want client", i, s.SpanKind())
		}
		if s.Parent().SpanID() != send.SpanContext().SpanID() {
			t.Errorf("rpc %d parent %v, want the send span %v", i, s.Parent(), send.SpanContext())
		}
		checkAttrs(t, s, rmqotel.RequestCodeKey.String("SEND_MESSAGE_V2"), rmqotel.ClusterKey.String("brokers"),
			rmqotel.AttemptKey.Int(i+1), semconv.MessagingDestinationName("orders"), semconv.ServerAddress("127.0.0.1"))
	}
	if ev := spans[0].Events(); len(ev) != 1 || ev[0].Name != "failover" {
		t.Errorf("first attempt events %v, want one failover", ev)
	}
	if spans[0].Status().Code != codes.Error || spans[1].Status().Code == codes.Error {
		t.Errorf("statuses %v, %v: want the failed attempt in error and the second not", spans[0].Status(), spans[1].Status())
	}
	if len(r.ended("SEND_MESSAGE_V2 orders")) != 2 {
		t.Errorf("spans %v, want two", spanNames(r.Spans.Ended()))
	}
	rm := r.metrics(t)
	if n := sum(t, rm, rmqotel.MetricRelayRequests, rmqotel.RequestCodeKey.String("SEND_MESSAGE_V2"), rmqotel.UpstreamKey.String("127.0.0.1:10921")); n != 1 {
		t.Errorf("%s = %d, want 1", rmqotel.MetricRelayRequests, n)
	}
	if n := sum(t, rm, rmqotel.MetricRelayFailovers, rmqotel.ClusterKey.String("brokers")); n != 1 {
		t.Errorf("%s = %d, want 1", rmqotel.MetricRelayFailovers, n)
	}
}

func TestRPC_ResponseCodes(t *testing.T) {
	r := newRecorder(t, rmqotel.WithRPCSpans(true))
	for _, code := range []int32{remoting.PullNotFound, remoting.NoPermission} {
		_, s := r.tel.StartRPC(context.Background(), rmqotel.RPC{Code: remoting.CodePullMessage, Topic: "orders"})
		s.End(code, nil)
	}
	spans := r.waitEnded(t, "PULL_MESSAGE orders", 2)
	if spans[0].Status().Code == codes.Error {
		t.Error("PULL_NOT_FOUND, a normal answer to a long poll, marked as an error")
	}
	if spans[1].Status().Code != codes.Error {
		t.Error("NO_PERMISSION not marked as an error")
	}
	checkAttrs(t, spans[1], semconv.ErrorTypeKey.String("NO_PERMISSION"), rmqotel.ResponseCodeKey.String("NO_PERMISSION"))
}

func TestRPC_OffByDefault(t *testing.T) {
	r := newRecorder(t)
	ctx, s := r.tel.StartRPC(context.Background(), rmqotel.RPC{Code: remoting.CodeHeartBeat, Endpoint: "127.0.0.1:10911"})
	if s != nil {
		t.Error("StartRPC returned a span without WithRPCSpans")
	}
	s.Failover("x", nil) // a nil span's methods do nothing
	s.End(remoting.Success, nil)
	if trace.SpanContextFromContext(ctx).IsValid() || len(r.Spans.Ended()) != 0 {
		t.Errorf("per-RPC span recorded without WithRPCSpans: %v", spanNames(r.Spans.Ended()))
	}
	if r.tel.RPCSpans() {
		t.Error("RPCSpans() is true by default")
	}
}

// TestRelayCounters: the relay's counters count with spans off, and they and
// the routing decisions (counted per send) cost no allocation once an
// attribute combination has been seen.
func TestRelayCounters(t *testing.T) {
	r := newRecorder(t)
	ctx := context.Background()
	count := func() {
		r.tel.RelayRequest(ctx, remoting.CodeHeartBeat, "brokers", "127.0.0.1:10911")
		r.tel.RelayFailovers(ctx, remoting.CodeSendMessage, "brokers", 2)
		r.tel.RoutingDecision(ctx, "brokers", rmqotel.OutcomeRouted)
	}
	count()
	if n := testing.AllocsPerRun(100, count); n != 0 {
		t.Errorf("relay counters allocate %v times per request", n)
	}
	rm := r.metrics(t)
	if n := sum(t, rm, rmqotel.MetricRelayRequests, rmqotel.RequestCodeKey.String("HEART_BEAT"), rmqotel.ClusterKey.String("brokers"), rmqotel.UpstreamKey.String("127.0.0.1:10911")); n != 102 {
		t.Errorf("%s = %d, want 102", rmqotel.MetricRelayRequests, n)
	}
	if n := sum(t, rm, rmqotel.MetricRelayFailovers, rmqotel.RequestCodeKey.String("SEND_MESSAGE")); n != 204 {
		t.Errorf("%s = %d, want 204", rmqotel.MetricRelayFailovers, n)
	}
}

// TestRPC_ParentWithoutTraceProperties: without trace properties the span is a
// child of ctx's; malformed trace properties are ignored.
func TestRPC_ParentWithoutTraceProperties(t *testing.T) {
	r := newRecorder(t, rmqotel.WithRPCSpans(true))
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "outer")
	for _, props := range []string{"", "traceparent\x01garbage\x02", "UNIQ_KEY\x01x"} {
		_, s := r.tel.StartRPC(ctx, rmqotel.RPC{Code: remoting.CodePullMessage, Topic: "orders", Properties: props})
		s.End(remoting.PullNotFound, nil)
	}
	parent.End()
	for _, s := range r.waitEnded(t, "PULL_MESSAGE orders", 3) {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("parent %v, want ctx's span", s.Parent())
		}
	}
}

func TestMeshMetrics(t *testing.T) {
	r := newRecorder(t)
	ctx := context.Background()
	for range 3 {
		r.tel.RoutingDecision(ctx, "brokers", rmqotel.OutcomeRouted)
	}
	r.tel.RoutingDecision(ctx, "", rmqotel.OutcomeFallback)
	r.tel.XDSUpdate(ctx, "Cluster", 2, 1)
	r.tel.Ejection(ctx, "brokers", "127.0.0.1:10911")
	rm := r.metrics(t)
	for _, c := range []struct {
		name string
		got  int64
		want int64
	}{
		{"routed", sum(t, rm, rmqotel.MetricRoutingDecisions, rmqotel.ClusterKey.String("brokers"), rmqotel.OutcomeKey.String(rmqotel.OutcomeRouted)), 3},
		{"fallback", sum(t, rm, rmqotel.MetricRoutingDecisions, rmqotel.OutcomeKey.String(rmqotel.OutcomeFallback)), 1},
		{"accepted", sum(t, rm, rmqotel.MetricXDSUpdates, rmqotel.XDSTypeKey.String("Cluster"), rmqotel.XDSResultKey.String(rmqotel.XDSAccepted)), 2},
		{"nacked", sum(t, rm, rmqotel.MetricXDSUpdates, rmqotel.XDSResultKey.String(rmqotel.XDSNACKed)), 1},
		{"ejections", sum(t, rm, rmqotel.MetricRelayEjections, rmqotel.UpstreamKey.String("127.0.0.1:10911")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestNew_DefaultPropagators checks the fallback to W3C trace context and
// baggage while the application has set no global propagator, and that an
// explicit empty propagator turns propagation off.
func TestNew_DefaultPropagators(t *testing.T) {
	fields := rmqotel.New().Propagators().Fields()
	want := map[string]bool{"traceparent": true, "tracestate": true, "baggage": true}
	if len(fields) != len(want) {
		t.Errorf("default propagator fields %v, want %v", fields, want)
	}
	for _, f := range fields {
		if !want[f] {
			t.Errorf("unexpected default propagator field %q", f)
		}
	}
	if f := rmqotel.New(rmqotel.WithPropagators(propagation.NewCompositeTextMapPropagator())).Propagators().Fields(); len(f) != 0 {
		t.Errorf("explicitly empty propagator replaced: fields %v", f)
	}
	if rmqotel.New(nil, rmqotel.WithTracerProvider(nil), rmqotel.WithMeterProvider(nil), rmqotel.WithPropagators(nil)) == nil {
		t.Error("nil options broke New")
	}
}
