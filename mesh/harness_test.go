package mesh_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport"
)

const listenerName = "rmq-test"

var seq atomic.Int64

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, seq.Add(1))
}

// harness is one meshtest cluster, one control plane serving a MeshSpec built from
// it, and one mesh following that control plane.
type harness struct {
	t       testing.TB
	cluster *meshtest.Cluster
	cp      *meshtest.ControlPlane
	mesh    *mesh.Mesh
	path    testPath
	// restricted: the brokers serve only the relay's source address.
	restricted bool
}

// testPath is a data path an end-to-end scenario runs in.
type testPath struct {
	name      string
	intercept bool
}

var (
	// directPath makes every cluster direct (mesh.WithDataPath), whatever a
	// spec says.
	directPath = testPath{name: "direct"}
	// interceptPath is the default data path: clusters are intercepted unless
	// a spec says "direct".
	interceptPath = testPath{name: "intercept", intercept: true}
)

// eachDataPath runs an end-to-end scenario once per data path, as subtests
// named after it.
func eachDataPath(t *testing.T, scenario func(t *testing.T, path testPath)) {
	for _, p := range []testPath{directPath, interceptPath} {
		t.Run(p.name, func(t *testing.T) { scenario(t, p) })
	}
}

type harnessConfig struct {
	brokers   []string // broker names; broker-a gets a replica when replica is set
	replica   bool
	topics    []string
	spec      func(c *meshtest.Cluster) meshtest.MeshSpec
	meshOpts  []mesh.Option
	bootstrap []meshtest.BootstrapOption
	// notReady, when set, is what WaitReady must report missing (a spec
	// that routes to a cluster the control plane does not serve).
	notReady string
	// path is the data path; the zero value is direct.
	path testPath
	// cluster adds options to the meshtest cluster.
	cluster []meshtest.ClusterOption
	// unrestricted lets clients reach brokers other than through the relay on
	// the intercept path (for specs with direct clusters, and benchmarks with
	// the bare client). Otherwise the relay dials from relaySource, the brokers
	// serve that address alone, and the test fails if any refused a connection.
	unrestricted bool
}

func newHarness(t testing.TB, hc harnessConfig) *harness {
	t.Helper()
	var copts []meshtest.ClusterOption
	restricted := hc.path.intercept && !hc.unrestricted
	if restricted {
		if !canDialFrom(relaySource) {
			t.Skipf("cannot dial from %s on this host: the relay's source address needs the whole 127.0.0.0/8 on loopback", relaySource)
		}
		copts = append(copts, meshtest.WithAllowedClients(relaySource))
	}
	for _, b := range hc.brokers {
		replicas := 0
		if hc.replica && b == "broker-a" {
			replicas = 1
		}
		copts = append(copts, meshtest.WithBroker(b, replicas))
	}
	for _, topic := range hc.topics {
		copts = append(copts, meshtest.WithTopic(topic, 4))
	}
	copts = append(copts, hc.cluster...)
	h := &harness{t: t, cluster: meshtest.RunCluster(t, copts...), cp: meshtest.RunControlPlane(t), path: hc.path, restricted: restricted}
	if restricted {
		t.Cleanup(h.checkNothingBypassed)
	}
	h.apply(hc.spec(h.cluster))
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	opts := []mesh.Option{mesh.WithBootstrap(h.cp.Bootstrap(hc.bootstrap...)), mesh.WithLogger(testLogger(t))}
	switch {
	case !hc.path.intercept:
		opts = append(opts, mesh.WithDataPath(routing.DataPathDirect))
	case restricted:
		opts = append(opts, mesh.WithRelayOptions(transport.WithUpstreamSource(relaySource)))
	}
	m, err := mesh.New(ctx, "xds:///"+listenerName, append(opts, hc.meshOpts...)...)
	if err != nil {
		t.Fatalf("mesh.New: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("mesh.Close: %v", err)
		}
	})
	err = m.WaitReady(ctx)
	switch {
	case hc.notReady == "" && err != nil:
		t.Fatalf("WaitReady: %v", err)
	case hc.notReady != "" && (err == nil || !strings.Contains(err.Error(), hc.notReady)):
		t.Fatalf("WaitReady = %v, want an error naming %s", err, hc.notReady)
	}
	h.mesh = m
	return h
}

// testLogger logs warnings and errors to the test's output, shown with the
// test that failed, not mixed into every other test's.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// apply serves spec on the control plane.
func (h *harness) apply(spec meshtest.MeshSpec) {
	h.t.Helper()
	res, err := spec.Resources()
	if err != nil {
		h.t.Fatalf("building resources: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if err := h.cp.Update(ctx, res); err != nil {
		h.t.Fatalf("control plane update: %v", err)
	}
}

// waitForRouteVersion waits until the mesh's config dump mentions the control
// plane's current version, i.e. the last update is in force.
func (h *harness) waitApplied() {
	h.t.Helper()
	want := h.cp.Version()
	meshtest.WaitFor(h.t, "mesh to apply control plane version "+want, func() bool {
		b, err := h.mesh.ConfigDump()
		return err == nil && containsVersion(b, want)
	})
}

func containsVersion(dump []byte, v string) bool {
	return len(v) > 0 && bytes.Contains(dump, []byte(`"`+v+`"`))
}

func (h *harness) producer(opts ...producer.Option) rocketmq.Producer {
	h.t.Helper()
	p, err := h.mesh.NewProducer(append([]producer.Option{producer.WithGroupName(uniqueName("pg")), producer.WithRetry(2)}, opts...)...)
	if err != nil {
		h.t.Fatalf("NewProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		h.t.Fatalf("producer Start: %v", err)
	}
	h.t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// sendN sends n messages to topic and returns the broker name of each result.
func (h *harness) sendN(p rocketmq.Producer, topic string, n int) map[string]int {
	h.t.Helper()
	perBroker := map[string]int{}
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(fmt.Sprintf("%s-%06d", topic, seq.Add(1)))))
		cancel()
		if err != nil {
			h.t.Fatalf("send %d to %q: %v", i, topic, err)
		}
		if res.Status != primitive.SendOK {
			h.t.Fatalf("send %d to %q: status %v", i, topic, res.Status)
		}
		perBroker[res.MessageQueue.BrokerName]++
	}
	return perBroker
}

// consume starts a push consumer of group through the mesh, on an internal
// client of its own, that records every message; meshtest.StartConsumer starts
// it and registers its shutdown.
func (h *harness) consume(group, topic string, handler func(*meshtest.Collector, ...*primitive.MessageExt) consumer.ConsumeResult, opts ...consumer.Option) (*meshtest.Collector, rocketmq.PushConsumer) {
	h.t.Helper()
	return h.consumeWith(nil, group, topic, handler, opts...)
}

// consumeOrderly is consume for an orderly consumer, with a keeper on its
// instance (see meshtest.WithKeeper).
func (h *harness) consumeOrderly(group, topic string, handler func(*meshtest.Collector, ...*primitive.MessageExt) consumer.ConsumeResult, opts ...consumer.Option) *meshtest.Collector {
	h.t.Helper()
	inst := uniqueName("inst")
	keeper, err := h.mesh.NewProducer(producer.WithGroupName(uniqueName("keeper")), producer.WithInstanceName(inst))
	if err != nil {
		h.t.Fatalf("NewProducer (keeper): %v", err)
	}
	col, _ := h.consumeWith([]meshtest.StartOption{meshtest.WithKeeper(keeper)}, group, topic, handler,
		append(opts, consumer.WithConsumerOrder(true), consumer.WithInstance(inst))...)
	return col
}

// consumeWith is consume with options for meshtest.StartConsumer.
func (h *harness) consumeWith(start []meshtest.StartOption, group, topic string, handler func(*meshtest.Collector, ...*primitive.MessageExt) consumer.ConsumeResult, opts ...consumer.Option) (*meshtest.Collector, rocketmq.PushConsumer) {
	h.t.Helper()
	col := &meshtest.Collector{}
	c, err := h.mesh.NewPushConsumer(append([]consumer.Option{
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)...)
	if err != nil {
		h.t.Fatalf("NewPushConsumer: %v", err)
	}
	if handler == nil {
		handler = func(col *meshtest.Collector, msgs ...*primitive.MessageExt) consumer.ConsumeResult {
			col.Add(msgs...)
			return consumer.ConsumeSuccess
		}
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		return handler(col, msgs...), nil
	})
	if err != nil {
		h.t.Fatalf("Subscribe %q: %v", topic, err)
	}
	meshtest.StartConsumer(h.t, h.cluster, group, c, start...)
	return col, c
}

// allBrokers is a spec with one cluster of every broker and one catch-all route.
func allBrokers(c *meshtest.Cluster) meshtest.MeshSpec {
	return meshtest.MeshSpec{
		Listener: listenerName,
		Routes:   []meshtest.RouteSpec{{Cluster: "brokers"}},
		Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: c.BrokerEndpoints(4)}},
	}
}

// allBrokersWith is allBrokers with edit applied to every broker endpoint: the
// way tests give brokers weights, permissions or subset keys.
func allBrokersWith(edit func(*meshtest.EndpointSpec)) func(*meshtest.Cluster) meshtest.MeshSpec {
	return func(c *meshtest.Cluster) meshtest.MeshSpec {
		spec := allBrokers(c)
		for i := range spec.Clusters[0].Endpoints {
			edit(&spec.Clusters[0].Endpoints[i])
		}
		return spec
	}
}

// readOnly makes broker's endpoints read-only (perm 4).
func readOnly(broker string) func(*meshtest.EndpointSpec) {
	return func(e *meshtest.EndpointSpec) {
		if e.BrokerName == broker {
			e.Perm = 4
		}
	}
}

func endpointsOf(c *meshtest.Cluster, brokerName string) []meshtest.EndpointSpec {
	var out []meshtest.EndpointSpec
	for _, e := range c.BrokerEndpoints(4) {
		if e.BrokerName == brokerName {
			out = append(out, e)
		}
	}
	return out
}

// seed runs fn with an official producer talking to the cluster's own
// nameserver, outside the mesh (the "before" state of an application), to seed
// brokers; the producer is shut down when fn returns. On a restricted intercept
// path the brokers serve it while fn runs.
func (h *harness) seed(fn func(p rocketmq.Producer)) {
	h.t.Helper()
	if h.restricted {
		if err := h.cluster.AllowClients(); err != nil {
			h.t.Fatal(err)
		}
		defer func() {
			if err := h.cluster.AllowClients(relaySource); err != nil {
				h.t.Error(err)
			}
		}()
	}
	p := h.plainProducer()
	defer p.Shutdown()
	fn(p)
}

// plainProducer is an official producer talking to the cluster's own nameserver,
// outside the mesh.
func (h *harness) plainProducer() rocketmq.Producer {
	h.t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNameServer([]string{h.cluster.NameServerAddr()}),
		producer.WithGroupName(uniqueName("seed")),
		producer.WithInstanceName(uniqueName("seed")),
		producer.WithQueueSelector(producer.NewManualQueueSelector()),
	)
	if err != nil {
		h.t.Fatalf("NewProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		h.t.Fatalf("producer Start: %v", err)
	}
	h.t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// sendTo sends message "seed-i" to queue 0 of broker through a producer built
// with plainProducer.
func sendTo(t *testing.T, p rocketmq.Producer, topic, broker string, i int) {
	t.Helper()
	msg := primitive.NewMessage(topic, []byte(fmt.Sprintf("seed-%d", i)))
	msg.Queue = &primitive.MessageQueue{Topic: topic, BrokerName: broker, QueueId: 0}
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if _, err := p.SendSync(ctx, msg); err != nil {
		t.Fatalf("seeding %q on %q: %v", topic, broker, err)
	}
}
