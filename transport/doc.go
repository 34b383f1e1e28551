// Package transport holds rmqmesh's in-process endpoints: the loopback nameserver the
// official client is pointed at through its NsResolver, and the plumbing to reach real
// nameservers upstream.
//
// The official client has no transport hook (its remoting client is internal and
// dials with a plain net.Dialer), so the only way to put the mesh between it and the
// cluster is to hand it loopback addresses that speak the RocketMQ remoting protocol. [NameServer] answers GET_ROUTEINFO_BY_TOPIC (105) from
// whatever [RouteProvider] it is given; it knows nothing of xDS.
//
//	ns, err := transport.NewNameServer(provider, transport.WithLogger(log))
//	...
//	producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns.Addr()}))
//
// The broker relay (intercept mode) is not here yet: in this version every route
// lists real broker addresses and the client dials brokers itself.
package transport
