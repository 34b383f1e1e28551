package meshtest

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// A restart on a shared machine can find its port still held for a while;
// the listener waits for it instead of failing with "address already in use".
func TestListenRetry_WaitsForAPortInUse(t *testing.T) {
	blocker, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := blocker.Addr().String()
	var once sync.Once
	busy := 0
	ln, err := listenPolling(context.Background(), addr, func() {
		busy++
		once.Do(func() { blocker.Close() }) // the other holder lets go
	})
	if err != nil {
		t.Fatalf("listenPolling(%s) = %v, want a listener once the port is free", addr, err)
	}
	defer ln.Close()
	if got := ln.Addr().String(); got != addr {
		t.Errorf("listening on %s, want %s", got, addr)
	}
	if busy == 0 {
		t.Error("the port was never found in use: the retry path was not exercised")
	}
}

func TestListenRetry_GivesUpWhenTheWaitEnds(t *testing.T) {
	blocker, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blocker.Close()
	addr := blocker.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := listenPolling(ctx, addr, cancel)
	if err == nil {
		ln.Close()
		t.Fatalf("listenPolling(%s) succeeded while the port is held", addr)
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q: want it to name %s, the address in use and the end of the wait", err, addr)
	}
}

func TestListenRetry_OtherErrorsFailAtOnce(t *testing.T) {
	calls := 0
	_, err := listenPolling(context.Background(), "256.0.0.1:1", func() { calls++ })
	if err == nil || calls != 0 {
		t.Errorf("listenPolling(bad address) = %v after %d retries, want an error and no retry", err, calls)
	}
}
