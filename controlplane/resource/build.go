package resource

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

// Listener describes a Listener carrying the RocketMQ proxy network filter.
type Listener struct {
	// Name is what a client resolves as xds:///NAME.
	Name string
	// RouteConfigName names the inline route configuration and, with
	// OnDemand, the family of per-topic route configurations
	// ([wellknown.TopicRouteName]). Required.
	RouteConfigName string
	// OnDemand sets filter_metadata["rmqmesh"]["on_demand_routes"]: clients
	// subscribe to a per-topic route configuration for each topic they use,
	// and fall back to Routes.
	OnDemand bool
	// Routes are the inline routes, in match order.
	Routes []Route
}

// TopicMatchKind says how a [Route] matches topics.
type TopicMatchKind uint8

const (
	// AnyTopic matches every topic. Envoy refuses an empty prefix, so it is
	// written as the safe regex ".*".
	AnyTopic TopicMatchKind = iota
	// ExactTopic matches one topic.
	ExactTopic
	// PrefixTopic matches topics starting with a non-empty prefix.
	PrefixTopic
	// RegexTopic matches topics by an RE2 regular expression (safe_regex,
	// which must match the whole topic).
	RegexTopic
)

// Route is one route: a topic matcher and optional request codes, to a
// cluster and an optional subset.
type Route struct {
	Kind TopicMatchKind
	// Pattern is the exact topic, the prefix or the regex; empty for AnyTopic.
	Pattern string
	// Codes restricts the route to these request codes (a matcher on the
	// synthetic "code" header); empty matches every code.
	Codes []int32
	// Cluster is the target cluster.
	Cluster string
	// Subset is the metadata_match under "envoy.lb".
	Subset map[string]string
	// TopicQueues, when not nil, is the queue data of the topic the route
	// serves, by broker name (wellknown.TopicQueuesKey in the
	// metadata_match): rmqmesh then uses these counts and permissions
	// instead of the endpoints', and leaves out the brokers not listed.
	// For routes that match one topic: a per-topic route configuration's,
	// or an exact topic.
	TopicQueues map[string]wellknown.TopicQueues
}

// Cluster describes an EDS cluster and its ClusterLoadAssignment.
type Cluster struct {
	// Name of the cluster and of its ClusterLoadAssignment.
	Name string
	// DataPath is "", "direct" or "intercept"; a non-empty value goes to
	// filter_metadata["rmqmesh"]["data_path"].
	DataPath string
	// ConnectTimeout is the cluster's connect_timeout; zero means 5 s.
	ConnectTimeout time.Duration
	// SendFailover, when not nil, goes to
	// filter_metadata["rmqmesh"]["send_failover"].
	SendFailover *wellknown.SendFailover
	// OutlierDetection, CircuitBreakers and TransportSocket are passed
	// through as Envoy's fields; nil leaves them unset. They are cloned.
	OutlierDetection *clusterv3.OutlierDetection
	CircuitBreakers  *clusterv3.CircuitBreakers
	TransportSocket  *corev3.TransportSocket
	// Endpoints in assignment order; those sharing a priority and locality
	// form one LocalityLbEndpoints, in order of first appearance.
	Endpoints []Endpoint
}

// Locality is an endpoint's region, zone and sub-zone.
type Locality struct {
	Region, Zone, SubZone string
}

func (l Locality) isZero() bool { return l == Locality{} }

// Broker is the RocketMQ metadata of a broker endpoint.
type Broker struct {
	// Name is the brokerName; required.
	Name string
	// ID is the brokerId: 0 for the master.
	ID int64
	// ClusterName is the RocketMQ cluster name; empty leaves it out.
	ClusterName string
	// Perm is the permission bits (4 read, 2 write, 1 inherit).
	Perm int
	// ReadQueues and WriteQueues are the queue counts.
	ReadQueues, WriteQueues int
}

// Endpoint is one endpoint of a cluster: a broker when Broker is set, a
// nameserver otherwise.
type Endpoint struct {
	// Address is host:port.
	Address string
	// Broker is nil for a nameserver.
	Broker *Broker
	// Weight is the load_balancing_weight; 0 leaves it unset.
	Weight uint32
	// Locality and Priority of the endpoint's group.
	Locality Locality
	Priority uint32
	// Health is the EDS health status.
	Health corev3.HealthStatus
	// Labels are extra keys under "envoy.lb", e.g. "version": "canary"; a
	// label named like a broker key replaces that key under "envoy.lb" only.
	Labels map[string]string
}

// Set is a full set of resources: what a control plane serves.
type Set struct {
	Listeners []*listenerv3.Listener
	Clusters  []*clusterv3.Cluster
	Endpoints []*endpointv3.ClusterLoadAssignment
	// RouteConfigs are per-topic route configurations, named by
	// [wellknown.TopicRouteName].
	RouteConfigs []*rocketmqv3.RouteConfiguration
}

// Clone returns a deep copy of s.
func (s Set) Clone() Set {
	return Set{
		Listeners:    cloneAll(s.Listeners),
		Clusters:     cloneAll(s.Clusters),
		Endpoints:    cloneAll(s.Endpoints),
		RouteConfigs: cloneAll(s.RouteConfigs),
	}
}

func cloneAll[M proto.Message](in []M) []M {
	if in == nil {
		return nil
	}
	out := make([]M, len(in))
	for i, m := range in {
		out[i] = proto.CloneOf(m)
	}
	return out
}

// listenerAddress is the address written into every listener. rmqmesh ignores
// it; an Envoy sidecar listens there, on the nameserver's default port.
const listenerAddress, listenerPort = "0.0.0.0", 9876

// transientObjectLifeSpan is the RocketmqProxy filter's
// transient_object_life_span: how long Envoy keeps per-request state.
const transientObjectLifeSpan = 30 * time.Second

// defaultConnectTimeout is a cluster's connect_timeout when unset.
const defaultConnectTimeout = 5 * time.Second

// NewListener builds the Listener: one filter chain with the RocketmqProxy
// filter and its inline route configuration.
func NewListener(l Listener) (*listenerv3.Listener, error) {
	if l.Name == "" {
		return nil, errors.New("resource: listener has no name")
	}
	if l.RouteConfigName == "" {
		return nil, fmt.Errorf("resource: listener %q: no route configuration name", l.Name)
	}
	rc, err := NewRouteConfig(l.RouteConfigName, l.Routes)
	if err != nil {
		return nil, fmt.Errorf("resource: listener %q: %w", l.Name, err)
	}
	proxy, err := DeterministicAny(&rocketmqv3.RocketmqProxy{
		StatPrefix:              l.Name,
		RouteConfig:             rc,
		TransientObjectLifeSpan: durationpb.New(transientObjectLifeSpan),
	})
	if err != nil {
		return nil, fmt.Errorf("resource: listener %q: %w", l.Name, err)
	}
	out := &listenerv3.Listener{
		Name: l.Name,
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address: listenerAddress, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: listenerPort},
		}}},
		FilterChains: []*listenerv3.FilterChain{{
			Filters: []*listenerv3.Filter{{
				Name:       wellknown.RocketMQProxyFilter,
				ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: proxy},
			}},
		}},
	}
	if l.OnDemand {
		out.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			wellknown.MeshMetadataNamespace: {Fields: map[string]*structpb.Value{wellknown.OnDemandRoutesKey: structpb.NewBoolValue(true)}},
		}}
	}
	return out, nil
}

// NewRouteConfig builds a route configuration named name from routes, in
// order.
func NewRouteConfig(name string, routes []Route) (*rocketmqv3.RouteConfiguration, error) {
	rc := &rocketmqv3.RouteConfiguration{Name: name}
	for i, r := range routes {
		out, err := NewRoute(r)
		if err != nil {
			return nil, fmt.Errorf("route configuration %q: routes[%d]: %w", name, i, err)
		}
		rc.Routes = append(rc.Routes, out)
	}
	return rc, nil
}

// NewRoute builds one route.
func NewRoute(r Route) (*rocketmqv3.Route, error) {
	topic, err := topicMatcher(r.Kind, r.Pattern)
	if err != nil {
		return nil, err
	}
	if r.Cluster == "" {
		return nil, errors.New("no cluster")
	}
	out := &rocketmqv3.Route{
		Match: &rocketmqv3.RouteMatch{Topic: topic},
		Route: &rocketmqv3.RouteAction{Cluster: r.Cluster},
	}
	if h := codeMatcher(r.Codes); h != nil {
		out.Match.Headers = []*routev3.HeaderMatcher{h}
	}
	if len(r.Subset) > 0 || r.TopicQueues != nil {
		out.Route.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	}
	if len(r.Subset) > 0 {
		out.Route.MetadataMatch.FilterMetadata[wellknown.SubsetMetadataNamespace] = stringStruct(r.Subset)
	}
	if r.TopicQueues != nil {
		out.Route.MetadataMatch.FilterMetadata[wellknown.MeshMetadataNamespace] = &structpb.Struct{Fields: map[string]*structpb.Value{
			wellknown.TopicQueuesKey: wellknown.TopicQueuesValue(r.TopicQueues),
		}}
		// Checked as rmqmesh checks it, so what is built is accepted.
		if _, err := wellknown.ParseTopicQueues(out.Route.MetadataMatch); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func topicMatcher(kind TopicMatchKind, pattern string) (*matcherv3.StringMatcher, error) {
	switch kind {
	case AnyTopic:
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: ".*"}}}, nil
	case ExactTopic:
		if pattern == "" {
			return nil, errors.New("empty exact topic")
		}
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: pattern}}, nil
	case PrefixTopic:
		if pattern == "" {
			return nil, errors.New("empty topic prefix (Envoy refuses it; use AnyTopic)")
		}
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: pattern}}, nil
	case RegexTopic:
		if pattern == "" {
			return nil, errors.New("empty topic regex")
		}
		if _, err := regexp.Compile(pattern); err != nil {
			return nil, fmt.Errorf("topic regex %q: %w", pattern, err)
		}
		return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: pattern}}}, nil
	}
	return nil, fmt.Errorf("unknown topic match kind %d", kind)
}

// codeMatcher matches the synthetic "code" header: exact for one code, a
// safe_regex alternation for several.
func codeMatcher(codes []int32) *routev3.HeaderMatcher {
	switch len(codes) {
	case 0:
		return nil
	case 1:
		return &routev3.HeaderMatcher{Name: wellknown.CodeHeader, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
			StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: strconv.Itoa(int(codes[0]))}},
		}}
	}
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = strconv.Itoa(int(c))
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

// NewCluster builds an EDS cluster (served over ADS) and its
// ClusterLoadAssignment.
func NewCluster(c Cluster) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment, error) {
	if c.Name == "" {
		return nil, nil, errors.New("resource: cluster has no name")
	}
	timeout := c.ConnectTimeout
	if timeout == 0 {
		timeout = defaultConnectTimeout
	}
	out := &clusterv3.Cluster{
		Name:                 c.Name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{
			EdsConfig:   &corev3.ConfigSource{ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}, ResourceApiVersion: corev3.ApiVersion_V3},
			ServiceName: c.Name,
		},
		ConnectTimeout: durationpb.New(timeout),
		LbPolicy:       clusterv3.Cluster_ROUND_ROBIN,
	}
	knobs := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	if c.DataPath != "" {
		knobs.Fields[wellknown.DataPathKey] = structpb.NewStringValue(c.DataPath)
	}
	if c.SendFailover != nil {
		knobs.Fields[wellknown.SendFailoverKey] = c.SendFailover.Value()
	}
	if len(knobs.Fields) > 0 {
		out.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: knobs}}
	}
	if c.OutlierDetection != nil {
		out.OutlierDetection = proto.CloneOf(c.OutlierDetection)
	}
	if c.CircuitBreakers != nil {
		out.CircuitBreakers = proto.CloneOf(c.CircuitBreakers)
	}
	if c.TransportSocket != nil {
		out.TransportSocket = proto.CloneOf(c.TransportSocket)
	}
	cla, err := NewAssignment(c.Name, c.Endpoints)
	if err != nil {
		return nil, nil, fmt.Errorf("resource: cluster %q: %w", c.Name, err)
	}
	return out, cla, nil
}

// NewAssignment builds the ClusterLoadAssignment of cluster name.
func NewAssignment(name string, endpoints []Endpoint) (*endpointv3.ClusterLoadAssignment, error) {
	type groupKey struct {
		priority uint32
		locality Locality
	}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: name}
	groups := map[groupKey]*endpointv3.LocalityLbEndpoints{}
	for i, e := range endpoints {
		ep, err := NewEndpoint(e)
		if err != nil {
			return nil, fmt.Errorf("endpoints[%d]: %w", i, err)
		}
		key := groupKey{e.Priority, e.Locality}
		g := groups[key]
		if g == nil {
			g = &endpointv3.LocalityLbEndpoints{Priority: e.Priority}
			if !e.Locality.isZero() {
				g.Locality = &corev3.Locality{Region: e.Locality.Region, Zone: e.Locality.Zone, SubZone: e.Locality.SubZone}
			}
			groups[key] = g
			cla.Endpoints = append(cla.Endpoints, g)
		}
		g.LbEndpoints = append(g.LbEndpoints, ep)
	}
	return cla, nil
}

// NewEndpoint builds one LbEndpoint with its broker metadata under both
// "envoy.filters.network.rocketmq_proxy" and "envoy.lb".
func NewEndpoint(e Endpoint) (*endpointv3.LbEndpoint, error) {
	host, portText, err := net.SplitHostPort(e.Address)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", e.Address, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 || host == "" {
		return nil, fmt.Errorf("address %q: want host:port with a port in 1..65535", e.Address)
	}
	ep := &endpointv3.LbEndpoint{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
			}}},
		}},
		HealthStatus: e.Health,
	}
	if e.Weight > 0 {
		ep.LoadBalancingWeight = wrapperspb.UInt32(e.Weight)
	}
	lb := map[string]*structpb.Value{}
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	if b := e.Broker; b != nil {
		if b.Name == "" {
			return nil, fmt.Errorf("address %q: broker has no name", e.Address)
		}
		if b.ID < 0 || b.Perm < 0 || b.Perm > 7 || b.ReadQueues < 0 || b.WriteQueues < 0 {
			return nil, fmt.Errorf("broker %q id %d at %q: id, perm (0..7) and queue counts must not be negative", b.Name, b.ID, e.Address)
		}
		broker := map[string]*structpb.Value{
			wellknown.BrokerNameKey:    structpb.NewStringValue(b.Name),
			wellknown.BrokerIDKey:      structpb.NewNumberValue(float64(b.ID)),
			wellknown.PermKey:          structpb.NewNumberValue(float64(b.Perm)),
			wellknown.ReadQueueNumKey:  structpb.NewNumberValue(float64(b.ReadQueues)),
			wellknown.WriteQueueNumKey: structpb.NewNumberValue(float64(b.WriteQueues)),
		}
		if b.ClusterName != "" {
			broker[wellknown.ClusterNameKey] = structpb.NewStringValue(b.ClusterName)
		}
		md.FilterMetadata[wellknown.RocketMQProxyFilter] = &structpb.Struct{Fields: broker}
		for k, v := range broker {
			lb[k] = v
		}
	}
	for k, v := range e.Labels {
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
