package otel

import (
	"context"
	"sync"
	"sync/atomic"

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

// optsCache caches the metric options of attribute combinations, so that a
// counter on a hot path does not build, sort and hash an attribute set per
// call. A hit takes no lock and boxes nothing (a sync.Map would box its struct
// key on every lookup); a miss copies the map, which happens once per
// combination. Past maxMetricSets combinations, options are built per call.
type optsCache[K comparable] struct {
	mu sync.Mutex // serialises misses
	m  atomic.Pointer[map[K][]metric.AddOption]
}

func (c *optsCache[K]) get(key K, attrs func() []attribute.KeyValue) []metric.AddOption {
	if m := c.m.Load(); m != nil {
		if opts, ok := (*m)[key]; ok {
			return opts
		}
	}
	opts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrs()...))}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil && len(*old) >= maxMetricSets {
		return opts
	}
	m := make(map[K][]metric.AddOption, 1+lenOf(old))
	if old != nil {
		if cached, ok := (*old)[key]; ok {
			return cached
		}
		for k, v := range *old {
			m[k] = v
		}
	}
	m[key] = opts
	c.m.Store(&m)
	return opts
}

func lenOf[K comparable, V any](m *map[K]V) int {
	if m == nil {
		return 0
	}
	return len(*m)
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
	t.routingDecisions.Add(ctx, 1, t.routingOpts.get(routingKey{cluster, outcome}, func() []attribute.KeyValue {
		return []attribute.KeyValue{ClusterKey.String(cluster), OutcomeKey.String(outcome)}
	})...)
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

// RelayRequest counts one request the relay forwarded to upstream, a broker's
// "host:port", of cluster (rmqmesh.relay.requests). It costs no allocation once
// the combination has been seen, so the relay counts every request whenever
// telemetry is on, per-RPC spans or not.
func (t *Telemetry) RelayRequest(ctx context.Context, code int32, cluster, upstream string) {
	if !t.relayRequests.Enabled(ctx) {
		return
	}
	t.relayRequests.Add(ctx, 1, t.relayOpts.get(relayKey{code, cluster, upstream}, func() []attribute.KeyValue {
		return []attribute.KeyValue{RequestCodeKey.String(remoting.RequestCodeName(code)), ClusterKey.String(cluster), UpstreamKey.String(upstream)}
	})...)
}

// RelayFailovers counts n failovers of one request: the times the relay moved
// it on from a target that could not take it (rmqmesh.relay.failovers).
func (t *Telemetry) RelayFailovers(ctx context.Context, code int32, cluster string, n int) {
	if n <= 0 || !t.relayFailovers.Enabled(ctx) {
		return
	}
	t.relayFailovers.Add(ctx, int64(n), t.failoverOpts.get(relayKey{code: code, cluster: cluster}, func() []attribute.KeyValue {
		return []attribute.KeyValue{RequestCodeKey.String(remoting.RequestCodeName(code)), ClusterKey.String(cluster)}
	})...)
}
