package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
)

// tracing is the demo's OpenTelemetry SDK: every span is kept in memory for the
// span tree the demo prints, and, when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, exported over OTLP as well. The
// exporter honours the standard variables (endpoint, headers, timeout,
// certificates, insecure); OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
// OTEL_EXPORTER_OTLP_PROTOCOL picks "grpc" or "http/protobuf" (the default);
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the service.
//
// The exporters are this demo's dependencies, not the library's: rmqmesh
// itself only uses the OpenTelemetry API.
type tracing struct {
	provider *sdktrace.TracerProvider
	spans    *tracetest.SpanRecorder
	exporter string // "" when nothing is exported, else the OTLP protocol
}

func newTracing(ctx context.Context) (*tracing, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("rmqmesh-example")),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	t := &tracing{spans: tracetest.NewSpanRecorder()}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSpanProcessor(t.spans)}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		t.exporter = cmpOr(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf")
		var exp sdktrace.SpanExporter
		switch t.exporter {
		case "grpc":
			exp, err = otlptracegrpc.New(ctx)
		case "http/protobuf":
			exp, err = otlptracehttp.New(ctx)
		default:
			return nil, fmt.Errorf("tracing: OTLP protocol %q: want grpc or http/protobuf", t.exporter)
		}
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP %s exporter: %w", t.exporter, err)
		}
		// A batch processor: a slow or failing collector never holds up a send.
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	t.provider = sdktrace.NewTracerProvider(opts...)
	return t, nil
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// shutdown flushes what is left to the exporter.
func (t *tracing) shutdown(ctx context.Context) error { return t.provider.Shutdown(ctx) }

// embeddedMesh starts a one-broker meshtest cluster and control plane and a
// mesh following them, for the traced message of the embedded demo; stop closes
// all three.
func embeddedMesh(ctx context.Context, log *slog.Logger, topic string, opts ...mesh.Option) (m *mesh.Mesh, cluster *meshtest.Cluster, stop func(), err error) {
	cluster, err = meshtest.NewCluster(meshtest.WithBroker("broker-a", 0), meshtest.WithTopic(topic, 4), meshtest.WithLogger(log))
	if err != nil {
		return nil, nil, nil, err
	}
	cp, err := meshtest.NewControlPlane(meshtest.WithControlPlaneLogger(log))
	if err != nil {
		cluster.Close()
		return nil, nil, nil, err
	}
	stopCluster := func() { cp.Close(); cluster.Close() }
	if err := serve(ctx, cp, demoSpec(cluster, nil, "")); err != nil {
		stopCluster()
		return nil, nil, nil, err
	}
	m, err = mesh.New(ctx, "xds:///"+demoListener, append([]mesh.Option{mesh.WithBootstrap(cp.Bootstrap()), mesh.WithLogger(log)}, opts...)...)
	if err != nil {
		stopCluster()
		return nil, nil, nil, err
	}
	return m, cluster, func() { m.Close(); stopCluster() }, nil
}

// traceOneMessage sends one message through m under an application span,
// consumes it with a consumer that start starts, and prints the trace: the
// request, the send with the broker that served it, and the processing.
func traceOneMessage(ctx context.Context, out io.Writer, tr *tracing, m *mesh.Mesh, start consumerStarter, topic string) error {
	if err := m.WaitReady(ctx); err != nil {
		return err
	}
	p, err := m.NewProducer(producer.WithGroupName("rmqmesh-demo-trace-producer"))
	if err != nil {
		return err
	}
	if err := p.Start(); err != nil {
		return fmt.Errorf("starting producer: %w", err)
	}
	defer p.Shutdown()

	key := fmt.Sprintf("trace-%d", time.Now().UnixNano())
	ctx, root := tr.provider.Tracer("rmqmesh-example").Start(ctx, "place order")
	_, err = p.SendSync(ctx, primitive.NewMessage(topic, []byte("one traced message")).WithKeys([]string{key}))
	root.End()
	if err != nil {
		return fmt.Errorf("sending the traced message: %w", err)
	}
	traceID := root.SpanContext().TraceID()

	const group = "rmqmesh-demo-trace-consumer"
	c, err := m.NewPushConsumer(consumer.WithGroupName(group), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		return err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return fmt.Errorf("subscribing to %q: %w", topic, err)
	}
	stop, err := start(group, c)
	if err != nil {
		return err
	}
	defer stop()

	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		spans := spansOf(tr.spans.Ended(), traceID)
		if slices.ContainsFunc(spans, func(s sdktrace.ReadOnlySpan) bool { return s.SpanKind() == trace.SpanKindConsumer }) {
			fmt.Fprintf(out, "\ntrace %s: one message from the request that sent it to the code that processed it\n", traceID)
			printSpanTree(out, spans)
			if tr.exporter != "" {
				fmt.Fprintf(out, "(exported over OTLP, %s)\n", tr.exporter)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the traced message to be processed: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

func spansOf(all []sdktrace.ReadOnlySpan, id trace.TraceID) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range all {
		if s.SpanContext().TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

// printSpanTree prints spans as a tree, children under their parent in start
// order, one compact line each.
func printSpanTree(out io.Writer, spans []sdktrace.ReadOnlySpan) {
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext().SpanID()] = true
	}
	var roots []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if p := s.Parent().SpanID(); s.Parent().IsValid() && ids[p] {
			children[p] = append(children[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	byStart := func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) }
	var walk func(s sdktrace.ReadOnlySpan, prefix string, last, top bool)
	walk = func(s sdktrace.ReadOnlySpan, prefix string, last, top bool) {
		branch, next := "", ""
		if !top {
			branch, next = "├─ ", "│  "
			if last {
				branch, next = "└─ ", "   "
			}
		}
		fmt.Fprintf(out, "  %s%s%s\n", prefix, branch, describeSpan(s))
		kids := children[s.SpanContext().SpanID()]
		slices.SortFunc(kids, byStart)
		for i, k := range kids {
			walk(k, prefix+next, i == len(kids)-1, false)
		}
	}
	slices.SortFunc(roots, byStart)
	for _, r := range roots {
		walk(r, "", true, true)
	}
}

// describeSpan is one line: name, kind, where it went and how long it took.
func describeSpan(s sdktrace.ReadOnlySpan) string {
	a := map[attribute.Key]string{}
	for _, kv := range s.Attributes() {
		a[kv.Key] = kv.Value.String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s]", s.Name(), strings.ToLower(s.SpanKind().String()))
	if addr := a[semconv.ServerAddressKey]; addr != "" {
		fmt.Fprintf(&b, " broker %s:%s", addr, a[semconv.ServerPortKey])
	}
	if q := a[semconv.MessagingDestinationPartitionIDKey]; q != "" {
		fmt.Fprintf(&b, " queue %s", q)
	}
	if g := a[semconv.MessagingConsumerGroupNameKey]; g != "" {
		fmt.Fprintf(&b, " group %s", g)
	}
	if id := a[semconv.MessagingMessageIDKey]; id != "" {
		fmt.Fprintf(&b, " msg %s", id)
	}
	if e := a[semconv.ErrorTypeKey]; e != "" {
		fmt.Fprintf(&b, " error %s", e)
	}
	fmt.Fprintf(&b, " %s", s.EndTime().Sub(s.StartTime()).Round(10*time.Microsecond))
	return b.String()
}
