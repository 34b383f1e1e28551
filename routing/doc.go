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
