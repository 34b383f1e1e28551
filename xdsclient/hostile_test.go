package xdsclient_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/rmqmesh/rmqmesh/internal/testutil"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// Issue 16 item 6: a control plane that sends one resource twice in one
// response, with different contents, is NACKed with a detail saying so, and
// the version the client had stays in force.
func TestClient_ContradictoryResponseNACKed(t *testing.T) {
	ctx := testCtx(t)
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			fn := newFakeNet()
			c := newClient(t, fakeBootstrap("s"), xdsclient.WithTransport(fn), xdsclient.WithResourceTimeout(time.Hour), xdsclient.WithProtocol(bootstrap.Protocol(protocol)))
			w := newRecorder[*xdsclient.ClusterUpdate]()
			defer c.WatchCluster("a", w)()
			st := fn.server("s").nextStream(t, ctx)
			slow := edsCluster("a")
			slow.ConnectTimeout = durationpb.New(7 * time.Second)
			fast := edsCluster("a")
			fast.ConnectTimeout = durationpb.New(time.Second)
			var detail string
			if protocol == "sotw" {
				st.sotwRequest(t, ctx)
				st.send(t, sotwClusters(t, "1", "n1", "a"))
				w.waitUpdate(t, "cluster a", nil)
				st.sotwRequest(t, ctx)
				st.send(t, &discoveryv3.DiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, VersionInfo: "2", Nonce: "n2",
					Resources: []*anypb.Any{testutil.MustAny(t, slow), testutil.MustAny(t, fast)}})
				nack := st.sotwRequest(t, ctx)
				if nack.GetVersionInfo() != "1" {
					t.Errorf("NACK version %q, want the last good 1", nack.GetVersionInfo())
				}
				detail = nack.GetErrorDetail().GetMessage()
			} else {
				st.deltaRequest(t, ctx)
				st.send(t, &discoveryv3.DeltaDiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, Nonce: "n1", SystemVersionInfo: "1",
					Resources: []*discoveryv3.Resource{{Name: "a", Version: "1", Resource: testutil.MustAny(t, edsCluster("a"))}}})
				w.waitUpdate(t, "cluster a", nil)
				st.deltaRequest(t, ctx)
				st.send(t, &discoveryv3.DeltaDiscoveryResponse{TypeUrl: xdsclient.ClusterTypeURL, Nonce: "n2", SystemVersionInfo: "2",
					Resources: []*discoveryv3.Resource{{Name: "a", Version: "2", Resource: testutil.MustAny(t, slow)}, {Name: "a", Version: "3", Resource: testutil.MustAny(t, fast)}}})
				detail = st.deltaRequest(t, ctx).GetErrorDetail().GetMessage()
			}
			if !strings.Contains(detail, `the response carries 2 resources named "a"`) {
				t.Errorf("NACK detail %q does not name the contradiction", detail)
			}
			w.waitAmbientError(t, xdsclient.KindNACKed)
			barrier := newRecorder[*xdsclient.ClusterUpdate]()
			defer c.WatchCluster("a", barrier)()
			if got := barrier.waitUpdate(t, "cached cluster a", nil); got.ConnectTimeout != xdsclient.DefaultConnectTimeout {
				t.Errorf("cluster in force has connect_timeout %v, want the first version's default", got.ConnectTimeout)
			}
		})
	}
}

// Issue 16 item 6: a response larger than the client's limit does not make
// it buffer the response: the stream fails with an error naming the limit,
// the watchers hear of it, and the resources they have stay in force.
func TestClient_HugeResponseRefused(t *testing.T) {
	ctx := testCtx(t)
	cp := meshtest.RunControlPlane(t)
	spec := baseSpec()
	if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 10
	c := newClient(t, cp.Bootstrap(), xdsclient.WithDialOptions(grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(limit))))
	w := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster(spec.Clusters[0].Name, w)()
	w.waitUpdate(t, "cluster within the limit", nil)

	// One cluster made huge: its name alone is past the limit.
	res := mustResources(t, spec)
	big := res.Clusters[0]
	big.EdsClusterConfig.ServiceName = strings.Repeat("x", 2*limit)
	res.Clusters = []*clusterv3.Cluster{big}
	if err := cp.Update(ctx, res); err != nil {
		t.Fatal(err)
	}
	err := w.waitAmbientError(t, xdsclient.KindConnection)
	if !strings.Contains(err.Error(), "larger than max") && !strings.Contains(err.Error(), fmt.Sprint(limit)) {
		t.Errorf("ambient error %q does not name the size limit", err)
	}
	barrier := newRecorder[*xdsclient.ClusterUpdate]()
	defer c.WatchCluster(spec.Clusters[0].Name, barrier)()
	if got := barrier.waitUpdate(t, "cached cluster", nil); got.EDSServiceName == big.EdsClusterConfig.ServiceName {
		t.Error("the huge cluster is in force")
	}
}
