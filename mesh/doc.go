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
// By default every broker RPC goes through an in-process relay (the intercept data
// path): routes list the relay's virtual loopback endpoints, one per (brokerName,
// brokerId), and the relay forwards each request to the real broker xDS chose, so an
// endpoint change applies to the next request. The client's QueueSelector (the
// mesh's) still decides the broker of each send, with weights, subsets and locality;
// the relay keeps that decision whenever the route allows the broker and it is
// reachable, and only otherwise sends to the route's pick. The AllocateStrategy stays
// the one place where read queues are assigned. A cluster whose filter_metadata
// ["rmqmesh"]["data_path"] is "direct", or every cluster with
// WithDataPath(routing.DataPathDirect), hands the client real broker addresses
// instead; endpoint changes then reach it at its 30 s route poll. See the transport
// package for the relay's connection model and what it does per request code.
//
// A cluster whose transport_socket carries an UpstreamTlsContext is reached over
// mutual TLS by the relay, as gRPC proxyless clients do: certificates and trusted
// CAs come from the bootstrap's certificate_providers (file_watcher; Istio's agent
// writes the instance "default"), read again every refresh_interval, and the
// broker's certificate is checked against the CAs and the context's SAN matchers.
// A broker that fails the check is not used; the error names the cluster, the
// endpoint and the reason. [WithTLSRequired] refuses clusters without TLS.
//
// Every client is instrumented with OpenTelemetry (package otel): spans and
// metrics per the messaging semantic conventions, trace context carried in
// message properties, with the global providers unless [WithTracerProvider],
// [WithMeterProvider] or [WithPropagators] say otherwise; [WithoutTelemetry]
// turns it off. The relay is instrumented too: it counts what it forwards, and
// with [WithRPCSpans] gives each request a span under the send span of its
// message.
//
// Process-wide effects, all from the official client's design: each client gets its
// own instance name (the client otherwise shares one internal client per process and
// the first creator's settings win), and [primitive.PanicHandler] is set, only when
// unset, to a handler that logs, because a SendAsync timeout otherwise crashes the
// process.
package mesh
