package meshtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// defaultTestTimeout bounds every wait; tests never assert durations.
const defaultTestTimeout = 30 * time.Second

var uniq atomic.Int64

// name returns a process-unique name for groups and instances.
func name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, uniq.Add(1))
}

func newProducer(t *testing.T, c *Cluster, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	all := append([]producer.Option{
		producer.WithNameServer([]string{c.NameServerAddr()}),
		producer.WithGroupName(name("pg")),
		producer.WithInstanceName(name("pi")),
		producer.WithRetry(0),
	}, opts...)
	p, err := rocketmq.NewProducer(all...)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("producer Start: %v", err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// warmClient starts a producer on a new instance name and returns that name. The
// official client shares one internal client per instance; its route updater reads
// consumer subscriptions 10 ms after the client starts without synchronising with
// rebalancing (a data race inside rocketmq-client-go v2.1.2 that -race reports).
// Consumers created on an instance whose client started earlier never meet that
// first read, and the next one is 30 s later.
func warmClient(t *testing.T, c *Cluster) string {
	t.Helper()
	inst := name("ci")
	newProducer(t, c, producer.WithInstanceName(inst))
	time.Sleep(100 * time.Millisecond)
	return inst
}

// pushConsumer is a push consumer on its own warm instance; stop shuts both down
// so the broker sees the connection close (the Go client never sends 35).
type pushConsumer struct {
	rocketmq.PushConsumer
	stop func()
}

func newPushConsumer(t *testing.T, c *Cluster, group string, opts ...consumer.Option) *pushConsumer {
	t.Helper()
	c.CreateConsumerGroup(group)
	inst := name("ci")
	warm, err := rocketmq.NewProducer(producer.WithNameServer([]string{c.NameServerAddr()}),
		producer.WithGroupName(name("pg")), producer.WithInstanceName(inst))
	if err != nil {
		t.Fatal(err)
	}
	if err := warm.Start(); err != nil {
		t.Fatal(err)
	}
	// See warmClient.
	time.Sleep(100 * time.Millisecond)
	all := append([]consumer.Option{
		consumer.WithNameServer([]string{c.NameServerAddr()}),
		consumer.WithGroupName(group),
		consumer.WithInstance(inst),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	pc, err := rocketmq.NewPushConsumer(all...)
	if err != nil {
		warm.Shutdown()
		t.Fatalf("NewPushConsumer: %v", err)
	}
	var once sync.Once
	out := &pushConsumer{PushConsumer: pc, stop: func() {
		once.Do(func() {
			pc.Shutdown()
			warm.Shutdown()
		})
	}}
	t.Cleanup(out.stop)
	return out
}

// waitOffsetsCommitted waits until the broker holds a committed offset of group
// at the end of every queue of topic. The client updates its offsets after a
// consume callback returns and persists them every 5 s, so waiting for the
// broker to have them is what makes a later Shutdown safe on a slow machine.
func waitOffsetsCommitted(t *testing.T, c *Cluster, group, topic string) map[int]int64 {
	t.Helper()
	perQueue := map[int]int64{}
	for _, m := range c.Messages(topic) {
		perQueue[m.QueueID]++
	}
	waitFor(t, "offsets committed", func() bool {
		for q, want := range perQueue {
			if off, _ := c.ConsumerOffset(group, topic, q); off != want {
				return false
			}
		}
		return true
	})
	return perQueue
}

// waitFor polls cond until it holds or the test timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(defaultTestTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCluster_ProducerSendSync(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	p := newProducer(t, c)
	msg := primitive.NewMessage("TopicTest", []byte("hello"))
	msg.WithTag("TagA").WithKeys([]string{"KeyA"})
	res, err := p.SendSync(context.Background(), msg)
	if err != nil {
		t.Fatalf("SendSync: %v", err)
	}
	if res.Status != primitive.SendOK {
		t.Fatalf("status = %v", res.Status)
	}
	got := c.Messages("TopicTest")
	if len(got) != 1 {
		t.Fatalf("stored %d messages, want 1", len(got))
	}
	m := got[0]
	if string(m.Body) != "hello" || m.Tags != "TagA" || m.Keys != "KeyA" || m.Properties["CLUSTER"] != "DefaultCluster" {
		t.Errorf("stored %+v", m)
	}
	if res.OffsetMsgID != m.MsgID || res.MsgID != m.UniqKey {
		t.Errorf("result ids %q/%q, stored %q/%q", res.OffsetMsgID, res.MsgID, m.MsgID, m.UniqKey)
	}
}

func TestCluster_PushConsumerReceivesAll(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	p := newProducer(t, c)
	const n = 20
	for i := 0; i < n; i++ {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage("TopicTest", []byte(fmt.Sprint("m", i)))); err != nil {
			t.Fatalf("SendSync %d: %v", i, err)
		}
	}
	group := name("cg")
	pc := newPushConsumer(t, c, group)
	var mu sync.Mutex
	seen := map[string]bool{}
	err := pc.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			seen[string(m.Body)] = true
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, "all messages", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == n })
}

// collector gathers consumed messages.
type collector struct {
	mu   sync.Mutex
	msgs []*primitive.MessageExt
}

func (c *collector) add(msgs ...*primitive.MessageExt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
}

func (c *collector) bodies() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, m := range c.msgs {
		out[string(m.Body)]++
	}
	return out
}

func (c *collector) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

func sendN(t *testing.T, p rocketmq.Producer, topic, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(fmt.Sprint(prefix, i)))); err != nil {
			t.Fatalf("SendSync %d: %v", i, err)
		}
	}
}

func TestCluster_AsyncOnewayBatchSends(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	p := newProducer(t, c)
	done := make(chan error, 1)
	err := p.SendAsync(context.Background(), func(ctx context.Context, r *primitive.SendResult, err error) {
		done <- err
	}, primitive.NewMessage("TopicTest", []byte("async")))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("async: %v", err)
		}
	case <-time.After(defaultTestTimeout):
		t.Fatal("async send never completed")
	}
	if err := p.SendOneWay(context.Background(), primitive.NewMessage("TopicTest", []byte("oneway"))); err != nil {
		t.Fatal(err)
	}
	res, err := p.SendSync(context.Background(),
		primitive.NewMessage("TopicTest", []byte("b1")).WithTag("TagB"),
		primitive.NewMessage("TopicTest", []byte("b2")).WithTag("TagB"))
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	waitFor(t, "oneway stored", func() bool { return len(c.Messages("TopicTest")) == 4 })
	c.CheckBodies(t, "TopicTest", "async", "oneway", "b1", "b2")
	var batch []StoredMessage
	for _, m := range c.Messages("TopicTest") {
		if m.Tags == "TagB" {
			batch = append(batch, m)
		}
	}
	if len(batch) != 2 || batch[0].QueueID != batch[1].QueueID || batch[1].QueueOffset != batch[0].QueueOffset+1 || res.QueueOffset != batch[0].QueueOffset {
		t.Errorf("batch stored %+v, result %+v", batch, res)
	}
	if n := c.Broker("broker-a").RequestCount(320); n != 1 {
		t.Errorf("broker saw %d batch requests, want 1", n)
	}
}

func TestCluster_AutoCreateTopicViaTBW102(t *testing.T) {
	c := RunCluster(t, WithTimeScale(0.01))
	p := newProducer(t, c)
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("Fresh", []byte("x"))); err != nil {
		t.Fatalf("send to a new topic: %v", err)
	}
	c.CheckMessageCount(t, "Fresh", 1)
	if tc := c.Broker("broker-a").set.store.topic("Fresh"); tc == nil || tc.write != 4 || tc.perm != 6 {
		t.Errorf("auto-created topic %+v, want 4 queues perm 6", tc)
	}
	if c.NameServer().RequestCount(105) < 2 {
		t.Errorf("expected the client to ask for the route and then for TBW102")
	}

	c2 := RunCluster(t, WithAutoCreateTopics(false))
	p2 := newProducer(t, c2)
	if _, err := p2.SendSync(context.Background(), primitive.NewMessage("Fresh", []byte("x"))); err == nil {
		t.Errorf("send without auto-create succeeded")
	}
}

func TestCluster_ConcurrentConsumeCommitsOffsets(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	p := newProducer(t, c)
	const n = 40
	sendN(t, p, "TopicTest", "m", n)
	group := name("cg")
	pc := newPushConsumer(t, c, group)
	var got collector
	pc.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		got.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all messages consumed", func() bool { return len(got.bodies()) == n })
	// The client persists offsets every 5 s, and on Shutdown.
	perQueue := waitOffsetsCommitted(t, c, group, "TopicTest")
	pc.stop()
	for q, want := range perQueue {
		c.CheckConsumerOffset(t, group, "TopicTest", q, want)
	}
}

func TestCluster_OffsetsSurviveConsumerRestart(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "TopicTest", "first", 10)
	group := name("cg")
	var first collector
	pc := newPushConsumer(t, c, group)
	pc.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		first.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "first batch", func() bool { return len(first.bodies()) == 10 })
	waitOffsetsCommitted(t, c, group, "TopicTest")
	pc.stop()
	waitFor(t, "first consumer gone", func() bool { return len(c.Broker("broker-a").ConsumerIDs(group)) == 0 })

	sendN(t, p, "TopicTest", "second", 5)
	var second collector
	pc2 := newPushConsumer(t, c, group)
	pc2.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		second.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err := pc2.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc2.Shutdown()
	waitFor(t, "second batch", func() bool { return len(second.bodies()) == 5 })
	time.Sleep(200 * time.Millisecond) // room for a wrong redelivery to show up
	for body := range second.bodies() {
		if len(body) >= 5 && body[:5] == "first" {
			t.Errorf("committed message %q delivered again after restart", body)
		}
	}
}

func TestCluster_RetryLaterRedelivers(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 1), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "TopicTest", "r", 1)
	group := name("cg")
	pc := newPushConsumer(t, c, group)
	var got collector
	pc.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		got.add(msgs...)
		if msgs[0].ReconsumeTimes == 0 {
			return consumer.ConsumeRetryLater, nil
		}
		return consumer.ConsumeSuccess, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	waitFor(t, "redelivery", func() bool { return got.len() >= 2 })
	got.mu.Lock()
	second := got.msgs[1]
	got.mu.Unlock()
	if second.ReconsumeTimes != 1 || string(second.Body) != "r0" || second.Topic != "TopicTest" {
		t.Errorf("redelivered topic %q body %q reconsumeTimes %d", second.Topic, second.Body, second.ReconsumeTimes)
	}
	c.Broker("broker-a").CheckRequested(t, 36)
	if n := len(c.Messages(ScheduleTopic)); n != 1 {
		t.Errorf("%d messages went through %s, want 1", n, ScheduleTopic)
	}
	retry := c.Messages(RetryTopicPrefix + group)
	if len(retry) != 1 || retry[0].Properties["RETRY_TOPIC"] != "TopicTest" || retry[0].Properties["DELAY"] != "" && retry[0].Properties["DELAY"] != "3" {
		t.Errorf("retry topic holds %+v", retry)
	}
}

func TestCluster_DeadLetterAfterMaxReconsume(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 1), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "TopicTest", "d", 1)
	group := name("cg")
	pc := newPushConsumer(t, c, group, consumer.WithMaxReconsumeTimes(2))
	var got collector
	pc.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		got.add(msgs...)
		return consumer.ConsumeRetryLater, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	dlq := DLQTopicPrefix + group
	waitFor(t, "dead letter", func() bool { return len(c.Messages(dlq)) == 1 })
	m := c.Messages(dlq)[0]
	if string(m.Body) != "d0" || m.ReconsumeTimes != 3 || m.Properties["RETRY_TOPIC"] != "TopicTest" {
		t.Errorf("dead letter %+v", m)
	}
	if n := got.len(); n != 3 {
		t.Errorf("consumed %d times, want 3 (first delivery + 2 retries)", n)
	}
}

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
	pc := newPushConsumer(t, c, group, consumer.WithConsumerOrder(true))
	var got collector
	pc.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		got.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	b := c.Broker("broker-a")
	waitFor(t, "both queues locked", func() bool {
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
	waitFor(t, "orderly consumption", func() bool { return got.len() == n })
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
	pc.stop()
	waitFor(t, "unlock on shutdown", func() bool { return b.RequestCount(42) > 0 })
	if locks := b.Locks(group); len(locks) != 0 {
		t.Errorf("locks left after unlock: %+v", locks)
	}
}

func TestCluster_PullConsumerPolls(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "TopicTest", "p", 6)
	group := name("cg")
	pc, err := rocketmq.NewPullConsumer(
		consumer.WithNameServer([]string{c.NameServerAddr()}),
		consumer.WithGroupName(group),
		consumer.WithInstance(warmClient(t, c)),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("TopicTest", consumer.MessageSelector{}); err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	seen := map[string]bool{}
	deadline := time.Now().Add(defaultTestTimeout)
	for len(seen) < 6 && time.Now().Before(deadline) {
		cr, err := pc.Poll(context.Background(), time.Second)
		if consumer.IsNoNewMsgError(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range cr.GetMsgList() {
			seen[string(m.Body)] = true
		}
		pc.ACK(context.Background(), cr, consumer.ConsumeSuccess)
	}
	if len(seen) != 6 {
		t.Fatalf("polled %d distinct messages, want 6", len(seen))
	}
	c.Broker("broker-a").CheckRequested(t, 11)
}

func TestCluster_TwoConsumersRebalance(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	p := newProducer(t, c)
	group := name("cg")
	var got1, got2 collector
	pc1 := newPushConsumer(t, c, group)
	pc1.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		got1.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err := pc1.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc1.Shutdown()
	b := c.Broker("broker-a")
	waitFor(t, "first consumer registered", func() bool { return len(b.ConsumerIDs(group)) == 1 })
	before := b.RequestCount(38)
	pc2 := newPushConsumer(t, c, group)
	pc2.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		got2.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err := pc2.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc2.Shutdown()
	waitFor(t, "second consumer registered", func() bool { return len(b.ConsumerIDs(group)) == 2 })
	// The first consumer is told (40) and asks for the new member list (38).
	waitFor(t, "consumer list refreshed", func() bool { return b.RequestCount(38) > before+1 })
	time.Sleep(300 * time.Millisecond) // let both finish their rebalance
	sendN(t, p, "TopicTest", "q", 40)
	waitFor(t, "all consumed", func() bool { return len(got1.bodies())+len(got2.bodies()) >= 40 })
	q1, q2 := map[int]bool{}, map[int]bool{}
	got1.mu.Lock()
	for _, m := range got1.msgs {
		q1[m.Queue.QueueId] = true
	}
	got1.mu.Unlock()
	got2.mu.Lock()
	for _, m := range got2.msgs {
		q2[m.Queue.QueueId] = true
	}
	got2.mu.Unlock()
	for q := range q1 {
		if q2[q] {
			t.Errorf("queue %d consumed by both consumers (q1 %v, q2 %v)", q, q1, q2)
		}
	}
	if len(q1) == 0 || len(q2) == 0 {
		t.Errorf("queues not shared: q1 %v, q2 %v", q1, q2)
	}
}

func TestCluster_BrokerStopRestart(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "TopicTest", "before", 1) // body "before0"
	b := c.Broker("broker-a")
	b.Stop()
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("TopicTest", []byte("during"))); err == nil {
		t.Errorf("send to a stopped broker succeeded")
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	var err error
	deadline := time.Now().Add(defaultTestTimeout)
	for time.Now().Before(deadline) {
		if _, err = p.SendSync(context.Background(), primitive.NewMessage("TopicTest", []byte("after"))); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	c.CheckBodies(t, "TopicTest", "before0", "after")
}

func TestCluster_ReplicaServesPullsAfterSuggest(t *testing.T) {
	c := RunCluster(t, WithBroker("broker-a", 1), WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	b := c.Broker("broker-a")
	replica := b.Replica(1)
	b.SuggestReplica(1)
	group := name("cg")
	pc := newPushConsumer(t, c, group)
	var got collector
	pc.Subscribe("TopicTest", consumer.MessageSelector{}, func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		got.add(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err := pc.Start(); err != nil {
		t.Fatal(err)
	}
	defer pc.Shutdown()
	sendN(t, p, "TopicTest", "s", 10)
	waitFor(t, "all consumed", func() bool { return len(got.bodies()) == 10 })
	waitFor(t, "replica pulls", func() bool { return replica.RequestCount(11) > 0 })
	if replica.RequestCount(34) == 0 {
		t.Errorf("replica saw no heartbeat")
	}
	if replica.RequestCount(10) != 0 {
		t.Errorf("replica received sends")
	}
}

type txListener struct {
	mu      sync.Mutex
	execute primitive.LocalTransactionState
	check   primitive.LocalTransactionState
	checks  int
}

func (l *txListener) ExecuteLocalTransaction(*primitive.Message) primitive.LocalTransactionState {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.execute
}

func (l *txListener) CheckLocalTransaction(*primitive.MessageExt) primitive.LocalTransactionState {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.checks++
	return l.check
}

func newTxProducer(t *testing.T, c *Cluster, l *txListener) rocketmq.TransactionProducer {
	t.Helper()
	p, err := rocketmq.NewTransactionProducer(l,
		producer.WithNameServer([]string{c.NameServerAddr()}),
		producer.WithGroupName(name("txg")),
		producer.WithInstanceName(name("txi")),
		producer.WithRetry(0),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

func TestCluster_TransactionCommitRollbackCheck(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	b := c.Broker("broker-a")

	commit := newTxProducer(t, c, &txListener{execute: primitive.CommitMessageState})
	if _, err := commit.SendMessageInTransaction(context.Background(), primitive.NewMessage("TopicTest", []byte("commit"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "commit visible", func() bool { return len(c.Messages("TopicTest")) == 1 })
	m := c.Messages("TopicTest")[0]
	if m.SysFlag&8 == 0 || m.PreparedTransactionOffset == 0 && m.Properties["REAL_TOPIC"] != "TopicTest" {
		t.Errorf("committed message %+v", m)
	}

	rollback := newTxProducer(t, c, &txListener{execute: primitive.RollbackMessageState})
	if _, err := rollback.SendMessageInTransaction(context.Background(), primitive.NewMessage("TopicTest", []byte("rollback"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "rollback processed", func() bool { return b.RequestCount(37) >= 2 })

	l := &txListener{execute: primitive.UnknowState, check: primitive.CommitMessageState}
	checked := newTxProducer(t, c, l)
	if _, err := checked.SendMessageInTransaction(context.Background(), primitive.NewMessage("TopicTest", []byte("checked"))); err != nil {
		t.Fatal(err)
	}
	c.FastForward(transactionTimeout)
	waitFor(t, "check-back commit", func() bool { return len(c.Messages("TopicTest")) == 2 })
	c.CheckBodies(t, "TopicTest", "commit", "checked")
	if l.checks == 0 {
		t.Errorf("listener was never asked to check")
	}
	if len(b.HalfMessages()) != 0 {
		t.Errorf("unresolved half messages left: %+v", b.HalfMessages())
	}
}

func TestCluster_ACLWithOfficialClient(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithACL("RocketMQ", "12345678"), WithTimeScale(0.01))
	good := newProducer(t, c, producer.WithCredentials(primitive.Credentials{AccessKey: "RocketMQ", SecretKey: "12345678"}))
	if _, err := good.SendSync(context.Background(), primitive.NewMessage("TopicTest", []byte("signed"))); err != nil {
		t.Fatalf("signed send: %v", err)
	}
	bad := newProducer(t, c, producer.WithCredentials(primitive.Credentials{AccessKey: "RocketMQ", SecretKey: "wrong"}))
	_, err := bad.SendSync(context.Background(), primitive.NewMessage("TopicTest", []byte("unsigned")))
	if err == nil || !strings.Contains(err.Error(), "Check signature failed for accessKey=RocketMQ") {
		t.Errorf("badly signed send: %v", err)
	}
	c.CheckBodies(t, "TopicTest", "signed")
}
