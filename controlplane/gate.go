package controlplane

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/rmqmesh/rmqmesh/controlplane/resource"
)

// gate stands between the xDS server and the caches and holds back the
// watches the server cannot yet answer truthfully, so that no client is
// told something a complete view would not say: a resource "removed", a
// cluster missing from a state-of-the-world response (which deletes it),
// a route resent because its version could not be compared yet.
//
//   - Until the first successful discovery every watch is held: the server
//     knows nothing of the cluster yet.
//   - A per-topic route configuration a client newly subscribes to is
//     awaited until its topic's queue data has been fetched, or the fetch
//     failed, or the hold timeout passed; a watch naming an awaited route is
//     held meanwhile.
//   - A cluster or endpoints watch naming a resource not served yet is held
//     while some route is awaited: the topic being fetched may need it
//     (per-topic clusters exist only while a topic routes to them).
//
// A held watch is handed to the cache once nothing holds it any more, or
// (after discovery) once it has been held for the hold timeout; the cache
// then answers with what it has, as it would have at once. Before the
// first discovery nothing times out: serving nothing beats serving an
// empty cluster.
//
// Lock order: the server's mutex, then the gate's, then the caches'.
type gate struct {
	// Immutable after newGate.
	inner   cachev3.Cache
	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
	onHeld  func(held int) // told the number held after each change, under mu

	mu       sync.Mutex // guards everything below
	closed   bool
	ready    bool
	readyAt  time.Time
	awaiting map[string]time.Time // route name → when first subscribed
	// served holds the names of the clusters and endpoints served, by type
	// URL; its maps are replaced, never modified.
	served map[string]map[string]string
	held   map[*heldWatch]struct{}
	byReq  map[any]*heldWatch // held request → its watch, for /clients
	timer  *time.Timer
}

// heldWatch is a watch that came through the gate: exactly one of req and
// dreq is set. Once released it belongs to the inner cache.
type heldWatch struct {
	typeURL string
	since   time.Time
	req     *cachev3.Request
	dreq    *cachev3.DeltaRequest
	sub     cachev3.Subscription
	ch      chan cachev3.Response
	dch     chan cachev3.DeltaResponse

	released    bool
	innerCancel func()
}

var _ cachev3.Cache = (*gate)(nil)

func newGate(inner cachev3.Cache, timeout time.Duration, log *slog.Logger, onHeld func(int)) *gate {
	return &gate{
		inner: inner, timeout: timeout, log: log, now: time.Now, onHeld: onHeld,
		awaiting: map[string]time.Time{}, served: map[string]map[string]string{},
		held: map[*heldWatch]struct{}{}, byReq: map[any]*heldWatch{},
	}
}

// CreateWatch implements cachev3.ConfigWatcher for state of the world.
func (g *gate) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, ch chan cachev3.Response) (func(), error) {
	return g.watch(&heldWatch{typeURL: req.GetTypeUrl(), req: req, sub: sub, ch: ch})
}

// CreateDeltaWatch implements cachev3.ConfigWatcher for delta.
func (g *gate) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, ch chan cachev3.DeltaResponse) (func(), error) {
	return g.watch(&heldWatch{typeURL: req.GetTypeUrl(), dreq: req, sub: sub, dch: ch})
}

// Fetch passes through: a fetch is a one-off the client retries.
func (g *gate) Fetch(ctx context.Context, req *cachev3.Request) (cachev3.Response, error) {
	return g.inner.Fetch(ctx, req)
}

// watch hands w to the inner cache at once or holds it. The server calls
// the returned cancel func before it changes w's subscription, so a held
// watch's subscription is not written while the gate may read it.
func (g *gate) watch(w *heldWatch) (func(), error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	w.since = now
	if !g.holdsLocked(w, now) {
		return g.createLocked(w)
	}
	g.held[w] = struct{}{}
	g.byReq[w.request()] = w
	g.heldChangedLocked()
	g.armLocked(now)
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if w.released {
			if w.innerCancel != nil {
				w.innerCancel()
				w.innerCancel = nil
			}
			return
		}
		if _, ok := g.held[w]; ok {
			g.dropLocked(w)
			g.heldChangedLocked()
		}
	}, nil
}

func (w *heldWatch) request() any {
	if w.req != nil {
		return w.req
	}
	return w.dreq
}

func (g *gate) createLocked(w *heldWatch) (func(), error) {
	if w.req != nil {
		return g.inner.CreateWatch(w.req, w.sub, w.ch)
	}
	return g.inner.CreateDeltaWatch(w.dreq, w.sub, w.dch)
}

func (g *gate) dropLocked(w *heldWatch) {
	delete(g.held, w)
	delete(g.byReq, w.request())
}

func (g *gate) heldChangedLocked() {
	if g.onHeld != nil {
		g.onHeld(len(g.held))
	}
}

// holdsLocked reports whether w must wait at now.
func (g *gate) holdsLocked(w *heldWatch, now time.Time) bool {
	if !g.ready {
		return true
	}
	if g.expiredLocked(w.since, now) || w.sub.IsWildcard() {
		return false
	}
	switch w.typeURL {
	case resource.RouteConfigType:
		for name := range w.sub.SubscribedResources() {
			if since, ok := g.awaiting[name]; ok && !g.expiredLocked(since, now) {
				return true
			}
		}
	case resource.ClusterType, resource.EndpointType:
		served := g.served[w.typeURL]
		for name := range w.sub.SubscribedResources() {
			if _, ok := served[name]; !ok {
				return g.awaitingLocked(now)
			}
		}
	}
	return false
}

// deadlineLocked is when a hold that began at since ends: the timeout
// counts from readiness at the earliest.
func (g *gate) deadlineLocked(since time.Time) time.Time {
	if since.Before(g.readyAt) {
		since = g.readyAt
	}
	return since.Add(g.timeout)
}

// expiredLocked reports whether a hold that began at since is over at now.
// A negative timeout holds nothing after readiness.
func (g *gate) expiredLocked(since, now time.Time) bool {
	return g.timeout < 0 || g.timeout > 0 && !now.Before(g.deadlineLocked(since))
}

func (g *gate) awaitingLocked(now time.Time) bool {
	for _, since := range g.awaiting {
		if !g.expiredLocked(since, now) {
			return true
		}
	}
	return false
}

// armLocked sets the timer to the next hold or awaited name that expires.
func (g *gate) armLocked(now time.Time) {
	if !g.ready || g.timeout <= 0 || g.closed {
		return
	}
	var next time.Time
	consider := func(since time.Time) {
		if d := g.deadlineLocked(since); d.After(now) && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	for w := range g.held {
		consider(w.since)
	}
	if len(g.held) > 0 {
		for _, since := range g.awaiting {
			consider(since)
		}
	}
	if next.IsZero() {
		return
	}
	if g.timer == nil {
		g.timer = time.AfterFunc(next.Sub(now), g.reevaluate)
	} else {
		g.timer.Reset(next.Sub(now))
	}
}

// typeOrder is the order in which released watches are handed on, as
// Envoy's xDS protocol recommends pushing: clusters and their endpoints
// before the routes that name them.
var typeOrder = map[string]int{resource.ClusterType: 0, resource.EndpointType: 1, resource.ListenerType: 2, resource.RouteConfigType: 3}

// reevaluate hands on every watch nothing holds any more.
func (g *gate) reevaluate() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reevaluateLocked()
}

func (g *gate) reevaluateLocked() {
	if g.closed {
		return
	}
	now := g.now()
	var free []*heldWatch
	for w := range g.held {
		if !g.holdsLocked(w, now) {
			free = append(free, w)
		}
	}
	slices.SortFunc(free, func(a, b *heldWatch) int {
		if c := typeOrder[a.typeURL] - typeOrder[b.typeURL]; c != 0 {
			return c
		}
		return a.since.Compare(b.since)
	})
	for _, w := range free {
		g.dropLocked(w)
		w.released = true
		cancel, err := g.createLocked(w)
		if err != nil {
			// Only a broken stream gets here; the client reconnects.
			g.log.Warn("held xDS watch could not be answered", "type", typeLabel(w.typeURL), "err", err)
			continue
		}
		w.innerCancel = cancel
	}
	if len(free) > 0 {
		g.heldChangedLocked()
	}
	g.armLocked(now)
}

// await marks route names clients newly subscribe to as awaited.
func (g *gate) await(names []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for _, n := range names {
		if _, ok := g.awaiting[n]; !ok {
			g.awaiting[n] = now
		}
	}
}

// unawait forgets route names no client subscribes to any more.
func (g *gate) unawait(names []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range names {
		delete(g.awaiting, n)
	}
}

// awaited returns the route names awaited.
func (g *gate) awaited() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Collect(maps.Keys(g.awaiting))
}

// settle records a build: the route names it resolved, the clusters and
// endpoints now served (nil: unchanged), and whether the server is ready
// (it stays ready once it is); then it hands on what no longer waits.
func (g *gate) settle(resolved []string, served map[string]map[string]string, ready bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range resolved {
		delete(g.awaiting, n)
	}
	if served != nil {
		g.served = served
	}
	if ready && !g.ready {
		g.ready, g.readyAt = true, g.now()
	}
	g.reevaluateLocked()
}

// isReady reports whether the first discovery has been served.
func (g *gate) isReady() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ready
}

// heldCount returns the number of watches held.
func (g *gate) heldCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.held)
}

// holding reports whether req, a stream's latest request, waits here.
func (g *gate) holding(req any) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.byReq[req]
	return ok
}

// close stops the timer; nothing is handed on after it.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	if g.timer != nil {
		g.timer.Stop()
	}
}
