package meshtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

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
	var got Collector
	stop := startOrderlyConsumer(t, c, group, "TopicTest", &got)
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
	WaitFor(t, "orderly consumption", func() bool { return got.Len() == n })
	// Per queue, messages arrive in send order.
	last := map[int]int{0: -1, 1: -1}
	for _, m := range got.Messages() {
		var i int
		fmt.Sscanf(string(m.Body), "o%d", &i)
		if i <= last[m.Queue.QueueId] {
			t.Errorf("queue %d: %q after o%d", m.Queue.QueueId, m.Body, last[m.Queue.QueueId])
		}
		last[m.Queue.QueueId] = i
	}
	stop()
	WaitFor(t, "unlock on shutdown", func() bool { return b.RequestCount(42) > 0 })
	// The client's consume loops ask for a lock again 100 ms after Shutdown
	// unlocked their queues (tryLockLaterAndReconsume), and with the keeper up
	// those requests succeed: every lock left must have been taken after the
	// unlock, by a LOCK_BATCH_MQ naming its queue.
	unlocks := b.Requests(42)
	unlock := unlocks[len(unlocks)-1]
	var ub lockBody
	if err := json.Unmarshal(unlock.Body, &ub); err != nil {
		t.Fatalf("unlock on shutdown: %v", err)
	}
	named := 0
	for _, q := range ub.MQSet {
		if q.Topic == "TopicTest" {
			named++
		}
	}
	if named != 2 {
		t.Errorf("unlock on shutdown names %+v, want both TopicTest queues", ub.MQSet)
	}
	relocked := map[messageQueue]bool{}
	for _, r := range b.Requests(41) {
		var lb lockBody
		if r.Time.After(unlock.Time) && json.Unmarshal(r.Body, &lb) == nil {
			for _, q := range lb.MQSet {
				relocked[q] = true
			}
		}
	}
	for _, l := range b.Locks(group) {
		if q := (messageQueue{BrokerName: l.BrokerName, QueueID: int32(l.QueueID), Topic: l.Topic}); !relocked[q] {
			t.Errorf("lock left after unlock and never asked for again: %+v", l)
		}
	}
}
