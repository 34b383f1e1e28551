package otel

import (
	"cmp"
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

// cowCache is a map read on hot paths: a hit takes no lock and boxes nothing
// (a sync.Map would box a struct or string key on every lookup); an addition
// copies the map, which happens once per key. Past maxMetricSets keys, values
// are not kept.
type cowCache[K comparable, V any] struct {
	mu    sync.Mutex // serialises additions
	m     atomic.Pointer[map[K]V]
	limit int // keys kept; zero means maxMetricSets (tests lower it)
}

// load returns the value cached for key.
func (c *cowCache[K, V]) load(key K) (V, bool) {
	if m := c.m.Load(); m != nil {
		v, ok := (*m)[key]
		return v, ok
	}
	var zero V
	return zero, false
}

// add caches v for key unless a value is cached already, and returns the
// cached value; false with v when the cache is full.
func (c *cowCache[K, V]) add(key K, v V) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	n := 0
	if old != nil {
		if cached, ok := (*old)[key]; ok {
			return cached, true
		}
		n = len(*old)
	}
	if limit := cmp.Or(c.limit, maxMetricSets); n >= limit {
		return v, false
	}
	m := make(map[K]V, n+1)
	if old != nil {
		for k, ov := range *old {
			m[k] = ov
		}
	}
	m[key] = v
	c.m.Store(&m)
	return v, true
}

type routingKey struct{ cluster, outcome string }

// RoutingDecisionsEnabled reports whether the meter records anything, so
// that a caller can skip working out the cluster when it does not.
func (t *Telemetry) RoutingDecisionsEnabled(ctx context.Context) bool {
	// The routing decisions are an observable counter, which cannot say; the
	// xDS updates' synchronous counter of the same meter can.
	return t.xdsUpdates.Enabled(ctx)
}

// RoutingDecision counts one routing decision of the mesh: cluster is the
// cluster the route named ("" when none matched), outcome one of
// OutcomeRouted, OutcomeFallback, OutcomeRejected. It costs an atomic add once
// the combination has been seen.
func (t *Telemetry) RoutingDecision(_ context.Context, cluster, outcome string) {
	t.routingDecisions.add(routingKey{cluster, outcome}, 1, func(k routingKey) []attribute.KeyValue {
		return []attribute.KeyValue{ClusterKey.String(k.cluster), OutcomeKey.String(k.outcome)}
	})
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
// "host:port", of cluster (rmqmesh.relay.requests). It costs an atomic add
// once the combination has been seen, so the relay counts every request
// whenever telemetry is on, per-RPC spans or not.
func (t *Telemetry) RelayRequest(_ context.Context, code int32, cluster, upstream string) {
	t.relayRequests.add(relayKey{code, cluster, upstream}, 1, func(k relayKey) []attribute.KeyValue {
		return []attribute.KeyValue{RequestCodeKey.String(remoting.RequestCodeName(k.code)), ClusterKey.String(k.cluster), UpstreamKey.String(k.upstream)}
	})
}

// RelayFailovers counts n failovers of one request: the times the relay moved
// it on from a target that could not take it (rmqmesh.relay.failovers).
func (t *Telemetry) RelayFailovers(_ context.Context, code int32, cluster string, n int) {
	if n <= 0 {
		return
	}
	t.relayFailovers.add(relayKey{code: code, cluster: cluster}, int64(n), func(k relayKey) []attribute.KeyValue {
		return []attribute.KeyValue{RequestCodeKey.String(remoting.RequestCodeName(k.code)), ClusterKey.String(k.cluster)}
	})
}
