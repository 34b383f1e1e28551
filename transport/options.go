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
	// DefaultMaxPending bounds the requests one client connection of the relay
	// has in flight to brokers (and the broker requests awaiting the client's
	// answer). A request over the limit is answered with SYSTEM_BUSY.
	DefaultMaxPending = 8192
	// DefaultDialTimeout bounds the relay's connection attempt to a broker.
	DefaultDialTimeout = 2 * time.Second
	// DefaultDrainTimeout bounds how long an upstream connection that left the
	// configuration keeps serving its in-flight requests before they are
	// answered with an error and the connection is closed. It covers a broker's
	// longest pull suspension (the official client asks for 20 s).
	DefaultDrainTimeout = 30 * time.Second
	// DefaultAffinityTTL is how long the relay remembers which broker stored a
	// transactional half message. Apache RocketMQ checks a transaction for at
	// most 15 times one minute apart.
	DefaultAffinityTTL = 20 * time.Minute
	// DefaultAffinitySize bounds the half messages the relay remembers; the
	// oldest entry goes first when it is full.
	DefaultAffinitySize = 1 << 16
)

type options struct {
	log        *slog.Logger
	listenAddr string
	guard      Guard
	guardSet   bool
	maxConns   int

	// nameserver endpoint
	routeTimeout time.Duration

	// relay
	dialTimeout    time.Duration
	upstreamSource string
	maxPending     int
	drainTimeout   time.Duration
	affinityTTL    time.Duration
	affinitySize   int
	interceptors   []Interceptor
	credentials    []Credentials
	noBrokerName   bool
	hooks          Hooks
	dialer         Dialer
}

func newOptions(opts []Option) options {
	o := options{
		log:          slog.New(slog.DiscardHandler),
		listenAddr:   "127.0.0.1:0",
		maxConns:     DefaultMaxConnections,
		routeTimeout: DefaultRouteTimeout,
		dialTimeout:  DefaultDialTimeout,
		maxPending:   DefaultMaxPending,
		drainTimeout: DefaultDrainTimeout,
		affinityTTL:  DefaultAffinityTTL,
		affinitySize: DefaultAffinitySize,
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

// WithDialTimeout bounds the relay's connection attempts to brokers. Zero means
// [DefaultDialTimeout].
func WithDialTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.dialTimeout = d
		}
	}
}

// WithUpstreamSource makes the relay dial brokers from the given local IP (for
// example 127.0.0.2 in tests whose brokers accept only the relay, or the
// address a firewall lets through). Empty means the system's choice.
func WithUpstreamSource(ip string) Option {
	return func(o *options) { o.upstreamSource = ip }
}

// WithMaxPending bounds the requests one client connection of the relay has in
// flight. Zero means [DefaultMaxPending]; negative removes the limit.
func WithMaxPending(n int) Option {
	return func(o *options) {
		if n != 0 {
			o.maxPending = n
		}
	}
}

// WithDrainTimeout bounds how long an upstream connection that left the
// configuration keeps its in-flight requests. Zero means [DefaultDrainTimeout];
// negative closes such connections at once, answering their requests with an
// error the client retries.
func WithDrainTimeout(d time.Duration) Option {
	return func(o *options) {
		if d != 0 {
			o.drainTimeout = d
		}
	}
}

// WithAffinity sets how long and how many transactional half messages the relay
// remembers the storing broker of. Zero values mean [DefaultAffinityTTL] and
// [DefaultAffinitySize].
func WithAffinity(ttl time.Duration, size int) Option {
	return func(o *options) {
		if ttl > 0 {
			o.affinityTTL = ttl
		}
		if size > 0 {
			o.affinitySize = size
		}
	}
}

// WithInterceptors appends interceptors to the relay's chain, outside the
// relay's own links (see [Interceptor]); nil entries are skipped.
func WithInterceptors(is ...Interceptor) Option {
	return func(o *options) { o.interceptors = append(o.interceptors, is...) }
}

// WithCredentials gives the relay the ACL credentials it may re-sign requests
// with; see [Relay.AddCredentials].
func WithCredentials(cs ...Credentials) Option {
	return func(o *options) { o.credentials = append(o.credentials, cs...) }
}

// WithoutBrokerName stops the relay from adding the "bname" field to requests.
// Apache RocketMQ 5 proxies in cluster mode refuse most requests without it;
// brokers ignore it.
func WithoutBrokerName() Option {
	return func(o *options) { o.noBrokerName = true }
}

// WithHooks sets the callbacks the relay calls on failovers, ejections, drains
// and refused requests (see [Hooks]). A later WithHooks replaces an earlier
// one's callbacks that are set.
func WithHooks(h Hooks) Option {
	return func(o *options) {
		if h.OnFailover != nil {
			o.hooks.OnFailover = h.OnFailover
		}
		if h.OnEjection != nil {
			o.hooks.OnEjection = h.OnEjection
		}
		if h.OnDrain != nil {
			o.hooks.OnDrain = h.OnDrain
		}
		if h.OnLimit != nil {
			o.hooks.OnLimit = h.OnLimit
		}
	}
}

// WithDialer replaces how the relay connects to brokers: every upstream
// connection, and the relay's own calls, are opened with d, under a context
// that carries the connection timeout (the cluster's connect_timeout, else
// [WithDialTimeout]) and ends when the relay closes. The default is a
// net.Dialer bound to [WithUpstreamSource]'s address. The dialer supplies the
// transport only: a target whose cluster asks for TLS gets the relay's TLS
// handshake on top of the connection the dialer returns, whatever the
// dialer is. It owns nothing once it returns.
func WithDialer(d Dialer) Option {
	return func(o *options) { o.dialer = d }
}
