package meshtest

import (
	"context"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Tests of the admin family (cmd_admin.go: 17 UPDATE_AND_CREATE_TOPIC) with the
// official client's admin.

func TestCluster_AdminCreatesTopic(t *testing.T) {
	c := RunCluster(t, WithAutoCreateTopics(false))
	b := c.Broker("broker-a")
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{c.NameServerAddr()})))
	if err != nil {
		t.Fatalf("NewAdmin: %v", err)
	}
	defer adm.Close()
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	err = adm.CreateTopic(ctx, admin.WithTopicCreate("Created"), admin.WithBrokerAddrCreate(b.Addr()),
		admin.WithReadQueueNums(2), admin.WithWriteQueueNums(3))
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	if tc := b.set.store.topic("Created"); tc == nil || tc.read != 2 || tc.write != 3 {
		t.Fatalf("the broker holds topic %+v, want 2 read and 3 write queues", tc)
	}
	// The new topic is routed and takes sends, with auto-creation off.
	p := newProducer(t, c)
	if _, err := p.SendSync(ctx, primitive.NewMessage("Created", []byte("x"))); err != nil {
		t.Fatalf("send to the created topic: %v", err)
	}
	c.CheckBodies(t, "Created", "x")
}
