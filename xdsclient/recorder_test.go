package xdsclient_test

import (
	"sync"
	"testing"
	"time"

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

// waitFor polls the counts of clusters until ok holds.
func (u *updateCounts) waitFor(t *testing.T, what string, ok func(accepted, nacked int) bool) {
	t.Helper()
	deadline := time.Now().Add(meshtest.DefaultTimeout)
	for {
		a, n := u.get("cluster")
		if ok(a, n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: accepted %d, nacked %d", what, a, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestClient_UpdateRecorderCountsAcceptedAndNACKed(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.RunControlPlane(t)
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
		// Watchers may hear of a response before the recorder does.
		counts.waitFor(t, "the valid cluster counted", func(a, n int) bool { return a >= 1 && n == 0 })

		bad := &clusterv3.Cluster{Name: "brokers", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}
		if err := cp.ServeInvalid(ctx, bad); err != nil {
			t.Fatal(err)
		}
		cw.waitAmbientError(t, xdsclient.KindNACKed)
		// The control plane answers each NACK with the same invalid version
		// again, so it may be NACKed more than once.
		counts.waitFor(t, "the invalid cluster counted", func(_, n int) bool { return n >= 1 })
	})
}
