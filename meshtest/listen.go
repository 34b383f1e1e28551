package meshtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// rebindTimeout bounds how long a restart waits for its port. On a shared
// machine the port a server listened on can be held for a while after it
// closed it (another process's connect that picked it as its ephemeral port,
// or a socket in teardown), and a restart must serve on the same address.
const rebindTimeout = DefaultTimeout

// listenRetry listens on addr. An address in use is tried again, polled with
// a growing pause, until it is free, ctx ends or rebindTimeout passes; any
// other error fails at once. Its errors lack the package prefix, which the
// caller adds with what is listening.
func listenRetry(ctx context.Context, addr string) (net.Listener, error) {
	return listenPolling(ctx, addr, nil)
}

// listenPolling is listenRetry that calls busy (when not nil) after each
// attempt that found addr in use.
func listenPolling(ctx context.Context, addr string, busy func()) (net.Listener, error) {
	ctx, cancel := context.WithTimeout(ctx, rebindTimeout)
	defer cancel()
	pause := 10 * time.Millisecond
	var lc net.ListenConfig
	for {
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listening on %s: %w", addr, err)
		}
		if busy != nil {
			busy()
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("listening on %s: %w (still in use when the wait ended: %w)", addr, err, ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, 250*time.Millisecond)
	}
}
