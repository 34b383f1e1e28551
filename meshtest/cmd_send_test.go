package meshtest

import (
	"context"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
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

// TestCluster_DelayedMessageKeepsDelayProperty checks that a delayed message
// reaches its consumer with its DELAY property, as on 4.9.8: the schedule
// service copies the stored properties before it clears DELAY from the map
// (ScheduleMessageService's messageTimeup), so the record keeps it.
func TestCluster_DelayedMessageKeepsDelayProperty(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	msg := primitive.NewMessage("TopicTest", []byte("later"))
	msg.WithDelayTimeLevel(2)
	if _, err := p.SendSync(context.Background(), msg); err != nil {
		t.Fatalf("SendSync: %v", err)
	}
	var got Collector
	startPushConsumer(t, c, name("cg"), "TopicTest", &got, nil)
	WaitFor(t, "the delayed message", func() bool { return got.Len() > 0 })
	m := got.Messages()[0]
	if string(m.Body) != "later" || m.GetProperty("DELAY") != "2" || m.GetProperty("REAL_TOPIC") != "TopicTest" {
		t.Errorf("delivered %q with DELAY %q REAL_TOPIC %q, want DELAY 2 and REAL_TOPIC TopicTest", m.Body, m.GetProperty("DELAY"), m.GetProperty("REAL_TOPIC"))
	}
}

// TestBroker_SendErrorsCarryRegionAndTrace checks that a refused send carries
// MSG_REGION and TRACE_ON, which 4.9.8's SendMessageProcessor adds to the
// response before msgCheck, and a refused reply (324) too.
func TestBroker_SendErrorsCarryRegionAndTrace(t *testing.T) {
	c := RunCluster(t, WithAutoCreateTopics(false))
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	for _, code := range []int32{remoting.CodeSendMessage, remoting.CodeSendReplyMessage} {
		resp := rc.call(code, map[string]string{
			"producerGroup": "pg", "topic": "Missing", "defaultTopic": DefaultTopicKey, "defaultTopicQueueNums": "4",
			"queueId": "0", "sysFlag": "0", "bornTimestamp": "1", "flag": "0", "properties": "", "reconsumeTimes": "0",
		}, []byte("x"))
		if resp.Code != remoting.TopicNotExist || resp.ExtFields["MSG_REGION"] != "DefaultRegion" || resp.ExtFields["TRACE_ON"] != "true" {
			t.Errorf("%d to a missing topic: code %d ext %v, want %d with MSG_REGION and TRACE_ON", code, resp.Code, resp.ExtFields, remoting.TopicNotExist)
		}
	}
}
