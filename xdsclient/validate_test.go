package xdsclient

import (
	"strings"
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/internal/testutil"
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
	return &listenerv3.Filter{Name: RocketMQFilterName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: testutil.MustAny(t, &rocketmqv3.RocketmqProxy{RouteConfig: rc})}}
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
		return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{MetadataKey: {Fields: map[string]*structpb.Value{OnDemandRoutesField: v}}}}
	}
	sock := func(host string, port uint32) *corev3.Address {
		return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: host, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}}}}
	}
	ep := func(addr *corev3.Address, broker map[string]any, weight *wrapperspb.UInt32Value) *endpointv3.LbEndpoint {
		e := &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: addr}}, LoadBalancingWeight: weight}
		if broker != nil {
			s, _ := structpb.NewStruct(broker)
			e.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{RocketMQFilterName: s}}
		}
		return e
	}
	cla := func(eps ...*endpointv3.LbEndpoint) *endpointv3.ClusterLoadAssignment {
		return &endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: eps}}}
	}
	good := sock("127.0.0.1", 10911)
	eds := func(md *corev3.Metadata) *clusterv3.Cluster {
		return &clusterv3.Cluster{Name: "c", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS}, Metadata: md}
	}
	dataPath := func(v *structpb.Value) *corev3.Metadata {
		return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{MetadataKey: {Fields: map[string]*structpb.Value{DataPathField: v}}}}
	}

	tests := []struct {
		name string
		rt   *resourceType
		msg  proto.Message
		want string
	}{
		{"listener without filter", listenerType, &listenerv3.Listener{Name: "l"}, `no "envoy.filters.network.rocketmq_proxy" network filter`},
		{"listener wrong typed_config", listenerType, listenerWith(t, &listenerv3.Filter{Name: RocketMQFilterName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: testutil.MustAny(t, &corev3.Node{})}}, nil), `typed_config has type "type.googleapis.com/envoy.config.core.v3.Node"`},
		{"listener undecodable typed_config", listenerType, listenerWith(t, &listenerv3.Filter{Name: RocketMQFilterName, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: &anypb.Any{TypeUrl: rocketmqProxyTypeURL, Value: []byte{0xff}}}}, nil), "cannot decode typed_config"},
		{"listener no typed_config", listenerType, listenerWith(t, &listenerv3.Filter{Name: RocketMQFilterName}, nil), "has no typed_config"},
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
		{"route no match", routeConfigType, rcWith(func(r *rocketmqv3.Route) { r.Match = nil }), "routes[0]: no match"},
		{"route no cluster", routeConfigType, rcWith(func(r *rocketmqv3.Route) { r.Route.Cluster = "" }), "route action has no cluster"},
		{"header bad name", routeConfigType, header(&routev3.HeaderMatcher{Name: "bad name"}), `headers[0]: invalid header name "bad name"`},
		//lint:ignore SA1019 the legacy matcher must still be validated.
		{"header bad regex", routeConfigType, header(&routev3.HeaderMatcher{Name: "code", HeaderMatchSpecifier: &routev3.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: &matcherv3.RegexMatcher{Regex: "[10"}}}), `header "code": invalid safe_regex "[10"`},
		{"header bad string_match", routeConfigType, header(&routev3.HeaderMatcher{Name: "code", HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "(10"}}}}}), `header "code": string_match: invalid safe_regex`},
		{"header bad range", routeConfigType, header(&routev3.HeaderMatcher{Name: "code", HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: 10, End: 10}}}), "range_match start 10 must be below end 10"},
		{"header empty prefix", routeConfigType, header(&routev3.HeaderMatcher{Name: "code", HeaderMatchSpecifier: &routev3.HeaderMatcher_PrefixMatch{}}), "empty prefix_match"},
		{"route config no name", routeConfigType, &rocketmqv3.RouteConfiguration{}, "route configuration has no name"},
		{"cluster not EDS", clusterType, &clusterv3.Cluster{Name: "c", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}, "not supported (want EDS)"},
		{"cluster bad data_path", clusterType, eds(dataPath(structpb.NewStringValue("tunnel"))), `filter_metadata["rmqmesh"]["data_path"] is "tunnel"`},
		{"cluster data_path type", clusterType, eds(dataPath(structpb.NewNumberValue(1))), `filter_metadata["rmqmesh"]["data_path"] must be a string`},
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
		{"zero weights", endpointsType, cla(ep(good, nil, wrapperspb.UInt32(0)), ep(sock("127.0.0.2", 1), nil, wrapperspb.UInt32(0))), "priority 0: endpoint weights sum to zero"},
		{"zero locality weights", endpointsType, &endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: []*endpointv3.LocalityLbEndpoints{{LoadBalancingWeight: wrapperspb.UInt32(0), LbEndpoints: []*endpointv3.LbEndpoint{ep(good, nil, nil)}}}}, "locality weights sum to zero"},
		{"priority gap", endpointsType, &endpointv3.ClusterLoadAssignment{ClusterName: "c", Endpoints: []*endpointv3.LocalityLbEndpoints{{Priority: 1, LbEndpoints: []*endpointv3.LbEndpoint{ep(good, nil, nil)}}}}, "priority 0 is missing"},
		{"wrong type url", endpointsType, &clusterv3.Cluster{Name: "c"}, `resource has type "type.googleapis.com/envoy.config.cluster.v3.Cluster"`},
	}
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
