package mesh

import (
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

// watchKind is the type of resource a watch follows.
type watchKind uint8

const (
	watchCluster   watchKind = iota // a Cluster named by a route
	watchEndpoints                  // the ClusterLoadAssignment a watched cluster names
	watchTopic                      // the per-topic RouteConfiguration of an on-demand topic
)

// pendingWatch is a watch reconcile decided to start: name is the cluster
// (watchCluster, watchEndpoints) or the topic (watchTopic).
type pendingWatch struct {
	name string
	kind watchKind
}

func (w *watchState) reconcileLoop() {
	defer w.wg.Done()
	// A quarter of the idle timeout bounds how long an idle topic outlives it;
	// the floor keeps a tiny timeout from making the ticker panic or spin.
	sweep := time.NewTicker(max(w.m.topicIdle/4, 10*time.Millisecond))
	defer sweep.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-w.kick:
			w.reconcile()
		case <-sweep.C:
			if w.releaseIdleTopics() {
				w.reconcile()
			}
		}
	}
}

// reconcile brings the set of watches in line with what the listener and topic
// routes reference, then publishes a snapshot of what has arrived.
func (w *watchState) reconcile() {
	var (
		toStart  []pendingWatch
		toCancel []func()
	)
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	want := w.referencedClustersLocked()
	for name, c := range w.clusters {
		if _, ok := want[name]; !ok {
			toCancel = append(toCancel, c.cancel, c.epCancel)
			delete(w.clusters, name)
		}
	}
	for name := range want {
		c, ok := w.clusters[name]
		if !ok {
			c = &clusterWatch{}
			w.clusters[name] = c
			toStart = append(toStart, pendingWatch{name, watchCluster})
		}
		if c.update != nil {
			eds := c.update.EDSServiceName
			if eds == "" {
				eds = name
			}
			if c.edsName != "" && c.edsName != eds {
				toCancel = append(toCancel, c.epCancel)
				c.edsName, c.epCancel, c.epSeen, c.endpoints, c.epErr = "", nil, false, nil, nil
			}
			if c.edsName == "" {
				c.edsName = eds
				toStart = append(toStart, pendingWatch{name, watchEndpoints})
			}
		}
	}
	onDemand := w.listener != nil && w.listener.OnDemand
	for topic, t := range w.topics {
		if !onDemand {
			toCancel = append(toCancel, t.cancel)
			delete(w.topics, topic)
			delete(w.routeWaits, topic)
			continue
		}
		name := wellknown.TopicRouteName(w.listener.RouteConfigName, topic)
		if t.resource == name {
			continue
		}
		if t.resource != "" {
			// The listener now names another route configuration: what the old
			// resource said no longer applies, and its watcher must not write
			// into the new entry.
			toCancel = append(toCancel, t.cancel)
			nt := &topicWatch{}
			nt.lastUsed.Store(t.lastUsed.Load())
			t = nt
			w.topics[topic] = t
		}
		t.resource = name
		toStart = append(toStart, pendingWatch{topic, watchTopic})
	}
	w.mu.Unlock()

	for _, c := range toCancel {
		if c != nil {
			c()
		}
	}
	for _, p := range toStart {
		w.startWatch(p)
	}
	w.publish()
}

// startWatch starts one watch outside the lock and records its cancel func,
// unless the entry it was started for is gone by then.
func (w *watchState) startWatch(p pendingWatch) {
	x := w.m.xds
	switch p.kind {
	case watchCluster:
		cancel := x.WatchCluster(p.name, &clusterWatcher{w: w, name: p.name})
		w.adoptCancel(cancel, func() bool {
			c, ok := w.clusters[p.name]
			if !ok || c.cancel != nil {
				return false
			}
			c.cancel = cancel
			return true
		})
	case watchEndpoints:
		w.mu.Lock()
		var eds string
		if c, ok := w.clusters[p.name]; ok {
			eds = c.edsName
		}
		w.mu.Unlock()
		if eds == "" {
			return
		}
		cancel := x.WatchEndpoints(eds, &endpointsWatcher{w: w, cluster: p.name, eds: eds})
		w.adoptCancel(cancel, func() bool {
			c, ok := w.clusters[p.name]
			if !ok || c.edsName != eds || c.epCancel != nil {
				return false
			}
			c.epCancel = cancel
			return true
		})
	case watchTopic:
		w.mu.Lock()
		t := w.topics[p.name]
		var res string
		if t != nil {
			res = t.resource
		}
		w.mu.Unlock()
		if t == nil {
			return
		}
		cancel := x.WatchRouteConfig(res, &topicWatcher{w: w, topic: p.name, tw: t})
		w.adoptCancel(cancel, func() bool {
			if w.topics[p.name] != t || t.cancel != nil {
				return false
			}
			t.cancel = cancel
			return true
		})
	}
}

// adoptCancel hands a started watch's cancel func to record, which runs under
// the lock and reports whether the entry the watch was started for still
// wants it; when it does not, or the state is stopped, the watch is cancelled.
func (w *watchState) adoptCancel(cancel func(), record func() bool) {
	w.mu.Lock()
	kept := !w.stopped && record()
	w.mu.Unlock()
	if !kept {
		cancel()
	}
}

// referencedClustersLocked returns the clusters named by the listener's inline routes
// and by every per-topic route configuration received.
func (w *watchState) referencedClustersLocked() map[string]struct{} {
	want := make(map[string]struct{})
	add := func(rc *rocketmqv3.RouteConfiguration) {
		for _, r := range rc.GetRoutes() {
			if c := r.GetRoute().GetCluster(); c != "" {
				want[c] = struct{}{}
			}
		}
	}
	if w.listener != nil {
		add(w.listener.RouteConfig)
	}
	for _, t := range w.topics {
		if t.update != nil {
			add(t.update.RouteConfig)
		}
	}
	return want
}
