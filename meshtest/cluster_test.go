package meshtest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// rawClient speaks the remoting protocol directly, for wire-level checks.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
	op int32
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, DefaultTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// call sends a Go-client-style request and reads the next frame.
func (rc *rawClient) call(code int32, ext map[string]string, body []byte) *remoting.Command {
	rc.t.Helper()
	rc.op++
	req := remoting.NewRequest(code, ext, body)
	req.Opaque = rc.op
	if err := remoting.WriteCommand(rc.nc, req); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
	return rc.read()
}

// callAnswered is call for requests the broker may precede its answer with
// requests of its own (a heartbeat's NOTIFY_CONSUMER_IDS_CHANGED): it returns
// the answer and those requests.
func (rc *rawClient) callAnswered(code int32, ext map[string]string, body []byte) (resp *remoting.Command, before []*remoting.Command) {
	rc.t.Helper()
	for resp = rc.call(code, ext, body); !resp.IsResponse(); resp = rc.read() {
		before = append(before, resp)
	}
	if resp.Opaque != rc.op {
		rc.t.Fatalf("answer with opaque %d, want %d", resp.Opaque, rc.op)
	}
	return resp, before
}

func (rc *rawClient) read() *remoting.Command {
	rc.t.Helper()
	rc.nc.SetReadDeadline(time.Now().Add(DefaultTimeout))
	resp, err := remoting.ReadCommand(rc.r, 0)
	if err != nil {
		rc.t.Fatalf("read: %v", err)
	}
	return resp
}

func TestNameServer_RouteAndNotExist(t *testing.T) {
	c := RunCluster(t, WithBroker("broker-a", 1), WithBroker("broker-b", 0), WithTopic("TopicTest", 4))
	rc := dialRaw(t, c.NameServerAddr())
	resp := rc.call(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "TopicTest"}, nil)
	if resp.Code != remoting.Success || !resp.IsResponse() || resp.Opaque != rc.op {
		t.Fatalf("route: code %d flag %d opaque %d", resp.Code, resp.Flag, resp.Opaque)
	}
	body := string(resp.Body)
	a, b := c.Broker("broker-a"), c.Broker("broker-b")
	wantA := `{"brokerAddrs":{0:"` + a.Addr() + `",1:"` + a.Replica(1).Addr() + `"},"brokerName":"broker-a","cluster":"DefaultCluster"}`
	if !strings.Contains(body, wantA) || !strings.Contains(body, `{0:"`+b.Addr()+`"}`) {
		t.Errorf("route body %s lacks fastjson broker data %s", body, wantA)
	}
	rd, err := remoting.DecodeTopicRouteData(resp.Body)
	if err != nil || len(rd.QueueDatas) != 2 || rd.QueueDatas[0].Perm != 6 || rd.QueueDatas[0].WriteQueueNums != 4 {
		t.Errorf("decoded route %+v, %v", rd, err)
	}

	resp = rc.call(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "NoSuchTopicGo"}, nil)
	want := "No topic route info in name server for the topic: NoSuchTopicGo\nSee http://rocketmq.apache.org/docs/faq/ for further details."
	if resp.Code != remoting.TopicNotExist || resp.Remark != want || resp.ExtFields != nil {
		t.Errorf("missing topic: code %d remark %q ext %v", resp.Code, resp.Remark, resp.ExtFields)
	}

	resp = rc.call(remoting.CodeGetBrokerClusterInfo, nil, nil)
	if resp.Code != remoting.Success || !strings.Contains(string(resp.Body), `"clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"]}`) {
		t.Errorf("cluster info: %d %s", resp.Code, resp.Body)
	}
	if c.NameServer().RequestCount(remoting.CodeGetRouteInfoByTopic) != 2 {
		t.Errorf("nameserver saw %d route requests, want 2", c.NameServer().RequestCount(remoting.CodeGetRouteInfoByTopic))
	}
}

func TestBroker_UnknownCodeAnswered(t *testing.T) {
	c := RunCluster(t)
	for _, addr := range []string{c.Broker("broker-a").Addr(), c.NameServerAddr()} {
		rc := dialRaw(t, addr)
		resp := rc.call(9999, nil, nil)
		if resp.Code != remoting.RequestCodeNotSupported || resp.Remark != " request type 9999 not supported" {
			t.Errorf("%s: code %d remark %q", addr, resp.Code, resp.Remark)
		}
	}
	c.Broker("broker-a").CheckRequested(t, 9999)
}

func TestBroker_MalformedFrameClosesConnection(t *testing.T) {
	c := RunCluster(t)
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	// Length 8, serialize type 7 (unknown), header length 4.
	if _, err := rc.nc.Write([]byte{0, 0, 0, 8, 7, 0, 0, 4, '{', '}', ' ', ' '}); err != nil {
		t.Fatal(err)
	}
	rc.nc.SetReadDeadline(time.Now().Add(DefaultTimeout))
	_, err := rc.r.ReadByte()
	if !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read after malformed frame: %v, want EOF", err)
	}
	// The broker keeps serving new connections.
	rc2 := dialRaw(t, c.Broker("broker-a").Addr())
	if resp := rc2.call(remoting.CodeGetMaxOffset, map[string]string{"topic": "TBW102", "queueId": "0"}, nil); resp.Code != remoting.Success {
		t.Errorf("after malformed frame: code %d", resp.Code)
	}
}

func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}

func TestBroker_GoldenErrorRemarks(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4))
	rc := dialRaw(t, c.Broker("broker-a").Addr())
	resp := rc.call(remoting.CodeGetConsumerListByGroup, map[string]string{"consumerGroup": "capConsumer"}, nil)
	if resp.Code != remoting.SystemError || resp.Remark != "no consumer for this group, capConsumer" || resp.ExtFields == nil {
		t.Errorf("38 without consumers: %d %q %v", resp.Code, resp.Remark, resp.ExtFields)
	}
	resp = rc.call(remoting.CodePullMessage, map[string]string{
		"consumerGroup": "capBroadcastLast", "topic": "TopicTest", "queueId": "1", "queueOffset": "2",
		"maxMsgNums": "32", "sysFlag": "2", "commitOffset": "0", "suspendTimeoutMillis": "20000",
		"subscription": "", "subVersion": "0", "expressionType": "TAG",
	}, nil)
	want := "the consumer's group info not exist\nSee http://rocketmq.apache.org/docs/faq/ for further details."
	if resp.Code != remoting.SubscriptionNotExist || resp.Remark != want {
		t.Errorf("pull before heartbeat: %d %q", resp.Code, resp.Remark)
	}
	resp = rc.call(remoting.CodeUpdateAndCreateTopic, map[string]string{"topic": "Created", "readQueueNums": "2", "writeQueueNums": "2", "perm": "6"}, nil)
	if resp.Code != remoting.Success || resp.Remark != "not set any response code" {
		t.Errorf("17: %d %q", resp.Code, resp.Remark)
	}
	if tc := c.Broker("broker-a").set.store.topic("Created"); tc == nil || tc.write != 2 {
		t.Errorf("17 did not create the topic: %+v", tc)
	}
	resp = rc.call(remoting.CodeQueryConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "TopicTest", "queueId": "0"}, nil)
	if resp.Code != remoting.Success || resp.ExtFields["offset"] != "0" {
		t.Errorf("14 for a new group: %d %v", resp.Code, resp.ExtFields)
	}
}

func TestCluster_RetentionDeletesOldestMessagesAndRequests(t *testing.T) {
	const keep, sent = 8, 40
	c := RunCluster(t, WithTopic("TopicTest", 1), WithRetention(keep))
	b := c.Broker("broker-a")
	rc := dialRaw(t, b.Addr())
	for i := range sent {
		resp := rc.call(remoting.CodeSendMessage, map[string]string{"producerGroup": "p", "topic": "TopicTest", "queueId": "0", "sysFlag": "0", "bornTimestamp": "1", "flag": "0"}, []byte{byte(i)})
		if resp.Code != remoting.Success {
			t.Fatalf("send %d: %d %s", i, resp.Code, resp.Remark)
		}
	}
	msgs := c.Messages("TopicTest")
	if len(msgs) < keep || len(msgs) > keep+keep/4 {
		t.Fatalf("kept %d messages, want %d to %d", len(msgs), keep, keep+keep/4)
	}
	minOff := msgs[0].QueueOffset
	if last := msgs[len(msgs)-1]; last.QueueOffset != sent-1 || last.Body[0] != sent-1 || minOff != sent-int64(len(msgs)) {
		t.Errorf("kept offsets %d..%d (last body %d), want the newest %d ending at %d", minOff, last.QueueOffset, last.Body[0], len(msgs), sent-1)
	}
	if n := b.RequestCount(remoting.CodeSendMessage); n < keep || n > keep+keep/4 {
		t.Errorf("request log holds %d sends, want %d to %d", n, keep, keep+keep/4)
	}

	pull := func(offset int64) *remoting.Command {
		return rc.call(remoting.CodePullMessage, map[string]string{
			"consumerGroup": "g", "topic": "TopicTest", "queueId": "0", "queueOffset": strconv.FormatInt(offset, 10), "maxMsgNums": "32",
			"sysFlag": "4", "commitOffset": "0", "suspendTimeoutMillis": "0", "subscription": "*", "subVersion": "0", "expressionType": "TAG",
		}, nil)
	}
	// A pull from a deleted offset is moved to the min offset, as a broker
	// answers OFFSET_TOO_SMALL.
	resp := pull(0)
	if resp.Code != remoting.PullOffsetMoved || resp.Remark != "OFFSET_TOO_SMALL" || resp.Ext("nextBeginOffset") != strconv.FormatInt(minOff, 10) || resp.Ext("minOffset") != strconv.FormatInt(minOff, 10) {
		t.Fatalf("pull from deleted offset 0: %d %q %v; want PULL_OFFSET_MOVED to %d", resp.Code, resp.Remark, resp.ExtFields, minOff)
	}
	resp = pull(minOff)
	got, err := remoting.DecodeMessages(resp.Body)
	if resp.Code != remoting.Success || err != nil || len(got) != len(msgs) || got[0].QueueOffset != minOff || got[0].Body[0] != byte(minOff) {
		t.Fatalf("pull from min offset %d: %d %q, %d messages, %v", minOff, resp.Code, resp.Remark, len(got), err)
	}
}
