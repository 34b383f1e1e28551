// Package routing compiles the xDS resources that drive rmqmesh into an
// immutable route [Snapshot] and answers the data path's routing questions
// from it.
//
// The xDS watcher builds a snapshot on every update and publishes it in a
// [Table]; the data path loads the current snapshot once per request:
//
//	snap, err := routing.NewSnapshot(routing.Input{
//		Listener:    "rmq-prod",
//		RouteConfig: proxy.GetRouteConfig(), // the RocketmqProxy filter's routes
//		Clusters:    clusters,                // CDS, by name
//		Endpoints:   assignments,             // EDS, by cluster name
//		Locality:    node.GetLocality(),
//	})
//	if err != nil {
//		return err // NACK: a matcher did not compile
//	}
//	table.Store(snap)
//
//	// On the data path:
//	s := table.Load()
//	route, err := s.Match("orders", 10, extFields)       // a send: which cluster and subset
//	broker, err := route.PickWriteBroker(rand.Uint64())  // which broker takes it
//	data, err := s.TopicRoute("orders", routing.RouteDataOptions{AddressOf: virtualAddr}) // code 105
//
// Routes follow Envoy's RocketMQ proxy filter: an ordered list of topic
// matchers plus header matchers, where the synthetic header "code"
// ([wellknown.CodeHeader]) carries the request code, leading to a cluster and
// an optional subset (metadata_match under "envoy.lb"). Brokers are EDS
// endpoints with RocketMQ metadata (see [wellknown.BrokerMetadataNamespace]);
// endpoints without a broker name are nameservers. The names read in
// resources come from package wellknown, the request codes, permission bits
// and route data types from the wire codec, package remoting. The route data a client sees for a
// topic (code 105) is synthesized with [Snapshot.TopicRoute], or fetched from
// nameservers and narrowed with [Snapshot.RewriteRoute] when
// [Snapshot.RouteSource] says so.
//
// # Semantics compared with Envoy and gRPC
//
// One rule per line; "Envoy" is its load balancer for the same resources,
// "gRPC" grpc-go's xDS balancers.
//
//   - Route match: the first route, in order, whose topic and header matchers match; a topic's own route configuration before the listener's inline routes. As Envoy's RocketMQ filter.
//   - Health: HEALTHY and UNKNOWN are healthy, DEGRADED degraded, UNHEALTHY, DRAINING and TIMEOUT unavailable. As Envoy; gRPC uses HEALTHY and UNKNOWN only.
//   - Endpoint weight: default 1; 0 makes the cluster invalid (the xdsclient NACKs it). Envoy rejects weights below 1; gRPC NACKs an endpoint with zero weight.
//   - Locality weight 0: the xdsclient NACKs it, as Envoy; a snapshot given one anyway drops the locality from writes, as gRPC drops it.
//   - Write hosts: a priority's hosts are the masters whose configuration lets them take writes (write bit, write queues); read-only brokers count neither as healthy nor unhealthy.
//   - Priorities: Envoy's priority load. Health = min(100, overprovisioning_factor × healthy/hosts) (policy overprovisioning_factor, default 140; weighted_priority_health counts weights), handed out from priority 0 down, scaled up when the total is below 100. gRPC fails over only when a priority has nothing ready.
//   - Degraded: degraded masters take what the healthy ones of every priority cannot, by the same formula (Envoy's table: 71/29 healthy/degraded percent gives 99/1). gRPC never uses them.
//   - Panic threshold: none; unavailable masters never take writes, as Envoy with healthy_panic_threshold 0 (an unhealthy broker is not in the route data, and the client retries elsewhere).
//   - Locality weights: in force when any locality of the priority has one or the cluster sets locality_weighted_lb_config; a locality's share is weight × min(100, overprovisioning × available/hosts) over the sum, localities without a weight get none. As Envoy; gRPC's weighted_target has no health scaling.
//   - Locality identity: each LocalityLbEndpoints entry is a locality; one listed twice in a priority counts twice. Envoy merges such entries and gRPC NACKs them; the API allows one per priority. An entry without a locality is accepted, as Envoy (gRPC NACKs it).
//   - Endpoint weights: split their locality's share, or without locality weights their priority's. As Envoy; gRPC's round_robin ignores them.
//   - Zone preference: only without locality weights, as Envoy excludes zone aware routing then; writes stay in the node's region and zone when the priority has a candidate there. Envoy's zone aware routing needs a local cluster to size the spill; rmqmesh assumes clients spread like brokers, so all stay local. zone_aware_lb_config routing_enabled and min_cluster_size apply (default 1, not Envoy's 6), in every priority, not only 0.
//   - Subsets without lb_subset_config: metadata_match under envoy.lb narrows the endpoints, nothing falls back. Envoy ignores metadata_match then.
//   - Subsets with lb_subset_config: a subset exists when a subset_selectors entry has exactly the route's keys and an endpoint has its values; otherwise the selector's fallback_policy (NO_FALLBACK, ANY_ENDPOINT, DEFAULT_SUBSET, KEYS_SUBSET), else the cluster's, and a route without metadata takes the fallback. default_subset, panic_mode_any, list_as_any, locality_weight_aware (locality weights are ignored in subsets without it) and scale_locality_weight as Envoy; single_host_per_subset and metadata_fallback_policy are not implemented.
//   - Subsets on nameserver clusters: only broker_name and cluster_name, evaluated on the nameservers' answer; lb_subset_config does not apply.
//   - Picking: a weighted random draw from the caller's number, the same shares as Envoy's weighted round robin without state shared between picks.
//   - Sharding keys: weighted rendezvous hashing of [KeyHash] within the key's priority tier, so every producer agrees, a broker change moves only the keys it must, and the broker is independent of the client's queue hash. Envoy's ring_hash and maglev build a ring; RocketMQ's few brokers need none.
//   - Reads: every broker with a readable (healthy or degraded) member is listed and consumed; weights, priorities and zones steer writes only, since every queue must be consumed.
//   - Queue counts: a route's rmqmesh topic_queues, else the nameservers' answer when the topic's route queries are forwarded, else the brokers' endpoint metadata for every topic (the dump warns); synthesized group topics have one queue per broker.
//   - Group topics no route names (%RETRY%, %DLQ%): every broker the routes lead to, and the answers of every nameserver cluster they lead to.
//   - Not applied here: drop_overloads, load reporting, outlier detection and circuit breakers (the relay's concern).
//
// Errors are [*Error] values whose messages read
// `routing: topic "orders": no route in listener "rmq-prod" (code 10)`;
// branch on [KindOf].
//
// What this package does not do: it performs no I/O, starts no goroutines and
// keeps no mutable state besides the [Table] pointer. It does not watch xDS
// resources or validate them beyond what compiling needs (the xdsclient
// does), does not encode route data on the wire (the remoting codec does),
// does not decide which data path the process can serve (the caller says,
// with Input.InterceptAvailable),
// does not track outlier ejection, connection state or ACK affinity at
// runtime, and does not choose random numbers: pickers take the caller's.
// A snapshot is never modified: a change is a new snapshot.
package routing
