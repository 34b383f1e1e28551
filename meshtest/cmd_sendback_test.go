package meshtest

import (
	"testing"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Tests of CONSUMER_SEND_MSG_BACK (cmd_sendback.go: 36) with the official
// client: retries through %RETRY%group and the dead letter queue.

func TestCluster_RetryLaterRedelivers(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 1), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "TopicTest", "r", 1)
	group := name("cg")
	var got Collector
	startPushConsumer(t, c, group, "TopicTest", &got, func(m *primitive.MessageExt) consumer.ConsumeResult {
		if m.ReconsumeTimes == 0 {
			return consumer.ConsumeRetryLater
		}
		return consumer.ConsumeSuccess
	})
	WaitFor(t, "redelivery", func() bool { return got.Len() >= 2 })
	second := got.Messages()[1]
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
	var got Collector
	startPushConsumer(t, c, group, "TopicTest", &got, func(*primitive.MessageExt) consumer.ConsumeResult {
		return consumer.ConsumeRetryLater
	}, consumer.WithMaxReconsumeTimes(2))
	dlq := DLQTopicPrefix + group
	WaitFor(t, "dead letter", func() bool { return len(c.Messages(dlq)) == 1 })
	m := c.Messages(dlq)[0]
	if string(m.Body) != "d0" || m.ReconsumeTimes != 3 || m.Properties["RETRY_TOPIC"] != "TopicTest" {
		t.Errorf("dead letter %+v", m)
	}
	if n := got.Len(); n != 3 {
		t.Errorf("consumed %d times, want 3 (first delivery + 2 retries)", n)
	}
}
