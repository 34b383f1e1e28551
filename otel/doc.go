// Package otel gives RocketMQ clients built on the official Go client
// (github.com/apache/rocketmq-client-go/v2) OpenTelemetry spans, metrics and
// context propagation, following the messaging semantic conventions (semconv
// v1.43.0), and gives the mesh its own metrics.
//
// The mesh package uses it for every client it builds; applications that build
// clients themselves wrap them:
//
//	tel := otel.New() // global providers; see WithTracerProvider, WithMeterProvider, WithPropagators
//	defer tel.Close()
//	p = tel.WrapProducer(p, otel.ClientInfo{Group: "orders"})
//	c = tel.WrapPushConsumer(c, otel.ClientInfo{Group: "billing"})
//
// Spans: "send {topic}" PRODUCER for every send mode (SendSync, SendAsync,
// SendOneWay, batches, transactions) and "request {topic}" for Request and
// RequestAsync; "process {topic}" CONSUMER around push consumer callbacks,
// concurrent and orderly; "receive {topic}" CLIENT for pull consumers and
// "ack {topic}"/"nack {topic}" CLIENT for their explicit acknowledgement.
// Spans name the broker that stored a message in server.address and
// server.port; behind the mesh's relay the client sees loopback addresses
// instead, and [WithBrokerAddressResolver] maps them back to the broker.
//
// The mesh's intercepting relay reports through [Telemetry.StartRPC]: with
// [WithRPCSpans], a CLIENT span per attempt of each request it forwards, named
// "{REQUEST_CODE_NAME} {topic}" ("SEND_MESSAGE orders", "HEART_BEAT"), with the
// cluster, the broker endpoint, the attempt number and the response code, and
// a "failover" event on an attempt whose broker could not be reached. A send's
// span nests under the send span whose context its message properties carry.
//
// Metrics: messaging.client.operation.duration, messaging.process.duration
// (with [DurationBuckets]), messaging.client.sent.messages and
// messaging.client.consumed.messages; plus the mesh's own (routing decisions,
// xDS updates and NACKs, relay requests and failovers, counted whether
// per-RPC spans are on or not, and ejections). The counters of the data path
// (messages sent and consumed, routing decisions, relay requests and
// failovers) are summed in process and reported as observable counters: the
// same cumulative sums to a reader, at an atomic add per count instead of a
// synchronous instrument's attribute resolution.
//
// Context travels in message user properties under the propagators' field
// names, W3C "traceparent", "tracestate" and "baggage" by default: the ones the
// OpenTelemetry Java agent's RocketMQ instrumentation uses, so Go and Java
// services on one topic share traces. A message whose trace properties are
// malformed or oversized starts a new trace; the message itself is delivered
// unchanged.
//
// The wrappers call through the official interfaces and never install the
// client's interceptors, which break Request and RequestAsync in v2.1.2. Nothing
// here blocks or fails a send: exporters run in the SDK's processors, and
// instrument errors go to the global error handler.
//
// This package does not create providers or exporters; the application
// configures its SDK, or passes providers as options.
package otel
