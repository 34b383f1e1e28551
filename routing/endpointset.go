package routing

import (
	"fmt"
	"sort"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

// endpointSet is the resolved endpoints of one (cluster, subset, topic queue
// data), shared by every route that names it, with everything the queries
// need precomputed.
type endpointSet struct {
	// Immutable after construction.
	cluster     *cluster
	err         *Error // KindInvalidCluster, KindNoEndpoint, KindNoHealthyEndpoint; Msg is the detail only
	brokers     []BrokerGroup
	byName      map[string]int
	nameservers []Endpoint
	nsAddrs     []string // available nameservers of the lowest priority that has any, healthy first
	writable    []string
	readable    []string
	picker      picker
	// fallback says how lb_subset_config chose the endpoints when the
	// route's subset did not, for dumps; "" otherwise.
	fallback string
	// queues is the topic queue data the set was narrowed by, nil for none.
	queues map[string]wellknown.TopicQueues
}

// setKey identifies an endpoint set within one snapshot build.
func setKey(clusterName string, subset *structpb.Struct, queues map[string]wellknown.TopicQueues) string {
	k := clusterName + "\x00" + subsetText(subset)
	if queues != nil {
		names := make([]string, 0, len(queues))
		for n := range queues {
			names = append(names, n)
		}
		sort.Strings(names)
		k += "\x00"
		for _, n := range names {
			q := queues[n]
			k += fmt.Sprintf("%q=%d/%d/%d,", n, q.ReadQueueNums, q.WriteQueueNums, q.Perm)
		}
	}
	return k
}

func newEndpointSet(cl *cluster, subset *structpb.Struct, queues map[string]wellknown.TopicQueues, local Locality, hasLocal bool) *endpointSet {
	s := &endpointSet{cluster: cl, queues: queues}
	where := fmt.Sprintf("cluster %q", cl.name)
	if !cl.nameservers {
		where += subsetSuffix(subset)
	}
	if cl.err != nil {
		s.err = &Error{Kind: KindInvalidCluster, Cluster: cl.name, Msg: fmt.Sprintf("cluster %q: %v", cl.name, cl.err), Err: cl.err}
		return s
	}
	if !cl.hasCLA || len(cl.endpoints) == 0 {
		s.err = &Error{Kind: KindNoEndpoint, Cluster: cl.name, Msg: fmt.Sprintf("cluster %q has no endpoints", cl.name)}
		return s
	}
	var eps []Endpoint
	if cl.nameservers {
		// A subset on a route to nameservers selects brokers of their
		// answer (see RewriteRoute), not nameservers.
		eps = cl.endpoints
	} else {
		var reason string
		eps, s.fallback, reason = selectEndpoints(cl, subset)
		if len(eps) == 0 {
			s.err = &Error{Kind: KindNoEndpoint, Cluster: cl.name, Msg: where + ": " + reason}
			return s
		}
	}
	available := 0
	for i := range eps {
		if eps[i].available() {
			available++
		}
	}
	if available == 0 {
		s.err = &Error{Kind: KindNoHealthyEndpoint, Cluster: cl.name, Msg: fmt.Sprintf("%s: none of %d endpoints is healthy or degraded", where, len(eps))}
	}
	if cl.nameservers {
		s.nameservers = eps
		s.nsAddrs = nameserverAddrs(eps)
		return s
	}
	s.brokers = groupBrokers(eps)
	if queues != nil {
		s.brokers = applyTopicQueues(s.brokers, queues)
		if len(s.brokers) == 0 {
			s.err = &Error{Kind: KindNoEndpoint, Cluster: cl.name, Msg: fmt.Sprintf("%s: no broker listed in the route's %q", where, wellknown.TopicQueuesKey)}
			return s
		}
	}
	s.byName = make(map[string]int, len(s.brokers))
	var cands []candidate
	for i := range s.brokers {
		g := &s.brokers[i]
		s.byName[g.Name] = i
		if g.Readable() {
			s.readable = append(s.readable, g.Name)
		}
		if g.Writable() {
			s.writable = append(s.writable, g.Name)
		}
		if m, ok := g.Master(); ok && m.writeEligible() {
			state := stateUnavailable
			switch {
			case m.Healthy:
				state = stateHealthy
			case m.Degraded:
				state = stateDegraded
			}
			cands = append(cands, candidate{
				name: g.Name, weight: uint64(m.Weight), priority: m.Priority,
				locality: m.locality, locW: m.LocalityWeight, loc: m.Locality, state: state,
			})
		}
	}
	s.picker = newPicker(cands, &cl.lb, local, hasLocal, cl.writeHostsByLocality())
	return s
}

// nameserverAddrs lists the nameservers to ask, in order: the available ones
// of the lowest priority that has any, healthy before degraded, each group
// in EDS order.
func nameserverAddrs(eps []Endpoint) []string {
	minPrio, found := ^uint32(0), false
	for i := range eps {
		if eps[i].available() && eps[i].Priority <= minPrio {
			minPrio, found = eps[i].Priority, true
		}
	}
	if !found {
		return nil
	}
	var out []string
	for _, degraded := range []bool{false, true} {
		for i := range eps {
			if e := &eps[i]; e.available() && e.Priority == minPrio && e.Degraded == degraded {
				out = append(out, e.Address)
			}
		}
	}
	return out
}

// writeHostsByLocality counts the write-eligible masters of each locality in
// the whole cluster, for scale_locality_weight.
func (cl *cluster) writeHostsByLocality() map[int]int {
	if cl.lb.subset == nil || !cl.lb.subset.scaleLocalityWeight {
		return nil
	}
	out := map[int]int{}
	for i := range cl.endpoints {
		if cl.endpoints[i].writeEligible() {
			out[cl.endpoints[i].locality]++
		}
	}
	return out
}

// applyTopicQueues keeps the brokers the topic queue data lists, with its
// queue counts and its permission bits masking each member's.
func applyTopicQueues(groups []BrokerGroup, queues map[string]wellknown.TopicQueues) []BrokerGroup {
	out := groups[:0:0]
	for _, g := range groups {
		q, ok := queues[g.Name]
		if !ok {
			continue
		}
		ms := make([]Endpoint, len(g.Members))
		copy(ms, g.Members)
		for i := range ms {
			ms[i].ReadQueueNums, ms[i].WriteQueueNums = q.ReadQueueNums, q.WriteQueueNums
			ms[i].Perm &= q.Perm
		}
		out = append(out, BrokerGroup{Name: g.Name, Members: ms})
	}
	return out
}
