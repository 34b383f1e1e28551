package routing

import (
	"fmt"
	"strings"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// groupTopicQueues is the queue count of a group topic on each broker that
// holds it: RocketMQ creates %RETRY% topics with the group's retryQueueNums
// and %DLQ% topics with one queue, both 1 by default.
const groupTopicQueues = 1

// GroupTopicRoute is [Snapshot.TopicRoute] for a consumer group's retry or
// dead-letter topic. Such topics live on every broker the group's consumers sent
// messages back to, which is whichever broker served them, so when no route names
// the topic itself its route lists every broker any route of the snapshot leads
// to, with the read and write bits the endpoints allow and one queue each (the
// group topics' default). Without this a listener with topic-specific routes
// would strand every retried message: the client consumes %RETRY%group like any
// other subscription.
//
// A route that matches the topic wins, as for any topic. When routes lead to
// nameserver clusters too, [Snapshot.RouteSource] says [SourceGroup] and
// [Snapshot.RewriteGroupRoute] builds the route from their answers.
func (s *Snapshot) GroupTopicRoute(topic string, opts RouteDataOptions) (*remoting.TopicRouteData, error) {
	r, err := s.TopicRoute(topic, opts)
	if s == nil || KindOf(err) != KindNoRoute || !remoting.IsGroupTopic(topic) {
		return r, err
	}
	entries := s.routedBrokers(groupTopicQueues, opts)
	if len(entries) == 0 {
		return nil, err
	}
	return buildRouteData("", entries, opts), nil
}

// groupTopicUnrouted reports whether topic is a group topic no route matches
// for route queries, sends or pulls: the case GroupTopicRoute serves.
func (s *Snapshot) groupTopicUnrouted(topic string) bool {
	if !remoting.IsGroupTopic(topic) {
		return false
	}
	for _, code := range []int32{remoting.CodeGetRouteInfoByTopic, remoting.CodeSendMessage, remoting.CodePullMessage} {
		if s.route(topic, code, nil) != nil {
			return false
		}
	}
	return true
}

// nameserverUpstreams lists the usable nameserver clusters any route of the
// snapshot leads to, each once, in route order (inline routes first, then
// the per-topic ones by topic).
func (s *Snapshot) nameserverUpstreams() []Upstream {
	var out []Upstream
	seen := map[string]bool{}
	s.eachRoute(func(r *Route) {
		if r.set == nil || !r.set.cluster.nameservers || r.set.err != nil || seen[r.cluster] {
			return
		}
		seen[r.cluster] = true
		out = append(out, Upstream{Cluster: r.cluster, Nameservers: append([]string(nil), r.set.nsAddrs...), DataPath: r.set.cluster.dataPath})
	})
	return out
}

// eachRoute calls f for every route: the inline ones, then the per-topic
// ones in topic order.
func (s *Snapshot) eachRoute(f func(*Route)) {
	if s.inline != nil {
		for _, r := range s.inline.routes {
			f(r)
		}
	}
	for _, topic := range s.Topics() {
		for _, r := range s.topics[topic].routes {
			f(r)
		}
	}
}

// RewriteGroupRoute builds the route of a group topic no route names (see
// [Snapshot.RouteSource], [SourceGroup]) from the answers of the nameserver
// clusters in Source.Upstreams, nil entries skipped, merged with what
// [Snapshot.GroupTopicRoute] synthesizes from broker clusters. An upstream
// broker is kept when some route of the snapshot leads to it: a route to a
// nameserver cluster whose subset it satisfies (only "broker_name" and
// "cluster_name" can be evaluated, as in [Snapshot.RewriteRoute]), or a route
// to a broker cluster that holds it. It keeps its upstream read and write
// bits, queue counts and addresses; an upstream answer wins over a
// synthesized entry for the same broker. The error is [KindNoUsableBroker]
// when no broker is left.
func (s *Snapshot) RewriteGroupRoute(topic string, upstreams []*remoting.TopicRouteData, opts RouteDataOptions) (*remoting.TopicRouteData, error) {
	if s == nil {
		return nil, errNoSnapshot()
	}
	entries := s.routedBrokers(groupTopicQueues, opts)
	orderConf := ""
	for _, up := range upstreams {
		if up == nil {
			continue
		}
		bds := make(map[string]*remoting.BrokerData, len(up.BrokerDatas))
		for i := range up.BrokerDatas {
			bds[up.BrokerDatas[i].BrokerName] = &up.BrokerDatas[i]
		}
		for _, qd := range up.QueueDatas {
			bd, ok := bds[qd.BrokerName]
			if !ok {
				continue
			}
			dp, ok := s.admitsUpstream(bd)
			if !ok {
				continue
			}
			e := &brokerEntry{name: qd.BrokerName, cluster: bd.Cluster, readNums: qd.ReadQueueNums, writeNums: qd.WriteQueueNums, sysFlag: qd.TopicSysFlag, addrs: make(map[int64]string)}
			e.perm = qd.Perm & (remoting.PermRead | remoting.PermWrite | remoting.PermInherit)
			if _, hasMaster := bd.BrokerAddrs[remoting.MasterID]; !hasMaster {
				e.perm &^= remoting.PermWrite
			}
			if e.perm&(remoting.PermRead|remoting.PermWrite) == 0 {
				continue
			}
			for id, a := range bd.BrokerAddrs {
				e.addrs[id] = a
			}
			e.addSide(dp)
			entries[qd.BrokerName] = e
		}
		if orderConf == "" {
			orderConf = up.OrderTopicConf
		}
	}
	if len(entries) == 0 {
		var names []string
		for _, u := range s.nameserverUpstreams() {
			names = append(names, quote(u.Cluster))
		}
		return nil, topicErr(KindNoUsableBroker, topic, "",
			fmt.Sprintf("no route names this group topic and no broker any route leads to holds it (nameserver clusters asked: %s)", strings.Join(names, ", ")), nil)
	}
	return buildRouteData(orderConf, entries, opts), nil
}

// admitsUpstream reports whether some route leads to upstream broker bd, and
// the data path for its addresses (intercept if any admitting route's
// cluster is).
func (s *Snapshot) admitsUpstream(bd *remoting.BrokerData) (DataPath, bool) {
	dp, ok := DataPathUnset, false
	s.eachRoute(func(r *Route) {
		if r.set == nil || r.set.cluster.err != nil {
			return
		}
		admit := false
		if r.set.cluster.nameservers {
			admit = upstreamInSubset(bd, r.subset)
		} else if r.set.err == nil {
			_, admit = r.set.byName[bd.BrokerName]
		}
		if admit {
			ok = true
			if dp != DataPathIntercept {
				dp = r.set.cluster.dataPath
			}
		}
	})
	return dp, ok
}

// RoutedBrokers returns every broker that some route of the snapshot leads to,
// with the addresses a client may use (the master when writable, every readable
// member), sorted by broker name. It answers "which brokers make up this mesh",
// for cluster-info queries and dumps.
func (s *Snapshot) RoutedBrokers(opts RouteDataOptions) []remoting.BrokerData {
	if s == nil {
		return nil
	}
	return buildRouteData("", s.routedBrokers(0, opts), opts).BrokerDatas
}

// BrokerClusters returns, for every broker some route leads to, the xDS
// cluster of the first such route in match order (inline routes, then
// per-topic routes by topic): the cluster whose settings (TLS, connect
// timeout, outlier detection, limits) apply to requests that name the broker
// but no topic. A broker that several clusters hold should have the same
// settings in each. Brokers only nameservers know are not listed.
func (s *Snapshot) BrokerClusters() map[string]string {
	out := make(map[string]string)
	if s == nil {
		return out
	}
	s.eachRoute(func(route *Route) {
		if route.set == nil || route.IsNameserver() {
			return
		}
		for i := range route.set.brokers {
			if name := route.set.brokers[i].Name; out[name] == "" {
				out[name] = route.cluster
			}
		}
	})
	return out
}

// routedBrokers merges the broker groups of every route's endpoint set, granting
// each the read and write bits its endpoints allow. queues, if not 0,
// replaces the queue counts of every entry.
func (s *Snapshot) routedBrokers(queues int32, opts RouteDataOptions) map[string]*brokerEntry {
	entries := make(map[string]*brokerEntry)
	seen := make(map[*endpointSet]bool)
	s.eachRoute(func(route *Route) {
		if route.set == nil || route.IsNameserver() || seen[route.set] {
			return
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
				if queues != 0 {
					e.readNums, e.writeNums = queues, queues
				}
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
			if g.Readable() {
				e.keepMaster(g, opts)
			}
		}
	})
	return entries
}
