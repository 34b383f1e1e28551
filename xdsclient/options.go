package xdsclient

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
	"github.com/rmqmesh/rmqmesh/xdsclient/transport"
)

// Option configures a [Client]. Nil options are ignored.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	logger          *slog.Logger
	resourceTimeout time.Duration
	backoff         func(retries int) time.Duration
	dialOptions     []grpc.DialOption
	protocol        bootstrap.Protocol
	transport       transport.Builder
	recordUpdates   func(resourceType string, accepted, nacked int)
}

// WithLogger sets the logger; the default discards logs.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithResourceTimeout sets the does-not-exist timeout: how long a
// subscribed resource may stay unanswered before watchers get a resource
// error. Zero means the bootstrap's rmqmesh.resource_timeout (default 15s).
func WithResourceTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.resourceTimeout = d })
}

// WithBackoff sets the delay before reconnect attempt number retries
// (starting at 0) after every server failed. The default is exponential
// from 500ms to 30s with jitter.
func WithBackoff(f func(retries int) time.Duration) Option {
	return optionFunc(func(o *options) { o.backoff = f })
}

// WithDialOptions adds gRPC dial options for the management servers.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return optionFunc(func(o *options) { o.dialOptions = append(o.dialOptions, opts...) })
}

// WithProtocol overrides the bootstrap's rmqmesh.protocol.
func WithProtocol(p bootstrap.Protocol) Option {
	return optionFunc(func(o *options) { o.protocol = p })
}

// WithTransport replaces the gRPC transport (for tests).
func WithTransport(b transport.Builder) Option {
	return optionFunc(func(o *options) { o.transport = b })
}

// WithUpdateRecorder has f called once per response from the management
// server with the resource type ("listener", "route config", "cluster",
// "endpoints") and how many of its resources were accepted and how many
// NACKed: the numbers an xDS client's metrics report. f runs on the client's
// response path with its lock held: it must be quick and must not call the
// client.
func WithUpdateRecorder(f func(resourceType string, accepted, nacked int)) Option {
	return optionFunc(func(o *options) { o.recordUpdates = f })
}

// DefaultBackoff is exponential from 500ms, doubling up to 30s, with ±20%
// jitter.
func DefaultBackoff(retries int) time.Duration {
	d := 500 * time.Millisecond
	for i := 0; i < retries && d < 30*time.Second; i++ {
		d *= 2
	}
	d = min(d, 30*time.Second)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}
