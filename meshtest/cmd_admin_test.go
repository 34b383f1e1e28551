package meshtest

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
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

// newAdmin starts the official client's admin against c's nameserver.
func newAdmin(t *testing.T, c *Cluster) admin.Admin {
	t.Helper()
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{c.NameServerAddr()})))
	if err != nil {
		t.Fatalf("NewAdmin: %v", err)
	}
	t.Cleanup(func() { adm.Close() })
	return adm
}

// TestCluster_AdminFetchAllTopicList checks GET_ALL_TOPIC_LIST_FROM_NAMESERVER
// (206): every routed topic, the broker's system topics among them.
func TestCluster_AdminFetchAllTopicList(t *testing.T) {
	c := RunCluster(t, WithBroker("broker-a", 0), WithBroker("broker-b", 0), WithTopic("TopicTest", 4))
	c.Broker("broker-b").set.store.createTopic(&topicConfig{name: "OnlyB", read: 1, write: 1, perm: permReadWrite})
	adm := newAdmin(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	list, err := adm.FetchAllTopicList(ctx)
	if err != nil {
		t.Fatalf("FetchAllTopicList: %v", err)
	}
	for _, want := range []string{"TopicTest", "OnlyB", DefaultTopicKey, "DefaultCluster", "broker-a", "broker-b", "SELF_TEST_TOPIC"} {
		if !slices.Contains(list.TopicList, want) {
			t.Errorf("topic list %v lacks %q", list.TopicList, want)
		}
	}
}

// TestCluster_AdminGetAllSubscriptionGroup checks GET_ALL_SUBSCRIPTIONGROUP_CONFIG
// (201): the broker's built-in groups and those its consumers' heartbeats
// created, with 4.9.8's defaults.
func TestCluster_AdminGetAllSubscriptionGroup(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	group := name("cg")
	startPushConsumer(t, c, group, "TopicTest", &Collector{}, nil)
	adm := newAdmin(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	w, err := adm.GetAllSubscriptionGroup(ctx, c.Broker("broker-a").Addr(), 3*time.Second)
	if err != nil {
		t.Fatalf("GetAllSubscriptionGroup: %v", err)
	}
	for _, want := range []string{group, "TOOLS_CONSUMER", "SELF_TEST_C_GROUP", "CID_RMQ_SYS_TRANS"} {
		if _, ok := w.SubscriptionGroupTable[want]; !ok {
			t.Errorf("subscription groups %v lack %q", slices.Collect(maps.Keys(w.SubscriptionGroupTable)), want)
		}
	}
	g := w.SubscriptionGroupTable[group]
	want := admin.SubscriptionGroupConfig{GroupName: group, ConsumeEnable: true, ConsumeFromMinEnable: true,
		ConsumeBroadcastEnable: true, RetryMaxTimes: 16, RetryQueueNums: 1, WhichBrokerWhenConsumeSlowly: 1,
		NotifyConsumerIdsChangedEnable: true}
	if g != want {
		t.Errorf("group config %+v, want %+v", g, want)
	}
	if w.DataVersion.Timestamp == 0 || w.DataVersion.Counter == 0 {
		t.Errorf("data version %+v, want a timestamp and a counter", w.DataVersion)
	}
}

// TestCluster_AdminDeleteTopic checks DELETE_TOPIC_IN_BROKER (215) and
// DELETE_TOPIC_IN_NAMESRV (216) through the official admin's DeleteTopic: the
// topic leaves the broker and stops answering routes.
func TestCluster_AdminDeleteTopic(t *testing.T) {
	c := RunCluster(t, WithTopic("Doomed", 2), WithTopic("Kept", 2), WithAutoCreateTopics(false))
	p := newProducer(t, c)
	sendN(t, p, "Doomed", "d", 2)
	adm := newAdmin(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	if err := adm.DeleteTopic(ctx, admin.WithTopicDelete("Doomed")); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	if tc := c.Broker("broker-a").set.store.topic("Doomed"); tc != nil {
		t.Errorf("the broker still holds %v", tc)
	}
	rc := dialRaw(t, c.NameServerAddr())
	if resp := rc.call(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "Doomed"}, nil); resp.Code != remoting.TopicNotExist {
		t.Errorf("route of the deleted topic: code %d %s, want %d", resp.Code, resp.Body, remoting.TopicNotExist)
	}
	if resp := rc.call(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "Kept"}, nil); resp.Code != remoting.Success {
		t.Errorf("route of another topic: code %d %q", resp.Code, resp.Remark)
	}
	list, err := adm.FetchAllTopicList(ctx)
	if err != nil {
		t.Fatalf("FetchAllTopicList: %v", err)
	}
	if slices.Contains(list.TopicList, "Doomed") || !slices.Contains(list.TopicList, "Kept") {
		t.Errorf("topic list after delete: %v", list.TopicList)
	}
	if got := c.Messages("Doomed"); len(got) != 0 {
		t.Errorf("%d messages of the deleted topic remain", len(got))
	}
	// A fresh producer finds no route (auto-creation is off).
	fresh := newProducer(t, c)
	if _, err := fresh.SendSync(ctx, primitive.NewMessage("Doomed", []byte("late"))); err == nil {
		t.Error("a send to the deleted topic succeeded")
	}
}

// TestBroker_DeleteInBrokerKeepsNameServerRoute checks that 215 alone leaves
// the nameserver's route, as 4.9.8 does (the broker does not re-register on a
// delete), and 216 removes it; a later create routes the topic again.
func TestBroker_DeleteInBrokerKeepsNameServerRoute(t *testing.T) {
	c := RunCluster(t, WithTopic("Doomed", 2))
	b := dialRaw(t, c.Broker("broker-a").Addr())
	if resp := b.call(remoting.CodeDeleteTopicInBroker, map[string]string{"topic": "Doomed"}, nil); resp.Code != remoting.Success {
		t.Fatalf("215: code %d %q", resp.Code, resp.Remark)
	}
	ns := dialRaw(t, c.NameServerAddr())
	if resp := ns.call(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "Doomed"}, nil); resp.Code != remoting.Success {
		t.Errorf("route after 215 alone: code %d, want the route still registered", resp.Code)
	}
	if resp := ns.call(remoting.CodeDeleteTopicInNameSrv, map[string]string{"topic": "Doomed"}, nil); resp.Code != remoting.Success {
		t.Fatalf("216: code %d %q", resp.Code, resp.Remark)
	}
	if resp := ns.call(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "Doomed"}, nil); resp.Code != remoting.TopicNotExist {
		t.Errorf("route after 216: code %d, want %d", resp.Code, remoting.TopicNotExist)
	}
	if resp := b.call(remoting.CodeUpdateAndCreateTopic, map[string]string{"topic": "Doomed", "readQueueNums": "1", "writeQueueNums": "1", "perm": "6"}, nil); resp.Code != remoting.Success {
		t.Fatalf("17: code %d %q", resp.Code, resp.Remark)
	}
	if resp := ns.call(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "Doomed"}, nil); resp.Code != remoting.Success {
		t.Errorf("route after re-creating: code %d", resp.Code)
	}
}

// TestBroker_AdminRefusedOnReplica checks that a replica refuses topic
// changes (17, 215) as a 4.9.8 slave does.
func TestBroker_AdminRefusedOnReplica(t *testing.T) {
	c := RunCluster(t, WithBroker("broker-a", 1), WithTopic("Kept", 2))
	replica := c.Broker("broker-a").Replica(1)
	adm := newAdmin(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	// v2.1.2's CreateTopic does not look at the answer's code.
	_ = adm.CreateTopic(ctx, admin.WithTopicCreate("FromReplica"), admin.WithBrokerAddrCreate(replica.Addr()))
	if tc := c.Broker("broker-a").set.store.topic("FromReplica"); tc != nil {
		t.Errorf("a create on the replica made %v", tc)
	}
	rc := dialRaw(t, replica.Addr())
	want := "Can't modify topic or subscription group from slave broker, please execute it from master broker."
	for _, code := range []int32{remoting.CodeUpdateAndCreateTopic, remoting.CodeDeleteTopicInBroker} {
		resp := rc.call(code, map[string]string{"topic": "Kept", "readQueueNums": "1", "writeQueueNums": "1", "perm": "6"}, nil)
		if resp.Code != remoting.SystemError || resp.Remark != want {
			t.Errorf("%d on the replica: code %d %q, want %d %q", code, resp.Code, resp.Remark, remoting.SystemError, want)
		}
	}
	if tc := c.Broker("broker-a").set.store.topic("Kept"); tc == nil || tc.read != 2 {
		t.Errorf("the replica changed topic Kept: %v", tc)
	}
}

// TestBroker_CreateTopicNamedAsSystemTopic checks that the cluster's and the
// brokers' own topic names are refused as system topics by 17.
func TestBroker_CreateTopicNamedAsSystemTopic(t *testing.T) {
	c := RunCluster(t)
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	for _, topic := range []string{"DefaultCluster", "broker-a", "SELF_TEST_TOPIC"} {
		resp := rc.call(remoting.CodeUpdateAndCreateTopic, map[string]string{"topic": topic, "readQueueNums": "1", "writeQueueNums": "1", "perm": "6"}, nil)
		want := "The topic[" + topic + "] is conflict with system topic."
		if resp.Code != remoting.SystemError || resp.Remark != want {
			t.Errorf("create %q: code %d %q, want %d %q", topic, resp.Code, resp.Remark, remoting.SystemError, want)
		}
	}
}
