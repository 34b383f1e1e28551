package xdsclient_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

func onDemandSpec(topics int) meshtest.MeshSpec {
	s := meshtest.MeshSpec{
		Listener: "rmq-od", RouteConfigName: "rmq-routes", OnDemand: true,
		Routes:   []meshtest.RouteSpec{{TopicPrefix: "fallback-", Cluster: "brokers"}},
		Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: []meshtest.EndpointSpec{{Address: "127.0.0.1:10911", BrokerName: "broker-a"}}}},
	}
	for i := range topics {
		s.Routes = append(s.Routes, meshtest.RouteSpec{Topic: fmt.Sprintf("topic-%d", i), Cluster: "brokers"})
	}
	return s
}

func TestClient_OnDemandTopics(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.RunControlPlane(t)
		ctx := testCtx(t)
		if err := cp.Update(ctx, mustResources(t, onDemandSpec(5))); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)))
		lw := newRecorder[*xdsclient.ListenerUpdate]()
		defer c.WatchListener("rmq-od", lw)()
		lu := lw.waitUpdate(t, "listener", nil)
		if !lu.OnDemand || lu.RouteConfigName != "rmq-routes" || len(lu.RouteConfig.GetRoutes()) != 1 {
			t.Fatalf("listener update = OnDemand %v, name %q, %d inline routes", lu.OnDemand, lu.RouteConfigName, len(lu.RouteConfig.GetRoutes()))
		}

		n1, n2 := wellknown.TopicRouteName(lu.RouteConfigName, "topic-1"), wellknown.TopicRouteName(lu.RouteConfigName, "topic-3")
		w1, w2 := newRecorder[*xdsclient.RouteConfigUpdate](), newRecorder[*xdsclient.RouteConfigUpdate]()
		cancel1 := c.WatchRouteConfig(n1, w1)
		cancel2 := c.WatchRouteConfig(n2, w2)
		defer cancel2()
		if got := w1.waitUpdate(t, n1, nil); got.RouteConfig.GetRoutes()[0].GetMatch().GetTopic().GetExact() != "topic-1" {
			t.Errorf("route config %q = %v", n1, got.RouteConfig)
		}
		w2.waitUpdate(t, n2, nil)
		if got := c.CacheSize(xdsclient.RouteConfigTypeURL); got != 2 {
			t.Errorf("client holds %d route configs, want 2", got)
		}
		cp.WaitSubscribed(t, "both watched", xdsclient.RouteConfigTypeURL, []string{n1, n2})

		// Only watched topics are delivered: updating an unwatched topic does
		// not reach the client, a watched one does.
		if err := cp.SetTopicRoute(ctx, wellknown.TopicRouteName("rmq-routes", "topic-3"), meshtest.TopicRouteConfig(n2, meshtest.RouteSpec{Topic: "topic-3", Cluster: "other"})); err != nil {
			t.Fatal(err)
		}
		w2.waitUpdate(t, "updated topic-3", func(u *xdsclient.RouteConfigUpdate) bool {
			return u.RouteConfig.GetRoutes()[0].GetRoute().GetCluster() == "other"
		})
		for _, d := range c.Dump() {
			if d.TypeURL == xdsclient.RouteConfigTypeURL && d.Name != n1 && d.Name != n2 {
				t.Errorf("client holds unwatched %q", d.Name)
			}
		}

		cancel1()
		cancel1()
		if got := c.CacheSize(xdsclient.RouteConfigTypeURL); got != 1 {
			t.Errorf("after cancel, client holds %d route configs, want 1", got)
		}
		cp.WaitSubscribed(t, "after the first watch was cancelled", xdsclient.RouteConfigTypeURL, []string{n2})
	})
}

func TestClient_OnDemandDoesNotExist(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		cp := meshtest.RunControlPlane(t)
		ctx := testCtx(t)
		if err := cp.Update(ctx, mustResources(t, onDemandSpec(1))); err != nil {
			t.Fatal(err)
		}
		c := newClient(t, cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)), xdsclient.WithResourceTimeout(200*time.Millisecond))
		name := wellknown.TopicRouteName("rmq-routes", "missing")
		w := newRecorder[*xdsclient.RouteConfigUpdate]()
		defer c.WatchRouteConfig(name, w)()
		w.waitResourceError(t, xdsclient.KindResourceNotFound)

		// It appears later: the watcher gets it.
		if err := cp.SetTopicRoute(ctx, name, meshtest.TopicRouteConfig(name, meshtest.RouteSpec{Topic: "missing", Cluster: "brokers"})); err != nil {
			t.Fatal(err)
		}
		w.waitUpdate(t, "late topic", nil)
		// Deleted again: delta reports removal; SotW cannot for this type.
		if protocol == "delta" {
			if err := cp.DeleteTopicRoute(ctx, name); err != nil {
				t.Fatal(err)
			}
			w.waitResourceError(t, xdsclient.KindResourceNotFound)
		}
	})
}
