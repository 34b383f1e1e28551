package mesh_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

func TestMesh_ControlPlaneGoneKeepsLastGoodRoutes(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path, brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokers})
		p := h.producer()
		h.sendN(p, "orders", 10)
		h.cp.Stop()
		if got := h.sendN(p, "orders", 20); got["broker-a"]+got["broker-b"] != 20 {
			t.Errorf("after the control plane stopped, sends landed on %v", got)
		}
		// A client created after the control plane went away still gets routes.
		late := h.producer()
		if got := h.sendN(late, "orders", 10); got["broker-a"]+got["broker-b"] != 10 {
			t.Errorf("new producer after the control plane stopped: sends landed on %v", got)
		}
		col, _ := h.consume(uniqueName("cg"), "orders", nil)
		meshtest.WaitFor(t, "40 messages consumed with the control plane down", func() bool { return col.Distinct() == 40 })
	})
}

func TestMesh_OrderlyConsumption(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path, brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokers})
		p := h.producer(producer.WithQueueSelector(producer.NewHashQueueSelector()))
		// rocketmq-client-go v2.1.2's orderly consumer reads its process queue without a
		// lock while pulls fill it, which -race always reports once messages flow. Under
		// -race this test checks the locking through the mesh only; .ci/run also runs it
		// without -race, where it checks ordered delivery too.
		keys, perKey := 4, 25
		if raceDetector {
			keys = 0
		}
		for i := 0; i < perKey; i++ {
			for k := 0; k < keys; k++ {
				msg := primitive.NewMessage("orders", []byte(fmt.Sprintf("k%d-%03d", k, i)))
				msg.WithShardingKey(fmt.Sprintf("key-%d", k))
				ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
				_, err := p.SendSync(ctx, msg)
				cancel()
				if err != nil {
					t.Fatalf("send: %v", err)
				}
			}
		}
		var (
			mu    sync.Mutex
			seen  = map[string][]string{}
			bad   []string
			total int
		)
		group := uniqueName("cg")
		h.consumeOrderly(group, "orders", func(col *meshtest.Collector, msgs ...*primitive.MessageExt) consumer.ConsumeResult {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				body := string(m.Body)
				key := body[:2]
				if prev := seen[key]; len(prev) > 0 && prev[len(prev)-1] >= body {
					bad = append(bad, fmt.Sprintf("%s after %s", body, prev[len(prev)-1]))
				}
				seen[key] = append(seen[key], body)
				total++
			}
			return consumer.ConsumeSuccess
		})
		meshtest.WaitFor(t, "all ordered messages consumed", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return total >= keys*perKey
		})
		// Every queue locked: the official client retries a failed lock in
		// goroutines of its own, which must be done before it shuts down (they
		// read its closed flag unsynchronised, a race -race reports).
		for _, b := range []string{"broker-a", "broker-b"} {
			meshtest.WaitFor(t, b+" locked", func() bool {
				locked := 0
				for _, l := range h.cluster.Broker(b).Locks(group) {
					if l.Topic == "orders" && !l.Expired {
						locked++
					}
				}
				return locked == 4
			})
		}
		mu.Lock()
		defer mu.Unlock()
		if len(bad) > 0 {
			t.Errorf("out of order within a sharding key: %v", bad)
		}
	})
}

type txListener struct {
	mu      sync.Mutex
	checked map[string]int
	first   primitive.LocalTransactionState
}

func (l *txListener) ExecuteLocalTransaction(m *primitive.Message) primitive.LocalTransactionState {
	if strings.HasPrefix(string(m.Body), "rollback") {
		return primitive.RollbackMessageState
	}
	return l.first
}

func (l *txListener) CheckLocalTransaction(m *primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checked[string(m.Body)]++
	return primitive.CommitMessageState
}

func TestMesh_TransactionsCommitRollbackAndCheck(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path, brokers: []string{"broker-a"}, topics: []string{"orders"}, spec: allBrokers})
		for _, tc := range []struct {
			name  string
			first primitive.LocalTransactionState
			body  string
			want  bool // visible to consumers in the end
		}{
			{"commit", primitive.CommitMessageState, "commit-1", true},
			{"rollback", primitive.CommitMessageState, "rollback-1", false},
			{"check", primitive.UnknowState, "check-1", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				l := &txListener{checked: map[string]int{}, first: tc.first}
				group := uniqueName("txg")
				p, err := h.mesh.NewTransactionProducer(l, producer.WithGroupName(group))
				if err != nil {
					t.Fatalf("NewTransactionProducer: %v", err)
				}
				if err := p.Start(); err != nil {
					t.Fatalf("Start: %v", err)
				}
				defer p.Shutdown()
				ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
				defer cancel()
				res, err := p.SendMessageInTransaction(ctx, primitive.NewMessage("orders", []byte(tc.body)))
				if err != nil {
					t.Fatalf("SendMessageInTransaction: %v", err)
				}
				if res.Status != primitive.SendOK {
					t.Fatalf("status %v", res.Status)
				}
				visible := func() bool {
					for _, m := range h.cluster.Messages("orders") {
						if string(m.Body) == tc.body {
							return true
						}
					}
					return false
				}
				if tc.want {
					if tc.first == primitive.UnknowState {
						// The broker calls back over the producer's heartbeat connection;
						// advance its clock only once that connection exists.
						meshtest.WaitFor(t, "producer heartbeat", func() bool {
							for _, c := range h.cluster.Broker("broker-a").Clients() {
								if slices.Contains(c.ProducerGroups, group) {
									return true
								}
							}
							return false
						})
						h.cluster.FastForward(2 * time.Minute)
					}
					meshtest.WaitFor(t, tc.body+" visible", visible)
				} else {
					// END_TRANSACTION is oneway: wait for the broker to receive it
					// rather than for a while, and check what it asks for, which is
					// all the broker acts on.
					var endTx []meshtest.Request
					meshtest.WaitFor(t, "END_TRANSACTION from "+group, func() bool {
						endTx = endTx[:0]
						for _, r := range h.cluster.Broker("broker-a").Requests(remoting.CodeEndTransaction) {
							if r.ExtFields["producerGroup"] == group {
								endTx = append(endTx, r)
							}
						}
						return len(endTx) > 0
					})
					for _, r := range endTx {
						if got, want := r.ExtFields["commitOrRollback"], strconv.Itoa(int(remoting.SysFlagTransactionRollback)); got != want {
							t.Errorf("END_TRANSACTION for %q: commitOrRollback %q, want %q (rollback)", tc.body, got, want)
						}
					}
					if visible() {
						t.Errorf("rolled back message %q is visible", tc.body)
					}
				}
				if tc.first == primitive.UnknowState {
					l.mu.Lock()
					n := l.checked[tc.body]
					l.mu.Unlock()
					if n == 0 {
						t.Errorf("the broker's check-back for %q never reached the listener", tc.body)
					}
				}
			})
		}
	})
}

// TestMesh_AckAffinity checks that offsets and send-backs land on the broker that
// served each message.
func TestMesh_AckAffinity(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path, brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokers})
		got := h.sendN(h.producer(), "orders", 40)
		group := uniqueName("cg")
		var (
			mu      sync.Mutex
			retried = map[string]string{} // body → broker it came from on first delivery
		)
		col, _ := h.consume(group, "orders", func(col *meshtest.Collector, msgs ...*primitive.MessageExt) consumer.ConsumeResult {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				if m.ReconsumeTimes == 0 && strings.HasSuffix(string(m.Body), "0") {
					retried[string(m.Body)] = m.Queue.BrokerName
					return consumer.ConsumeRetryLater
				}
			}
			col.Add(msgs...)
			return consumer.ConsumeSuccess
		}, consumer.WithConsumeMessageBatchMaxSize(1))
		meshtest.WaitFor(t, "first deliveries", func() bool { return col.Distinct() >= 36 })
		h.cluster.FastForward(time.Minute) // release the delayed retries
		meshtest.WaitFor(t, "all 40 consumed, retries included", func() bool { return col.Distinct() == 40 })

		mu.Lock()
		defer mu.Unlock()
		retryTopic := "%RETRY%" + group
		for body, broker := range retried {
			found := ""
			for _, b := range []string{"broker-a", "broker-b"} {
				for _, m := range h.cluster.Broker(b).Messages(retryTopic) {
					if string(m.Body) == body {
						found = b
					}
				}
			}
			if found != broker {
				t.Errorf("send-back of %q stored on %q, want %q (the broker that served it)", body, found, broker)
			}
		}
		// The client commits offsets every 5 s and on shutdown, each with a oneway
		// request, so wait for them to land rather than trust one moment.
		committed := func(b string) int64 {
			sum := int64(0)
			for q := 0; q < 4; q++ {
				if off, ok := h.cluster.Broker(b).ConsumerOffset(group, "orders", q); ok {
					sum += off
				}
			}
			return sum
		}
		deadline := time.Now().Add(meshtest.DefaultTimeout)
		for committed("broker-a") != int64(got["broker-a"]) || committed("broker-b") != int64(got["broker-b"]) {
			if time.Now().After(deadline) {
				for _, b := range []string{"broker-a", "broker-b"} {
					if n := committed(b); n != int64(got[b]) {
						t.Errorf("%s: committed offsets sum to %d, want %d (the messages it stored)", b, n, got[b])
					}
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

func TestMesh_EndpointChangeReachesClientAtRoutePoll(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the official client's 30 s route poll")
	}
	h := newHarness(t, harnessConfig{
		brokers: []string{"broker-a", "broker-b"},
		topics:  []string{"orders"},
		spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
			return meshtest.MeshSpec{
				Listener: listenerName,
				Routes:   []meshtest.RouteSpec{{Cluster: "brokers"}},
				Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: endpointsOf(c, "broker-a")}},
			}
		},
	})
	p := h.producer()
	if got := h.sendN(p, "orders", 5); got["broker-a"] != 5 {
		t.Fatalf("before the change sends went to %v", got)
	}
	// The client refreshes routes 10 ms after it starts and then every 30 s; change
	// the endpoints after that first refresh so the test sees a periodic poll.
	time.Sleep(100 * time.Millisecond)
	h.apply(meshtest.MeshSpec{
		Listener: listenerName,
		Routes:   []meshtest.RouteSpec{{Cluster: "brokers"}},
		Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: endpointsOf(h.cluster, "broker-b")}},
	})
	h.waitApplied()
	start := time.Now()
	deadline := start.Add(45 * time.Second) // one 30 s client route poll plus slack
	for {
		got := h.sendN(p, "orders", 1)
		if got["broker-b"] == 1 {
			t.Logf("direct path: endpoint change reached the client after %v", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("sends never moved to broker-b after the endpoint change")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestMesh_RetriesFlowWithTopicSpecificRoutes checks that a group's retry topic,
// which no route names, still reaches the consumer.
func TestMesh_RetriesFlowWithTopicSpecificRoutes(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a", "broker-b"},
			topics:  []string{"orders"},
			spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
				return meshtest.MeshSpec{
					Listener: listenerName,
					Routes:   []meshtest.RouteSpec{{Topic: "orders", Cluster: "brokers"}},
					Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: c.BrokerEndpoints(4)}},
				}
			},
		})
		h.sendN(h.producer(), "orders", 10)
		var (
			mu          sync.Mutex
			redelivered int
		)
		col, _ := h.consume(uniqueName("cg"), "orders", func(col *meshtest.Collector, msgs ...*primitive.MessageExt) consumer.ConsumeResult {
			mu.Lock()
			defer mu.Unlock()
			for _, m := range msgs {
				if m.ReconsumeTimes == 0 {
					return consumer.ConsumeRetryLater
				}
				redelivered++
			}
			col.Add(msgs...)
			return consumer.ConsumeSuccess
		}, consumer.WithConsumeMessageBatchMaxSize(1))
		meshtest.WaitFor(t, "every message redelivered from its retry topic", func() bool {
			h.cluster.FastForward(10 * time.Second)
			return col.Distinct() == 10
		})
	})
}
