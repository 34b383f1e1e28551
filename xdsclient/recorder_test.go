package xdsclient_test

import (
	"sync"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// updateCounts gathers what an update recorder is told, per resource type.
type updateCounts struct {
	mu               sync.Mutex
	accepted, nacked map[string]int
}

func (u *updateCounts) record(typ string, accepted, nacked int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.accepted[typ] += accepted
	u.nacked[typ] += nacked
}

func (u *updateCounts) get(typ string) (accepted, nacked int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.accepted[typ], u.nacked[typ]
}

func TestClient_UpdateRecorderCountsAcceptedAndNACKed(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.StartControlPlane(t)
		ctx := testCtx(t)
		spec := baseSpec()
		if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
			t.Fatal(err)
		}
		counts := &updateCounts{accepted: map[string]int{}, nacked: map[string]int{}}
		c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)), xdsclient.WithUpdateRecorder(counts.record))
		cw := newRecorder[*xdsclient.ClusterUpdate]()
		defer c.WatchCluster("brokers", cw)()
		cw.waitUpdate(t, "cluster", nil)
		if a, n := counts.get("cluster"); a < 1 || n != 0 {
			t.Errorf("after a valid cluster: accepted %d, nacked %d; want ≥1 and 0", a, n)
		}

		bad := &clusterv3.Cluster{Name: "brokers", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}
		if err := cp.ServeInvalid(ctx, bad); err != nil {
			t.Fatal(err)
		}
		cw.waitAmbientError(t, xdsclient.KindNACKed)
		if _, n := counts.get("cluster"); n != 1 {
			t.Errorf("after an invalid cluster: nacked %d, want 1", n)
		}
	})
}
