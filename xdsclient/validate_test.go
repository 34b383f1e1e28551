package xdsclient

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/internal/testutil"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

func exact(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

func goodRoute() *rocketmqv3.Route {
	return &rocketmqv3.Route{Match: &rocketmqv3.RouteMatch{Topic: exact("orders")}, Route: &rocketmqv3.RouteAction{Cluster: "c"}}
}

func listenerWith(t *testing.T, filter *listenerv3.Filter, md *corev3.Metadata) *listenerv3.Listener {
	return &listenerv3.Listener{Name: "l", Metadata: md, FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{filter}}}}
}

func proxyFilter(t *testing.T, rc *rocketmqv3.RouteConfiguration) *listenerv3.Filter {
	return &listenerv3.Filter{Name: wellknown.RocketMQProxyFilter, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: testutil.MustAny(t, &rocketmqv3.RocketmqProxy{StatPrefix: "rmq", RouteConfig: rc})}}
}

func TestDecode_Errors(t *testing.T) {
	rcWith := func(mut func(r *rocketmqv3.Route)) *rocketmqv3.RouteConfiguration {
		r := goodRoute()
		mut(r)
		return &rocketmqv3.RouteConfiguration{Name: "rc", Routes: []*rocketmqv3.Route{r}}
	}
	header := func(h *routev3.HeaderMatcher) *rocketmqv3.RouteConfiguration {
		return rcWith(func(r *rocketmqv3.Route) { r.Match.Headers = []*routev3.HeaderMatcher{h} })
	}
	onDemand := func(v *structpb.Value) *corev3.Metadata {
		return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: {Fields: map[string]*structpb.Value{wellknown.OnDemandRoutesKey: v}}}}
	}
	sock := func(host string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
	}
	ep := func(addr *corev3.Address, broker map[string]any, weight *wrapperspb.UInt32Value) *endpointv3.LbEndpoint {
		e := &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: addr}}, LoadBalancingWeight: weight}
		if broker != nil {
			s, _ := structpb.NewStruct(broker)
			e.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.RocketMQProxyFilter: s}}
		}
		return e
	}
	cla := func(eps ...*endpointv3.LbEndpoint) *endpointv3.ClusterLoadAssignment {
		return &endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: eps}}}
	}
	good := sock("127.0.0.1", 10911)
	eds := func(md *corev3.Metadata) *clusterv3.Cluster {
		c := edsCluster()
		c.Metadata = md
		return c
	}
	failover := func(kv map[string]any) *corev3.Metadata {
		v := structpb.NewStringValue("on")
		if kv != nil {
			st, err := structpb.NewStruct(kv)
			if err != nil {
				t.Fatal(err)
			}
			v = structpb.NewStructValue(st)
		}
		return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: {Fields: map[string]*structpb.Value{wellknown.SendFailoverKey: v}}}}
	}
	dataPath := func(v *structpb.Value) *corev3.Metadata {
		return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: {Fields: map[string]*structpb.Value{wellknown.DataPathKey: v}}}}
	}

	tests := []decodeErrorCase{
		{"listener without filter", listenerType, &listenerv3.Listener{Name: "l"}, `no "envoy.filters.network.rocketmq_proxy" network filter`},
		{"listener wrong typed_config", listenerType, listenerWith(t, &listenerv3.Filter{Name: wellknown.RocketMQProxyFilter, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: testutil.MustAny(t, &corev3.Node{})}}, nil), `typed_config has type "type.googleapis.com/envoy.config.core.v3.Node"`},
		{"listener undecodable typed_config", listenerType, listenerWith(t, &listenerv3.Filter{Name: wellknown.RocketMQProxyFilter, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: &anypb.Any{TypeUrl: rocketmqProxyTypeURL, Value: []byte{0xff}}}}, nil), "cannot decode typed_config"},
		{"listener no typed_config", listenerType, listenerWith(t, &listenerv3.Filter{Name: wellknown.RocketMQProxyFilter}, nil), "has no typed_config"},
		{"listener bad on_demand type", listenerType, listenerWith(t, proxyFilter(t, &rocketmqv3.RouteConfiguration{Name: "rc"}), onDemand(structpb.NewStringValue("yes"))), `filter_metadata["rmqmesh"]["on_demand_routes"] must be a bool`},
		{"listener on_demand without name", listenerType, listenerWith(t, proxyFilter(t, nil), onDemand(structpb.NewBoolValue(true))), "has no route_config.name"},
		{"listener bad inline route", listenerType, listenerWith(t, proxyFilter(t, rcWith(func(r *rocketmqv3.Route) { r.Route = nil })), nil), "inline route_config: routes[0]: route action has no cluster"},
		{"route bad regex", routeConfigType, rcWith(func(r *rocketmqv3.Route) {
			r.Match.Topic = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "orders("}}}
		}), `routes[0]: topic matcher: invalid safe_regex "orders("`},
		{"route empty regex", routeConfigType, rcWith(func(r *rocketmqv3.Route) {
			r.Match.Topic = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{}}}
		}), "empty safe_regex"},
		{"route empty prefix", routeConfigType, rcWith(func(r *rocketmqv3.Route) {
			r.Match.Topic = &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{}}
		}), "empty prefix"},
		{"route no pattern", routeConfigType, rcWith(func(r *rocketmqv3.Route) { r.Match.Topic = &matcherv3.StringMatcher{} }), "no match pattern"},
		{"route no topic", routeConfigType, rcWith(func(r *rocketmqv3.Route) { r.Match.Topic = nil }), "no topic matcher"},
		{"route topic_queues malformed", routeConfigType, rcWith(func(r *rocketmqv3.Route) {
			q, _ := structpb.NewStruct(map[string]any{wellknown.TopicQueuesKey: map[string]any{"broker-a": map[string]any{wellknown.ReadQueueNumKey: 8}}})
			r.Route.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: q}}
		}), `routes[0]: route metadata_match: filter_metadata["rmqmesh"]["topic_queues"]["broker-a"] has no "write_queue_num"`},
		{"route no match", routeConfigType, rcWith(func(r *rocketmqv3.Route) { r.Match = nil }), "routes[0]: no match"},
		{"route no cluster", routeConfigType, rcWith(func(r *rocketmqv3.Route) { r.Route.Cluster = "" }), "route action has no cluster"},
		{"header bad name", routeConfigType, header(&routev3.HeaderMatcher{Name: "bad\nname"}), `headers[0]: invalid HeaderMatcher.Name`},
		//lint:ignore SA1019 the legacy matcher must still be validated.
		{"header bad regex", routeConfigType, header(&routev3.HeaderMatcher{Name: "code", HeaderMatchSpecifier: &routev3.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: &matcherv3.RegexMatcher{Regex: "[10"}}}), `header "code": invalid safe_regex "[10"`},
		{"header bad string_match", routeConfigType, header(&routev3.HeaderMatcher{Name: "code", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(10"}}}}}), `header "code": string_match: invalid safe_regex`},
		{"header bad range", routeConfigType, header(&routev3.HeaderMatcher{Name: "code", HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: 10, End: 10}}}), "range_match start 10 must be below end 10"},
		{"header empty prefix", routeConfigType, header(&routev3.HeaderMatcher{Name: "code", HeaderMatchSpecifier: &routev3.HeaderMatcher_PrefixMatch{}}), "PrefixMatch: value length must be at least 1 runes"},
		{"route config no name", routeConfigType, &rocketmqv3.RouteConfiguration{}, "route configuration has no name"},
		{"cluster not EDS", clusterType, &clusterv3.Cluster{Name: "c", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}, "not supported (want EDS)"},
		{"cluster bad data_path", clusterType, eds(dataPath(structpb.NewStringValue("tunnel"))), `filter_metadata["rmqmesh"]["data_path"] must be "direct" or "intercept", not "tunnel"`},
		{"cluster data_path type", clusterType, eds(dataPath(structpb.NewNumberValue(1))), `filter_metadata["rmqmesh"]["data_path"] must be "direct" or "intercept", not 1`},
		{"cluster send_failover zero attempts", clusterType, eds(failover(map[string]any{wellknown.FailoverMaxAttemptsKey: 0})), `filter_metadata["rmqmesh"]["send_failover"]["max_attempts"] must be an integer in [1, 10]`},
		{"cluster send_failover negative per-try timeout", clusterType, eds(failover(map[string]any{wellknown.FailoverPerTryTimeoutKey: "-5s"})), `filter_metadata["rmqmesh"]["send_failover"]["per_try_timeout"] must be a positive duration such as "1s", not "-5s"`},
		{"cluster send_failover not a struct", clusterType, eds(failover(nil)), `filter_metadata["rmqmesh"]["send_failover"] must be a struct, not "on"`},
		{"cla no name", endpointsType, &endpointv3.ClusterLoadAssignment{}, "has no cluster_name"},
		{"cla bad port", endpointsType, cla(ep(sock("127.0.0.1", 0), nil, nil)), `invalid port 0`},
		{"cla big port", endpointsType, cla(ep(sock("127.0.0.1", 70000), nil, nil)), `invalid port 70000`},
		{"cla empty host", endpointsType, cla(ep(sock("", 1), nil, nil)), `invalid address ""`},
		{"cla no socket address", endpointsType, cla(ep(&corev3.Address{}, nil, nil)), "no socket_address"},
		{"broker_name type", endpointsType, cla(ep(good, map[string]any{"broker_name": 1.0}, nil)), `"broker_name" must be a non-empty string`},
		{"broker_id missing", endpointsType, cla(ep(good, map[string]any{"broker_name": "a"}, nil)), `broker "a" has no "broker_id"`},
		{"broker_id type", endpointsType, cla(ep(good, map[string]any{"broker_name": "a", "broker_id": "0"}, nil)), `"broker_id" must be an integer`},
		{"broker_id negative", endpointsType, cla(ep(good, map[string]any{"broker_name": "a", "broker_id": -1.0}, nil)), `"broker_id" must be an integer in [0,`},
		{"perm range", endpointsType, cla(ep(good, map[string]any{"broker_name": "a", "broker_id": 0.0, "perm": 8.0}, nil)), `"perm" must be an integer in [0, 7]`},
		{"queue num type", endpointsType, cla(ep(good, map[string]any{"broker_name": "a", "broker_id": 0.0, "read_queue_num": "4"}, nil)), `"read_queue_num" must be an integer`},
		{"write queue negative", endpointsType, cla(ep(good, map[string]any{"broker_name": "a", "broker_id": 0.0, "write_queue_num": -4.0}, nil)), `"write_queue_num" must be an integer`},
		{"cluster_name type", endpointsType, cla(ep(good, map[string]any{"broker_name": "a", "broker_id": 0.0, "cluster_name": 3.0}, nil)), `"cluster_name" must be a string`},
		{"duplicate broker", endpointsType, cla(ep(good, map[string]any{"broker_name": "a", "broker_id": 0.0}, nil), ep(sock("127.0.0.2", 1), map[string]any{"broker_name": "a", "broker_id": 0.0}, nil)), `duplicate broker (broker_name "a", broker_id 0)`},
		{"zero weights", endpointsType, cla(ep(good, nil, wrapperspb.UInt32(0)), ep(sock("127.0.0.2", 1), nil, wrapperspb.UInt32(0))), "load_balancing_weight 0: Envoy requires at least 1 and gRPC NACKs an endpoint with zero weight"},
		{"zero locality weights", endpointsType, &endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: []*endpointv3.LocalityLbEndpoints{{LoadBalancingWeight: wrapperspb.UInt32(0), LbEndpoints: []*endpointv3.LbEndpoint{ep(good, nil, nil)}}}}, "endpoints[0] (locality {}, priority 0): load_balancing_weight 0"},
		{"priority gap", endpointsType, &endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: []*endpointv3.LocalityLbEndpoints{{Priority: 1, LbEndpoints: []*endpointv3.LbEndpoint{ep(good, nil, nil)}}}}, "priority 0 is missing"},
		{"wrong type url", endpointsType, &clusterv3.Cluster{Name: "c"}, `resource has type "type.googleapis.com/envoy.config.cluster.v3.Cluster"`},
	}
	checkDecodeErrors(t, tests)
}

func TestDecode_Nameserver(t *testing.T) {
	// Endpoints without broker_name are nameservers and valid.
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: "ns", Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "127.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 9876}}}}}},
	}}}}}
	name, u, _, err := endpointsType.decode(testutil.MustAny(t, cla))
	if err != nil || name != "ns" || u == nil {
		t.Fatalf("decode() = %q, %v, %v; want ns, update, nil", name, u, err)
	}
}

// edsCluster is a valid EDS cluster fetched over ADS.
func edsCluster() *clusterv3.Cluster {
	return &clusterv3.Cluster{
		Name:                 "c",
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{EdsConfig: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}},
		}},
	}
}

func clusterWith(mut func(c *clusterv3.Cluster)) *clusterv3.Cluster {
	c := edsCluster()
	mut(c)
	return c
}

func tlsSocket(t *testing.T, name string) *corev3.TransportSocket {
	return &corev3.TransportSocket{Name: name, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: testutil.MustAny(t, &tlsv3.UpstreamTlsContext{Sni: "broker"})}}
}

func claWithLocalities(locs ...*endpointv3.LocalityLbEndpoints) *endpointv3.ClusterLoadAssignment {
	return &endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: locs}
}

func locality(zone string, weight *wrapperspb.UInt32Value, epWeights ...uint32) *endpointv3.LocalityLbEndpoints {
	l := &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Zone: zone}, LoadBalancingWeight: weight}
	for i, w := range epWeights {
		l.LbEndpoints = append(l.LbEndpoints, &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: fmt.Sprintf("10.0.%d.%d", len(zone), i+1), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 10911},
			}}}}},
			LoadBalancingWeight: wrapperspb.UInt32(w),
		})
	}
	return l
}

// Item 14: what Envoy's proto rules or grpc-go's cluster checks reject is
// NACKed, naming the field.
func TestDecode_EnvoyRejects(t *testing.T) {
	noStatPrefix := &listenerv3.Listener{Name: "l", FilterChains: []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{{
		Name: wellknown.RocketMQProxyFilter, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: testutil.MustAny(t, &rocketmqv3.RocketmqProxy{RouteConfig: &rocketmqv3.RouteConfiguration{Name: "rc"}})},
	}}}}}
	tests := []decodeErrorCase{
		{"proxy without stat_prefix", listenerType, noStatPrefix, "RocketmqProxy.StatPrefix: value length must be at least 1 runes"},
		{"connect_timeout zero", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.ConnectTimeout = durationpb.New(0) }), "Cluster.ConnectTimeout: value must be greater than 0s"},
		{"lb_policy undefined", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.LbPolicy = 99 }), "Cluster.LbPolicy: value must be one of the defined enum values"},
		{"subset fallback undefined", clusterType, clusterWith(func(c *clusterv3.Cluster) {
			c.LbSubsetConfig = &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: 99}
		}), "FallbackPolicy: value must be one of the defined enum values"},
		{"outlier negative ejection time", clusterType, clusterWith(func(c *clusterv3.Cluster) {
			c.OutlierDetection = &clusterv3.OutlierDetection{BaseEjectionTime: durationpb.New(-30 * time.Second)}
		}), "OutlierDetection.BaseEjectionTime: value must be greater than 0s"},
		{"outlier zero interval", clusterType, clusterWith(func(c *clusterv3.Cluster) {
			c.OutlierDetection = &clusterv3.OutlierDetection{Interval: durationpb.New(0)}
		}), "OutlierDetection.Interval: value must be greater than 0s"},
		{"outlier percentage 101", clusterType, clusterWith(func(c *clusterv3.Cluster) {
			c.OutlierDetection = &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(101)}
		}), "MaxEjectionPercent: value must be less than or equal to 100"},
		{"retry budget 150%", clusterType, clusterWith(func(c *clusterv3.Cluster) {
			c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{
				RetryBudget: &clusterv3.CircuitBreakers_Thresholds_RetryBudget{BudgetPercent: &typev3.Percent{Value: 150}},
			}}}
		}), "value must be inside range [0, 100]"},
		{"transport_socket without name", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.TransportSocket = tlsSocket(t, "") }), "TransportSocket.Name: value length must be at least 1 runes"},
		{"transport_socket not TLS", clusterType, clusterWith(func(c *clusterv3.Cluster) {
			c.TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.raw_buffer"}
		}), `transport_socket "envoy.transport_sockets.raw_buffer" is not supported`},
		{"upstream TLS without common_tls_context", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.TransportSocket = tlsSocket(t, "envoy.transport_sockets.tls") }), "UpstreamTlsContext has no common_tls_context"},
		{"EDS without eds_config", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.EdsClusterConfig = nil }), "eds_cluster_config.eds_config must be ADS or self"},
		{"EDS from a path", clusterType, clusterWith(func(c *clusterv3.Cluster) {
			c.EdsClusterConfig.EdsConfig.ConfigSourceSpecifier = &corev3.ConfigSource_PathConfigSource{PathConfigSource: &corev3.PathConfigSource{Path: "/eds.yaml"}}
		}), "eds_cluster_config.eds_config must be ADS or self"},
		{"lb_policy RANDOM", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.LbPolicy = clusterv3.Cluster_RANDOM }), `lb_policy RANDOM is not supported`},
		{"lb_policy MAGLEV", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.LbPolicy = clusterv3.Cluster_MAGLEV }), `lb_policy MAGLEV is not supported`},
		{"lb_policy CLUSTER_PROVIDED", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.LbPolicy = clusterv3.Cluster_CLUSTER_PROVIDED }), `lb_policy CLUSTER_PROVIDED is not supported`},
		// Issue 10 items 4 and 5: weight 0 is NACKed with a detail naming the
		// endpoint or locality and the rules, never taken as 1 or as unset.
		{"zero endpoint weight beside others", endpointsType, claWithLocalities(locality("a", nil, 0, 5)), `endpoints[0].lb_endpoints[0] (10.0.1.1:10911): load_balancing_weight 0: Envoy requires at least 1 and gRPC NACKs an endpoint with zero weight`},
		{"zero locality weight beside others", endpointsType, claWithLocalities(locality("a", wrapperspb.UInt32(0), 1), locality("bb", wrapperspb.UInt32(3), 1)), `endpoints[0] (locality {zone="a"}, priority 0): load_balancing_weight 0: Envoy requires at least 1 (gRPC would ignore the locality)`},
		{"locality weights overflow per priority", endpointsType, claWithLocalities(locality("a", wrapperspb.UInt32(3_000_000_000), 1), locality("bb", wrapperspb.UInt32(3_000_000_000), 1)), "priority 0: locality weights sum to more than 4294967295"},
		{"endpoint weights overflow per locality", endpointsType, claWithLocalities(locality("a", nil, 3_000_000_000, 3_000_000_000)), "endpoint weights sum to more than 4294967295"},
	}
	checkDecodeErrors(t, tests)
}

// Item 15: what Envoy accepts is accepted.
func TestDecode_EnvoyAccepts(t *testing.T) {
	rc := &rocketmqv3.RouteConfiguration{Name: "rc", Routes: []*rocketmqv3.Route{goodRoute()}}
	rc.Routes[0].Match.Headers = []*routev3.HeaderMatcher{{Name: "x my header", HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}}}
	tests := []struct {
		name string
		rt   *resourceType
		msg  proto.Message
	}{
		{"header name with a space", routeConfigType, rc},
		{"route with topic_queues", routeConfigType, &rocketmqv3.RouteConfiguration{Name: "rc", Routes: []*rocketmqv3.Route{func() *rocketmqv3.Route {
			r := goodRoute()
			q, _ := structpb.NewStruct(map[string]any{wellknown.TopicQueuesKey: map[string]any{"broker-a": map[string]any{wellknown.ReadQueueNumKey: 16, wellknown.WriteQueueNumKey: 16}}})
			r.Route.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: q}}
			return r
		}()}}},
		{"endpoint weights per locality below 2^32", endpointsType, claWithLocalities(locality("a", nil, 3_000_000_000), locality("bb", nil, 3_000_000_000))},
		{"lb_policy RING_HASH", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.LbPolicy = clusterv3.Cluster_RING_HASH })},
		{"lb_policy LEAST_REQUEST", clusterType, clusterWith(func(c *clusterv3.Cluster) { c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST })},
		{"EDS from self", clusterType, clusterWith(func(c *clusterv3.Cluster) {
			c.EdsClusterConfig.EdsConfig.ConfigSourceSpecifier = &corev3.ConfigSource_Self{Self: &corev3.SelfConfigSource{}}
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, _, err := tc.rt.decode(testutil.MustAny(t, tc.msg)); err != nil {
				t.Errorf("decode() = %v, want it accepted as Envoy does", err)
			}
		})
	}
}

// The cluster fields later features need are parsed once, here.
func TestDecode_ClusterFields(t *testing.T) {
	od := &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(3), MaxEjectionPercent: wrapperspb.UInt32(50)}
	cb := &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{{MaxRequests: wrapperspb.UInt32(100)}}}
	c := clusterWith(func(c *clusterv3.Cluster) {
		c.ConnectTimeout = durationpb.New(3 * time.Second)
		c.OutlierDetection, c.CircuitBreakers = od, cb
		c.LbPolicy = clusterv3.Cluster_LEAST_REQUEST
	})
	_, u, _, err := clusterType.decode(testutil.MustAny(t, c))
	if err != nil {
		t.Fatal(err)
	}
	cu := u.(*ClusterUpdate)
	if cu.ConnectTimeout != 3*time.Second || cu.LBPolicy != LBPolicyLeastRequest || !proto.Equal(cu.OutlierDetection, od) || !proto.Equal(cu.CircuitBreakers, cb) {
		t.Errorf("update = timeout %v, lb %q, outlier %v, breakers %v", cu.ConnectTimeout, cu.LBPolicy, cu.OutlierDetection, cu.CircuitBreakers)
	}
	if got := cu.Unimplemented(); !slices.Equal(got, []string{"lb_policy LEAST_REQUEST"}) {
		t.Errorf("Unimplemented() = %q; consecutive-failure ejection and the DEFAULT limits are implemented", got)
	}
	if cu.SendFailover != wellknown.DefaultSendFailover() {
		t.Errorf("send failover without the knob = %+v, want the defaults", cu.SendFailover)
	}
	// What the relay does not act on is logged as such.
	c = clusterWith(func(c *clusterv3.Cluster) {
		c.OutlierDetection = &clusterv3.OutlierDetection{EnforcingSuccessRate: wrapperspb.UInt32(100), EnforcingFailurePercentage: wrapperspb.UInt32(10)}
		c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{
			{MaxRequests: wrapperspb.UInt32(10), RetryBudget: &clusterv3.CircuitBreakers_Thresholds_RetryBudget{}},
			{Priority: corev3.RoutingPriority_HIGH, MaxRequests: wrapperspb.UInt32(10)},
		}}
		kv, _ := structpb.NewStruct(map[string]any{wellknown.SendFailoverKey: map[string]any{wellknown.FailoverMaxAttemptsKey: 2, wellknown.FailoverMoveKeyedSendsKey: true}})
		c.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: kv}}
	})
	if _, u, _, err = clusterType.decode(testutil.MustAny(t, c)); err != nil {
		t.Fatal(err)
	}
	cu = u.(*ClusterUpdate)
	want := []string{"circuit_breakers priority HIGH", "circuit_breakers retry_budget", "outlier_detection failure percentage", "outlier_detection success rate"}
	if got := cu.Unimplemented(); !slices.Equal(got, want) {
		t.Errorf("Unimplemented() = %q, want %q", got, want)
	}
	if cu.SendFailover.MaxAttempts != 2 || !cu.SendFailover.MoveKeyedSends || !cu.SendFailover.Enabled {
		t.Errorf("send failover = %+v, want 2 attempts, keyed sends moved, enabled", cu.SendFailover)
	}
	_, u, _, err = clusterType.decode(testutil.MustAny(t, edsCluster()))
	if err != nil {
		t.Fatal(err)
	}
	if cu := u.(*ClusterUpdate); cu.ConnectTimeout != DefaultConnectTimeout || cu.LBPolicy != LBPolicyRoundRobin || len(cu.Unimplemented()) != 0 {
		t.Errorf("defaults = timeout %v, lb %q, unimplemented %q", cu.ConnectTimeout, cu.LBPolicy, cu.Unimplemented())
	}
}

type decodeErrorCase struct {
	name string
	rt   *resourceType
	msg  proto.Message
	want string
}

func checkDecodeErrors(t *testing.T, tests []decodeErrorCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, u, _, err := tc.rt.decode(testutil.MustAny(t, tc.msg))
			if err == nil {
				t.Fatalf("decode() = %+v, want error containing %q", u, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode() error = %q, want it to contain %q", err, tc.want)
			}
		})
	}
}
