package meshtest

import (
	"testing"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Tests of the client family (cmd_client.go: 34 heartbeat, 35, 38, and the
// broker's 40) with the official client.

func TestCluster_TwoConsumersRebalance(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	p := newProducer(t, c)
	group := name("cg")
	var got1, got2 Collector
	startPushConsumer(t, c, group, "TopicTest", &got1, nil)
	b := c.Broker("broker-a")
	if ids := b.ConsumerIDs(group); len(ids) != 1 {
		t.Fatalf("after the first consumer started the group holds %q, want one member", ids)
	}
	first := b.ConsumerIDs(group)[0]
	before := b.RequestCount(remoting.CodeGetConsumerListByGroup)
	startPushConsumer(t, c, group, "TopicTest", &got2, nil)
	if ids := b.ConsumerIDs(group); len(ids) != 2 {
		t.Fatalf("after the second consumer started the group holds %q, want two members", ids)
	}
	// The first consumer is told (40) and asks for the new member list (38);
	// StartConsumer has waited for both to finish rebalancing.
	told := 0
	for _, r := range b.SentRequests(remoting.CodeNotifyConsumerIDsChanged) {
		if r.ClientID == first && r.ExtFields["consumerGroup"] == group {
			told++
		}
	}
	if told < 2 {
		t.Errorf("the first consumer was notified %d times, want 2 (its own start and the second's)", told)
	}
	if n := b.RequestCount(remoting.CodeGetConsumerListByGroup); n <= before+1 {
		t.Errorf("the broker answered %d consumer lists after the second consumer started, want more than 1", n-before)
	}
	sendN(t, p, "TopicTest", "q", 40)
	WaitFor(t, "all consumed", func() bool { return got1.Distinct()+got2.Distinct() >= 40 })
	q1, q2 := got1.Queues(), got2.Queues()
	for q := range q1 {
		if q2[q] {
			t.Errorf("queue %d consumed by both consumers (q1 %v, q2 %v)", q, q1, q2)
		}
	}
	if len(q1) == 0 || len(q2) == 0 {
		t.Errorf("queues not shared: q1 %v, q2 %v", q1, q2)
	}
}

// TestStartConsumer_ReplayedHeartbeatIsNoSecondRound sends a broker what
// rmqmesh's relay sends it for one client: the client's heartbeat on the
// relay's first upstream connection and, when the relay opens another
// connection to the same broker (to an endpoint that moved, or to another
// broker's master), the same heartbeat replayed there under an opaque of the
// relay's own. That is two heartbeats of the client at one broker within its
// first round, which a count per broker took for the periodic round
// StartConsumer waits for; the rounds are what one connection carried.
func TestStartConsumer_ReplayedHeartbeatIsNoSecondRound(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4))
	b := c.Broker("broker-a")
	const id = "127.0.0.1@replayed"
	hb := []byte(`{"clientID":"` + id + `","producerDataSet":[],"consumerDataSet":[]}`)
	heartbeat := func(rc *rawClient, opaque int32) {
		t.Helper()
		req := remoting.NewRequest(remoting.CodeHeartBeat, nil, hb)
		req.Opaque = opaque
		if err := remoting.WriteCommand(rc.nc, req); err != nil {
			t.Fatal(err)
		}
		if resp := rc.read(); resp.Code != remoting.Success || resp.Opaque != opaque {
			t.Fatalf("heartbeat %d: code %d opaque %d", opaque, resp.Code, resp.Opaque)
		}
	}
	first, second := dialRaw(t, b.Addr()), dialRaw(t, b.Addr())
	heartbeat(first, 7)   // the client's Start round
	heartbeat(second, -1) // the relay's replay on a new upstream
	if n := b.RequestCount(remoting.CodeHeartBeat); n != 2 {
		t.Fatalf("broker-a recorded %d heartbeats, want 2", n)
	}
	for i, r := range b.Requests(remoting.CodeHeartBeat) {
		if want := []int32{7, -1}[i]; r.Opaque != want || r.ClientID != id {
			t.Errorf("heartbeat %d recorded from %q with opaque %d, want %q and %d", i, r.ClientID, r.Opaque, id, want)
		}
	}
	if got := c.heartbeatRounds(id); got != 1 {
		t.Fatalf("after one round seen on two connections: %d rounds, want 1", got)
	}
	heartbeat(first, 9)   // the periodic round
	heartbeat(second, -2) // and the relay's copy of it
	if got := c.heartbeatRounds(id); got != 2 {
		t.Errorf("after the periodic round: %d rounds, want 2", got)
	}
	if got := c.heartbeatRounds("127.0.0.1@other"); got != 0 {
		t.Errorf("a client that never sent a heartbeat: %d rounds, want 0", got)
	}
}
