package mesh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	rmqotel "github.com/rmqmesh/rmqmesh/otel"
	"github.com/rmqmesh/rmqmesh/otel/oteltest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// tracingDataPaths are the data paths every tracing test runs on.
var tracingDataPaths = []testPath{directPath, interceptPath}

var w3c = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// tracingHarness is a harness whose mesh reports to an in-memory recorder.
type tracingHarness struct {
	*harness
	rec *oteltest.Recorder
}

func newTracingHarness(t *testing.T, path testPath, brokers ...string) *tracingHarness {
	t.Helper()
	return newTracingHarnessWith(t, path, nil, brokers...)
}

// newTracingHarnessWith is newTracingHarness with more mesh options.
func newTracingHarnessWith(t *testing.T, path testPath, opts []mesh.Option, brokers ...string) *tracingHarness {
	t.Helper()
	rec := oteltest.New(t)
	h := newHarness(t, harnessConfig{
		path:    path,
		brokers: brokers,
		topics:  []string{"orders"},
		spec:    allBrokers,
		meshOpts: append([]mesh.Option{
			mesh.WithTracerProvider(rec.TracerProvider),
			mesh.WithMeterProvider(rec.MeterProvider),
			mesh.WithPropagators(w3c),
		}, opts...),
	})
	return &tracingHarness{harness: h, rec: rec}
}

// subscribe starts a push consumer through the mesh that calls f, with
// meshtest.StartConsumer (which also stops it when the test ends).
func (h *tracingHarness) subscribe(group, topic string, f func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error), opts ...consumer.Option) rocketmq.PushConsumer {
	h.t.Helper()
	c, err := h.mesh.NewPushConsumer(append([]consumer.Option{
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)...)
	if err != nil {
		h.t.Fatalf("NewPushConsumer: %v", err)
	}
	if err := c.Subscribe(topic, consumer.MessageSelector{}, f); err != nil {
		h.t.Fatalf("Subscribe: %v", err)
	}
	meshtest.StartConsumer(h.t, h.cluster, group, c)
	return c
}

func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// byMessageID indexes spans by their messaging.message.id.
func byMessageID(spans []sdktrace.ReadOnlySpan) map[string]sdktrace.ReadOnlySpan {
	out := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		for _, kv := range s.Attributes() {
			if kv.Key == semconv.MessagingMessageIDKey {
				out[kv.Value.AsString()] = s
			}
		}
	}
	return out
}

// TestTracing_OneTraceFromSendToProcess is the headline: the request
// that produced a message and the code that processed it are one trace, with
// the attributes and kinds of the messaging conventions, and the metric counts
// equal the message counts.
func TestTracing_OneTraceFromSendToProcess(t *testing.T) {
	for _, dp := range tracingDataPaths {
		t.Run(dp.name, func(t *testing.T) {
			h := newTracingHarness(t, dp, "broker-a", "broker-b")
			p := h.producer()
			const n = 10
			results := map[string]*primitive.SendResult{}
			var parents []trace.SpanContext
			for i := range n {
				ctx, parent := h.rec.TracerProvider.Tracer("app").Start(ctxTimeout(t), "handle request")
				res, err := p.SendSync(ctx, primitive.NewMessage("orders", []byte(fmt.Sprintf("m-%d", i))).WithTag("TagA"))
				parent.End()
				if err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				results[res.MsgID] = res
				parents = append(parents, parent.SpanContext())
			}
			group := uniqueName("cg")
			var mu sync.Mutex
			inCallback := map[string]trace.SpanContext{}
			h.subscribe(group, "orders", func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
				mu.Lock()
				defer mu.Unlock()
				inCallback[msgs[0].MsgId] = trace.SpanContextFromContext(ctx)
				return consumer.ConsumeSuccess, nil
			})
			sends := byMessageID(h.rec.WaitEnded(t, "send orders", n))
			processes := byMessageID(h.rec.WaitEnded(t, "process orders", n))
			if len(sends) != n || len(processes) != n {
				t.Fatalf("%d send and %d process spans with message ids, want %d each", len(sends), len(processes), n)
			}
			for i, parent := range parents {
				found := false
				for _, s := range sends {
					found = found || s.Parent().SpanID() == parent.SpanID()
				}
				if !found {
					t.Errorf("no send span is a child of request %d's span", i)
				}
			}
			for id, res := range results {
				send, process := sends[id], processes[id]
				if send == nil || process == nil {
					t.Errorf("message %s: send span %v, process span %v", id, send != nil, process != nil)
					continue
				}
				if process.SpanContext().TraceID() != send.SpanContext().TraceID() || process.Parent().SpanID() != send.SpanContext().SpanID() {
					t.Errorf("message %s: process span (trace %s parent %s) is not a child of its send span (%s %s)",
						id, process.SpanContext().TraceID(), process.Parent().SpanID(), send.SpanContext().TraceID(), send.SpanContext().SpanID())
				}
				if send.SpanKind() != trace.SpanKindProducer || process.SpanKind() != trace.SpanKindConsumer {
					t.Errorf("kinds %v/%v, want producer/consumer", send.SpanKind(), process.SpanKind())
				}
				// The broker that served the send, after any redirect: the one
				// whose address the offset message id names.
				served := h.cluster.Broker(res.MessageQueue.BrokerName).Addr()
				host, port, _ := strings.Cut(served, ":")
				var portNum int
				fmt.Sscan(port, &portNum)
				oteltest.CheckAttrs(t, send,
					semconv.MessagingSystemRocketMQ, semconv.MessagingOperationName("send"), semconv.MessagingOperationTypeSend,
					semconv.MessagingDestinationName("orders"), semconv.MessagingRocketMQMessageTag("TagA"),
					semconv.MessagingRocketMQMessageTypeNormal,
					semconv.MessagingDestinationPartitionID(fmt.Sprint(res.MessageQueue.QueueId)),
					semconv.ServerAddress(host), semconv.ServerPort(portNum))
				oteltest.CheckAttrs(t, process,
					semconv.MessagingSystemRocketMQ, semconv.MessagingOperationName("process"), semconv.MessagingOperationTypeProcess,
					semconv.MessagingDestinationName("orders"), semconv.MessagingConsumerGroupName(group),
					semconv.MessagingDestinationPartitionID(fmt.Sprint(res.MessageQueue.QueueId)),
					semconv.MessagingRocketMQConsumptionModelClustering, semconv.ServerAddress(host), semconv.ServerPort(portNum))
				if !strings.Contains(attrString(send, semconv.MessagingClientIDKey), "@"+"rmqmesh-") {
					t.Errorf("send span messaging.client.id %q, want IP@instance of the mesh's client", attrString(send, semconv.MessagingClientIDKey))
				}
				mu.Lock()
				cb := inCallback[id]
				mu.Unlock()
				if cb.SpanID() != process.SpanContext().SpanID() {
					t.Errorf("message %s: the callback's ctx does not carry its process span", id)
				}
			}
			rm := h.rec.Metrics(t)
			if got := oteltest.Sum(t, rm, "messaging.client.sent.messages", semconv.MessagingDestinationName("orders")); got != n {
				t.Errorf("messaging.client.sent.messages = %d, want %d", got, n)
			}
			if got := oteltest.Sum(t, rm, "messaging.client.consumed.messages", semconv.MessagingConsumerGroupName(group)); got != n {
				t.Errorf("messaging.client.consumed.messages = %d, want %d", got, n)
			}
			if got, _ := oteltest.HistogramCount(t, rm, "messaging.process.duration"); got != n {
				t.Errorf("messaging.process.duration count = %d, want %d", got, n)
			}
			if got := oteltest.Sum(t, rm, rmqotel.MetricRoutingDecisions, rmqotel.ClusterKey.String("brokers"), rmqotel.OutcomeKey.String(rmqotel.OutcomeRouted)); got < n {
				t.Errorf("%s routed to brokers = %d, want at least one per send (%d)", rmqotel.MetricRoutingDecisions, got, n)
			}
			if got := oteltest.Sum(t, rm, rmqotel.MetricXDSUpdates, rmqotel.XDSResultKey.String(rmqotel.XDSAccepted)); got < 3 {
				t.Errorf("%s accepted = %d, want the listener, cluster and endpoints at least", rmqotel.MetricXDSUpdates, got)
			}
			// The relay counts what it forwards, per-RPC spans or not: every
			// send a broker read came through it, and nothing on the direct
			// path does.
			for _, name := range h.cluster.BrokerNames() {
				b := h.cluster.Broker(name)
				want := int64(b.RequestCount(remoting.CodeSendMessage))
				if !dp.intercept {
					want = 0
				}
				if got := oteltest.Sum(t, rm, rmqotel.MetricRelayRequests, rmqotel.RequestCodeKey.String("SEND_MESSAGE"), rmqotel.UpstreamKey.String(b.Addr())); got != want {
					t.Errorf("%s for SEND_MESSAGE to %s = %d, want %d", rmqotel.MetricRelayRequests, name, got, want)
				}
			}
			if rpc := h.rec.Ended("SEND_MESSAGE orders"); len(rpc) != 0 {
				t.Errorf("%d per-RPC spans without WithRPCSpans", len(rpc))
			}
		})
	}
}

// TestTracing_RPCSpans: with WithRPCSpans, every request the relay forwards
// has a CLIENT span per attempt; a send's nests under its send span, and a
// send moved off an unreachable broker shows both attempts, the first with a
// failover event, while the send span names the broker that stored it.
func TestTracing_RPCSpans(t *testing.T) {
	h := newTracingHarnessWith(t, interceptPath, []mesh.Option{mesh.WithRPCSpans()}, "broker-a", "broker-b")
	p := h.producer(producer.WithQueueSelector(producer.NewManualQueueSelector()))
	toA := func(body string) *primitive.Message {
		m := primitive.NewMessage("orders", []byte(body))
		m.Queue = &primitive.MessageQueue{Topic: "orders", BrokerName: "broker-a", QueueId: 1}
		return m
	}
	if _, err := p.SendSync(ctxTimeout(t), toA("first")); err != nil {
		t.Fatal(err)
	}
	a, b := h.cluster.Broker("broker-a").Addr(), h.cluster.Broker("broker-b").Addr()
	send := h.rec.WaitEnded(t, "send orders", 1)[0]
	rpc := h.rec.WaitEnded(t, "SEND_MESSAGE orders", 1)[0]
	if rpc.SpanKind() != trace.SpanKindClient || rpc.Parent().SpanID() != send.SpanContext().SpanID() || rpc.SpanContext().TraceID() != send.SpanContext().TraceID() {
		t.Errorf("RPC span kind %v parent %v, want a client span under the send span %v", rpc.SpanKind(), rpc.Parent(), send.SpanContext())
	}
	oteltest.CheckAttrs(t, rpc, append(serverAttrs(a),
		semconv.MessagingSystemRocketMQ, semconv.MessagingDestinationName("orders"),
		rmqotel.RequestCodeKey.String("SEND_MESSAGE"), rmqotel.ClusterKey.String("brokers"),
		rmqotel.AttemptKey.Int(1), rmqotel.ResponseCodeKey.String("SUCCESS"))...)

	// broker-a moves to an address where nothing listens: the relay moves
	// the next send on to broker-b within the request.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	h.apply(allBrokersWith(func(e *meshtest.EndpointSpec) {
		if e.BrokerName == "broker-a" {
			e.Address = deadAddr
		}
	})(h.cluster))
	meshtest.WaitFor(t, "broker-a's new address in the route table", func() bool {
		dump, err := h.mesh.ConfigDump()
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			RouteTable json.RawMessage `json:"routeTable"`
		}
		return json.Unmarshal(dump, &d) == nil && strings.Contains(string(d.RouteTable), deadAddr)
	})
	if _, err := p.SendSync(ctxTimeout(t), toA("second")); err != nil {
		t.Fatal(err)
	}
	send = h.rec.WaitEnded(t, "send orders", 2)[1]
	oteltest.CheckAttrs(t, send, serverAttrs(b)...) // the broker that stored it
	var attempts []sdktrace.ReadOnlySpan
	for _, s := range h.rec.WaitEnded(t, "SEND_MESSAGE orders", 3) {
		if s.Parent().SpanID() == send.SpanContext().SpanID() {
			attempts = append(attempts, s)
		}
	}
	if len(attempts) != 2 {
		t.Fatalf("%d RPC spans under the second send, want one per attempt (2)", len(attempts))
	}
	slices.SortFunc(attempts, func(x, y sdktrace.ReadOnlySpan) int { return x.StartTime().Compare(y.StartTime()) })
	oteltest.CheckAttrs(t, attempts[0], append(serverAttrs(deadAddr), rmqotel.AttemptKey.Int(1))...)
	oteltest.CheckAttrs(t, attempts[1], append(serverAttrs(b), rmqotel.AttemptKey.Int(2), rmqotel.ResponseCodeKey.String("SUCCESS"))...)
	if attempts[0].Status().Code != codes.Error || attempts[1].Status().Code == codes.Error {
		t.Errorf("statuses %v, %v; want the failed attempt in error and the second not", attempts[0].Status(), attempts[1].Status())
	}
	if ev := attempts[0].Events(); len(ev) != 1 || ev[0].Name != "failover" {
		t.Errorf("first attempt's events %v, want one failover", ev)
	} else {
		for _, kv := range ev[0].Attributes {
			if kv.Key == rmqotel.NextUpstreamKey && kv.Value.AsString() != b {
				t.Errorf("failover to %q, want broker-b %s", kv.Value.AsString(), b)
			}
		}
	}
	rm := h.rec.Metrics(t)
	if n := oteltest.Sum(t, rm, rmqotel.MetricRelayFailovers, rmqotel.RequestCodeKey.String("SEND_MESSAGE"), rmqotel.ClusterKey.String("brokers")); n != 1 {
		t.Errorf("%s = %d, want 1", rmqotel.MetricRelayFailovers, n)
	}

	// Requests without a message start traces of their own.
	hb := h.rec.WaitEnded(t, "HEART_BEAT", 1)[0]
	if hb.Parent().IsValid() || hb.SpanKind() != trace.SpanKindClient {
		t.Errorf("heartbeat span parent %v kind %v, want a client root span", hb.Parent(), hb.SpanKind())
	}
}

// serverAttrs are server.address and server.port of a "host:port".
func serverAttrs(addr string) []attribute.KeyValue {
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return []attribute.KeyValue{semconv.ServerAddress(host), semconv.ServerPort(n)}
}

func attrString(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

func TestTracing_FailedSendIsAnErrorSpan(t *testing.T) {
	for _, dp := range tracingDataPaths {
		t.Run(dp.name, func(t *testing.T) {
			h := newTracingHarness(t, dp, "broker-a")
			p := h.producer()
			h.sendN(p, "orders", 1) // route known; the next send reaches the broker
			h.cluster.Broker("broker-a").SetError(remoting.CodeSendMessage, remoting.NoPermission, "the topic[orders] sending message is forbidden")
			if _, err := p.SendSync(ctxTimeout(t), primitive.NewMessage("orders", []byte("refused"))); err == nil {
				t.Fatal("send to a broker answering NO_PERMISSION succeeded")
			}
			spans := h.rec.WaitEnded(t, "send orders", 2)
			s := spans[1]
			if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "forbidden") {
				t.Errorf("status %+v, want an error with the broker's remark", s.Status())
			}
			oteltest.CheckAttrs(t, s, semconv.ErrorTypeKey.String("NO_PERMISSION"))
			if got := oteltest.Sum(t, h.rec.Metrics(t), "messaging.client.sent.messages", semconv.ErrorTypeKey.String("NO_PERMISSION")); got != 1 {
				t.Errorf("sent messages with error.type NO_PERMISSION = %d, want 1", got)
			}
		})
	}
}

// TestTracing_SendAsyncTimeoutEndsSpan holds the broker's answer past the
// official client's 3 s SendAsync timeout: the span still ends, in error.
func TestTracing_SendAsyncTimeoutEndsSpan(t *testing.T) {
	for _, dp := range tracingDataPaths {
		t.Run(dp.name, func(t *testing.T) {
			h := newTracingHarness(t, dp, "broker-a")
			p := h.producer()
			h.sendN(p, "orders", 1)
			h.cluster.Broker("broker-a").SetDelay(remoting.CodeSendMessage, 10*time.Second)
			done := make(chan error, 1)
			err := p.SendAsync(context.Background(), func(_ context.Context, _ *primitive.SendResult, err error) {
				select {
				case done <- err:
				default:
				}
			}, primitive.NewMessage("orders", []byte("late")))
			if err != nil {
				t.Fatal(err)
			}
			s := h.rec.WaitEnded(t, "send orders", 2)[1]
			if s.Status().Code != codes.Error {
				t.Errorf("status %+v, want error", s.Status())
			}
			oteltest.CheckAttrs(t, s, semconv.ErrorTypeKey.String("timeout"))
			select {
			case err := <-done:
				if err == nil {
					t.Error("callback reported success for a send the broker held past the timeout")
				}
			case <-time.After(meshtest.DefaultTimeout):
				t.Error("the application's callback never came")
			}
		})
	}
}

func TestTracing_BatchProcessSpansLinkEveryMessage(t *testing.T) {
	for _, dp := range tracingDataPaths {
		t.Run(dp.name, func(t *testing.T) {
			h := newTracingHarness(t, dp, "broker-a")
			p := h.producer()
			msgs := []*primitive.Message{
				primitive.NewMessage("orders", []byte("b1")), primitive.NewMessage("orders", []byte("b2")), primitive.NewMessage("orders", []byte("b3")),
			}
			if _, err := p.SendSync(ctxTimeout(t), msgs...); err != nil {
				t.Fatal(err)
			}
			send := h.rec.WaitEnded(t, "send orders", 1)[0]
			oteltest.CheckAttrs(t, send, semconv.MessagingBatchMessageCount(3))
			// Stored before the consumer starts, the three arrive in one pull
			// and one callback.
			h.subscribe(uniqueName("cg"), "orders", func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
				return consumer.ConsumeSuccess, nil
			}, consumer.WithConsumeMessageBatchMaxSize(10))
			var total int64
			var batched bool
			meshtest.WaitFor(t, "three messages processed", func() bool {
				total = 0
				for _, s := range h.rec.Ended("process orders") {
					total += int64(batchCount(s))
				}
				return total >= 3
			})
			for _, s := range h.rec.Ended("process orders") {
				k := batchCount(s)
				if k == 1 {
					if s.Parent().SpanID() != send.SpanContext().SpanID() {
						t.Errorf("single-message process span is not a child of the batch's send span")
					}
					continue
				}
				batched = true
				if len(s.Links()) != k {
					t.Errorf("process span of %d messages has %d links", k, len(s.Links()))
				}
				for _, l := range s.Links() {
					if l.SpanContext.SpanID() != send.SpanContext().SpanID() || l.SpanContext.TraceID() != send.SpanContext().TraceID() {
						t.Errorf("link %v, want the send span every message carries", l.SpanContext)
					}
				}
			}
			if !batched {
				t.Errorf("no callback got more than one message; spans %v", oteltest.Names(h.rec.Spans.Ended()))
			}
			if total != 3 {
				t.Errorf("process spans account for %d messages, want 3", total)
			}
		})
	}
}

// batchCount is messaging.batch.message_count, or 1 for a single-message span.
func batchCount(s sdktrace.ReadOnlySpan) int {
	for _, kv := range s.Attributes() {
		if kv.Key == semconv.MessagingBatchMessageCountKey {
			return int(kv.Value.AsInt64())
		}
	}
	return 1
}

// TestTracing_RequestReply checks that request-reply still works with tracing
// on — any producer interceptor breaks it in v2.1.2 — and that the reply's
// trace is linked to the request's.
func TestTracing_RequestReply(t *testing.T) {
	for _, dp := range tracingDataPaths {
		t.Run(dp.name, func(t *testing.T) {
			h := newTracingHarness(t, dp, "broker-a")
			responder := h.producer()
			h.subscribe(uniqueName("cg"), "orders", func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
				for _, m := range msgs {
					if consumer.GetReplyToClient(m) == "" {
						continue // the requester's warm-up message
					}
					reply, err := consumer.CreateReplyMessage(m, nil)
					if err != nil {
						return consumer.ConsumeRetryLater, err
					}
					reply.Body = append([]byte("re: "), m.Body...)
					if _, err := responder.SendSync(ctx, reply); err != nil {
						return consumer.ConsumeRetryLater, err
					}
				}
				return consumer.ConsumeSuccess, nil
			})
			inst := uniqueName("requester")
			requester := h.producer(producer.WithInstanceName(inst))
			// The broker pushes replies over the connection of the requester's
			// heartbeat, which v2.1.2 sends one second after Start to the
			// brokers it has routes for.
			h.sendN(requester, "orders", 1)
			meshtest.WaitFor(t, "the requester's heartbeat", func() bool {
				for _, r := range h.cluster.Broker("broker-a").Requests(remoting.CodeHeartBeat) {
					if strings.HasSuffix(r.ClientID, inst) {
						return true
					}
				}
				return false
			})

			// Background contexts: v2.1.2 runs a request's send callback on the
			// caller's context being cancelled as well, unsynchronised with the
			// reply path (-race reports it when a test ends right after its
			// reply); the ttl bounds the wait instead.
			reply, err := requester.Request(context.Background(), 20*time.Second, primitive.NewMessage("orders", []byte("sync")))
			if err != nil {
				t.Fatalf("Request: %v", err)
			}
			if string(reply.Body) != "re: sync" {
				t.Errorf("Request reply %q, want %q", reply.Body, "re: sync")
			}
			async := make(chan string, 2)
			err = requester.RequestAsync(context.Background(), 20*time.Second, func(_ context.Context, m *primitive.Message, err error) {
				if err != nil {
					async <- "error: " + err.Error()
					return
				}
				async <- string(m.Body)
			}, primitive.NewMessage("orders", []byte("async")))
			if err != nil {
				t.Fatalf("RequestAsync: %v", err)
			}
			select {
			case got := <-async:
				if got != "re: async" {
					t.Errorf("RequestAsync reply %q, want %q", got, "re: async")
				}
			case <-time.After(meshtest.DefaultTimeout):
				t.Fatal("RequestAsync callback never came")
			}
			// With an interceptor installed v2.1.2 sends RequestAsync twice.
			requests := 0
			for _, m := range h.cluster.Messages("orders") {
				if m.Properties[primitive.PropertyCorrelationID] != "" {
					requests++
				}
			}
			if requests != 2 {
				t.Errorf("broker stored %d request messages, want 2 (one per call)", requests)
			}

			reqSpans := h.rec.WaitEnded(t, "request orders", 2)
			replySends := h.rec.WaitEnded(t, "send "+h.cluster.ClusterName()+"_REPLY_TOPIC", 2)
			for _, rs := range reqSpans {
				if rs.Status().Code == codes.Error {
					t.Errorf("request span in error: %v", rs.Status())
				}
				if rs.SpanKind() != trace.SpanKindProducer {
					t.Errorf("request span kind %v, want producer", rs.SpanKind())
				}
				// request → process (responder) → send reply; the reply's
				// context is linked back to the request span.
				var process sdktrace.ReadOnlySpan
				for _, p := range h.rec.Ended("process orders") {
					if p.Parent().SpanID() == rs.SpanContext().SpanID() {
						process = p
					}
				}
				if process == nil {
					t.Errorf("no process span is a child of request span %s", rs.SpanContext().SpanID())
					continue
				}
				var replySend sdktrace.ReadOnlySpan
				for _, s := range replySends {
					if s.Parent().SpanID() == process.SpanContext().SpanID() {
						replySend = s
					}
				}
				if replySend == nil {
					t.Errorf("no reply send span is a child of the responder's process span")
					continue
				}
				linked := false
				for _, l := range rs.Links() {
					linked = linked || l.SpanContext.SpanID() == replySend.SpanContext().SpanID()
				}
				if !linked {
					t.Errorf("request span links %v, want one to the reply's send span", rs.Links())
				}
			}
		})
	}
}

// TestTracing_JavaInteroperability crosses the Go/Java boundary both ways with
// message properties built exactly as the OpenTelemetry Java agent's RocketMQ
// instrumentation builds them: a W3C traceparent under the user property key
// "traceparent" (rocketmq-client-4.8 MapSetter puts each propagator field into
// the message's properties map; the Go client encodes properties on the wire
// as the Java client does).
func TestTracing_JavaInteroperability(t *testing.T) {
	for _, dp := range tracingDataPaths {
		t.Run(dp.name, func(t *testing.T) {
			h := newTracingHarness(t, dp, "broker-a")

			// Java producer → Go consumer.
			javaSend := trace.NewSpanContext(trace.SpanContextConfig{
				TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
				SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
				TraceFlags: trace.FlagsSampled,
			})
			fromJava := primitive.NewMessage("orders", []byte("from-java"))
			fromJava.WithProperty("traceparent", "00-"+javaSend.TraceID().String()+"-"+javaSend.SpanID().String()+"-01")
			fromJava.Queue = &primitive.MessageQueue{Topic: "orders", BrokerName: "broker-a", QueueId: 0}
			// The "Java" producer is outside the mesh: on the intercept path
			// the brokers serve it only while it seeds.
			h.seed(func(p rocketmq.Producer) {
				if _, err := p.SendSync(ctxTimeout(t), fromJava); err != nil {
					t.Fatal(err)
				}
			})
			h.subscribe(uniqueName("cg"), "orders", func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
				return consumer.ConsumeSuccess, nil
			})
			process := h.rec.WaitEnded(t, "process orders", 1)[0]
			if process.SpanContext().TraceID() != javaSend.TraceID() || process.Parent().SpanID() != javaSend.SpanID() {
				t.Errorf("Go process span trace %s parent %s, want the Java send span %s/%s",
					process.SpanContext().TraceID(), process.Parent().SpanID(), javaSend.TraceID(), javaSend.SpanID())
			}

			// Go producer → Java consumer: the Java instrumentation's getter
			// reads message.getProperties().get("traceparent").
			if _, err := h.producer().SendSync(ctxTimeout(t), primitive.NewMessage("orders", []byte("to-java"))); err != nil {
				t.Fatal(err)
			}
			send := h.rec.WaitEnded(t, "send orders", 1)[0]
			var stored map[string]string
			for _, m := range h.cluster.Messages("orders") {
				if string(m.Body) == "to-java" {
					stored = m.Properties
				}
			}
			want := "00-" + send.SpanContext().TraceID().String() + "-" + send.SpanContext().SpanID().String() + "-01"
			if got := stored["traceparent"]; got != want {
				t.Errorf("stored traceparent property %q, want %q (the Go send span in W3C form)", got, want)
			}
			// The Go consumer processes it too. Waiting for that also keeps
			// the consumer's Shutdown from racing its delivery:
			// rocketmq-client-go v2.1.2 closes a queue's channel while a
			// pull may still put messages on it, a panic in the client.
			var toGo sdktrace.ReadOnlySpan
			meshtest.WaitFor(t, "the Go consumer to process the Go message", func() bool {
				for _, s := range h.rec.Ended("process orders") {
					if s.Parent().SpanID() == send.SpanContext().SpanID() {
						toGo = s
					}
				}
				return toGo != nil
			})
			if toGo.SpanContext().TraceID() != send.SpanContext().TraceID() {
				t.Errorf("process span of the Go message is in trace %s, want its send's %s", toGo.SpanContext().TraceID(), send.SpanContext().TraceID())
			}
		})
	}
}

func TestTracing_TransactionOutcome(t *testing.T) {
	for _, dp := range tracingDataPaths {
		t.Run(dp.name, func(t *testing.T) {
			h := newTracingHarness(t, dp, "broker-a")
			p, err := h.mesh.NewTransactionProducer(&txListener{checked: map[string]int{}, first: primitive.CommitMessageState}, producer.WithGroupName(uniqueName("txg")))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown()
			msg := primitive.NewMessage("orders", []byte("commit-1"))
			if _, err := p.SendMessageInTransaction(ctxTimeout(t), msg); err != nil {
				t.Fatal(err)
			}
			s := h.rec.WaitEnded(t, "send orders", 1)[0]
			oteltest.CheckAttrs(t, s, semconv.MessagingRocketMQMessageTypeTransaction, rmqotel.TransactionStateKey.String("commit"))
			if ev := s.Events(); len(ev) != 1 || ev[0].Name != "rocketmq.transaction.end" {
				t.Errorf("events %v, want rocketmq.transaction.end", ev)
			}
			if contextOfProps(msg.GetProperties()).SpanID() != s.SpanContext().SpanID() {
				t.Error("the half message does not carry the send span")
			}
		})
	}
}

func contextOfProps(props map[string]string) trace.SpanContext {
	return trace.SpanContextFromContext(w3c.Extract(context.Background(), rmqotel.PropertiesCarrier(props)))
}

func TestTracing_PullConsumerReceiveAndAck(t *testing.T) {
	for _, dp := range tracingDataPaths {
		t.Run(dp.name, func(t *testing.T) {
			h := newTracingHarness(t, dp, "broker-a")
			h.sendN(h.producer(), "orders", 3)
			send := h.rec.WaitEnded(t, "send orders", 3)
			sendIDs := map[trace.SpanID]bool{}
			for _, s := range send {
				sendIDs[s.SpanContext().SpanID()] = true
			}
			group := uniqueName("cg")
			pc, err := h.mesh.NewPullConsumer(consumer.WithGroupName(group), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
			if err != nil {
				t.Fatal(err)
			}
			if err := pc.Subscribe("orders", consumer.MessageSelector{}); err != nil {
				t.Fatal(err)
			}
			meshtest.StartConsumer(t, h.cluster, group, pc)
			got := 0
			deadline := time.Now().Add(meshtest.DefaultTimeout)
			for got < 3 && time.Now().Before(deadline) {
				cr, err := pc.Poll(context.Background(), time.Second)
				if consumer.IsNoNewMsgError(err) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				got += len(cr.GetMsgList())
				pc.ACK(context.Background(), cr, consumer.ConsumeSuccess)
			}
			if got != 3 {
				t.Fatalf("polled %d messages, want 3", got)
			}
			receives := h.rec.Ended("receive orders")
			acks := h.rec.Ended("ack orders")
			if len(receives) == 0 || len(acks) != len(receives) {
				t.Fatalf("%d receive and %d ack spans, want one ack per receive", len(receives), len(acks))
			}
			links := 0
			for _, s := range receives {
				if s.SpanKind() != trace.SpanKindClient {
					t.Errorf("receive kind %v, want client", s.SpanKind())
				}
				oteltest.CheckAttrs(t, s, semconv.MessagingOperationTypeReceive, semconv.MessagingConsumerGroupName(group))
				for _, l := range s.Links() {
					if !sendIDs[l.SpanContext.SpanID()] {
						t.Errorf("receive span links %v, not a send span", l.SpanContext)
					}
					links++
				}
			}
			if links != 3 {
				t.Errorf("receive spans link %d messages, want 3", links)
			}
			for _, s := range acks {
				oteltest.CheckAttrs(t, s, semconv.MessagingOperationTypeSettle, semconv.MessagingOperationName("ack"))
			}
			if n := oteltest.Sum(t, h.rec.Metrics(t), "messaging.client.consumed.messages", semconv.MessagingOperationName("receive")); n != 3 {
				t.Errorf("consumed messages = %d, want 3", n)
			}
		})
	}
}

// TestTracing_Off checks mesh.WithoutTelemetry: clients are the official ones
// and messages carry no trace context.
func TestTracing_Off(t *testing.T) {
	ctx, span := oteltest.New(t).TracerProvider.Tracer("app").Start(context.Background(), "request")
	defer span.End()
	h := newHarness(t, harnessConfig{brokers: []string{"broker-a"}, topics: []string{"orders"}, spec: allBrokers,
		meshOpts: []mesh.Option{mesh.WithoutTelemetry(), mesh.WithPropagators(w3c)}})
	if h.mesh.Telemetry() != nil {
		t.Error("Telemetry() is not nil after WithoutTelemetry")
	}
	p := h.producer()
	if _, err := p.SendSync(ctx, primitive.NewMessage("orders", []byte("plain"))); err != nil {
		t.Fatal(err)
	}
	for _, m := range h.cluster.Messages("orders") {
		if tp, ok := m.Properties["traceparent"]; ok {
			t.Errorf("message carries traceparent %q with telemetry off", tp)
		}
	}
}

// TestTracing_XDSNACKsAreCounted serves an invalid cluster: the mesh's xDS
// client NACKs it, and rmqmesh.xds.updates says so.
func TestTracing_XDSNACKsAreCounted(t *testing.T) {
	h := newTracingHarness(t, directPath, "broker-a")
	bad := &clusterv3.Cluster{Name: "brokers", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}
	if err := h.cp.ServeInvalid(ctxTimeout(t), bad); err != nil {
		t.Fatal(err)
	}
	meshtest.WaitFor(t, "the NACK counted", func() bool {
		return oteltest.Sum(t, h.rec.Metrics(t), rmqotel.MetricXDSUpdates, rmqotel.XDSTypeKey.String("cluster"), rmqotel.XDSResultKey.String(rmqotel.XDSNACKed)) >= 1
	})
}
