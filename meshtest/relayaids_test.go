package meshtest

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

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
