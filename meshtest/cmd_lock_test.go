package meshtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// Tests of LOCK_BATCH_MQ and UNLOCK_BATCH_MQ (cmd_lock.go: 41, 42) with the
// official client's orderly consumer.

func TestCluster_OrderlyConsumerLocksQueues(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	// rocketmq-client-go v2.1.2's orderly consumer reads its process queue without
	// a lock while a pull adds to it (processQueue.takeMessages vs putMessage), a
	// race -race always reports once messages flow. Under -race this test checks
	// the locking protocol only; without it, it also checks ordered delivery.
	n := 6
	if raceDetector {
		n = 0
	}
	p := newProducer(t, c, producer.WithQueueSelector(producer.NewManualQueueSelector()))
	for i := 0; i < n; i++ {
		msg := primitive.NewMessage("TopicTest", []byte(fmt.Sprint("o", i)))
		msg.Queue = &primitive.MessageQueue{Topic: "TopicTest", BrokerName: "broker-a", QueueId: i % 2}
		if _, err := p.SendSync(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	group := name("cg")
	var got collector
	stop := startPushConsumer(t, c, group, "TopicTest", &got, nil, consumer.WithConsumerOrder(true))
	b := c.Broker("broker-a")
	WaitFor(t, "both queues locked", func() bool {
		held := 0
		for _, l := range b.Locks(group) {
			if l.Topic == "TopicTest" && !l.Expired {
				held++
			}
		}
		return held == 2
	})
	b.CheckRequested(t, 41)
	for _, r := range b.Requests(41) {
		if r.ClientID == "" {
			t.Errorf("lock request without a known client: %+v", r)
		}
	}
	WaitFor(t, "orderly consumption", func() bool { return got.len() == n })
	// Per queue, messages arrive in send order.
	last := map[int]int{0: -1, 1: -1}
	got.mu.Lock()
	for _, m := range got.msgs {
		var i int
		fmt.Sscanf(string(m.Body), "o%d", &i)
		if i <= last[m.Queue.QueueId] {
			t.Errorf("queue %d: %q after o%d", m.Queue.QueueId, m.Body, last[m.Queue.QueueId])
		}
		last[m.Queue.QueueId] = i
	}
	got.mu.Unlock()
	stop()
	WaitFor(t, "unlock on shutdown", func() bool { return b.RequestCount(42) > 0 })
	if locks := b.Locks(group); len(locks) != 0 {
		t.Errorf("locks left after unlock: %+v", locks)
	}
}
