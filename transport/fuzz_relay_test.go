package transport_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// goldenWire is where the frames captured from Apache RocketMQ 4.9.8 live.
const goldenWire = "remoting/testdata/wire"

// goldenFrames returns the captured frames, requests (what a client sends)
// and responses and broker requests (what a broker sends).
func goldenFrames(tb testing.TB) (fromClient, fromBroker [][]byte) {
	tb.Helper()
	manifest, err := os.ReadFile(filepath.Join(goldenWire, "frames.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var entries []struct {
		File      string `json:"file"`
		Direction string `json:"direction"`
	}
	if err := json.Unmarshal(manifest, &entries); err != nil {
		tb.Fatal(err)
	}
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(goldenWire, filepath.Base(e.File)))
		if err != nil {
			tb.Fatal(err)
		}
		if strings.HasPrefix(e.Direction, "client") {
			fromClient = append(fromClient, raw)
		} else {
			fromBroker = append(fromBroker, raw)
		}
	}
	if len(fromClient) == 0 || len(fromBroker) == 0 {
		tb.Fatalf("golden frames: %d from clients, %d from brokers", len(fromClient), len(fromBroker))
	}
	return fromClient, fromBroker
}

// warnLog records the relay's log messages, for the reason a connection
// closed.
type warnLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *warnLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *warnLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	l.mu.Lock()
	l.msgs = append(l.msgs, b.String())
	l.mu.Unlock()
	return nil
}
func (l *warnLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *warnLog) WithGroup(string) slog.Handler      { return l }

func (l *warnLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.msgs
	l.msgs = nil
	return out
}

// malformed reports whether b, read as consecutive frames the way the relay
// reads them, holds something that is not a whole valid frame.
func malformed(b []byte) bool {
	for len(b) > 0 {
		if len(b) < 4 {
			return true
		}
		n := int64(int32(binary.BigEndian.Uint32(b)))
		if n < 4 || n > remoting.DefaultMaxFrameSize || int64(len(b)) < 4+n {
			return true
		}
		var v remoting.FrameView
		if v.Reset(b[:4+n]) != nil {
			return true
		}
		b = b[4+n:]
	}
	return false
}

// FuzzRelay writes fuzzed frames into a live relay connection pair: the
// client's bytes to a virtual endpoint, the broker's bytes from the real
// endpoint the relay connects to. The relay must not panic, must give the
// client nothing but valid frames, must close a connection that sent
// something malformed and log why, and must leave no goroutine behind once
// both sides are closed.
func FuzzRelay(f *testing.F) {
	fromClient, fromBroker := goldenFrames(f)
	for i, c := range fromClient {
		f.Add(c, fromBroker[i%len(fromBroker)])
	}
	f.Add(append(fromClient[0][:len(fromClient[0]):len(fromClient[0])], 0, 0, 0, 2), []byte{})
	f.Add(fromClient[1], []byte{0x7f, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0, 8, 1, 0, 0, 0, 0, 0, 0, 0}, bytes.Repeat(fromBroker[0], 3))

	logs := &warnLog{}
	router := newStaticRouter()
	r, err := transport.NewRelay(router, transport.WithLogger(slog.New(logs)), transport.WithDialTimeout(2*time.Second))
	if err != nil {
		f.Fatal(err)
	}
	defer r.Close()
	endpoint, err := r.Endpoint("broker-a", 0)
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, client, broker []byte) {
		base := runtime.NumGoroutine()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Skip(err)
		}
		defer ln.Close()
		brokerDone := make(chan struct{})
		go func() {
			defer close(brokerDone)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			_, _ = c.Write(broker)
			_, _ = io.Copy(io.Discard, c)
		}()
		router.set("broker-a", 0, member{addr: ln.Addr().String(), readable: true, writable: true})
		logs.take()

		c, err := net.Dial("tcp", endpoint)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		_, _ = c.Write(client)
		_ = c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil && !isReset(err) {
			t.Fatalf("reading the relay's answers: %v (the relay did not close the connection)", err)
		}
		c.Close()
		ln.Close()
		select {
		case <-brokerDone:
		case <-time.After(20 * time.Second):
			t.Fatal("the relay kept its broker connection open after the client left")
		}

		// Whole frames the client got are valid frames.
		for len(got) >= 4 {
			n := int64(int32(binary.BigEndian.Uint32(got)))
			if n < 4 || int64(len(got)) < 4+n {
				break // cut by the close
			}
			var v remoting.FrameView
			if err := v.Reset(got[:4+n]); err != nil {
				t.Fatalf("the relay sent the client a malformed frame: %v", err)
			}
			got = got[4+n:]
		}
		// A malformed client stream closes the connection with a reason.
		deadline := time.Now().Add(20 * time.Second)
		for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > base {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after the pair closed, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		if malformed(client) {
			warned := false
			msgs := logs.take()
			for _, m := range msgs {
				if strings.HasPrefix(m, "closing client connection") || strings.HasPrefix(m, "closing the connection pair") || strings.HasPrefix(m, "client connection ended mid-frame") {
					warned = strings.Contains(m, "err=") && !strings.HasSuffix(m, "err=")
				}
			}
			if !warned {
				t.Fatalf("a malformed client stream closed without a logged reason; warnings: %q", msgs)
			}
		}
	})
}
