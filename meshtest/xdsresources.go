package meshtest

//lint:file-ignore SA1019 UpstreamTLSSocket builds the context Istio sends, deprecated fields included.

import (
	"errors"
	"fmt"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// LBMetadataKey is the filter_metadata key Envoy uses for subset load
// balancing.
//
// Deprecated: use [wellknown.SubsetMetadataNamespace].
const LBMetadataKey = wellknown.SubsetMetadataNamespace

// Resources is a full set of xDS resources served by a [ControlPlane]:
// listeners, clusters, endpoints and per-topic RouteConfigurations (served
// from the on-demand cache by name). It is the control plane's
// [resource.Set]: meshtest builds its resources with the control plane's
// builders, so the two cannot drift apart.
type Resources = resource.Set

// MeshSpec is a short description of a RocketMQ mesh, turned into
// Envoy-compatible resources by [MeshSpec.Resources].
type MeshSpec struct {
	// Listener is the listener name (what a client resolves as xds:///NAME).
	Listener string
	// RouteConfigName names the inline route configuration, and with
	// OnDemand the family of per-topic route configurations. Default:
	// Listener + "-routes".
	RouteConfigName string
	// OnDemand marks the listener with on-demand topic routes: routes with
	// an exact Topic become per-topic RouteConfigurations named
	// wellknown.TopicRouteName(RouteConfigName, Topic); the others stay
	// inline as the fallback.
	OnDemand bool
	// Routes in match order.
	Routes []RouteSpec
	// Clusters are EDS clusters with their endpoints.
	Clusters []ClusterSpec
}

// RouteSpec is one route. Exactly one of Topic, TopicPrefix and TopicRegex
// may be set; none matches every topic.
type RouteSpec struct {
	// Topic matches a topic exactly.
	Topic string
	// TopicPrefix matches topics by prefix.
	TopicPrefix string
	// TopicRegex matches topics by RE2 regex (safe_regex).
	TopicRegex string
	// Codes restricts the route to these request codes (a matcher on the
	// "code" header); empty matches every code.
	Codes []int
	// Cluster is the target cluster.
	Cluster string
	// Subset is the metadata_match under "envoy.lb".
	Subset map[string]string
}

// ClusterSpec is an EDS cluster and its endpoints.
type ClusterSpec struct {
	// Name of the cluster (and of its ClusterLoadAssignment).
	Name string
	// DataPath is "", "direct" or "intercept"; it goes to the cluster's
	// filter_metadata["rmqmesh"]["data_path"].
	DataPath string
	// ConnectTimeout is the cluster's connect_timeout; zero means 5 s.
	ConnectTimeout time.Duration
	// OutlierDetection and CircuitBreakers are Envoy's fields; nil leaves
	// them unset.
	OutlierDetection *clusterv3.OutlierDetection
	CircuitBreakers  *clusterv3.CircuitBreakers
	// SendFailover, when not nil, goes to the cluster's
	// filter_metadata["rmqmesh"]["send_failover"].
	SendFailover *wellknown.SendFailover
	// Endpoints of the cluster.
	Endpoints []EndpointSpec
	// TransportSocket is the cluster's transport_socket, e.g. from
	// [UpstreamTLSSocket]; nil for plaintext.
	TransportSocket *corev3.TransportSocket
}

// EndpointSpec is one endpoint: a broker when BrokerName is set, a
// nameserver otherwise.
type EndpointSpec struct {
	// Address is host:port.
	Address string
	// BrokerName is empty for a nameserver.
	BrokerName string
	// BrokerID is 0 for a master.
	BrokerID int
	// ClusterName is the RocketMQ cluster name.
	ClusterName string
	// Perm is the RocketMQ permission bits (4 read, 2 write); 0 means 6.
	Perm int
	// ReadQueues and WriteQueues are the queue counts; 0 means 4.
	ReadQueues, WriteQueues int
	// Weight is the endpoint load-balancing weight; 0 leaves it unset.
	Weight uint32
	// Locality of the endpoint; nil means the empty locality.
	Locality *corev3.Locality
	// Priority of the endpoint's locality group.
	Priority uint32
	// Health is the endpoint health status.
	Health corev3.HealthStatus
	// LBMetadata are extra keys under "envoy.lb", e.g. "version": "canary".
	LBMetadata map[string]string
}

// Resources builds the listener (with the rocketmq_proxy network filter),
// EDS clusters, their ClusterLoadAssignments and, with OnDemand, the
// per-topic route configurations.
func (s MeshSpec) Resources() (Resources, error) {
	if s.Listener == "" {
		return Resources{}, errors.New("meshtest: mesh spec has no listener name")
	}
	rcName := s.RouteConfigName
	if rcName == "" {
		rcName = s.Listener + "-routes"
	}
	var inline []resource.Route
	perTopic := map[string][]resource.Route{}
	var topicOrder []string
	for i, rs := range s.Routes {
		r, err := rs.route()
		if err != nil {
			return Resources{}, fmt.Errorf("meshtest: listener %q: routes[%d]: %w", s.Listener, i, err)
		}
		if s.OnDemand && rs.Topic != "" {
			name := wellknown.TopicRouteName(rcName, rs.Topic)
			if _, ok := perTopic[name]; !ok {
				topicOrder = append(topicOrder, name)
			}
			perTopic[name] = append(perTopic[name], r)
			continue
		}
		inline = append(inline, r)
	}
	var res Resources
	for _, name := range topicOrder {
		rc, err := resource.NewRouteConfig(name, perTopic[name])
		if err != nil {
			return Resources{}, fmt.Errorf("meshtest: listener %q: %w", s.Listener, err)
		}
		res.RouteConfigs = append(res.RouteConfigs, rc)
	}
	l, err := resource.NewListener(resource.Listener{Name: s.Listener, RouteConfigName: rcName, OnDemand: s.OnDemand, Routes: inline})
	if err != nil {
		return Resources{}, fmt.Errorf("meshtest: %w", err)
	}
	res.Listeners = []*listenerv3.Listener{l}
	seen := map[string]bool{}
	for _, cs := range s.Clusters {
		if cs.Name == "" {
			return Resources{}, errors.New("meshtest: cluster spec has no name")
		}
		if seen[cs.Name] {
			return Resources{}, fmt.Errorf("meshtest: duplicate cluster %q", cs.Name)
		}
		seen[cs.Name] = true
		spec := resource.Cluster{Name: cs.Name, DataPath: cs.DataPath, ConnectTimeout: cs.ConnectTimeout,
			OutlierDetection: cs.OutlierDetection, CircuitBreakers: cs.CircuitBreakers, SendFailover: cs.SendFailover,
			TransportSocket: cs.TransportSocket}
		for _, es := range cs.Endpoints {
			spec.Endpoints = append(spec.Endpoints, es.endpoint())
		}
		c, cla, err := resource.NewCluster(spec)
		if err != nil {
			return Resources{}, fmt.Errorf("meshtest: %w", err)
		}
		res.Clusters = append(res.Clusters, c)
		res.Endpoints = append(res.Endpoints, cla)
	}
	return res, nil
}

// TopicRouteConfig builds a per-topic route configuration named name (see
// wellknown.TopicRouteName). It panics on an invalid RouteSpec, which is
// a bug in the test.
func TopicRouteConfig(name string, routes ...RouteSpec) *rocketmqv3.RouteConfiguration {
	specs := make([]resource.Route, len(routes))
	for i, rs := range routes {
		r, err := rs.route()
		if err != nil {
			panic(fmt.Sprintf("meshtest: TopicRouteConfig(%q): routes[%d]: %v", name, i, err))
		}
		specs[i] = r
	}
	rc, err := resource.NewRouteConfig(name, specs)
	if err != nil {
		panic(fmt.Sprintf("meshtest: TopicRouteConfig: %v", err))
	}
	return rc
}

// route turns the spec into the control plane's route description.
func (rs RouteSpec) route() (resource.Route, error) {
	r := resource.Route{Kind: resource.AnyTopic, Cluster: rs.Cluster, Subset: rs.Subset}
	n := 0
	if rs.Topic != "" {
		n++
		r.Kind, r.Pattern = resource.ExactTopic, rs.Topic
	}
	if rs.TopicPrefix != "" {
		n++
		r.Kind, r.Pattern = resource.PrefixTopic, rs.TopicPrefix
	}
	if rs.TopicRegex != "" {
		n++
		r.Kind, r.Pattern = resource.RegexTopic, rs.TopicRegex
	}
	if n > 1 {
		return r, errors.New("more than one of Topic, TopicPrefix and TopicRegex")
	}
	if rs.Cluster == "" {
		return r, errors.New("no cluster")
	}
	for _, c := range rs.Codes {
		r.Codes = append(r.Codes, int32(c))
	}
	return r, nil
}

// endpoint turns the spec into the control plane's endpoint description,
// with meshtest's defaults: perm 6 and 4 queues.
func (es EndpointSpec) endpoint() resource.Endpoint {
	e := resource.Endpoint{
		Address:  es.Address,
		Weight:   es.Weight,
		Locality: resource.Locality{Region: es.Locality.GetRegion(), Zone: es.Locality.GetZone(), SubZone: es.Locality.GetSubZone()},
		Priority: es.Priority,
		Health:   es.Health,
		Labels:   es.LBMetadata,
	}
	if es.BrokerName != "" {
		b := &resource.Broker{Name: es.BrokerName, ID: int64(es.BrokerID), ClusterName: es.ClusterName,
			Perm: es.Perm, ReadQueues: es.ReadQueues, WriteQueues: es.WriteQueues}
		if b.Perm == 0 {
			b.Perm = 6
		}
		if b.ReadQueues == 0 {
			b.ReadQueues = 4
		}
		if b.WriteQueues == 0 {
			b.WriteQueues = 4
		}
		e.Broker = b
	}
	return e
}

// UpstreamTLSSpec describes a cluster's upstream mTLS.
type UpstreamTLSSpec struct {
	// Instance is the certificate provider instance of the trusted CAs and,
	// unless NoClientCert, of the client certificate; "" means "default",
	// the instance Istio's agent writes.
	Instance string
	// NoClientCert leaves the client certificate out (TLS, not mTLS).
	NoClientCert bool
	// SANs are exact matchers on the broker certificate's subject
	// alternative names (Istio puts the SPIFFE ids of the service's
	// accounts here); empty accepts any certificate the CAs verify.
	SANs []string
	// SNI is the server name sent.
	SNI string
}

// UpstreamTLSSocket returns the transport_socket of a cluster with
// upstream TLS, shaped as Istio's control plane sends it to proxyless gRPC
// clients: the current certificate provider fields and the deprecated ones
// side by side (certificate names "default" and "ROOTCA").
func UpstreamTLSSocket(spec UpstreamTLSSpec) *corev3.TransportSocket {
	instance := spec.Instance
	if instance == "" {
		instance = "default"
	}
	var sans []*matcherv3.StringMatcher
	for _, san := range spec.SANs {
		sans = append(sans, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: san}})
	}
	common := &tlsv3.CommonTlsContext{
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			ValidationContextCertificateProviderInstance: &tlsv3.CommonTlsContext_CertificateProviderInstance{InstanceName: instance, CertificateName: "ROOTCA"},
			DefaultValidationContext: &tlsv3.CertificateValidationContext{
				CaCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: instance, CertificateName: "ROOTCA"},
				MatchSubjectAltNames:          sans,
			},
		}},
	}
	if !spec.NoClientCert {
		common.TlsCertificateCertificateProviderInstance = &tlsv3.CommonTlsContext_CertificateProviderInstance{InstanceName: instance, CertificateName: "default"}
		common.TlsCertificateProviderInstance = &tlsv3.CertificateProviderPluginInstance{InstanceName: instance, CertificateName: "default"}
	}
	a, err := anypb.New(&tlsv3.UpstreamTlsContext{CommonTlsContext: common, Sni: spec.SNI})
	if err != nil {
		panic("meshtest: UpstreamTLSSocket: " + err.Error()) // a valid message always marshals
	}
	return &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}
}
