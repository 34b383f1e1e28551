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
// last watcher cancels, dropping the cached entry; every subscription change
// is its own request, so a cancel followed at once by a re-watch reaches the
// server as both. Every response is ACKed with its version and nonce;
// resources that fail validation are NACKed with an error_detail naming each
// bad resource and the rule it breaks, while the valid resources of the same
// response apply and the last good version of a bad one stays in force. SotW
// resources wrapped in envoy.service.discovery.v3.Resource are unwrapped; a
// wrapper or delta resource without a body is a TTL heartbeat and keeps the
// cached version (resources do not expire here).
//
// A subscribed resource that does not arrive within the resource timeout
// (default 15s, [WithResourceTimeout]) after its request went out on a
// stream is reported with a resource error of kind [KindResourceNotFound];
// the timer stops when the stream breaks and starts again when the next
// stream sends the request, and "does not exist" is remembered across
// reconnects. A Listener or Cluster missing from a SotW response, or any
// resource removed in a delta response, is deleted — unless the server has
// the "ignore_resource_deletion" feature.
//
// # Servers, authorities and fallback
//
// Names are grouped by authority (gRFC A47): an xdstp://AUTHORITY/... name
// is fetched from that authority's xds_servers (the top-level ones when it
// lists none), every other name from the top-level xds_servers. A name under
// an authority the bootstrap does not list fails at once with a resource
// error and is never requested. Authorities listing the same server share
// one stream to it.
//
// Each authority uses the first of its servers and falls back to the next
// (gRFC A71) only when a connection attempt fails while something it
// watches has no cached value ("does not exist" counts as cached). It keeps
// retrying the higher-priority server with backoff and returns to it as soon
// as it answers, closing the fallback stream. A stream that ends after a
// response (a server closing streams at max age) is reopened silently (gRFC
// A57); a failed attempt is reported to the watchers of the active server: a
// resource error of kind [KindConnection] where nothing is cached, an
// ambient error where something is.
//
// Channel credentials are "insecure", "google_default", or "tls" with CA,
// certificate and key files read again every refresh_interval (gRFC A65;
// see package certprovider), so a rotation on disk is used by the next
// connection; "insecure" only when the bootstrap names it. A response is
// bounded by grpctransport.DefaultMaxResponseSize (64 MiB).
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
// resource (type URL [RouteConfigTypeURL]) named "N/T" ([wellknown.TopicRouteName]),
// or, when the names live in an xdstp authority,
//
//	xdstp://AUTHORITY/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration/N/T
//
// with T path-escaped ([wellknown.TopicRouteNameInAuthority]). The user of this
// package watches that name with [Client.WatchRouteConfig] when it first
// needs topic T and cancels the watch when the topic goes idle. The
// listener's inline routes remain the fallback for a topic whose resource
// does not exist. Any go-control-plane server can serve the family from a
// linear cache for that type URL; delta ADS sends only the subscribed topics.
//
// # Validation
//
// Every resource passes rmqmesh's checks and Envoy's proto rules
// (go-control-plane's generated ValidateAll), so what Envoy rejects is
// NACKed and what it accepts is not. Clusters also pass grpc-go's checks:
// EDS only, with eds_config ADS or self; lb_policy ROUND_ROBIN, RING_HASH
// or LEAST_REQUEST, or the first supported load_balancing_policy entry.
// The cluster settings the intercepting relay acts on, and those it does
// not implement, are handled per field:
//
//	transport_socket    envoy.transport_sockets.tls with an UpstreamTlsContext, read as
//	                    gRPC reads it (gRFC A29) into ClusterUpdate.Security: certificate
//	                    provider instances of the bootstrap for the trusted CAs (or
//	                    system_root_certs) and the client certificate, SAN matchers
//	                    (match_subject_alt_names, match_typed_subject_alt_names), sni,
//	                    alpn_protocols, tls_params' protocol versions. NACKed: a context
//	                    that would not verify the broker (no root), key material in the
//	                    resource (tls_certificates, trusted_ca alone, SDS), what would
//	                    weaken verification if ignored (allow_expired_certificate,
//	                    ACCEPT_UNTRUSTED, SPKI or hash pins, CRLs, custom validators,
//	                    key_log), TLS below 1.2, cipher and curve lists, auto SNI, an
//	                    instance the bootstrap lacks or without the file it needs,
//	                    transport_socket_matches, and the "direct" data path (the
//	                    official client cannot speak TLS). Envoy's proto rules apply to
//	                    each part rmqmesh reads, not to the combined validation context,
//	                    whose required SDS config Istio does not send.
//	connect_timeout     ClusterUpdate.ConnectTimeout (default 5s): bounds the relay's
//	                    connection attempts to the cluster's brokers.
//	outlier_detection   validated (a non-positive interval or ejection time is NACKed
//	                    naming the field), exposed as ClusterUpdate.OutlierDetection.
//	                    The relay ejects hosts for consecutive errors, consecutive
//	                    gateway failures and consecutive local-origin failures
//	                    (split_external_local_origin_errors), for base_ejection_time ×
//	                    ejections up to max_ejection_time (+ jitter), within
//	                    max_ejection_percent / always_eject_one_host, the multiplier
//	                    decaying once per interval. Success-rate and failure-percentage
//	                    statistics and detect_degraded_hosts are accepted and logged as
//	                    not implemented.
//	circuit_breakers    validated, exposed as ClusterUpdate.CircuitBreakers. The DEFAULT
//	                    priority's max_connections, max_pending_requests, max_requests
//	                    and max_retries bound the relay per cluster; a limit left unset
//	                    is no limit (Envoy's default of 1024 would throttle a client's
//	                    async bursts and long polls). Other priorities, retry_budget,
//	                    max_connection_pools and per_host_thresholds are logged as not
//	                    implemented.
//	lb_policy           RING_HASH and LEAST_REQUEST accepted and logged; traffic is
//	                    balanced by endpoint and locality weights (round robin).
//	metadata            filter_metadata["rmqmesh"]: data_path (wellknown.ParseDataPath)
//	                    and send_failover (wellknown.ParseSendFailover, exposed as
//	                    ClusterUpdate.SendFailover): a bad value is NACKed naming the
//	                    field, e.g. zero max_attempts or a negative per_try_timeout.
//
// A response that carries one resource name twice is NACKed for that name,
// with the last good version kept.
//
// Other Envoy-only cluster fields (health_checks, …) are ignored, as
// grpc-go ignores them; common_lb_config, lb_subset_config and the
// assignment's policy are read by the routing package. See
// [ClusterUpdate.Unimplemented].
//
// Endpoint assignments follow the stricter of Envoy and grpc-go: a
// load_balancing_weight of 0 is NACKed on an endpoint (both reject it) and on
// a locality (Envoy rejects it, grpc-go would ignore the locality), with a
// detail naming the endpoint or locality; the endpoint weights of a locality
// must sum to at most 2^32-1 (Envoy), so must the locality weights of a
// priority, and priorities must be contiguous (grpc-go). A route's
// per-topic queue data (wellknown.TopicQueuesKey) is checked with
// wellknown.ParseTopicQueues.
//
// # Conformance
//
// What this client does like grpc-go (and Envoy, for validation):
//
//	gRFC / source        behaviour                                              status
//	A27 bootstrap        xds_servers, node, certificate_providers, authorities  yes
//	A27 channel_creds    first supported of insecure, tls, google_default       yes
//	A65                  tls creds with files, reloaded per refresh_interval    yes
//	A29 xDS security     cluster transport_socket UpstreamTlsContext: provider  yes
//	                     instances (file_watcher), SAN matchers, mTLS to brokers
//	A29                  fields that would weaken verification: NACKed          yes (see transport_socket)
//	A29                  server side (DownstreamTlsContext on listeners)        no (nothing serves)
//	A47 federation       xdstp:// names to their authority's xds_servers         yes
//	A47                  unknown authority fails the watch at once              yes
//	A47                  default listener template per authority                yes (bootstrap)
//	A47                  xdstp context-parameter normalization                  no
//	A71 fallback         fall back only for uncached watched resources          yes
//	A71                  return to the primary when it answers again            yes
//	A57                  stream ended after a response is not an error          yes
//	A57                  connection failure to watchers: resource/ambient error yes
//	A53                  ignore_resource_deletion                               yes
//	xDS protocol         one request per subscription change                    yes
//	xDS protocol         watch expiry timer only while the request is sent      yes
//	xDS protocol         "does not exist" kept across reconnects                yes
//	xDS protocol         SotW Resource wrappers unwrapped                       yes
//	xDS protocol         TTL heartbeats (no body) keep the cached version       yes
//	xDS protocol         TTL expiry of resources                                no (as grpc-go)
//	xDS protocol         delta ADS                                              yes (grpc-go: no)
//	Envoy validation     generated proto rules (ValidateAll) on every resource  yes
//	grpc-go CDS          EDS via ADS/self, lb_policy set, transport_socket TLS  yes (TLS: A29 above)
//	grpc-go EDS          zero endpoint weight, weight sums, priorities          yes (zero locality weight NACKed, as Envoy)
//	A40 CSDS             config dump data ([Client.Dump]), no CSDS service       partial
//	LRS                  load reporting                                         no
//
// # What it does not do
//
// The client does not report load (LRS) and does not serve CSDS itself
// ([Client.Dump] returns the data for it). Cross-resource checks (a route
// naming an unknown cluster) belong to the routing package. Of RocketMQ it
// knows only the metadata it validates, whose names come from package
// wellknown.
package xdsclient
