package controlplane_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/controlplane"
	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/policy"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

func mustPolicy(t testing.TB, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func issuePolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Load("policy/testdata/issue14.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func reg(cluster, name string, id int64, addr string) discovery.Broker {
	return discovery.Broker{Cluster: cluster, Name: name, ID: id, Addr: addr, Registered: true}
}

func queues(qs ...discovery.QueueData) discovery.Topic {
	return discovery.Topic{Exists: true, Queues: qs}
}

func q(broker string, rw, perm int) discovery.QueueData {
	return discovery.QueueData{BrokerName: broker, Read: rw, Write: rw, Perm: perm}
}

// baseView: broker-a with a replica and broker-b in DefaultCluster, broker-x
// elsewhere.
func baseView() *discovery.View {
	return &discovery.View{Synced: true, Brokers: []discovery.Broker{
		reg("DefaultCluster", "broker-a", 0, "10.0.0.1:10911"),
		reg("DefaultCluster", "broker-a", 1, "10.0.0.2:10911"),
		reg("DefaultCluster", "broker-b", 0, "10.0.0.3:10911"),
		reg("OtherCluster", "broker-x", 0, "10.0.0.9:10911"),
	}, Topics: map[string]discovery.Topic{
		"orders":  queues(q("broker-a", 4, 6), q("broker-b", 4, 6), q("broker-x", 4, 6)),
		"skewed":  queues(q("broker-a", 8, 6), q("broker-b", 2, 6)),
		"b-only":  queues(q("broker-b", 4, 6)),
		"x-only":  queues(q("broker-x", 4, 6)),
		"missing": {},
	}}
}

// snapshotFor compiles what a client of listener would hold after asking
// for topics: rmqmesh's own route table over the built resources.
func snapshotFor(t *testing.T, set resource.Set, listener string, topics ...string) *routing.Snapshot {
	t.Helper()
	in := routing.Input{Listener: listener, TopicRoutes: map[string]*rocketmqv3.RouteConfiguration{},
		Clusters: map[string]*clusterv3.Cluster{}, Endpoints: map[string]*endpointv3.ClusterLoadAssignment{}}
	var l *listenerv3.Listener
	for _, x := range set.Listeners {
		if x.GetName() == listener {
			l = x
		}
	}
	if l == nil {
		t.Fatalf("no listener %q", listener)
	}
	proxy := &rocketmqv3.RocketmqProxy{}
	if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(proxy); err != nil {
		t.Fatal(err)
	}
	in.RouteConfig = proxy.GetRouteConfig()
	for _, topic := range topics {
		name := wellknown.TopicRouteName(proxy.GetRouteConfig().GetName(), topic)
		for _, rc := range set.RouteConfigs {
			if rc.GetName() == name {
				in.TopicRoutes[topic] = rc
			}
		}
	}
	for _, c := range set.Clusters {
		in.Clusters[c.GetName()] = c
	}
	for _, e := range set.Endpoints {
		in.Endpoints[e.GetClusterName()] = e
	}
	snap, err := routing.NewSnapshot(in)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func names[M interface{ GetName() string }](ms []M) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.GetName())
	}
	return out
}

func routeText(td *remoting.TopicRouteData) string {
	var parts []string
	for i, qd := range td.QueueDatas {
		ids := slices.Sorted(func(yield func(int64) bool) {
			for id := range td.BrokerDatas[i].BrokerAddrs {
				if !yield(id) {
					return
				}
			}
		})
		var addrs []string
		for _, id := range ids {
			addrs = append(addrs, fmt.Sprintf("%d=%s", id, td.BrokerDatas[i].BrokerAddrs[id]))
		}
		parts = append(parts, fmt.Sprintf("%s r%d w%d p%d [%s]", qd.BrokerName, qd.ReadQueueNums, qd.WriteQueueNums, qd.Perm, strings.Join(addrs, " ")))
	}
	return strings.Join(parts, "; ")
}

// The issue's policy over a live view: what each client topic gets.
func TestBuild_IssuePolicy(t *testing.T) {
	res := controlplane.Build(controlplane.Discovered{View: baseView(), Requested: []string{
		"rocketmq/orders", "rocketmq/skewed", "rocketmq/b-only", "rocketmq/x-only", "rocketmq/missing",
		"rocketmq/pending", "other/orders", "garbage", "rocketmq/orders",
	}}, issuePolicy(t))
	if len(res.Warnings) > 0 {
		t.Errorf("warnings: %v", res.Warnings)
	}
	set := res.Resources
	if diff := cmp.Diff(names(set.Listeners), []string{"rocketmq"}); diff != "" {
		t.Errorf("listeners (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(names(set.RouteConfigs), []string{"rocketmq/b-only", "rocketmq/missing", "rocketmq/orders", "rocketmq/skewed", "rocketmq/x-only"}); diff != "" {
		t.Errorf("route configurations (-got +want):\n%s", diff)
	}
	clusters := names(set.Clusters)
	if len(clusters) != 5 || clusters[0] != "default" || clusters[3] != "default/none" || clusters[4] != "default/r4w4p6" ||
		!strings.HasPrefix(clusters[1], "default/h") || !strings.HasPrefix(clusters[2], "default/h") {
		t.Errorf("clusters %v; want default, default/none, two default/h<hash>, default/r4w4p6", clusters)
	}
	snap := snapshotFor(t, set, "rocketmq", "orders", "skewed", "b-only", "x-only", "missing")
	for _, c := range []struct{ topic, want string }{
		// broker-b is read-only by policy; broker-x is not in DefaultCluster.
		{"orders", "broker-a r4 w4 p6 [0=10.0.0.1:10911 1=10.0.0.2:10911]; broker-b r4 w4 p4 [0=10.0.0.3:10911]"},
		{"skewed", "broker-a r8 w8 p6 [0=10.0.0.1:10911 1=10.0.0.2:10911]; broker-b r2 w2 p4 [0=10.0.0.3:10911]"},
		{"b-only", "broker-b r4 w4 p4 [0=10.0.0.3:10911]"},
	} {
		td, err := snap.TopicRoute(c.topic, routing.RouteDataOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.topic, err)
			continue
		}
		if got := routeText(td); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.topic, got, c.want)
		}
	}
	if _, err := snap.TopicRoute("x-only", routing.RouteDataOptions{}); routing.KindOf(err) != routing.KindNoUsableBroker {
		t.Errorf("x-only (no broker of the cluster has it): %v; want no usable broker", err)
	}
	if _, err := snap.TopicRoute("missing", routing.RouteDataOptions{}); routing.KindOf(err) != routing.KindNoRoute {
		t.Errorf("missing (the nameservers do not know it): %v; want no route", err)
	}
	// 80/20 weights on the endpoints of the topic's cluster.
	for _, cla := range set.Endpoints {
		if cla.GetClusterName() != "default/r4w4p6" {
			continue
		}
		w := map[string]uint32{}
		for _, g := range cla.GetEndpoints() {
			for _, e := range g.GetLbEndpoints() {
				w[e.GetMetadata().GetFilterMetadata()[wellknown.SubsetMetadataNamespace].GetFields()[wellknown.BrokerNameKey].GetStringValue()] += e.GetLoadBalancingWeight().GetValue()
			}
		}
		if w["broker-a"] != 160 || w["broker-b"] != 20 {
			t.Errorf("weights %v; want broker-a 80 on each of two members, broker-b 20", w)
		}
	}
}

func TestBuild_LostDrainLocalityPriority(t *testing.T) {
	p := mustPolicy(t, `
listeners:
  - name: l
    routes: [{cluster: w}, {cluster: u}]
clusters:
  - name: w
    brokers: {cluster_name: DefaultCluster}
    overrides:
      broker-a: {drain: true, priority: 3, zone: za}
  - name: u
    brokers: {cluster_name: DefaultCluster}
    lost_brokers: unhealthy
brokers:
  broker-a: {region: r1, zone: zz, labels: {tier: gold}}
`)
	v := baseView()
	v.Brokers[2].Registered = false // broker-b stopped registering
	res := controlplane.Build(controlplane.Discovered{View: v}, p)
	got := map[string][]string{}
	for _, cla := range res.Resources.Endpoints {
		for _, g := range cla.GetEndpoints() {
			for _, e := range g.GetLbEndpoints() {
				lb := e.GetMetadata().GetFilterMetadata()[wellknown.SubsetMetadataNamespace].GetFields()
				got[cla.GetClusterName()] = append(got[cla.GetClusterName()], fmt.Sprintf("%s/%v %s p%d %s/%s tier=%s",
					lb[wellknown.BrokerNameKey].GetStringValue(), lb[wellknown.BrokerIDKey].GetNumberValue(), e.GetHealthStatus(),
					g.GetPriority(), g.GetLocality().GetRegion(), g.GetLocality().GetZone(), lb["tier"].GetStringValue()))
			}
		}
	}
	want := map[string][]string{
		// Priorities 3 → 0: contiguous. The override's zone wins over the
		// brokers section's, its region stays.
		"w": {"broker-a/0 DRAINING p0 r1/za tier=gold", "broker-a/1 DRAINING p0 r1/za tier=gold"},
		"u": {"broker-a/0 HEALTHY p0 r1/zz tier=gold", "broker-a/1 HEALTHY p0 r1/zz tier=gold", "broker-b/0 UNHEALTHY p0 / tier="},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("endpoints (-got +want):\n%s", diff)
	}
}

func TestBuild_InlineListeners(t *testing.T) {
	p := mustPolicy(t, `
listeners:
  - name: fwd
    topic_routes: inline
    routes: [{topic: {exact: orders}, codes: [10], cluster: a}, {cluster: all}]
  - name: envoy
    topic_routes: inline
    route_info: synthesize
    routes: [{cluster: all}]
clusters:
  - name: a
    brokers: {broker_names: [broker-a]}
    data_path: direct
  - name: all
    brokers: {cluster_name: DefaultCluster}
    queues: {read: 2, write: 3}
`)
	res := controlplane.Build(controlplane.Discovered{View: baseView(), Nameservers: []string{"10.0.0.100:9876", "10.0.0.101:9876"}}, p)
	if len(res.Resources.RouteConfigs) != 0 {
		t.Errorf("inline listeners got per-topic routes: %v", names(res.Resources.RouteConfigs))
	}
	snap := snapshotFor(t, res.Resources, "fwd")
	src, err := snap.RouteSource("orders")
	if err != nil || src.Kind != routing.SourceNameserver || !slices.Equal(src.Nameservers, []string{"10.0.0.100:9876", "10.0.0.101:9876"}) {
		t.Errorf("fwd route source %+v, %v; want the nameservers", src, err)
	}
	if r, err := snap.Match("orders", 10, nil); err != nil || r.Cluster() != "a" || r.DataPath() != routing.DataPathDirect {
		t.Errorf("fwd orders send: %v %v", r, err)
	}
	snap = snapshotFor(t, res.Resources, "envoy")
	if src, _ := snap.RouteSource("orders"); src.Kind != routing.SourceSynthesize {
		t.Errorf("envoy route source %+v; want synthesize", src)
	}
	td, err := snap.TopicRoute("anything", routing.RouteDataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := routeText(td); got != "broker-a r2 w3 p6 [0=10.0.0.1:10911 1=10.0.0.2:10911]; broker-b r2 w3 p6 [0=10.0.0.3:10911]" {
		t.Errorf("envoy route: %s", got)
	}
}

// Every route that serves one topic carries the topic's own queue data on
// the route's brokers (wellknown.TopicQueuesKey): per-topic routes always,
// inline exact-topic routes when the nameservers know the topic.
func TestBuild_RoutesCarryTopicQueues(t *testing.T) {
	p := mustPolicy(t, `
listeners:
  - name: rocketmq
    routes: [{topic: {prefix: sk}, codes: [10], cluster: a}, {cluster: all}]
  - name: envoy
    topic_routes: inline
    route_info: synthesize
    routes:
      - {topic: {exact: skewed}, cluster: all}
      - {topic: {exact: x-only}, cluster: all}
      - {topic: {exact: missing}, cluster: all}
      - {topic: {exact: unasked}, cluster: all}
      - {topic: {prefix: ord}, cluster: all}
clusters:
  - name: a
    brokers: {broker_names: [broker-a]}
  - name: all
    brokers: {cluster_name: DefaultCluster}
    queues: {read: 2, write: 3}
`)
	if got := controlplane.InlineTopicsForTest(p); !slices.Equal(got, []string{"missing", "skewed", "unasked", "x-only"}) {
		t.Errorf("inline topics %q", got)
	}
	v := baseView()
	delete(v.Topics, "unasked")
	res := controlplane.Build(controlplane.Discovered{View: v, Requested: []string{"rocketmq/skewed", "rocketmq/x-only"}}, p)
	queuesOf := func(r *rocketmqv3.Route) string {
		qs, err := wellknown.ParseTopicQueues(r.GetRoute().GetMetadataMatch())
		if err != nil {
			t.Fatal(err)
		}
		if qs == nil {
			return "none"
		}
		var parts []string
		for _, b := range slices.Sorted(maps.Keys(qs)) {
			parts = append(parts, fmt.Sprintf("%s r%d w%d p%d", b, qs[b].ReadQueueNums, qs[b].WriteQueueNums, qs[b].Perm))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	got := map[string][]string{}
	for _, rc := range res.Resources.RouteConfigs {
		for _, r := range rc.GetRoutes() {
			got[rc.GetName()] = append(got[rc.GetName()], r.GetRoute().GetCluster()+" "+queuesOf(r))
		}
	}
	for _, l := range res.Resources.Listeners {
		proxy := &rocketmqv3.RocketmqProxy{}
		if err := l.GetFilterChains()[0].GetFilters()[0].GetTypedConfig().UnmarshalTo(proxy); err != nil {
			t.Fatal(err)
		}
		for _, r := range proxy.GetRouteConfig().GetRoutes() {
			got[l.GetName()] = append(got[l.GetName()], r.GetMatch().GetTopic().String()+" "+queuesOf(r))
		}
	}
	want := map[string][]string{
		"rocketmq/skewed": {"a/r8w8p6 [broker-a r8 w8 p6]", "all/h" + "* [broker-a r8 w8 p6, broker-b r2 w2 p6]"},
		"rocketmq/x-only": {"all/none []"},
		"envoy": {
			`exact:"skewed" [broker-a r8 w8 p6, broker-b r2 w2 p6]`,
			`exact:"x-only" []`,    // known, on none of the cluster's brokers
			`exact:"missing" none`, // not created yet: the endpoints' counts, until it is
			`exact:"unasked" none`,
			`prefix:"ord" none`,
		},
	}
	// The hashed shape name is not the point here.
	for i, r := range got["rocketmq/skewed"] {
		if strings.HasPrefix(r, "all/h") {
			_, rest, _ := strings.Cut(r, " ")
			got["rocketmq/skewed"][i] = "all/h* " + rest
		}
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("routes and their queue data (-got +want):\n%s", diff)
	}
	snap := snapshotFor(t, res.Resources, "envoy")
	for _, c := range []struct{ topic, want string }{
		{"skewed", "broker-a r8 w8 p6 [0=10.0.0.1:10911 1=10.0.0.2:10911]; broker-b r2 w2 p6 [0=10.0.0.3:10911]"},
		{"missing", "broker-a r2 w3 p6 [0=10.0.0.1:10911 1=10.0.0.2:10911]; broker-b r2 w3 p6 [0=10.0.0.3:10911]"},
	} {
		td, err := snap.TopicRoute(c.topic, routing.RouteDataOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.topic, err)
		} else if got := routeText(td); got != c.want {
			t.Errorf("%s through the envoy listener:\n got %s\nwant %s", c.topic, got, c.want)
		}
	}
}

// Equal inputs give equal resources whatever their order: the basis of
// replicas agreeing on versions.
func TestBuild_Deterministic(t *testing.T) {
	p := issuePolicy(t)
	req := []string{"rocketmq/orders", "rocketmq/skewed", "rocketmq/b-only", "rocketmq/x-only", "rocketmq/missing"}
	first := controlplane.Build(controlplane.Discovered{View: baseView(), Requested: req}, p).Resources
	for range 10 {
		r := slices.Clone(req)
		rand.Shuffle(len(r), func(i, j int) { r[i], r[j] = r[j], r[i] })
		again := controlplane.Build(controlplane.Discovered{View: baseView(), Requested: r}, p).Resources
		for i, pair := range [][2][]proto.Message{
			{msgs(first.Listeners), msgs(again.Listeners)}, {msgs(first.Clusters), msgs(again.Clusters)},
			{msgs(first.Endpoints), msgs(again.Endpoints)}, {msgs(first.RouteConfigs), msgs(again.RouteConfigs)},
		} {
			if len(pair[0]) != len(pair[1]) {
				t.Fatalf("type %d: %d resources, then %d", i, len(pair[0]), len(pair[1]))
			}
			for j := range pair[0] {
				h1, _ := resource.Hash(pair[0][j])
				h2, _ := resource.Hash(pair[1][j])
				if h1 != h2 {
					t.Fatalf("type %d resource %d: hash %s, then %s", i, j, h1, h2)
				}
			}
		}
	}
}

func msgs[M proto.Message](in []M) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}

func TestBuild_WarnsAboutUnknownBrokers(t *testing.T) {
	p := mustPolicy(t, `
listeners: [{name: l, routes: [{cluster: c}]}]
clusters:
  - name: c
    overrides:
      broker-q: {weight: 3}
`)
	res := controlplane.Build(controlplane.Discovered{View: baseView()}, p)
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, `test.yaml:6: clusters[0].overrides.broker-q: broker "broker-q" is not known to any nameserver`) {
		t.Errorf("warnings %q lack the unknown broker with file and line", w)
	}
	// Before any broker is known nothing can be said.
	if res := controlplane.Build(controlplane.Discovered{View: &discovery.View{}}, p); len(res.Warnings) != 0 {
		t.Errorf("warnings without a view: %v", res.Warnings)
	}
}

// A listener with nothing served has a valid empty shape: no brokers yet.
func TestBuild_NoView(t *testing.T) {
	res := controlplane.Build(controlplane.Discovered{Requested: []string{"rocketmq/orders"}}, issuePolicy(t))
	if len(res.Resources.Listeners) != 1 || len(res.Resources.Clusters) != 1 || len(res.Resources.RouteConfigs) != 0 {
		t.Errorf("resources without a view: %v %v %v", names(res.Resources.Listeners), names(res.Resources.Clusters), names(res.Resources.RouteConfigs))
	}
	if n := len(res.Resources.Endpoints[0].GetEndpoints()); n != 0 {
		t.Errorf("%d endpoint groups without a view", n)
	}
	_ = corev3.HealthStatus_HEALTHY
}
