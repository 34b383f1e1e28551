package otel

import (
	"context"
	"net/netip"
	"sync"
	"time"

	gotel "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/messagingconv"
	"go.opentelemetry.io/otel/trace"
)

// DurationBuckets are the histogram bucket boundaries, in seconds, of every
// duration this package records: the ones the messaging semantic conventions
// recommend.
var DurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Telemetry creates the spans and metrics of RocketMQ clients and of the mesh,
// and carries trace context through message properties. Create it with [New];
// it is safe for concurrent use and holds no goroutines.
type Telemetry struct {
	// immutable after New
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	fields   []string // the propagator's fields: the properties a message carries context in
	rpcSpans bool
	grace    time.Duration // callback grace; zero means defaultCallbackGrace (tests shorten it)
	// resolveBroker maps a broker address a client saw to the real one
	// (WithBrokerAddressResolver); nil keeps addresses as seen.
	resolveBroker func(netip.AddrPort) (string, bool)

	opDuration  messagingconv.ClientOperationDuration
	processTime messagingconv.ProcessDuration

	// counted on the data path, in process (see localCounter)
	sent             *localCounter[metricKey] // messaging.client.sent.messages
	consumed         *localCounter[metricKey] // messaging.client.consumed.messages
	routingDecisions *localCounter[routingKey]
	relayRequests    *localCounter[relayKey]
	relayFailovers   *localCounter[relayKey]
	registration     metric.Registration // their callback; nil when none
	closeOnce        sync.Once
	closeErr         error

	xdsUpdates     metric.Int64Counter
	relayEjections metric.Int64Counter

	// attribute sets of the messaging metrics, and span names, built once
	// per combination
	metricSets metricSets
	names      cowCache[nameKey, string]
}

// New returns a Telemetry using the providers and propagators of opts, or the
// global ones as they are now. Instruments that cannot be created are reported
// to the global error handler (go.opentelemetry.io/otel.Handle) and replaced by
// no-ops: telemetry never fails the caller.
func New(opts ...Option) *Telemetry {
	c := newConfig(opts)
	t := &Telemetry{
		tracer: c.tracerProvider.Tracer(ScopeName,
			trace.WithInstrumentationVersion(Version()),
			trace.WithSchemaURL(semconv.SchemaURL)),
		prop:          c.propagators,
		fields:        c.propagators.Fields(),
		rpcSpans:      c.rpcSpans,
		resolveBroker: c.resolveBroker,
	}
	meter := c.meterProvider.Meter(ScopeName,
		metric.WithInstrumentationVersion(Version()),
		metric.WithSchemaURL(semconv.SchemaURL))
	buckets := metric.WithExplicitBucketBoundaries(DurationBuckets...)
	var err error
	if t.opDuration, err = messagingconv.NewClientOperationDuration(meter, buckets); err != nil {
		gotel.Handle(err)
	}
	if t.processTime, err = messagingconv.NewProcessDuration(meter, buckets); err != nil {
		gotel.Handle(err)
	}
	// The conventions' counters, with their names, units and descriptions,
	// summed in process.
	sent, consumed := messagingconv.ClientSentMessages{}, messagingconv.ClientConsumedMessages{}
	t.sent = newLocalCounter[metricKey](meter, sent.Name(), sent.Unit(), sent.Description())
	t.consumed = newLocalCounter[metricKey](meter, consumed.Name(), consumed.Unit(), consumed.Description())
	t.routingDecisions = newLocalCounter[routingKey](meter, MetricRoutingDecisions, "{decision}",
		"Routing decisions the mesh made, by cluster and outcome.")
	t.xdsUpdates = counter(meter, MetricXDSUpdates, "{resource}",
		"xDS resources received by the mesh's xDS client, by type and whether they were accepted or NACKed.")
	t.relayRequests = newLocalCounter[relayKey](meter, MetricRelayRequests, "{request}",
		"Requests the intercepting relay forwarded, by request code and upstream.")
	t.relayFailovers = newLocalCounter[relayKey](meter, MetricRelayFailovers, "{failover}",
		"Requests the intercepting relay retried on another upstream.")
	t.registerLocalCounters(meter)
	t.relayEjections = counter(meter, MetricRelayEjections, "{ejection}",
		"Upstream endpoints ejected by outlier detection.")
	return t
}

func counter(m metric.Meter, name, unit, desc string) metric.Int64Counter {
	c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil {
		gotel.Handle(err)
	}
	return c // a no-op counter when err != nil
}

// RPCSpans reports whether per-RPC spans from the relay are on
// ([WithRPCSpans]).
func (t *Telemetry) RPCSpans() bool { return t.rpcSpans }

// Propagators returns the propagators messages carry context with.
func (t *Telemetry) Propagators() propagation.TextMapPropagator { return t.prop }

// attrPool recycles the attribute slices spans are started and ended with:
// the SDK copies attributes, and a slice of a span's worth of them is a
// kilobyte per message otherwise.
var attrPool = sync.Pool{New: func() any { s := make([]attribute.KeyValue, 0, 24); return &s }}

func getAttrs() *[]attribute.KeyValue { return attrPool.Get().(*[]attribute.KeyValue) }

func putAttrs(p *[]attribute.KeyValue, s []attribute.KeyValue) {
	if cap(s) > 64 {
		return // grown by an unusual span; let it go
	}
	clear(s) // drop references to strings
	*p = s[:0]
	attrPool.Put(p)
}

// Span start options that never change, built once.
var (
	producerKind = trace.WithSpanKind(trace.SpanKindProducer)
	consumerKind = trace.WithSpanKind(trace.SpanKindConsumer)
	clientKind   = trace.WithSpanKind(trace.SpanKindClient)
)

// optionsPool recycles the option slices spans are started with: a slice
// passed to the tracer interface escapes, one allocation per span otherwise.
// A tracer can read options only through trace.NewSpanStartConfig (their
// method is unexported), which copies what they say during Start.
var optionsPool = sync.Pool{New: func() any { s := make([]trace.SpanStartOption, 0, 4); return &s }}

// startSpan starts a span of kind with attrs, links when there are some, and
// more options.
func (t *Telemetry) startSpan(ctx context.Context, name string, kind trace.SpanStartOption, attrs []attribute.KeyValue, links []trace.Link, more ...trace.SpanStartOption) (context.Context, trace.Span) {
	p := optionsPool.Get().(*[]trace.SpanStartOption)
	opts := append((*p)[:0], kind, trace.WithAttributes(attrs...))
	if len(links) > 0 {
		opts = append(opts, trace.WithLinks(links...))
	}
	opts = append(opts, more...)
	ctx, span := t.tracer.Start(ctx, name, opts...)
	clear(opts)
	*p = opts[:0]
	optionsPool.Put(p)
	return ctx, span
}

// seconds is the duration since start in the unit every duration metric uses.
func seconds(start time.Time) float64 { return float64(time.Since(start)) / float64(time.Second) }

// operation names (messaging.operation.name): RocketMQ's own words for them.
const (
	opSend    = "send"
	opReceive = "receive"
	opProcess = "process"
	opAck     = "ack"
	opNack    = "nack"
)

// spanName is "{operation} {destination}", as the conventions name spans.
func spanName(op, destination string) string {
	if destination == "" {
		return op
	}
	return op + " " + destination
}

type nameKey struct{ op, destination string }

// spanName is the package's spanName, built once per operation and
// destination: a send would otherwise allocate its span's name.
func (t *Telemetry) spanName(op, destination string) string {
	k := nameKey{op, destination}
	if name, ok := t.names.load(k); ok {
		return name
	}
	name, _ := t.names.add(k, spanName(op, destination))
	return name
}

// common attributes of every messaging span.
func baseAttrs(dst []attribute.KeyValue, op string, opType attribute.KeyValue, destination string, info *ClientInfo) []attribute.KeyValue {
	dst = append(dst,
		semconv.MessagingSystemRocketMQ,
		semconv.MessagingOperationName(op),
		opType,
		semconv.MessagingDestinationName(destination),
	)
	if info.ClientID != "" {
		dst = append(dst, semconv.MessagingClientID(info.ClientID))
	}
	if info.Namespace != "" {
		dst = append(dst, semconv.MessagingRocketMQNamespace(info.Namespace))
	}
	return dst
}

// context carried by a message when it has a valid one.
func (t *Telemetry) extractSpanContext(c propagation.TextMapCarrier) trace.SpanContext {
	return trace.SpanContextFromContext(t.prop.Extract(context.Background(), c))
}
