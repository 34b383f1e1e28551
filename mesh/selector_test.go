package mesh_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/meshtest"
)

// recordingSelector is a caller's own QueueSelector: it records the queues it is
// offered and picks the first.
type recordingSelector struct {
	mu      sync.Mutex
	offered [][]*primitive.MessageQueue
}

func (r *recordingSelector) Select(_ *primitive.Message, mqs []*primitive.MessageQueue, _ string) *primitive.MessageQueue {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.offered = append(r.offered, mqs)
	return mqs[0]
}

func queuesOf(brokers ...string) []*primitive.MessageQueue {
	var out []*primitive.MessageQueue
	for _, b := range brokers {
		for q := 0; q < 4; q++ {
			out = append(out, &primitive.MessageQueue{Topic: "orders", BrokerName: b, QueueId: q})
		}
	}
	return out
}

func TestQueueSelector_NarrowsThenDelegatesToCallersSelector(t *testing.T) {
	h := newHarness(t, harnessConfig{brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokersWith(readOnly("broker-b"))})
	own := &recordingSelector{}
	sel := h.mesh.QueueSelector(own)
	// The client's queue list may still hold broker-b's queues (its route is
	// refreshed every 30 s); routing must keep sends off them anyway.
	all := queuesOf("broker-a", "broker-b")
	for i := 0; i < 50; i++ {
		q := sel.Select(primitive.NewMessage("orders", nil), all, "")
		if q.BrokerName != "broker-a" {
			t.Fatalf("send %d offered to %s, want broker-a (broker-b is read-only)", i, q.BrokerName)
		}
	}
	own.mu.Lock()
	defer own.mu.Unlock()
	if len(own.offered) != 50 {
		t.Fatalf("caller's selector called %d times, want 50", len(own.offered))
	}
	for _, mqs := range own.offered {
		if len(mqs) != 4 || slices.ContainsFunc(mqs, func(q *primitive.MessageQueue) bool { return q.BrokerName != "broker-a" }) {
			t.Fatalf("caller's selector offered %v, want broker-a's 4 queues", mqs)
		}
	}
}

func TestQueueSelector_ShardingKeyStaysOnOneBroker(t *testing.T) {
	h := newHarness(t, harnessConfig{brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokers})
	sel := h.mesh.QueueSelector(nil)
	all := queuesOf("broker-a", "broker-b")
	for key := 0; key < 20; key++ {
		first := ""
		for i := 0; i < 10; i++ {
			msg := primitive.NewMessage("orders", nil)
			msg.WithShardingKey(string(rune('a' + key)))
			b := sel.Select(msg, all, "").BrokerName
			if first == "" {
				first = b
			} else if b != first {
				t.Fatalf("sharding key %d went to %s after %s", key, b, first)
			}
		}
	}
}

func TestAllocateStrategy_DropsUnreadableBrokersIdenticallyForEveryMember(t *testing.T) {
	h := newHarness(t, harnessConfig{
		brokers: []string{"broker-a", "broker-b"},
		topics:  []string{"orders"},
		spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
			return meshtest.MeshSpec{
				Listener: listenerName,
				Routes: []meshtest.RouteSpec{
					// Reads of "orders" come from broker-a only; sends may use both.
					{Topic: "orders", Codes: []int{11}, Cluster: "brokers", Subset: map[string]string{"broker_name": "broker-a"}},
					{Topic: "orders", Cluster: "brokers"},
				},
				Clusters: []meshtest.ClusterSpec{{Name: "brokers", DataPath: "direct", Endpoints: c.BrokerEndpoints(4)}},
			}
		},
	})
	var calls [][]*primitive.MessageQueue
	own := func(_, _ string, mqAll []*primitive.MessageQueue, _ []string) []*primitive.MessageQueue {
		calls = append(calls, mqAll)
		return mqAll
	}
	strategy := h.mesh.AllocateStrategy(own)
	got := strategy("g", "c1", queuesOf("broker-a", "broker-b"), []string{"c1", "c2"})
	if len(got) != 4 || slices.ContainsFunc(got, func(q *primitive.MessageQueue) bool { return q.BrokerName != "broker-a" }) {
		t.Errorf("caller's strategy saw %v, want broker-a's 4 queues", got)
	}
	if len(calls) != 1 {
		t.Fatalf("caller's strategy called %d times, want 1", len(calls))
	}
	// Two members of the group with the same table split the readable queues
	// between them with the client's default strategy (AllocateByAveragely),
	// disjointly and completely.
	def := h.mesh.AllocateStrategy(nil)
	mine := def("g", "c1", queuesOf("broker-a", "broker-b"), []string{"c1", "c2"})
	theirs := def("g", "c2", queuesOf("broker-a", "broker-b"), []string{"c1", "c2"})
	seen := map[string]int{}
	for _, q := range append(mine, theirs...) {
		seen[q.String()]++
		if q.BrokerName != "broker-a" {
			t.Errorf("allocated unreadable queue %v", q)
		}
	}
	if len(seen) != 4 {
		t.Errorf("members were allocated %d distinct queues, want broker-a's 4", len(seen))
	}
	for q, n := range seen {
		if n != 1 {
			t.Errorf("queue %s allocated to %d members", q, n)
		}
	}
}
