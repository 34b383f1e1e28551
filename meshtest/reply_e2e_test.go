package meshtest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// TestCluster_RequestReply drives the official client's request-reply: Request
// sends to a topic, a consumer answers with consumer.CreateReplyMessage through
// its own producer (code 324), and the broker pushes the reply (326) to the
// requester, whose Request returns it.
func TestCluster_RequestReply(t *testing.T) {
	c, requester, replyErrs := startRequestReply(t)
	// A background context: v2.1.2 also runs the request's send callback when
	// the caller's context is cancelled, unsynchronised with the reply path,
	// which -race reports when a test cancels right after its reply. The ttl
	// bounds the wait.
	reply, err := requester.Request(context.Background(), 20*time.Second, primitive.NewMessage("TopicTest", []byte("ping")))
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	if string(reply.Body) != "re: ping" {
		t.Errorf("reply body %q, want %q", reply.Body, "re: ping")
	}
	if err := <-replyErrs; err != nil {
		t.Errorf("responder's send of the reply: %v", err)
	}
	checkOneReply(t, c)
}

// TestCluster_RequestAsyncReply is TestCluster_RequestReply through
// RequestAsync: the callback gets the pushed reply, not a timeout.
func TestCluster_RequestAsyncReply(t *testing.T) {
	c, requester, replyErrs := startRequestReply(t)
	type result struct {
		msg *primitive.Message
		err error
	}
	done := make(chan result, 1)
	err := requester.RequestAsync(context.Background(), 20*time.Second, func(_ context.Context, m *primitive.Message, err error) {
		done <- result{m, err}
	}, primitive.NewMessage("TopicTest", []byte("ping-async")))
	if err != nil {
		t.Fatalf("RequestAsync: %v", err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(DefaultTimeout):
		t.Fatal("RequestAsync's callback never ran")
	}
	if r.err != nil {
		t.Fatalf("RequestAsync callback: %v", r.err)
	}
	if string(r.msg.Body) != "re: ping-async" {
		t.Errorf("reply body %q, want %q", r.msg.Body, "re: ping-async")
	}
	if err := <-replyErrs; err != nil {
		t.Errorf("responder's send of the reply: %v", err)
	}
	checkOneReply(t, c)
}

// startRequestReply starts a cluster with a responder that answers every
// request on TopicTest with consumer.CreateReplyMessage through its own
// producer (code 324), and a requester whose heartbeat reached broker-a, so
// that the broker can push it the reply (326). replyErrs carries the result
// of each reply's send.
func startRequestReply(t *testing.T) (c *Cluster, requester rocketmq.Producer, replyErrs chan error) {
	t.Helper()
	c = RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	responder := newProducer(t, c)
	group := name("cg")
	replyErrs = make(chan error, 16)
	pc := newPushConsumer(t, c, group, name("ci"), "TopicTest", &Collector{}, func(m *primitive.MessageExt) consumer.ConsumeResult {
		if consumer.GetReplyToClient(m) == "" {
			return consumer.ConsumeSuccess // the requester's warm-up message
		}
		reply, err := consumer.CreateReplyMessage(m, nil)
		if err != nil {
			replyErrs <- err
			return consumer.ConsumeSuccess
		}
		reply.Body = append([]byte("re: "), m.Body...) // v2.1.2's CreateReplyMessage drops the body
		ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
		defer cancel()
		_, err = responder.SendSync(ctx, reply)
		replyErrs <- err
		return consumer.ConsumeSuccess
	})
	StartConsumer(t, c, group, pc)
	inst := name("requester")
	requester = newProducer(t, c, producer.WithInstanceName(inst))
	// The broker pushes a reply over the connection that carried the
	// requester's heartbeat, and refuses it before (so does a real broker).
	// v2.1.2 heartbeats only brokers it has a route to, first one second
	// after Start: a send before then makes that first heartbeat reach
	// broker-a.
	sendN(t, requester, "TopicTest", "warm", 1)
	WaitFor(t, "the requester's heartbeat", func() bool {
		for _, r := range c.Broker("broker-a").Requests(remoting.CodeHeartBeat) {
			if strings.HasSuffix(r.ClientID, "@"+inst) {
				return true
			}
		}
		return false
	})
	return c, requester, replyErrs
}

// checkOneReply checks that exactly one reply was sent and stored.
func checkOneReply(t *testing.T, c *Cluster) {
	t.Helper()
	replyTopic := c.ClusterName() + "_REPLY_TOPIC"
	if got := c.Messages(replyTopic); len(got) != 1 {
		t.Errorf("%d stored replies on %s, want 1", len(got), replyTopic)
	}
	var pushes int
	for _, b := range c.BrokerNames() {
		pushes += len(c.Broker(b).Requests(remoting.CodeSendReplyMessage)) + len(c.Broker(b).Requests(remoting.CodeSendReplyMessageV2))
	}
	if pushes != 1 {
		t.Errorf("%d reply sends, want 1", pushes)
	}
}

// TestCluster_ReplyWithoutRequester checks 4.9.8's answer to a reply whose
// requesting client has no connection: SYSTEM_ERROR naming the client.
func TestCluster_ReplyWithoutRequester(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4))
	p := newProducer(t, c)
	reply := primitive.NewMessage(c.ClusterName()+"_REPLY_TOPIC", []byte("orphan"))
	reply.WithProperty(primitive.PropertyMsgType, "reply")
	reply.WithProperty(primitive.PropertyMessageReplyToClient, "10.9.9.9@gone")
	reply.WithProperty(primitive.PropertyCorrelationID, "c-1")
	_, err := p.SendSync(context.Background(), reply)
	if err == nil || !strings.Contains(err.Error(), "push reply message fail, channel of <10.9.9.9@gone> not found.") {
		t.Fatalf("SendSync of an orphan reply: %v, want SYSTEM_ERROR naming the client", errors.Unwrap(err))
	}
	// 4.9.8's ReplyMessageProcessor stores the reply whatever the push gave
	// (storeReplyMessageEnable).
	if got := c.Messages(c.ClusterName() + "_REPLY_TOPIC"); len(got) != 1 || string(got[0].Body) != "orphan" {
		t.Errorf("stored replies %+v, want the orphan", got)
	}
}
