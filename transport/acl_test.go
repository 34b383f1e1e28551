package transport_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// clientSign signs req as rocketmq-client-go v2.1.2's ACL interceptor does: the
// values of AccessKey and every extField in key order, then the body.
func clientSign(req *remoting.Command, ak, sk string) {
	req.SetExt("AccessKey", ak)
	keys := make([]string, 0, len(req.ExtFields))
	for k := range req.ExtFields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	mac := hmac.New(sha1.New, []byte(sk))
	for _, k := range keys {
		mac.Write([]byte(req.ExtFields[k]))
	}
	mac.Write(req.Body)
	req.SetExt("Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
}

// TestRelay_ACL checks the relay's edits against meshtest's verification of
// Apache RocketMQ's ACL signature: a request the relay changes is signed again
// with the credentials of its access key, and one it cannot sign again is not
// changed.
func TestRelay_ACL(t *testing.T) {
	const ak, sk = "app-key", "app-secret"
	cluster := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithBroker("broker-b", 0),
		meshtest.WithTopic("orders", 4), meshtest.WithACL(ak, sk))
	router := newStaticRouter()
	router.set("broker-a", 0, member{addr: cluster.Broker("broker-a").Addr(), readable: true, writable: true})
	router.set("broker-b", 0, member{addr: cluster.Broker("broker-b").Addr(), readable: true, writable: true})
	signedSend := func() *remoting.Command {
		req := request(remoting.CodeSendMessage, map[string]string{
			"producerGroup": "pg", "topic": "orders", "queueId": "3", "sysFlag": "0", "bornTimestamp": "1", "flag": "0",
			"properties": "UNIQ_KEY\x01u1\x02", "reconsumeTimes": "0", "unitMode": "false", "batch": "false",
			"defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		}, []byte("signed body"))
		clientSign(req, ak, sk)
		return req
	}
	t.Run("re-signed after adding bname", func(t *testing.T) {
		r := startRelay(t, router, transport.WithCredentials(transport.Credentials{AccessKey: ak, SecretKey: sk}))
		resp := dialWire(t, endpointOf(t, r, "broker-a", 0)).roundTrip(signedSend())
		if resp.Code != remoting.Success {
			t.Fatalf("code %d (%q), want the re-signed request accepted", resp.Code, resp.Remark)
		}
		got := cluster.Broker("broker-a").Requests(remoting.CodeSendMessage)
		if last := got[len(got)-1]; last.ExtFields["bname"] != "broker-a" {
			t.Errorf("bname %q, want broker-a", last.ExtFields["bname"])
		}
	})
	t.Run("without credentials the request is not changed", func(t *testing.T) {
		r := startRelay(t, router)
		resp := dialWire(t, endpointOf(t, r, "broker-a", 0)).roundTrip(signedSend())
		if resp.Code != remoting.Success {
			t.Fatalf("code %d (%q), want the client's own signature accepted", resp.Code, resp.Remark)
		}
		got := cluster.Broker("broker-a").Requests(remoting.CodeSendMessage)
		if last := got[len(got)-1]; last.ExtFields["bname"] != "" {
			t.Errorf("bname %q added to a request the relay cannot sign again", last.ExtFields["bname"])
		}
	})
	t.Run("redirected send re-signed", func(t *testing.T) {
		router := newStaticRouter()
		router.set("broker-a", 0, member{addr: cluster.Broker("broker-a").Addr(), readable: true})
		router.set("broker-b", 0, member{addr: cluster.Broker("broker-b").Addr(), readable: true, writable: true})
		r := startRelay(t, router, transport.WithCredentials(transport.Credentials{AccessKey: ak, SecretKey: sk}))
		before := len(cluster.Broker("broker-b").Messages("orders"))
		resp := dialWire(t, endpointOf(t, r, "broker-a", 0)).roundTrip(signedSend())
		if resp.Code != remoting.Success {
			t.Fatalf("code %d (%q), want the redirected, re-signed send accepted", resp.Code, resp.Remark)
		}
		if n := len(cluster.Broker("broker-b").Messages("orders")); n != before+1 {
			t.Errorf("broker-b stored %d messages, want %d", n, before+1)
		}
	})
	t.Run("a wrong signature still fails", func(t *testing.T) {
		r := startRelay(t, router, transport.WithCredentials(transport.Credentials{AccessKey: ak, SecretKey: "other"}))
		resp := dialWire(t, endpointOf(t, r, "broker-a", 0)).roundTrip(signedSend())
		if resp.Code == remoting.Success {
			t.Fatal("a request re-signed with the wrong secret was accepted: the broker does not verify")
		}
	})
}

// Issue 16 item 4: credentials printed or logged by mistake show no secret.
func TestCredentials_NeverPrintSecrets(t *testing.T) {
	c := transport.Credentials{AccessKey: "app", SecretKey: "s3cret-value", SecurityToken: "t0ken-value"}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("creds", "c", c, "p", &c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c), fmt.Sprint(&c), buf.String()} {
		if strings.Contains(out, "s3cret-value") || strings.Contains(out, "t0ken-value") {
			t.Errorf("a secret was printed: %s", out)
		}
		if !strings.Contains(out, "app") {
			t.Errorf("the access key was not printed: %s", out)
		}
	}
}
