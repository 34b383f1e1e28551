package controlplane

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/policy"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// The engine's incremental updates always leave it where a full Build of
// the same inputs would, over random sequences of changes.
func TestEngine_EqualsBuild(t *testing.T) {
	policies := []*policy.Policy{}
	for _, doc := range []string{
		"listeners: [{name: rocketmq, routes: [{cluster: all}]}]\nclusters: [{name: all, overrides: {b1: {weight: 3}}}]",
		"listeners: [{name: rocketmq, routes: [{topic: {prefix: t1}, cluster: one}, {cluster: all}]}]\nclusters: [{name: all}, {name: one, brokers: {broker_names: [b1]}}]",
		"listeners: [{name: rocketmq, topic_routes: inline, routes: [{cluster: all}]}]\nclusters: [{name: all}]",
		"listeners: [{name: rocketmq, routes: [{cluster: all}]}, {name: envoy, topic_routes: inline, routes: [{topic: {exact: t2}, cluster: all}, {topic: {exact: t3}, cluster: one}]}]\nclusters: [{name: all}, {name: one, brokers: {broker_names: [b2]}}]",
	} {
		p, err := policy.Parse("p.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		policies = append(policies, p)
	}
	for seed := range uint64(3) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) { engineSequence(t, rand.New(rand.NewPCG(seed, 2)), policies) })
	}
}

func engineSequence(t *testing.T, r *rand.Rand, policies []*policy.Policy) {
	brokerSets := [][]discovery.Broker{
		{{Cluster: "C", Name: "b1", Addr: "10.0.0.1:1", Registered: true}, {Cluster: "C", Name: "b2", Addr: "10.0.0.2:1", Registered: true}},
		{{Cluster: "C", Name: "b1", Addr: "10.0.0.1:1", Registered: true}, {Cluster: "C", Name: "b2", Addr: "10.0.0.9:1", Registered: true}},
		{{Cluster: "C", Name: "b1", Addr: "10.0.0.1:1", Registered: true}},
	}
	randomTopic := func() discovery.Topic {
		if r.IntN(5) == 0 {
			return discovery.Topic{}
		}
		var qs []discovery.QueueData
		for _, b := range []string{"b1", "b2"} {
			if r.IntN(4) > 0 {
				n := []int{4, 8}[r.IntN(2)]
				qs = append(qs, discovery.QueueData{BrokerName: b, Read: n, Write: n, Perm: []int{6, 4}[r.IntN(2)]})
			}
		}
		return discovery.Topic{Exists: true, Queues: qs}
	}
	e := newEngine()
	p := policies[0]
	v := &discovery.View{Synced: true, Brokers: brokerSets[0], Topics: map[string]discovery.Topic{}}
	var requested []string
	var prevRequested []string
	prevView := &discovery.View{Topics: map[string]discovery.Topic{}}
	served := map[string]proto.Message{} // what a cache fed with the changes holds
	var sharedServed resource.Set
	unknown := map[string]bool{} // what a cache fed with the changes marks unknown
	for step := range 200 {
		switch r.IntN(6) {
		case 0:
			p = policies[r.IntN(len(policies))]
		case 1:
			nv := *v
			nv.Brokers = brokerSets[r.IntN(len(brokerSets))]
			v = &nv
		case 2, 3:
			nv := *v
			nv.Topics = maps.Clone(v.Topics)
			topic := fmt.Sprintf("t%d", r.IntN(8))
			if r.IntN(4) == 0 {
				delete(nv.Topics, topic)
			} else {
				nv.Topics[topic] = randomTopic()
			}
			v = &nv
		default:
			name := fmt.Sprintf("rocketmq/t%d", r.IntN(8))
			if i := slices.Index(requested, name); i >= 0 {
				requested = slices.Delete(requested, i, i+1)
			} else {
				requested = append(requested, name)
			}
		}
		d := Discovered{View: v, Requested: slices.Clone(requested), Nameservers: []string{"10.0.0.100:9876"}}
		in := engineInput{policy: p, brokers: v.Brokers, nameservers: d.Nameservers,
			topic: func(t string) (discovery.Topic, bool) { x, ok := v.Topics[t]; return x, ok }}
		for _, n := range requested {
			if !slices.Contains(prevRequested, n) {
				in.added = append(in.added, n)
			}
		}
		for _, n := range prevRequested {
			if !slices.Contains(requested, n) {
				in.removed = append(in.removed, n)
			}
		}
		for t, x := range v.Topics {
			if old, ok := prevView.Topics[t]; !ok || !old.Equal(x) {
				in.topics = append(in.topics, t)
			}
		}
		for t := range prevView.Topics {
			if _, ok := v.Topics[t]; !ok {
				in.topics = append(in.topics, t)
			}
		}
		prevRequested, prevView = slices.Clone(requested), v
		ch := e.update(in)
		// Make before break: whatever is served first holds every cluster
		// the routes name before and after.
		if first := cmp.Or(ch.transit, ch.shared); first != nil {
			have := map[string]bool{}
			for _, c := range first.Clusters {
				have[c.GetName()] = true
			}
			for _, m := range served {
				for _, r := range m.(*rocketmqv3.RouteConfiguration).GetRoutes() {
					if c := r.GetRoute().GetCluster(); !have[c] && policyHas(p, c) {
						t.Fatalf("step %d: route to %q served while its cluster is withdrawn first", step, c)
					}
				}
			}
			for _, rc := range ch.routes {
				for _, r := range rc.GetRoutes() {
					if c := r.GetRoute().GetCluster(); !have[c] {
						t.Fatalf("step %d: new route to %q before its cluster", step, c)
					}
				}
			}
		}
		for name, rc := range ch.routes {
			if rc == nil {
				delete(served, name)
			} else {
				served[name] = rc
			}
		}
		if ch.shared != nil {
			sharedServed = *ch.shared
		}
		got, want := e.resources(), Build(d, p).Resources
		if diff := setDiff(got, want); diff != "" {
			t.Fatalf("step %d: engine differs from Build: %s", step, diff)
		}
		fed := sharedServed
		for _, name := range slices.Sorted(maps.Keys(served)) {
			fed.RouteConfigs = append(fed.RouteConfigs, served[name].(*rocketmqv3.RouteConfiguration))
		}
		if diff := setDiff(fed, want); diff != "" {
			t.Fatalf("step %d: applying the changes gives something else than Build: %s", step, diff)
		}
		// Unknown are the requested per-topic routes of on-demand
		// listeners whose topic has no answer: not served, not gone.
		for n, u := range ch.unknown {
			if u {
				unknown[n] = true
			} else {
				delete(unknown, n)
			}
		}
		wantUnknown := map[string]bool{}
		for _, n := range requested {
			family, topic, _ := wellknown.ParseTopicRouteName(n)
			l, ok := p.ListenerForRouteConfig(family)
			if _, answered := v.Topics[topic]; ok && l.OnDemand && !answered {
				wantUnknown[n] = true
			}
		}
		if !maps.Equal(unknown, wantUnknown) {
			t.Fatalf("step %d: unknown %v, want %v", step, unknown, wantUnknown)
		}
		for _, n := range requested {
			if _, decided := e.decided(n); decided == wantUnknown[n] {
				t.Fatalf("step %d: decided(%q) = %v with unknown %v", step, n, decided, wantUnknown[n])
			}
		}
	}
}

// policyHas reports whether cluster c (or the policy cluster of shape c)
// is in p: a shape of a cluster the new policy dropped cannot be kept.
func policyHas(p *policy.Policy, c string) bool {
	name, _, _ := strings.Cut(c, "/")
	_, ok := p.Cluster(name)
	return ok
}

func setDiff(a, b resource.Set) string {
	cmpAll := func(kind string, x, y []proto.Message) string {
		if len(x) != len(y) {
			return fmt.Sprintf("%s: %d vs %d", kind, len(x), len(y))
		}
		for i := range x {
			if !proto.Equal(x[i], y[i]) {
				return fmt.Sprintf("%s[%d]: %v vs %v", kind, i, x[i], y[i])
			}
		}
		return ""
	}
	for _, d := range []string{
		cmpAll("listeners", asMsgs(a.Listeners), asMsgs(b.Listeners)),
		cmpAll("clusters", asMsgs(a.Clusters), asMsgs(b.Clusters)),
		cmpAll("endpoints", asMsgs(a.Endpoints), asMsgs(b.Endpoints)),
		cmpAll("routes", asMsgs(a.RouteConfigs), asMsgs(b.RouteConfigs)),
	} {
		if d != "" {
			return d
		}
	}
	return ""
}

func asMsgs[M proto.Message](in []M) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}
