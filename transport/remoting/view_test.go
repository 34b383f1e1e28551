package remoting

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// checkViewAgainstDecode checks that a view of frame reads what DecodeFrame
// decodes: the three integers, the body, and every extFields value.
func checkViewAgainstDecode(t *testing.T, frame []byte) {
	t.Helper()
	cmd, derr := DecodeFrame(frame)
	var v FrameView
	verr := v.Reset(frame)
	if derr != nil {
		if verr == nil && !errors.Is(derr, ErrBadHeader) {
			t.Fatalf("DecodeFrame: %v, but the view accepted the frame", derr)
		}
		return
	}
	if verr != nil {
		// The view insists on an opaque; everything else DecodeFrame takes, it
		// takes.
		if strings.Contains(verr.Error(), "no opaque") {
			return
		}
		t.Fatalf("view Reset: %v, but DecodeFrame accepted the frame", verr)
	}
	if v.Code() != cmd.Code || v.Opaque() != cmd.Opaque || v.Flag() != cmd.Flag || v.Version() != cmd.Version || v.SerializeType() != cmd.SerializeType {
		t.Fatalf("view code/opaque/flag/version/type %d/%d/%d/%d/%v, decoded %d/%d/%d/%d/%v",
			v.Code(), v.Opaque(), v.Flag(), v.Version(), v.SerializeType(), cmd.Code, cmd.Opaque, cmd.Flag, cmd.Version, cmd.SerializeType)
	}
	if string(v.Body()) != string(cmd.Body) {
		t.Fatalf("view body %q, decoded %q", v.Body(), cmd.Body)
	}
	for k, want := range cmd.ExtFields {
		got, ok := v.Ext(k)
		if !ok || got != want {
			t.Fatalf("view ext %q = %q, %v; decoded %q", k, got, ok, want)
		}
	}
	if v.HasExt("no-such-key-\x00") {
		t.Fatal("view has a key the frame does not")
	}
}

func TestFrameView_GoldenFramesReadAsDecoded(t *testing.T) {
	for _, g := range loadGolden(t) {
		t.Run(g.File, func(t *testing.T) {
			checkViewAgainstDecode(t, g.raw)
		})
	}
}

// editCases are edits and the extFields they must produce, applied to every
// golden frame.
var editCases = []struct {
	name  string
	edits []ExtEdit
}{
	{"none", nil},
	{"add", []ExtEdit{{Key: "bname", Value: "broker-a"}}},
	{"replace and add", []ExtEdit{{Key: "queueId", Value: "-1"}, {Key: "bname", Value: `needs "escaping"` + "\x01"}}},
}

func TestFrameView_AppendEditedMatchesCommandEdits(t *testing.T) {
	for _, g := range loadGolden(t) {
		for _, tc := range editCases {
			t.Run(g.File+"/"+tc.name, func(t *testing.T) {
				var v FrameView
				if err := v.Reset(g.raw); err != nil {
					t.Fatalf("Reset: %v", err)
				}
				const opaque = 1234567
				out, err := v.AppendEdited([]byte("prefix"), opaque, tc.edits)
				if err != nil {
					t.Fatalf("AppendEdited: %v", err)
				}
				if string(out[:6]) != "prefix" {
					t.Fatalf("AppendEdited overwrote dst")
				}
				got, err := DecodeFrame(out[6:])
				if err != nil {
					t.Fatalf("decoding the edited frame: %v\n%q", err, out[6:])
				}
				want, _ := DecodeFrame(g.raw)
				want.Opaque = opaque
				if len(tc.edits) > 0 || want.ExtFields != nil {
					ext := maps.Clone(want.ExtFields)
					if ext == nil {
						ext = map[string]string{}
					}
					for _, e := range tc.edits {
						ext[e.Key] = e.Value
					}
					want.ExtFields = ext
				}
				if diff := cmp.Diff(got, want, commandOpts); diff != "" {
					t.Errorf("edited frame (-got +want):\n%s", diff)
				}
				if len(tc.edits) == 0 && want.SerializeType == SerializeRocketMQ {
					if string(out[6+binOpaqueAt+4:]) != string(g.raw[binOpaqueAt+4:]) || string(out[6:6+binOpaqueAt]) != string(g.raw[:binOpaqueAt]) {
						t.Errorf("a binary frame with only its opaque changed differs elsewhere")
					}
				}
			})
		}
	}
}

func TestFrameView_SetOpaqueInPlace(t *testing.T) {
	req := NewRequest(CodeHeartBeat, map[string]string{"k": "v"}, []byte("body"))
	for _, st := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		req.SerializeType = st
		req.Opaque = 123456
		frame, err := req.EncodeFrame()
		if err != nil {
			t.Fatal(err)
		}
		var v FrameView
		if err := v.Reset(frame); err != nil {
			t.Fatal(err)
		}
		if !v.SetOpaqueInPlace(-7) || v.Opaque() != -7 {
			t.Fatalf("%v: a shorter opaque was not set in place", st)
		}
		if got, err := DecodeFrame(frame); err != nil || got.Opaque != -7 || string(got.Body) != "body" || got.ExtFields["k"] != "v" {
			t.Fatalf("%v: after SetOpaqueInPlace(-7): %+v, %v", st, got, err)
		}
		fits := v.SetOpaqueInPlace(1234567890)
		if st == SerializeJSON && fits {
			t.Errorf("JSON: a longer opaque was set in place")
		}
		if st == SerializeRocketMQ && !fits {
			t.Errorf("ROCKETMQ: the opaque was not set in place")
		}
		if !fits {
			if _, err := DecodeFrame(frame); err != nil {
				t.Fatalf("%v: a refused in-place edit broke the frame: %v", st, err)
			}
		}
	}
}

func TestFrameView_ExtRawEditsInPlace(t *testing.T) {
	for _, st := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		resp := NewResponse(&Command{SerializeType: st}, Success, "")
		resp.ExtFields = map[string]string{"msgId": "0A0000010000000000000001", "escaped": "a\u0001b", "queueId": "3"}
		frame, err := resp.EncodeFrame()
		if err != nil {
			t.Fatal(err)
		}
		var v FrameView
		if err := v.Reset(frame); err != nil {
			t.Fatal(err)
		}
		s, e, ok := v.ExtRaw("msgId")
		if !ok || string(frame[s:e]) != "0A0000010000000000000001" {
			t.Fatalf("%v: ExtRaw(msgId) = %q, %v", st, frame[s:e], ok)
		}
		copy(frame[s:], "7F000001")
		got, err := DecodeFrame(frame)
		if err != nil || got.ExtFields["msgId"] != "7F0000010000000000000001" {
			t.Fatalf("%v: after an in-place edit: %v, %v", st, got.ExtFields, err)
		}
		if _, _, ok := v.ExtRaw("escaped"); ok == (st == SerializeJSON) {
			t.Errorf("%v: ExtRaw of a value with escapes: ok %v", st, ok)
		}
		if _, _, ok := v.ExtRaw("absent"); ok {
			t.Errorf("%v: ExtRaw of an absent key succeeded", st)
		}
	}
}

func TestFrameView_JSONCornerCases(t *testing.T) {
	frame := func(header string) []byte {
		f := append(frameOf(SerializeJSON, []byte(header)), "body"...)
		putFrameLengths(f, SerializeJSON, len(header))
		return f
	}
	for _, tc := range []struct {
		name, header string
		want         map[string]string // nil when extFields is absent
		wantErr      string
	}{
		{name: "null extFields", header: `{"code":10,"opaque":5,"extFields":null}`},
		{name: "absent extFields", header: `{"opaque":5,"code":10}`},
		{name: "whitespace everywhere", header: " { \"opaque\" : 5 , \"extFields\" : { \"a\" : \"1\" , \"b\":2,\"c\":true,\"d\":null } } ", want: map[string]string{"a": "1", "b": "2", "c": "true"}},
		{name: "duplicate key, last wins", header: `{"opaque":5,"extFields":{"a":"1","a":"2"}}`, want: map[string]string{"a": "2"}},
		{name: "escaped key", header: `{"opaque":5,"extFields":{"\u0074opic":"t"}}`, want: map[string]string{"topic": "t"}},
		{name: "duplicate key, last null", header: `{"opaque":5,"extFields":{"a":"1","b":"x","a":null}}`, want: map[string]string{"b": "x"}},
		{name: "duplicate key, escaped last", header: `{"opaque":5,"extFields":{"a":"1","\u0061":"2"}}`, want: map[string]string{"a": "2"}},
		{name: "nested value", header: `{"opaque":5,"extFields":{"a":{"b":1}}}`, wantErr: "not a string"},
		{name: "no opaque", header: `{"code":10}`, wantErr: "no opaque"},
		{name: "opaque not a number", header: `{"opaque":"5"}`, wantErr: "opaque"},
		{name: "trailing", header: `{"opaque":5} x`, wantErr: "trailing"},
		{name: "bad escape", header: `{"opaque":5,"remark":"\x"}`, wantErr: "escape"},
		{name: "control character", header: "{\"opaque\":5,\"remark\":\"\x01\"}", wantErr: "control"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := frame(tc.header)
			var v FrameView
			err := v.Reset(f)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrBadHeader) {
					t.Fatalf("Reset: %v, want ErrBadHeader naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Reset: %v", err)
			}
			checkViewAgainstDecode(t, f)
			for k, want := range tc.want {
				if got, ok := v.Ext(k); !ok || got != want {
					t.Errorf("Ext(%q) = %q, %v; want %q", k, got, ok, want)
				}
			}
			if v.HasExt("d") {
				t.Error("a null value counts as present")
			}
			out, err := v.AppendEdited(nil, 6, []ExtEdit{{Key: "bname", Value: "b"}, {Key: "a", Value: "9"}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeFrame(out)
			if err != nil {
				t.Fatalf("decoding %q: %v", out, err)
			}
			if got.Opaque != 6 || got.ExtFields["bname"] != "b" || got.ExtFields["a"] != "9" || string(got.Body) != "body" {
				t.Errorf("edited: %+v", got)
			}
		})
	}
}

func TestFrameView_RejectsWhatDecodeRejects(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"short", []byte{0, 0, 0}, ErrTruncated},
		{"length mismatch", []byte{0, 0, 0, 9, 0, 0, 0, 0}, ErrBadLength},
		{"header length too big", []byte{0, 0, 0, 4, 0, 0, 0, 9}, ErrBadLength},
		{"serialize type", []byte{0, 0, 0, 4, 7, 0, 0, 0}, ErrUnknownSerializeType},
		{"binary truncated", frameOf(SerializeRocketMQ, []byte{0, 10, 9}), ErrTruncated},
		{"binary language", frameOf(SerializeRocketMQ, append([]byte{0, 10, 99}, make([]byte, 22)...)), ErrBadHeader},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v FrameView
			if err := v.Reset(tc.frame); !errors.Is(err, tc.want) {
				t.Errorf("Reset: %v, want %v", err, tc.want)
			}
			if _, err := v.AppendEdited(nil, 1, nil); err == nil {
				t.Error("a view whose Reset failed could be edited")
			}
		})
	}
}

// frameOf wraps a header in a frame of the given serialize type.
func frameOf(st SerializeType, header []byte) []byte {
	f := make([]byte, 8, 8+len(header))
	f = append(f, header...)
	putFrameLengths(f, st, len(header))
	return f
}

func putFrameLengths(f []byte, st SerializeType, headerLen int) {
	n := len(f) - 4
	f[0], f[1], f[2], f[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	w := uint32(st)<<24 | uint32(headerLen)
	f[4], f[5], f[6], f[7] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
}

// BenchmarkFrameView compares what a relay pays to read a send request's routing
// fields and add bname, through a view and through a decoded Command:
//
//	go test -run '^$' -bench FrameView -benchmem ./transport/remoting/
func BenchmarkFrameView(b *testing.B) {
	g := goldenByName(b, loadGolden(b), "10-send-message-request")
	edits := []ExtEdit{{Key: "bname", Value: "broker-a"}}
	b.Run("view", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(g.raw)))
		var v FrameView
		var topic, out []byte
		for b.Loop() {
			if err := v.Reset(g.raw); err != nil {
				b.Fatal(err)
			}
			topic, _ = v.AppendExt(topic[:0], "topic")
			var err error
			if out, err = v.AppendEdited(out[:0], v.Opaque(), edits); err != nil {
				b.Fatal(err)
			}
		}
		_ = topic
	})
	b.Run("command", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(g.raw)))
		var out []byte
		for b.Loop() {
			c, err := DecodeFrame(g.raw)
			if err != nil {
				b.Fatal(err)
			}
			_ = c.Ext("topic")
			c.SetExt("bname", "broker-a")
			if out, err = c.AppendFrame(out[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzFrameView checks the view against DecodeFrame on arbitrary frames, and
// that an edited frame decodes to the original plus the edits.
func FuzzFrameView(f *testing.F) {
	for _, g := range loadGolden(f) {
		f.Add(g.raw, "bname", "broker-a")
	}
	f.Fuzz(func(t *testing.T, data []byte, key, value string) {
		checkViewAgainstDecode(t, data)
		var v FrameView
		if v.Reset(data) != nil {
			return
		}
		orig, err := DecodeFrame(data)
		if err != nil {
			t.Fatalf("the view accepted a frame DecodeFrame rejects: %v", err)
		}
		out, err := v.AppendEdited(nil, 42, []ExtEdit{{Key: key, Value: value}})
		if err != nil {
			return // a key too long for a ROCKETMQ header, named in the error
		}
		got, err := DecodeFrame(out)
		if err != nil {
			t.Fatalf("decoding the edited frame: %v", err)
		}
		if got.Opaque != 42 || got.ExtFields[key] != value || string(got.Body) != string(orig.Body) || got.Code != orig.Code {
			t.Fatalf("edited frame: opaque %d, %q=%q, body %q, code %d", got.Opaque, key, got.ExtFields[key], got.Body, got.Code)
		}
		for k, want := range orig.ExtFields {
			if k != key && got.ExtFields[k] != want {
				t.Fatalf("edit changed %q from %q to %q", k, want, got.ExtFields[k])
			}
		}
	})
}
