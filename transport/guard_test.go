package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// childDialEnv, when set, turns the test binary into a child process that dials
// the address it holds, asks for a route and reports what happened on stdout: the
// other process the guard must refuse.
const childDialEnv = "RMQMESH_TEST_CHILD_DIAL"

func childDial(addr string) int {
	c, err := net.DialTimeout("tcp", addr, meshtest.DefaultTimeout)
	if err != nil {
		fmt.Printf("dial failed: %v\n", err)
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(meshtest.DefaultTimeout))
	req := remoting.NewRequest(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "child"}, nil)
	req.Opaque = 1
	if err := remoting.WriteCommand(c, req); err != nil {
		fmt.Printf("closed: %v\n", err)
		return 0
	}
	resp, err := remoting.ReadCommand(c, 0)
	if err != nil {
		fmt.Printf("closed: %v\n", err)
		return 0
	}
	fmt.Printf("answered: code %d\n", resp.Code)
	return 0
}

// runChild dials addr from another process and returns what it reported.
func runChild(t *testing.T, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDialEnv+"="+addr)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child process: %v (output %q)", err, out)
	}
	return strings.TrimSpace(string(out))
}

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestOwnProcessGuard_RefusesAnotherProcess(t *testing.T) {
	var logs logBuffer
	ns := startNameServer(t, staticProvider(), transport.WithLogger(logs.logger()))
	got := runChild(t, ns.Addr())
	if guardChecksProcess {
		if !strings.HasPrefix(got, "closed:") {
			t.Errorf("another process got %q from the nameserver endpoint, want its connection closed", got)
		}
		if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "refused a connection") || !strings.Contains(l, "another process") {
			t.Errorf("no warning about the refused process in the log:\n%s", l)
		}
	} else if !strings.HasPrefix(got, "answered:") {
		t.Errorf("without a process check, another local process got %q, want an answer", got)
	}
	// This process is still served, before and after.
	if resp := dialWire(t, ns.Addr()).roundTrip(routeRequest("mine")); resp.Code != remoting.Success {
		t.Errorf("this process: code %d (%q)", resp.Code, resp.Remark)
	}
}

func TestWithGuard_NilServesAnotherProcess(t *testing.T) {
	ns := startNameServer(t, staticProvider(), transport.WithGuard(nil))
	if got := runChild(t, ns.Addr()); !strings.HasPrefix(got, "answered: code 0") {
		t.Errorf("with the guard off another process got %q, want an answer", got)
	}
}

func TestGuard_ErrorRefusesAndLogs(t *testing.T) {
	var logs logBuffer
	refuse := func(c net.Conn) error { return errors.New("not today") }
	ns := startNameServer(t, staticProvider(), transport.WithGuard(refuse), transport.WithLogger(logs.logger()))
	w := dialWire(t, ns.Addr())
	w.send(routeRequest("refused"))
	if cmd, err := remoting.ReadCommand(w.c, 0); err == nil {
		t.Fatalf("a refused connection was answered with code %d", cmd.Code)
	} else if !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("reading from a refused connection: %v, want it closed", err)
	}
	if l := logs.String(); !strings.Contains(l, "not today") {
		t.Errorf("the guard's reason is not in the log:\n%s", l)
	}
}

func TestMaxConnections_ClosesTheConnectionOverTheLimit(t *testing.T) {
	var logs logBuffer
	ns := startNameServer(t, staticProvider(), transport.WithMaxConnections(1), transport.WithLogger(logs.logger()))
	first := dialWire(t, ns.Addr())
	if resp := first.roundTrip(routeRequest("first")); resp.Code != remoting.Success {
		t.Fatalf("first connection: code %d", resp.Code)
	}
	second := dialWire(t, ns.Addr())
	second.send(routeRequest("second"))
	if _, err := remoting.ReadCommand(second.c, 0); err == nil {
		t.Fatal("the connection over the limit was served")
	}
	if l := logs.String(); !strings.Contains(l, "too many connections") || !strings.Contains(l, "limit=1") {
		t.Errorf("the limit is not in the log:\n%s", l)
	}
	// Closing the first makes room again.
	first.c.Close()
	meshtest.WaitFor(t, "a connection to be served after the first closed", func() bool {
		w := dialWire(t, ns.Addr())
		w.send(routeRequest("third"))
		cmd, err := remoting.ReadCommand(w.c, 0)
		return err == nil && cmd.Code == remoting.Success
	})
}

func TestNewNameServer_RefusesNonLoopbackAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "localhost:0", "10.1.2.3:0"} {
		ns, err := transport.NewNameServer(staticProvider(), transport.WithListenAddress(addr))
		if err == nil {
			ns.Close()
			t.Errorf("listening on %q succeeded, want loopback only", addr)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", addr)) {
			t.Errorf("error %q does not name %q", err, addr)
		}
	}
}

// BenchmarkOwnProcessGuard measures what the default guard costs per accepted
// connection, on a pool of established loopback connections, against the
// loopback check alone; it reports how many sockets the host's TCP tables held:
//
//	go test -run '^$' -bench OwnProcessGuard -benchmem ./transport/
func BenchmarkOwnProcessGuard(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	var accepted []net.Conn
	for range 64 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		s, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		accepted = append(accepted, s)
	}
	sockets := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if data, err := os.ReadFile(f); err == nil {
			sockets += bytes.Count(data, []byte("\n")) - 1
		}
	}
	for _, bc := range []struct {
		name  string
		guard transport.Guard
	}{{"loopback-only", transport.LoopbackGuard}, {"own-process", transport.OwnProcessGuard()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := bc.guard(accepted[i%len(accepted)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(sockets), "host-sockets")
		})
	}
}

// isReset reports whether err is the peer resetting the connection.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}
