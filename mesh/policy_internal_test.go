package mesh

import (
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// A cluster's outlier_detection, circuit_breakers, connect_timeout and
// send_failover reach the relay with Envoy's defaults where they are silent.
func TestClusterPolicy_EnvoyDefaults(t *testing.T) {
	cla := &endpointv3.ClusterLoadAssignment{Endpoints: []*endpointv3.LocalityLbEndpoints{
		{LbEndpoints: make([]*endpointv3.LbEndpoint, 3)}, {LbEndpoints: make([]*endpointv3.LbEndpoint, 2)},
	}}
	f := wellknown.DefaultSendFailover()
	f.MaxAttempts, f.MoveKeyedSends = 2, true
	u := &xdsclient.ClusterUpdate{
		Name: "c", ConnectTimeout: 3 * time.Second, SendFailover: f,
		OutlierDetection: &clusterv3.OutlierDetection{Consecutive_5Xx: wrapperspb.UInt32(7), BaseEjectionTime: durationpb.New(time.Second), SplitExternalLocalOriginErrors: true},
		CircuitBreakers: &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{
			{Priority: corev3.RoutingPriority_HIGH, MaxRequests: wrapperspb.UInt32(1)},
			{MaxRequests: wrapperspb.UInt32(100), MaxRetries: wrapperspb.UInt32(5)},
		}},
	}
	got := clusterPolicy(u, cla)
	want := &transport.ClusterPolicy{
		Name: "c", ConnectTimeout: 3 * time.Second, Hosts: 5,
		Failover: transport.Failover{MaxAttempts: 2, PerTryTimeout: wellknown.DefaultFailoverPerTryTimeout, Timeout: wellknown.DefaultFailoverTimeout, MoveKeyedSends: true},
		Outlier: &transport.OutlierDetection{
			Interval: 10 * time.Second, BaseEjectionTime: time.Second, MaxEjectionTime: 300 * time.Second, MaxEjectionPercent: 10,
			Consecutive5xx: 7, EnforcingConsecutive5xx: 100, ConsecutiveGatewayFailure: 5, EnforcingConsecutiveGatewayFailure: 0,
			SplitExternalLocalOriginErrors: true, ConsecutiveLocalOriginFailure: 5, EnforcingConsecutiveLocalOriginFailure: 100,
		},
		Limits: transport.Limits{MaxRequests: 100, MaxRetries: 5},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("clusterPolicy (-got +want):\n%s", diff)
	}
	u = &xdsclient.ClusterUpdate{Name: "d", SendFailover: wellknown.SendFailover{Enabled: false, MaxAttempts: 3}}
	if p := clusterPolicy(u, nil); p.Outlier != nil || p.Limits != (transport.Limits{}) || !p.Failover.Disabled {
		t.Errorf("a cluster without outlier detection, limits or failover: %+v", p)
	}
}
