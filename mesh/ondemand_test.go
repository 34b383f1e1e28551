package mesh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

const onDemandRCName = listenerName + "-routes"

// onDemandSpec serves orders and payments as per-topic route configurations, plus
// unused ones nobody asks for, and keeps the audit prefix inline as the fallback.
func onDemandSpec(c *meshtest.Cluster) meshtest.MeshSpec {
	return meshtest.MeshSpec{
		Listener: listenerName,
		OnDemand: true,
		Routes: []meshtest.RouteSpec{
			{Topic: "orders", Cluster: "cluster-a"},
			{Topic: "payments", Cluster: "cluster-b"},
			{Topic: "unused-1", Cluster: "cluster-a"},
			{Topic: "unused-2", Cluster: "cluster-b"},
			{TopicPrefix: "audit", Cluster: "cluster-b"}, // inline
		},
		Clusters: []meshtest.ClusterSpec{
			{Name: "cluster-a", DataPath: "direct", Endpoints: endpointsOf(c, "broker-a")},
			{Name: "cluster-b", DataPath: "direct", Endpoints: endpointsOf(c, "broker-b")},
		},
	}
}

func topicRouteNames(topics ...string) []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = wellknown.TopicRouteName(onDemandRCName, t)
	}
	slices.Sort(out)
	return out
}

// dumpOf decodes the parts of a config dump the tests look at.
type dumpOf struct {
	Listener       string   `json:"listener"`
	OnDemandTopics []string `json:"onDemandTopics"`
	Resources      []struct {
		TypeURL, Name, Version string
	} `json:"resources"`
	RouteTable struct {
		Listener    string            `json:"listener"`
		Versions    map[string]string `json:"versions"`
		RouteConfig struct {
			Name   string `json:"name"`
			Routes []struct {
				Topic, Cluster string
			} `json:"routes"`
		} `json:"route_config"`
		TopicRoutes map[string]json.RawMessage `json:"topic_routes"`
		Clusters    []struct {
			Name, Type string
		} `json:"clusters"`
	} `json:"routeTable"`
}

func configDump(t testing.TB, m *mesh.Mesh) dumpOf {
	t.Helper()
	b, err := m.ConfigDump()
	if err != nil {
		t.Fatalf("ConfigDump: %v", err)
	}
	var d dumpOf
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("config dump is not valid JSON: %v\n%s", err, b)
	}
	return d
}

func TestMesh_OnDemandRoutesPerTopic(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			h := newHarness(t, harnessConfig{
				brokers: []string{"broker-a", "broker-b"},
				topics:  []string{"orders", "payments", "audit-log"},
				spec:    onDemandSpec,
				bootstrap: []meshtest.BootstrapOption{
					meshtest.WithBootstrapProtocol(protocol),
					// audit-log has no resource of its own: settle its does-not-exist quickly.
					meshtest.WithBootstrapResourceTimeout(time.Second),
				},
			})
			if d := configDump(t, h.mesh); len(d.OnDemandTopics) != 0 {
				t.Errorf("before any client, the mesh holds topics %q", d.OnDemandTopics)
			}
			if got := h.cp.Subscribed(xdsclient.RouteConfigTypeURL); len(got) != 0 {
				t.Errorf("before any client, the mesh subscribes to %q", got)
			}

			p := h.producer()
			if got := h.sendN(p, "orders", 10); got["broker-a"] != 10 {
				t.Errorf("orders went to %v, want all 10 on broker-a (its own route config)", got)
			}
			if got := h.sendN(p, "payments", 10); got["broker-b"] != 10 {
				t.Errorf("payments went to %v, want all 10 on broker-b (its own route config)", got)
			}
			if got := h.sendN(p, "audit-log", 10); got["broker-b"] != 10 {
				t.Errorf("audit-log went to %v, want all 10 on broker-b (the listener's inline fallback)", got)
			}

			used := []string{"audit-log", "orders", "payments"}
			h.cp.WaitSubscribed(t, "after sending", xdsclient.RouteConfigTypeURL, topicRouteNames(used...))
			d := configDump(t, h.mesh)
			if !slices.Equal(d.OnDemandTopics, used) {
				t.Errorf("config dump onDemandTopics = %q, want %q", d.OnDemandTopics, used)
			}
			var held []string
			for _, r := range d.Resources {
				if r.TypeURL == xdsclient.RouteConfigTypeURL {
					held = append(held, r.Name)
				}
			}
			if want := topicRouteNames(used...); !slices.Equal(held, want) {
				t.Errorf("xDS client holds route configs %q, want %q (never the unused ones)", held, want)
			}
			if _, ok := d.RouteTable.TopicRoutes["orders"]; !ok {
				t.Errorf("route table has no per-topic routes for orders: %v", d.RouteTable.TopicRoutes)
			}
			if _, ok := d.RouteTable.TopicRoutes["audit-log"]; ok {
				t.Errorf("route table has per-topic routes for audit-log, which has no resource")
			}

			// A per-topic change reaches the topic without touching the others.
			ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
			defer cancel()
			name := wellknown.TopicRouteName(onDemandRCName, "orders")
			if err := h.cp.SetTopicRoute(ctx, name, meshtest.TopicRouteConfig(name, meshtest.RouteSpec{Topic: "orders", Cluster: "cluster-b"})); err != nil {
				t.Fatal(err)
			}
			meshtest.WaitFor(t, "orders rerouted to cluster-b", func() bool {
				r, err := h.mesh.TopicRoute(ctx, "orders")
				return err == nil && len(r.BrokerDatas) == 1 && r.BrokerDatas[0].BrokerName == "broker-b"
			})
			if r, err := h.mesh.TopicRoute(ctx, "payments"); err != nil || r.BrokerDatas[0].BrokerName != "broker-b" {
				t.Errorf("payments after the orders change: %v, %v", r, err)
			}
		})
	}
}

func TestMesh_OnDemandIdleTopicIsReleased(t *testing.T) {
	h := newHarness(t, harnessConfig{
		brokers:   []string{"broker-a", "broker-b"},
		topics:    []string{"orders", "payments"},
		spec:      onDemandSpec,
		meshOpts:  []mesh.Option{mesh.WithTopicIdleTimeout(300 * time.Millisecond)},
		bootstrap: []meshtest.BootstrapOption{meshtest.WithBootstrapProtocol("delta")},
	})
	p, err := h.mesh.NewProducer()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if got := h.sendN(p, "orders", 3); got["broker-a"] != 3 {
		t.Errorf("orders went to %v, want broker-a", got)
	}
	// A route query keeps payments in use while orders goes idle.
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if _, err := h.mesh.TopicRoute(ctx, "payments"); err != nil {
		t.Fatal(err)
	}
	h.cp.WaitSubscribed(t, "while in use", xdsclient.RouteConfigTypeURL, topicRouteNames("orders", "payments"))
	if err := p.Shutdown(); err != nil {
		t.Fatalf("producer Shutdown: %v", err)
	}

	// Nobody asks for orders any more: the mesh lets it go and the control plane
	// sees the unsubscribe. payments is kept alive by asking for it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_, _ = h.mesh.TopicRoute(ctx, "payments")
			}
		}
	}()
	h.cp.WaitSubscribed(t, "after orders went idle", xdsclient.RouteConfigTypeURL, topicRouteNames("payments"))
	if d := configDump(t, h.mesh); !slices.Equal(d.OnDemandTopics, []string{"payments"}) {
		t.Errorf("config dump onDemandTopics = %q, want [payments]", d.OnDemandTopics)
	}
	close(stop)
	wg.Wait()
	h.cp.WaitSubscribed(t, "after payments went idle", xdsclient.RouteConfigTypeURL, nil)
	if d := configDump(t, h.mesh); len(d.OnDemandTopics) != 0 {
		t.Errorf("config dump onDemandTopics = %q after every topic went idle", d.OnDemandTopics)
	}

	// A released topic comes back on the next use.
	if got := h.sendN(h.producer(), "orders", 3); got["broker-a"] != 3 {
		t.Errorf("orders after release went to %v, want broker-a", got)
	}
	h.cp.WaitSubscribed(t, "after orders came back", xdsclient.RouteConfigTypeURL, topicRouteNames("orders"))
}

// scaleSetup serves n per-topic route configurations: topic-i routes to broker-a
// for even i and broker-b for odd i. No broker runs: route queries are answered
// from xDS endpoint metadata alone.
func scaleSetup(tb testing.TB, n int) *meshtest.ControlPlane {
	tb.Helper()
	spec := meshtest.MeshSpec{
		Listener: listenerName,
		OnDemand: true,
		Clusters: []meshtest.ClusterSpec{
			{Name: "cluster-a", DataPath: "direct", Endpoints: []meshtest.EndpointSpec{{Address: "127.0.0.1:10911", BrokerName: "broker-a"}}},
			{Name: "cluster-b", DataPath: "direct", Endpoints: []meshtest.EndpointSpec{{Address: "127.0.0.1:10921", BrokerName: "broker-b"}}},
		},
	}
	res, err := spec.Resources()
	if err != nil {
		tb.Fatal(err)
	}
	// One Update with every route config: the linear cache takes the whole set at
	// once. SetTopicRoute per topic is quadratic in the number served.
	res.RouteConfigs = make([]*rocketmqv3.RouteConfiguration, n)
	for i := range n {
		topic := scaleTopic(i)
		cluster := "cluster-a"
		if scaleBroker(i) == "broker-b" {
			cluster = "cluster-b"
		}
		res.RouteConfigs[i] = meshtest.TopicRouteConfig(wellknown.TopicRouteName(onDemandRCName, topic),
			meshtest.RouteSpec{Topic: topic, Cluster: cluster})
	}
	cp := meshtest.RunControlPlane(tb)
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if err := cp.Update(ctx, res); err != nil {
		tb.Fatal(err)
	}
	return cp
}

func scaleTopic(i int) string { return fmt.Sprintf("topic-%07d", i) }

func scaleBroker(i int) string {
	if i%2 == 0 {
		return "broker-a"
	}
	return "broker-b"
}

// newScaleMesh follows cp with an xDS client of the test's own, so the test can
// count what the client holds.
func newScaleMesh(tb testing.TB, cp *meshtest.ControlPlane) (*mesh.Mesh, *xdsclient.Client) {
	tb.Helper()
	bc, err := bootstrap.Parse(cp.Bootstrap(meshtest.WithBootstrapProtocol("delta")), "test")
	if err != nil {
		tb.Fatal(err)
	}
	xc, err := xdsclient.New(bc)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { xc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	m, err := mesh.New(ctx, "xds:///"+listenerName, mesh.WithXDSClient(xc))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	if err := m.WaitReady(ctx); err != nil {
		tb.Fatal(err)
	}
	return m, xc
}

// touchTopics asks the mesh for the routes of topics 0, step, 2*step, ...
// (count of them) with a few concurrent callers, as many clients would. Each
// query has a deadline of its own, as a client's has: under -race on a loaded
// machine a thousand on-demand subscriptions take longer than one
// DefaultTimeout, and a query past a shared deadline was answered "no route".
func touchTopics(tb testing.TB, m *mesh.Mesh, count, step int) {
	tb.Helper()
	const workers = 16
	idx := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				topic := scaleTopic(i)
				ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
				r, err := m.TopicRoute(ctx, topic)
				cancel()
				if err == nil && (len(r.BrokerDatas) != 1 || r.BrokerDatas[0].BrokerName != scaleBroker(i)) {
					err = fmt.Errorf("topic %q: route %+v, want only %s", topic, r.BrokerDatas, scaleBroker(i))
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for k := range count {
		idx <- k * step
	}
	close(idx)
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

func TestMesh_OnDemandHoldsOnlyUsedTopics(t *testing.T) {
	served, touched := 100_000, 1000 // BenchmarkMesh_OnDemandHeldTopics serves 1,000,000
	if testing.Short() || raceDetector {
		// Under -race on a loaded 2-core machine a thousand subscriptions,
		// each a request naming every topic held so far, take longer than
		// the control plane's wait; the count matters, not the scale.
		served, touched = 20_000, 250
	}
	cp := scaleSetup(t, served)
	m, xc := newScaleMesh(t, cp)
	touchTopics(t, m, touched, served/touched)

	var want []string
	for k := range touched {
		want = append(want, scaleTopic(k*(served/touched)))
	}
	d := configDump(t, m)
	if !slices.Equal(d.OnDemandTopics, want) {
		t.Errorf("the mesh holds %d topics, want exactly the %d it was asked for", len(d.OnDemandTopics), touched)
	}
	if got := xc.CacheSize(xdsclient.RouteConfigTypeURL); got != touched {
		t.Errorf("the xDS client holds %d route configs of the %d served, want %d", got, served, touched)
	}
	cp.WaitSubscribed(t, "after touching", xdsclient.RouteConfigTypeURL, topicRouteNames(want...))
	if got := len(d.RouteTable.TopicRoutes); got != touched {
		t.Errorf("route table compiled %d per-topic tables, want %d", got, touched)
	}
}

// BenchmarkMesh_OnDemandHeldTopics serves 1,000,000 per-topic route
// configurations and has one mesh ask for 1,000 of them; it reports how many the
// mesh holds and the heap the mesh added. Run it once:
//
//	go test -run '^$' -bench BenchmarkMesh_OnDemandHeldTopics -benchtime 1x ./mesh/
func BenchmarkMesh_OnDemandHeldTopics(b *testing.B) {
	const served, touched = 1_000_000, 1000
	cp := scaleSetup(b, served)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.StartTimer()

		m, xc := newScaleMesh(b, cp)
		touchTopics(b, m, touched, served/touched)

		b.StopTimer()
		held := len(configDump(b, m).OnDemandTopics)
		if held != touched || xc.CacheSize(xdsclient.RouteConfigTypeURL) != touched {
			b.Fatalf("mesh holds %d topics, xDS client %d route configs; want %d", held, xc.CacheSize(xdsclient.RouteConfigTypeURL), touched)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(held), "held-topics")
		b.ReportMetric(float64(served), "served-topics")
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)), "mesh-heap-bytes")
		m.Close()
		xc.Close()
		b.StartTimer()
	}
}

// TestMesh_OnDemandQueryBeforeListenerArrives checks that a route query made
// before the listener has arrived — a client started together with the mesh —
// waits for its topic's own route configuration once the listener turns out to
// serve routes on demand, instead of timing out and answering from the inline
// routes.
func TestMesh_OnDemandQueryBeforeListenerArrives(t *testing.T) {
	cluster := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("payments", 4))
	cp := meshtest.RunControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	m, err := mesh.New(ctx, "xds:///"+listenerName, mesh.WithBootstrap(cp.Bootstrap()), mesh.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatalf("mesh.New: %v", err)
	}
	defer m.Close()
	type answer struct {
		brokers []string
		err     error
	}
	got := make(chan answer, 1)
	go func() {
		r, err := m.TopicRoute(ctx, "payments")
		var a answer
		if a.err = err; err == nil {
			for _, bd := range r.BrokerDatas {
				a.brokers = append(a.brokers, bd.BrokerName)
			}
		}
		got <- a
	}()
	res, err := onDemandSpec(cluster).Resources()
	if err != nil {
		t.Fatalf("building resources: %v", err)
	}
	if err := cp.Update(ctx, res); err != nil {
		t.Fatalf("control plane update: %v", err)
	}
	a := <-got
	if a.err != nil || !slices.Equal(a.brokers, []string{"broker-b"}) {
		t.Errorf("payments asked before the listener arrived: brokers %q, error %v; want broker-b from its own route configuration", a.brokers, a.err)
	}
}
