package controlplane_test

// The scale benchmark of issue 14, item 7. The control plane runs in this
// process against simulated nameservers (in memory, so their cost is not
// counted); the simulated clients run in a child process (this test binary
// again, see TestMain), so the memory and CPU measured here are the control
// plane's own.
//
// CI runs TestScale_Small. The full run of the issue (100,000 topics, 100
// clients holding 1,000 each):
//
//	go test -run '^$' -bench BenchmarkScale -benchtime 1x -timeout 60m ./controlplane/ \
//	    -args -scale.topics=100000 -scale.clients=100 -scale.per-client=1000 -scale.steady=60s

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/controlplane"
	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/policy"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

var (
	scaleTopics    = flag.Int("scale.topics", 2000, "topics known to the simulated nameservers")
	scaleClients   = flag.Int("scale.clients", 10, "simulated clients")
	scalePerClient = flag.Int("scale.per-client", 100, "topics each client holds (disjoint)")
	scaleSteady    = flag.Duration("scale.steady", 3*time.Second, "steady-state window for CPU")
	scaleRefresh   = flag.Duration("scale.refresh", 30*time.Second, "topic refresh interval of the control plane")
	scaleSamples   = flag.Int("scale.samples", 3, "topic changes timed")
)

// scaleChildEnv makes the test binary a simulated-clients process.
const scaleChildEnv = "RMQMESH_SCALE_CHILD"

func topicName(i int) string { return fmt.Sprintf("topic-%06d", i) }

// scaleNS is an in-memory nameserver with many topics on two brokers.
type scaleNS struct {
	mu     sync.Mutex
	queues map[string]int            // topic → queue count
	served map[string]chan time.Time // first time a changed topic was served
}

func newScaleNS(topics int) *scaleNS {
	ns := &scaleNS{queues: make(map[string]int, topics), served: map[string]chan time.Time{}}
	for i := range topics {
		ns.queues[topicName(i)] = 8
	}
	return ns
}

func (n *scaleNS) Addr() string { return "10.0.0.100:9876" }

func (n *scaleNS) ClusterInfo(context.Context) (*remoting.ClusterInfo, error) {
	return &remoting.ClusterInfo{
		BrokerAddrTable: map[string]remoting.BrokerData{
			"broker-a": {Cluster: "DefaultCluster", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}},
			"broker-b": {Cluster: "DefaultCluster", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "10.0.0.2:10911"}},
		},
		ClusterAddrTable: map[string][]string{"DefaultCluster": {"broker-a", "broker-b"}},
	}, nil
}

func (n *scaleNS) TopicRoute(_ context.Context, topic string) (*remoting.TopicRouteData, error) {
	n.mu.Lock()
	q, ok := n.queues[topic]
	if ch := n.served[topic]; ch != nil {
		ch <- time.Now()
		delete(n.served, topic)
	}
	n.mu.Unlock()
	if !ok {
		return nil, discovery.ErrTopicNotExist
	}
	return &remoting.TopicRouteData{
		QueueDatas: []remoting.QueueData{
			{BrokerName: "broker-a", ReadQueueNums: int32(q), WriteQueueNums: int32(q), Perm: 6},
			{BrokerName: "broker-b", ReadQueueNums: int32(q), WriteQueueNums: int32(q), Perm: 6},
		},
		BrokerDatas: []remoting.BrokerData{
			{Cluster: "DefaultCluster", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}},
			{Cluster: "DefaultCluster", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "10.0.0.2:10911"}},
		},
	}, nil
}

// change sets topic's queue count; the returned channel gets the time the
// new data is first served to the control plane.
func (n *scaleNS) change(topic string, queues int) <-chan time.Time {
	ch := make(chan time.Time, 1)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.queues[topic] = queues
	n.served[topic] = ch
	return ch
}

const scalePolicy = `
listeners:
  - name: rocketmq
    routes: [{cluster: default}]
clusters:
  - name: default
    brokers: {cluster_name: DefaultCluster}
    overrides:
      broker-a: {weight: 80}
      broker-b: {weight: 20}
`

// children runs the simulated clients in a child process.
type children struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr strings.Builder
}

func startChildren(t testing.TB, addr, mode string, clients, per int) *children {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), scaleChildEnv+"=1", "SCALE_ADDR="+addr, "SCALE_MODE="+mode,
		"SCALE_CLIENTS="+strconv.Itoa(clients), "SCALE_PER="+strconv.Itoa(per))
	c := &children{cmd: cmd, lines: make(chan string, 1024)}
	c.stdin, _ = cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = &c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			c.lines <- s.Text()
		}
		close(c.lines)
	}()
	return c
}

// waitReady waits for every client's "ready" line.
func (c *children) waitReady(t testing.TB, clients int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for ready := 0; ready < clients; {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("clients exited: %s", c.stderr.String())
			}
			if strings.HasPrefix(l, "ready ") {
				ready++
			}
		case <-deadline:
			t.Fatalf("%d of %d clients ready", ready, clients)
		}
	}
}

// waitUpdates waits for n "update NAME UNIXNANO BYTES" lines naming name and
// returns the earliest and latest times and the bytes they carried.
func (c *children) waitUpdates(t testing.TB, name string, n int, timeout time.Duration) (first, last time.Time, bytes int) {
	t.Helper()
	deadline := time.After(timeout)
	for got := 0; got < n; {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("clients exited: %s", c.stderr.String())
			}
			f := strings.Fields(l)
			if len(f) != 4 || f[0] != "update" || f[1] != name {
				continue
			}
			ns, _ := strconv.ParseInt(f[2], 10, 64)
			b, _ := strconv.Atoi(f[3])
			at := time.Unix(0, ns)
			if first.IsZero() || at.Before(first) {
				first = at
			}
			if at.After(last) {
				last = at
			}
			bytes += b
			got++
		case <-deadline:
			t.Fatalf("no update of %s within %v", name, timeout)
		}
	}
	return first, last, bytes
}

func (c *children) stop() {
	_ = c.stdin.Close()
	_ = c.cmd.Wait()
}

// heap returns the live heap after collection.
func heap() uint64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// cpu returns the process's user and system CPU time.
func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scaleResult is what one run measures.
type scaleResult struct {
	perClient, perTopic  float64 // bytes of heap
	fullPerClient        float64 // bytes of heap, SotW full push
	fullListener         int     // bytes of the listener with every route
	steadyCPU            float64 // CPU seconds per second
	fullSteadyCPU        float64
	pushLatency          time.Duration // one topic change, to its subscriber (median)
	pushBytes            int           // bytes pushed for it, all clients
	fullLatencyFirst     time.Duration // SotW full push: first client
	fullLatencyLast      time.Duration // and last
	fullPushBytes        int
	fullBuild            time.Duration // rebuilding the listener of every route
	held                 int
	syncTime, readyTime  time.Duration
	fullSyncAndReadyTime time.Duration
}

func runScale(t testing.TB, topics, clients, per int, steady, refresh time.Duration, samples int) scaleResult {
	t.Helper()
	if clients*per > topics {
		t.Fatalf("%d clients × %d topics each need %d topics", clients, per, clients*per)
	}
	var r scaleResult
	r.held = clients * per
	p, err := policy.Parse("scale.yaml", []byte(scalePolicy))
	if err != nil {
		t.Fatal(err)
	}

	// On demand, delta.
	ns := newScaleNS(topics)
	start := time.Now()
	s, err := controlplane.New(controlplane.WithNameServerClients(ns), controlplane.WithPolicy(p),
		controlplane.WithPollInterval(5*time.Second), controlplane.WithTopicRefresh(refresh))
	if err != nil {
		t.Fatal(err)
	}
	meshtest.WaitFor(t, "first sync", func() bool { return s.Health().OK && len(s.Resources().Listeners) == 1 })
	r.syncTime = time.Since(start)
	base := heap()
	// Clients holding nothing: what a client costs.
	kids := startChildren(t, s.Addr(), "delta", clients, 0)
	kids.waitReady(t, clients, 10*time.Minute)
	r.perClient = float64(int64(heap())-int64(base)) / float64(clients)
	kids.stop()
	meshtest.WaitFor(t, "clients gone", func() bool { return len(s.Clients()) == 0 })
	base = heap()
	start = time.Now()
	kids = startChildren(t, s.Addr(), "delta", clients, per)
	kids.waitReady(t, clients, 30*time.Minute)
	r.readyTime = time.Since(start)
	r.perTopic = (float64(int64(heap())-int64(base)) - r.perClient*float64(clients)) / float64(r.held)

	c0 := cpu()
	time.Sleep(steady)
	r.steadyCPU = (cpu() - c0).Seconds() / steady.Seconds()

	var lat []time.Duration
	for i := range samples {
		topic := topicName(i * per) // held by client i (mod clients)
		served := ns.change(topic, 9+i)
		first, _, bytes := kids.waitUpdates(t, wellknown.TopicRouteName("rocketmq", topic), 1, refresh+time.Minute)
		at := <-served
		lat = append(lat, first.Sub(at))
		r.pushBytes = bytes
	}
	slices.Sort(lat)
	r.pushLatency = lat[len(lat)/2]
	kids.stop()
	s.Close()

	// State of the world, every route in the listener, pushed to every client.
	runtime.GC()
	full := fullPushServer(t, topics)
	defer full.close()
	base = heap()
	start = time.Now()
	kids = startChildren(t, full.addr, "sotw-full", clients, 0)
	defer kids.stop()
	kids.waitReady(t, clients, 30*time.Minute)
	r.fullSyncAndReadyTime = time.Since(start)
	r.fullPerClient = float64(int64(heap())-int64(base)) / float64(clients)
	r.fullListener = full.size
	c0 = cpu()
	time.Sleep(steady)
	r.fullSteadyCPU = (cpu() - c0).Seconds() / steady.Seconds()
	var firsts, lasts []time.Duration
	for i := range samples {
		t0 := time.Now()
		full.changeTopic(t, i, 9+i)
		r.fullBuild = time.Since(t0)
		first, last, bytes := kids.waitUpdates(t, "listener", clients, 10*time.Minute)
		firsts, lasts = append(firsts, first.Sub(t0)), append(lasts, last.Sub(t0))
		r.fullPushBytes = bytes
	}
	slices.Sort(firsts)
	slices.Sort(lasts)
	r.fullLatencyFirst, r.fullLatencyLast = firsts[len(firsts)/2], lasts[len(lasts)/2]
	return r
}

// fullServer serves one listener holding a route for every topic, each to
// its topic's cluster, over SotW: what pushing everything to everyone is.
type fullServer struct {
	addr   string
	size   int
	gs     *grpc.Server
	cancel context.CancelFunc
	cache  cachev3.SnapshotCache
	queues []int
	ver    int
}

func fullPushServer(t testing.TB, topics int) *fullServer {
	t.Helper()
	f := &fullServer{queues: make([]int, topics), cache: cachev3.NewSnapshotCache(false, sharedNode{}, nil)}
	for i := range f.queues {
		f.queues[i] = 8
	}
	if err := f.publish(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	srv := serverv3.NewServer(ctx, f.cache, nil)
	f.gs = grpc.NewServer(grpc.MaxRecvMsgSize(math.MaxInt32))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(f.gs, srv)
	lis, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	f.addr = lis.Addr().String()
	go func() { _ = f.gs.Serve(lis) }()
	return f
}

type sharedNode struct{}

func (sharedNode) ID(*corev3.Node) string { return "all" }

func (f *fullServer) publish() error {
	routes := make([]resource.Route, len(f.queues))
	for i, q := range f.queues {
		routes[i] = resource.Route{Kind: resource.ExactTopic, Pattern: topicName(i), Cluster: fmt.Sprintf("default/r%dw%dp6", q, q)}
	}
	l, err := resource.NewListener(resource.Listener{Name: "rocketmq", RouteConfigName: "rocketmq", Routes: routes})
	if err != nil {
		return err
	}
	f.size = proto.Size(l)
	f.ver++
	snap, err := cachev3.NewSnapshot(strconv.Itoa(f.ver), map[string][]types.Resource{resource.ListenerType: {l}})
	if err != nil {
		return err
	}
	return f.cache.SetSnapshot(context.Background(), "all", snap)
}

func (f *fullServer) changeTopic(t testing.TB, i, queues int) {
	t.Helper()
	f.queues[i] = queues
	if err := f.publish(); err != nil {
		t.Fatal(err)
	}
}

func (f *fullServer) close() {
	f.gs.Stop()
	f.cancel()
}

func (r scaleResult) report(t testing.TB, topics, clients, per int, steady time.Duration) {
	t.Logf("scale: %d topics, %d clients holding %d each (%d held), steady window %v", topics, clients, per, r.held, steady)
	t.Logf("on demand (delta):   %.1f KiB per client, %.0f B per held topic; first sync %v, all clients ready %v",
		r.perClient/1024, r.perTopic, r.syncTime.Round(time.Millisecond), r.readyTime.Round(time.Millisecond))
	t.Logf("on demand (delta):   one topic change pushed in %v (median of samples, from the nameserver's answer to the client), %d B on the wire; steady %.3f CPU-s/s",
		r.pushLatency.Round(time.Microsecond), r.pushBytes, r.steadyCPU)
	t.Logf("SotW full push:      listener of %d B; %.1f KiB per client; all clients ready %v; steady %.3f CPU-s/s",
		r.fullListener, r.fullPerClient/1024, r.fullSyncAndReadyTime.Round(time.Millisecond), r.fullSteadyCPU)
	t.Logf("SotW full push:      one topic change: rebuild %v, first client %v, last client %v, %d B on the wire",
		r.fullBuild.Round(time.Microsecond), r.fullLatencyFirst.Round(time.Microsecond), r.fullLatencyLast.Round(time.Microsecond), r.fullPushBytes)
	if r.pushBytes > 0 {
		t.Logf("ratios (full push / on demand): bytes per change %.0f×, latency to the last client %.1f×",
			float64(r.fullPushBytes)/float64(r.pushBytes), float64(r.fullLatencyLast)/float64(max(r.pushLatency, time.Microsecond)))
	}
}

// TestScale_Small runs the scale harness small, so it cannot rot, and checks
// what on-demand routes are for: a topic change costs its subscriber one
// route, not every client the whole table.
func TestScale_Small(t *testing.T) {
	const topics, clients, per = 300, 3, 50
	r := runScale(t, topics, clients, per, 500*time.Millisecond, time.Second, 1)
	r.report(t, topics, clients, per, 500*time.Millisecond)
	if r.pushBytes <= 0 || r.pushBytes*10 > r.fullPushBytes {
		t.Errorf("a topic change pushed %d B on demand and %d B in full: want on demand under a tenth", r.pushBytes, r.fullPushBytes)
	}
	if r.pushLatency <= 0 || r.fullLatencyLast <= 0 {
		t.Errorf("latencies not measured: %v, %v", r.pushLatency, r.fullLatencyLast)
	}
}

// BenchmarkScale runs the harness at the size the flags give (see the top
// of the file) and reports its figures.
func BenchmarkScale(b *testing.B) {
	for range b.N {
		r := runScale(b, *scaleTopics, *scaleClients, *scalePerClient, *scaleSteady, *scaleRefresh, *scaleSamples)
		r.report(b, *scaleTopics, *scaleClients, *scalePerClient, *scaleSteady)
		b.ReportMetric(r.perClient, "B/client")
		b.ReportMetric(r.perTopic, "B/held-topic")
		b.ReportMetric(float64(r.pushLatency.Microseconds()), "µs/push")
		b.ReportMetric(r.steadyCPU, "cpu-s/s")
		b.ReportMetric(float64(r.fullLatencyLast.Microseconds()), "µs/full-push-last")
		b.ReportMetric(r.fullPerClient, "B/full-client")
	}
}
