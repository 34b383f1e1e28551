package meshtest

import (
	"testing"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Tests of POP_MESSAGE and ACK_MESSAGE (cmd_pop.go: 200050, 200051) on the wire:
// rocketmq-client-go v2.1.2 has no pop consumer.

func TestBroker_PopReadsFromTheGroupOffsetAndAcks(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithPop(true))
	b := c.Broker("broker-a")
	rc := dialRaw(t, b.Addr())
	for _, body := range []string{"one", "two"} {
		resp := rc.call(remoting.CodeSendMessage, map[string]string{"producerGroup": "p", "topic": "TopicTest", "queueId": "1", "sysFlag": "0", "bornTimestamp": "1", "flag": "0"}, []byte(body))
		if resp.Code != remoting.Success {
			t.Fatalf("send %q: %d %q", body, resp.Code, resp.Remark)
		}
	}
	pop := map[string]string{"consumerGroup": "g", "topic": "TopicTest", "queueId": "-1", "maxMsgNums": "1", "invisibleTime": "60000"}
	var got []string
	for range 2 {
		resp := rc.call(remoting.CodePopMessage, pop, nil)
		if resp.Code != remoting.Success || resp.Ext("invisibleTime") != "60000" || resp.Ext("startOffsetInfo") == "" {
			t.Fatalf("pop: %d %q %v", resp.Code, resp.Remark, resp.ExtFields)
		}
		msgs, err := remoting.DecodeMessages(resp.Body)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("popped %d messages (%v), want 1", len(msgs), err)
		}
		got = append(got, string(msgs[0].Body))
	}
	if got[0] != "one" || got[1] != "two" {
		t.Errorf("popped %q, want the queue's messages in order", got)
	}
	if off, _ := c.ConsumerOffset("g", "TopicTest", 1); off != 2 {
		t.Errorf("the group's offset is %d after two pops, want 2", off)
	}
	if resp := rc.call(remoting.CodePopMessage, pop, nil); resp.Code != remoting.PullNotFound {
		t.Errorf("pop of an empty queue: %d %q, want %d", resp.Code, resp.Remark, remoting.PullNotFound)
	}
	if resp := rc.call(remoting.CodeAckMessage, map[string]string{"consumerGroup": "g", "topic": "TopicTest", "queueId": "1", "offset": "0"}, nil); resp.Code != remoting.Success {
		t.Errorf("ack: %d %q", resp.Code, resp.Remark)
	}
	if resp := rc.call(remoting.CodePopMessage, map[string]string{"consumerGroup": "g", "topic": "Nope", "queueId": "-1", "maxMsgNums": "1"}, nil); resp.Code != remoting.TopicNotExist {
		t.Errorf("pop of an unknown topic: %d %q, want %d", resp.Code, resp.Remark, remoting.TopicNotExist)
	}
}

// TestBroker_PopRefusedByDefault checks that without WithPop a broker answers
// POP and ACK as 4.9.8 does: AdminBrokerProcessor, the default processor,
// answers REQUEST_CODE_NOT_SUPPORTED.
func TestBroker_PopRefusedByDefault(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2))
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	for _, code := range []int32{remoting.CodePopMessage, remoting.CodeAckMessage} {
		resp := rc.call(code, map[string]string{"consumerGroup": "g", "topic": "TopicTest", "queueId": "-1", "maxMsgNums": "1"}, nil)
		if resp.Code != remoting.RequestCodeNotSupported || resp.Remark != RemarkNotSupported(code) {
			t.Errorf("%d: code %d %q, want %d %q", code, resp.Code, resp.Remark, remoting.RequestCodeNotSupported, RemarkNotSupported(code))
		}
	}
}
