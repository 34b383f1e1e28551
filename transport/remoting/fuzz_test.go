package remoting

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// commandOpts compares decoded commands as values: nil and empty extFields or
// bodies are the same for a codec that cannot always tell them apart.
var commandOpts = cmp.Options{
	cmpopts.IgnoreUnexported(Command{}),
	cmpopts.EquateEmpty(),
}

func FuzzDecodeFrame(f *testing.F) {
	for _, g := range loadGolden(f) {
		f.Add(g.raw)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := DecodeFrame(data)
		if err != nil {
			if cmd != nil {
				t.Fatalf("error %v with a non-nil command", err)
			}
			return
		}
		if _, err := ReadCommand(bytes.NewReader(data), len(data)); err != nil {
			t.Fatalf("DecodeFrame accepted what ReadCommand rejects: %v", err)
		}
		out, err := cmd.EncodeFrame()
		if err != nil {
			t.Fatalf("EncodeFrame of a decoded command: %v", err)
		}
		if int(binary.BigEndian.Uint32(out)) != len(out)-4 {
			t.Fatalf("length field %d for %d bytes", binary.BigEndian.Uint32(out), len(out)-4)
		}
		again, err := DecodeFrame(out)
		if err != nil {
			t.Fatalf("re-decoding %x: %v", out, err)
		}
		if diff := cmp.Diff(again, cmd, commandOpts); diff != "" {
			t.Fatalf("decode→encode→decode (-got +want):\n%s", diff)
		}
	})
}

// goldenHeaders returns the headers of the golden frames of one serialize type.
func goldenHeaders(tb testing.TB, st SerializeType) [][]byte {
	var out [][]byte
	for _, g := range loadGolden(tb) {
		if SerializeType(g.raw[4]) == st {
			out = append(out, g.raw[8:8+g.HeaderLen])
		}
	}
	return out
}

func FuzzDecodeJSONHeader(f *testing.F) {
	for _, h := range goldenHeaders(f, SerializeJSON) {
		f.Add(h)
	}
	f.Add([]byte(`{"code":1,"extFields":{"a":1.5e3,"b":true,"c":null,"d":"\u00e9\ud83d\ude00\n"},"x":[{"y":[]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := DecodeJSONHeader(data)
		if err != nil {
			return
		}
		out := cmd.appendJSONHeader(nil)
		again, err := DecodeJSONHeader(out)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if diff := cmp.Diff(again, cmd, commandOpts); diff != "" {
			t.Fatalf("decode→encode→decode (-got +want):\n%s", diff)
		}
		if again.Style != cmd.Style {
			t.Fatalf("style %d became %d", cmd.Style, again.Style)
		}
		if out2 := again.appendJSONHeader(nil); !bytes.Equal(out2, out) {
			t.Fatalf("encoding is not stable:\n%s\n%s", out, out2)
		}
	})
}

func FuzzDecodeRocketMQHeader(f *testing.F) {
	for _, h := range goldenHeaders(f, SerializeRocketMQ) {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := DecodeRocketMQHeader(data)
		if err != nil {
			return
		}
		out, err := cmd.appendRocketMQHeader(nil)
		if err != nil {
			t.Fatalf("encoding a decoded header: %v", err)
		}
		again, err := DecodeRocketMQHeader(out)
		if err != nil {
			t.Fatalf("re-decoding %x: %v", out, err)
		}
		if diff := cmp.Diff(again, cmd, commandOpts); diff != "" {
			t.Fatalf("decode→encode→decode (-got +want):\n%s", diff)
		}
		// Without duplicate keys, a relayed binary header is byte-identical.
		if len(cmd.extOrder) == len(cmd.ExtFields) && countBinaryPairs(t, data) == len(cmd.ExtFields) && !bytes.Equal(out, data) {
			t.Fatalf("re-encoded header differs:\n got %x\nwant %x", out, data)
		}
	})
}

// countBinaryPairs counts the extFields pairs of a valid ROCKETMQ header.
func countBinaryPairs(t *testing.T, h []byte) int {
	r := binReader{b: h}
	r.bytes(13, "fixed")
	r.bytes(r.length("remark length"), "remark")
	ext := r.bytes(r.length("ext length"), "ext")
	er := binReader{b: ext}
	n := 0
	for er.i < len(ext) {
		er.bytes(int(er.u16("k")), "k")
		er.bytes(er.length("v"), "v")
		n++
	}
	if r.err != nil || er.err != nil {
		t.Fatalf("counting pairs of a valid header: %v %v", r.err, er.err)
	}
	return n
}

func FuzzDecodeTopicRouteData(f *testing.F) {
	for _, b := range goldenBodies(f, func(g goldenFrame) bool {
		return g.IsResponse && (g.RequestCode == CodeGetRouteInfoByTopic || g.RequestCode == CodeGetBrokerClusterInfo) && g.BodyLen > 0
	}) {
		f.Add(b)
	}
	f.Add([]byte(`{"orderTopicConf":"a:1","brokerDatas":[{"brokerAddrs":{0:"::1:10911",-1:"x"},"brokerName":"b"}],"filterServerTable":{"h:1":["f:2"]},"queueDatas":[{"perm":"6"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if r, err := DecodeTopicRouteData(data); err == nil {
			for _, style := range []RouteKeyStyle{RouteKeysFastjson, RouteKeysStandard} {
				enc := r.Encode(style)
				r2, err := DecodeTopicRouteData(enc)
				if err != nil {
					t.Fatalf("re-decoding %s: %v", enc, err)
				}
				enc2 := r2.Encode(style)
				if !bytes.Equal(enc, enc2) {
					t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
				}
				r3, err := DecodeTopicRouteData(enc2)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(r3, r2); diff != "" {
					t.Fatalf("decode→encode→decode (-got +want):\n%s", diff)
				}
			}
		}
		if c, err := DecodeClusterInfo(data); err == nil {
			enc := c.Encode()
			c2, err := DecodeClusterInfo(enc)
			if err != nil {
				t.Fatalf("re-decoding cluster info %s: %v", enc, err)
			}
			if enc2 := c2.Encode(); !bytes.Equal(enc, enc2) {
				t.Fatalf("cluster info encoding is not stable:\n%s\n%s", enc, enc2)
			}
		}
	})
}

func FuzzDecodeMessages(f *testing.F) {
	for _, b := range goldenBodies(f, func(g goldenFrame) bool { return g.Messages != nil }) {
		f.Add(b)
	}
	f.Add(AppendMessage(nil, &Message{
		MagicV2: true, Topic: "t", SysFlag: SysFlagCompressed | SysFlagBornHostV6 | SysFlagStoreHostV6,
		BornHost: netip.MustParseAddrPort("[::1]:1"), Body: []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01},
	}))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := DecodeMessages(data)
		if err != nil {
			return
		}
		var out []byte
		for _, m := range msgs {
			out = AppendMessage(out, m)
		}
		if len(out) != len(data) {
			t.Fatalf("re-encoded %d bytes from %d", len(out), len(data))
		}
		again, err := DecodeMessages(out)
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		for _, m := range msgs {
			m.BodyCRC = BodyCRC(m.Body)
			_, _ = m.UncompressedBody()
			_ = ParseProperties(m.Properties)
		}
		if diff := cmp.Diff(again, msgs, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
			t.Fatalf("decode→encode→decode (-got +want):\n%s", diff)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	for _, b := range goldenBodies(f, func(g goldenFrame) bool { return g.BatchMessages != nil }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		batch, err := DecodeBatch(data)
		if err != nil {
			return
		}
		var out []byte
		for _, m := range batch {
			out = AppendBatchMessage(out, m)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("re-encoded batch differs:\n got %x\nwant %x", out, data)
		}
		if len(batch) > 0 {
			if first, err := FirstBatchProperties(data); err != nil || string(first) != batch[0].Properties {
				t.Fatalf("FirstBatchProperties = %q, %v; DecodeBatch read %q", first, err, batch[0].Properties)
			}
		}
	})
}

// FuzzFirstBatchProperties reads the first member's properties of any body, as
// the relay does for traced batch sends: no panic, and the result lies inside
// the body.
func FuzzFirstBatchProperties(f *testing.F) {
	for _, b := range goldenBodies(f, func(g goldenFrame) bool { return g.BatchMessages != nil }) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		props, err := FirstBatchProperties(data)
		if err != nil {
			if !errors.Is(err, ErrBadBody) {
				t.Fatalf("error %v does not wrap ErrBadBody", err)
			}
			return
		}
		if len(props) > 0 && !bytes.Contains(data, props) {
			t.Fatalf("properties %q are not from the body", props)
		}
	})
}

// FuzzPropertyValue checks that PropertyValue agrees with ParseProperties on
// any property string.
func FuzzPropertyValue(f *testing.F) {
	f.Add("a\x011\x02b\x012\x02", "a")
	f.Add("traceparent\x0100-x\x02traceparent\x01y", "traceparent")
	f.Fuzz(func(t *testing.T, s, name string) {
		got, ok := PropertyValue(s, name)
		want, wantOK := ParseProperties(s)[name]
		if got != want || ok != wantOK {
			t.Fatalf("PropertyValue(%q, %q) = %q, %v; ParseProperties has %q, %v", s, name, got, ok, want, wantOK)
		}
	})
}

// FuzzTypedHeaders decodes the extFields of a frame with every typed header, as a
// relay or meshtest does with what a client sent. An error names the header and
// wraps ErrBadField; a decoded header encodes to extFields that decode to the same
// header and encode to the same map, and keeps every key it does not know verbatim.
func FuzzTypedHeaders(f *testing.F) {
	for _, g := range loadGolden(f) {
		if len(g.Header) > 0 {
			f.Add(g.raw)
		}
	}
	// Headers the capture has no frame for, and keys the types do not know.
	for _, ext := range []map[string]string{
		{"consumerGroup": "g", "topic": "T", "queueId": "-1", "maxMsgNums": "32", "invisibleTime": "60000", "pollTime": "15000", "bornTime": "1", "initMode": "0", "expType": "TAG", "exp": "*", "order": "false", "attemptId": "a"},
		{"consumerGroup": "g", "topic": "T", "queueId": "0", "extraInfo": "0 1 2", "offset": "9", "bname": "broker-a"},
		{"topic": "T", "group": "g", "timestamp": "1", "isForce": "TRUE"},
		{"consumerGroup": "g", "clientId": "c", "msgId": "m", "brokerName": "b", "jstackEnable": "false"},
		{"a": "p", "b": "T", "c": "TBW102", "d": "4", "e": "-1", "f": "0", "g": "1", "h": "0", "l": "16", "m": "true", "x-mesh": "1"},
	} {
		frame, err := NewRequest(CodeSendMessageV2, ext, nil).EncodeFrame()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, err := DecodeFrame(data)
		if err != nil {
			return
		}
		for _, h := range generatedHeaders {
			enc, dec, err := h.codec(cmd.ExtFields)
			if err != nil {
				if !errors.Is(err, ErrBadField) || !strings.HasPrefix(err.Error(), "remoting: "+h.name+": ") {
					t.Fatalf("%s: error %q does not name the header or wrap ErrBadField", h.name, err)
				}
				continue
			}
			for k, v := range cmd.ExtFields {
				if got, ok := enc[k]; !h.isKey(k) && (!ok || got != v) {
					t.Fatalf("%s: unknown key %q = %q encoded as %q, %t", h.name, k, v, got, ok)
				}
			}
			for k := range enc {
				if _, ok := cmd.ExtFields[k]; !ok && !h.isKey(k) {
					t.Fatalf("%s: encoding added unknown key %q", h.name, k)
				}
			}
			enc2, again, err := h.codec(enc)
			if err != nil {
				t.Fatalf("%s: re-decoding %v: %v", h.name, enc, err)
			}
			if diff := cmp.Diff(again, dec, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("%s: decode→encode→decode (-got +want):\n%s", h.name, diff)
			}
			if diff := cmp.Diff(enc2, enc); diff != "" {
				t.Fatalf("%s: encoding is not stable (-got +want):\n%s", h.name, diff)
			}
		}
	})
}
