package mesh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// retryLaterOnce consumes every message on its second delivery only: the first
// goes back to the broker with ConsumeRetryLater, so it reaches the collector
// only through the group's retry topic.
func retryLaterOnce() func(*meshtest.Collector, ...*primitive.MessageExt) consumer.ConsumeResult {
	var mu sync.Mutex
	return func(col *meshtest.Collector, msgs ...*primitive.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if m.ReconsumeTimes == 0 {
				return consumer.ConsumeRetryLater
			}
		}
		col.Add(msgs...)
		return consumer.ConsumeSuccess
	}
}

// Issue 10 item 1: with the topic's routes forwarding to nameservers, no route
// names %RETRY%group; its route query must still find the brokers holding the
// retry topic, or messages returned with ConsumeRetryLater are never
// redelivered.
func TestMesh_RetriesRedeliveredWithNameserverRoutes(t *testing.T) {
	h := newHarness(t, harnessConfig{
		brokers: []string{"broker-a", "broker-b"},
		topics:  []string{"orders"},
		spec:    nameserverSpec(),
	})
	h.sendN(h.producer(), "orders", 10)
	// A long-lived group: its retry topic exists on the brokers before this
	// consumer's first route query (a new group's appears at its first
	// heartbeat, and the client asks again only every 30 s).
	group := uniqueName("cg")
	h.cluster.CreateConsumerGroup(group)
	col, _ := h.consume(group, "orders", retryLaterOnce(), consumer.WithConsumeMessageBatchMaxSize(1))
	meshtest.WaitFor(t, "every message redelivered from its retry topic", func() bool {
		h.cluster.FastForward(10 * time.Second)
		return col.Distinct() == 10
	})
}

// Issue 10 item 2: under an on-demand listener, a topic without a per-topic
// route resource falls back to the listener's inline routes. When that fallback
// forwards to nameservers, the first send must work without waiting for the
// xDS does-not-exist timer, which here is longer than the whole test.
func TestMesh_OnDemandNewTopicWithNameserverFallback(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			h := newHarness(t, harnessConfig{
				brokers: []string{"broker-a", "broker-b"},
				topics:  []string{"orders", "fresh"},
				spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
					return meshtest.MeshSpec{
						Listener: listenerName,
						OnDemand: true,
						Routes: []meshtest.RouteSpec{
							{Topic: "orders", Cluster: "nameservers"},  // per-topic
							{TopicPrefix: "f", Cluster: "nameservers"}, // inline fallback
						},
						Clusters: []meshtest.ClusterSpec{{Name: "nameservers", DataPath: "direct", Endpoints: c.NameServerEndpoints()}},
					}
				},
				bootstrap: []meshtest.BootstrapOption{
					meshtest.WithBootstrapProtocol(protocol),
					meshtest.WithBootstrapResourceTimeout(10 * time.Minute),
				},
			})
			// The first route query, as the official client sends it to the
			// mesh's nameserver endpoint, is answered with the fallback's route.
			ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
			defer cancel()
			req := remoting.NewRequest(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "fresh"}, nil)
			resp, err := transport.Call(ctx, h.mesh.NameServerAddr(), req)
			if err != nil {
				t.Fatalf("route query: %v", err)
			}
			if resp.Code != remoting.Success {
				t.Fatalf("first route query for a new topic answered code %d: %s", resp.Code, resp.Remark)
			}
			p := h.producer()
			if got := h.sendN(p, "fresh", 5); got["broker-a"]+got["broker-b"] != 5 {
				t.Errorf("sends to the new topic landed on %v", got)
			}
			h.cluster.CheckMessageCount(t, "fresh", 5)
			// The topic with its own resource still takes its own route.
			if got := h.sendN(p, "orders", 5); got["broker-a"]+got["broker-b"] != 5 {
				t.Errorf("sends to orders landed on %v", got)
			}
		})
	}
}

// Issue 10 item 3: ordered messages (a sharding key and the client's hash queue
// selector) must reach every queue of every broker. The broker is picked from
// the key and the client's selector then hashes the same key over the broker's
// queues: the two hashes must be independent.
func TestMesh_OrderedMessagesSpreadOverEveryQueue(t *testing.T) {
	const queues = 8
	h := newHarness(t, harnessConfig{
		brokers: []string{"broker-a", "broker-b"},
		spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
			return meshtest.MeshSpec{
				Listener: listenerName,
				Routes:   []meshtest.RouteSpec{{Cluster: "brokers"}},
				Clusters: []meshtest.ClusterSpec{{Name: "brokers", DataPath: "direct", Endpoints: c.BrokerEndpoints(queues)}},
			}
		},
	})
	h.cluster.CreateTopic("ordered", queues)
	p := h.producer(producer.WithQueueSelector(producer.NewHashQueueSelector()))
	// sendKeyed sends a message with the sharding key and returns its queue.
	sendKeyed := func(key string) string {
		t.Helper()
		msg := primitive.NewMessage("ordered", []byte(key))
		msg.WithShardingKey(key)
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		res, err := p.SendSync(ctx, msg)
		if err != nil {
			t.Fatalf("send %q: %v", key, err)
		}
		return fmt.Sprintf("%s/%d", res.MessageQueue.BrokerName, res.MessageQueue.QueueId)
	}
	hits := map[string]int{}
	keyQueue := map[string]string{}
	for i := 0; i < 400; i++ {
		key := fmt.Sprintf("order-%d", i)
		q := sendKeyed(key)
		hits[q]++
		keyQueue[key] = q
	}
	for _, b := range []string{"broker-a", "broker-b"} {
		for q := 0; q < queues; q++ {
			if name := fmt.Sprintf("%s/%d", b, q); hits[name] == 0 {
				t.Errorf("queue %s received none of 400 keyed messages (hits %v)", name, hits)
			}
		}
	}
	// A key keeps its queue: that is what ordering needs.
	for i := 0; i < 40; i++ {
		key := fmt.Sprintf("order-%d", i)
		if q := sendKeyed(key); q != keyQueue[key] {
			t.Errorf("key %q went to %s, earlier to %s", key, q, keyQueue[key])
		}
	}
}

// wideTopicSpec routes topic "wide" through its own on-demand route
// configuration to every broker, whose endpoint metadata claims 4 queues.
func wideTopicSpec(c *meshtest.Cluster) meshtest.MeshSpec {
	return meshtest.MeshSpec{
		Listener: listenerName,
		OnDemand: true,
		Routes:   []meshtest.RouteSpec{{Topic: "wide", Cluster: "brokers"}, {TopicPrefix: "%", Cluster: "brokers"}},
		Clusters: []meshtest.ClusterSpec{{Name: "brokers", DataPath: "direct", Endpoints: c.BrokerEndpoints(4)}},
	}
}

// sendToQueue sends body to one queue of broker through a producer built with
// plainProducer.
func sendToQueue(t *testing.T, p rocketmq.Producer, topic, broker string, queue int, body string) {
	t.Helper()
	msg := primitive.NewMessage(topic, []byte(body))
	msg.Queue = &primitive.MessageQueue{Topic: topic, BrokerName: broker, QueueId: queue}
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if _, err := p.SendSync(ctx, msg); err != nil {
		t.Fatalf("seeding %s queue %d of %q: %v", broker, queue, topic, err)
	}
}

// Issue 10 item 9: a topic created with more queues than the brokers' endpoint
// metadata says. With the topic's queues in its route (rmqmesh.topic_queues),
// mesh clients write to and read from every queue.
func TestMesh_TopicQueuesFromRouteReachEveryQueue(t *testing.T) {
	const queues = 8
	h := newHarness(t, harnessConfig{brokers: []string{"broker-a", "broker-b"}, spec: wideTopicSpec})
	h.cluster.CreateTopic("wide", queues)
	res, err := wideTopicSpec(h.cluster).Resources()
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range res.RouteConfigs {
		for _, r := range rc.Routes {
			md, err := structpb.NewStruct(map[string]any{wellknown.TopicQueuesKey: map[string]any{
				"broker-a": map[string]any{wellknown.ReadQueueNumKey: queues, wellknown.WriteQueueNumKey: queues},
				"broker-b": map[string]any{wellknown.ReadQueueNumKey: queues, wellknown.WriteQueueNumKey: queues},
			}})
			if err != nil {
				t.Fatal(err)
			}
			r.Route.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: md}}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if err := h.cp.Update(ctx, res); err != nil {
		t.Fatal(err)
	}

	// Another application put messages on the queues past the metadata's 4.
	seed := h.plainProducer()
	for _, b := range []string{"broker-a", "broker-b"} {
		for q := 4; q < queues; q++ {
			sendToQueue(t, seed, "wide", b, q, fmt.Sprintf("seed-%s-%d", b, q))
		}
	}
	// Mesh producers write to every queue.
	hit := map[string]bool{}
	p := h.producer()
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		res, err := p.SendSync(ctx, primitive.NewMessage("wide", []byte(fmt.Sprint("mesh-", i))))
		cancel()
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		hit[fmt.Sprintf("%s/%d", res.MessageQueue.BrokerName, res.MessageQueue.QueueId)] = true
	}
	for _, b := range []string{"broker-a", "broker-b"} {
		for q := 0; q < queues; q++ {
			if !hit[fmt.Sprintf("%s/%d", b, q)] {
				t.Errorf("no mesh send reached %s queue %d (hit %v)", b, q, hit)
			}
		}
	}
	// Mesh consumers read every message, the seeded ones included, and
	// commit every queue's offset.
	group := uniqueName("cg")
	col, _ := h.consume(group, "wide", nil)
	meshtest.WaitFor(t, "every message of every queue consumed", func() bool { return col.Distinct() == 200+2*(queues-4) })
	stored := map[string]map[int]int64{}
	for _, m := range h.cluster.Messages("wide") {
		if stored[m.BrokerName] == nil {
			stored[m.BrokerName] = map[int]int64{}
		}
		stored[m.BrokerName][m.QueueID] = max(stored[m.BrokerName][m.QueueID], m.QueueOffset+1)
	}
	meshtest.WaitFor(t, "every queue's offset committed", func() bool {
		return maps.EqualFunc(h.cluster.ConsumerOffsets(group, "wide"), stored, maps.Equal)
	})
}

// Without per-topic queue data the limit is reported where operators look:
// the config dump names the routes and the convention that lifts it.
func TestMesh_ConfigDumpWarnsWhenQueueCountsComeFromMetadata(t *testing.T) {
	h := newHarness(t, harnessConfig{brokers: []string{"broker-a"}, topics: []string{"orders"}, spec: allBrokers})
	b, err := h.mesh.ConfigDump()
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		RouteTable struct {
			Warnings []string `json:"warnings"`
		} `json:"routeTable"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if len(d.RouteTable.Warnings) != 1 || !strings.Contains(d.RouteTable.Warnings[0], `route 0 in listener "`+listenerName+`"`) ||
		!strings.Contains(d.RouteTable.Warnings[0], "topic_queues") || !strings.Contains(d.RouteTable.Warnings[0], "no mesh client reads or writes") {
		t.Errorf("config dump warnings = %q, want one naming route 0, the limit and topic_queues", d.RouteTable.Warnings)
	}
}
