package mesh

import (
	"log/slog"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport"

	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// Option configures a [Mesh].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	bootstrapJSON  []byte
	bootstrap      *bootstrap.Config
	xds            *xdsclient.Client
	xdsOpts        []xdsclient.Option
	log            *slog.Logger
	routeTimeout   time.Duration
	topicIdle      time.Duration
	instancePrefix string
	failFast       bool
	telemetry      telemetryConfig
	// data path, relay and credentials: see datapath.go
	dataPath    routing.DataPath
	dataPathSet bool
	credentials primitive.Credentials
	relayOpts   []transport.Option
	// tlsRequired: see tls.go.
	tlsRequired bool
}

// Defaults.
const (
	// DefaultTopicIdleTimeout is how long an on-demand topic route stays subscribed
	// after the last route query for it. The official client re-asks every 30 s for
	// every topic it still uses, so three missed polls mean nobody does.
	DefaultTopicIdleTimeout = 100 * time.Second
)

// WithBootstrap uses the given gRPC-format bootstrap JSON instead of the
// environment.
func WithBootstrap(json []byte) Option {
	return optionFunc(func(c *config) { c.bootstrapJSON = json })
}

// WithBootstrapConfig uses an already parsed bootstrap.
func WithBootstrapConfig(b *bootstrap.Config) Option {
	return optionFunc(func(c *config) { c.bootstrap = b })
}

// WithXDSClient shares an xDS client between meshes. The mesh does not close it.
// Without a bootstrap of its own the mesh does not know the node's locality, so
// writes are not steered to the node's zone.
func WithXDSClient(x *xdsclient.Client) Option {
	return optionFunc(func(c *config) { c.xds = x })
}

// WithXDSClientOptions passes options to the xDS client the mesh creates.
func WithXDSClientOptions(opts ...xdsclient.Option) Option {
	return optionFunc(func(c *config) { c.xdsOpts = append(c.xdsOpts, opts...) })
}

// WithLogger sets the logger. The default is [slog.Default].
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.log = l
		}
	})
}

// WithRouteTimeout bounds how long clients' route queries wait for xDS
// configuration that has not arrived yet: the queries for one topic wait that
// long together, not each (the official client asks up to six times per
// send), and then are answered from what is in force. Zero means the
// transport default (2.5 s, under the client's own 3 s limit).
func WithRouteTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.routeTimeout = d })
}

// WithTopicIdleTimeout sets how long an on-demand topic stays subscribed after its
// last use. Zero means [DefaultTopicIdleTimeout].
func WithTopicIdleTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.topicIdle = d })
}

// WithInstanceNamePrefix sets the prefix of the instance names given to clients.
// The default is "rmqmesh".
func WithInstanceNamePrefix(p string) Option {
	return optionFunc(func(c *config) { c.instancePrefix = p })
}

// WithFailFast chooses what waits do when the mesh learns that the
// configuration they wait for cannot come for now: the listener or a cluster
// is reported missing or rejected, or no xDS server is reachable.
//
// With true, the default, [Mesh.WaitReady] returns an error naming the
// resource and the reason, and route queries are answered at once (a route
// query for a topic whose listener is unavailable fails with that reason).
// With false, both keep waiting for the configuration to arrive — WaitReady
// until its context ends, route queries for at most the route timeout — for
// deployments that start applications before their control plane.
func WithFailFast(failFast bool) Option {
	return optionFunc(func(c *config) { c.failFast = failFast })
}
