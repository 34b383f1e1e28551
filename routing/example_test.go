package routing_test

import (
	"fmt"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// broker builds an EDS endpoint for a RocketMQ broker.
func broker(ip, name string, id int, version string) *endpointv3.LbEndpoint {
	md := map[string]any{"broker_name": name, "broker_id": id, "cluster_name": "DefaultCluster", "perm": 6, "read_queue_num": 4, "write_queue_num": 4}
	rmq, _ := structpb.NewStruct(md)
	md["version"] = version
	lb, _ := structpb.NewStruct(md)
	return &endpointv3.LbEndpoint{
		HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 10911},
			}}},
		}},
		Metadata: &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
			wellknown.BrokerMetadataNamespace: rmq,
			wellknown.SubsetMetadataNamespace: lb,
		}},
	}
}

// Sends (codes 10, 310, 320) to topic "orders" go to the canary subset;
// pulls see every broker.
func Example() {
	canary, _ := structpb.NewStruct(map[string]any{"version": "canary"})
	orders := &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "orders"}}
	sends := &routev3.HeaderMatcher{Name: wellknown.CodeHeader, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{
		StringMatch: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "10|310|320"}}},
	}}
	snap, err := routing.NewSnapshot(routing.Input{
		Listener: "rmq-prod",
		RouteConfig: &rocketmqv3.RouteConfiguration{Name: "rmq-routes", Routes: []*rocketmqv3.Route{
			{
				Match: &rocketmqv3.RouteMatch{Topic: orders, Headers: []*routev3.HeaderMatcher{sends}},
				Route: &rocketmqv3.RouteAction{Cluster: "brokers", MetadataMatch: &corev3.Metadata{
					FilterMetadata: map[string]*structpb.Struct{wellknown.SubsetMetadataNamespace: canary},
				}},
			},
			{Match: &rocketmqv3.RouteMatch{Topic: orders}, Route: &rocketmqv3.RouteAction{Cluster: "brokers"}},
		}},
		Clusters: map[string]*clusterv3.Cluster{"brokers": {Name: "brokers"}},
		// The caller runs relays: brokers get virtual addresses (AddressOf).
		InterceptAvailable: true,
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{"brokers": {
			ClusterName: "brokers",
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{
				broker("10.0.0.1", "broker-a", 0, "stable"),
				broker("10.0.0.2", "broker-b", 0, "canary"),
			}}},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var table routing.Table
	table.Store(snap)

	s := table.Load()
	send, _ := s.Match("orders", 310, nil)
	fmt.Println("send:", send.Cluster(), send.Subset(), send.WritableBrokers())
	readable, _ := s.ReadableBrokers("orders")
	fmt.Println("readable:", readable)
	data, _ := s.TopicRoute("orders", routing.RouteDataOptions{
		AddressOf: func(name string, id int64, real string) string { return "127.0.0.1:" + name },
	})
	for i, q := range data.QueueDatas {
		fmt.Printf("%s perm=%d addrs=%v\n", q.BrokerName, q.Perm, data.BrokerDatas[i].BrokerAddrs)
	}
	_, err = s.Match("payments", 10, nil)
	fmt.Println(err, routing.KindOf(err))
	// Output:
	// send: brokers map[version:canary] [broker-b]
	// readable: [broker-a broker-b]
	// broker-a perm=4 addrs=map[0:127.0.0.1:broker-a]
	// broker-b perm=6 addrs=map[0:127.0.0.1:broker-b]
	// routing: topic "payments": no route in listener "rmq-prod" (code 10) NoRoute
}
