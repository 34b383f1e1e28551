// Package discovery learns what a RocketMQ cluster is from its nameservers,
// through the project's remoting codec: the brokers (GET_BROKER_CLUSTER_INFO,
// code 106: cluster, name, id, address) and, for the topics clients ask
// for, each topic's queues on each broker (GET_ROUTEINFO_BY_TOPIC, code 105:
// read and write queue counts, permission).
//
//	p, err := discovery.New([]discovery.NameServer{discovery.Remote("10.0.0.1:9876")})
//	go p.Run(ctx)
//	p.SetTopics([]string{"orders"})
//	<-p.Changed()
//	view := p.View()
//
// Answers from several nameservers are merged, the first listed winning a
// conflict. A broker that stops being reported stays in the view, marked
// not registered, so a policy can withdraw it or mark it unhealthy. When no
// nameserver answers, the last good view stays; every failure and every
// inconsistency (conflicting addresses, routes naming brokers without
// addresses, malformed bodies) is logged once and listed by
// [Poller.Status]. The package does no xDS: see the controlplane package.
package discovery
