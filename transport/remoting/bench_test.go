package remoting

import (
	"encoding/json"
	"testing"
)

// BenchmarkHeader compares the hand-written JSON header codec with encoding/json on
// the header of the golden SEND_MESSAGE (10) request from the Go client:
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
}
