package controlplane

import (
	"maps"
	"slices"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"

	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/policy"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// engine keeps the result of [Build] current as its inputs change, doing
// work in proportion to the change, not to what is held: a change of one
// topic's queue data rebuilds that topic's route configurations only, and
// the clusters only when a queue layout appears or loses its last topic. A
// new policy, new brokers or new nameservers rebuild everything. Its state
// always equals Build of the same inputs (a test checks that).
//
// It is used from one goroutine.
type engine struct {
	p           *policy.Policy
	brokers     []discovery.Broker
	nameservers []string
	b           *builder
	inline      map[string]bool // the policy's inline exact topics

	requested  map[string]string     // route name → its topic
	unanswered map[string]bool       // requested names in state routeUnanswered
	byTopic    map[string][]string   // topic → route names
	rcs        map[string]builtRoute // by route name, those built
	shapeUse   map[string]int        // shape name → routes using it
	shapes     map[string]*shape     // shapes in use
	shared     resource.Set          // listeners, clusters, endpoints
	// shapesChanged is set when a shape is taken up or dropped: the
	// clusters must be rebuilt (a shape dropped and taken again rebuilds
	// them for nothing; the snapshot then sees equal hashes and skips).
	shapesChanged bool
}

type builtRoute struct {
	rc     *rocketmqv3.RouteConfiguration
	shapes []*shape
}

// engineInput is the state of the inputs and what changed since the last
// update.
type engineInput struct {
	policy      *policy.Policy
	brokers     []discovery.Broker
	nameservers []string
	// added and removed are route names clients started or stopped
	// subscribing to.
	added, removed []string
	// topics changed their answer (or got or lost one).
	topics []string
	// topic looks a topic's answer up.
	topic func(string) (discovery.Topic, bool)
}

// change is what one update changed.
type change struct {
	// routes holds the route configurations that changed: the new one, or
	// nil when there is none to serve any more.
	routes map[string]*rocketmqv3.RouteConfiguration
	// full is set when everything was rebuilt (policy, brokers or
	// nameservers changed).
	full bool
	// unknown holds requested names that became (true) or ceased to be
	// (false) unanswered: nothing is served for them, and that is not news
	// to a client that holds one.
	unknown map[string]bool
	// shared is set when listeners, clusters or endpoints were rebuilt.
	shared *resource.Set
	// transit, when set, is shared plus the clusters of shapes that routes
	// no longer use: served before the routes change and replaced by shared
	// after, so no client holds a route to a cluster that is gone (make
	// before break).
	transit *resource.Set
}

func newEngine() *engine {
	return &engine{requested: map[string]string{}, unanswered: map[string]bool{}, byTopic: map[string][]string{}, rcs: map[string]builtRoute{},
		shapeUse: map[string]int{}, shapes: map[string]*shape{}}
}

// update applies in and says what changed.
func (e *engine) update(in engineInput) change {
	ch := change{routes: map[string]*rocketmqv3.RouteConfiguration{}, unknown: map[string]bool{}}
	before := maps.Clone(e.shapes)
	stale := map[string]bool{}
	full := e.b == nil || in.policy != e.p || !slices.Equal(in.brokers, e.brokers) || !slices.Equal(in.nameservers, e.nameservers)
	ch.full = full
	if full {
		// A shape's name stands for its content under one builder only:
		// start afresh, and report the routes that are not rebuilt.
		e.p, e.brokers, e.nameservers = in.policy, in.brokers, slices.Clone(in.nameservers)
		e.b = newBuilder(in.brokers, in.nameservers, in.policy)
		e.inline = map[string]bool{}
		for _, t := range inlineTopics(in.policy) {
			e.inline[t] = true
		}
		for name := range e.rcs {
			ch.routes[name] = nil
		}
		e.rcs, e.shapeUse, e.shapes = map[string]builtRoute{}, map[string]int{}, map[string]*shape{}
		for name := range e.requested {
			stale[name] = true
		}
	}
	for _, name := range in.removed {
		topic, ok := e.requested[name]
		if !ok {
			continue
		}
		delete(e.requested, name)
		delete(stale, name)
		if e.unanswered[name] {
			delete(e.unanswered, name)
			ch.unknown[name] = false
		}
		if names := slices.DeleteFunc(e.byTopic[topic], func(n string) bool { return n == name }); len(names) > 0 {
			e.byTopic[topic] = names
		} else {
			delete(e.byTopic, topic)
		}
		if e.drop(name) {
			ch.routes[name] = nil
		}
	}
	for _, name := range in.added {
		if _, ok := e.requested[name]; ok {
			continue
		}
		_, topic, _ := wellknown.ParseTopicRouteName(name)
		e.requested[name] = topic
		e.byTopic[topic] = append(e.byTopic[topic], name)
		stale[name] = true
	}
	inlineChanged := false
	for _, topic := range in.topics {
		for _, name := range e.byTopic[topic] {
			stale[name] = true
		}
		inlineChanged = inlineChanged || e.inline[topic]
	}
	for name := range stale {
		had := e.drop(name)
		rc, used, st := e.b.topicRoute(name, in.topic)
		if unanswered := st == routeUnanswered; unanswered != e.unanswered[name] {
			if unanswered {
				e.unanswered[name] = true
			} else {
				delete(e.unanswered, name)
			}
			ch.unknown[name] = unanswered
		}
		switch {
		case st == routeBuilt:
			e.rcs[name] = builtRoute{rc: rc, shapes: used}
			for _, s := range used {
				if e.shapeUse[s.name]++; e.shapeUse[s.name] == 1 {
					e.shapes[s.name] = s
					e.shapesChanged = true
				}
			}
			ch.routes[name] = rc
		case had:
			ch.routes[name] = nil
		}
	}
	if full || e.shapesChanged || inlineChanged {
		e.shapesChanged = false
		s := e.b.shared(e.shapes, in.topic)
		e.shared = s
		ch.shared = &s
		union := maps.Clone(e.shapes)
		for name, sh := range before {
			if _, ok := union[name]; !ok {
				union[name] = sh
			}
		}
		if len(union) > len(e.shapes) {
			t := e.b.shared(union, in.topic)
			ch.transit = &t
		}
	}
	return ch
}

// decided reports whether the engine has taken in the requested route
// name and its topic's answer: there is a route configuration to serve or
// there will be none. A name whose topic has no answer yet is undecided.
func (e *engine) decided(name string) (topic string, decided bool) {
	topic, ok := e.requested[name]
	return topic, ok && !e.unanswered[name]
}

// routeNames returns the requested route names of topic; the slice must not
// be modified.
func (e *engine) routeNames(topic string) []string { return e.byTopic[topic] }

// drop forgets the built route name, if any, and reports whether there was
// one.
func (e *engine) drop(name string) bool {
	br, ok := e.rcs[name]
	if !ok {
		return false
	}
	delete(e.rcs, name)
	for _, s := range br.shapes {
		if e.shapeUse[s.name]--; e.shapeUse[s.name] == 0 {
			delete(e.shapeUse, s.name)
			delete(e.shapes, s.name)
			e.shapesChanged = true
		}
	}
	return true
}

// resources returns everything the engine serves, as Build would.
func (e *engine) resources() resource.Set {
	set := e.shared
	for _, name := range slices.Sorted(maps.Keys(e.rcs)) {
		set.RouteConfigs = append(set.RouteConfigs, e.rcs[name].rc)
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
