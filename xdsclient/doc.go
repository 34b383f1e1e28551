// Package xdsclient is an ADS client that watches the xDS resources
// rmqmesh routes RocketMQ traffic with: Listeners carrying Envoy's
// envoy.filters.network.rocketmq_proxy network filter, per-topic contrib
// RouteConfigurations, EDS Clusters and ClusterLoadAssignments.
//
//	cfg, err := bootstrap.FromEnv()
//	...
//	c, err := xdsclient.New(cfg)
//	defer c.Close()
//	cancel := c.WatchListener("rmq-prod", xdsclient.WatcherFuncs[*xdsclient.ListenerUpdate]{
//		OnResourceChanged: func(u *xdsclient.ListenerUpdate) { ... },
//	})
//	defer cancel()
//
// # Protocol
//
// The client speaks state-of-the-world or incremental (delta) ADS, chosen by
// the bootstrap's "rmqmesh": {"protocol": ...} or [WithProtocol]. It
// subscribes lazily on the first watch of a name and unsubscribes when the
// last watcher cancels, dropping the cached entry. Every response is ACKed
// with its version and nonce; resources that fail validation are NACKed with
// an error_detail naming each bad resource and the rule it breaks, while the
// valid resources of the same response apply and the last good version of a
// bad one stays in force.
//
// A subscribed resource that does not arrive within the resource timeout
// (default 15s, [WithResourceTimeout]) is reported with a resource error of
// kind [KindResourceNotFound], or [KindConnection] when no server was
// reachable. When a round over every server reaches none, the watchers of
// resources with nothing cached get a [KindConnection] resource error at
// once, without waiting for that timeout (gRFC A57), once until a stream
// opens again. When the stream breaks the client reconnects with exponential
// backoff and jitter, trying the servers in bootstrap order (fallback),
// re-subscribing to everything watched (delta: with
// initial_resource_versions); cached resources stay in force meanwhile and
// their watchers get an ambient error. A Listener or Cluster missing from a
// SotW response, or any resource removed in a delta response, is deleted —
// unless the server has the "ignore_resource_deletion" feature.
//
// # Watchers
//
// Each [Watcher] has three callbacks: ResourceChanged, ResourceError (nothing
// cached: does not exist, first version invalid, no server) and
// AmbientError (a cached version stays in force: stream down, NACKed
// update). Callbacks of one client run one at a time, in order, never under
// the client's lock: a callback may watch and cancel watches (its own too),
// but must not call [Client.Close]. A new watcher gets the cached value at
// once. Watching an empty name or the wildcard "*" subscribes nothing and
// reports a resource error; watching on a closed client does nothing.
// Updates are shared between watchers and must not be modified.
//
// # On-demand topic routes
//
// To hold only the routes of the topics a client uses, a Listener opts in
// with the bool knob [wellknown.OnDemandRoutesKey] in its metadata
// (the names are in package wellknown):
//
//	metadata:
//	  filter_metadata:
//	    rmqmesh: {on_demand_routes: true}
//
// The rocketmq_proxy filter's inline route_config.name (N) then names a
// family: the routes of topic T are served as a contrib RouteConfiguration
// resource (type URL [RouteConfigTypeURL]) named "N/T" ([OnDemandRouteName]),
// or, when the names live in an xdstp authority,
//
//	xdstp://AUTHORITY/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration/N/T
//
// with T path-escaped ([OnDemandRouteNameInAuthority]). The user of this
// package watches that name with [Client.WatchRouteConfig] when it first
// needs topic T and cancels the watch when the topic goes idle. The
// listener's inline routes remain the fallback for a topic whose resource
// does not exist. Any go-control-plane server can serve the family from a
// linear cache for that type URL; delta ADS sends only the subscribed topics.
//
// # What it does not do
//
// Per-authority xds_servers are parsed by the bootstrap package but every
// resource is fetched from the top-level servers; the client does not
// report load (LRS) and does not serve CSDS itself ([Client.Dump] returns
// the data for it). Cross-resource checks (a route naming an unknown
// cluster) belong to the routing package. Of RocketMQ it knows only the
// metadata it validates, whose names come from package wellknown.
package xdsclient
