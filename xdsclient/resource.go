package xdsclient

import (
	"fmt"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

// Type URLs of the resources the client watches.
const (
	ListenerTypeURL    = "type.googleapis.com/envoy.config.listener.v3.Listener"
	RouteConfigTypeURL = "type.googleapis.com/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration"
	ClusterTypeURL     = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	EndpointsTypeURL   = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

// ListenerUpdate is a validated Listener.
type ListenerUpdate struct {
	// Name and Version of the resource.
	Name, Version string
	// Listener is the resource as received.
	Listener *listenerv3.Listener
	// Proxy is the rocketmq_proxy network filter config.
	Proxy *rocketmqv3.RocketmqProxy
	// RouteConfig is the filter's inline route configuration (may be nil or
	// empty when OnDemand).
	RouteConfig *rocketmqv3.RouteConfiguration
	// OnDemand is true when the listener opts in to on-demand topic routes
	// (see the package documentation).
	OnDemand bool
	// RouteConfigName is the inline route configuration's name; with
	// OnDemand it names the family of per-topic RouteConfiguration resources.
	RouteConfigName string
}

// RouteConfigUpdate is a validated per-topic RouteConfiguration.
type RouteConfigUpdate struct {
	// Name and Version of the resource.
	Name, Version string
	// RouteConfig is the resource as received.
	RouteConfig *rocketmqv3.RouteConfiguration
}

// ClusterUpdate is a validated Cluster.
type ClusterUpdate struct {
	// Name and Version of the resource.
	Name, Version string
	// Cluster is the resource as received.
	Cluster *clusterv3.Cluster
	// EDSServiceName is the name to watch endpoints under: the EDS service
	// name, or the cluster name when that is empty.
	EDSServiceName string
	// ConnectTimeout is connect_timeout, DefaultConnectTimeout when unset.
	ConnectTimeout time.Duration
	// LBPolicy is LBPolicyRoundRobin, LBPolicyRingHash or
	// LBPolicyLeastRequest, from load_balancing_policy or lb_policy.
	LBPolicy string
	// OutlierDetection is outlier_detection as received (validated), nil
	// when unset. The relay ejects hosts by its consecutive-failure rules
	// (see the package doc for what it does not act on).
	OutlierDetection *clusterv3.OutlierDetection
	// CircuitBreakers is circuit_breakers as received (validated), nil
	// when unset. The relay enforces the DEFAULT priority's limits.
	CircuitBreakers *clusterv3.CircuitBreakers
	// SendFailover is the cluster's wellknown.SendFailoverKey knob, defaults
	// applied: how the relay retries a send inside the client's request.
	SendFailover wellknown.SendFailover
	// UpstreamTLS is the transport_socket's UpstreamTlsContext as
	// received, nil for a plaintext cluster.
	UpstreamTLS *tlsv3.UpstreamTlsContext
	// Security is UpstreamTLS validated, in the form gRPC reads it; nil for
	// a plaintext cluster.
	Security *SecurityConfig
}

// EndpointsUpdate is a validated ClusterLoadAssignment.
type EndpointsUpdate struct {
	// Name and Version of the resource.
	Name, Version string
	// Assignment is the resource as received.
	Assignment *endpointv3.ClusterLoadAssignment
}

func (u *ListenerUpdate) setVersion(v string)    { u.Version = v }
func (u *RouteConfigUpdate) setVersion(v string) { u.Version = v }
func (u *ClusterUpdate) setVersion(v string)     { u.Version = v }
func (u *EndpointsUpdate) setVersion(v string)   { u.Version = v }

// update is implemented by the update types; the client stamps the version.
type update interface {
	setVersion(string)
}

// resourceType is the data describing one resource type: its type URL, a
// short name, whether SotW responses carry the full state, and a decoder.
type resourceType struct {
	typeURL string
	short   string
	// fullState is true when a SotW response lists every resource, so a
	// missing one is deleted.
	fullState bool
	// decode validates one resource. It returns the resource name whenever
	// it can be determined, even with an error, so one bad resource can be
	// NACKed alone.
	decode func(*anypb.Any) (name string, value update, msg proto.Message, err error)
}

var (
	listenerType = &resourceType{
		typeURL: ListenerTypeURL, short: "listener", fullState: true,
		decode: decodeListener,
	}
	routeConfigType = &resourceType{
		typeURL: RouteConfigTypeURL, short: "route config",
		decode: decodeRouteConfig,
	}
	clusterType = &resourceType{
		typeURL: ClusterTypeURL, short: "cluster", fullState: true,
		decode: decodeCluster,
	}
	endpointsType = &resourceType{
		typeURL: EndpointsTypeURL, short: "endpoints",
		decode: decodeEndpoints,
	}
)

// decode runs rt's decoder, then the checks that need the bootstrap: the
// certificate provider instances a cluster's TLS names must exist.
func (c *Client) decode(rt *resourceType, a *anypb.Any) (string, update, proto.Message, error) {
	name, u, msg, err := rt.decode(a)
	if err != nil {
		return name, u, msg, err
	}
	if cu, ok := u.(*ClusterUpdate); ok {
		if err := checkCertProviders(cu.Security, c.cfg.CertificateProviders); err != nil {
			return name, nil, nil, err
		}
	}
	return name, u, msg, nil
}

func unmarshalAny[M proto.Message](a *anypb.Any, typeURL string, m M) error {
	if a.GetTypeUrl() != typeURL {
		return fmt.Errorf("resource has type %q, want %q", a.GetTypeUrl(), typeURL)
	}
	if err := proto.Unmarshal(a.GetValue(), m); err != nil {
		return fmt.Errorf("cannot decode resource: %w", err)
	}
	return nil
}
