package routing

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

const (
	unhealthy = corev3.HealthStatus_UNHEALTHY
	draining  = corev3.HealthStatus_DRAINING
	timeout   = corev3.HealthStatus_TIMEOUT
	healthy   = corev3.HealthStatus_HEALTHY
)

// pickShares draws n deterministic picks and returns each broker's share.
func pickShares(t *testing.T, s *Snapshot, topic string, n int) map[string]float64 {
	t.Helper()
	counts := map[string]int{}
	for i := 0; i < n; i++ {
		b, err := s.PickWriteBroker(topic, splitmix64(uint64(i)))
		if err != nil {
			t.Fatalf("PickWriteBroker(%q) failed: %v", topic, err)
		}
		counts[b]++
	}
	shares := map[string]float64{}
	for b, c := range counts {
		shares[b] = float64(c) / float64(n)
	}
	return shares
}

func TestSnapshot_CanarySubsetForSends(t *testing.T) {
	in := oneCluster(t, loc{eps: []ep{
		{addr: "10.0.0.1", broker: "broker-a", lb: map[string]any{"version": "stable"}},
		{addr: "10.0.0.2", broker: "broker-b", lb: map[string]any{"version": "canary"}},
		{addr: "10.0.0.3", broker: "broker-b", id: 1, perm: remoting.PermRead, lb: map[string]any{"version": "canary"}},
	}})
	in.RouteConfig = rc("rc",
		rt(t, exact("orders"), "brokers", map[string]any{"version": "canary"}, codeIn("10|310|320")),
		rt(t, exact("orders"), "brokers", nil),
	)
	s := mustSnapshot(t, in)

	for _, code := range []int32{10, 310, 320} {
		r, err := s.Match("orders", code, nil)
		if err != nil {
			t.Fatalf("Match(code %d) failed: %v", code, err)
		}
		if diff := cmp.Diff(r.Subset(), map[string]any{"version": "canary"}); diff != "" {
			t.Errorf("Match(code %d).Subset() mismatch (-got +want):\n%s", code, diff)
		}
		if got := names(r.Brokers()); !cmp.Equal(got, []string{"broker-b"}) {
			t.Errorf("Match(code %d).Brokers() = %v, want [broker-b]", code, got)
		}
	}
	r, err := s.Match("orders", 11, nil)
	if err != nil {
		t.Fatalf("Match(code 11) failed: %v", err)
	}
	if r.Subset() != nil || !cmp.Equal(names(r.Brokers()), []string{"broker-a", "broker-b"}) {
		t.Errorf("Match(code 11) = subset %v brokers %v, want the whole cluster", r.Subset(), names(r.Brokers()))
	}
	if shares := pickShares(t, s, "orders", 1000); shares["broker-b"] != 1 {
		t.Errorf("PickWriteBroker shares = %v, want only broker-b", shares)
	}
	if got, err := s.ReadableBrokers("orders"); err != nil || !cmp.Equal(got, []string{"broker-a", "broker-b"}) {
		t.Errorf("ReadableBrokers() = %v, %v; want [broker-a broker-b]", got, err)
	}
	got, err := s.TopicRoute("orders", RouteDataOptions{})
	if err != nil {
		t.Fatalf("TopicRoute() failed: %v", err)
	}
	want := &remoting.TopicRouteData{
		QueueDatas: []remoting.QueueData{
			{BrokerName: "broker-a", ReadQueueNums: 8, WriteQueueNums: 8, Perm: remoting.PermRead},
			{BrokerName: "broker-b", ReadQueueNums: 8, WriteQueueNums: 8, Perm: remoting.PermRead | remoting.PermWrite},
		},
		BrokerDatas: []remoting.BrokerData{
			{Cluster: "DefaultCluster", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}},
			{Cluster: "DefaultCluster", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "10.0.0.2:10911", 1: "10.0.0.3:10911"}},
		},
		FilterServerTable: map[string][]string{},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("TopicRoute() mismatch (-got +want):\n%s", diff)
	}
}

func names(gs []BrokerGroup) []string {
	var ns []string
	for _, g := range gs {
		ns = append(ns, g.Name)
	}
	return ns
}

func TestSnapshot_PermissionsAndHealth(t *testing.T) {
	s := mustSnapshot(t, oneCluster(t, loc{eps: []ep{
		{addr: "10.0.0.1", broker: "ro", perm: remoting.PermRead, rq: 4, wq: 4},
		{addr: "10.0.0.2", broker: "wo", perm: remoting.PermWrite, rq: 2, wq: 2},
		{addr: "10.0.0.3", broker: "rw", health: healthy},
		{addr: "10.0.0.4", broker: "sick", health: unhealthy},
		{addr: "10.0.0.5", broker: "drain", health: draining},
		{addr: "10.0.0.6", broker: "late", health: timeout},
		{addr: "10.0.0.7", broker: "dflt", wq: 0, rq: 0, perm: remoting.PermRead | remoting.PermWrite | remoting.PermInherit},
		{addr: "10.0.0.8", broker: "rw", id: 1, health: unhealthy},
	}}))
	shares := pickShares(t, s, "orders", 10000)
	if diff := cmp.Diff(keys(shares), []string{"dflt", "rw", "wo"}); diff != "" {
		t.Errorf("writable brokers picked mismatch (-got +want):\n%s", diff)
	}
	if got, err := s.ReadableBrokers("orders"); err != nil || !cmp.Equal(got, []string{"dflt", "ro", "rw"}) {
		t.Errorf("ReadableBrokers() = %v, %v; want [dflt ro rw]", got, err)
	}
	got, err := s.TopicRoute("orders", RouteDataOptions{})
	if err != nil {
		t.Fatalf("TopicRoute() failed: %v", err)
	}
	var perms []string
	for _, q := range got.QueueDatas {
		perms = append(perms, fmt.Sprintf("%s:%d r%d w%d", q.BrokerName, q.Perm, q.ReadQueueNums, q.WriteQueueNums))
	}
	wantPerms := []string{"dflt:6 r8 w8", "ro:4 r4 w4", "rw:6 r8 w8", "wo:2 r2 w2"}
	if diff := cmp.Diff(perms, wantPerms); diff != "" {
		t.Errorf("TopicRoute() queue datas mismatch (-got +want):\n%s", diff)
	}
	for _, bd := range got.BrokerDatas {
		if bd.BrokerName == "rw" && len(bd.BrokerAddrs) != 1 {
			t.Errorf("TopicRoute() broker rw addrs = %v, want only the healthy master", bd.BrokerAddrs)
		}
	}
}

func keys(m map[string]float64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sortStrings(ks)
	return ks
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestSnapshot_Errors(t *testing.T) {
	brokerA := loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a"}}}
	tests := []struct {
		name     string
		in       func(t *testing.T) Input
		query    func(s *Snapshot) error
		wantKind Kind
		wantMsg  string
	}{
		{
			name: "no route names topic and listener",
			in: func(t *testing.T) Input {
				i := oneCluster(t, brokerA)
				i.RouteConfig = rc("rc", rt(t, exact("payments"), "brokers", nil))
				return i
			},
			query:    func(s *Snapshot) error { _, err := s.Match("orders", 10, nil); return err },
			wantKind: KindNoRoute,
			wantMsg:  `routing: topic "orders": no route in listener "rmq-prod" (code 10)`,
		},
		{
			name: "unknown cluster",
			in: func(t *testing.T) Input {
				i := oneCluster(t, brokerA)
				i.RouteConfig = rc("rc", rt(t, exact("orders"), "missing", nil))
				return i
			},
			query:    func(s *Snapshot) error { _, err := s.Match("orders", 10, nil); return err },
			wantKind: KindUnknownCluster,
			wantMsg:  `routing: topic "orders": route 0 in listener "rmq-prod" names unknown cluster "missing"`,
		},
		{
			name: "unknown cluster in a topic's own routes",
			in: func(t *testing.T) Input {
				i := oneCluster(t, brokerA)
				i.TopicRoutes = map[string]*rocketmqv3.RouteConfiguration{"orders": rc("orders-rc", rt(t, exact("orders"), "gone", nil))}
				return i
			},
			query:    func(s *Snapshot) error { _, err := s.ReadableBrokers("orders"); return err },
			wantKind: KindUnknownCluster,
			wantMsg:  `routing: topic "orders": route 0 in route config "orders-rc" of topic "orders" names unknown cluster "gone"`,
		},
		{
			name: "cluster without assignment",
			in: func(t *testing.T) Input {
				i := oneCluster(t, brokerA)
				i.Endpoints = nil
				return i
			},
			query:    func(s *Snapshot) error { _, err := s.Match("orders", 10, nil); return err },
			wantKind: KindNoEndpoint,
			wantMsg:  `routing: topic "orders": cluster "brokers" has no endpoints (route 0 in listener "rmq-prod")`,
		},
		{
			name: "subset without endpoints",
			in: func(t *testing.T) Input {
				i := oneCluster(t, brokerA)
				i.RouteConfig = rc("rc", rt(t, exact("orders"), "brokers", map[string]any{"version": "canary"}))
				return i
			},
			query:    func(s *Snapshot) error { _, err := s.PickWriteBroker("orders", 1); return err },
			wantKind: KindNoEndpoint,
			wantMsg:  `routing: topic "orders": cluster "brokers" subset {version="canary"}: no endpoint in subset (route 0 in listener "rmq-prod")`,
		},
		{
			name: "all endpoints unhealthy",
			in: func(t *testing.T) Input {
				return oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "a", health: unhealthy}}})
			},
			query:    func(s *Snapshot) error { _, err := s.TopicRoute("orders", RouteDataOptions{}); return err },
			wantKind: KindNoUsableBroker,
			wantMsg:  `routing: topic "orders": no writable or readable broker: writes: cluster "brokers": none of 1 endpoints is healthy or degraded (route 0 in listener "rmq-prod"); reads: cluster "brokers": none of 1 endpoints is healthy or degraded (route 0 in listener "rmq-prod")`,
		},
		{
			name: "all endpoints unhealthy on match",
			in: func(t *testing.T) Input {
				return oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "a", health: draining}}})
			},
			query:    func(s *Snapshot) error { _, err := s.Match("orders", 10, nil); return err },
			wantKind: KindNoHealthyEndpoint,
		},
		{
			name: "no writable broker",
			in: func(t *testing.T) Input {
				return oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "a", perm: remoting.PermRead}}})
			},
			query:    func(s *Snapshot) error { _, err := s.PickWriteBroker("orders", 7); return err },
			wantKind: KindNoWritableBroker,
			wantMsg:  `routing: topic "orders": cluster "brokers": no writable broker (route 0 in listener "rmq-prod")`,
		},
		{
			name: "no readable broker",
			in: func(t *testing.T) Input {
				return oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "a", perm: remoting.PermWrite}}})
			},
			query:    func(s *Snapshot) error { _, err := s.ReadableBrokers("orders"); return err },
			wantKind: KindNoReadableBroker,
		},
		{
			name: "malformed broker metadata",
			in: func(t *testing.T) Input {
				i := oneCluster(t, brokerA)
				i.Endpoints["brokers"].Endpoints[0].LbEndpoints[0].Metadata.FilterMetadata[wellknown.BrokerMetadataNamespace] = mustStruct(t, map[string]any{"broker_name": "a", "broker_id": "master"})
				return i
			},
			query:    func(s *Snapshot) error { _, err := s.Match("orders", 10, nil); return err },
			wantKind: KindInvalidCluster,
			wantMsg:  `routing: topic "orders": cluster "brokers": endpoints[0].lb_endpoints[0]: endpoint "10.0.0.1:10911": "broker_id" must be an integer in [0, 9223372036854775807], not "master" (route 0 in listener "rmq-prod")`,
		},
		{
			name: "bad data path knob",
			in: func(t *testing.T) Input {
				i := oneCluster(t, brokerA)
				i.Clusters["brokers"] = edsCluster(t, "brokers", "sidecar")
				return i
			},
			query:    func(s *Snapshot) error { _, err := s.Match("orders", 10, nil); return err },
			wantKind: KindInvalidCluster,
			wantMsg:  `routing: topic "orders": cluster "brokers": filter_metadata["rmqmesh"]["data_path"] must be "direct" or "intercept", not "sidecar" (route 0 in listener "rmq-prod")`,
		},
		{
			name: "brokers route leading to nameservers",
			in: func(t *testing.T) Input {
				return oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", port: 9876}}})
			},
			query:    func(s *Snapshot) error { _, err := s.PickWriteBroker("orders", 1); return err },
			wantKind: KindWrongClusterType,
			wantMsg:  `routing: topic "orders": cluster "brokers" holds nameservers, not brokers (route 0 in listener "rmq-prod")`,
		},
		{
			name:     "no route for sends nor pulls",
			in:       func(t *testing.T) Input { i := oneCluster(t, brokerA); i.RouteConfig = nil; return i },
			query:    func(s *Snapshot) error { _, err := s.TopicRoute("orders", RouteDataOptions{}); return err },
			wantKind: KindNoRoute,
			wantMsg:  `routing: topic "orders": no route for sends or pulls in listener "rmq-prod"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSnapshot(t, tc.in(t))
			err := tc.query(s)
			if KindOf(err) != tc.wantKind {
				t.Fatalf("got error %v (kind %v), want kind %v", err, KindOf(err), tc.wantKind)
			}
			if tc.wantMsg != "" && err.Error() != tc.wantMsg {
				t.Errorf("got error\n%s\nwant\n%s", err, tc.wantMsg)
			}
		})
	}

	t.Run("nil snapshot", func(t *testing.T) {
		var s *Snapshot
		if _, err := s.Match("orders", 10, nil); KindOf(err) != KindNoSnapshot {
			t.Errorf("Match() on nil snapshot = %v, want kind %v", err, KindNoSnapshot)
		}
		if _, err := s.TopicRoute("orders", RouteDataOptions{}); KindOf(err) != KindNoSnapshot {
			t.Errorf("TopicRoute() on nil snapshot = %v, want kind %v", err, KindNoSnapshot)
		}
	})
}

func TestSnapshot_WeightedPick(t *testing.T) {
	tests := []struct {
		name string
		locs []loc
	}{
		{"endpoint weights", []loc{{eps: []ep{{addr: "10.0.0.1", broker: "a", weight: 80}, {addr: "10.0.0.2", broker: "b", weight: 20}}}}},
		{"locality weights", []loc{
			{region: "r1", zone: "z1", weight: 4, eps: []ep{{addr: "10.0.0.1", broker: "a"}}},
			{region: "r1", zone: "z2", weight: 1, eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
		}},
		// A locality's weight is its share: endpoint weights only split it.
		{"both", []loc{
			{region: "r1", zone: "z1", weight: 4, eps: []ep{{addr: "10.0.0.1", broker: "a", weight: 1}}},
			{region: "r1", zone: "z2", weight: 1, eps: []ep{{addr: "10.0.0.2", broker: "b", weight: 50}}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSnapshot(t, oneCluster(t, tc.locs...))
			shares := pickShares(t, s, "orders", 100000)
			if a := shares["a"]; a < 0.78 || a > 0.82 {
				t.Errorf("share of a = %.4f, want 0.80 ± 0.02 (shares %v)", a, shares)
			}
			if b := shares["b"]; b < 0.18 || b > 0.22 {
				t.Errorf("share of b = %.4f, want 0.20 ± 0.02 (shares %v)", b, shares)
			}
		})
	}
}

func TestSnapshot_LocalityAndPriority(t *testing.T) {
	node := &corev3.Locality{Region: "r1", Zone: "z1"}
	tests := []struct {
		name string
		node *corev3.Locality
		locs []loc
		want []string // brokers that get picks
	}{
		{
			name: "own zone preferred",
			node: node,
			locs: []loc{
				{region: "r1", zone: "z1", eps: []ep{{addr: "10.0.0.1", broker: "a"}}},
				{region: "r1", zone: "z2", eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
			},
			want: []string{"a"},
		},
		{
			name: "other zones when own zone is unhealthy",
			node: node,
			locs: []loc{
				{region: "r1", zone: "z1", eps: []ep{{addr: "10.0.0.1", broker: "a", health: unhealthy}}},
				{region: "r1", zone: "z2", eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
				{region: "r2", zone: "z1", eps: []ep{{addr: "10.0.0.3", broker: "c"}}},
			},
			want: []string{"b", "c"},
		},
		{
			name: "other zones when own zone is read-only",
			node: node,
			locs: []loc{
				{region: "r1", zone: "z1", eps: []ep{{addr: "10.0.0.1", broker: "a", perm: remoting.PermRead}}},
				{region: "r1", zone: "z2", eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
			},
			want: []string{"b"},
		},
		{
			name: "no node locality: all",
			locs: []loc{
				{region: "r1", zone: "z1", eps: []ep{{addr: "10.0.0.1", broker: "a"}}},
				{region: "r1", zone: "z2", eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
			},
			want: []string{"a", "b"},
		},
		{
			name: "priority before locality",
			node: node,
			locs: []loc{
				{region: "r1", zone: "z1", priority: 1, eps: []ep{{addr: "10.0.0.1", broker: "a"}}},
				{region: "r1", zone: "z2", priority: 0, eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
			},
			want: []string{"b"},
		},
		{
			name: "priority fallback",
			node: node,
			locs: []loc{
				{region: "r1", zone: "z1", priority: 0, eps: []ep{{addr: "10.0.0.1", broker: "a", health: unhealthy}, {addr: "10.0.0.2", broker: "b", perm: remoting.PermRead}}},
				{region: "r1", zone: "z2", priority: 1, eps: []ep{{addr: "10.0.0.3", broker: "c"}}},
				{region: "r1", zone: "z3", priority: 2, eps: []ep{{addr: "10.0.0.4", broker: "d"}}},
			},
			want: []string{"c"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := oneCluster(t, tc.locs...)
			in.Locality = tc.node
			s := mustSnapshot(t, in)
			if diff := cmp.Diff(keys(pickShares(t, s, "orders", 1000)), tc.want); diff != "" {
				t.Errorf("picked brokers mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSnapshot_TopicRoutesOverrideInline(t *testing.T) {
	in := Input{
		RouteConfig: rc("inline", rt(t, prefix(""), "shared", nil)),
		TopicRoutes: map[string]*rocketmqv3.RouteConfiguration{
			"orders":   rc("orders", rt(t, exact("orders"), "dedicated", nil, codeIn("10"))),
			"payments": rc("payments", rt(t, exact("payments"), "dedicated", nil)),
		},
		Clusters: map[string]*clusterv3.Cluster{
			"shared":    edsCluster(t, "shared", ""),
			"dedicated": edsCluster(t, "dedicated", ""),
		},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{
			"shared":    cla(t, "shared", loc{eps: []ep{{addr: "10.0.0.1", broker: "shared-a"}}}),
			"dedicated": cla(t, "dedicated", loc{eps: []ep{{addr: "10.0.1.1", broker: "dedicated-a"}}}),
		},
	}
	s := mustSnapshot(t, in)
	tests := []struct {
		topic       string
		code        int32
		wantCluster string
		wantConfig  string
	}{
		{"orders", 10, "dedicated", "orders"},
		{"orders", 11, "shared", "inline"},
		{"payments", 10, "dedicated", "payments"},
		{"payments", 11, "dedicated", "payments"},
		{"other", 10, "shared", "inline"},
	}
	for _, tc := range tests {
		r, err := s.Match(tc.topic, tc.code, nil)
		if err != nil {
			t.Errorf("Match(%q, %d) failed: %v", tc.topic, tc.code, err)
			continue
		}
		if r.Cluster() != tc.wantCluster || r.Config() != tc.wantConfig {
			t.Errorf("Match(%q, %d) = cluster %q config %q, want %q %q", tc.topic, tc.code, r.Cluster(), r.Config(), tc.wantCluster, tc.wantConfig)
		}
	}
	td, err := s.TopicRoute("orders", RouteDataOptions{})
	if err != nil {
		t.Fatalf("TopicRoute() failed: %v", err)
	}
	var got []string
	for _, q := range td.QueueDatas {
		got = append(got, fmt.Sprintf("%s:%d", q.BrokerName, q.Perm))
	}
	if diff := cmp.Diff(got, []string{"dedicated-a:2", "shared-a:4"}); diff != "" {
		t.Errorf("TopicRoute() perms mismatch (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(s.Topics(), []string{"orders", "payments"}); diff != "" {
		t.Errorf("Topics() mismatch (-got +want):\n%s", diff)
	}
}

func TestSnapshot_Nameservers(t *testing.T) {
	upstream := &remoting.TopicRouteData{
		OrderTopicConf: "broker-a:4",
		QueueDatas: []remoting.QueueData{
			{BrokerName: "broker-d", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6},
			{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 7, TopicSysFlag: 1},
			{BrokerName: "broker-b", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6},
			{BrokerName: "broker-c", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 4},
		},
		BrokerDatas: []remoting.BrokerData{
			{Cluster: "c1", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "10.1.0.1:10911", 1: "10.1.0.2:10911"}},
			{Cluster: "c1", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "10.1.0.3:10911"}},
			{Cluster: "c2", BrokerName: "broker-c", BrokerAddrs: map[int64]string{0: "10.1.0.4:10911"}},
			{Cluster: "c2", BrokerName: "broker-d", BrokerAddrs: map[int64]string{1: "10.1.0.5:10911"}},
		},
	}
	nsCluster := func(t *testing.T, routes ...*rocketmqv3.Route) Input {
		return Input{
			RouteConfig: rc("rc", routes...),
			Clusters: map[string]*clusterv3.Cluster{
				"ns":      edsCluster(t, "ns", ""),
				"brokers": edsCluster(t, "brokers", "direct"),
			},
			Endpoints: map[string]*endpointv3.ClusterLoadAssignment{
				"ns": cla(t, "ns",
					loc{eps: []ep{{addr: "10.0.0.1", port: 9876}, {addr: "10.0.0.2", port: 9876, health: unhealthy}}},
					loc{priority: 1, eps: []ep{{addr: "10.0.0.3", port: 9876}}}),
				"brokers": cla(t, "brokers", loc{eps: []ep{{addr: "10.2.0.1", broker: "broker-b"}, {addr: "10.2.0.2", broker: "broker-c"}}}),
			},
			InterceptAvailable: true,
		}
	}
	virtual := RouteDataOptions{AddressOf: func(name string, id int64, real string) string {
		return fmt.Sprintf("127.0.0.1/%s/%d", name, id)
	}}
	tests := []struct {
		name    string
		routes  func(t *testing.T) []*rocketmqv3.Route
		want    []string // "name:perm addrs"
		wantErr Kind
	}{
		{
			name: "write subset by broker_name",
			routes: func(t *testing.T) []*rocketmqv3.Route {
				return []*rocketmqv3.Route{
					rt(t, prefix(""), "ns", map[string]any{"broker_name": "broker-a"}, codeIn("10|310|320")),
					rt(t, prefix(""), "ns", nil),
				}
			},
			want: []string{
				"broker-a:7 sys1 map[0:127.0.0.1/broker-a/0 1:127.0.0.1/broker-a/1]",
				"broker-b:4 sys0 map[0:127.0.0.1/broker-b/0]",
				"broker-c:4 sys0 map[0:127.0.0.1/broker-c/0]",
				"broker-d:4 sys0 map[1:127.0.0.1/broker-d/1]",
			},
		},
		{
			name: "read-only upstream broker stays read-only; no master means no writes",
			routes: func(t *testing.T) []*rocketmqv3.Route {
				return []*rocketmqv3.Route{rt(t, prefix(""), "ns", map[string]any{"cluster_name": "c2"})}
			},
			want: []string{
				"broker-c:4 sys0 map[0:127.0.0.1/broker-c/0]",
				"broker-d:4 sys0 map[1:127.0.0.1/broker-d/1]",
			},
		},
		{
			name: "keys the answer cannot carry match nothing",
			routes: func(t *testing.T) []*rocketmqv3.Route {
				return []*rocketmqv3.Route{
					rt(t, prefix(""), "ns", map[string]any{"version": "canary"}, codeIn("10")),
					rt(t, prefix(""), "ns", map[string]any{"broker_name": "broker-b"}, codeIn("105|11")),
				}
			},
			want: []string{"broker-b:4 sys0 map[0:127.0.0.1/broker-b/0]"},
		},
		{
			name: "write route to a direct broker cluster gates writes",
			routes: func(t *testing.T) []*rocketmqv3.Route {
				return []*rocketmqv3.Route{
					rt(t, prefix(""), "brokers", nil, codeIn("10")),
					rt(t, prefix(""), "ns", map[string]any{"broker_name": "broker-a"}),
				}
			},
			want: []string{
				"broker-a:5 sys1 map[0:127.0.0.1/broker-a/0 1:127.0.0.1/broker-a/1]",
				"broker-b:2 sys0 map[0:10.1.0.3:10911]",
			},
		},
		{
			name: "nothing usable",
			routes: func(t *testing.T) []*rocketmqv3.Route {
				return []*rocketmqv3.Route{rt(t, prefix(""), "ns", map[string]any{"broker_name": "broker-z"})}
			},
			wantErr: KindNoUsableBroker,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSnapshot(t, nsCluster(t, tc.routes(t)...))
			src, err := s.RouteSource("orders")
			if err != nil {
				t.Fatalf("RouteSource() failed: %v", err)
			}
			wantSrc := Source{Kind: SourceNameserver, Cluster: "ns", Nameservers: []string{"10.0.0.1:9876"}, DataPath: DataPathIntercept}
			if diff := cmp.Diff(src, wantSrc); diff != "" {
				t.Errorf("RouteSource() mismatch (-got +want):\n%s", diff)
			}
			before := fmt.Sprint(*upstream)
			td, err := s.RewriteRoute("orders", upstream, virtual)
			if fmt.Sprint(*upstream) != before {
				t.Errorf("RewriteRoute() modified upstream")
			}
			if tc.wantErr != KindUnknown {
				if KindOf(err) != tc.wantErr {
					t.Fatalf("RewriteRoute() = %v, want kind %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RewriteRoute() failed: %v", err)
			}
			var got []string
			for i, q := range td.QueueDatas {
				bd := td.BrokerDatas[i]
				if bd.BrokerName != q.BrokerName {
					t.Fatalf("QueueDatas and BrokerDatas out of step: %v", td)
				}
				got = append(got, fmt.Sprintf("%s:%d sys%d %v", q.BrokerName, q.Perm, q.TopicSysFlag, bd.BrokerAddrs))
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("RewriteRoute() mismatch (-got +want):\n%s", diff)
			}
			if td.OrderTopicConf != upstream.OrderTopicConf {
				t.Errorf("RewriteRoute().OrderTopicConf = %q, want %q", td.OrderTopicConf, upstream.OrderTopicConf)
			}
		})
	}

	t.Run("synthesize when code 105 routes to brokers", func(t *testing.T) {
		s := mustSnapshot(t, nsCluster(t, rt(t, prefix(""), "brokers", nil)))
		src, err := s.RouteSource("orders")
		if err != nil || src.Kind != SourceSynthesize {
			t.Errorf("RouteSource() = %+v, %v; want SourceSynthesize", src, err)
		}
	})
	t.Run("unknown nameserver cluster", func(t *testing.T) {
		s := mustSnapshot(t, nsCluster(t, rt(t, prefix(""), "nope", nil)))
		if _, err := s.RouteSource("orders"); KindOf(err) != KindUnknownCluster {
			t.Errorf("RouteSource() = %v, want kind %v", err, KindUnknownCluster)
		}
	})
}

func TestSnapshot_AddressOf(t *testing.T) {
	virtual := RouteDataOptions{AddressOf: func(name string, id int64, real string) string {
		return fmt.Sprintf("127.0.0.%d:%d", len(name), 20000+id)
	}}
	in := Input{
		RouteConfig: rc("rc",
			rt(t, exact("direct"), "direct", nil),
			rt(t, exact("intercept"), "intercept", nil),
			rt(t, exact("mixed"), "direct", nil, codeIn("10")),
			rt(t, exact("mixed"), "intercept", nil),
		),
		Clusters: map[string]*clusterv3.Cluster{
			"direct":    edsCluster(t, "direct", "direct"),
			"intercept": edsCluster(t, "intercept", "intercept"),
		},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{
			"direct":    cla(t, "direct", loc{eps: []ep{{addr: "10.0.0.1", broker: "a"}, {addr: "10.0.0.2", broker: "bb"}}}),
			"intercept": cla(t, "intercept", loc{eps: []ep{{addr: "10.0.0.1", broker: "a"}, {addr: "10.0.0.3", broker: "ccc"}, {addr: "::1", broker: "ccc", id: 1}}}),
		},
		InterceptAvailable: true,
	}
	s := mustSnapshot(t, in)
	tests := []struct {
		topic string
		opts  RouteDataOptions
		want  []string
	}{
		{"direct", virtual, []string{"a map[0:10.0.0.1:10911]", "bb map[0:10.0.0.2:10911]"}},
		{"intercept", virtual, []string{"a map[0:127.0.0.1:20000]", "ccc map[0:127.0.0.3:20000 1:127.0.0.3:20001]"}},
		{"intercept", RouteDataOptions{}, []string{"a map[0:10.0.0.1:10911]", "ccc map[0:10.0.0.3:10911 1:[::1]:10911]"}},
		{"mixed", virtual, []string{"a map[0:127.0.0.1:20000]", "bb map[0:10.0.0.2:10911]", "ccc map[0:127.0.0.3:20000 1:127.0.0.3:20001]"}},
	}
	for _, tc := range tests {
		td, err := s.TopicRoute(tc.topic, tc.opts)
		if err != nil {
			t.Fatalf("TopicRoute(%q) failed: %v", tc.topic, err)
		}
		var got []string
		for _, bd := range td.BrokerDatas {
			got = append(got, fmt.Sprintf("%s %v", bd.BrokerName, bd.BrokerAddrs))
		}
		if diff := cmp.Diff(got, tc.want); diff != "" {
			t.Errorf("TopicRoute(%q) addresses mismatch (-got +want):\n%s", tc.topic, diff)
		}
	}
	if r, _ := s.Match("direct", 10, nil); r.DataPath() != DataPathDirect {
		t.Errorf("Match(direct).DataPath() = %v, want direct", r.DataPath())
	}
	if r, _ := s.Match("intercept", 10, nil); r.DataPath() != DataPathIntercept {
		t.Errorf("Match(intercept).DataPath() = %v, want intercept", r.DataPath())
	}

	// Where the caller runs no relay, a cluster that asks for intercept is
	// served direct: real addresses, whatever AddressOf says.
	in.InterceptAvailable = false
	s = mustSnapshot(t, in)
	for _, topic := range []string{"intercept", "mixed"} {
		td, err := s.TopicRoute(topic, virtual)
		if err != nil {
			t.Fatalf("TopicRoute(%q) without relays failed: %v", topic, err)
		}
		for _, bd := range td.BrokerDatas {
			for id, a := range bd.BrokerAddrs {
				if strings.HasPrefix(a, "127.0.0.") {
					t.Errorf("TopicRoute(%q) without relays gave %s[%d] the virtual address %s", topic, bd.BrokerName, id, a)
				}
			}
		}
	}
	if r, _ := s.Match("intercept", 10, nil); r.DataPath() != DataPathDirect {
		t.Errorf("without relays, Match(intercept).DataPath() = %v, want direct", r.DataPath())
	}
}

func TestDataPath_RequestedAndInForce(t *testing.T) {
	for _, tc := range []struct {
		knob        string
		relays      bool
		requested   DataPath
		inForce     DataPath
		dumpInForce string
	}{
		{knob: "", relays: false, requested: DataPathUnset, inForce: DataPathDirect, dumpInForce: "direct"},
		{knob: "", relays: true, requested: DataPathUnset, inForce: DataPathIntercept, dumpInForce: "intercept"},
		{knob: "direct", relays: false, requested: DataPathDirect, inForce: DataPathDirect, dumpInForce: "direct"},
		{knob: "direct", relays: true, requested: DataPathDirect, inForce: DataPathDirect, dumpInForce: "direct"},
		{knob: "intercept", relays: false, requested: DataPathIntercept, inForce: DataPathDirect, dumpInForce: "direct"},
		{knob: "intercept", relays: true, requested: DataPathIntercept, inForce: DataPathIntercept, dumpInForce: "intercept"},
	} {
		in := Input{
			Listener:           "rmq-prod",
			RouteConfig:        rc("rc", rt(t, prefix(""), "brokers", nil)),
			Clusters:           map[string]*clusterv3.Cluster{"brokers": edsCluster(t, "brokers", tc.knob)},
			Endpoints:          map[string]*endpointv3.ClusterLoadAssignment{"brokers": cla(t, "brokers", loc{eps: []ep{{addr: "10.0.0.1", broker: "a"}}})},
			InterceptAvailable: tc.relays,
		}
		s := mustSnapshot(t, in)
		r, err := s.Match("orders", 10, nil)
		if err != nil {
			t.Fatalf("knob %q, relays %v: Match: %v", tc.knob, tc.relays, err)
		}
		if r.DataPath() != tc.inForce {
			t.Errorf("knob %q, relays %v: DataPath() = %v, want %v", tc.knob, tc.relays, r.DataPath(), tc.inForce)
		}
		b, err := json.Marshal(s.Dump())
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf(`"data_path":%q,"requested_data_path":%q`, tc.dumpInForce, tc.requested.String())
		if !strings.Contains(string(b), want) {
			t.Errorf("knob %q, relays %v: dump %s lacks %s", tc.knob, tc.relays, b, want)
		}
	}
	// A route to an unknown cluster reports the snapshot's default.
	for _, relays := range []bool{false, true} {
		s := mustSnapshot(t, Input{Listener: "l", RouteConfig: rc("rc", rt(t, prefix(""), "nope", nil)), InterceptAvailable: relays})
		r := s.route("orders", 10, nil)
		if want := dataPathInForce(DataPathUnset, relays); r == nil || r.DataPath() != want {
			t.Errorf("relays %v: unknown cluster DataPath() = %v, want %v", relays, r.DataPath(), want)
		}
	}
	if got := DataPathUnset.String(); got != "unset" {
		t.Errorf("DataPathUnset.String() = %q", got)
	}
}

func TestSnapshot_DeterministicOrder(t *testing.T) {
	var eps []ep
	for i := 20; i > 0; i-- {
		eps = append(eps, ep{addr: fmt.Sprintf("10.0.0.%d", i), broker: fmt.Sprintf("broker-%02d", i), weight: uint32(i)})
		eps = append(eps, ep{addr: fmt.Sprintf("10.0.1.%d", i), broker: fmt.Sprintf("broker-%02d", i), id: 1, perm: remoting.PermRead})
	}
	var first *remoting.TopicRouteData
	var firstReadable []string
	var firstPicks []string
	for run := 0; run < 5; run++ {
		s := mustSnapshot(t, oneCluster(t, loc{eps: eps}))
		td, err := s.TopicRoute("orders", RouteDataOptions{})
		if err != nil {
			t.Fatalf("TopicRoute() failed: %v", err)
		}
		readable, err := s.ReadableBrokers("orders")
		if err != nil {
			t.Fatalf("ReadableBrokers() failed: %v", err)
		}
		var picks []string
		for i := uint64(0); i < 50; i++ {
			b, _ := s.PickWriteBroker("orders", splitmix64(i))
			picks = append(picks, b)
		}
		if run == 0 {
			first, firstReadable, firstPicks = td, readable, picks
			for i := 1; i < len(td.BrokerDatas); i++ {
				if td.BrokerDatas[i-1].BrokerName >= td.BrokerDatas[i].BrokerName || td.QueueDatas[i-1].BrokerName >= td.QueueDatas[i].BrokerName {
					t.Fatalf("TopicRoute() brokers not sorted: %v", td)
				}
			}
			continue
		}
		if diff := cmp.Diff(td, first); diff != "" {
			t.Errorf("run %d: TopicRoute() differs (-got +want):\n%s", run, diff)
		}
		if diff := cmp.Diff(readable, firstReadable); diff != "" {
			t.Errorf("run %d: ReadableBrokers() differs (-got +want):\n%s", run, diff)
		}
		if diff := cmp.Diff(picks, firstPicks); diff != "" {
			t.Errorf("run %d: PickWriteBroker() differs (-got +want):\n%s", run, diff)
		}
	}
}

func TestSnapshot_TableSwap(t *testing.T) {
	var tbl Table
	if tbl.Load() != nil {
		t.Fatal("zero Table.Load() != nil")
	}
	snaps := make([]*Snapshot, 4)
	for i := range snaps {
		snaps[i] = mustSnapshot(t, oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: fmt.Sprintf("broker-%d", i)}}}))
	}
	tbl.Store(snaps[0])
	var wg sync.WaitGroup
	stop := make(chan struct{})
	errs := make(chan error, 8)
	for r := 0; r < 8; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := tbl.Load()
				b, err := s.PickWriteBroker("orders", i)
				if err == nil {
					var td *remoting.TopicRouteData
					td, err = s.TopicRoute("orders", RouteDataOptions{})
					if err == nil && td.BrokerDatas[0].BrokerName != b {
						err = fmt.Errorf("one snapshot gave %q and %q", b, td.BrokerDatas[0].BrokerName)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < 2000; i++ {
		tbl.Store(snaps[i%len(snaps)])
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestSnapshot_Dump(t *testing.T) {
	in := oneCluster(t, loc{region: "r1", zone: "z1", eps: []ep{{addr: "10.0.0.1", broker: "broker-a", lb: map[string]any{"version": "canary"}}}})
	in.RouteConfig = rc("rc",
		rt(t, exact("orders"), "brokers", map[string]any{"version": "canary"}, codeIn("10|310")),
		rt(t, prefix(""), "missing", nil),
	)
	in.Versions = map[string]string{"cds": "7"}
	s := mustSnapshot(t, in)
	b, err := json.Marshal(s.Dump())
	if err != nil {
		t.Fatalf("json.Marshal(Dump()) failed: %v", err)
	}
	var got struct {
		Listener    string
		Versions    map[string]string
		RouteConfig struct {
			Name   string
			Routes []struct {
				Topic, Cluster, Subset, Error string
				Headers                       []string
			}
		} `json:"route_config"`
		Clusters []struct {
			Name, Type        string
			DataPath          string `json:"data_path"`
			RequestedDataPath string `json:"requested_data_path"`
			Endpoints         []Endpoint
		}
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("json.Unmarshal(%s) failed: %v", b, err)
	}
	if got.Listener != "rmq-prod" || got.Versions["cds"] != "7" || got.RouteConfig.Name != "rc" || len(got.RouteConfig.Routes) != 2 {
		t.Fatalf("Dump() = %s, missing listener, versions or routes", b)
	}
	r0, r1 := got.RouteConfig.Routes[0], got.RouteConfig.Routes[1]
	if r0.Topic != `exact:"orders"` || r0.Subset != `{version="canary"}` || !cmp.Equal(r0.Headers, []string{`code safe_regex:"10|310"`}) {
		t.Errorf("Dump() route 0 = %+v", r0)
	}
	if r1.Topic != `prefix:""` || r1.Error != "unknown cluster" {
		t.Errorf("Dump() route 1 = %+v", r1)
	}
	// The cluster asks for no data path and no relay runs: direct is what
	// is in force, and the dump says both.
	if len(got.Clusters) != 1 || got.Clusters[0].Type != "brokers" || got.Clusters[0].DataPath != "direct" || got.Clusters[0].RequestedDataPath != "unset" ||
		len(got.Clusters[0].Endpoints) != 1 || got.Clusters[0].Endpoints[0].Locality.Zone != "z1" {
		t.Errorf("Dump() clusters = %+v", got.Clusters)
	}
	if !strings.Contains(string(b), `"address":"10.0.0.1:10911"`) || !strings.Contains(string(b), `"health_status":"UNKNOWN"`) {
		t.Errorf("Dump() = %s, want the endpoint address", b)
	}
}

func TestSnapshot_RouteView(t *testing.T) {
	in := oneCluster(t,
		loc{region: "r1", zone: "z1", weight: 3, priority: 1, eps: []ep{
			{addr: "10.0.0.1", broker: "broker-a", rq: 4, wq: 2, weight: 5, health: healthy},
			{addr: "10.0.0.2", broker: "broker-a", id: 1, perm: remoting.PermRead, health: unhealthy},
		}},
	)
	in.RouteConfig = rc("rc", rt(t, exact("orders"), "brokers", map[string]any{"broker_name": "broker-a"}, codeIn("10")))
	s := mustSnapshot(t, in)
	if s.Listener() != "rmq-prod" {
		t.Errorf("Listener() = %q, want rmq-prod", s.Listener())
	}
	r, err := s.Match("orders", 10, nil)
	if err != nil {
		t.Fatalf("Match() failed: %v", err)
	}
	g, ok := r.Broker("broker-a")
	if !ok {
		t.Fatalf("Broker(broker-a) not found")
	}
	want := []Endpoint{
		{Address: "10.0.0.1:10911", BrokerName: "broker-a", BrokerID: 0, ClusterName: "DefaultCluster", Perm: 6, ReadQueueNums: 4, WriteQueueNums: 2,
			Weight: 5, LocalityWeight: 3, Locality: Locality{Region: "r1", Zone: "z1"}, Priority: 1, Health: healthy, Healthy: true},
		{Address: "10.0.0.2:10911", BrokerName: "broker-a", BrokerID: 1, ClusterName: "DefaultCluster", Perm: 4, ReadQueueNums: 8, WriteQueueNums: 8,
			Weight: 1, LocalityWeight: 3, Locality: Locality{Region: "r1", Zone: "z1"}, Priority: 1, Health: unhealthy},
	}
	if diff := cmp.Diff(g.Members, want, cmp.AllowUnexported(Endpoint{}), cmp.FilterPath(func(p cmp.Path) bool {
		return p.Last().String() == ".lb"
	}, cmp.Ignore())); diff != "" {
		t.Errorf("Broker(broker-a).Members mismatch (-got +want):\n%s", diff)
	}
	if _, ok := r.Broker("broker-b"); ok {
		t.Errorf("Broker(broker-b) found, want not found")
	}
	if got := r.String(); got != `route 0 in listener "rmq-prod": topic exact:"orders", code safe_regex:"10" -> cluster "brokers" {broker_name="broker-a"}` {
		t.Errorf("String() = %s", got)
	}
	if b, err := r.PickWriteBroker(42); err != nil || b != "broker-a" {
		t.Errorf("PickWriteBroker() = %q, %v; want broker-a", b, err)
	}
	if got := r.ReadableBrokers(); !cmp.Equal(got, []string{"broker-a"}) {
		t.Errorf("ReadableBrokers() = %v, want [broker-a]", got)
	}
	if r.IsNameserver() || r.Nameservers() != nil {
		t.Errorf("IsNameserver() = true for a broker cluster")
	}

	ns := mustSnapshot(t, oneCluster(t, loc{eps: []ep{{addr: "10.0.0.9", port: 9876}}}))
	nr, err := ns.Match("orders", 105, nil)
	if err != nil {
		t.Fatalf("Match() failed: %v", err)
	}
	if !nr.IsNameserver() || len(nr.Nameservers()) != 1 || nr.Nameservers()[0].Address != "10.0.0.9:9876" {
		t.Errorf("nameserver route = %v, want one nameserver at 10.0.0.9:9876", nr.Nameservers())
	}
	if _, err := nr.PickWriteBroker(1); KindOf(err) != KindWrongClusterType {
		t.Errorf("PickWriteBroker() on nameservers = %v, want kind %v", err, KindWrongClusterType)
	}
	if _, err := ns.TopicRoute("orders", RouteDataOptions{}); KindOf(err) != KindNoUsableBroker {
		t.Errorf("TopicRoute() on nameservers = %v, want kind %v", err, KindNoUsableBroker)
	}
}

// Issue 16 item 1: the official client cannot speak TLS, so a cluster with a
// transport_socket is routed only through the relay; without one, its routes
// fail with a reason naming TLS instead of handing out real addresses.
func TestSnapshot_TLSClusterNeedsTheRelay(t *testing.T) {
	withTLS := edsCluster(t, "brokers", "")
	withTLS.TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls"}
	for _, relays := range []bool{false, true} {
		s := mustSnapshot(t, Input{
			Listener:           "rmq-prod",
			RouteConfig:        rc("rc", rt(t, prefix(""), "brokers", nil)),
			Clusters:           map[string]*clusterv3.Cluster{"brokers": withTLS},
			Endpoints:          map[string]*endpointv3.ClusterLoadAssignment{"brokers": cla(t, "brokers", loc{eps: []ep{{addr: "10.0.0.1", broker: "a"}}})},
			InterceptAvailable: relays,
		})
		_, err := s.TopicRoute("orders", RouteDataOptions{})
		switch {
		case relays && err != nil:
			t.Errorf("with relays: TopicRoute() = %v, want a route", err)
		case !relays && (err == nil || !strings.Contains(err.Error(), "only the intercept data path provides")):
			t.Errorf("without relays: TopicRoute() error = %v, want an invalid cluster naming TLS", err)
		}
	}
}

// Issue 16: Input.TLSRequired refuses a cluster without a transport_socket.
func TestSnapshot_TLSRequired(t *testing.T) {
	plain := edsCluster(t, "brokers", "")
	withTLS := edsCluster(t, "secure", "")
	withTLS.TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls"}
	s := mustSnapshot(t, Input{
		Listener:    "rmq-prod",
		RouteConfig: rc("rc", rt(t, exact("plain"), "brokers", nil), rt(t, exact("secure"), "secure", nil)),
		Clusters:    map[string]*clusterv3.Cluster{"brokers": plain, "secure": withTLS},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{
			"brokers": cla(t, "brokers", loc{eps: []ep{{addr: "10.0.0.1", broker: "a"}}}),
			"secure":  cla(t, "secure", loc{eps: []ep{{addr: "10.0.0.2", broker: "b"}}}),
		},
		InterceptAvailable: true,
		TLSRequired:        true,
	})
	if _, err := s.TopicRoute("plain", RouteDataOptions{}); err == nil || !strings.Contains(err.Error(), "requires TLS to every cluster") {
		t.Errorf("plaintext cluster: TopicRoute() = %v, want it refused", err)
	}
	if _, err := s.TopicRoute("secure", RouteDataOptions{}); err != nil {
		t.Errorf("TLS cluster: TopicRoute() = %v", err)
	}
}
