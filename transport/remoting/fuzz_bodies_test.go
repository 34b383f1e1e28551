package remoting

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// jsonBodyTypes are the JSON bodies a relay or broker decodes from a peer:
// heartbeats (34), lock and unlock requests (41, 42), lock answers and
// consumer lists (38).
var jsonBodyTypes = []func() any{
	func() any { return new(HeartbeatData) },
	func() any { return new(LockBatchRequestBody) },
	func() any { return new(UnlockBatchRequestBody) },
	func() any { return new(LockBatchResponseBody) },
	func() any { return new(ConsumerListBody) },
}

// FuzzDecodeJSONBodies decodes peer bytes as every JSON body type: errors
// wrap ErrBadBody and name the type; a decoded body encodes to JSON that
// decodes to the same value and encodes the same way again.
func FuzzDecodeJSONBodies(f *testing.F) {
	for _, b := range goldenBodies(f, func(g goldenFrame) bool {
		switch g.RequestCode {
		case CodeHeartBeat, CodeLockBatchMQ, CodeUnlockBatchMQ, CodeGetConsumerListByGroup:
			return g.BodyLen > 0
		}
		return false
	}) {
		f.Add(b)
	}
	// The Go client's spellings: codeSet members as strings.
	f.Add([]byte(`{"clientID":"c","consumerDataSet":[{"groupName":"g","subscriptionDataSet":[{"topic":"t","codeSet":["1",2],"tagsSet":["a"]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newBody := range jsonBodyTypes {
			v := newBody()
			if err := DecodeJSONBody(data, v); err != nil {
				typ := reflect.TypeOf(v).String()
				if !errors.Is(err, ErrBadBody) || !strings.Contains(err.Error(), typ) {
					t.Fatalf("error %q does not wrap ErrBadBody or name %s", err, typ)
				}
				continue
			}
			enc := EncodeJSONBody(v)
			again := newBody()
			if err := DecodeJSONBody(enc, again); err != nil {
				t.Fatalf("%T: re-decoding %s: %v", v, enc, err)
			}
			if diff := cmp.Diff(again, v, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("%T: decode→encode→decode (-got +want):\n%s", v, diff)
			}
			if enc2 := EncodeJSONBody(again); !bytes.Equal(enc, enc2) {
				t.Fatalf("%T: encoding is not stable:\n%s\n%s", v, enc, enc2)
			}
		}
	})
}

// FuzzDecodeClusterInfo decodes a GET_BROKER_CLUSTER_INFO (106) answer as the
// control plane's discovery does with what a nameserver sends.
func FuzzDecodeClusterInfo(f *testing.F) {
	for _, b := range goldenBodies(f, func(g goldenFrame) bool {
		return g.IsResponse && g.RequestCode == CodeGetBrokerClusterInfo && g.BodyLen > 0
	}) {
		f.Add(b)
	}
	f.Add([]byte(`{"brokerAddrTable":{"b":{"brokerAddrs":{0:"h:1",1:"[::1]:2"},"brokerName":"b","cluster":"c"}},"clusterAddrTable":{"c":["b"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeClusterInfo(data)
		if err != nil {
			if c != nil {
				t.Fatalf("error %v with a non-nil value", err)
			}
			return
		}
		enc := c.Encode()
		c2, err := DecodeClusterInfo(enc)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", enc, err)
		}
		if diff := cmp.Diff(c2, c, cmp.AllowUnexported(ClusterInfo{})); diff != "" {
			t.Fatalf("decode→encode→decode (-got +want):\n%s", diff)
		}
		if enc2 := c2.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
	})
}

// FuzzOffsetMsgIDs rewrites the msgId field of a broker's send answer, as
// the relay does: ids that decode are pointed at the virtual endpoint and
// keep their commit log offset, everything else is left as it was.
func FuzzOffsetMsgIDs(f *testing.F) {
	real := netip.MustParseAddrPort("10.0.0.1:10911")
	f.Add([]byte(OffsetMsgID(real, 42)))
	f.Add([]byte(OffsetMsgID(real, 1) + "," + OffsetMsgID(netip.MustParseAddrPort("[::1]:10911"), 2)))
	f.Add([]byte("7F0000010000A1B5000000000000000A,not-an-id,"))
	for _, g := range loadGolden(f) {
		if g.IsResponse && g.RequestCode == CodeSendMessage {
			if cmd, err := DecodeFrame(g.raw); err == nil {
				f.Add([]byte(cmd.ExtFields["msgId"]))
			}
		}
	}
	virtual := netip.MustParseAddrPort("127.0.0.1:40001")
	f.Fuzz(func(t *testing.T, ids []byte) {
		orig := string(ids)
		out := RewriteOffsetMsgIDs(ids, virtual)
		in := strings.Split(orig, ",")
		got := strings.Split(string(out), ",")
		if len(got) != len(in) {
			t.Fatalf("%d ids became %d: %q → %q", len(in), len(got), orig, out)
		}
		for i, id := range in {
			if !isOffsetMsgID([]byte(id)) {
				if got[i] != id {
					t.Fatalf("item %q that is no offset message id became %q", id, got[i])
				}
				continue
			}
			host, off, err := DecodeOffsetMsgID(got[i])
			if err != nil || host != virtual || !strings.EqualFold(got[i][len(got[i])-16:], id[len(id)-16:]) {
				t.Fatalf("id %q became %q: %v offset %d, %v; want %v and the same offset", id, got[i], host, off, err, virtual)
			}
		}
	})
}

// FuzzParseProperties parses message properties from a client's send, as the
// relay does to find a transactional message's key: every pair it returns
// survives formatting and parsing again.
func FuzzParseProperties(f *testing.F) {
	for _, g := range loadGolden(f) {
		for _, m := range g.Messages {
			f.Add(m.Properties)
		}
	}
	f.Add("UNIQ_KEY\x01abc\x02TRAN_MSG\x01true\x02")
	f.Fuzz(func(t *testing.T, s string) {
		m := ParseProperties(s)
		again := ParseProperties(FormatProperties(m))
		if diff := cmp.Diff(again, m, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("parse→format→parse (-got +want):\n%s", diff)
		}
	})
}
