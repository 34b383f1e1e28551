package meshtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Tests of PULL_MESSAGE (cmd_pull.go: 11): push and pull consumers of the
// official client, replica reads, and the long poll on the wire.

func TestCluster_PushConsumerReceivesAll(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	p := newProducer(t, c)
	const n = 20
	for i := 0; i < n; i++ {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage("TopicTest", []byte(fmt.Sprint("m", i)))); err != nil {
			t.Fatalf("SendSync %d: %v", i, err)
		}
	}
	var got Collector
	startPushConsumer(t, c, name("cg"), "TopicTest", &got, nil)
	WaitFor(t, "all messages", func() bool { return got.Distinct() == n })
}

func TestCluster_PullConsumerPolls(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "TopicTest", "p", 6)
	group := name("cg")
	pc, err := rocketmq.NewPullConsumer(
		consumer.WithNameServer([]string{c.NameServerAddr()}),
		consumer.WithGroupName(group),
		consumer.WithInstance(name("ci")),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("TopicTest", consumer.MessageSelector{}); err != nil {
		t.Fatal(err)
	}
	StartConsumer(t, c, group, pc)
	seen := map[string]bool{}
	deadline := time.Now().Add(DefaultTimeout)
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

func TestCluster_ReplicaServesPullsAfterSuggest(t *testing.T) {
	c := RunCluster(t, WithBroker("broker-a", 1), WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	b := c.Broker("broker-a")
	replica := b.Replica(1)
	b.SuggestReplica(1)
	var got Collector
	startPushConsumer(t, c, name("cg"), "TopicTest", &got, nil)
	sendN(t, p, "TopicTest", "s", 10)
	WaitFor(t, "all consumed", func() bool { return got.Distinct() == 10 })
	WaitFor(t, "replica pulls", func() bool { return replica.RequestCount(11) > 0 })
	if replica.RequestCount(34) == 0 {
		t.Errorf("replica saw no heartbeat")
	}
	if replica.RequestCount(10) != 0 {
		t.Errorf("replica received sends")
	}
}

func TestBroker_PullLongPollWakesOnSend(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 1), WithTimeScale(100)) // suspensions effectively never time out
	b := c.Broker("broker-a")
	rc := dialRaw(t, b.Addr())
	hb := `{"clientID":"127.0.0.1@raw","producerDataSet":[],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"topic":"TopicTest","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1,"expressionType":"TAG"}],"unitMode":false}]}`
	resp, before := rc.callAnswered(remoting.CodeHeartBeat, nil, []byte(hb))
	if resp.Code != remoting.Success {
		t.Fatalf("heartbeat: %d %s", resp.Code, resp.Remark)
	}
	if len(before) != 1 || before[0].Code != remoting.CodeNotifyConsumerIDsChanged || before[0].Flag != remoting.FlagOneway || before[0].Ext("consumerGroup") != "g" {
		t.Fatalf("expected one 40 before the answer to the first registration, got %+v", before)
	}
	rc.op++
	req := remoting.NewRequest(remoting.CodePullMessage, map[string]string{
		"consumerGroup": "g", "topic": "TopicTest", "queueId": "0", "queueOffset": "0", "maxMsgNums": "32",
		"sysFlag": "2", "commitOffset": "0", "suspendTimeoutMillis": "20000", "subscription": "", "subVersion": "0", "expressionType": "TAG",
	}, nil)
	req.Opaque = rc.op
	if err := remoting.WriteCommand(rc.nc, req); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "pull suspended", func() bool { return b.SuspendedPulls() == 1 })
	send := dialRaw(t, b.Addr())
	sresp := send.call(remoting.CodeSendMessage, map[string]string{"producerGroup": "p", "topic": "TopicTest", "queueId": "0", "properties": "TAGS\x01T\x02", "sysFlag": "0", "bornTimestamp": "1", "flag": "0"}, []byte("hi"))
	if sresp.Code != remoting.Success || sresp.Ext("MSG_REGION") != "DefaultRegion" || sresp.Ext("TRACE_ON") != "true" || len(sresp.Ext("msgId")) != 32 {
		t.Fatalf("send: %d %v", sresp.Code, sresp.ExtFields)
	}
	resp = rc.read()
	if resp.Code != remoting.Success || resp.Remark != "FOUND" || resp.Ext("nextBeginOffset") != "1" || resp.Ext("maxOffset") != "1" || resp.Ext("suggestWhichBrokerId") != "0" {
		t.Fatalf("woken pull: %d %q %v", resp.Code, resp.Remark, resp.ExtFields)
	}
	msgs, err := remoting.DecodeMessages(resp.Body)
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != "hi" || msgs[0].Property("CLUSTER") != "DefaultCluster" {
		t.Fatalf("pulled %v, %v", msgs, err)
	}
	if msgs[0].OffsetMsgID() != sresp.Ext("msgId") {
		t.Errorf("offset msg id %s, send answered %s", msgs[0].OffsetMsgID(), sresp.Ext("msgId"))
	}
	// At the max offset a non-suspended pull answers OFFSET_OVERFLOW_ONE.
	req.ExtFields["queueOffset"], req.ExtFields["sysFlag"] = "1", "0"
	resp = rc.call(remoting.CodePullMessage, req.ExtFields, nil)
	if resp.Code != remoting.PullNotFound || resp.Remark != "OFFSET_OVERFLOW_ONE" {
		t.Errorf("overflow pull: %d %q", resp.Code, resp.Remark)
	}
}

// TestCluster_ReplicaServesConsumersWhileMasterStopped is the official client
// consuming a brokerName whose master stops under it. A consumer that started
// while the master was up knows its offsets; once its route refresh (every
// 30 s) lists only the replica, it pulls from there, and a 4.9.8 replica
// serves those pulls (PullMessageProcessor overwrites the slave's suggestion
// of the master with the status's own code), so everything broker-a stored is
// consumed. A consumer that starts while the master is down cannot do the
// same on its own: the client asks only a master for offsets
// (remoteBrokerOffsetStore.fetchConsumeOffsetFromBroker) and never pulls a
// queue whose offset it could not read.
func TestCluster_ReplicaServesConsumersWhileMasterStopped(t *testing.T) {
	c := RunCluster(t, WithBroker("broker-a", 1), WithBroker("broker-b", 0), WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	const n = 40
	sendN(t, p, "TopicTest", "s", n)
	master := c.Broker("broker-a")
	replica := master.Replica(1)
	onA := len(master.Messages("TopicTest"))
	if onA == 0 {
		t.Fatal("no message stored on broker-a")
	}
	// The consumer starts with the master up, so it knows its offsets, but
	// the master refuses its pulls: broker-a's messages are all still to be
	// read when the master stops.
	master.SetError(remoting.CodePullMessage, remoting.SystemBusy, "busy")
	var got Collector
	startPushConsumer(t, c, name("cg"), "TopicTest", &got, nil)
	WaitFor(t, "the consumer's pulls of broker-a refused", func() bool { return master.RequestCount(remoting.CodePullMessage) > 0 })
	master.Stop()
	if n := got.PerBroker()["broker-a"]; n != 0 {
		t.Fatalf("%d of broker-a's messages consumed while its master refused pulls", n)
	}
	// The client's route refresh, not time-scaled, comes within 30 s.
	deadline := time.Now().Add(2 * DefaultTimeout)
	for got.Distinct() < n {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d messages (%v) with broker-a's master stopped; the replica answered %d pulls", got.Distinct(), n, got.PerBroker(), replica.RequestCount(remoting.CodePullMessage))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := got.PerBroker()["broker-a"]; n != onA {
		t.Errorf("consumed %d of broker-a's %d messages", n, onA)
	}
	if replica.RequestCount(remoting.CodePullMessage) == 0 {
		t.Error("the replica answered no pull")
	}
}
