package mesh

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"

	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// watchState follows the xDS resource chain of one listener — listener, per-topic
// route configurations when the listener serves them on demand, clusters and their
// endpoints — and publishes a new routing snapshot whenever any of them changes.
//
// xDS callbacks only record what arrived and kick the reconcile goroutine, which
// starts and cancels watches outside the lock and builds snapshots. Keeping watch
// calls off the callback path means no ordering assumption about the xDS client's
// callback delivery can deadlock the mesh.
type watchState struct {
	m *Mesh

	kick chan struct{} // capacity 1: a pending reconcile absorbs further kicks
	done chan struct{}
	wg   sync.WaitGroup

	mu             sync.Mutex // guards everything below
	stopped        bool
	cancelListener func()
	listenerSeen   bool
	listener       *xdsclient.ListenerUpdate
	listenerErr    error
	clusters       map[string]*clusterWatch
	topics         map[string]*topicWatch
	changed        chan struct{} // closed and replaced when the snapshot or readiness changes
	buildErr       error         // last snapshot build failure, for dumps
	// gen counts the xDS answers recorded; pubGen is the gen of the inputs of the
	// last snapshot published. An answer is in force only once pubGen reaches
	// the gen that recorded it.
	gen, pubGen uint64
}

type clusterWatch struct {
	seen      bool
	update    *xdsclient.ClusterUpdate
	err       error
	cancel    func()
	edsName   string
	epSeen    bool
	endpoints *xdsclient.EndpointsUpdate
	epErr     error
	epCancel  func()
}

type topicWatch struct {
	resource string
	seen     bool
	update   *xdsclient.RouteConfigUpdate
	err      error
	cancel   func()
	lastUsed atomic.Int64 // unix nanos; touched on every route query without the lock
}

func newWatchState(m *Mesh) *watchState {
	return &watchState{
		m:        m,
		kick:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		clusters: make(map[string]*clusterWatch),
		topics:   make(map[string]*topicWatch),
		changed:  make(chan struct{}),
	}
}

func (w *watchState) start() {
	cancel := w.m.xds.WatchListener(w.m.listener, &listenerWatcher{w: w})
	w.mu.Lock()
	w.cancelListener = cancel
	w.mu.Unlock()
	w.wg.Add(1)
	go w.reconcileLoop()
	w.kickNow()
}

func (w *watchState) stop() {
	w.mu.Lock()
	if w.stopped {
		w.mu.Unlock()
		return
	}
	w.stopped = true
	cancels := []func(){w.cancelListener}
	for _, c := range w.clusters {
		cancels = append(cancels, c.cancel, c.epCancel)
	}
	for _, t := range w.topics {
		cancels = append(cancels, t.cancel)
	}
	w.mu.Unlock()
	close(w.done)
	w.wg.Wait()
	for _, c := range cancels {
		if c != nil {
			c()
		}
	}
}

func (w *watchState) kickNow() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// notifyLocked wakes everyone waiting for readiness or a new snapshot.
func (w *watchState) notifyLocked() {
	close(w.changed)
	w.changed = make(chan struct{})
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
	type pendingWatch struct {
		name string
		kind int // 0 cluster, 1 endpoints, 2 topic
	}
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
			toStart = append(toStart, pendingWatch{name, 0})
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
				toStart = append(toStart, pendingWatch{name, 1})
			}
		}
	}
	onDemand := w.listener != nil && w.listener.OnDemand
	for topic, t := range w.topics {
		if !onDemand {
			toCancel = append(toCancel, t.cancel)
			delete(w.topics, topic)
			continue
		}
		name := xdsclient.OnDemandRouteName(w.listener.RouteConfigName, topic)
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
		toStart = append(toStart, pendingWatch{topic, 2})
	}
	w.mu.Unlock()

	for _, c := range toCancel {
		if c != nil {
			c()
		}
	}
	for _, p := range toStart {
		w.startWatch(p.name, p.kind)
	}
	w.publish()
}

func (w *watchState) startWatch(name string, kind int) {
	x := w.m.xds
	switch kind {
	case 0:
		cancel := x.WatchCluster(name, &clusterWatcher{w: w, name: name})
		w.mu.Lock()
		if c, ok := w.clusters[name]; ok && !w.stopped && c.cancel == nil {
			c.cancel, cancel = cancel, nil
		}
		w.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	case 1:
		w.mu.Lock()
		c, ok := w.clusters[name]
		var eds string
		if ok {
			eds = c.edsName
		}
		w.mu.Unlock()
		if !ok || eds == "" {
			return
		}
		cancel := x.WatchEndpoints(eds, &endpointsWatcher{w: w, cluster: name, eds: eds})
		w.mu.Lock()
		if c, ok := w.clusters[name]; ok && !w.stopped && c.edsName == eds && c.epCancel == nil {
			c.epCancel, cancel = cancel, nil
		}
		w.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	case 2:
		w.mu.Lock()
		t, ok := w.topics[name]
		var res string
		if ok {
			res = t.resource
		}
		w.mu.Unlock()
		if !ok {
			return
		}
		cancel := x.WatchRouteConfig(res, &topicWatcher{w: w, topic: name, tw: t})
		w.mu.Lock()
		if t2, ok := w.topics[name]; ok && t2 == t && !w.stopped && t.cancel == nil {
			t.cancel, cancel = cancel, nil
		}
		w.mu.Unlock()
		if cancel != nil {
			cancel()
		}
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

// publish builds a snapshot from what has arrived and stores it.
func (w *watchState) publish() {
	w.mu.Lock()
	gen := w.gen
	if w.stopped || w.listener == nil {
		if !w.stopped {
			// A listener error cleared the table; clear it again in case a
			// build that started before the error stored its snapshot since.
			w.m.table.Store(nil)
		}
		w.pubGen = max(w.pubGen, gen)
		w.notifyLocked()
		w.mu.Unlock()
		return
	}
	in := routing.Input{
		Listener:    w.m.listener,
		RouteConfig: w.listener.RouteConfig,
		TopicRoutes: make(map[string]*rocketmqv3.RouteConfiguration),
		Clusters:    make(map[string]*clusterv3.Cluster),
		Endpoints:   make(map[string]*endpointv3.ClusterLoadAssignment),
		Locality:    w.m.locality,
		Versions:    map[string]string{"listener/" + w.listener.Name: w.listener.Version},
	}
	for topic, t := range w.topics {
		if t.update != nil {
			in.TopicRoutes[topic] = t.update.RouteConfig
			in.Versions["route/"+t.update.Name] = t.update.Version
		}
	}
	for name, c := range w.clusters {
		if c.update != nil {
			in.Clusters[name] = c.update.Cluster
			in.Versions["cluster/"+name] = c.update.Version
		}
		if c.endpoints != nil {
			in.Endpoints[name] = c.endpoints.Assignment
			in.Versions["endpoints/"+c.endpoints.Name] = c.endpoints.Version
		}
	}
	w.mu.Unlock()

	snap, err := routing.NewSnapshot(in)

	defer w.m.relayUpdated() // after the unlock below: the relay reads the table, not the watch
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buildErr = err
	if err != nil {
		w.m.log.Warn("route table not updated: keeping the last good one", "err", err)
	} else if !w.stopped && w.listener != nil {
		// A listener that errored while the snapshot was built stays errored:
		// storing the snapshot would serve routes of a listener that is gone.
		w.m.table.Store(snap)
	}
	// After a build error the last good table stays in force: waiting for
	// another publish would not change what a query is answered from.
	w.pubGen = max(w.pubGen, gen)
	w.notifyLocked()
}

// settleWait carries one wait for readiness across its wake-ups: the answers
// are complete at gen, and the wait ends when a snapshot built from them (or
// later ones) is in the table.
type settleWait struct {
	complete bool
	gen      uint64
}

// settled reports whether every watched resource has answered at least once and
// a snapshot built from those answers is in the table, and returns a channel
// closed at the next change. Pass the same sw on every call of one wait.
func (w *watchState) settled(sw *settleWait) (bool, <-chan struct{}) {
	return w.settledFor("", sw)
}

// settledFor is settled, plus the topic's own route resource when the listener
// serves routes on demand.
func (w *watchState) settledFor(topic string, sw *settleWait) (bool, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return true, w.changed // nothing will be published any more
	}
	if !sw.complete {
		if !w.settledLocked(topic) {
			return false, w.changed
		}
		// Answers are recorded by the xDS callbacks but reach the table only
		// when the reconcile goroutine publishes: without this a query could
		// see its topic's route as arrived and still be answered from the
		// snapshot before it.
		sw.complete, sw.gen = true, w.gen
	}
	return w.pubGen >= sw.gen, w.changed
}

func (w *watchState) settledLocked(topic string) bool {
	if !w.listenerSeen {
		return false
	}
	if w.listener == nil { // listener error: nothing more will come until it changes
		return true
	}
	if topic != "" && w.listener.OnDemand {
		t, ok := w.topics[topic]
		if !ok || !t.seen {
			return false
		}
	}
	// Only the clusters referenced now count: one the listener just stopped
	// naming is about to be cancelled, and one it just started naming has no
	// watch until the next reconcile and must not be mistaken for settled.
	for name := range w.referencedClustersLocked() {
		c, ok := w.clusters[name]
		if !ok || !c.seen || (c.update != nil && !c.epSeen) {
			return false
		}
	}
	return true
}

func (w *watchState) pendingNames() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var p []string
	if !w.listenerSeen {
		p = append(p, "listener "+strconv.Quote(w.m.listener))
	}
	for name, c := range w.clusters {
		if !c.seen {
			p = append(p, "cluster "+strconv.Quote(name))
		} else if c.update != nil && !c.epSeen {
			p = append(p, "endpoints "+strconv.Quote(c.edsName))
		}
	}
	for topic, t := range w.topics {
		if !t.seen {
			p = append(p, "route "+strconv.Quote(t.resource)+" (topic "+strconv.Quote(topic)+")")
		}
	}
	sort.Strings(p)
	if len(p) == 0 {
		return "nothing"
	}
	return strings.Join(p, ", ")
}

// touch records that a client asked for topic and, when the listener serves
// routes on demand, makes sure the topic's route resource is watched.
func (w *watchState) touch(topic string) {
	now := time.Now().UnixNano()
	w.mu.Lock()
	t, ok := w.topics[topic]
	if ok {
		w.mu.Unlock()
		t.lastUsed.Store(now)
		return
	}
	if w.stopped || w.listener == nil || !w.listener.OnDemand {
		w.mu.Unlock()
		return
	}
	t = &topicWatch{}
	t.lastUsed.Store(now)
	w.topics[topic] = t
	w.mu.Unlock()
	w.kickNow()
}

// releaseIdleTopics drops on-demand topics no client has asked for within the idle
// timeout, so the process holds only the routes it uses.
func (w *watchState) releaseIdleTopics() bool {
	cutoff := time.Now().Add(-w.m.topicIdle).UnixNano()
	var cancels []func()
	w.mu.Lock()
	for topic, t := range w.topics {
		if t.lastUsed.Load() < cutoff {
			cancels = append(cancels, t.cancel)
			delete(w.topics, topic)
		}
	}
	w.mu.Unlock()
	for _, c := range cancels {
		if c != nil {
			c()
		}
	}
	return len(cancels) > 0
}

// heldTopics returns the on-demand topics currently subscribed, sorted.
func (w *watchState) heldTopics() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.topics))
}

// The watcher adapters record what arrives and kick reconcile; they never call back
// into the xDS client.

type listenerWatcher struct{ w *watchState }

func (l *listenerWatcher) ResourceChanged(u *xdsclient.ListenerUpdate) {
	w := l.w
	w.mu.Lock()
	w.listenerSeen, w.listener, w.listenerErr = true, u, nil
	w.gen++
	w.mu.Unlock()
	w.kickNow()
}

func (l *listenerWatcher) ResourceError(err error) {
	w := l.w
	w.m.log.Warn("listener unavailable", "err", err)
	w.mu.Lock()
	w.listenerSeen, w.listener, w.listenerErr = true, nil, err
	w.gen++
	w.m.table.Store(nil)
	w.notifyLocked()
	w.mu.Unlock()
	w.kickNow()
}

func (l *listenerWatcher) AmbientError(err error) {
	l.w.m.log.Warn("xDS trouble; serving the last good listener", "err", err)
}

type clusterWatcher struct {
	w    *watchState
	name string
}

func (c *clusterWatcher) set(u *xdsclient.ClusterUpdate, err error) {
	w := c.w
	w.mu.Lock()
	if cw, ok := w.clusters[c.name]; ok {
		cw.seen, cw.update, cw.err = true, u, err
		w.gen++
	}
	w.mu.Unlock()
	w.kickNow()
}

func (c *clusterWatcher) ResourceChanged(u *xdsclient.ClusterUpdate) { c.set(u, nil) }
func (c *clusterWatcher) ResourceError(err error) {
	c.w.m.log.Warn("cluster unavailable", "cluster", c.name, "err", err)
	c.set(nil, err)
}
func (c *clusterWatcher) AmbientError(err error) {
	c.w.m.log.Warn("xDS trouble; serving the last good cluster", "cluster", c.name, "err", err)
}

type endpointsWatcher struct {
	w            *watchState
	cluster, eds string
}

func (e *endpointsWatcher) set(u *xdsclient.EndpointsUpdate, err error) {
	w := e.w
	w.mu.Lock()
	if cw, ok := w.clusters[e.cluster]; ok && cw.edsName == e.eds {
		cw.epSeen, cw.endpoints, cw.epErr = true, u, err
		w.gen++
	}
	w.mu.Unlock()
	w.kickNow()
}

func (e *endpointsWatcher) ResourceChanged(u *xdsclient.EndpointsUpdate) { e.set(u, nil) }
func (e *endpointsWatcher) ResourceError(err error) {
	e.w.m.log.Warn("endpoints unavailable", "cluster", e.cluster, "err", err)
	e.set(nil, err)
}
func (e *endpointsWatcher) AmbientError(err error) {
	e.w.m.log.Warn("xDS trouble; serving the last good endpoints", "cluster", e.cluster, "err", err)
}

type topicWatcher struct {
	w     *watchState
	topic string
	tw    *topicWatch // the entry this watch was started for
}

func (t *topicWatcher) set(u *xdsclient.RouteConfigUpdate, err error) {
	w := t.w
	w.mu.Lock()
	// A topic released and asked for again, or moved to another resource, has a
	// new entry; a late answer to the cancelled watch must not fill it in.
	if tw, ok := w.topics[t.topic]; ok && tw == t.tw {
		tw.seen, tw.update, tw.err = true, u, err
		w.gen++
	}
	w.mu.Unlock()
	w.kickNow()
}

func (t *topicWatcher) ResourceChanged(u *xdsclient.RouteConfigUpdate) { t.set(u, nil) }

// ResourceError for an on-demand topic usually means the control plane has no
// resource for it; the listener's inline routes then apply.
func (t *topicWatcher) ResourceError(err error) {
	t.w.m.log.Debug("no per-topic route; using the listener's routes", "topic", t.topic, "err", err)
	t.set(nil, err)
}
func (t *topicWatcher) AmbientError(err error) {
	t.w.m.log.Warn("xDS trouble; serving the last good topic route", "topic", t.topic, "err", err)
}
