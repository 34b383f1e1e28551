package otel

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Names of the mesh's own metrics. The messaging ones follow the semantic
// conventions; these are rmqmesh's and carry its attribute keys below.
const (
	// MetricRoutingDecisions counts routing decisions ({cluster, outcome}).
	MetricRoutingDecisions = "rmqmesh.routing.decisions"
	// MetricXDSUpdates counts xDS resources received ({type, result}).
	MetricXDSUpdates = "rmqmesh.xds.updates"
	// MetricRelayRequests counts requests the relay forwarded ({code,
	// cluster, upstream}).
	MetricRelayRequests = "rmqmesh.relay.requests"
	// MetricRelayFailovers counts requests retried on another upstream
	// ({code, cluster}).
	MetricRelayFailovers = "rmqmesh.relay.failovers"
	// MetricRelayEjections counts endpoints ejected by outlier detection
	// ({cluster, endpoint}).
	MetricRelayEjections = "rmqmesh.relay.ejections"
)

// Attribute keys of the mesh's metrics and per-RPC spans.
const (
	ClusterKey      = attribute.Key("rmqmesh.cluster")
	OutcomeKey      = attribute.Key("rmqmesh.outcome")
	XDSTypeKey      = attribute.Key("rmqmesh.xds.type")
	XDSResultKey    = attribute.Key("rmqmesh.xds.result")
	RequestCodeKey  = attribute.Key("rmqmesh.request.code")
	ResponseCodeKey = attribute.Key("rmqmesh.response.code")
	UpstreamKey     = attribute.Key("rmqmesh.upstream")
	NextUpstreamKey = attribute.Key("rmqmesh.next_upstream")
	AttemptKey      = attribute.Key("rmqmesh.attempt")
)

// Outcomes of routing decisions and results of xDS updates.
const (
	// OutcomeRouted: routing chose (a broker, a route answer).
	OutcomeRouted = "routed"
	// OutcomeFallback: routing had no answer and the client's own choice
	// stood (no configuration yet, or no route for the topic).
	OutcomeFallback = "fallback"
	// OutcomeRejected: the request was refused with an error naming the
	// reason.
	OutcomeRejected = "rejected"

	XDSAccepted = "accepted"
	XDSNACKed   = "nacked"
)

// addOpts caches the metric options of one attribute combination, so that a
// counter on the send path does not build an attribute set per call.
type addOpts struct{ m sync.Map } // key → []metric.AddOption

func (c *addOpts) get(key any, attrs ...attribute.KeyValue) []metric.AddOption {
	if v, ok := c.m.Load(key); ok {
		return v.([]metric.AddOption)
	}
	opts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
	c.m.Store(key, opts)
	return opts
}

type routingKey struct{ cluster, outcome string }

// RoutingDecisionsEnabled reports whether RoutingDecision records anything, so
// that a caller can skip working out the cluster when it does not.
func (t *Telemetry) RoutingDecisionsEnabled(ctx context.Context) bool {
	return t.routingDecisions.Enabled(ctx)
}

// RoutingDecision counts one routing decision of the mesh: cluster is the
// cluster the route named ("" when none matched), outcome one of
// OutcomeRouted, OutcomeFallback, OutcomeRejected.
func (t *Telemetry) RoutingDecision(ctx context.Context, cluster, outcome string) {
	if !t.routingDecisions.Enabled(ctx) {
		return
	}
	t.routingDecisions.Add(ctx, 1, t.routingOpts.get(routingKey{cluster, outcome}, ClusterKey.String(cluster), OutcomeKey.String(outcome))...)
}

// XDSUpdate counts xDS resources of one type received in one response:
// accepted ones and NACKed ones.
func (t *Telemetry) XDSUpdate(ctx context.Context, typ string, accepted, nacked int) {
	if accepted > 0 {
		t.xdsUpdates.Add(ctx, int64(accepted), metric.WithAttributes(XDSTypeKey.String(typ), XDSResultKey.String(XDSAccepted)))
	}
	if nacked > 0 {
		t.xdsUpdates.Add(ctx, int64(nacked), metric.WithAttributes(XDSTypeKey.String(typ), XDSResultKey.String(XDSNACKed)))
	}
}

// Ejection counts an endpoint ejected by the relay's outlier detection.
func (t *Telemetry) Ejection(ctx context.Context, cluster, endpoint string) {
	t.relayEjections.Add(ctx, 1, metric.WithAttributes(ClusterKey.String(cluster), UpstreamKey.String(endpoint)))
}

type relayKey struct {
	code              int32
	cluster, upstream string
}

func (t *Telemetry) relayRequest(ctx context.Context, code int32, cluster, upstream string) {
	if !t.relayRequests.Enabled(ctx) {
		return
	}
	t.relayRequests.Add(ctx, 1, t.relayOpts.get(relayKey{code, cluster, upstream},
		RequestCodeKey.String(remoting.RequestCodeName(code)), ClusterKey.String(cluster), UpstreamKey.String(upstream))...)
}

func (t *Telemetry) relayFailover(ctx context.Context, code int32, cluster string) {
	t.relayFailovers.Add(ctx, 1, metric.WithAttributes(RequestCodeKey.String(remoting.RequestCodeName(code)), ClusterKey.String(cluster)))
}
