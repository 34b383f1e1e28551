package xdsclient_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
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
// callback latency over 1000 updates per run. Goal: under a millisecond at
// p50 on loopback; the mesh's BenchmarkConvergence adds what it takes to
// rebuild and swap the route snapshot.
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
// on-demand topic, and BenchmarkClient_FullPushMemory the same for topics
// pushed in full (every route inline in the listener), at 1k, 10k and 100k
// topics: client-bytes/topic is what the xDS client's own code holds (see
// heldHeap), process-bytes/topic adds the in-process control plane's share.
//
// Goal: a client holds only the topics it uses, at most 4 KiB each on demand,
// so that one using 1k of 100k topics holds less on demand (1k topics) than
// pushed in full (100k topics at a few hundred bytes each). State of the world
// re-sends every subscribed name on each subscription change: subscribing
// topic after topic costs quadratic traffic, so its on-demand run stops at
// 10k topics (delta is what on-demand routes at scale want).
//
//	go test -run '^$' -bench 'Client_(OnDemand|FullPush)Memory' -benchtime 1x ./xdsclient/
func BenchmarkClient_OnDemandMemory(b *testing.B) {
	for _, topics := range []int{1000, 10000, 100000} {
		for _, protocol := range []string{"sotw", "delta"} {
			if protocol == "sotw" && topics > 10000 {
				continue // quadratic: see above
			}
			b.Run(fmt.Sprintf("%s/topics=%d", protocol, topics), func(b *testing.B) {
				for range b.N {
					benchOnDemandMemory(b, protocol, topics)
				}
			})
		}
	}
}

// heldHeap returns the live heap, and the part of it allocated by the xDS
// client's own code (allocations whose stack runs through package xdsclient
// or its subpackages): what the client holds, apart from the in-process
// control plane's share. It needs runtime.MemProfileRate at 1 from before the
// client's allocations (profileEveryAllocation).
func heldHeap() (total, client uint64) {
	// The profile is up to two collections old.
	for range 3 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n, _ := runtime.MemProfile(nil, false)
	var recs []runtime.MemProfileRecord
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, false); ok {
			recs = recs[:n]
			break
		}
	}
	const pkg = "github.com/rmqmesh/rmqmesh/xdsclient"
	for _, r := range recs {
		if r.InUseBytes() <= 0 {
			continue
		}
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			if strings.HasPrefix(f.Function, pkg+".") || strings.HasPrefix(f.Function, pkg+"/") {
				client += uint64(r.InUseBytes())
				break
			}
			if !more {
				break
			}
		}
	}
	return ms.HeapAlloc, client
}

// profileEveryAllocation records every allocation in the heap profile until
// the benchmark ends, so that heldHeap counts exactly.
func profileEveryAllocation(b *testing.B) {
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	b.Cleanup(func() { runtime.MemProfileRate = rate })
}

// reportHeld reports the heap held per topic since before.
func reportHeld(b *testing.B, before, beforeClient uint64, topics int) {
	after, client := heldHeap()
	b.ReportMetric(float64(int64(client)-int64(beforeClient))/float64(topics), "client-bytes/topic")
	b.ReportMetric(float64(int64(after)-int64(before))/float64(topics), "process-bytes/topic")
}

// memoryBenchControlPlane stops the timer, turns on profileEveryAllocation and
// starts a control plane for one run of a memory benchmark; the run closes it.
func memoryBenchControlPlane(b *testing.B) *meshtest.ControlPlane {
	b.StopTimer()
	profileEveryAllocation(b)
	cp, err := meshtest.NewControlPlane()
	if err != nil {
		b.Fatal(err)
	}
	return cp
}

func benchOnDemandMemory(b *testing.B, protocol string, topics int) {
	cp := memoryBenchControlPlane(b)
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
	before, beforeClient := heldHeap()
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
	reportHeld(b, before, beforeClient, topics)
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

// BenchmarkClient_FullPushMemory measures the heap held per topic when the
// listener carries every topic's route inline (the full push on-demand routes
// replace), at the sizes of BenchmarkClient_OnDemandMemory.
func BenchmarkClient_FullPushMemory(b *testing.B) {
	for _, topics := range []int{1000, 10000, 100000} {
		for _, protocol := range []string{"sotw", "delta"} {
			b.Run(fmt.Sprintf("%s/topics=%d", protocol, topics), func(b *testing.B) {
				for range b.N {
					benchFullPushMemory(b, protocol, topics)
				}
			})
		}
	}
}

func benchFullPushMemory(b *testing.B, protocol string, topics int) {
	cp := memoryBenchControlPlane(b)
	defer cp.Close()
	spec := onDemandSpec(topics)
	spec.OnDemand = false // every route inline in the listener
	if err := cp.Update(context.Background(), mustResources(b, spec)); err != nil {
		b.Fatal(err)
	}
	before, beforeClient := heldHeap()
	b.StartTimer()
	c := benchClient(b, cp, protocol)
	defer c.Close()
	got := make(chan int, 1)
	cancel := c.WatchListener(spec.Listener, xdsclient.WatcherFuncs[*xdsclient.ListenerUpdate]{OnResourceChanged: func(u *xdsclient.ListenerUpdate) {
		select {
		case got <- len(u.RouteConfig.GetRoutes()):
		default:
		}
	}})
	defer cancel()
	select {
	case n := <-got:
		if n != topics+1 { // and the fallback route
			b.Fatalf("listener carries %d routes, want %d", n, topics+1)
		}
	case <-time.After(5 * time.Minute):
		b.Fatalf("no listener with %d topics", topics)
	}
	b.StopTimer()
	reportHeld(b, before, beforeClient, topics)
	b.StartTimer()
}
