package remoting

import (
	"encoding/json"
	"testing"
)

// BenchmarkHeader compares the hand-written JSON header codec with encoding/json on
// the header of the golden SEND_MESSAGE (10) request from the Go client, and times
// the typed headers of the hot path (send, pull) on golden extFields:
//
//	go test -run '^$' -bench Header -benchmem ./transport/remoting/
func BenchmarkHeader(b *testing.B) {
	g := goldenByName(b, loadGolden(b), "10-send-message-request")
	header := g.raw[8 : 8+g.HeaderLen]
	cmd, err := DecodeJSONHeader(header)
	if err != nil {
		b.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(header, &generic); err != nil {
		b.Fatal(err)
	}

	b.Run("decode/remoting", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(header)))
		for b.Loop() {
			if _, err := DecodeJSONHeader(header); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(header)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(header, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/remoting", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(header)))
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = cmd.appendJSONHeader(buf[:0])
		}
	})
	b.Run("encode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(header)))
		for b.Loop() {
			if _, err := json.Marshal(generic); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("frame-roundtrip/remoting", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(g.raw)))
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			c, err := DecodeFrame(g.raw)
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = c.AppendFrame(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	benchTypedHeaders(b)
}

// benchTypedHeaders times DecodeX and Encode of the typed headers a relay meets on
// every message. "pull-java" carries keys the type does not know (bname, ReqT),
// so it also times keeping Extra.
func benchTypedHeaders(b *testing.B) {
	frames := loadGolden(b)
	ext := func(name string) map[string]string {
		cmd, err := DecodeFrame(goldenByName(b, frames, name).raw)
		if err != nil {
			b.Fatal(err)
		}
		return cmd.ExtFields
	}
	encode := func(h *SendMessageRequestHeader) map[string]string { return h.Encode() }
	encodeV2 := func(h *SendMessageRequestHeader) map[string]string { return h.EncodeV2() }
	benchTyped(b, "send-v2", ext("310-send-message-v2-request"), DecodeSendMessageV2, encodeV2)
	benchTyped(b, "send", ext("10-send-message-request"), DecodeSendMessageRequestHeader, encode)
	benchTyped(b, "send-response", ext("310-send-message-v2-response"), DecodeSendMessageResponseHeader, (*SendMessageResponseHeader).Encode)
	benchTyped(b, "pull", ext("11-pull-message-request"), DecodePullMessageRequestHeader, (*PullMessageRequestHeader).Encode)
	benchTyped(b, "pull-java", ext("11-pull-message-java-request"), DecodePullMessageRequestHeader, (*PullMessageRequestHeader).Encode)
	benchTyped(b, "pull-response", ext("11-pull-message-response"), DecodePullMessageResponseHeader, (*PullMessageResponseHeader).Encode)
}

func benchTyped[H any](b *testing.B, name string, ext map[string]string, decode func(map[string]string) (H, error), encode func(H) map[string]string) {
	h, err := decode(ext)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("typed-decode/"+name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decode(ext); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("typed-encode/"+name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m := encode(h); len(m) == 0 {
				b.Fatal("empty extFields")
			}
		}
	})
}
