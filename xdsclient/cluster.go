package xdsclient

import (
	"errors"
	"fmt"
	"slices"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

// Load-balancing policies a cluster may name (ClusterUpdate.LBPolicy): the
// ones grpc-go accepts. rmqmesh's routing balances by endpoint and
// locality weights, which is round robin; the others are accepted, logged,
// and balanced the same way.
const (
	LBPolicyRoundRobin   = "round_robin"
	LBPolicyRingHash     = "ring_hash"
	LBPolicyLeastRequest = "least_request"
)

// DefaultConnectTimeout is Envoy's connect_timeout when a cluster sets none.
const DefaultConnectTimeout = 5 * time.Second

// tlsTransportSocket is the only transport socket a cluster may name, as
// in grpc-go.
const tlsTransportSocket = "envoy.transport_sockets.tls"

// Typed load_balancing_policy extensions, by type URL, and the LBPolicy
// each one means here.
var typedLBPolicies = map[string]string{
	"type.googleapis.com/envoy.extensions.load_balancing_policies.round_robin.v3.RoundRobin":           LBPolicyRoundRobin,
	"type.googleapis.com/envoy.extensions.load_balancing_policies.wrr_locality.v3.WrrLocality":         LBPolicyRoundRobin,
	"type.googleapis.com/envoy.extensions.load_balancing_policies.ring_hash.v3.RingHash":               LBPolicyRingHash,
	"type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest":       LBPolicyLeastRequest,
	"type.googleapis.com/envoy.extensions.load_balancing_policies.pick_first.v3.PickFirst":             LBPolicyRoundRobin,
	"type.googleapis.com/envoy.extensions.load_balancing_policies.random.v3.Random":                    "",
	"type.googleapis.com/envoy.extensions.load_balancing_policies.maglev.v3.Maglev":                    "",
	"type.googleapis.com/envoy.extensions.load_balancing_policies.cluster_provided.v3.ClusterProvided": "",
}

// validateClusterProto applies Envoy's proto rules (the generated
// ValidateAll) and grpc-go's EDS config check.
func validateClusterProto(c *clusterv3.Cluster) error {
	if err := c.ValidateAll(); err != nil {
		return err
	}
	if ec := c.GetEdsClusterConfig().GetEdsConfig(); ec.GetAds() == nil && ec.GetSelf() == nil {
		return fmt.Errorf("eds_cluster_config.eds_config must be ADS or self: endpoints come over this client's ADS stream, got %v", ec.GetConfigSourceSpecifier())
	}
	return nil
}

// parseClusterFields fills the fields later features need, once, and
// rejects what rmqmesh cannot honour without lying to the control plane.
func parseClusterFields(c *clusterv3.Cluster, u *ClusterUpdate) error {
	u.ConnectTimeout = DefaultConnectTimeout
	if d := c.GetConnectTimeout(); d != nil {
		u.ConnectTimeout = d.AsDuration()
	}
	lb, err := lbPolicy(c)
	if err != nil {
		return err
	}
	u.LBPolicy = lb
	u.OutlierDetection = c.GetOutlierDetection()
	u.CircuitBreakers = c.GetCircuitBreakers()
	if u.SendFailover, err = wellknown.ParseSendFailover(c.GetMetadata()); err != nil {
		return err
	}
	if len(c.GetTransportSocketMatches()) > 0 {
		return errors.New("transport_socket_matches is not supported (as in gRPC): set transport_socket")
	}
	if ts := c.GetTransportSocket(); ts != nil {
		if ts.GetName() != tlsTransportSocket {
			return fmt.Errorf("transport_socket %q is not supported (want %q)", ts.GetName(), tlsTransportSocket)
		}
		tc := ts.GetTypedConfig()
		ctx := &tlsv3.UpstreamTlsContext{}
		if err := unmarshalAny(tc, "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext", ctx); err != nil {
			return fmt.Errorf("transport_socket %q: %w", ts.GetName(), err)
		}
		sc, err := securityConfig(ctx)
		if err != nil {
			return fmt.Errorf("transport_socket %q: %w", ts.GetName(), err)
		}
		// The official client cannot speak TLS: only the relay can.
		if dp, _ := wellknown.ParseDataPath(c.GetMetadata()); dp == wellknown.DataPathDirect {
			return fmt.Errorf("transport_socket %q: filter_metadata[%q][%q] is %q, but only the %q data path can speak TLS to brokers (the official client cannot)",
				ts.GetName(), wellknown.MeshMetadataNamespace, wellknown.DataPathKey, wellknown.DataPathDirect, wellknown.DataPathIntercept)
		}
		u.UpstreamTLS, u.Security = ctx, sc
	}
	return nil
}

func lbPolicy(c *clusterv3.Cluster) (string, error) {
	if lbp := c.GetLoadBalancingPolicy(); lbp != nil {
		// grpc-go: the typed list wins over lb_policy; the first supported
		// entry is used.
		var seen []string
		for _, p := range lbp.GetPolicies() {
			typ := p.GetTypedExtensionConfig().GetTypedConfig().GetTypeUrl()
			if name := typedLBPolicies[typ]; name != "" {
				return name, nil
			}
			seen = append(seen, typ)
		}
		return "", fmt.Errorf("load_balancing_policy has no supported policy (got %q)", seen)
	}
	switch p := c.GetLbPolicy(); p {
	case clusterv3.Cluster_ROUND_ROBIN:
		return LBPolicyRoundRobin, nil
	case clusterv3.Cluster_RING_HASH:
		return LBPolicyRingHash, nil
	case clusterv3.Cluster_LEAST_REQUEST:
		return LBPolicyLeastRequest, nil
	default:
		return "", fmt.Errorf("lb_policy %v is not supported (want ROUND_ROBIN, RING_HASH or LEAST_REQUEST, as grpc-go)", p)
	}
}

// Unimplemented lists the cluster settings rmqmesh accepts but does not
// act on, for logging: an lb_policy other than round robin, the parts of
// outlier_detection other than consecutive-failure ejection (success rate
// and failure percentage statistics, degraded hosts, active health checks),
// and the parts of circuit_breakers other than the DEFAULT priority's
// max_connections, max_pending_requests, max_requests and max_retries.
func (u *ClusterUpdate) Unimplemented() []string {
	var out []string
	if u.LBPolicy != "" && u.LBPolicy != LBPolicyRoundRobin {
		out = append(out, "lb_policy "+lbPolicyEnumName(u.LBPolicy))
	}
	if od := u.OutlierDetection; od != nil {
		if od.GetEnforcingSuccessRate() != nil || od.GetSuccessRateMinimumHosts() != nil || od.GetSuccessRateRequestVolume() != nil ||
			od.GetSuccessRateStdevFactor() != nil || od.GetEnforcingLocalOriginSuccessRate() != nil {
			out = append(out, "outlier_detection success rate")
		}
		if od.GetEnforcingFailurePercentage().GetValue() > 0 || od.GetEnforcingFailurePercentageLocalOrigin().GetValue() > 0 {
			out = append(out, "outlier_detection failure percentage")
		}
		if od.GetDetectDegradedHosts().GetValue() {
			out = append(out, "outlier_detection detect_degraded_hosts")
		}
	}
	if cb := u.CircuitBreakers; cb != nil {
		for _, th := range cb.GetThresholds() {
			if th.GetPriority() != corev3.RoutingPriority_DEFAULT {
				out = append(out, "circuit_breakers priority "+th.GetPriority().String())
				continue
			}
			if th.GetRetryBudget() != nil {
				out = append(out, "circuit_breakers retry_budget")
			}
			if th.GetMaxConnectionPools() != nil {
				out = append(out, "circuit_breakers max_connection_pools")
			}
		}
		if len(cb.GetPerHostThresholds()) > 0 {
			out = append(out, "circuit_breakers per_host_thresholds")
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func lbPolicyEnumName(p string) string {
	switch p {
	case LBPolicyRingHash:
		return clusterv3.Cluster_RING_HASH.String()
	case LBPolicyLeastRequest:
		return clusterv3.Cluster_LEAST_REQUEST.String()
	}
	return p
}

// unimplementedOf returns what u accepts without acting on it, if anything.
func unimplementedOf(u update) []string {
	if cu, ok := u.(*ClusterUpdate); ok {
		return cu.Unimplemented()
	}
	return nil
}
