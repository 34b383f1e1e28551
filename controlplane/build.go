package controlplane

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"

	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/policy"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// Discovered is what the control plane knows: the cluster as the
// nameservers describe it, and what clients ask for.
type Discovered struct {
	// View is the brokers and the queue data of the topics clients hold
	// and of the inline listeners' exact topics.
	View *discovery.View
	// Nameservers are the nameserver addresses clients' route queries are
	// forwarded to by inline listeners with route_info: nameserver.
	Nameservers []string
	// Requested are the per-topic route configuration names clients
	// subscribe to ([wellknown.TopicRouteName], plain or xdstp://).
	Requested []string
}

// Result is what [Build] makes.
type Result struct {
	Resources resource.Set
	// Warnings say what was left out and why: brokers the policy names
	// that no nameserver reports, endpoints with unusable addresses.
	Warnings []string
}

// NameserverCluster is the cluster of the nameservers that inline listeners
// with route_info: nameserver send route queries (code 105) to. Its "/"
// keeps it apart from policy cluster names.
const NameserverCluster = "rmqmesh/nameservers"

// Build turns what was discovered and what the policy wants into the
// resources to serve. It is a pure function: equal inputs give equal
// resources (in name order), so replicas serve equal versions. p must not
// be nil.
//
// Each listener carries the RocketmqProxy filter. An on-demand listener
// has no inline routes; for each requested name "ROUTE_CONFIG/TOPIC" whose
// topic the nameservers have answered about, a route configuration of that
// name holds the policy routes matching the topic (in policy order), each
// to a cluster holding the policy cluster's brokers that have the topic,
// with the topic's own queue counts and permission: one such cluster per
// distinct queue layout ("CLUSTER/r4w4p6" when every broker of the cluster
// has the same, "CLUSTER/h<hash>" otherwise, "CLUSTER/none" when none has
// the topic). Each such route also carries the topic's queue data in its
// metadata_match (wellknown.TopicQueuesKey), which rmqmesh reads; the
// per-topic clusters carry the same counts in their endpoints, where
// Envoy's filter reads them. A topic the nameservers do not know gets a
// route configuration without routes. Requested topics not yet answered
// get nothing yet.
//
// An inline listener holds the policy routes, to the policy clusters,
// whose endpoints carry the cluster's configured queue counts; a route of
// an exact topic the nameservers know carries that topic's own queue data
// (wellknown.TopicQueuesKey) on the cluster's brokers, which rmqmesh uses
// instead. With route_info: nameserver a first route sends code 105 to
// [NameserverCluster].
func Build(d Discovered, p *policy.Policy) Result {
	var brokers []discovery.Broker
	lookup := func(string) (discovery.Topic, bool) { return discovery.Topic{}, false }
	if d.View != nil {
		brokers = d.View.Brokers
		lookup = func(t string) (discovery.Topic, bool) { v, ok := d.View.Topics[t]; return v, ok }
	}
	b := newBuilder(brokers, d.Nameservers, p)
	shapes := map[string]*shape{}
	var rcs []*rocketmqv3.RouteConfiguration
	requested := slices.Clone(d.Requested)
	slices.Sort(requested)
	for _, name := range slices.Compact(requested) {
		rc, used, st := b.topicRoute(name, lookup)
		if st != routeBuilt {
			continue
		}
		for _, s := range used {
			shapes[s.name] = s
		}
		rcs = append(rcs, rc)
	}
	set := b.shared(shapes, lookup)
	set.RouteConfigs = rcs
	return Result{Resources: set, Warnings: b.warnings}
}

// builder holds what the resources of one (view brokers, nameservers,
// policy) have in common: which brokers each policy cluster selects and how
// each is served. Topic routes are built against it one by one.
type builder struct {
	p           *policy.Policy
	nameservers []string
	members     map[string][]member // policy cluster → members, by name then id
	names       map[string][]string // policy cluster → broker names, sorted
	warnings    []string
}

// member is one broker of a policy cluster with what the policy says of it.
type member struct {
	b    discovery.Broker
	o    policy.Override
	info policy.BrokerInfo
}

func newBuilder(brokers []discovery.Broker, nameservers []string, p *policy.Policy) *builder {
	b := &builder{p: p, nameservers: nameservers, members: map[string][]member{}, names: map[string][]string{}}
	known := map[string]bool{}
	for _, br := range brokers {
		known[br.Name] = true
	}
	if len(brokers) > 0 {
		if err := p.CheckBrokers(func(n string) bool { return known[n] }); err != nil {
			b.warnings = append(b.warnings, strings.Split(err.Error(), "\n")...)
		}
	}
	for _, c := range p.Clusters {
		for _, br := range brokers {
			if !selects(&c.Select, br, p.Brokers[br.Name]) {
				continue
			}
			if !br.Registered && c.LostBrokers == policy.LostWithdraw {
				continue
			}
			b.members[c.Name] = append(b.members[c.Name], member{b: br, o: c.Overrides[br.Name], info: p.Brokers[br.Name]})
			if n := b.names[c.Name]; len(n) == 0 || n[len(n)-1] != br.Name {
				b.names[c.Name] = append(n, br.Name)
			}
		}
	}
	return b
}

func selects(s *policy.Selector, b discovery.Broker, info policy.BrokerInfo) bool {
	if s.ClusterName != "" && s.ClusterName != b.Cluster {
		return false
	}
	if len(s.BrokerNames) > 0 && !slices.Contains(s.BrokerNames, b.Name) {
		return false
	}
	for k, v := range s.Labels {
		if got, ok := info.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// shape is a per-topic cluster: a policy cluster narrowed to the brokers
// that have a topic, with that topic's queue data.
type shape struct {
	name    string
	cluster string
	queues  []discovery.QueueData // by broker name
}

// routeState says what became of a requested route configuration name.
type routeState uint8

const (
	// routeBuilt: there is a route configuration to serve.
	routeBuilt routeState = iota
	// routeUnanswered: a per-topic route of an on-demand listener whose
	// topic the nameservers have not answered about (yet). Nothing is
	// served, and the name is not said to be gone: the answer is unknown.
	routeUnanswered
	// routeNotServed: the name is not a per-topic route of an on-demand
	// listener.
	routeNotServed
)

// topicRoute builds the per-topic route configuration named name, and the
// shapes it routes to, when its state is routeBuilt.
func (b *builder) topicRoute(name string, lookup func(string) (discovery.Topic, bool)) (*rocketmqv3.RouteConfiguration, []*shape, routeState) {
	family, topic, ok := wellknown.ParseTopicRouteName(name)
	if !ok {
		return nil, nil, routeNotServed
	}
	l, ok := b.p.ListenerForRouteConfig(family)
	if !ok || !l.OnDemand {
		return nil, nil, routeNotServed
	}
	t, ok := lookup(topic)
	if !ok {
		return nil, nil, routeUnanswered
	}
	rc := &rocketmqv3.RouteConfiguration{Name: name}
	if !t.Exists {
		return rc, nil, routeBuilt
	}
	var used []*shape
	for _, r := range l.Routes {
		if !r.Topic.Matches(topic) {
			continue
		}
		s := b.shapeOf(r.Cluster, t)
		route, err := resource.NewRoute(resource.Route{Kind: r.Topic.Kind, Pattern: r.Topic.Pattern, Codes: r.Codes, Cluster: s.name, Subset: r.Subset,
			TopicQueues: topicQueues(s.queues)})
		if err != nil { // the policy was validated: a bug, reported rather than served half
			b.warnings = append(b.warnings, fmt.Sprintf("route configuration %q: %s: %v", name, r.Pos, err))
			return nil, nil, routeNotServed
		}
		rc.Routes = append(rc.Routes, route)
		used = append(used, s)
	}
	return rc, used, routeBuilt
}

// shapeOf names the cluster serving topic t from policy cluster c.
func (b *builder) shapeOf(c string, t discovery.Topic) *shape {
	s := &shape{cluster: c}
	for _, n := range b.names[c] {
		if q, ok := t.Queue(n); ok {
			s.queues = append(s.queues, q)
		}
	}
	switch {
	case len(s.queues) == 0:
		s.name = c + "/none"
	case len(s.queues) == len(b.names[c]) && uniform(s.queues):
		q := s.queues[0]
		s.name = c + "/r" + strconv.Itoa(q.Read) + "w" + strconv.Itoa(q.Write) + "p" + strconv.Itoa(q.Perm)
	default:
		h := sha256.New()
		for _, q := range s.queues {
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00%d\x00", q.BrokerName, q.Read, q.Write, q.Perm)
		}
		s.name = c + "/h" + hex.EncodeToString(h.Sum(nil))[:10]
	}
	return s
}

// topicQueues is the queue data of a topic on the brokers that have it, as
// a route carries it (wellknown.TopicQueuesKey); never nil, so a topic on
// none of the route's brokers routes to none of them.
func topicQueues(qs []discovery.QueueData) map[string]wellknown.TopicQueues {
	out := make(map[string]wellknown.TopicQueues, len(qs))
	for _, q := range qs {
		out[q.BrokerName] = wellknown.TopicQueues{ReadQueueNums: int32(q.Read), WriteQueueNums: int32(q.Write), Perm: int32(q.Perm)}
	}
	return out
}

// inlineQueues is the queue data an inline route carries: for an exact
// topic the nameservers know, the topic's on the brokers of the route's
// cluster; otherwise nil, and rmqmesh takes the endpoints' counts (a topic
// not created yet may still be, by the first send).
func (b *builder) inlineQueues(r policy.Route, lookup func(string) (discovery.Topic, bool)) map[string]wellknown.TopicQueues {
	if r.Topic.Kind != resource.ExactTopic {
		return nil
	}
	t, ok := lookup(r.Topic.Pattern)
	if !ok || !t.Exists {
		return nil
	}
	var qs []discovery.QueueData
	for _, n := range b.names[r.Cluster] {
		if q, ok := t.Queue(n); ok {
			qs = append(qs, q)
		}
	}
	return topicQueues(qs)
}

// inlineTopics returns the topics of p's inline listeners' exact-topic
// routes, whose queue data the control plane keeps so their routes carry
// it; sorted, without repeats.
func inlineTopics(p *policy.Policy) []string {
	var out []string
	for _, l := range p.Listeners {
		if l.OnDemand {
			continue
		}
		for _, r := range l.Routes {
			if r.Topic.Kind == resource.ExactTopic {
				out = append(out, r.Topic.Pattern)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func uniform(qs []discovery.QueueData) bool {
	for _, q := range qs[1:] {
		if q.Read != qs[0].Read || q.Write != qs[0].Write || q.Perm != qs[0].Perm {
			return false
		}
	}
	return true
}

// shared builds the listeners and clusters: every policy cluster, the
// nameserver cluster when an inline listener forwards route queries, and
// the given shapes. lookup gives the queue data of inline exact topics.
func (b *builder) shared(shapes map[string]*shape, lookup func(string) (discovery.Topic, bool)) resource.Set {
	var set resource.Set
	forward := false
	for _, l := range b.p.Listeners {
		spec := resource.Listener{Name: l.Name, RouteConfigName: l.RouteConfigName, OnDemand: l.OnDemand}
		if !l.OnDemand {
			if l.RouteInfo == policy.RouteInfoNameserver {
				forward = true
				spec.Routes = append(spec.Routes, resource.Route{Kind: resource.AnyTopic, Codes: []int32{remoting.CodeGetRouteInfoByTopic}, Cluster: NameserverCluster})
			}
			for _, r := range l.Routes {
				spec.Routes = append(spec.Routes, resource.Route{Kind: r.Topic.Kind, Pattern: r.Topic.Pattern, Codes: r.Codes, Cluster: r.Cluster, Subset: r.Subset,
					TopicQueues: b.inlineQueues(r, lookup)})
			}
		}
		out, err := resource.NewListener(spec)
		if err != nil {
			b.warnings = append(b.warnings, fmt.Sprintf("listener %q (%s): %v", l.Name, l.Pos, err))
			continue
		}
		set.Listeners = append(set.Listeners, out)
	}
	add := func(c *clusterv3.Cluster, cla *endpointv3.ClusterLoadAssignment) {
		set.Clusters = append(set.Clusters, c)
		set.Endpoints = append(set.Endpoints, cla)
	}
	for i := range b.p.Clusters {
		pc := &b.p.Clusters[i]
		add(b.cluster(pc, pc.Name, nil, false))
	}
	for _, name := range slices.Sorted(maps.Keys(shapes)) {
		s := shapes[name]
		if pc, ok := b.p.Cluster(s.cluster); ok { // a shape of an older policy may name a cluster gone
			add(b.cluster(pc, s.name, s.queues, true))
		}
	}
	if forward {
		var eps []resource.Endpoint
		for _, ns := range b.nameservers {
			eps = append(eps, resource.Endpoint{Address: ns, Health: corev3.HealthStatus_HEALTHY})
		}
		c, cla, err := resource.NewCluster(resource.Cluster{Name: NameserverCluster, Endpoints: eps})
		if err != nil {
			b.warnings = append(b.warnings, fmt.Sprintf("nameserver cluster: %v", err))
		} else {
			add(c, cla)
		}
	}
	slices.SortFunc(set.Listeners, func(a, b *listenerv3.Listener) int { return cmp.Compare(a.GetName(), b.GetName()) })
	slices.SortFunc(set.Clusters, func(a, b *clusterv3.Cluster) int { return cmp.Compare(a.GetName(), b.GetName()) })
	slices.SortFunc(set.Endpoints, func(a, b *endpointv3.ClusterLoadAssignment) int {
		return cmp.Compare(a.GetClusterName(), b.GetClusterName())
	})
	return set
}

// cluster builds policy cluster pc under name. For a topic, only the
// members whose broker name has queue data are served, with it; otherwise
// every member, with the cluster's configured queue counts and full
// permission.
func (b *builder) cluster(pc *policy.Cluster, name string, queues []discovery.QueueData, topic bool) (*clusterv3.Cluster, *endpointv3.ClusterLoadAssignment) {
	spec := resource.Cluster{
		Name: name, DataPath: pc.DataPath, ConnectTimeout: pc.ConnectTimeout,
		OutlierDetection: pc.OutlierDetection, CircuitBreakers: pc.CircuitBreakers, TransportSocket: pc.TransportSocket,
		SendFailover: pc.SendFailover,
	}
	for _, m := range b.members[pc.Name] {
		q := discovery.QueueData{BrokerName: m.b.Name, Read: pc.Queues.Read, Write: pc.Queues.Write, Perm: 6}
		if topic {
			i, ok := slices.BinarySearchFunc(queues, m.b.Name, func(q discovery.QueueData, n string) int { return cmp.Compare(q.BrokerName, n) })
			if !ok {
				continue
			}
			q = queues[i]
		}
		ep := resource.Endpoint{
			Address: m.b.Addr,
			Broker: &resource.Broker{
				Name: m.b.Name, ID: m.b.ID, ClusterName: m.b.Cluster,
				Perm: q.Perm & m.o.Perm.Mask(), ReadQueues: q.Read, WriteQueues: q.Write,
			},
			Weight:   m.o.Weight,
			Locality: resource.Locality{Region: cmp.Or(m.o.Region, m.info.Region), Zone: cmp.Or(m.o.Zone, m.info.Zone), SubZone: cmp.Or(m.o.SubZone, m.info.SubZone)},
			Priority: m.o.Priority,
			Health:   corev3.HealthStatus_HEALTHY,
			Labels:   m.info.Labels,
		}
		switch {
		case !m.b.Registered:
			ep.Health = corev3.HealthStatus_UNHEALTHY
		case m.o.Drain:
			ep.Health = corev3.HealthStatus_DRAINING
		}
		if _, err := resource.NewEndpoint(ep); err != nil {
			b.warnings = append(b.warnings, fmt.Sprintf("cluster %q: broker %q id %d left out: %v", name, m.b.Name, m.b.ID, err))
			continue
		}
		spec.Endpoints = append(spec.Endpoints, ep)
	}
	compactPriorities(spec.Endpoints)
	c, cla, err := resource.NewCluster(spec)
	if err != nil { // every endpoint was checked: only a bug gets here
		b.warnings = append(b.warnings, fmt.Sprintf("cluster %q: %v", name, err))
		c, cla, _ = resource.NewCluster(resource.Cluster{Name: name, DataPath: pc.DataPath})
	}
	return c, cla
}

// compactPriorities renumbers priorities 0, 1, ... in order: EDS wants them
// contiguous, and a cluster narrowed to a topic's brokers may lack some.
func compactPriorities(eps []resource.Endpoint) {
	var ps []uint32
	for _, e := range eps {
		ps = append(ps, e.Priority)
	}
	slices.Sort(ps)
	ps = slices.Compact(ps)
	for i := range eps {
		r, _ := slices.BinarySearch(ps, eps[i].Priority)
		eps[i].Priority = uint32(r)
	}
}
