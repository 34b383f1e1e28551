package xdsclient_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func benchClient(b *testing.B, cp *meshtest.ControlPlane, protocol string) *xdsclient.Client {
	b.Helper()
	cfg, err := bootstrap.Parse(cp.Bootstrap(meshtest.WithBootstrapProtocol(protocol)), "bench")
	if err != nil {
		b.Fatal(err)
	}
	c, err := xdsclient.New(cfg, xdsclient.WithBackoff(fastBackoff))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkClient_UpdateLatency measures control-plane Update → watcher
// callback latency over 1000 updates per run.
func BenchmarkClient_UpdateLatency(b *testing.B) {
	for _, protocol := range []string{"sotw", "delta"} {
		b.Run(protocol, func(b *testing.B) {
			cp := meshtest.RunControlPlane(b)
			ctx := context.Background()
			spec := baseSpec()
			c := benchClient(b, cp, protocol)
			defer c.Close()
			got := make(chan time.Time, 1)
			defer c.WatchEndpoints("brokers", xdsclient.WatcherFuncs[*xdsclient.EndpointsUpdate]{
				OnResourceChanged: func(*xdsclient.EndpointsUpdate) { got <- time.Now() },
			})()
			const updates = 1000
			var lat []time.Duration
			b.ResetTimer()
			for range b.N {
				for i := range updates {
					spec.Clusters[0].Endpoints[0].Address = fmt.Sprintf("127.0.0.1:%d", 20000+i%2)
					start := time.Now()
					if err := cp.Update(ctx, mustResources(b, spec)); err != nil {
						b.Fatal(err)
					}
					select {
					case t := <-got:
						lat = append(lat, t.Sub(start))
					case <-time.After(meshtest.DefaultTimeout):
						b.Fatal("timed out waiting for the update")
					}
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkClient_OnDemandMemory measures the heap held per subscribed
// on-demand topic (client and in-process server together).
func BenchmarkClient_OnDemandMemory(b *testing.B) {
	for _, topics := range []int{1000, 10000, 100000} {
		for _, protocol := range []string{"sotw", "delta"} {
			b.Run(fmt.Sprintf("%s/topics=%d", protocol, topics), func(b *testing.B) {
				for range b.N {
					benchOnDemandMemory(b, protocol, topics)
				}
			})
		}
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func benchOnDemandMemory(b *testing.B, protocol string, topics int) {
	b.StopTimer()
	cp, err := meshtest.NewControlPlane()
	if err != nil {
		b.Fatal(err)
	}
	defer cp.Close()
	ctx := context.Background()
	names := make([]string, topics)
	res := mustResources(b, onDemandSpec(0))
	for i := range topics {
		names[i] = wellknown.TopicRouteName("rmq-routes", fmt.Sprintf("topic-%d", i))
		res.RouteConfigs = append(res.RouteConfigs, meshtest.TopicRouteConfig(names[i],
			meshtest.RouteSpec{Topic: fmt.Sprintf("topic-%d", i), Cluster: "brokers"}))
	}
	if err := cp.Update(ctx, res); err != nil {
		b.Fatal(err)
	}
	res = meshtest.Resources{}
	before := heapInUse()
	b.StartTimer()
	c := benchClient(b, cp, protocol)
	defer c.Close()
	var n atomic.Int64
	done := make(chan struct{})
	cancels := make([]func(), 0, topics)
	w := xdsclient.WatcherFuncs[*xdsclient.RouteConfigUpdate]{OnResourceChanged: func(*xdsclient.RouteConfigUpdate) {
		if n.Add(1) == int64(topics) {
			close(done)
		}
	}}
	for _, name := range names {
		cancels = append(cancels, c.WatchRouteConfig(name, w))
	}
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("got %d of %d topics", n.Load(), topics)
	}
	b.StopTimer()
	after := heapInUse()
	b.ReportMetric(float64(int64(after)-int64(before))/float64(topics), "bytes/topic")
	if got := c.CacheSize(xdsclient.RouteConfigTypeURL); got != topics {
		b.Errorf("cache holds %d topics, want %d", got, topics)
	}
	for _, cancel := range cancels {
		cancel()
	}
	runtime.KeepAlive(names)
	_ = (*rocketmqv3.RouteConfiguration)(nil)
	b.StartTimer()
}
