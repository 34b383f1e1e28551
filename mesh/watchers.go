package mesh

import "github.com/rmqmesh/rmqmesh/xdsclient"

// The watcher adapters record what arrives and kick reconcile; they never call back
// into the xDS client.

// record runs apply under the lock; when apply recorded an answer (the entry
// it was for still exists) the answer counts for readiness. Reconcile is
// kicked either way.
func (w *watchState) record(apply func() bool) {
	w.mu.Lock()
	if apply() {
		w.gen++
	}
	w.mu.Unlock()
	w.kickNow()
}

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
	c.w.record(func() bool {
		cw, ok := c.w.clusters[c.name]
		if ok {
			cw.seen, cw.update, cw.err = true, u, err
		}
		return ok
	})
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
	e.w.record(func() bool {
		cw, ok := e.w.clusters[e.cluster]
		if ok = ok && cw.edsName == e.eds; ok {
			cw.epSeen, cw.endpoints, cw.epErr = true, u, err
		}
		return ok
	})
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
	t.w.record(func() bool {
		// A topic released and asked for again, or moved to another resource,
		// has a new entry; a late answer to the cancelled watch must not fill
		// it in.
		tw, ok := t.w.topics[t.topic]
		if ok = ok && tw == t.tw; ok {
			tw.seen, tw.update, tw.err = true, u, err
		}
		return ok
	})
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
