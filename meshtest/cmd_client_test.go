package meshtest

import (
	"testing"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Tests of the client family (cmd_client.go: 34 heartbeat, 35, 38, and the
// broker's 40) with the official client.

func TestCluster_TwoConsumersRebalance(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	p := newProducer(t, c)
	group := name("cg")
	var got1, got2 Collector
	startPushConsumer(t, c, group, "TopicTest", &got1, nil)
	b := c.Broker("broker-a")
	if ids := b.ConsumerIDs(group); len(ids) != 1 {
		t.Fatalf("after the first consumer started the group holds %q, want one member", ids)
	}
	first := b.ConsumerIDs(group)[0]
	before := b.RequestCount(remoting.CodeGetConsumerListByGroup)
	startPushConsumer(t, c, group, "TopicTest", &got2, nil)
	if ids := b.ConsumerIDs(group); len(ids) != 2 {
		t.Fatalf("after the second consumer started the group holds %q, want two members", ids)
	}
	// The first consumer is told (40) and asks for the new member list (38);
	// StartConsumer has waited for both to finish rebalancing.
	told := 0
	for _, r := range b.SentRequests(remoting.CodeNotifyConsumerIDsChanged) {
		if r.ClientID == first && r.ExtFields["consumerGroup"] == group {
			told++
		}
	}
	if told < 2 {
		t.Errorf("the first consumer was notified %d times, want 2 (its own start and the second's)", told)
	}
	if n := b.RequestCount(remoting.CodeGetConsumerListByGroup); n <= before+1 {
		t.Errorf("the broker answered %d consumer lists after the second consumer started, want more than 1", n-before)
	}
	sendN(t, p, "TopicTest", "q", 40)
	WaitFor(t, "all consumed", func() bool { return got1.Distinct()+got2.Distinct() >= 40 })
	q1, q2 := got1.Queues(), got2.Queues()
	for q := range q1 {
		if q2[q] {
			t.Errorf("queue %d consumed by both consumers (q1 %v, q2 %v)", q, q1, q2)
		}
	}
	if len(q1) == 0 || len(q2) == 0 {
		t.Errorf("queues not shared: q1 %v, q2 %v", q1, q2)
	}
}
