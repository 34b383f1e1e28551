package routing

import (
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ep describes one test endpoint.
type ep struct {
	addr   string // host:port is built as addr + port
	port   uint32
	broker string // "" for a nameserver
	id     int
	perm   int32 // 0 means "leave the key out"
	rq, wq int   // 0 means "leave the key out"
	lb     map[string]any
	health corev3.HealthStatus
	weight uint32
}

func (e ep) proto(t testing.TB) *endpointv3.LbEndpoint {
	t.Helper()
	port := e.port
	if port == 0 {
		port = 10911
	}
	lbe := &endpointv3.LbEndpoint{
		HealthStatus: e.health,
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: e.addr, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
			}}},
		}},
	}
	if e.weight > 0 {
		lbe.LoadBalancingWeight = wrapperspb.UInt32(e.weight)
	}
	if e.broker == "" && len(e.lb) == 0 {
		return lbe
	}
	rmq := map[string]any{}
	if e.broker != "" {
		rmq = map[string]any{"broker_name": e.broker, "broker_id": float64(e.id), "cluster_name": "DefaultCluster"}
		if e.perm != 0 {
			rmq["perm"] = float64(e.perm)
		}
		if e.rq != 0 {
			rmq["read_queue_num"] = float64(e.rq)
		}
		if e.wq != 0 {
			rmq["write_queue_num"] = float64(e.wq)
		}
	}
	lb := map[string]any{}
	for k, v := range rmq {
		lb[k] = v
	}
	for k, v := range e.lb {
		lb[k] = v
	}
	lbe.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		wellknown.BrokerMetadataNamespace: mustStruct(t, rmq),
		wellknown.SubsetMetadataNamespace: mustStruct(t, lb),
	}}
	return lbe
}

func mustStruct(t testing.TB, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatalf("structpb.NewStruct(%v): %v", m, err)
	}
	return s
}

// loc describes one LocalityLbEndpoints.
type loc struct {
	region, zone string
	priority     uint32
	weight       uint32 // 0 means unset
	eps          []ep
}

func cla(t testing.TB, name string, locs ...loc) *endpointv3.ClusterLoadAssignment {
	t.Helper()
	c := &endpointv3.ClusterLoadAssignment{ClusterName: name}
	for _, l := range locs {
		lle := &endpointv3.LocalityLbEndpoints{Priority: l.priority}
		if l.region != "" || l.zone != "" {
			lle.Locality = &corev3.Locality{Region: l.region, Zone: l.zone}
		}
		if l.weight > 0 {
			lle.LoadBalancingWeight = wrapperspb.UInt32(l.weight)
		}
		for _, e := range l.eps {
			lle.LbEndpoints = append(lle.LbEndpoints, e.proto(t))
		}
		c.Endpoints = append(c.Endpoints, lle)
	}
	return c
}

func edsCluster(t testing.TB, name, dataPath string) *clusterv3.Cluster {
	t.Helper()
	c := &clusterv3.Cluster{
		Name:                 name,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
	}
	if dataPath != "" {
		c.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			wellknown.MeshMetadataNamespace: mustStruct(t, map[string]any{wellknown.DataPathKey: dataPath}),
		}}
	}
	return c
}

func exact(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

func prefix(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: s}}
}

func regex(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: s}}}
}

// codeIn matches the code header against a regex such as "10|310|320".
func codeIn(re string) *routev3.HeaderMatcher {
	return &routev3.HeaderMatcher{Name: wellknown.CodeHeader, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: regex(re)}}
}

func rt(t testing.TB, topic *matcherv3.StringMatcher, cluster string, subset map[string]any, headers ...*routev3.HeaderMatcher) *rocketmqv3.Route {
	t.Helper()
	r := &rocketmqv3.Route{
		Match: &rocketmqv3.RouteMatch{Topic: topic, Headers: headers},
		Route: &rocketmqv3.RouteAction{Cluster: cluster},
	}
	if subset != nil {
		r.Route.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			wellknown.SubsetMetadataNamespace: mustStruct(t, subset),
		}}
	}
	return r
}

func rc(name string, routes ...*rocketmqv3.Route) *rocketmqv3.RouteConfiguration {
	return &rocketmqv3.RouteConfiguration{Name: name, Routes: routes}
}

func mustSnapshot(t testing.TB, in Input) *Snapshot {
	t.Helper()
	if in.Listener == "" {
		in.Listener = "rmq-prod"
	}
	s, err := NewSnapshot(in)
	if err != nil {
		t.Fatalf("NewSnapshot() failed: %v", err)
	}
	return s
}

// oneCluster builds an Input with one EDS cluster "brokers" routed for every
// topic.
func oneCluster(t testing.TB, locs ...loc) Input {
	t.Helper()
	return Input{
		RouteConfig: rc("rc", rt(t, prefix(""), "brokers", nil)),
		Clusters:    map[string]*clusterv3.Cluster{"brokers": edsCluster(t, "brokers", "")},
		Endpoints:   map[string]*endpointv3.ClusterLoadAssignment{"brokers": cla(t, "brokers", locs...)},
	}
}

// splitmix64 gives deterministic, well-mixed draws.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
