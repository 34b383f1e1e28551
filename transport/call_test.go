package transport_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// loopbackServer accepts connections on 127.0.0.1 and hands each one, with the
// first request read from it, to script. It closes the listener and every
// connection, and waits for the scripts, when the test ends.
func loopbackServer(t *testing.T, script func(c net.Conn, req *remoting.Command)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				req, err := remoting.ReadCommand(c, 0)
				if err != nil {
					return
				}
				script(c, req)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func write(t *testing.T, c net.Conn, cmd *remoting.Command) {
	if err := remoting.WriteCommand(c, cmd); err != nil {
		t.Errorf("server write: %v", err)
	}
}

// holdOpen reads until the client goes away, answering nothing.
func holdOpen(c net.Conn) {
	var buf [512]byte
	for {
		if _, err := c.Read(buf[:]); err != nil {
			return
		}
	}
}

func callRequest(opaque int32) *remoting.Command {
	req := remoting.NewRequest(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": "orders"}, nil)
	req.Opaque = opaque
	return req
}

func TestCall_SkipsServerRequestsAndOtherOpaques(t *testing.T) {
	addr := loopbackServer(t, func(c net.Conn, req *remoting.Command) {
		// A broker may call the client back on the same connection, reusing any
		// opaque; and a stray response to another opaque must not be taken.
		callback := remoting.NewRequest(remoting.CodeNotifyConsumerIDsChanged, map[string]string{"consumerGroup": "g"}, nil)
		callback.Opaque = req.Opaque
		write(t, c, callback)
		write(t, c, remoting.NewResponse(&remoting.Command{Opaque: req.Opaque + 1}, remoting.Success, "not mine"))
		write(t, c, remoting.NewResponse(req, remoting.Success, "mine"))
		holdOpen(c)
	})
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	resp, err := transport.Call(ctx, addr, callRequest(41))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if !resp.IsResponse() || resp.Opaque != 41 || resp.Remark != "mine" {
		t.Errorf("Call returned response=%v opaque %d remark %q, want the response to opaque 41 remarked \"mine\"", resp.IsResponse(), resp.Opaque, resp.Remark)
	}
}

func TestCall_HonoursContextCancel(t *testing.T) {
	received := make(chan struct{})
	addr := loopbackServer(t, func(c net.Conn, _ *remoting.Command) {
		close(received)
		holdOpen(c)
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-received:
		case <-time.After(meshtest.DefaultTimeout):
		}
		cancel()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := transport.Call(ctx, addr, callRequest(1))
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(meshtest.DefaultTimeout):
		t.Fatal("Call did not return after its context was cancelled")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Call error %v, want context.Canceled", err)
	}
	for _, want := range []string{addr, "GET_ROUTEINFO_BY_TOPIC"} {
		if err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestCall_DeadlineIsContextDeadlineExceeded(t *testing.T) {
	addr := loopbackServer(t, func(c net.Conn, _ *remoting.Command) { holdOpen(c) })
	// The connection deadline and the context's timer expire at the same instant;
	// whichever fires first, the caller must see the context's error.
	for i := range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		_, err := transport.Call(ctx, addr, callRequest(int32(i)))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("call %d: error %v, want context.DeadlineExceeded", i, err)
		}
	}
}

func TestCall_AlreadyCancelled(t *testing.T) {
	addr := loopbackServer(t, func(c net.Conn, _ *remoting.Command) { holdOpen(c) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := transport.Call(ctx, addr, callRequest(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Call with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestCall_ConnectionErrorsNameTheAddress(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	t.Run("nothing listens", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = transport.Call(ctx, addr, callRequest(1))
		if err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "GET_ROUTEINFO_BY_TOPIC") {
			t.Errorf("Call to a closed port: %v, want an error naming %s and the request", err, addr)
		}
	})
	t.Run("server hangs up without answering", func(t *testing.T) {
		addr := loopbackServer(t, func(net.Conn, *remoting.Command) {})
		_, err := transport.Call(ctx, addr, callRequest(1))
		if err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("Call to a server that hangs up: %v, want an error naming %s", err, addr)
		}
		if ctx.Err() != nil {
			t.Errorf("Call waited for the context instead of failing on the closed connection")
		}
	})
}

func TestCall_AgainstNameServerEndpoint(t *testing.T) {
	ns := startNameServer(t, staticProvider())
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	resp, err := transport.Call(ctx, ns.Addr(), callRequest(9))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if resp.Code != remoting.Success || resp.Opaque != 9 {
		t.Fatalf("code %d opaque %d (%q)", resp.Code, resp.Opaque, resp.Remark)
	}
	r, err := remoting.DecodeTopicRouteData(resp.Body)
	if err != nil {
		t.Fatalf("DecodeTopicRouteData: %v", err)
	}
	if got := r.BrokerDatas[0].BrokerName; got != "broker-orders" {
		t.Errorf("route names broker %q, want broker-orders", got)
	}
}

func TestCall_NilRequest(t *testing.T) {
	addr := loopbackServer(t, func(c net.Conn, _ *remoting.Command) { holdOpen(c) })
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if _, err := transport.Call(ctx, addr, nil); err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "nil request") {
		t.Errorf("Call with a nil request: %v, want an error naming %s and the nil request", err, addr)
	}
}
