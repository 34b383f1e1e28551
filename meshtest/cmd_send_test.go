package meshtest

import (
	"context"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Tests of the send family (cmd_send.go: 10, 310, 320, 324, 325) with the
// official client.

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
	case <-time.After(DefaultTimeout):
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
	WaitFor(t, "oneway stored", func() bool { return len(c.Messages("TopicTest")) == 4 })
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
