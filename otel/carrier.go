package otel

import (
	"context"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Trace context travels in message user properties under the propagators'
// own field names — "traceparent", "tracestate" and "baggage" for the
// default W3C propagators — exactly as the OpenTelemetry Java agent's RocketMQ
// instrumentation stores them: its rocketmq-client-4.8 setter puts each field
// into the message's properties map under the propagator's key, and its
// getter reads them back the same way (opentelemetry-java-instrumentation,
// instrumentation/rocketmq/rocketmq-client-4.8/library/src/main/java/io/
// opentelemetry/instrumentation/rocketmqclient/v4_8/MapSetter.java and
// TextMapExtractAdapter.java). A Java service and a Go service on one topic
// therefore continue each other's traces in both directions.

// maxFieldLen bounds a trace property this package will parse: W3C allows a
// few hundred bytes for traceparent and tracestate and 8192 for baggage. A
// longer value is ignored as if absent, so a message with an oversized
// property starts a new trace instead of costing the consumer a large parse.
const maxFieldLen = 8192

// MessageCarrier adapts a message's user properties to a
// [propagation.TextMapCarrier]. Get ignores values longer than the W3C
// limits.
type MessageCarrier struct{ Msg *primitive.Message }

var _ propagation.TextMapCarrier = MessageCarrier{}

// Get returns the property key, or "" when it is absent or oversized.
func (c MessageCarrier) Get(key string) string {
	v := c.Msg.GetProperty(key)
	if len(v) > maxFieldLen {
		return ""
	}
	return v
}

// Set sets property key to value.
func (c MessageCarrier) Set(key, value string) { c.Msg.WithProperty(key, value) }

// Keys returns the names of every property of the message.
func (c MessageCarrier) Keys() []string {
	props := c.Msg.GetProperties()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	return keys
}

// PropertiesCarrier adapts a decoded properties map (as the relay reads it from
// a send request) to a [propagation.TextMapCarrier], with the limits of
// [MessageCarrier].
type PropertiesCarrier map[string]string

var _ propagation.TextMapCarrier = PropertiesCarrier(nil)

// Get returns the property key, or "" when it is absent or oversized.
func (c PropertiesCarrier) Get(key string) string {
	v := c[key]
	if len(v) > maxFieldLen {
		return ""
	}
	return v
}

// Set sets property key to value.
func (c PropertiesCarrier) Set(key, value string) { c[key] = value }

// Keys returns the names of every property.
func (c PropertiesCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// wireProperties reads message properties in their wire form
// ("name\x01value\x02…") as a read-only [propagation.TextMapCarrier], with the
// limits of [MessageCarrier], finding each field without decoding the rest.
type wireProperties string

var _ propagation.TextMapCarrier = wireProperties("")

func (c wireProperties) Get(key string) string {
	v, _ := remoting.PropertyValue(string(c), key)
	if len(v) > maxFieldLen {
		return ""
	}
	return v
}

// Set does nothing: the relay never writes into a request.
func (wireProperties) Set(string, string) {}

func (c wireProperties) Keys() []string {
	keys := []string{}
	for name := range remoting.ParseProperties(string(c)) {
		keys = append(keys, name)
	}
	return keys
}

// Extract returns ctx with the trace context and baggage msg carries, for code
// that processes messages itself (a pull consumer's application, for example).
// A message without a valid context leaves ctx unchanged.
func (t *Telemetry) Extract(ctx context.Context, msg *primitive.Message) context.Context {
	if msg == nil {
		return ctx
	}
	return t.prop.Extract(ctx, MessageCarrier{msg})
}

// Inject writes the trace context and baggage of ctx into msg's properties,
// unless msg already carries a valid context of another trace (see
// [Telemetry.WrapProducer] on duplicate instrumentation). It reports whether it
// wrote.
func (t *Telemetry) Inject(ctx context.Context, msg *primitive.Message) bool {
	if msg == nil {
		return false
	}
	if sc := t.foreignContext(ctx, msg); sc.IsValid() {
		return false
	}
	t.prop.Inject(ctx, MessageCarrier{msg})
	return true
}

// foreignContext returns the valid span context msg already carries when it
// belongs to another trace than ctx's span: another instrumentation of this
// client (or the application) put it there, and writing over it would cut the
// consumer off from that trace. A context of the same trace — this package's
// own from an earlier attempt to send the same message, or an outer
// instrumentation's whose span is an ancestor of ours — is not foreign: the
// newer, deeper one replaces it and the trace stays whole. Malformed contexts
// are not valid and are replaced.
func (t *Telemetry) foreignContext(ctx context.Context, msg *primitive.Message) trace.SpanContext {
	present := false
	for _, f := range t.fields {
		if msg.GetProperty(f) != "" {
			present = true
			break
		}
	}
	if !present {
		return trace.SpanContext{}
	}
	sc := t.extractSpanContext(MessageCarrier{msg})
	if !sc.IsValid() || sc.TraceID() == trace.SpanContextFromContext(ctx).TraceID() {
		return trace.SpanContext{}
	}
	return sc
}
