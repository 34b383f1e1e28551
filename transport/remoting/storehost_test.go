package remoting

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestRewriteStoreHosts(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.0.7:10911")
	v6 := netip.MustParseAddrPort("[2001:db8::7]:10911")
	virtual := netip.MustParseAddrPort("127.0.0.1:40001")
	virtual6 := netip.MustParseAddrPort("[::1]:40001")
	msg := func(store netip.AddrPort, off int64, body string) *Message {
		return &Message{
			Topic: "orders", QueueID: 1, Body: []byte(body), BornTimestamp: 1, StoreTimestamp: 2,
			BornHost: netip.MustParseAddrPort("[2001:db8::9]:5"), StoreHost: store, CommitLogOffset: off,
			Properties: FormatProperties(map[string]string{"UNIQ_KEY": "U" + body}),
		}
	}
	for _, tc := range []struct {
		name   string
		msgs   []*Message
		host   netip.AddrPort
		inPlce bool
	}{
		{"IPv4 to IPv4 in place", []*Message{msg(v4, 0, "a"), msg(v4, 100, "bb")}, virtual, true},
		{"IPv6 to IPv4 resized", []*Message{msg(v6, 0, "a"), msg(v4, 100, "bb")}, virtual, false},
		{"IPv4 to IPv6 resized", []*Message{msg(v4, 5, "a")}, virtual6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			for _, m := range tc.msgs {
				body = AppendMessage(body, m)
			}
			out, err := RewriteStoreHosts(body, tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if inPlace := len(out) > 0 && &out[0] == &body[0]; inPlace != tc.inPlce {
				t.Errorf("in place %v, want %v", inPlace, tc.inPlce)
			}
			got, err := DecodeMessages(out)
			if err != nil {
				t.Fatalf("decoding the rewritten body: %v", err)
			}
			if len(got) != len(tc.msgs) {
				t.Fatalf("%d messages, want %d", len(got), len(tc.msgs))
			}
			for i, m := range got {
				want := tc.msgs[i]
				if m.StoreHost != tc.host {
					t.Errorf("message %d: store host %v, want %v", i, m.StoreHost, tc.host)
				}
				if string(m.Body) != string(want.Body) || m.CommitLogOffset != want.CommitLogOffset || m.BornHost != want.BornHost || m.Properties != want.Properties {
					t.Errorf("message %d changed beyond its store host: %+v", i, m)
				}
				if m.BodyCRC != BodyCRC(want.Body) {
					t.Errorf("message %d: body CRC %d, want %d", i, m.BodyCRC, BodyCRC(want.Body))
				}
				if m.OffsetMsgID() != OffsetMsgID(tc.host, want.CommitLogOffset) {
					t.Errorf("message %d: offset msg id %s, want one naming %v", i, m.OffsetMsgID(), tc.host)
				}
			}
		})
	}
	t.Run("malformed", func(t *testing.T) {
		body := AppendMessage(nil, msg(v4, 0, "a"))
		body = append(body, 0, 0, 0, 200) // a record that claims more than is there
		orig := string(body)
		if _, err := RewriteStoreHosts(body, virtual); !errors.Is(err, ErrBadBody) {
			t.Errorf("error %v, want ErrBadBody", err)
		}
		if string(body) != orig {
			t.Error("a malformed body was changed")
		}
	})
}

func TestRewriteOffsetMsgIDs(t *testing.T) {
	real4 := netip.MustParseAddrPort("10.0.0.7:10911")
	real6 := netip.MustParseAddrPort("[2001:db8::7]:10911")
	virtual := netip.MustParseAddrPort("127.0.0.1:40001")
	id := func(h netip.AddrPort, off int64) string { return OffsetMsgID(h, off) }
	for _, tc := range []struct {
		name, in, want string
		inPlace        bool
	}{
		{"one", id(real4, 42), id(virtual, 42), true},
		{"batch", id(real4, 1) + "," + id(real4, 2), id(virtual, 1) + "," + id(virtual, 2), true},
		{"IPv6 resized", id(real6, 3) + "," + id(real4, 4), id(virtual, 3) + "," + id(virtual, 4), false},
		{"reply zero kept", "0", "0", true},
		{"garbage kept", "xyz," + id(real4, 5), "xyz," + id(virtual, 5), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			out := RewriteOffsetMsgIDs(in, virtual)
			if string(out) != tc.want {
				t.Errorf("got %s, want %s", out, tc.want)
			}
			if inPlace := len(out) > 0 && &out[0] == &in[0]; inPlace != tc.inPlace {
				t.Errorf("in place %v, want %v", inPlace, tc.inPlace)
			}
			for _, s := range strings.Split(string(out), ",") {
				if len(s) < 32 {
					continue
				}
				if h, _, err := DecodeOffsetMsgID(s); err != nil || h != virtual {
					t.Errorf("id %s decodes to %v, %v", s, h, err)
				}
			}
		})
	}
}

func FuzzRewriteStoreHosts(f *testing.F) {
	for _, g := range loadGolden(f) {
		if len(g.Messages) > 0 {
			f.Add(g.raw[8+g.HeaderLen:])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		orig := append([]byte(nil), body...)
		host := netip.MustParseAddrPort("127.0.0.1:40001")
		out, err := RewriteStoreHosts(body, host)
		if err != nil {
			if string(body) != string(orig) {
				t.Fatal("a body that failed to rewrite was changed")
			}
			return
		}
		msgs, derr := DecodeMessages(orig)
		if derr != nil {
			return // the rewrite only needs record sizes; decoding wants more
		}
		got, err := DecodeMessages(out)
		if err != nil {
			t.Fatalf("a decodable body no longer decodes after the rewrite: %v", err)
		}
		for i := range msgs {
			if got[i].StoreHost != host || string(got[i].Body) != string(msgs[i].Body) {
				t.Fatalf("message %d: store host %v body %q", i, got[i].StoreHost, got[i].Body)
			}
		}
	})
}
