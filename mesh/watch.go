package mesh

import (
	"sync"
	"sync/atomic"
	"time"

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
//
// Its lock is taken only by its own methods, in the files of this concern:
//
//	watch.go      the state, start and stop
//	reconcile.go  which watches exist (reconcile goroutine)
//	publish.go    building and storing snapshots
//	readiness.go  whether what a wait needs is in force, and the route timeout budget
//	idle.go       on-demand topics asked for and released
//	watchers.go   the xDS watcher adapters that record what arrives
//
// The rest of the mesh goes through methods (start, stop, touch, readiness,
// routeWaitDeadline, unavailable, listenerError, buildError, pendingNames,
// heldTopics) and never takes mu.
type watchState struct {
	// immutable after newWatchState
	m    *Mesh
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
	// routeWaits holds when client route queries started waiting, per wait
	// key (see readiness), so that together they wait one route timeout.
	routeWaits map[string]time.Time
}

// clusterWatch is one watched cluster and the endpoints it names.
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

// topicWatch is one on-demand topic and its per-topic route configuration.
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
		m:          m,
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		clusters:   make(map[string]*clusterWatch),
		topics:     make(map[string]*topicWatch),
		changed:    make(chan struct{}),
		routeWaits: make(map[string]time.Time),
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
	w.notifyLocked() // waits end: nothing will be published any more
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

// listenerError returns why the listener is unavailable, nil while it is
// in force or has not answered.
func (w *watchState) listenerError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.listenerErr
}

// buildError returns why the last snapshot could not be built, if it could not.
func (w *watchState) buildError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buildErr
}
