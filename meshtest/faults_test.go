package meshtest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Tests of the fault verbs (faults.go), on the wire and with the official client.

func TestBroker_FaultVerbs(t *testing.T) {
	c := RunCluster(t)
	b := c.Broker("broker-a")
	rc := dialRaw(t, b.Addr())
	b.SetError(remoting.CodeGetMaxOffset, remoting.SystemBusy, "busy")
	if resp := rc.call(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102"}, nil); resp.Code != remoting.SystemBusy || resp.Remark != "busy" {
		t.Errorf("SetError: %d %q", resp.Code, resp.Remark)
	}
	b.ClearErrors()
	b.SetDelay(remoting.CodeGetMaxOffset, 50*time.Millisecond)
	if resp := rc.call(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102"}, nil); resp.Code != remoting.Success {
		t.Errorf("delayed: %d", resp.Code)
	}
	b.ClearErrors()
	b.Kill()
	if _, err := net.DialTimeout("tcp", b.Addr(), time.Second); err == nil {
		t.Errorf("dial a killed broker succeeded")
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	rc = dialRaw(t, b.Addr())
	if resp := rc.call(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102"}, nil); resp.Code != remoting.Success {
		t.Errorf("after restart: %d", resp.Code)
	}
	b.CloseClientConnections()
	rc.nc.SetReadDeadline(time.Now().Add(DefaultTimeout))
	if _, err := rc.r.ReadByte(); err == nil {
		t.Errorf("connection still open after CloseClientConnections")
	}
}

func TestCluster_BrokerStopRestart(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "TopicTest", "before", 1) // body "before0"
	b := c.Broker("broker-a")
	b.Stop()
	if _, err := p.SendSync(context.Background(), primitive.NewMessage("TopicTest", []byte("during"))); err == nil {
		t.Errorf("send to a stopped broker succeeded")
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	var err error
	deadline := time.Now().Add(DefaultTimeout)
	for time.Now().Before(deadline) {
		if _, err = p.SendSync(context.Background(), primitive.NewMessage("TopicTest", []byte("after"))); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("send after restart: %v", err)
	}
	c.CheckBodies(t, "TopicTest", "before0", "after")
}

func TestBroker_HoldAnswersOnRelease(t *testing.T) {
	c := RunCluster(t)
	b := c.Broker("broker-a")
	rc := dialRaw(t, b.Addr())
	release := c.Hold(remoting.CodeGetMaxOffset)
	rc.op++
	held := remoting.NewRequest(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102", "queueId": "0"}, nil)
	held.Opaque = rc.op
	if err := remoting.WriteCommand(rc.nc, held); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, "the held request to arrive", func() bool { return b.RequestCount(remoting.CodeGetMaxOffset) == 1 })
	// Other codes on the same connection are answered meanwhile.
	if resp := rc.call(remoting.CodeGetMinOffset, map[string]string{"topic": "TBW102", "queueId": "0"}, nil); resp.Code != remoting.Success || resp.Opaque != rc.op {
		t.Fatalf("a request behind a held one: code %d opaque %d, want the answer to opaque %d", resp.Code, resp.Opaque, rc.op)
	}
	release()
	release() // safe twice
	if resp := rc.read(); resp.Code != remoting.Success || resp.Opaque != held.Opaque {
		t.Errorf("after release: code %d opaque %d, want the held request's answer (opaque %d)", resp.Code, resp.Opaque, held.Opaque)
	}
	if resp := rc.call(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102", "queueId": "0"}, nil); resp.Code != remoting.Success || resp.Opaque != rc.op {
		t.Errorf("after release a new request was not answered at once: code %d opaque %d", resp.Code, resp.Opaque)
	}
}

func TestCluster_NotifyConsumerIDsChangedSwitch(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 1))
	b := c.Broker("broker-a")
	// heartbeat returns the broker's requests that came before its answer.
	heartbeat := func(rc *rawClient, id string) []*remoting.Command {
		t.Helper()
		hb := `{"clientID":"` + id + `","producerDataSet":[],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[],"unitMode":false}]}`
		resp, before := rc.callAnswered(remoting.CodeHeartBeat, nil, []byte(hb))
		if resp.Code != remoting.Success {
			t.Fatalf("heartbeat of %s: %d %s", id, resp.Code, resp.Remark)
		}
		return before
	}
	on := dialRaw(t, b.Addr())
	if n := heartbeat(on, "127.0.0.1@on"); len(n) != 1 || n[0].Code != remoting.CodeNotifyConsumerIDsChanged {
		t.Fatalf("with notifications on, a new member got %+v before the heartbeat's answer, want one 40", n)
	}
	if sent := b.SentRequests(remoting.CodeNotifyConsumerIDsChanged); len(sent) != 1 || sent[0].ClientID != "127.0.0.1@on" || sent[0].ExtFields["consumerGroup"] != "g" {
		t.Errorf("SentRequests(40) = %+v, want one to 127.0.0.1@on for group g", sent)
	}

	if was := c.SetNotifyConsumerIDsChanged(false); !was {
		t.Errorf("SetNotifyConsumerIDsChanged(false) reported notifications were off")
	}
	off := dialRaw(t, b.Addr())
	// The broker notifies before it answers a heartbeat, on the same
	// connection; with notifications off nothing comes before the answer.
	if n := heartbeat(off, "127.0.0.1@off"); len(n) != 0 {
		t.Errorf("with notifications off, a new member got %+v before the heartbeat's answer, want nothing", n)
	}
	if n := len(b.SentRequests(remoting.CodeNotifyConsumerIDsChanged)); n != 1 {
		t.Errorf("with notifications off the broker sent %d notifications in all, want still 1", n)
	}
	c.SetNotifyConsumerIDsChanged(true)
}

func TestBroker_RestartElsewhere(t *testing.T) {
	c := RunCluster(t, WithTopic("orders", 4))
	b := c.Broker("broker-a")
	old := b.Addr()
	if err := b.RestartElsewhere(); err == nil {
		t.Error("RestartElsewhere of a running broker succeeded")
	}
	b.Stop()
	if err := b.RestartElsewhere(); err != nil {
		t.Fatal(err)
	}
	if b.Addr() == old {
		t.Fatalf("address %s unchanged", old)
	}
	ns := dialRaw(t, c.NameServerAddr())
	resp := ns.call(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "orders"}, nil)
	rd, err := remoting.DecodeTopicRouteData(resp.Body)
	if err != nil || rd.BrokerDatas[0].BrokerAddrs[0] != b.Addr() {
		t.Errorf("route after the move: %+v, %v; want broker-a at %s", rd, err, b.Addr())
	}
	if resp := dialRaw(t, b.Addr()).call(remoting.CodeGetMaxOffset, map[string]string{"topic": "orders", "queueId": "0"}, nil); resp.Code != remoting.Success {
		t.Errorf("at the new address: code %d", resp.Code)
	}
}

// TestBroker_GoAway: every request is answered 1500 with RocketMQ 5's remark,
// on connections opened before and after; Restart ends it.
func TestBroker_GoAway(t *testing.T) {
	c := RunCluster(t)
	b := c.Broker("broker-a")
	before := dialRaw(t, b.Addr())
	b.GoAway()
	for _, rc := range []*rawClient{before, dialRaw(t, b.Addr())} {
		if resp := rc.call(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102", "queueId": "0"}, nil); resp.Code != CodeGoAway || resp.Remark != "please go away" {
			t.Errorf("going away: %d %q, want %d %q", resp.Code, resp.Remark, CodeGoAway, "please go away")
		}
	}
	b.Stop()
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if resp := dialRaw(t, b.Addr()).call(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102", "queueId": "0"}, nil); resp.Code != remoting.Success {
		t.Errorf("after Restart: %d %q, want success", resp.Code, resp.Remark)
	}
}

// TestBroker_ReplicaOffsets: a replica answers offset queries from the
// master's table while the master runs and keeps commits of its own, which
// win while the master is down and are forgotten (overwritten by the sync)
// once it is back; the master never sees them.
func TestBroker_ReplicaOffsets(t *testing.T) {
	c := RunCluster(t, WithBroker("broker-a", 1), WithTopic("TopicTest", 1))
	master := c.Broker("broker-a")
	replica := master.Replica(1)
	query := func(rc *rawClient) string {
		t.Helper()
		resp := rc.call(remoting.CodeQueryConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "TopicTest", "queueId": "0"}, nil)
		if resp.Code != remoting.Success {
			t.Fatalf("QUERY_CONSUMER_OFFSET: %d %q", resp.Code, resp.Remark)
		}
		return resp.Ext("offset")
	}
	commit := func(rc *rawClient, off string) {
		t.Helper()
		resp := rc.call(remoting.CodeUpdateConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "TopicTest", "queueId": "0", "commitOffset": off}, nil)
		if resp.Code != remoting.Success {
			t.Fatalf("UPDATE_CONSUMER_OFFSET %s: %d %q", off, resp.Code, resp.Remark)
		}
	}
	commit(dialRaw(t, master.Addr()), "5")
	rep := dialRaw(t, replica.Addr())
	if got := query(rep); got != "5" {
		t.Errorf("replica's offset with the master up: %s, want the master's 5", got)
	}
	master.Stop()
	commit(rep, "9")
	if got := query(rep); got != "9" {
		t.Errorf("replica's offset with the master down, after its own commit: %s, want 9", got)
	}
	if off, _ := master.ConsumerOffset("g", "TopicTest", 0); off != 5 {
		t.Errorf("master's offset %d after a commit to the replica, want 5", off)
	}
	if err := master.Restart(); err != nil {
		t.Fatal(err)
	}
	if got := query(rep); got != "5" {
		t.Errorf("replica's offset once the master is back: %s, want the master's 5", got)
	}
}
