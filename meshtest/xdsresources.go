package meshtest

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// LBMetadataKey is the filter_metadata key Envoy uses for subset load
// balancing.
//
// Deprecated: use [wellknown.SubsetMetadataNamespace].
const LBMetadataKey = wellknown.SubsetMetadataNamespace

// Resources is a full set of xDS resources served by a [ControlPlane].
type Resources struct {
	Listeners []*listenerv3.Listener
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
	// RouteConfigs are per-topic contrib RouteConfigurations, served from
	// the on-demand (linear) cache by name.
	RouteConfigs []*rocketmqv3.RouteConfiguration
}

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
	// xdsclient.OnDemandRouteName(RouteConfigName, Topic); the others stay
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
	// [wellknown.CodeHeader] header); empty matches every code.
	Codes []int
	// Cluster is the target cluster.
	Cluster string
	// Subset is the metadata_match under [wellknown.SubsetMetadataNamespace].
	Subset map[string]string
}

// ClusterSpec is an EDS cluster and its endpoints.
type ClusterSpec struct {
	// Name of the cluster (and of its ClusterLoadAssignment).
	Name string
	// DataPath is "", [wellknown.DataPathDirect] or
	// [wellknown.DataPathIntercept]; it goes to the cluster's knob
	// [wellknown.DataPathKey].
	DataPath string
	// Endpoints of the cluster.
	Endpoints []EndpointSpec
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
	// LBMetadata are extra keys under [wellknown.SubsetMetadataNamespace],
	// e.g. "version": "canary".
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
	var res Resources
	inline := &rocketmqv3.RouteConfiguration{Name: rcName}
	perTopic := map[string]*rocketmqv3.RouteConfiguration{}
	var topicOrder []string
	for i, rs := range s.Routes {
		r, err := rs.route()
		if err != nil {
			return Resources{}, fmt.Errorf("meshtest: listener %q: routes[%d]: %w", s.Listener, i, err)
		}
		if s.OnDemand && rs.Topic != "" {
			name := xdsclient.OnDemandRouteName(rcName, rs.Topic)
			rc := perTopic[name]
			if rc == nil {
				rc = &rocketmqv3.RouteConfiguration{Name: name}
				perTopic[name] = rc
				topicOrder = append(topicOrder, name)
			}
			rc.Routes = append(rc.Routes, r)
			continue
		}
		inline.Routes = append(inline.Routes, r)
	}
	for _, name := range topicOrder {
		res.RouteConfigs = append(res.RouteConfigs, perTopic[name])
	}
	l, err := listener(s.Listener, inline, s.OnDemand)
	if err != nil {
		return Resources{}, err
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
		c, cla, err := cs.build()
		if err != nil {
			return Resources{}, err
		}
		res.Clusters = append(res.Clusters, c)
		res.Endpoints = append(res.Endpoints, cla)
	}
	return res, nil
}

// TopicRouteConfig builds a per-topic route configuration named name (see
// xdsclient.OnDemandRouteName). It panics on an invalid RouteSpec, which is
// a bug in the test.
func TopicRouteConfig(name string, routes ...RouteSpec) *rocketmqv3.RouteConfiguration {
	rc := &rocketmqv3.RouteConfiguration{Name: name}
	for i, rs := range routes {
		r, err := rs.route()
		if err != nil {
			panic(fmt.Sprintf("meshtest: TopicRouteConfig(%q): routes[%d]: %v", name, i, err))
		}
		rc.Routes = append(rc.Routes, r)
	}
	return rc
}

func listener(name string, rc *rocketmqv3.RouteConfiguration, onDemand bool) (*listenerv3.Listener, error) {
	proxy, err := anypb.New(&rocketmqv3.RocketmqProxy{
		StatPrefix:              name,
		RouteConfig:             rc,
		TransientObjectLifeSpan: durationpb.New(30_000_000_000),
	})
	if err != nil {
		return nil, fmt.Errorf("meshtest: listener %q: %w", name, err)
	}
	l := &listenerv3.Listener{
		Name: name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 9876},
		}}},
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       wellknown.RocketMQProxyFilter,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: proxy},
			}},
		}},
	}
	if onDemand {
		l.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			wellknown.MeshMetadataNamespace: {Fields: map[string]*structpb.Value{wellknown.OnDemandRoutesKey: structpb.NewBoolValue(true)}},
		}}
	}
	return l, nil
}

func (rs RouteSpec) route() (*rocketmqv3.Route, error) {
	n := 0
	topic := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".*"}}}
	if rs.Topic != "" {
		n++
		topic.MatchPattern = &matcherv3.StringMatcher_Exact{Exact: rs.Topic}
	}
	if rs.TopicPrefix != "" {
		n++
		topic.MatchPattern = &matcherv3.StringMatcher_Prefix{Prefix: rs.TopicPrefix}
	}
	if rs.TopicRegex != "" {
		n++
		topic.MatchPattern = &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: rs.TopicRegex}}
	}
	if n > 1 {
		return nil, errors.New("more than one of Topic, TopicPrefix and TopicRegex")
	}
	if rs.Cluster == "" {
		return nil, errors.New("no cluster")
	}
	r := &rocketmqv3.Route{
		Match: &rocketmqv3.RouteMatch{Topic: topic},
		Route: &rocketmqv3.RouteAction{Cluster: rs.Cluster},
	}
	if h := codeMatcher(rs.Codes); h != nil {
		r.Match.Headers = []*routev3.HeaderMatcher{h}
	}
	if len(rs.Subset) > 0 {
		r.Route.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.SubsetMetadataNamespace: stringStruct(rs.Subset)}}
	}
	return r, nil
}

// codeMatcher matches the synthetic code header Envoy's RocketMQ filter
// exposes: exact for one code, a safe_regex alternation for several.
func codeMatcher(codes []int) *routev3.HeaderMatcher {
	switch len(codes) {
	case 0:
		return nil
	case 1:
		return &routev3.HeaderMatcher{Name: wellknown.CodeHeader, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: strconv.Itoa(codes[0])}},
		}}
	}
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = strconv.Itoa(c)
	}
	return &routev3.HeaderMatcher{Name: wellknown.CodeHeader, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{
			SafeRegex: &matcherv3.RegexMatcher{Regex: "^(" + strings.Join(parts, "|") + ")$"},
		}},
	}}
}

func stringStruct(m map[string]string) *structpb.Struct {
	s := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(m))}
	for k, v := range m {
		s.Fields[k] = structpb.NewStringValue(v)
	}
	return s
}

func (cs ClusterSpec) build() (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment, error) {
	c := &clusterv3.Cluster{
		Name:                 cs.Name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{
			EdsConfig:   &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}, ResourceApiVersion: corev3.ApiVersion_V3},
			ServiceName: cs.Name,
		},
		ConnectTimeout: durationpb.New(5_000_000_000),
		LbPolicy:       clusterv3.Cluster_ROUND_ROBIN,
	}
	if cs.DataPath != "" {
		c.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			wellknown.MeshMetadataNamespace: stringStruct(map[string]string{wellknown.DataPathKey: cs.DataPath}),
		}}
	}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: cs.Name}
	groups := map[string]*endpointv3.LocalityLbEndpoints{}
	for i, es := range cs.Endpoints {
		ep, err := es.build()
		if err != nil {
			return nil, nil, fmt.Errorf("meshtest: cluster %q: endpoints[%d]: %w", cs.Name, i, err)
		}
		key := fmt.Sprintf("%d/%s/%s/%s", es.Priority, es.Locality.GetRegion(), es.Locality.GetZone(), es.Locality.GetSubZone())
		g := groups[key]
		if g == nil {
			g = &endpointv3.LocalityLbEndpoints{Priority: es.Priority}
			if es.Locality != nil {
				g.Locality = proto.Clone(es.Locality).(*corev3.Locality)
			}
			groups[key] = g
			cla.Endpoints = append(cla.Endpoints, g)
		}
		g.LbEndpoints = append(g.LbEndpoints, ep)
	}
	return c, cla, nil
}

func (es EndpointSpec) build() (*endpointv3.LbEndpoint, error) {
	host, portStr, err := net.SplitHostPort(es.Address)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", es.Address, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("address %q: bad port: %w", es.Address, err)
	}
	ep := &endpointv3.LbEndpoint{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
			}}},
		}},
		HealthStatus: es.Health,
	}
	if es.Weight > 0 {
		ep.LoadBalancingWeight = wrapperspb.UInt32(es.Weight)
	}
	lb := map[string]*structpb.Value{}
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	if es.BrokerName != "" {
		perm, rq, wq := es.Perm, es.ReadQueues, es.WriteQueues
		if perm == 0 {
			perm = 6
		}
		if rq == 0 {
			rq = 4
		}
		if wq == 0 {
			wq = 4
		}
		broker := map[string]*structpb.Value{
			wellknown.BrokerNameKey:    structpb.NewStringValue(es.BrokerName),
			wellknown.BrokerIDKey:      structpb.NewNumberValue(float64(es.BrokerID)),
			wellknown.PermKey:          structpb.NewNumberValue(float64(perm)),
			wellknown.ReadQueueNumKey:  structpb.NewNumberValue(float64(rq)),
			wellknown.WriteQueueNumKey: structpb.NewNumberValue(float64(wq)),
		}
		if es.ClusterName != "" {
			broker[wellknown.ClusterNameKey] = structpb.NewStringValue(es.ClusterName)
		}
		md.FilterMetadata[wellknown.BrokerMetadataNamespace] = &structpb.Struct{Fields: broker}
		for k, v := range broker {
			lb[k] = v
		}
	}
	for k, v := range es.LBMetadata {
		lb[k] = structpb.NewStringValue(v)
	}
	if len(lb) > 0 {
		md.FilterMetadata[wellknown.SubsetMetadataNamespace] = &structpb.Struct{Fields: lb}
	}
	if len(md.FilterMetadata) > 0 {
		ep.Metadata = md
	}
	return ep, nil
}
