package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/controlplane"
	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

func TestMain(m *testing.M) {
	meshtest.QuietClientLogs()
	primitive.PanicHandler = func(any) {}
	goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
}

var seq atomic.Int64

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, seq.Add(1))
}

// issuePolicy is the policy of issue 14, item 9, as the issue has it.
func issuePolicy(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../policy/testdata/issue14.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// env is the whole system: a meshtest cluster (nameserver and brokers), the
// control plane reading a policy file and discovering that cluster, and a
// mesh following the control plane, used by the official client.
type env struct {
	t       testing.TB
	cluster *meshtest.Cluster
	cp      *controlplane.Server
	policy  string // path of the policy file
	mesh    *mesh.Mesh
}

type envConfig struct {
	brokers  []string       // default: broker-a and broker-b
	topics   []string       // created with 4 queues on every broker
	queues   map[string]int // more topics: name → queues on every broker
	policy   string
	protocol string // "sotw" (default) or "delta"
}

func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	if cfg.brokers == nil {
		cfg.brokers = []string{"broker-a", "broker-b"}
	}
	var copts []meshtest.ClusterOption
	for _, b := range cfg.brokers {
		copts = append(copts, meshtest.WithBroker(b, 0))
	}
	for _, topic := range cfg.topics {
		copts = append(copts, meshtest.WithTopic(topic, 4))
	}
	for topic, n := range cfg.queues {
		copts = append(copts, meshtest.WithTopic(topic, n))
	}
	e := &env{t: t, cluster: meshtest.RunCluster(t, copts...)}
	e.policy = filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(e.policy, []byte(cfg.policy), 0o644); err != nil {
		t.Fatal(err)
	}
	cp, err := controlplane.New(
		controlplane.WithNameservers(e.cluster.NameServerAddr()),
		controlplane.WithPolicyFile(e.policy),
		controlplane.WithPollInterval(50*time.Millisecond),
		controlplane.WithTopicRefresh(50*time.Millisecond),
		controlplane.WithPolicyCheckInterval(20*time.Millisecond),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Close)
	e.cp = cp
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	m, err := mesh.New(ctx, "xds:///rocketmq", mesh.WithBootstrap(bootstrap(cp.Addr(), cfg.protocol)))
	if err != nil {
		t.Fatalf("mesh.New: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("mesh.Close: %v", err)
		}
	})
	if err := m.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
	e.mesh = m
	return e
}

// bootstrap is what a user writes: the control plane's address, insecure.
func bootstrap(addr, protocol string) []byte {
	doc := map[string]any{
		"xds_servers": []any{map[string]any{"server_uri": addr, "channel_creds": []any{map[string]any{"type": "insecure"}}, "server_features": []string{"xds_v3"}}},
		"node":        map[string]any{"id": uniqueName("e2e")},
	}
	if protocol != "" {
		doc["rmqmesh"] = map[string]any{"protocol": protocol}
	}
	b, _ := json.Marshal(doc)
	return b
}

// editPolicy replaces the policy file as an editor or a ConfigMap does.
func (e *env) editPolicy(doc string) {
	e.t.Helper()
	tmp := e.policy + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.policy); err != nil {
		e.t.Fatal(err)
	}
}

// route is what the mesh answers the client's route query for topic: what
// the client gets at its next 30 s route poll, and what the mesh's queue
// selector and allocation strategy follow at once. Each broker reads
// "broker pP master-address".
func (e *env) route(topic string) string {
	return e.describeRoute(topic, func(q remoting.QueueData, b remoting.BrokerData) string {
		return fmt.Sprintf("%s p%d %s", q.BrokerName, q.Perm, b.BrokerAddrs[0])
	})
}

// queueCounts is the queue data of the mesh's route for topic, each broker
// as "broker rR wW pP".
func (e *env) queueCounts(topic string) string {
	return e.describeRoute(topic, func(q remoting.QueueData, _ remoting.BrokerData) string {
		return fmt.Sprintf("%s r%d w%d p%d", q.BrokerName, q.ReadQueueNums, q.WriteQueueNums, q.Perm)
	})
}

// describeRoute describes each broker of the mesh's route for topic, in
// order.
func (e *env) describeRoute(topic string, describe func(remoting.QueueData, remoting.BrokerData) string) string {
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	rd, err := e.mesh.TopicRoute(ctx, topic)
	if err != nil {
		return "error: " + err.Error()
	}
	var parts []string
	for i, q := range rd.QueueDatas {
		parts = append(parts, describe(q, rd.BrokerDatas[i]))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// waitRoute waits until the mesh's route for topic satisfies cond.
func (e *env) waitRoute(topic, what string, cond func(string) bool) {
	e.t.Helper()
	meshtest.WaitFor(e.t, what, func() bool { return cond(e.route(topic)) })
}

func (e *env) producer(opts ...producer.Option) rocketmq.Producer {
	e.t.Helper()
	p, err := e.mesh.NewProducer(append([]producer.Option{producer.WithGroupName(uniqueName("pg")), producer.WithRetry(2)}, opts...)...)
	if err != nil {
		e.t.Fatalf("NewProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		e.t.Fatalf("producer Start: %v", err)
	}
	e.t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// sendN sends n messages to topic and counts the broker of each result.
func (e *env) sendN(p rocketmq.Producer, topic string, n int) map[string]int {
	e.t.Helper()
	per, _ := e.sendQueues(p, topic, n)
	return per
}

// sendQueues sends n messages to topic and counts the broker and the
// "broker/queueId" of each result.
func (e *env) sendQueues(p rocketmq.Producer, topic string, n int) (perBroker, perQueue map[string]int) {
	e.t.Helper()
	per, queues := map[string]int{}, map[string]int{}
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(fmt.Sprintf("%s-%06d", topic, seq.Add(1)))))
		cancel()
		if err != nil {
			e.t.Fatalf("send %d to %q: %v", i, topic, err)
		}
		if res.Status != primitive.SendOK {
			e.t.Fatalf("send %d to %q: status %v", i, topic, res.Status)
		}
		per[res.MessageQueue.BrokerName]++
		queues[fmt.Sprintf("%s/%d", res.MessageQueue.BrokerName, res.MessageQueue.QueueId)]++
	}
	return per, queues
}

// plainProducer talks to the cluster's own nameserver, outside the mesh: it
// seeds brokers the mesh would not write to.
func (e *env) plainProducer() rocketmq.Producer {
	e.t.Helper()
	p, err := rocketmq.NewProducer(
		producer.WithNameServer([]string{e.cluster.NameServerAddr()}),
		producer.WithGroupName(uniqueName("seed")),
		producer.WithInstanceName(uniqueName("seed")),
		producer.WithQueueSelector(producer.NewManualQueueSelector()),
	)
	if err != nil {
		e.t.Fatalf("NewProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		e.t.Fatalf("producer Start: %v", err)
	}
	e.t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

func (e *env) seed(p rocketmq.Producer, topic, broker string, n int) {
	e.t.Helper()
	for i := range n {
		msg := primitive.NewMessage(topic, []byte(fmt.Sprintf("seed-%s-%d", broker, i)))
		msg.Queue = &primitive.MessageQueue{Topic: topic, BrokerName: broker, QueueId: 0}
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		_, err := p.SendSync(ctx, msg)
		cancel()
		if err != nil {
			e.t.Fatalf("seeding %q on %q: %v", topic, broker, err)
		}
	}
}

// consume starts a push consumer through the mesh reading topic from the
// first offset, with meshtest.StartConsumer (which also stops it when the test
// ends).
func (e *env) consume(topic string) *meshtest.Collector {
	e.t.Helper()
	col := &meshtest.Collector{}
	group := uniqueName("cg")
	c, err := e.mesh.NewPushConsumer(
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		e.t.Fatalf("NewPushConsumer: %v", err)
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		col.Add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		e.t.Fatalf("Subscribe: %v", err)
	}
	meshtest.StartConsumer(e.t, e.cluster, group, c)
	return col
}

// endpointsOf lists the broker endpoints the control plane serves in
// cluster, as "name/id@addr health".
func (e *env) endpointsOf(cluster string) []string {
	var out []string
	for _, cla := range e.cp.Resources().Endpoints {
		if cla.GetClusterName() != cluster {
			continue
		}
		for _, g := range cla.GetEndpoints() {
			for _, ep := range g.GetLbEndpoints() {
				md := ep.GetMetadata().GetFilterMetadata()["envoy.lb"].GetFields()
				sa := ep.GetEndpoint().GetAddress().GetSocketAddress()
				out = append(out, fmt.Sprintf("%s/%v@%s:%d %s", md["broker_name"].GetStringValue(), md["broker_id"].GetNumberValue(),
					sa.GetAddress(), sa.GetPortValue(), ep.GetHealthStatus()))
			}
		}
	}
	sort.Strings(out)
	return out
}
