package meshtest

import (
	"strings"
	"testing"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Tests of PULL_MESSAGE's corrections and remarks (cmd_pull.go: 11) that a
// wire comparison with Apache RocketMQ 4.9.8 found wrong (issue 9).

// TestCluster_OffsetBeyondMaxResumesAtEnd checks OFFSET_OVERFLOW_BADLY (21): a
// group whose committed offset is past the queue's end is moved to the end
// (nextBeginOffset is the max offset in 4.9.8, whatever the min offset), so the
// push consumer skips what was stored before and takes only new messages. The
// official client sleeps 10 s on a 21 before it commits the correction.
func TestCluster_OffsetBeyondMaxResumesAtEnd(t *testing.T) {
	c := RunCluster(t, WithTopic("Far", 1), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "Far", "old", 3)
	group := name("cg")
	c.CreateConsumerGroup(group)
	c.Broker("broker-a").set.store.setOffset(group, "Far", 0, 100)
	var got Collector
	startPushConsumer(t, c, group, "Far", &got, nil)
	WaitFor(t, "the client's correction of the committed offset", func() bool {
		off, _ := c.ConsumerOffset(group, "Far", 0)
		return off != 100
	})
	if off, _ := c.ConsumerOffset(group, "Far", 0); off != 3 {
		t.Fatalf("committed offset %d after OFFSET_OVERFLOW_BADLY, want the max offset 3", off)
	}
	sendN(t, p, "Far", "new", 1)
	WaitFor(t, "the new message", func() bool { return got.Bodies()["new0"] > 0 })
	for body := range got.Bodies() {
		if body != "new0" {
			t.Errorf("the consumer got %q, stored before its offset", body)
		}
	}
}

// TestBroker_IllegalQueueRemarksNameTheChannel checks the remarks of a pull and
// a send to a queue the topic lacks: 4.9.8 formats the channel's
// remoteAddress(), an InetSocketAddress, so the address has a leading slash.
func TestBroker_IllegalQueueRemarksNameTheChannel(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2))
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	local := "/" + rc.nc.LocalAddr().String()
	resp := rc.call(remoting.CodePullMessage, map[string]string{"consumerGroup": "g", "topic": "TopicTest", "queueId": "9",
		"queueOffset": "0", "maxMsgNums": "1", "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0", "subVersion": "0"}, nil)
	want := "queueId[9] is illegal, topic:[TopicTest] topicConfig.readQueueNums:[2] consumer:[" + local + "]"
	if resp.Code != remoting.SystemError || resp.Remark != want {
		t.Errorf("pull: code %d %q, want %q", resp.Code, resp.Remark, want)
	}
	resp = rc.call(remoting.CodeSendMessage, map[string]string{"producerGroup": "p", "topic": "TopicTest", "queueId": "9",
		"sysFlag": "0", "bornTimestamp": "1", "flag": "0"}, []byte("x"))
	if resp.Code != remoting.SystemError || !strings.HasSuffix(resp.Remark, " Producer: "+local) {
		t.Errorf("send: code %d %q, want the remark to end with %q", resp.Code, resp.Remark, " Producer: "+local)
	}
}
