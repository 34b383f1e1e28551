package meshtest

import (
	"context"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Tests of ACL signatures (acl.go), on the wire and with the official client.

func TestBroker_ACLRejectsBadSignature(t *testing.T) {
	c := RunCluster(t, WithACL("AK", "SK"))
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	ext := map[string]string{"topic": "TBW102", "queueId": "0", "AccessKey": "AK"}
	ext["Signature"] = remoting.ACLSignature(ext, nil, "SK")
	if resp := rc.call(remoting.CodeGetMaxOffset, ext, nil); resp.Code != remoting.Success {
		t.Errorf("signed request: %d %q", resp.Code, resp.Remark)
	}
	ext["Signature"] = "bad"
	resp := rc.call(remoting.CodeGetMaxOffset, ext, nil)
	if resp.Code != remoting.SystemError || resp.Remark != RemarkACLSignature("AK") {
		t.Errorf("bad signature: %d %q", resp.Code, resp.Remark)
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
