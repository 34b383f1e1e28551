package mesh_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// movedSpec routes every topic to broker-a alone, at addr.
func movedSpec(c *meshtest.Cluster, addr string) meshtest.MeshSpec {
	eps := endpointsOf(c, "broker-a")
	for i := range eps {
		if eps[i].BrokerID == 0 {
			eps[i].Address = addr
		}
	}
	return meshtest.MeshSpec{
		Listener: listenerName,
		Routes:   []meshtest.RouteSpec{{Cluster: "brokers"}},
		Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: eps}},
	}
}

// TestIntercept_EndpointMoveConvergence moves broker-a's endpoint between two
// addresses 20 times and measures, from the control plane accepting each
// change, how long until a send arrives at the new address. The client never
// sees an address change: its route names the relay's endpoint throughout.
func TestIntercept_EndpointMoveConvergence(t *testing.T) {
	h, alt := newMovableHarness(t)
	b := h.cluster.Broker("broker-a")
	virtual := routeAddrs(t, h, "orders")["broker-a"][0]
	p := h.producer()
	h.sendN(p, "orders", 1)
	const moves = 20
	lat := measureMoves(t, h, p, [2]string{b.Addr(), alt}, moves)
	if got := routeAddrs(t, h, "orders")["broker-a"][0]; got != virtual {
		t.Errorf("the client's route moved from %s to %s", virtual, got)
	}
	t.Logf("endpoint move to next request at the new address, %d moves: p50 %v, p99 %v, max %v",
		moves, lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
}

// newMovableHarness is an intercept harness whose broker-a also listens at the
// returned second address, with every topic routed to broker-a at its first.
func newMovableHarness(tb testing.TB) (*harness, string) {
	tb.Helper()
	h := newInterceptHarness(tb, interceptConfig{harnessConfig: harnessConfig{
		brokers: []string{"broker-a"}, topics: []string{"orders"},
		spec: func(c *meshtest.Cluster) meshtest.MeshSpec { return movedSpec(c, c.Broker("broker-a").Addr()) },
	}})
	alt, err := h.cluster.Broker("broker-a").AddAddress()
	if err != nil {
		tb.Fatal(err)
	}
	return h, alt
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestIntercept_EndTransactionAfterRedirectReachesStoringBroker makes the
// client choose broker-a, whose endpoint is unreachable: the relay stores the
// half message on broker-b, and the END_TRANSACTION the client sends to
// broker-a's endpoint (after the local transaction, or after broker-b's check)
// reaches broker-b.
func TestIntercept_EndTransactionAfterRedirectReachesStoringBroker(t *testing.T) {
	dead := deadAddr(t)
	h := newInterceptHarness(t, interceptConfig{
		harnessConfig: harnessConfig{
			brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"},
			spec: allBrokersWith(func(e *meshtest.EndpointSpec) {
				e.Weight = 1
				if e.BrokerName == "broker-a" {
					e.Weight, e.Address = 1000, dead
				}
			}),
		},
		cluster: []meshtest.ClusterOption{meshtest.WithTimeScale(0.01)},
	})
	for _, tc := range []struct {
		name  string
		first primitive.LocalTransactionState
	}{
		{"commit", primitive.CommitMessageState},
		{"check-back", primitive.UnknowState},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &txListener{checked: map[string]int{}, first: tc.first}
			p, err := h.mesh.NewTransactionProducer(l, producer.WithGroupName(uniqueName("txg")))
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown()
			var body string
			for attempt := 0; ; attempt++ {
				body = fmt.Sprintf("%s-%d", tc.name, attempt)
				ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
				res, err := p.SendMessageInTransaction(ctx, primitive.NewMessage("orders", []byte(body)))
				cancel()
				if err != nil {
					t.Fatalf("SendMessageInTransaction: %v", err)
				}
				if res.MessageQueue.BrokerName == "broker-a" {
					break // the case under test: the client chose the unreachable broker
				}
				if attempt == 5 {
					t.Fatal("the selector never chose broker-a (weight 1000 of 1001)")
				}
			}
			meshtest.WaitFor(t, body+" committed on broker-b", func() bool {
				for _, m := range h.cluster.Broker("broker-b").Messages("orders") {
					if string(m.Body) == body {
						return true
					}
				}
				return false
			})
			if tc.first == primitive.UnknowState {
				l.mu.Lock()
				n := l.checked[body]
				l.mu.Unlock()
				if n == 0 {
					t.Errorf("broker-b's check of %q never reached the listener", body)
				}
			}
		})
	}
}

// TestIntercept_OrderlyConsumerKeepsLocksAcrossUpstreamSwitch moves broker-a's
// endpoint under an orderly consumer: its queue locks (kept by client id) stay
// its own, and its locking and pulling continue at the new address.
func TestIntercept_OrderlyConsumerKeepsLocksAcrossUpstreamSwitch(t *testing.T) {
	h, alt := newMovableHarness(t)
	b := h.cluster.Broker("broker-a")
	p := h.producer(producer.WithQueueSelector(producer.NewHashQueueSelector()))
	// Under -race only the locking is checked: rocketmq-client-go v2.1.2's
	// orderly consumer races on its own process queue once messages flow.
	perPhase := 10
	if raceDetector {
		perPhase = 0
	}
	send := func(phase string) {
		for i := 0; i < perPhase; i++ {
			msg := primitive.NewMessage("orders", []byte(fmt.Sprintf("%s-%03d", phase, i)))
			msg.WithShardingKey("one-key")
			ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
			_, err := p.SendSync(ctx, msg)
			cancel()
			if err != nil {
				t.Fatalf("send: %v", err)
			}
		}
	}
	var (
		mu  sync.Mutex
		got []string
	)
	group := uniqueName("cg")
	h.consumeOrderly(group, "orders", func(_ *meshtest.Collector, msgs ...*primitive.MessageExt) consumer.ConsumeResult {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			got = append(got, string(m.Body))
		}
		return consumer.ConsumeSuccess
	}, consumer.WithRebalanceLockInterval(200*time.Millisecond))
	send("1-before")
	var owner string
	meshtest.WaitFor(t, "broker-a's queues locked", func() bool {
		locks := b.Locks(group)
		if len(locks) < 4 {
			return false
		}
		owner = locks[0].ClientID
		return true
	})
	meshtest.WaitFor(t, "the messages before the move consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= perPhase
	})
	h.apply(movedSpec(h.cluster, alt))
	h.waitApplied()
	// Answer the pulls suspended on the old connection so that the next ones
	// go where the configuration now says (locks live 60 s; this is 21).
	h.cluster.FastForward(21 * time.Second)
	send("2-after")
	meshtest.WaitFor(t, "locking at the new address", func() bool {
		for _, r := range b.Requests(remoting.CodeLockBatchMQ) {
			if r.LocalAddr == alt && r.ExtFields != nil {
				return true
			}
		}
		return false
	})
	meshtest.WaitFor(t, "a pull at the new address", func() bool {
		for _, r := range b.Requests(remoting.CodePullMessage) {
			if r.LocalAddr == alt {
				return true
			}
		}
		return false
	})
	for _, l := range b.Locks(group) {
		if l.ClientID != owner || l.Expired {
			t.Errorf("queue %d: lock held by %q (expired %v), want %q's all along", l.QueueID, l.ClientID, l.Expired, owner)
		}
	}
	meshtest.WaitFor(t, "the messages after the move consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 2*perPhase
	})
	mu.Lock()
	defer mu.Unlock()
	if !slices.IsSorted(got) {
		t.Errorf("orderly consumption out of order across the move: %v", got)
	}
}

// TestIntercept_PushConsumerLongPolling checks that a push consumer's pull waits
// suspended at the broker, through the relay, until messages arrive.
func TestIntercept_PushConsumerLongPolling(t *testing.T) {
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		brokers: []string{"broker-a"}, topics: []string{"orders"}, spec: allBrokers,
	}})
	col, _ := h.consume(uniqueName("cg"), "orders", nil)
	b := h.cluster.Broker("broker-a")
	meshtest.WaitFor(t, "a pull suspended at the broker", func() bool { return b.SuspendedPulls() > 0 })
	h.sendN(h.producer(), "orders", 8)
	meshtest.WaitFor(t, "the messages delivered to the waiting consumer", func() bool { return col.Distinct() == 8 })
}

// TestIntercept_PullConsumer polls messages through the relay.
func TestIntercept_PullConsumer(t *testing.T) {
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		brokers: []string{"broker-a"}, topics: []string{"polled"}, spec: allBrokers,
	}})
	h.sendN(h.producer(), "polled", 8)
	group := uniqueName("pc")
	pc, err := h.mesh.NewPullConsumer(
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Subscribe("polled", consumer.MessageSelector{}); err != nil {
		t.Fatal(err)
	}
	meshtest.StartConsumer(t, h.cluster, group, pc)
	seen := map[string]bool{}
	deadline := time.Now().Add(meshtest.DefaultTimeout)
	for len(seen) < 8 && time.Now().Before(deadline) {
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
	if len(seen) != 8 {
		t.Fatalf("polled %d distinct messages through the relay, want 8", len(seen))
	}
}

// TestIntercept_RequestReply sends a request whose reply the broker pushes
// (PUSH_REPLY_MESSAGE_TO_CLIENT) over the relay's upstream to the requester.
func TestIntercept_RequestReply(t *testing.T) {
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		brokers: []string{"broker-a"}, topics: []string{"rpc", "warm"}, spec: allBrokers,
	}})
	group := uniqueName("req")
	requester := h.producer(producer.WithGroupName(group))
	// The broker pushes a reply only to a requester whose heartbeat it holds;
	// the official client heartbeats one second after it starts, to the brokers
	// it has routes for by then.
	h.sendN(requester, "warm", 1)
	meshtest.WaitFor(t, "the requester's heartbeat on broker-a", func() bool {
		for _, c := range h.cluster.Broker("broker-a").Clients() {
			if slices.Contains(c.ProducerGroups, group) {
				return true
			}
		}
		return false
	})
	responder := h.producer()
	errs := make(chan error, 16)
	h.consume(uniqueName("rpc"), "rpc", func(_ *meshtest.Collector, msgs ...*primitive.MessageExt) consumer.ConsumeResult {
		for _, m := range msgs {
			// CreateReplyMessage reads its body argument as properties.
			reply, err := consumer.CreateReplyMessage(m, []byte("answer\x01re: "+string(m.Body)+"\x02"))
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
				_, err = responder.SendSync(ctx, reply)
				cancel()
			}
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
		}
		return consumer.ConsumeSuccess
	})
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	reply, err := requester.Request(ctx, meshtest.DefaultTimeout, primitive.NewMessage("rpc", []byte("ping")))
	select {
	case err := <-errs:
		t.Errorf("responder: %v", err)
	default:
	}
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	if got := reply.GetProperty("answer"); got != "re: ping" {
		t.Errorf("reply property %q, want %q", got, "re: ping")
	}
	if n := h.cluster.Broker("broker-a").RequestCount(remoting.CodeSendReplyMessage); n != 1 {
		t.Errorf("broker-a got %d reply sends, want 1", n)
	}
}

// TestIntercept_BatchSend sends one batch through the relay.
func TestIntercept_BatchSend(t *testing.T) {
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokers,
	}})
	var msgs []*primitive.Message
	for i := range 5 {
		msgs = append(msgs, primitive.NewMessage("orders", []byte("batch-"+strconv.Itoa(i))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	res, err := h.producer().SendSync(ctx, msgs...)
	if err != nil {
		t.Fatalf("batch send: %v", err)
	}
	b := h.cluster.Broker(res.MessageQueue.BrokerName)
	stored := 0
	for _, m := range b.Messages("orders") {
		if strings.HasPrefix(string(m.Body), "batch-") {
			stored++
		}
	}
	if stored != 5 {
		t.Errorf("%s stored %d batch members, want 5", res.MessageQueue.BrokerName, stored)
	}
	reqs := b.Requests(remoting.CodeSendBatchMessage)
	if len(reqs) != 1 || reqs[0].ExtFields["n"] != res.MessageQueue.BrokerName {
		t.Errorf("batch requests %d, n=%q; want one carrying its broker's name", len(reqs), reqs[0].ExtFields["n"])
	}
	ids := strings.Split(res.OffsetMsgID, ",")
	virtual := routeAddrs(t, h, "orders")[res.MessageQueue.BrokerName][0]
	for _, id := range ids {
		if host, _, err := remoting.DecodeOffsetMsgID(id); err != nil || host.String() != virtual {
			t.Errorf("offset msg id %s names %v (%v), want the virtual endpoint %s", id, host, err, virtual)
		}
	}
	if len(ids) != 5 {
		t.Errorf("%d offset msg ids, want 5", len(ids))
	}
}

// TestIntercept_ACLSignedTrafficAccepted runs ACL-signed clients through the
// relay, which adds bname to their requests and signs them again.
func TestIntercept_ACLSignedTrafficAccepted(t *testing.T) {
	creds := primitive.Credentials{AccessKey: "mesh-app", SecretKey: "s3cret"}
	h := newInterceptHarness(t, interceptConfig{
		harnessConfig: harnessConfig{
			brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"}, spec: allBrokers,
			meshOpts: []mesh.Option{mesh.WithCredentials(creds)},
		},
		cluster: []meshtest.ClusterOption{meshtest.WithACL(creds.AccessKey, creds.SecretKey)},
	})
	if got := h.sendN(h.producer(), "orders", 10); got["broker-a"]+got["broker-b"] != 10 {
		t.Fatalf("signed sends landed on %v", got)
	}
	col, _ := h.consume(uniqueName("cg"), "orders", nil)
	meshtest.WaitFor(t, "10 signed messages consumed", func() bool { return col.Distinct() == 10 })
	for _, b := range []string{"broker-a", "broker-b"} {
		for _, r := range h.cluster.Broker(b).Requests(remoting.CodeSendMessage) {
			if r.ExtFields["bname"] != b || r.ExtFields["AccessKey"] != creds.AccessKey {
				t.Errorf("%s: send with bname %q access key %q; want bname added and the request signed", b, r.ExtFields["bname"], r.ExtFields["AccessKey"])
			}
		}
	}
}

// TestIntercept_BrokerNameRequiringBroker runs the official client against
// brokers that refuse requests without a broker name, as a RocketMQ 5 proxy in
// cluster mode does.
func TestIntercept_BrokerNameRequiringBroker(t *testing.T) {
	h := newInterceptHarness(t, interceptConfig{
		harnessConfig: harnessConfig{brokers: []string{"broker-a"}, topics: []string{"orders"}, spec: allBrokers},
		cluster:       []meshtest.ClusterOption{meshtest.WithBrokerNameRequired()},
	})
	h.sendN(h.producer(), "orders", 8)
	group := uniqueName("cg")
	col, _ := h.consume(group, "orders", nil)
	meshtest.WaitFor(t, "8 messages consumed", func() bool { return col.Distinct() == 8 })
	b := h.cluster.Broker("broker-a")
	for _, code := range []int32{remoting.CodeSendMessage, remoting.CodePullMessage, remoting.CodeQueryConsumerOffset} {
		if b.RequestCount(code) == 0 {
			t.Errorf("no %s reached the broker", remoting.RequestCodeName(code))
		}
		for _, r := range b.Requests(code) {
			if r.ExtFields["bname"] != "broker-a" {
				t.Errorf("%s without bname: %v", remoting.RequestCodeName(code), r.ExtFields)
			}
		}
	}
}

// TestIntercept_SendBackToStoreHostStaysInTheMesh checks that consumed messages
// name the relay's endpoint as their store host, and, without -race, that the
// send-back rocketmq-client-go v2.1.2 addresses to it stays in the mesh: a push
// consumer cleaning up a message whose consume timeout expired sends it back to
// msg.StoreHost, and the broker, which refuses anything but the relay, takes it
// into the retry topic. The client's expiry sweep reads its process queue
// without a lock, which -race reports, so .ci/run runs this test without -race
// too.
func TestIntercept_SendBackToStoreHostStaysInTheMesh(t *testing.T) {
	h := newInterceptHarness(t, interceptConfig{
		harnessConfig: harnessConfig{brokers: []string{"broker-a"}, topics: []string{"orders"}, spec: allBrokers},
		// The sent-back message waits out delay level 3 (10 s) before it
		// reaches the retry topic.
		cluster: []meshtest.ClusterOption{meshtest.WithTimeScale(0.01)},
	})
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	group := uniqueName("cg")
	h.cluster.CreateConsumerGroup(group)
	var (
		mu    sync.Mutex
		hosts = map[string]bool{}
	)
	expire := !raceDetector
	opts := []consumer.Option{consumer.WithConsumeMessageBatchMaxSize(1)}
	if expire {
		opts = append(opts, consumer.WithConsumeTimeout(300*time.Millisecond))
	}
	col, _ := h.consume(group, "orders", func(col *meshtest.Collector, msgs ...*primitive.MessageExt) consumer.ConsumeResult {
		for _, m := range msgs {
			mu.Lock()
			hosts[m.StoreHost] = true
			mu.Unlock()
			if expire && m.ReconsumeTimes == 0 {
				<-release // stuck past the consume timeout
			}
		}
		col.Add(msgs...)
		return consumer.ConsumeSuccess
	}, opts...)
	h.sendN(h.producer(), "orders", 1)
	meshtest.WaitFor(t, "the message consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hosts) > 0
	})
	virtual := routeAddrs(t, h, "orders")["broker-a"][0]
	mu.Lock()
	for host := range hosts {
		if host != virtual {
			t.Errorf("a consumed message names store host %s, want the relay's endpoint %s", host, virtual)
		}
	}
	mu.Unlock()
	if !expire {
		meshtest.WaitFor(t, "the message consumed", func() bool { return col.Distinct() == 1 })
		return
	}
	b := h.cluster.Broker("broker-a")
	meshtest.WaitFor(t, "the expired message sent back", func() bool { return b.RequestCount(remoting.CodeConsumerSendMsgBack) > 0 })
	once.Do(func() { close(release) })
	back := b.Requests(remoting.CodeConsumerSendMsgBack)[0]
	if !strings.HasPrefix(back.RemoteAddr, relaySource+":") {
		t.Errorf("the send-back came from %s, want the relay's %s", back.RemoteAddr, relaySource)
	}
	meshtest.WaitFor(t, "the message in the retry topic", func() bool { return len(b.Messages("%RETRY%"+group)) > 0 })
}

// TestIntercept_WeightsAppliedOnce checks that the relay keeps the broker the
// selector chose: every message is stored on the broker its SendResult names,
// and the split follows the weights once (80/20, not 94/6).
func TestIntercept_WeightsAppliedOnce(t *testing.T) {
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"},
		spec: allBrokersWith(func(e *meshtest.EndpointSpec) {
			e.Weight = 80
			if e.BrokerName == "broker-b" {
				e.Weight = 20
			}
		}),
	}})
	const n = 1000
	p := h.producer()
	chosen := map[string]int{}
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		res, err := p.SendSync(ctx, primitive.NewMessage("orders", []byte("w-"+strconv.Itoa(i))))
		cancel()
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		chosen[res.MessageQueue.BrokerName]++
	}
	storedOn := map[string]int{}
	for _, b := range []string{"broker-a", "broker-b"} {
		storedOn[b] = len(h.cluster.Broker(b).Messages("orders"))
	}
	if storedOn["broker-a"] != chosen["broker-a"] || storedOn["broker-b"] != chosen["broker-b"] {
		t.Errorf("stored %v, chosen by the selector %v: the relay re-decided", storedOn, chosen)
	}
	share := float64(storedOn["broker-a"]) / n
	t.Logf("80/20 split over %d sends through the relay: broker-a %.1f%%", n, 100*share)
	if share < 0.75 || share > 0.85 {
		t.Errorf("broker-a stored %.1f%% of %d sends, want 80%% ± 5%%", 100*share, n)
	}
}

// TestIntercept_StartConsumerWaitsThroughHeartbeatReplay starts a consumer
// with meshtest.StartConsumer while broker-a's endpoint moves between the
// client's first heartbeat and its first rebalance. The relay sends the
// rebalance's GET_CONSUMER_LIST_BY_GROUP to the new address on a new upstream
// connection and replays the client's heartbeat there first, so broker-a holds
// the Start round's heartbeat twice before the client's periodic round: a
// count of heartbeats per broker took that for the periodic round, which
// StartConsumer waits for before it lets the rebalance go on. A rebalance that
// changes the consumer's queues writes new subscription versions and sends
// them in a heartbeat at once; the periodic round must have gone out before,
// with the Start round's versions.
func TestIntercept_StartConsumerWaitsThroughHeartbeatReplay(t *testing.T) {
	h, alt := newMovableHarness(t)
	b := h.cluster.Broker("broker-a")
	group := uniqueName("cg")
	c, err := h.mesh.NewPushConsumer(consumer.WithGroupName(group), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Subscribe("orders", consumer.MessageSelector{}, func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ofGroup := func(r meshtest.Request) bool { return strings.Contains(string(r.Body), `"groupName":"`+group+`"`) }
	// The client's Start waits for its first heartbeat's answer: hold it at
	// broker-a until the endpoint has moved.
	releaseHeartbeats := b.Hold(remoting.CodeHeartBeat)
	defer releaseHeartbeats()
	moved := make(chan error, 1)
	go func() {
		defer releaseHeartbeats()
		moved <- func() error {
			deadline := time.Now().Add(meshtest.DefaultTimeout)
			for !slices.ContainsFunc(b.Requests(remoting.CodeHeartBeat), ofGroup) {
				if time.Now().After(deadline) {
					return errors.New("the consumer's first heartbeat never reached broker-a")
				}
				time.Sleep(5 * time.Millisecond)
			}
			res, err := movedSpec(h.cluster, alt).Resources()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
			defer cancel()
			if err := h.cp.Update(ctx, res); err != nil {
				return err
			}
			for {
				if dump, err := h.mesh.ConfigDump(); err == nil && containsVersion(dump, h.cp.Version()) {
					return nil
				}
				if ctx.Err() != nil {
					return fmt.Errorf("the mesh never applied the move: %w", ctx.Err())
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}()
	meshtest.StartConsumer(t, h.cluster, group, c)
	if err := <-moved; err != nil {
		t.Fatal(err)
	}

	// The client's heartbeats have its own opaques, counted up from 1; the
	// relay's copies and replays have negative ones.
	var hbs []meshtest.Request
	for _, r := range b.Requests(remoting.CodeHeartBeat) {
		if ofGroup(r) {
			hbs = append(hbs, r)
		}
	}
	var replayed, next *meshtest.Request
	for i, r := range hbs[1:] {
		switch {
		case r.Opaque > 0 && next == nil:
			next = &hbs[i+1]
		case r.Opaque < 0 && next == nil && r.RemoteAddr != hbs[0].RemoteAddr:
			replayed = &hbs[i+1]
		}
	}
	if replayed == nil {
		t.Fatalf("broker-a got no replay of the Start round's heartbeat on a second connection before the client's next heartbeat: %v", heartbeatsOf(t, hbs))
	}
	if next == nil {
		t.Fatalf("StartConsumer returned before broker-a received another heartbeat of the client: %v", heartbeatsOf(t, hbs))
	}
	if start, got := subVersions(t, hbs[0]), subVersions(t, *next); !maps.Equal(got, start) {
		t.Errorf("the client's next heartbeat after its Start round carried subscription versions %v, not the Start round's %v: a rebalance ran before the periodic round; heartbeats: %v",
			got, start, heartbeatsOf(t, hbs))
	}
}

// subVersions returns the subscription version of each topic in a heartbeat.
func subVersions(t *testing.T, hb meshtest.Request) map[string]int64 {
	t.Helper()
	var body struct {
		ConsumerDataSet []struct {
			SubscriptionDataSet []struct {
				Topic      string `json:"topic"`
				SubVersion int64  `json:"subVersion"`
			} `json:"subscriptionDataSet"`
		} `json:"consumerDataSet"`
	}
	if err := json.Unmarshal(hb.Body, &body); err != nil {
		t.Fatalf("heartbeat body: %v", err)
	}
	out := map[string]int64{}
	for _, cd := range body.ConsumerDataSet {
		for _, s := range cd.SubscriptionDataSet {
			out[s.Topic] = s.SubVersion
		}
	}
	return out
}

// heartbeatsOf describes heartbeats for a failure message: opaque, connection,
// arrival and subscription versions.
func heartbeatsOf(t *testing.T, rs []meshtest.Request) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, fmt.Sprintf("opaque %d from %s to %s at %s with %v", r.Opaque, r.RemoteAddr, r.LocalAddr, r.Time.Format(time.StampMicro), subVersions(t, r)))
	}
	return out
}
