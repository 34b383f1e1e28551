// Package mesh is rmqmesh's public API: it builds official RocketMQ Go clients
// (github.com/apache/rocketmq-client-go/v2) whose nameservers and brokers are chosen
// by an xDS control plane.
//
// An application changes one line per client:
//
//	m, err := mesh.New(ctx, "xds:///rocketmq-prod") // bootstrap from ROCKETMQ_XDS_BOOTSTRAP
//	if err != nil { ... }
//	defer m.Close()
//	if err := m.WaitReady(ctx); err != nil { ... } // names what is missing or unreachable
//	p, err := m.NewProducer(producer.WithGroupName("orders")) // was rocketmq.NewProducer(...)
//
// The returned values are the official interfaces, so the rest of the application is
// unchanged. The mesh points each client's NsResolver at an in-process nameserver
// endpoint that answers route queries from the xDS route table, narrows the queues a
// producer writes to (weights, writable subsets) through a QueueSelector that
// delegates to the caller's own, and the queues a consumer reads through an
// AllocateStrategy that delegates likewise.
//
// This version implements the direct data path: routes list the real broker
// addresses chosen by xDS, and the client dials brokers itself, so endpoint changes
// reach it at its 30 s route poll. The intercepting relay is not part of it yet;
// clusters asking for it are served directly.
//
// Every client is instrumented with OpenTelemetry (package otel): spans and
// metrics per the messaging semantic conventions, trace context carried in
// message properties, with the global providers unless [WithTracerProvider],
// [WithMeterProvider] or [WithPropagators] say otherwise; [WithoutTelemetry]
// turns it off.
//
// Process-wide effects, all from the official client's design: each client gets its
// own instance name (the client otherwise shares one internal client per process and
// the first creator's settings win), and [primitive.PanicHandler] is set, only when
// unset, to a handler that logs, because a SendAsync timeout otherwise crashes the
// process.
package mesh
