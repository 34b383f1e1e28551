package transport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Call sends one request to addr on a fresh connection and returns the response
// with the same opaque. It is for rare control traffic (route queries forwarded to
// real nameservers every 30 s per topic), where a pooled connection would cost more
// in bookkeeping than it saves. Requests from the server side of the connection are
// skipped. With [CallTLS] the connection is TLS.
func Call(ctx context.Context, addr string, req *remoting.Command, opts ...CallOption) (*remoting.Command, error) {
	if req == nil {
		return nil, fmt.Errorf("transport: call to %q: nil request", addr)
	}
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	var d net.Dialer
	c, err := dialTLS(ctx, d.DialContext, addr, o.tls, func(err error) error {
		return &TLSError{Cluster: o.cluster, Addr: addr, Err: err}
	})
	if err != nil {
		return nil, fmt.Errorf("transport: dialing %q for %s: %w", addr, remoting.RequestCodeName(req.Code), contextError(ctx, err))
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(DefaultRouteTimeout))
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := remoting.WriteCommand(c, req); err != nil {
		return nil, fmt.Errorf("transport: %s to %q: %w", remoting.RequestCodeName(req.Code), addr, contextError(ctx, err))
	}
	for {
		resp, err := remoting.ReadCommand(c, remoting.DefaultMaxFrameSize)
		if err != nil {
			return nil, fmt.Errorf("transport: awaiting %s response from %q: %w", remoting.RequestCodeName(req.Code), addr, contextError(ctx, err))
		}
		if resp.IsResponse() && resp.Opaque == req.Opaque {
			return resp, nil
		}
	}
}

// contextError returns ctx's error in place of err when ctx has ended. The
// connection's deadline is the context's, so an i/o timeout at or after that
// deadline is the context expiring even when its own timer has not fired yet.
func contextError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
	}
	return err
}
