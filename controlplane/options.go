package controlplane

import (
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/policy"
)

// Option configures a [Server].
type Option func(*options)

type options struct {
	nameservers    []discovery.NameServer
	nsAddrs        []string
	policyFile     string
	policy         *policy.Policy
	listen         string
	admin          string
	logger         *slog.Logger
	pollInterval   time.Duration
	topicRefresh   time.Duration
	policyInterval time.Duration
	holdTimeout    time.Duration
	grpcOpts       []grpc.ServerOption
}

// WithNameservers sets the RocketMQ nameservers to discover the cluster
// from, as "host:port", in the order they are asked. Required (or
// [WithNameServerClients]).
func WithNameservers(addrs ...string) Option {
	return func(o *options) {
		for _, a := range addrs {
			o.nameservers = append(o.nameservers, discovery.Remote(a))
			o.nsAddrs = append(o.nsAddrs, a)
		}
	}
}

// WithNameServerClients sets the nameservers as [discovery.NameServer]s,
// for tests and benchmarks that simulate them. Their Addr is what inline
// listeners forward route queries to.
func WithNameServerClients(ns ...discovery.NameServer) Option {
	return func(o *options) {
		for _, n := range ns {
			o.nameservers = append(o.nameservers, n)
			o.nsAddrs = append(o.nsAddrs, n.Addr())
		}
	}
}

// WithPolicyFile reads the policy from path and reloads it when the file
// changes. A bad edit is logged once and the last good policy stays.
func WithPolicyFile(path string) Option {
	return func(o *options) { o.policyFile = path }
}

// WithPolicy serves a fixed policy (no file). [Server.SetPolicy] replaces it.
func WithPolicy(p *policy.Policy) Option {
	return func(o *options) { o.policy = p }
}

// WithListenAddress sets the xDS (gRPC, SotW and delta ADS) address
// (default 127.0.0.1:0).
func WithListenAddress(addr string) Option {
	return func(o *options) { o.listen = addr }
}

// WithAdminAddress serves the admin endpoints (/healthz, /config_dump,
// /clients, /metrics) on addr. Without it there is no admin listener;
// [Server.AdminHandler] still serves them.
func WithAdminAddress(addr string) Option {
	return func(o *options) { o.admin = addr }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithPollInterval sets how often brokers are polled (default 5 s).
func WithPollInterval(d time.Duration) Option {
	return func(o *options) { o.pollInterval = d }
}

// WithTopicRefresh sets how often a held topic's queue data is asked again
// (default 30 s); a topic is asked at once when a client first holds it.
func WithTopicRefresh(d time.Duration) Option {
	return func(o *options) { o.topicRefresh = d }
}

// WithPolicyCheckInterval sets how often the policy file is checked for
// changes (default 1 s).
func WithPolicyCheckInterval(d time.Duration) Option {
	return func(o *options) { o.policyInterval = d }
}

// WithGRPCServerOptions adds options to the xDS gRPC server, e.g.
// grpc.Creds for TLS.
func WithGRPCServerOptions(opts ...grpc.ServerOption) Option {
	return func(o *options) { o.grpcOpts = append(o.grpcOpts, opts...) }
}

// defaultHoldTimeout bounds how long an answer is held for a topic's queue
// data: longer than one nameserver request (3 s), shorter than an xDS
// client's does-not-exist timer (15 s in gRPC).
const defaultHoldTimeout = 5 * time.Second

// WithHoldTimeout bounds how long, once discovery has first answered, the
// first answer to a client is held back while the queue data of a topic it
// newly subscribes to is fetched (default 5 s; zero keeps the default). The
// answer then goes out with what is known; nothing is invented for the
// topic. A negative value answers at once. Until the first discovery
// answers, every answer is held however long that takes: see
// [Server.AdminHandler] for the readiness endpoint.
func WithHoldTimeout(d time.Duration) Option {
	return func(o *options) {
		if d != 0 {
			o.holdTimeout = d
		}
	}
}
