package transport

import (
	"log/slog"
	"time"
)

// Option configures an endpoint: the [NameServer] or the broker [Relay]. Options
// that concern only one of them say so and are ignored by the other.
type Option func(*options)

// Defaults.
const (
	// DefaultRouteTimeout bounds how long a route query waits for its provider.
	// The official client gives up on a nameserver call after 3 s, so an answer
	// later than that is never read; 2.5 s leaves room to send an error it can log.
	DefaultRouteTimeout = 2500 * time.Millisecond
	// DefaultMaxConnections bounds the client connections one endpoint holds. The
	// official client opens one connection per address it talks to, so a process
	// that hits this is looping or under attack.
	DefaultMaxConnections = 1024
)

type options struct {
	log        *slog.Logger
	listenAddr string
	guard      Guard
	guardSet   bool
	maxConns   int

	// nameserver endpoint
	routeTimeout time.Duration
}

func newOptions(opts []Option) options {
	o := options{
		log:          slog.New(slog.DiscardHandler),
		listenAddr:   "127.0.0.1:0",
		maxConns:     DefaultMaxConnections,
		routeTimeout: DefaultRouteTimeout,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if !o.guardSet {
		o.guard = OwnProcessGuard()
	}
	return o
}

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithListenAddress sets the loopback address to listen on. The nameserver
// endpoint listens on it as given (default 127.0.0.1:0); the relay takes its host
// for every virtual broker endpoint, each on its own ephemeral port. A
// non-loopback address is an error: the endpoints serve this process only.
func WithListenAddress(addr string) Option {
	return func(o *options) { o.listenAddr = addr }
}

// WithGuard replaces the check every accepted connection passes before it is
// served; the default is [OwnProcessGuard]. A nil guard accepts every
// connection that reaches the loopback listener, which is for tests that must
// connect from another process.
func WithGuard(g Guard) Option {
	return func(o *options) { o.guard, o.guardSet = g, true }
}

// WithMaxConnections bounds the client connections one endpoint serves at once;
// a connection over the limit is closed at accept and logged. Zero means
// [DefaultMaxConnections]; negative removes the limit.
func WithMaxConnections(n int) Option {
	return func(o *options) {
		if n != 0 {
			o.maxConns = n
		}
	}
}

// WithRouteTimeout bounds each route query of the nameserver endpoint. Zero means
// [DefaultRouteTimeout].
func WithRouteTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.routeTimeout = d
		}
	}
}
