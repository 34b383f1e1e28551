package controlplane

import (
	"maps"
	"slices"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"

	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/policy"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
)

// engine keeps the result of [Build] current as its inputs change, doing as
// little as it can: a change of one topic's queue data rebuilds that topic's
// route configurations only, and the clusters only when a queue layout
// appears or loses its last topic. A new policy, new brokers or new
// nameservers rebuild everything. Its state always equals Build of the last
// inputs (a test checks that).
//
// It is used from one goroutine.
type engine struct {
	p           *policy.Policy
	brokers     []discovery.Broker
	nameservers []string
	b           *builder

	rcs      map[string]builtRoute      // by resource name
	byTopic  map[string][]string        // topic → resource names
	data     map[string]discovery.Topic // topic data the routes were built from
	shapeUse map[string]int             // shape name → routes using it
	shapes   map[string]*shape
	shared   resource.Set // listeners, clusters, endpoints
}

type builtRoute struct {
	topic  string
	rc     *rocketmqv3.RouteConfiguration // nil: nothing to serve yet
	shapes []*shape
}

// change is what one update changed.
type change struct {
	// routes holds the route configurations that changed, nil for removed.
	routes map[string]*rocketmqv3.RouteConfiguration
	// shared is set when listeners, clusters or endpoints were rebuilt.
	shared *resource.Set
	// full says everything was rebuilt.
	full bool
}

func newEngine() *engine { return &engine{} }

// update brings the engine to Build(d, p) and says what changed.
func (e *engine) update(d Discovered, p *policy.Policy) change {
	var brokers []discovery.Broker
	topics := map[string]discovery.Topic{}
	if d.View != nil {
		brokers, topics = d.View.Brokers, d.View.Topics
	}
	ch := change{routes: map[string]*rocketmqv3.RouteConfiguration{}}
	if e.b == nil || p != e.p || !slices.Equal(brokers, e.brokers) || !slices.Equal(d.Nameservers, e.nameservers) {
		e.p, e.brokers, e.nameservers = p, brokers, slices.Clone(d.Nameservers)
		e.b = newBuilder(d.View, d.Nameservers, p)
		for name := range e.rcs {
			ch.routes[name] = nil
		}
		e.rcs, e.byTopic, e.data = map[string]builtRoute{}, map[string][]string{}, map[string]discovery.Topic{}
		e.shapeUse, e.shapes = map[string]int{}, map[string]*shape{}
		ch.full = true
	}
	want := map[string]bool{}
	for _, n := range d.Requested {
		want[n] = true
	}
	shapesBefore := slices.Sorted(maps.Keys(e.shapes))
	for name, br := range e.rcs {
		if !want[name] {
			e.drop(name, br)
			ch.routes[name] = nil
		}
	}
	// Topics whose data changed rebuild every route of theirs.
	stale := map[string]bool{}
	for topic := range e.byTopic {
		old, had := e.data[topic]
		t, has := topics[topic]
		if had != has || (has && !t.Equal(old)) {
			stale[topic] = true
		}
	}
	for topic := range stale {
		for _, name := range e.byTopic[topic] {
			if br, ok := e.rcs[name]; ok {
				e.drop(name, br)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if _, ok := e.rcs[name]; ok {
			continue
		}
		_, topic, _ := resource.ParseTopicRouteName(name)
		rc, used, ok := e.b.topicRoute(name, d.View)
		br := builtRoute{topic: topic, shapes: used}
		if ok {
			br.rc = rc
			ch.routes[name] = rc
		} else {
			ch.routes[name] = nil
		}
		e.rcs[name] = br
		e.byTopic[topic] = append(e.byTopic[topic], name)
		if t, ok := topics[topic]; ok {
			e.data[topic] = t
		}
		for _, s := range used {
			e.shapeUse[s.name]++
			e.shapes[s.name] = s
		}
	}
	if ch.full || !slices.Equal(shapesBefore, slices.Sorted(maps.Keys(e.shapes))) {
		s := e.b.shared(e.shapes)
		e.shared = s
		ch.shared = &s
	}
	return ch
}

// drop forgets the route name.
func (e *engine) drop(name string, br builtRoute) {
	delete(e.rcs, name)
	names := slices.DeleteFunc(e.byTopic[br.topic], func(n string) bool { return n == name })
	if len(names) == 0 {
		delete(e.byTopic, br.topic)
		delete(e.data, br.topic)
	} else {
		e.byTopic[br.topic] = names
	}
	for _, s := range br.shapes {
		e.shapeUse[s.name]--
		if e.shapeUse[s.name] == 0 {
			delete(e.shapeUse, s.name)
			delete(e.shapes, s.name)
		}
	}
}

// resources returns everything the engine serves, as Build would.
func (e *engine) resources() resource.Set {
	set := e.shared
	for _, name := range slices.Sorted(maps.Keys(e.rcs)) {
		if rc := e.rcs[name].rc; rc != nil {
			set.RouteConfigs = append(set.RouteConfigs, rc)
		}
	}
	return set
}

// warnings returns the builder's warnings.
func (e *engine) warnings() []string {
	if e.b == nil {
		return nil
	}
	return slices.Compact(slices.Clone(e.b.warnings))
}
