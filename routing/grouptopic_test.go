package routing

import (
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

func TestSnapshot_GroupTopicRouteListsEveryRoutedBroker(t *testing.T) {
	s := mustSnapshot(t, Input{
		RouteConfig: rc("rc",
			rt(t, exact("orders"), "c1", nil),
			rt(t, exact("payments"), "c2", nil),
		),
		Clusters: map[string]*clusterv3.Cluster{"c1": edsCluster(t, "c1", "direct"), "c2": edsCluster(t, "c2", "direct")},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{
			"c1": cla(t, "c1", loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a", perm: 6}}}),
			"c2": cla(t, "c2", loc{eps: []ep{{addr: "10.0.0.2", broker: "broker-b", perm: 4}}}),
		},
	})
	if _, err := s.TopicRoute("%RETRY%g1", RouteDataOptions{}); KindOf(err) != KindNoRoute {
		t.Fatalf("TopicRoute(retry topic) error kind = %v, want NoRoute", KindOf(err))
	}
	got, err := s.GroupTopicRoute("%RETRY%g1", RouteDataOptions{})
	if err != nil {
		t.Fatalf("GroupTopicRoute: %v", err)
	}
	perms := map[string]int32{}
	for _, q := range got.QueueDatas {
		perms[q.BrokerName] = q.Perm
	}
	if perms["broker-a"] != remoting.PermRead|remoting.PermWrite || perms["broker-b"] != remoting.PermRead || len(perms) != 2 {
		t.Errorf("perms = %v, want broker-a read-write and broker-b read-only", perms)
	}
	// An ordinary topic with no route stays an error.
	if _, err := s.GroupTopicRoute("unrouted", RouteDataOptions{}); KindOf(err) != KindNoRoute {
		t.Errorf("GroupTopicRoute(unrouted) kind = %v, want NoRoute", KindOf(err))
	}
}

func TestSnapshot_GroupTopicRoutePrefersAMatchingRoute(t *testing.T) {
	s := mustSnapshot(t, Input{
		RouteConfig: rc("rc",
			rt(t, exact("orders"), "c1", nil),
			rt(t, prefix("%RETRY%"), "c2", nil),
		),
		Clusters: map[string]*clusterv3.Cluster{"c1": edsCluster(t, "c1", "direct"), "c2": edsCluster(t, "c2", "direct")},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{
			"c1": cla(t, "c1", loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a", perm: 6}}}),
			"c2": cla(t, "c2", loc{eps: []ep{{addr: "10.0.0.2", broker: "broker-b", perm: 6}}}),
		},
	})
	got, err := s.GroupTopicRoute("%RETRY%g1", RouteDataOptions{})
	if err != nil {
		t.Fatalf("GroupTopicRoute: %v", err)
	}
	if len(got.QueueDatas) != 1 || got.QueueDatas[0].BrokerName != "broker-b" {
		t.Errorf("route = %+v, want only broker-b from the matching route", got.QueueDatas)
	}
}

func TestRoute_ExactTopic(t *testing.T) {
	s := mustSnapshot(t, Input{
		RouteConfig: rc("rc", rt(t, exact("TBW102"), "c1", nil), rt(t, prefix(""), "c1", nil)),
		Clusters:    map[string]*clusterv3.Cluster{"c1": edsCluster(t, "c1", "direct")},
		Endpoints:   map[string]*endpointv3.ClusterLoadAssignment{"c1": cla(t, "c1", loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a"}}})},
	})
	for topic, want := range map[string]string{"TBW102": "TBW102", "orders": ""} {
		r, err := s.Match(topic, remoting.CodeSendMessage, nil)
		if err != nil {
			t.Fatalf("Match(%q): %v", topic, err)
		}
		if got := r.ExactTopic(); got != want {
			t.Errorf("Match(%q).ExactTopic() = %q, want %q", topic, got, want)
		}
	}
}

func TestSnapshot_RoutedBrokers(t *testing.T) {
	s := mustSnapshot(t, Input{
		RouteConfig: rc("rc", rt(t, exact("orders"), "c1", nil), rt(t, exact("payments"), "c2", nil), rt(t, exact("x"), "unknown", nil)),
		Clusters:    map[string]*clusterv3.Cluster{"c1": edsCluster(t, "c1", "direct"), "c2": edsCluster(t, "c2", "direct")},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{
			"c1": cla(t, "c1", loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a", perm: 6}, {addr: "10.0.0.3", broker: "broker-a", id: 1, perm: 4}}}),
			"c2": cla(t, "c2", loc{eps: []ep{{addr: "10.0.0.2", broker: "broker-b", perm: 4}}}),
		},
	})
	got := s.RoutedBrokers(RouteDataOptions{})
	if len(got) != 2 || got[0].BrokerName != "broker-a" || got[1].BrokerName != "broker-b" {
		t.Fatalf("RoutedBrokers = %+v, want broker-a and broker-b in order", got)
	}
	if a := got[0].BrokerAddrs; a[0] != "10.0.0.1:10911" || a[1] != "10.0.0.3:10911" {
		t.Errorf("broker-a addresses = %v, want master and replica", a)
	}
	if b := got[1].BrokerAddrs; len(b) != 1 || b[0] != "10.0.0.2:10911" {
		t.Errorf("broker-b addresses = %v, want its read-only master", b)
	}
	var nilSnap *Snapshot
	if nilSnap.RoutedBrokers(RouteDataOptions{}) != nil {
		t.Error("nil snapshot returned brokers")
	}
}
