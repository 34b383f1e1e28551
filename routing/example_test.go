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
	"google.golang.org/protobuf/types/known/wrapperspb"

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

// Locality weights are shares, endpoint weights split them, and a locality's
// share shrinks with its availability: zone z1 (weight 3, both brokers
// healthy) weighs 3 × 100, zone z2 (weight 1, one of two healthy) 1 ×
// min(100, 140 × 1/2) = 70, so z1 takes 300/370 of the writes, two thirds of
// it for broker-a (endpoint weight 2). The degraded broker-d takes writes
// only when healthy ones do not suffice; here they do. A sharding key keeps
// its broker on every producer.
func ExampleRoute_WriteShares() {
	locality := func(zone string, weight uint32, eps ...*endpointv3.LbEndpoint) *endpointv3.LocalityLbEndpoints {
		l := &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Region: "r1", Zone: zone}, LbEndpoints: eps}
		if weight > 0 {
			l.LoadBalancingWeight = &wrapperspb.UInt32Value{Value: weight}
		}
		return l
	}
	weighted := func(e *endpointv3.LbEndpoint, w uint32) *endpointv3.LbEndpoint {
		e.LoadBalancingWeight = &wrapperspb.UInt32Value{Value: w}
		return e
	}
	degraded := broker("10.0.0.4", "broker-d", 0, "stable")
	degraded.HealthStatus = corev3.HealthStatus_DEGRADED
	snap, err := routing.NewSnapshot(routing.Input{
		Listener: "rmq-prod",
		RouteConfig: &rocketmqv3.RouteConfiguration{Name: "rmq-routes", Routes: []*rocketmqv3.Route{
			{Match: &rocketmqv3.RouteMatch{Topic: &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "o"}}}, Route: &rocketmqv3.RouteAction{Cluster: "brokers"}},
		}},
		Clusters: map[string]*clusterv3.Cluster{"brokers": {Name: "brokers"}},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{"brokers": {
			ClusterName: "brokers",
			Endpoints: []*endpointv3.LocalityLbEndpoints{
				locality("z1", 3, weighted(broker("10.0.0.1", "broker-a", 0, "stable"), 2), broker("10.0.0.2", "broker-b", 0, "stable")),
				locality("z2", 1, broker("10.0.0.3", "broker-c", 0, "stable"), degraded),
			},
		}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	send, _ := snap.Match("orders", 10, nil)
	shares := send.WriteShares()
	for _, b := range []string{"broker-a", "broker-b", "broker-c", "broker-d"} {
		fmt.Printf("%s %.3f\n", b, shares[b])
	}
	first, _ := send.PickWriteBrokerByKey(routing.KeyHash("order-42"), "")
	again, _ := send.PickWriteBrokerByKey(routing.KeyHash("order-42"), "")
	fmt.Println("order-42 keeps its broker:", first == again)
	// Output:
	// broker-a 0.541
	// broker-b 0.270
	// broker-c 0.189
	// broker-d 0.000
	// order-42 keeps its broker: true
}
