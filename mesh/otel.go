package mesh

import (
	"context"
	"net"
	"net/netip"
	"sync"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// telemetryConfig is the OpenTelemetry part of a mesh's configuration.
type telemetryConfig struct {
	off  bool
	opts []rmqotel.Option
}

// WithTracerProvider sets the tracer provider of the clients' spans. The
// default is the global provider when [New] runs.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.telemetry.opts = append(c.telemetry.opts, rmqotel.WithTracerProvider(tp)) })
}

// WithMeterProvider sets the meter provider of the clients' and the mesh's
// metrics. The default is the global provider when [New] runs.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.telemetry.opts = append(c.telemetry.opts, rmqotel.WithMeterProvider(mp)) })
}

// WithPropagators sets the propagators that carry trace context in message
// properties. The default is the global propagator, or W3C trace context and
// baggage while the application has set none.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) { c.telemetry.opts = append(c.telemetry.opts, rmqotel.WithPropagators(p)) })
}

// WithRPCSpans turns on a CLIENT span per attempt of every request the
// intercepting relay forwards to a broker, named after the request code and
// topic ("SEND_MESSAGE orders", "PULL_MESSAGE orders", "HEART_BEAT"), with the
// cluster, the broker endpoint, the attempt number and the response code; a
// request moved on from an unreachable broker gets a span per attempt, the
// failed one carrying a "failover" event. A send's spans nest under the send
// span of the message it carries; other requests start traces of their own.
// Pulls and heartbeats make them chatty: they are off by default. Clusters on
// the direct data path have no relay and no such spans. The relay's request
// and failover counters count whether or not this is on.
func WithRPCSpans() Option {
	return optionFunc(func(c *config) { c.telemetry.opts = append(c.telemetry.opts, rmqotel.WithRPCSpans(true)) })
}

// WithoutTelemetry turns the mesh's OpenTelemetry instrumentation off: clients
// are returned unwrapped, no context is injected into messages and no metric
// is recorded. (Noop providers given to WithTracerProvider and
// WithMeterProvider silence spans and metrics but keep propagation.)
func WithoutTelemetry() Option {
	return optionFunc(func(c *config) { c.telemetry.off = true })
}

// newTelemetry builds the mesh's instrumentation, or nil when it is off.
// resolve names the real broker behind the relay's virtual addresses; an
// option of the caller's, which comes later, can replace it.
func newTelemetry(c telemetryConfig, resolve func(netip.AddrPort) (string, bool)) *rmqotel.Telemetry {
	if c.off {
		return nil
	}
	return rmqotel.New(append([]rmqotel.Option{rmqotel.WithBrokerAddressResolver(resolve)}, c.opts...)...)
}

// relayInterceptors are the links the mesh puts first in the relay's chain:
// the tracing link, when telemetry is on.
func (m *Mesh) relayInterceptors() []transport.Interceptor {
	if m.tel == nil {
		return nil
	}
	return []transport.Interceptor{relayTelemetry{tel: m.tel}.intercept}
}

// Telemetry returns the mesh's instrumentation, for applications that build
// clients themselves ([Mesh.ProducerOptions]) and wrap them with it, or nil
// after [WithoutTelemetry].
func (m *Mesh) Telemetry() *rmqotel.Telemetry { return m.tel }

// xdsTelemetryOptions makes the xDS client the mesh creates count the
// resources it accepts and NACKs.
func (m *Mesh) xdsTelemetryOptions() []xdsclient.Option {
	if m.tel == nil {
		return nil
	}
	tel := m.tel
	return []xdsclient.Option{xdsclient.WithUpdateRecorder(func(typ string, accepted, nacked int) {
		tel.XDSUpdate(context.Background(), typ, accepted, nacked)
	})}
}

func (m *Mesh) instrumentProducer(p rocketmq.Producer, opts []producer.Option) rocketmq.Producer {
	if m.tel == nil {
		return p
	}
	return m.tel.WrapProducer(p, producerInfo(opts))
}

func (m *Mesh) instrumentTransactionProducer(p rocketmq.TransactionProducer, opts []producer.Option) rocketmq.TransactionProducer {
	if m.tel == nil {
		return p
	}
	return m.tel.WrapTransactionProducer(p, producerInfo(opts))
}

func (m *Mesh) instrumentPushConsumer(c rocketmq.PushConsumer, opts []consumer.Option) rocketmq.PushConsumer {
	if m.tel == nil {
		return c
	}
	return m.tel.WrapPushConsumer(c, consumerInfo(opts))
}

func (m *Mesh) instrumentPullConsumer(c rocketmq.PullConsumer, opts []consumer.Option) rocketmq.PullConsumer {
	if m.tel == nil {
		return c
	}
	return m.tel.WrapPullConsumer(c, consumerInfo(opts))
}

// producerInfo reads what the spans say about a producer from its complete
// option list (the caller's plus the mesh's).
func producerInfo(opts []producer.Option) rmqotel.ClientInfo {
	return rmqotel.ClientInfo{
		Group:     optionString(opts, "GroupName"),
		Namespace: optionString(opts, "Namespace"),
		ClientID:  clientID(optionString(opts, "InstanceName"), optionString(opts, "UnitName")),
	}
}

func consumerInfo(opts []consumer.Option) rmqotel.ClientInfo {
	// The options struct's zero model is BroadCasting; the client's default
	// is Clustering, so it goes first and the caller's choice overrides it.
	model, _ := optionField(append([]consumer.Option{consumer.WithConsumerModel(consumer.Clustering)}, opts...), "ConsumerModel").(consumer.MessageModel)
	return rmqotel.ClientInfo{
		Group:        optionString(opts, "GroupName"),
		Namespace:    optionString(opts, "Namespace"),
		ClientID:     clientID(optionString(opts, "InstanceName"), optionString(opts, "UnitName")),
		Broadcasting: model == consumer.BroadCasting,
	}
}

// clientID is the id the official client reports to brokers for an instance
// name: "IP@instance[@unit]", where IP is the first IPv4 address of an
// interface that is up and not loopback, as v2.1.2 computes it.
func clientID(instance, unit string) string {
	id := localIPv4() + "@" + instance
	if unit != "" {
		id += "@" + unit
	}
	return id
}

// localIPv4 is computed once: the interfaces of a process do not change under
// the official client either, which reads them once at start.
var localIPv4 = sync.OnceValue(func() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagLoopback != 0 || iface.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipnet, ok := a.(*net.IPNet); ok && !ipnet.IP.IsLoopback() {
				if ip4 := ipnet.IP.To4(); ip4 != nil {
					return ip4.String()
				}
			}
		}
	}
	return ""
})

// recordWritePick counts one QueueSelector decision: outcome is
// rmqotel.OutcomeRouted when routing picked the broker and
// rmqotel.OutcomeFallback when the client's own choice stood.
func (m *Mesh) recordWritePick(snap *routing.Snapshot, topic, outcome string) {
	if m.tel == nil || !m.tel.RoutingDecisionsEnabled(context.Background()) {
		return
	}
	cluster := ""
	if rt, err := snap.Match(topic, remoting.CodeSendMessage, nil); err == nil {
		cluster = rt.Cluster()
	}
	m.tel.RoutingDecision(context.Background(), cluster, outcome)
}

// recordRouteAnswer counts one answer to a client's route query.
func (m *Mesh) recordRouteAnswer(ctx context.Context, topic string, err error) {
	if m.tel == nil || !m.tel.RoutingDecisionsEnabled(ctx) {
		return
	}
	outcome, cluster := rmqotel.OutcomeRouted, ""
	if err != nil {
		outcome = rmqotel.OutcomeRejected
	} else if rt, merr := m.table.Load().Match(topic, remoting.CodeSendMessage, nil); merr == nil {
		cluster = rt.Cluster()
	} else if src, serr := m.table.Load().RouteSource(topic); serr == nil {
		cluster = src.Cluster
	}
	m.tel.RoutingDecision(ctx, cluster, outcome)
}
