package routing

import (
	"maps"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// A broker whose master is unhealthy stays consumable through a relay:
// KeepMaster lists the master's virtual address, read-only, for the official
// client's offset requests; without it, or on the direct path, only the
// replica is listed.
func TestSnapshot_KeepMasterForAnUnhealthyMaster(t *testing.T) {
	in := func(dataPath string) Input {
		return Input{
			RouteConfig: rc("rc", rt(t, prefix(""), "c", nil)),
			Clusters:    map[string]*clusterv3.Cluster{"c": edsCluster(t, "c", dataPath)},
			Endpoints: map[string]*endpointv3.ClusterLoadAssignment{"c": cla(t, "c", loc{eps: []ep{
				{addr: "10.0.0.1", broker: "broker-a", perm: 6, health: corev3.HealthStatus_UNHEALTHY},
				{addr: "10.0.0.2", broker: "broker-a", id: 1, perm: 4},
				{addr: "10.0.0.3", broker: "broker-b", perm: 6},
			}})},
			InterceptAvailable: true,
		}
	}
	virtual := func(name string, id int64, real string) string {
		return "virtual/" + name + "/" + string(rune('0'+id)) + "(" + real + ")"
	}
	for _, tc := range []struct {
		name     string
		dataPath string
		opts     RouteDataOptions
		want     map[int64]string
	}{
		{"intercept, kept", "", RouteDataOptions{AddressOf: virtual, KeepMaster: true}, map[int64]string{0: "virtual/broker-a/0(10.0.0.1:10911)", 1: "virtual/broker-a/1(10.0.0.2:10911)"}},
		{"intercept, not asked", "", RouteDataOptions{AddressOf: virtual}, map[int64]string{1: "virtual/broker-a/1(10.0.0.2:10911)"}},
		{"direct", "direct", RouteDataOptions{AddressOf: virtual, KeepMaster: true}, map[int64]string{1: "10.0.0.2:10911"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustSnapshot(t, in(tc.dataPath))
			td, err := s.TopicRoute("orders", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, bd := range td.BrokerDatas {
				if bd.BrokerName == "broker-a" && !maps.Equal(bd.BrokerAddrs, tc.want) {
					t.Errorf("broker-a addresses %v, want %v", bd.BrokerAddrs, tc.want)
				}
			}
			for _, qd := range td.QueueDatas {
				if qd.BrokerName == "broker-a" && qd.Perm != remoting.PermRead {
					t.Errorf("broker-a perm %d, want read-only", qd.Perm)
				}
			}
			gt, err := s.GroupTopicRoute("%RETRY%g", tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, bd := range gt.BrokerDatas {
				if bd.BrokerName == "broker-a" && !maps.Equal(bd.BrokerAddrs, tc.want) {
					t.Errorf("retry topic: broker-a addresses %v, want %v", bd.BrokerAddrs, tc.want)
				}
			}
		})
	}
}

func TestSnapshot_BrokerClusters(t *testing.T) {
	s := mustSnapshot(t, Input{
		RouteConfig: rc("rc", rt(t, exact("orders"), "c1", nil), rt(t, exact("payments"), "c2", nil), rt(t, exact("more"), "c1", nil)),
		Clusters:    map[string]*clusterv3.Cluster{"c1": edsCluster(t, "c1", ""), "c2": edsCluster(t, "c2", "")},
		Endpoints: map[string]*endpointv3.ClusterLoadAssignment{
			"c1": cla(t, "c1", loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a", perm: 6}}}),
			"c2": cla(t, "c2", loc{eps: []ep{{addr: "10.0.0.2", broker: "broker-b", perm: 6}, {addr: "10.0.0.1", broker: "broker-a", perm: 6}}}),
		},
	})
	if got, want := s.BrokerClusters(), map[string]string{"broker-a": "c1", "broker-b": "c2"}; !maps.Equal(got, want) {
		t.Errorf("BrokerClusters() = %v, want %v (the first route's cluster)", got, want)
	}
	var nilSnap *Snapshot
	if len(nilSnap.BrokerClusters()) != 0 {
		t.Error("nil snapshot has broker clusters")
	}
}
