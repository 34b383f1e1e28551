package transport

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Hooks are callbacks for the relay's resilience events, for metrics and
// tracing ([WithHooks]). Each may be nil. They run on the relay's goroutines,
// while requests wait: they must not block, and must not keep their argument's
// slices.
type Hooks struct {
	// OnFailover is called for every send the relay tries again, before the
	// next try, and once more when it gives up (To empty).
	OnFailover func(FailoverEvent)
	// OnEjection is called when outlier detection ejects a host, and when an
	// ejected host returns.
	OnEjection func(EjectionEvent)
	// OnDrain is called when an upstream connection is taken out of use: the
	// broker answered GO_AWAY, or its address left the configuration.
	OnDrain func(DrainEvent)
	// OnLimit is called when a cluster's limit refuses a request.
	OnLimit func(LimitEvent)
}

// FailoverEvent describes one failed try of a send.
type FailoverEvent struct {
	// Code and Topic are the request's.
	Code  int32
	Topic string
	// From is where the failed try went; To is where the next goes, empty
	// when the relay gives up and answers the client with an error.
	From, To Target
	// Attempt is the number of the failed try, from 1.
	Attempt int
	// Reason says why the try failed: a refused or reset connection, a
	// timeout, or the broker's answer.
	Reason string
}

// EjectionEvent describes a host ejected by outlier detection, or returning.
type EjectionEvent struct {
	Cluster string
	Addr    string
	// Ejected is true for an ejection, false for a return.
	Ejected bool
	// Until is when an ejection ends.
	Until time.Time
	// Ejections is the host's ejection count, which multiplies the
	// base ejection time.
	Ejections int
	// Reason names the rule that ejected the host.
	Reason string
}

// DrainEvent describes an upstream connection taken out of use.
type DrainEvent struct {
	Target Target
	// GoAway is true when the broker asked for it (response code 1500);
	// false when its address left the configuration.
	GoAway bool
	// InFlight is how many requests the connection still has to answer.
	InFlight int
}

// LimitEvent describes a request refused by a cluster's limit.
type LimitEvent struct {
	Cluster string
	// Limit is "max_connections", "max_pending_requests", "max_requests" or
	// "max_retries".
	Limit string
	Max   int
	Code  int32
}

// Dialer opens a connection to a broker; see [WithDialer].
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// callHook runs a hook; a panic in it is logged and ignored, never taking a
// relay goroutine down.
func callHook[E any](r *Relay, name string, fn func(E), ev E) {
	if fn == nil {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("relay hook panicked", "hook", name, "panic", fmt.Sprint(p))
		}
	}()
	fn(ev)
}
