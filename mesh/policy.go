package mesh

import (
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// policySet holds the relay policy of every cluster in force, by name: what
// each cluster's connect_timeout, outlier_detection, circuit_breakers and
// send_failover knob ask of the relay. It is rebuilt with every snapshot and
// never modified.
type policySet struct {
	byCluster map[string]*transport.ClusterPolicy
}

// policy returns the relay policy of cluster name, nil when it has none (the
// relay's defaults apply).
func (m *Mesh) policy(name string) *transport.ClusterPolicy {
	if ps := m.policies.Load(); ps != nil {
		return ps.byCluster[name]
	}
	return nil
}

// Envoy's outlier_detection defaults (envoy.config.cluster.v3.OutlierDetection).
const (
	envoyOutlierInterval            = 10 * time.Second
	envoyOutlierBaseEjectionTime    = 30 * time.Second
	envoyOutlierMaxEjectionTime     = 300 * time.Second
	envoyOutlierMaxEjectionPercent  = 10
	envoyOutlierConsecutive         = 5
	envoyOutlierEnforcing           = 100
	envoyOutlierEnforcingGatewayOff = 0
)

// clusterPolicy turns a cluster's update into the relay's policy; hosts is
// the number of endpoints its assignment lists.
func clusterPolicy(u *xdsclient.ClusterUpdate, cla *endpointv3.ClusterLoadAssignment) *transport.ClusterPolicy {
	f := u.SendFailover
	p := &transport.ClusterPolicy{
		Name:           u.Name,
		ConnectTimeout: u.ConnectTimeout,
		Failover: transport.Failover{
			Disabled: !f.Enabled, MaxAttempts: f.MaxAttempts, PerTryTimeout: f.PerTryTimeout, Timeout: f.Timeout, MoveKeyedSends: f.MoveKeyedSends,
		},
		Outlier: outlierDetection(u.OutlierDetection),
		Limits:  limits(u.CircuitBreakers),
	}
	for _, l := range cla.GetEndpoints() {
		p.Hosts += len(l.GetLbEndpoints())
	}
	return p
}

// outlierDetection applies Envoy's defaults to what od sets; nil for nil.
func outlierDetection(od *clusterv3.OutlierDetection) *transport.OutlierDetection {
	if od == nil {
		return nil
	}
	dur := func(d interface{ AsDuration() time.Duration }, isSet bool, def time.Duration) time.Duration {
		if !isSet {
			return def
		}
		return d.AsDuration()
	}
	u32 := func(v interface{ GetValue() uint32 }, isSet bool, def uint32) uint32 {
		if !isSet {
			return def
		}
		return v.GetValue()
	}
	return &transport.OutlierDetection{
		Interval:                               dur(od.GetInterval(), od.GetInterval() != nil, envoyOutlierInterval),
		BaseEjectionTime:                       dur(od.GetBaseEjectionTime(), od.GetBaseEjectionTime() != nil, envoyOutlierBaseEjectionTime),
		MaxEjectionTime:                        dur(od.GetMaxEjectionTime(), od.GetMaxEjectionTime() != nil, envoyOutlierMaxEjectionTime),
		MaxEjectionTimeJitter:                  dur(od.GetMaxEjectionTimeJitter(), od.GetMaxEjectionTimeJitter() != nil, 0),
		MaxEjectionPercent:                     u32(od.GetMaxEjectionPercent(), od.GetMaxEjectionPercent() != nil, envoyOutlierMaxEjectionPercent),
		AlwaysEjectOneHost:                     od.GetAlwaysEjectOneHost().GetValue(),
		Consecutive5xx:                         u32(od.GetConsecutive_5Xx(), od.GetConsecutive_5Xx() != nil, envoyOutlierConsecutive),
		EnforcingConsecutive5xx:                u32(od.GetEnforcingConsecutive_5Xx(), od.GetEnforcingConsecutive_5Xx() != nil, envoyOutlierEnforcing),
		ConsecutiveGatewayFailure:              u32(od.GetConsecutiveGatewayFailure(), od.GetConsecutiveGatewayFailure() != nil, envoyOutlierConsecutive),
		EnforcingConsecutiveGatewayFailure:     u32(od.GetEnforcingConsecutiveGatewayFailure(), od.GetEnforcingConsecutiveGatewayFailure() != nil, envoyOutlierEnforcingGatewayOff),
		SplitExternalLocalOriginErrors:         od.GetSplitExternalLocalOriginErrors(),
		ConsecutiveLocalOriginFailure:          u32(od.GetConsecutiveLocalOriginFailure(), od.GetConsecutiveLocalOriginFailure() != nil, envoyOutlierConsecutive),
		EnforcingConsecutiveLocalOriginFailure: u32(od.GetEnforcingConsecutiveLocalOriginFailure(), od.GetEnforcingConsecutiveLocalOriginFailure() != nil, envoyOutlierEnforcing),
	}
}

// limits reads the DEFAULT priority's thresholds; a threshold left unset is
// no limit (see the xdsclient package doc for why not Envoy's 1024).
func limits(cb *clusterv3.CircuitBreakers) transport.Limits {
	var l transport.Limits
	for _, th := range cb.GetThresholds() {
		if th.GetPriority() != corev3.RoutingPriority_DEFAULT {
			continue
		}
		l = transport.Limits{
			MaxConnections:     int(th.GetMaxConnections().GetValue()),
			MaxPendingRequests: int(th.GetMaxPendingRequests().GetValue()),
			MaxRequests:        int(th.GetMaxRequests().GetValue()),
			MaxRetries:         int(th.GetMaxRetries().GetValue()),
		}
	}
	return l
}
