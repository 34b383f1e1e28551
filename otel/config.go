package otel

import (
	"net/netip"

	gotel "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope name of every tracer and meter this
// package creates: its import path, as the OpenTelemetry conventions ask.
const ScopeName = "github.com/rmqmesh/rmqmesh/otel"

// config is what [New] is built from. The providers and propagators default to
// the globals as they are when New runs; options override them.
type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagators    propagation.TextMapPropagator
	propagatorsSet bool
	rpcSpans       bool
	resolveBroker  func(netip.AddrPort) (string, bool)
}

// Option configures [New]. Nil options are ignored.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithTracerProvider sets the tracer provider. The default is the global one
// (go.opentelemetry.io/otel.GetTracerProvider) when [New] runs. A nil provider
// is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) {
		if tp != nil {
			c.tracerProvider = tp
		}
	})
}

// WithMeterProvider sets the meter provider. The default is the global one
// when [New] runs. A nil provider is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) {
		if mp != nil {
			c.meterProvider = mp
		}
	})
}

// WithPropagators sets the propagators that carry trace context and baggage in
// message properties. The default is the global propagator when the
// application has set one, and otherwise W3C trace context plus baggage: the
// fields the OpenTelemetry Java agent's RocketMQ instrumentation reads and
// writes ("traceparent", "tracestate", "baggage"). An empty composite
// propagator turns propagation off; a nil one is ignored.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) {
		if p != nil {
			c.propagators, c.propagatorsSet = p, true
		}
	})
}

// WithRPCSpans turns on a CLIENT span per request the intercepting relay
// forwards to a broker ([Telemetry.StartRPC]). They are off by default: pulls
// and heartbeats make them chatty.
func WithRPCSpans(on bool) Option {
	return optionFunc(func(c *config) { c.rpcSpans = on })
}

// WithBrokerAddressResolver sets how spans and metrics find the broker behind
// an address a client saw: a pulled message's store host, or the host in a
// send's offset message id. resolve returns the real "host:port" of the broker
// that served, or false to keep the address as seen. The mesh sets it on the
// intercept data path, where clients see the relay's virtual endpoints in
// both, so that server.address and server.port name the real broker. It is
// called once per send, delivery or receive, and must be safe for concurrent
// use and cheap. A nil resolver is ignored.
func WithBrokerAddressResolver(resolve func(seen netip.AddrPort) (string, bool)) Option {
	return optionFunc(func(c *config) {
		if resolve != nil {
			c.resolveBroker = resolve
		}
	})
}

func newConfig(opts []Option) config {
	c := config{
		tracerProvider: gotel.GetTracerProvider(),
		meterProvider:  gotel.GetMeterProvider(),
		propagators:    gotel.GetTextMapPropagator(),
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	// The global propagator propagates nothing until the application sets
	// one; messages would then carry no context at all, which nobody who
	// turned tracing on wants.
	if !c.propagatorsSet && len(c.propagators.Fields()) == 0 {
		c.propagators = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return c
}
