package routing

import (
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/google/go-cmp/cmp"

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

// Issue 10 item 1: with routes forwarding to nameservers, a group topic no
// route names is answered from those nameservers, whose brokers hold it.
func TestSnapshot_GroupTopicWithNameserverRoutes(t *testing.T) {
	s := mustSnapshot(t, Input{
		RouteConfig: rc("rc",
			rt(t, exact("orders"), "ns", nil),
			rt(t, exact("payments"), "ns", map[string]any{"broker_name": "broker-b"}, codeIn("10")),
			rt(t, exact("audit"), "brokers", nil),
		),
		Clusters: map[string]*clusterv3.Cluster{"ns": edsCluster(t, "ns", "direct"), "brokers": edsCluster(t, "brokers", "direct")},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{
			"ns":      cla(t, "ns", loc{eps: []ep{{addr: "10.0.9.1", port: 9876}, {addr: "10.0.9.2", port: 9876, health: unhealthy}}}),
			"brokers": cla(t, "brokers", loc{eps: []ep{{addr: "10.0.0.3", broker: "broker-c", perm: 6, rq: 8, wq: 8}}}),
		},
	})
	for _, topic := range []string{"%RETRY%cg", "%DLQ%cg"} {
		src, err := s.RouteSource(topic)
		if err != nil {
			t.Fatalf("RouteSource(%q): %v", topic, err)
		}
		want := []Upstream{{Cluster: "ns", Nameservers: []string{"10.0.9.1:9876"}, DataPath: DataPathDirect}}
		if src.Kind != SourceGroup || !cmp.Equal(src.Upstreams, want) {
			t.Errorf("RouteSource(%q) = %+v, want group source asking %+v", topic, src, want)
		}
	}
	// An ordinary unrouted topic is not forwarded anywhere.
	if src, err := s.RouteSource("unrouted"); err != nil || src.Kind != SourceSynthesize {
		t.Errorf("RouteSource(unrouted) = %+v, %v; want synthesize", src, err)
	}

	upstream := &remoting.TopicRouteData{
		QueueDatas: []remoting.QueueData{
			{BrokerName: "broker-a", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6},
			{BrokerName: "broker-x", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}, // no BrokerData
		},
		BrokerDatas: []remoting.BrokerData{{Cluster: "DefaultCluster", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}}},
	}
	got, err := s.RewriteGroupRoute("%RETRY%cg", []*remoting.TopicRouteData{upstream, nil}, RouteDataOptions{})
	if err != nil {
		t.Fatalf("RewriteGroupRoute: %v", err)
	}
	want := map[string]remoting.QueueData{
		"broker-a": {BrokerName: "broker-a", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6},
		// From the broker cluster, with the group topics' one queue.
		"broker-c": {BrokerName: "broker-c", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6},
	}
	gotQDs := map[string]remoting.QueueData{}
	for _, q := range got.QueueDatas {
		gotQDs[q.BrokerName] = q
	}
	if diff := cmp.Diff(gotQDs, want); diff != "" {
		t.Errorf("queue data mismatch (-got +want):\n%s", diff)
	}

	// Nothing answered and no broker cluster: a clear error.
	nsOnly := mustSnapshot(t, Input{
		RouteConfig: rc("rc", rt(t, exact("orders"), "ns", nil)),
		Clusters:    map[string]*clusterv3.Cluster{"ns": edsCluster(t, "ns", "direct")},
		Endpoints:   map[string]*endpointv3.ClusterLoadAssignment{"ns": cla(t, "ns", loc{eps: []ep{{addr: "10.0.9.1", port: 9876}}})},
	})
	_, err = nsOnly.RewriteGroupRoute("%RETRY%cg", nil, RouteDataOptions{})
	if KindOf(err) != KindNoUsableBroker || !strings.Contains(err.Error(), `"%RETRY%cg"`) || !strings.Contains(err.Error(), `"ns"`) {
		t.Errorf("RewriteGroupRoute with no answers = %v, want %v naming the topic and the nameserver cluster", err, KindNoUsableBroker)
	}
}
