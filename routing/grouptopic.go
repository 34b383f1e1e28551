package routing

import "github.com/rmqmesh/rmqmesh/transport/remoting"

// GroupTopicRoute is [Snapshot.TopicRoute] for a consumer group's retry or
// dead-letter topic. Such topics live on every broker the group's consumers sent
// messages back to, which is whichever broker served them, so when no route names
// the topic itself its route lists every broker any route of the snapshot leads
// to, with the read and write bits the endpoints allow. Without this a listener
// with topic-specific routes would strand every retried message: the client
// consumes %RETRY%group like any other subscription.
//
// A route that matches the topic wins, as for any topic.
func (s *Snapshot) GroupTopicRoute(topic string, opts RouteDataOptions) (*remoting.TopicRouteData, error) {
	r, err := s.TopicRoute(topic, opts)
	if s == nil || KindOf(err) != KindNoRoute || !remoting.IsGroupTopic(topic) {
		return r, err
	}
	entries := s.routedBrokers()
	if len(entries) == 0 {
		return nil, err
	}
	return buildRouteData("", entries, opts), nil
}

// RoutedBrokers returns every broker that some route of the snapshot leads to,
// with the addresses a client may use (the master when writable, every readable
// member), sorted by broker name. It answers "which brokers make up this mesh",
// for cluster-info queries and dumps.
func (s *Snapshot) RoutedBrokers(opts RouteDataOptions) []remoting.BrokerData {
	if s == nil {
		return nil
	}
	return buildRouteData("", s.routedBrokers(), opts).BrokerDatas
}

// routedBrokers merges the broker groups of every route's endpoint set, granting
// each the read and write bits its endpoints allow.
func (s *Snapshot) routedBrokers() map[string]*brokerEntry {
	entries := make(map[string]*brokerEntry)
	seen := make(map[*endpointSet]bool)
	visit := func(rt *routeTable) {
		if rt == nil {
			return
		}
		for _, route := range rt.routes {
			if route.set == nil || route.IsNameserver() || seen[route.set] {
				continue
			}
			seen[route.set] = true
			for i := range route.set.brokers {
				g := &route.set.brokers[i]
				if !g.Writable() && !g.Readable() {
					continue
				}
				e, ok := entries[g.Name]
				if !ok {
					h := g.head()
					e = &brokerEntry{name: g.Name, cluster: h.ClusterName, readNums: h.ReadQueueNums, writeNums: h.WriteQueueNums, addrs: make(map[int64]string)}
					entries[g.Name] = e
				}
				if m, ok := g.Master(); ok && g.Writable() {
					e.perm |= remoting.PermWrite
					e.addrs[remoting.MasterID] = m.Address
				}
				if g.Readable() {
					e.perm |= remoting.PermRead
					for j := range g.Members {
						if m := &g.Members[j]; m.Readable() {
							if _, dup := e.addrs[m.BrokerID]; !dup {
								e.addrs[m.BrokerID] = m.Address
							}
						}
					}
				}
				e.addSide(route.DataPath())
			}
		}
	}
	visit(s.inline)
	for _, rt := range s.topics {
		visit(rt)
	}
	return entries
}
