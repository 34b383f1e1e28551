package routing

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// RouteDataOptions adjusts the route data built by [Snapshot.TopicRoute] and
// [Snapshot.RewriteRoute].
type RouteDataOptions struct {
	// AddressOf, if not nil, maps the real address of broker (brokerName,
	// brokerID) to the address the client is given, e.g. a virtual loopback
	// address for the intercept data path. It is called for the brokers of
	// clusters whose data path in force is [DataPathIntercept] only; brokers
	// reached only through [DataPathDirect] clusters keep their real
	// addresses. Nil means real addresses for every broker.
	AddressOf func(brokerName string, brokerID int64, real string) string
	// KeepMaster lists the master (id 0) of every readable broker whose
	// master is not listed (unhealthy, read-only, or missing), at
	// AddressOf(name, 0, real) — where real is the master's endpoint address,
	// "" when EDS lists none. It is for relays behind those addresses that
	// route the master's requests to a member that can take them: the
	// official Go client sends offset queries and commits to a broker's
	// master address only, so without one it cannot consume a broker whose
	// master is down. The broker stays read-only. Applies to brokers reached
	// through [DataPathIntercept] clusters with AddressOf set, in
	// [Snapshot.TopicRoute] and [Snapshot.GroupTopicRoute].
	KeepMaster bool
}

// SourceKind says where the answer to code 105 for a topic comes from.
type SourceKind uint8

const (
	// SourceSynthesize means the answer is built from xDS endpoints by
	// [Snapshot.TopicRoute].
	SourceSynthesize SourceKind = iota
	// SourceNameserver means the request is forwarded to
	// Source.Nameservers and the answer passed through
	// [Snapshot.RewriteRoute].
	SourceNameserver
	// SourceGroup means the topic is a consumer group's retry or
	// dead-letter topic that no route names, in a snapshot whose routes lead
	// to nameserver clusters: the request is forwarded to every cluster in
	// Source.Upstreams and the answers passed through
	// [Snapshot.RewriteGroupRoute]. Those nameservers know which brokers
	// hold the group's topic; endpoint metadata cannot tell.
	SourceGroup
)

// String returns "synthesize", "nameserver" or "group".
func (k SourceKind) String() string {
	switch k {
	case SourceNameserver:
		return "nameserver"
	case SourceGroup:
		return "group"
	}
	return "synthesize"
}

// Upstream is one nameserver cluster to ask, for [SourceGroup].
type Upstream struct {
	Cluster string
	// Nameservers are the available nameserver addresses of the lowest
	// priority that has any, healthy before degraded.
	Nameservers []string
	// DataPath is the data path in force for the cluster.
	DataPath DataPath
}

// Source is the result of [Snapshot.RouteSource].
type Source struct {
	Kind SourceKind
	// Cluster is the nameserver cluster, for SourceNameserver.
	Cluster string
	// Nameservers are the healthy nameserver addresses of the lowest
	// priority that has any, in EDS order, for SourceNameserver.
	Nameservers []string
	// DataPath is the data path in force for the nameserver cluster, for
	// SourceNameserver.
	DataPath DataPath
	// Upstreams are the nameserver clusters to ask, for SourceGroup.
	Upstreams []Upstream
}

// RouteSource tells where the code-105 answer for topic comes from: the
// route matched with code 105 leading to a nameserver cluster means
// "forward to these nameservers and rewrite"; a group topic that no route
// names, while routes lead to nameserver clusters, means "ask them all"
// ([SourceGroup]); anything else, including no route for code 105, means
// "synthesize with [Snapshot.TopicRoute]" (or [Snapshot.GroupTopicRoute]).
func (s *Snapshot) RouteSource(topic string) (Source, error) {
	if s == nil {
		return Source{}, errNoSnapshot()
	}
	r := s.route(topic, remoting.CodeGetRouteInfoByTopic, nil)
	if r == nil {
		if s.groupTopicUnrouted(topic) {
			if ups := s.nameserverUpstreams(); len(ups) > 0 {
				return Source{Kind: SourceGroup, Upstreams: ups}, nil
			}
		}
		return Source{Kind: SourceSynthesize}, nil
	}
	if r.set == nil || r.set.cluster.err != nil {
		return Source{}, r.usableErr(topic) // unknown or malformed: cannot tell
	}
	if !r.set.cluster.nameservers {
		return Source{Kind: SourceSynthesize}, nil
	}
	if err := r.usableErr(topic); err != nil {
		return Source{}, err
	}
	return Source{
		Kind:        SourceNameserver,
		Cluster:     r.cluster,
		Nameservers: append([]string(nil), r.set.nsAddrs...),
		DataPath:    r.set.cluster.dataPath,
	}, nil
}

// side is the write or read half of a topic route.
type side struct {
	route *Route
	err   error
}

func (s *Snapshot) side(topic string, code int32) side {
	r, err := s.Match(topic, code, nil)
	return side{route: r, err: err}
}

type brokerEntry struct {
	name, cluster       string
	readNums, writeNums int32
	perm                int32
	sysFlag             int32
	addrs               map[int64]string
	intercept, anySide  bool
}

func (e *brokerEntry) addSide(dp DataPath) {
	e.anySide = true
	if dp == DataPathIntercept {
		e.intercept = true
	}
}

// keepMaster lists g's master for [RouteDataOptions.KeepMaster] when no
// master address is listed yet.
func (e *brokerEntry) keepMaster(g *BrokerGroup, opts RouteDataOptions) {
	if !opts.KeepMaster || opts.AddressOf == nil || !e.intercept {
		return
	}
	if _, ok := e.addrs[remoting.MasterID]; ok {
		return
	}
	real := ""
	if m, ok := g.Master(); ok {
		real = m.Address
	}
	e.addrs[remoting.MasterID] = real
}

// TopicRoute synthesizes the route data the client sees for topic (code 105)
// from xDS endpoints, in the wire codec's type.
//
// The route matched with code 10 (send) gives the write subset, the one
// matched with code 11 (pull) the read subset. Every broker of either subset
// is listed, except one that can take neither writes nor reads. A broker's
// perm has [PermWrite] when its master is in the write subset, healthy, and
// has the write bit; [PermRead] when a member in the read subset is healthy
// and has the read bit. Queue counts come from the master's metadata (else
// the lowest id's). The addresses listed are the master if writable and
// every readable member, through opts.AddressOf. A broker listed by both
// subsets with different endpoints for one id takes the write subset's.
// Priorities and localities do not narrow the route data (every writable
// broker is listed writable); they only steer [Snapshot.PickWriteBroker],
// which the mesh's queue selector and relays use.
//
// The error is [KindNoRoute] when neither code matches any route, and
// [KindNoUsableBroker] (naming both causes) when nothing is writable or
// readable.
func (s *Snapshot) TopicRoute(topic string, opts RouteDataOptions) (*remoting.TopicRouteData, error) {
	if s == nil {
		return nil, errNoSnapshot()
	}
	w, r := s.side(topic, remoting.CodeSendMessage), s.side(topic, remoting.CodePullMessage)
	entries := make(map[string]*brokerEntry)
	entry := func(g *BrokerGroup) *brokerEntry {
		e, ok := entries[g.Name]
		if !ok {
			h := g.head()
			e = &brokerEntry{name: g.Name, cluster: h.ClusterName, readNums: h.ReadQueueNums, writeNums: h.WriteQueueNums, addrs: make(map[int64]string)}
			entries[g.Name] = e
		}
		return e
	}
	writable, readable := 0, 0
	if w.err == nil {
		if w.route.IsNameserver() {
			w.err = w.route.nameserverErr(topic)
		} else {
			for i := range w.route.set.brokers {
				g := &w.route.set.brokers[i]
				if !g.Writable() {
					continue
				}
				m, _ := g.Master()
				e := entry(g)
				e.perm |= remoting.PermWrite
				e.addrs[remoting.MasterID] = m.Address
				e.addSide(w.route.DataPath())
				writable++
			}
			if writable == 0 {
				w.err = w.route.writeErr(topic)
			}
		}
	}
	if r.err == nil {
		if r.route.IsNameserver() {
			r.err = r.route.nameserverErr(topic)
		} else {
			for i := range r.route.set.brokers {
				g := &r.route.set.brokers[i]
				if !g.Readable() {
					continue
				}
				e := entry(g)
				e.perm |= remoting.PermRead
				for j := range g.Members {
					m := &g.Members[j]
					if _, dup := e.addrs[m.BrokerID]; m.Readable() && !dup {
						e.addrs[m.BrokerID] = m.Address
					}
				}
				e.addSide(r.route.DataPath())
				e.keepMaster(g, opts)
				readable++
			}
			if readable == 0 {
				r.err = topicErr(KindNoReadableBroker, topic, r.route.cluster,
					fmt.Sprintf("cluster %q%s: no readable broker (%s)", r.route.cluster, subsetSuffix(r.route.subset), r.route.where), nil)
			}
		}
	}
	if writable == 0 && readable == 0 {
		return nil, s.noBrokerErr(topic, w.err, r.err)
	}
	return buildRouteData("", entries, opts), nil
}

func (s *Snapshot) noBrokerErr(topic string, werr, rerr error) error {
	if KindOf(werr) == KindNoRoute && KindOf(rerr) == KindNoRoute {
		return topicErr(KindNoRoute, topic, "", fmt.Sprintf("no route for sends or pulls in listener %q", s.listener), nil)
	}
	detail := func(err error) string {
		var e *Error
		if errors.As(err, &e) {
			return strings.TrimPrefix(e.Msg, "routing: topic "+quote(topic)+": ")
		}
		if err == nil {
			return "ok"
		}
		return err.Error()
	}
	return topicErr(KindNoUsableBroker, topic, "",
		fmt.Sprintf("no writable or readable broker: writes: %s; reads: %s", detail(werr), detail(rerr)), nil)
}

// buildRouteData lists every entry that can be read or written, sorted by
// broker name. Filter servers are never listed: their addresses would bypass
// the mesh.
func buildRouteData(orderConf string, entries map[string]*brokerEntry, opts RouteDataOptions) *remoting.TopicRouteData {
	names := make([]string, 0, len(entries))
	for n, e := range entries {
		if e.perm&(remoting.PermRead|remoting.PermWrite) != 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	td := &remoting.TopicRouteData{
		OrderTopicConf:    orderConf,
		QueueDatas:        make([]remoting.QueueData, 0, len(names)),
		BrokerDatas:       make([]remoting.BrokerData, 0, len(names)),
		FilterServerTable: map[string][]string{},
	}
	for _, n := range names {
		e := entries[n]
		td.QueueDatas = append(td.QueueDatas, remoting.QueueData{
			BrokerName: n, ReadQueueNums: e.readNums, WriteQueueNums: e.writeNums, Perm: e.perm, TopicSysFlag: e.sysFlag,
		})
		addrs := make(map[int64]string, len(e.addrs))
		for id, a := range e.addrs {
			if opts.AddressOf != nil && e.intercept {
				a = opts.AddressOf(n, id, a)
			}
			addrs[id] = a
		}
		td.BrokerDatas = append(td.BrokerDatas, remoting.BrokerData{Cluster: e.cluster, BrokerName: n, BrokerAddrs: addrs})
	}
	return td
}

// RewriteRoute applies the write and read subset rules of
// [Snapshot.TopicRoute] to an upstream nameserver's answer for topic (see
// [Snapshot.RouteSource]). upstream is not modified.
//
// Each half (the routes matched with code 10 and code 11) grants its bit to
// an upstream broker as follows:
//
//   - The route leads to a nameserver cluster: the broker's endpoints come
//     from the upstream answer, so only the subset keys "broker_name" and
//     "cluster_name" can be evaluated, against the BrokerData's brokerName
//     and cluster. A subset with any other key matches no upstream broker
//     (a canary subset that cannot be honoured takes no traffic rather than
//     all of it).
//   - The route leads to a broker cluster: the bit is granted when that
//     subset has the broker and it is writable (readable) there by the
//     rules of TopicRoute. Addresses still come from the upstream answer.
//   - No route, or an unusable one: the bit is not granted.
//
// The write bit also needs a master address (id 0) in the upstream answer.
// A QueueData keeps the upstream perm bits that are granted (and its inherit
// bit); a broker left with neither read nor write is dropped. Queue counts,
// topicSysFlag and orderTopicConf come from upstream; addresses go through
// opts.AddressOf unless every half that lists the broker leads to a
// [DataPathDirect] cluster. The error is [KindNoUsableBroker] when no broker
// is left writable or readable.
func (s *Snapshot) RewriteRoute(topic string, upstream *remoting.TopicRouteData, opts RouteDataOptions) (*remoting.TopicRouteData, error) {
	if s == nil {
		return nil, errNoSnapshot()
	}
	if upstream == nil {
		return nil, topicErr(KindNoUsableBroker, topic, "", "no upstream route data to rewrite", nil)
	}
	sw := s.route(topic, remoting.CodeSendMessage, nil)
	sr := s.route(topic, remoting.CodePullMessage, nil)
	bds := make(map[string]*remoting.BrokerData, len(upstream.BrokerDatas))
	for i := range upstream.BrokerDatas {
		bd := &upstream.BrokerDatas[i]
		bds[bd.BrokerName] = bd
	}
	entries := make(map[string]*brokerEntry)
	writable, readable := 0, 0
	for _, qd := range upstream.QueueDatas {
		bd, ok := bds[qd.BrokerName]
		if !ok {
			continue
		}
		e := &brokerEntry{name: qd.BrokerName, cluster: bd.Cluster, readNums: qd.ReadQueueNums, writeNums: qd.WriteQueueNums, sysFlag: qd.TopicSysFlag, addrs: make(map[int64]string)}
		_, hasMaster := bd.BrokerAddrs[remoting.MasterID]
		if qd.Perm&remoting.PermWrite != 0 && hasMaster {
			if dp, ok := grants(sw, bd, true); ok {
				e.perm |= remoting.PermWrite
				e.addSide(dp)
				writable++
			}
		}
		if qd.Perm&remoting.PermRead != 0 {
			if dp, ok := grants(sr, bd, false); ok {
				e.perm |= remoting.PermRead
				e.addSide(dp)
				readable++
			}
		}
		if e.perm == 0 {
			continue
		}
		e.perm |= qd.Perm & remoting.PermInherit
		for id, a := range bd.BrokerAddrs {
			e.addrs[id] = a
		}
		entries[qd.BrokerName] = e
	}
	if writable == 0 && readable == 0 {
		why := func(rt *Route, code int32) string {
			if rt == nil {
				return fmt.Sprintf("no route for code %d", code)
			}
			if err := rt.usableErr(topic); err != nil {
				return strings.TrimPrefix(err.Error(), "routing: topic "+quote(topic)+": ")
			}
			return fmt.Sprintf("no upstream broker in cluster %q%s (%s)", rt.cluster, subsetSuffix(rt.subset), rt.where)
		}
		return nil, topicErr(KindNoUsableBroker, topic, "",
			fmt.Sprintf("no writable or readable broker in the nameserver's answer: writes: %s; reads: %s", why(sw, remoting.CodeSendMessage), why(sr, remoting.CodePullMessage)), nil)
	}
	td := buildRouteData(upstream.OrderTopicConf, entries, opts)
	return td, nil
}

// grants reports whether route rt lets broker bd of an upstream answer take
// writes (write) or reads, and the data path for its addresses.
func grants(rt *Route, bd *remoting.BrokerData, write bool) (DataPath, bool) {
	if rt == nil || rt.set == nil {
		return DataPathUnset, false
	}
	set := rt.set
	if set.cluster.err != nil {
		return DataPathUnset, false
	}
	if set.cluster.nameservers {
		return set.cluster.dataPath, upstreamInSubset(bd, rt.subset)
	}
	if set.err != nil {
		return DataPathUnset, false
	}
	i, ok := set.byName[bd.BrokerName]
	if !ok {
		return DataPathUnset, false
	}
	g := &set.brokers[i]
	if write {
		return set.cluster.dataPath, g.Writable()
	}
	return set.cluster.dataPath, g.Readable()
}

// upstreamInSubset evaluates a subset against an upstream BrokerData: only
// "broker_name" and "cluster_name" can match.
func upstreamInSubset(bd *remoting.BrokerData, subset *structpb.Struct) bool {
	for k, v := range subset.GetFields() {
		var got string
		switch k {
		case wellknown.BrokerNameKey:
			got = bd.BrokerName
		case wellknown.ClusterNameKey:
			got = bd.Cluster
		default:
			return false
		}
		sv, ok := v.GetKind().(*structpb.Value_StringValue)
		if !ok || sv.StringValue != got {
			return false
		}
	}
	return true
}
