package resource_test

import (
	"fmt"
	"strings"
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

func TestNames_MatchWhatRmqmeshReads(t *testing.T) {
	for _, c := range []struct{ ours, theirs string }{
		{resource.ListenerType, xdsclient.ListenerTypeURL},
		{resource.ClusterType, xdsclient.ClusterTypeURL},
		{resource.EndpointType, xdsclient.EndpointsTypeURL},
		{resource.RouteConfigType, xdsclient.RouteConfigTypeURL},
	} {
		if c.ours != c.theirs {
			t.Errorf("resource has %q, the reader expects %q", c.ours, c.theirs)
		}
	}
}

func brokers() []resource.Endpoint {
	return []resource.Endpoint{
		{Address: "10.0.0.1:10911", Weight: 80, Locality: resource.Locality{Zone: "a"},
			Broker: &resource.Broker{Name: "broker-a", ID: 0, ClusterName: "DefaultCluster", Perm: 6, ReadQueues: 4, WriteQueues: 4}},
		{Address: "10.0.0.2:10911", Weight: 80, Locality: resource.Locality{Zone: "a"},
			Broker: &resource.Broker{Name: "broker-a", ID: 1, ClusterName: "DefaultCluster", Perm: 6, ReadQueues: 4, WriteQueues: 4}},
		{Address: "10.0.0.3:10911", Weight: 20, Locality: resource.Locality{Zone: "b"}, Labels: map[string]string{"version": "canary"},
			Broker: &resource.Broker{Name: "broker-b", ID: 0, ClusterName: "DefaultCluster", Perm: 4, ReadQueues: 8, WriteQueues: 8}},
	}
}

// The built resources are read by rmqmesh's own route table exactly as
// intended: queue counts, permissions, weights and subsets.
func TestBuild_RoutingReadsIt(t *testing.T) {
	l, err := resource.NewListener(resource.Listener{Name: "rocketmq", RouteConfigName: "rocketmq", Routes: []resource.Route{
		{Kind: resource.ExactTopic, Pattern: "canary-only", Cluster: "brokers", Subset: map[string]string{"version": "canary"}},
		{Kind: resource.AnyTopic, Cluster: "brokers"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, cla, err := resource.NewCluster(resource.Cluster{Name: "brokers", DataPath: "direct", Endpoints: brokers()})
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshotOf(t, l, c, cla, nil)
	td, err := snap.TopicRoute("orders", routing.RouteDataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(td.QueueDatas, td.BrokerDatas)
	want := fmt.Sprint(
		[]remoting.QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}, {BrokerName: "broker-b", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 4}},
		[]remoting.BrokerData{{Cluster: "DefaultCluster", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911", 1: "10.0.0.2:10911"}},
			{Cluster: "DefaultCluster", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "10.0.0.3:10911"}}})
	if got != want {
		t.Errorf("route data:\n got %s\nwant %s", got, want)
	}
	// The subset holds only the read-only canary broker: readable, never written.
	td, err = snap.TopicRoute("canary-only", routing.RouteDataOptions{})
	if err != nil || len(td.QueueDatas) != 1 || td.QueueDatas[0].BrokerName != "broker-b" || td.QueueDatas[0].Perm != 4 {
		t.Errorf("canary-only: %+v, %v; want broker-b alone, perm 4", td, err)
	}
	r, err := snap.Match("orders", 10, nil)
	if err != nil || r.DataPath() != routing.DataPathDirect {
		t.Errorf("Match: %v, data path %v; want direct", err, r.DataPath())
	}
}

// A route's topic queue data is what rmqmesh's route table uses for that
// topic: its counts, its permission masking the broker's, and only the
// brokers it lists; a subset still applies beside it.
func TestBuild_RoutingReadsTopicQueues(t *testing.T) {
	l, err := resource.NewListener(resource.Listener{Name: "rocketmq", RouteConfigName: "rocketmq", Routes: []resource.Route{
		{Kind: resource.ExactTopic, Pattern: "wide", Cluster: "brokers", TopicQueues: map[string]wellknown.TopicQueues{
			"broker-a": {ReadQueueNums: 16, WriteQueueNums: 12, Perm: 6},
			"broker-b": {ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6},
		}},
		{Kind: resource.ExactTopic, Pattern: "a-only", Cluster: "brokers", TopicQueues: map[string]wellknown.TopicQueues{
			"broker-a": {ReadQueueNums: 3, WriteQueueNums: 3, Perm: 4},
		}},
		{Kind: resource.ExactTopic, Pattern: "canary", Cluster: "brokers", Subset: map[string]string{"version": "canary"}, TopicQueues: map[string]wellknown.TopicQueues{
			"broker-a": {ReadQueueNums: 5, WriteQueueNums: 5, Perm: 6},
			"broker-b": {ReadQueueNums: 5, WriteQueueNums: 5, Perm: 6},
		}},
		{Kind: resource.AnyTopic, Cluster: "brokers"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	c, cla, err := resource.NewCluster(resource.Cluster{Name: "brokers", Endpoints: brokers()})
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshotOf(t, l, c, cla, nil)
	for _, tc := range []struct{ topic, want string }{
		// broker-b's endpoint is read-only (perm 4): the topic's 6 does not widen it.
		{"wide", "[{broker-a 16 12 6 0} {broker-b 2 2 4 0}]"},
		{"a-only", "[{broker-a 3 3 4 0}]"},
		{"canary", "[{broker-b 5 5 4 0}]"},
		{"other", "[{broker-a 4 4 6 0} {broker-b 8 8 4 0}]"},
	} {
		td, err := snap.TopicRoute(tc.topic, routing.RouteDataOptions{})
		if err != nil {
			t.Errorf("%s: %v", tc.topic, err)
			continue
		}
		if got := fmt.Sprint(td.QueueDatas); got != tc.want {
			t.Errorf("%s: queue data %s, want %s", tc.topic, got, tc.want)
		}
	}
}

func TestBuild_OnDemandListenerAndTopicRoutes(t *testing.T) {
	l, err := resource.NewListener(resource.Listener{Name: "rocketmq", RouteConfigName: "rocketmq", OnDemand: true})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := resource.NewRouteConfig(wellknown.TopicRouteName("rocketmq", "orders"), []resource.Route{
		{Kind: resource.PrefixTopic, Pattern: "ord", Codes: []int32{10, 310}, Cluster: "writers"},
		{Kind: resource.RegexTopic, Pattern: "or.*", Codes: []int32{11}, Cluster: "brokers"},
	})
	if err != nil {
		t.Fatal(err)
	}
	w, wcla, err := resource.NewCluster(resource.Cluster{Name: "writers", Endpoints: brokers()[:1]})
	if err != nil {
		t.Fatal(err)
	}
	c, cla, err := resource.NewCluster(resource.Cluster{Name: "brokers", Endpoints: brokers()})
	if err != nil {
		t.Fatal(err)
	}
	in := routing.Input{Listener: "rocketmq", RouteConfig: rcOf(t, l),
		TopicRoutes: map[string]*rocketmqv3.RouteConfiguration{"orders": rc},
		Clusters:    map[string]*clusterv3.Cluster{"writers": w, "brokers": c},
		Endpoints:   map[string]*endpointv3.ClusterLoadAssignment{"writers": wcla, "brokers": cla}}
	snap, err := routing.NewSnapshot(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		code    int32
		cluster string
	}{{10, "writers"}, {310, "writers"}, {11, "brokers"}} {
		r, err := snap.Match("orders", c.code, nil)
		if err != nil || r.Cluster() != c.cluster {
			t.Errorf("code %d: %v, %v; want cluster %q", c.code, r, err, c.cluster)
		}
	}
	if _, err := snap.Match("orders", 34, nil); err == nil {
		t.Error("code 34 matched a route restricted to 10, 310 and 11")
	}
}

func TestBuild_Errors(t *testing.T) {
	for _, c := range []struct {
		name  string
		build func() error
		want  string
	}{
		{"listener without name", func() error { _, err := resource.NewListener(resource.Listener{RouteConfigName: "x"}); return err }, "no name"},
		{"listener without route config", func() error { _, err := resource.NewListener(resource.Listener{Name: "l"}); return err }, `"l": no route configuration name`},
		{"empty prefix", func() error {
			_, err := resource.NewRoute(resource.Route{Kind: resource.PrefixTopic, Cluster: "c"})
			return err
		}, "empty topic prefix"},
		{"bad regex", func() error {
			_, err := resource.NewRoute(resource.Route{Kind: resource.RegexTopic, Pattern: "(", Cluster: "c"})
			return err
		}, `topic regex "("`},
		{"route without cluster", func() error { _, err := resource.NewRoute(resource.Route{}); return err }, "no cluster"},
		{"topic queues of no broker", func() error {
			_, err := resource.NewRoute(resource.Route{Cluster: "c", TopicQueues: map[string]wellknown.TopicQueues{"": {}}})
			return err
		}, `filter_metadata["rmqmesh"]["topic_queues"]: empty broker name`},
		{"topic queues perm", func() error {
			_, err := resource.NewRoute(resource.Route{Cluster: "c", TopicQueues: map[string]wellknown.TopicQueues{"b": {Perm: 8}}})
			return err
		}, `["b"]["perm"] must be an integer in [0, 7], not 8`},
		{"cluster without name", func() error { _, _, err := resource.NewCluster(resource.Cluster{}); return err }, "no name"},
		{"bad address", func() error {
			_, _, err := resource.NewCluster(resource.Cluster{Name: "c", Endpoints: []resource.Endpoint{{Address: "nowhere"}}})
			return err
		}, `cluster "c": endpoints[0]: address "nowhere"`},
		{"port zero", func() error {
			_, err := resource.NewEndpoint(resource.Endpoint{Address: "1.2.3.4:0"})
			return err
		}, "port in 1..65535"},
		{"bad perm", func() error {
			_, err := resource.NewEndpoint(resource.Endpoint{Address: "1.2.3.4:1", Broker: &resource.Broker{Name: "b", Perm: 9}})
			return err
		}, "perm (0..7)"},
	} {
		err := c.build()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// Equal inputs hash equally, whatever order Go iterates the metadata maps in:
// two replicas building the same thing serve the same version.
func TestHash_StableAcrossMapOrder(t *testing.T) {
	subset := map[string]string{}
	for i := range 30 {
		subset[fmt.Sprintf("k%02d", i)] = fmt.Sprint(i)
	}
	build := func() string {
		l, err := resource.NewListener(resource.Listener{Name: "l", RouteConfigName: "l", Routes: []resource.Route{{Cluster: "c", Subset: subset}}})
		if err != nil {
			t.Fatal(err)
		}
		h, err := resource.Hash(l)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	first := build()
	for range 20 {
		if h := build(); h != first {
			t.Fatalf("hash %s, then %s for the same listener", first, h)
		}
	}
	l2, _ := resource.NewListener(resource.Listener{Name: "l", RouteConfigName: "l", Routes: []resource.Route{{Cluster: "other", Subset: subset}}})
	if h, _ := resource.Hash(l2); h == first {
		t.Error("a different listener has the same hash")
	}
}

func TestCombinedVersion(t *testing.T) {
	a := resource.CombinedVersion(map[string]string{"x": "1", "y": "2"})
	if b := resource.CombinedVersion(map[string]string{"y": "2", "x": "1"}); a != b {
		t.Errorf("order changed the version: %s vs %s", a, b)
	}
	for _, other := range []map[string]string{{"x": "1", "y": "3"}, {"x": "1"}, {"x1": "", "y": "2"}, {}} {
		if b := resource.CombinedVersion(other); a == b {
			t.Errorf("%v has the version of {x:1 y:2}", other)
		}
	}
}

func TestSet_CloneIsDeep(t *testing.T) {
	c, cla, err := resource.NewCluster(resource.Cluster{Name: "c", Endpoints: brokers()})
	if err != nil {
		t.Fatal(err)
	}
	s := resource.Set{Clusters: []*clusterv3.Cluster{c}, Endpoints: []*endpointv3.ClusterLoadAssignment{cla}}
	cp := s.Clone()
	cp.Clusters[0].Name = "changed"
	if s.Clusters[0].Name != "c" {
		t.Error("Clone shares clusters")
	}
	if !proto.Equal(cp.Endpoints[0], s.Endpoints[0]) {
		t.Error("Clone changed an assignment")
	}
}

func TestNewAssignment_GroupsByPriorityAndLocality(t *testing.T) {
	eps := brokers()
	eps[1].Priority = 1
	cla, err := resource.NewAssignment("c", eps)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range cla.GetEndpoints() {
		got = append(got, fmt.Sprintf("p%d/%s/%d", g.GetPriority(), g.GetLocality().GetZone(), len(g.GetLbEndpoints())))
	}
	if diff := cmp.Diff(got, []string{"p0/a/1", "p1/a/1", "p0/b/1"}); diff != "" {
		t.Errorf("groups (-got +want):\n%s", diff)
	}
	md := cla.GetEndpoints()[2].GetLbEndpoints()[0].GetMetadata().GetFilterMetadata()
	for _, ns := range []string{wellknown.RocketMQProxyFilter, wellknown.SubsetMetadataNamespace} {
		if md[ns].GetFields()[wellknown.BrokerNameKey].GetStringValue() != "broker-b" {
			t.Errorf("broker_name missing under %q", ns)
		}
	}
	if md[wellknown.SubsetMetadataNamespace].GetFields()["version"].GetStringValue() != "canary" {
		t.Error("label missing under envoy.lb")
	}
	if _, ok := md[wellknown.RocketMQProxyFilter].GetFields()["version"]; ok {
		t.Error("label leaked into the broker namespace")
	}
}

// rcOf returns the inline route configuration of l's RocketmqProxy filter.
func rcOf(t *testing.T, l *listenerv3.Listener) *rocketmqv3.RouteConfiguration {
	t.Helper()
	p := &rocketmqv3.RocketmqProxy{}
	if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(p); err != nil {
		t.Fatal(err)
	}
	return p.GetRouteConfig()
}

func snapshotOf(t *testing.T, l *listenerv3.Listener, c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment, topics map[string]*rocketmqv3.RouteConfiguration) *routing.Snapshot {
	t.Helper()
	snap, err := routing.NewSnapshot(routing.Input{
		Listener: l.GetName(), RouteConfig: rcOf(t, l), TopicRoutes: topics,
		Clusters:  map[string]*clusterv3.Cluster{c.GetName(): c},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{cla.GetClusterName(): cla},
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// A cluster's data path and send failover reach its metadata in the form the
// readers parse.
func TestNewCluster_Knobs(t *testing.T) {
	f := wellknown.DefaultSendFailover()
	f.MaxAttempts, f.MoveKeyedSends = 2, true
	c, _, err := resource.NewCluster(resource.Cluster{Name: "brokers", DataPath: "direct", SendFailover: &f, Endpoints: brokers()})
	if err != nil {
		t.Fatal(err)
	}
	if dp, err := wellknown.ParseDataPath(c.GetMetadata()); err != nil || dp != "direct" {
		t.Errorf("data path %q, %v", dp, err)
	}
	if got, err := wellknown.ParseSendFailover(c.GetMetadata()); err != nil || got != f {
		t.Errorf("send failover %+v, %v; want %+v", got, err, f)
	}
	c, _, err = resource.NewCluster(resource.Cluster{Name: "plain", Endpoints: brokers()})
	if err != nil || c.GetMetadata() != nil {
		t.Errorf("a cluster without knobs has metadata %v (%v)", c.GetMetadata(), err)
	}
}
