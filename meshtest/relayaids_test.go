package meshtest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// TestCluster_RequestReplyPushesTheReply drives the official client's Request
// against the cluster: the responder's SEND_REPLY_MESSAGE (324) is pushed to the
// requester with PUSH_REPLY_MESSAGE_TO_CLIENT (326), which the requester answers.
func TestCluster_RequestReplyPushesTheReply(t *testing.T) {
	c := RunCluster(t, WithTopic("rpc", 2), WithTopic("warm", 1))
	group := name("req")
	requester := newProducer(t, c, producer.WithGroupName(group))
	waitRegistered(t, c, requester, group)
	responder := newProducer(t, c)
	// The handler may still run while the test ends; it reports through errs
	// instead of t.
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	rpcGroup := name("rpc")
	cons := newPushConsumer(t, c, rpcGroup, name("ci"), "rpc", &Collector{}, func(m *primitive.MessageExt) consumer.ConsumeResult {
		// rocketmq-client-go v2.1.2's CreateReplyMessage parses its body
		// argument as properties and leaves the reply's body empty, so the
		// answer travels as a property.
		reply, err := consumer.CreateReplyMessage(m, []byte("answer\x01re: "+string(m.Body)+"\x02"))
		if err != nil {
			report(fmt.Errorf("CreateReplyMessage: %w", err))
			return consumer.ConsumeSuccess
		}
		ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
		defer cancel()
		if _, err := responder.SendSync(ctx, reply); err != nil {
			report(fmt.Errorf("sending the reply: %w", err))
		}
		return consumer.ConsumeSuccess
	})
	StartConsumer(t, c, rpcGroup, cons)
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	reply, err := requester.Request(ctx, DefaultTimeout, primitive.NewMessage("rpc", []byte("ping")))
	select {
	case herr := <-errs:
		t.Errorf("responder: %v", herr)
	default:
	}
	if err != nil {
		t.Fatalf("Request: %v", err)
	}
	if got := reply.GetProperty("answer"); got != "re: ping" {
		t.Errorf("reply property %q, want %q", got, "re: ping")
	}
	var pushes int
	for _, b := range c.BrokerNames() {
		for _, r := range c.Broker(b).Requests(remoting.CodeSendReplyMessage) {
			if strings.Contains(r.ExtFields["properties"], "CORRELATION_ID") {
				pushes++
			}
		}
	}
	if pushes != 1 {
		t.Errorf("%d reply sends reached the brokers, want 1", pushes)
	}
}

func TestCluster_ReplyWithoutRequesterFails(t *testing.T) {
	c := RunCluster(t)
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	props := remoting.FormatProperties(map[string]string{remoting.PropertyReplyTo: "nobody@1", "CORRELATION_ID": "x"})
	resp := rc.call(remoting.CodeSendReplyMessage, map[string]string{"producerGroup": "g", "topic": "DefaultCluster_REPLY_TOPIC",
		"defaultTopic": "TBW102", "defaultTopicQueueNums": "4", "queueId": "0", "properties": props}, []byte("r"))
	if resp.Code != remoting.SystemError || resp.Remark != "push reply message fail, channel of <nobody@1> not found." {
		t.Errorf("code %d remark %q, want 4.9.8's SYSTEM_ERROR for a requester without a channel", resp.Code, resp.Remark)
	}
}

func TestCluster_AllowedClients(t *testing.T) {
	if _, err := NewCluster(WithAllowedClients("not-an-ip")); err == nil || !strings.Contains(err.Error(), `"not-an-ip"`) {
		t.Fatalf("NewCluster with a bad allowed client: %v, want an error naming it", err)
	}
	c := RunCluster(t, WithAllowedClients("127.0.0.2"))
	// The nameserver serves everyone; brokers only 127.0.0.2.
	dialRaw(t, c.NameServerAddr()).call(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "TBW102"}, nil)
	b := c.Broker("broker-a")
	nc, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(DefaultTimeout))
	if _, err := remoting.ReadCommand(nc, 0); err == nil {
		t.Fatal("a connection from 127.0.0.1 was served")
	}
	WaitFor(t, "the refused connection to be counted", func() bool { return b.RefusedConnections() == 1 })
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: DefaultTimeout}
	ok, err := d.Dial("tcp", b.Addr())
	if err != nil {
		t.Skipf("cannot dial from 127.0.0.2 here: %v", err)
	}
	defer ok.Close()
	_ = ok.SetDeadline(time.Now().Add(DefaultTimeout))
	req := remoting.NewRequest(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102", "queueId": "0"}, nil)
	req.Opaque = 5
	if err := remoting.WriteCommand(ok, req); err != nil {
		t.Fatal(err)
	}
	if resp, err := remoting.ReadCommand(ok, 0); err != nil || resp.Code != remoting.Success {
		t.Errorf("a connection from 127.0.0.2: %v, %v", resp, err)
	}
	if n := b.RefusedConnections(); n != 1 {
		t.Errorf("%d refused connections, want 1", n)
	}
	// AllowClients opens the brokers to everyone again.
	if err := c.AllowClients(); err != nil {
		t.Fatal(err)
	}
	if resp := dialRaw(t, b.Addr()).call(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102", "queueId": "0"}, nil); resp.Code != remoting.Success {
		t.Errorf("after AllowClients(): code %d", resp.Code)
	}
	if err := c.AllowClients("bad ip"); err == nil {
		t.Error("AllowClients with a bad address succeeded")
	}
}

func TestCluster_BrokerNameRequired(t *testing.T) {
	c := RunCluster(t, WithBrokerNameRequired(), WithTopic("orders", 2))
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	send := map[string]string{"producerGroup": "g", "topic": "orders", "queueId": "0"}
	if resp := rc.call(remoting.CodeSendMessage, send, []byte("x")); resp.Code != remoting.VersionNotSupported || resp.Remark != "Request doesn't have field bname" {
		t.Errorf("send without bname: code %d remark %q, want the 5.x proxy's refusal", resp.Code, resp.Remark)
	}
	send["bname"] = "broker-a"
	if resp := rc.call(remoting.CodeSendMessage, send, []byte("x")); resp.Code != remoting.Success {
		t.Errorf("send with bname: code %d (%q)", resp.Code, resp.Remark)
	}
	v2 := map[string]string{"a": "g", "b": "orders", "e": "0", "bname": "broker-a"}
	if resp := rc.call(remoting.CodeSendMessageV2, v2, []byte("x")); resp.Code != remoting.VersionNotSupported {
		t.Errorf("SEND_MESSAGE_V2 with bname instead of n: code %d, want VERSION_NOT_SUPPORTED", resp.Code)
	}
	v2["n"] = "broker-a"
	if resp := rc.call(remoting.CodeSendMessageV2, v2, []byte("x")); resp.Code != remoting.Success {
		t.Errorf("SEND_MESSAGE_V2 with n: code %d (%q)", resp.Code, resp.Remark)
	}
	if resp := rc.call(remoting.CodeHeartBeat, nil, []byte(`{"clientID":"c"}`)); resp.Code != remoting.Success {
		t.Errorf("heartbeat, which a proxy serves itself: code %d (%q)", resp.Code, resp.Remark)
	}
}

func TestBroker_AddAddress(t *testing.T) {
	c := RunCluster(t)
	b := c.Broker("broker-a")
	second, err := b.AddAddress()
	if err != nil {
		t.Fatal(err)
	}
	if second == b.Addr() {
		t.Fatalf("the added address is the broker's own %s", second)
	}
	call := func(addr string) {
		t.Helper()
		if resp := dialRaw(t, addr).call(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102", "queueId": "0"}, nil); resp.Code != remoting.Success {
			t.Fatalf("%s: code %d", addr, resp.Code)
		}
	}
	call(second)
	call(b.Addr())
	got := b.Requests(remoting.CodeGetMaxOffset)
	if len(got) != 2 || got[0].LocalAddr != second || got[1].LocalAddr != b.Addr() {
		t.Errorf("requests came in on %v, want %s then %s", []string{got[0].LocalAddr, got[len(got)-1].LocalAddr}, second, b.Addr())
	}
	b.Stop()
	if nc, err := net.DialTimeout("tcp", second, time.Second); err == nil {
		nc.Close()
		t.Error("the added address accepts connections while the broker is stopped")
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	call(second)
}

// waitRegistered makes a producer known to broker-a, as a requester must be for
// the broker to push replies to it: rocketmq-client-go v2.1.2 heartbeats only to
// brokers it has routes for, one second after it starts and then every 30 s, and
// Request does not add one for a topic the nameserver knows. A send gives it
// broker-a's address before that first heartbeat.
func waitRegistered(t *testing.T, c *Cluster, p rocketmq.Producer, group string) {
	t.Helper()
	sendN(t, p, "warm", "warm", 1)
	WaitFor(t, "producer group "+group+" registered on broker-a", func() bool {
		for _, cl := range c.Broker("broker-a").Clients() {
			if slices.Contains(cl.ProducerGroups, group) {
				return true
			}
		}
		return false
	})
}
