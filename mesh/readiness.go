package mesh

import (
	"errors"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// errClosed is the problem a wait reports once the mesh is closed.
var errClosed = errors.New("the mesh is closed")

// settleWait carries one wait for readiness across its wake-ups: the answers
// are complete at gen, and the wait ends when a snapshot built from them (or
// later ones) is in the table.
type settleWait struct {
	complete bool
	gen      uint64
}

// readiness is where one wait stands; see [watchState.readiness].
type readiness struct {
	// done ends the wait: everything it needs has answered and a snapshot
	// built from the answers is in the table, or the mesh is closed. Failing
	// fast, a resource reported missing or unreachable counts as an answer.
	done bool
	// problem, with done, is why the configuration is incomplete: the first
	// resource reported missing or unreachable, why no snapshot could be
	// built, or that the mesh is closed.
	problem error
	// key names what a wait that is not done waits for, for the route
	// timeout budget: the topic while only its own route is missing, else ""
	// (the listener's configuration, or its publication, which every topic
	// waits for alike).
	key string
	// changed is closed at the next change.
	changed <-chan struct{}
}

// readiness tells whether what a wait for topic needs is in force: the
// listener, every cluster it routes to with its endpoints, and with a topic
// ("" for none) the topic's own route configuration when the listener serves
// routes on demand. Pass the same sw on every call of one wait.
func (w *watchState) readiness(topic string, sw *settleWait) readiness {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := readiness{changed: w.changed}
	if w.stopped {
		r.done, r.problem = true, errClosed
		return r
	}
	if !sw.complete {
		complete, key := w.answeredLocked(topic)
		if !complete {
			r.key = key
			return r
		}
		// Answers are recorded by the xDS callbacks but reach the table only
		// when the reconcile goroutine publishes: without this a query could
		// see its topic's route as arrived and still be answered from the
		// snapshot before it.
		sw.complete, sw.gen = true, w.gen
	}
	if w.pubGen < sw.gen {
		r.key = "" // waiting for the reconcile goroutine, as every topic does
		return r
	}
	r.done, r.problem = true, w.problemLocked()
	return r
}

// answeredLocked reports whether everything a wait for topic needs has
// answered; when not, key says what is missing: "" for the listener's own
// configuration, topic for the topic's route. Failing fast, a resource
// reported missing or unreachable has answered; otherwise the wait goes on
// until it arrives. A topic's route reported missing has always answered:
// the listener's inline routes then apply.
func (w *watchState) answeredLocked(topic string) (complete bool, key string) {
	failFast := w.m.failFast
	if !w.listenerSeen {
		return false, ""
	}
	if w.listener == nil { // reported unavailable
		return failFast, ""
	}
	// Only the clusters referenced now count: one the listener just stopped
	// naming is about to be cancelled, and one it just started naming has no
	// watch until the next reconcile and must not be mistaken for settled.
	for name := range w.referencedClustersLocked() {
		c, ok := w.clusters[name]
		switch {
		case !ok || !c.seen:
			return false, ""
		case c.err != nil:
			if !failFast {
				return false, ""
			}
		case !c.epSeen:
			return false, ""
		case c.epErr != nil && !failFast:
			return false, ""
		}
	}
	if topic != "" && w.listener.OnDemand {
		if t, ok := w.topics[topic]; !ok || !t.seen {
			return false, topic
		}
	}
	return true, topic
}

// problemLocked returns the first thing the listener's configuration needs
// that is reported unavailable — the listener, a cluster routed to (by name),
// its endpoints — or why no snapshot is in the table.
func (w *watchState) problemLocked() error {
	if w.listener == nil && w.listenerErr != nil {
		return w.listenerErr
	}
	for _, name := range slices.Sorted(maps.Keys(w.referencedClustersLocked())) {
		if c, ok := w.clusters[name]; ok {
			if c.err != nil {
				return c.err
			}
			if c.epErr != nil {
				return c.epErr
			}
		}
	}
	if w.buildErr != nil && w.m.table.Load() == nil {
		return w.buildErr
	}
	return nil
}

// endAnsweredWaitsLocked drops the route timeout budgets of the waits whose
// resources have all answered, after a publish: a budget lasts while what it
// waits for is pending, and the next time that is pending it gets its own.
func (w *watchState) endAnsweredWaitsLocked() {
	for key := range w.routeWaits {
		if complete, _ := w.answeredLocked(key); complete {
			delete(w.routeWaits, key)
		}
	}
}

// unavailable returns what the listener's configuration needs that is
// reported unavailable now, if anything (see problemLocked).
func (w *watchState) unavailable() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.problemLocked()
}

// routeWaitDeadline returns when client route queries waiting for key must
// stop waiting: one route timeout after the first of them started. ok is
// false once that is past. The budget is spent once per key, not per query:
// the official client asks up to six times per send, and each answer it waits
// for would otherwise cost a route timeout of its own.
func (w *watchState) routeWaitDeadline(key string, timeout time.Duration) (deadline time.Time, ok bool) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	start, seen := w.routeWaits[key]
	if !seen {
		start = now
		w.routeWaits[key] = start
	}
	deadline = start.Add(timeout)
	return deadline, now.Before(deadline)
}

// pendingNames lists, for messages and dumps, the resources that have not
// answered yet.
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
