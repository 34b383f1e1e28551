package controlplane

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	streamv3 "github.com/envoyproxy/go-control-plane/pkg/server/stream/v3"

	"github.com/rmqmesh/rmqmesh/controlplane/resource"
)

// innerCache records the watches the gate hands on.
type innerCache struct {
	mu       sync.Mutex
	created  []string // "type names" in order
	canceled []string
}

func (c *innerCache) record(typeURL string, sub cachev3.Subscription) func() {
	name := typeLabel(typeURL) + " " + joinNames(sub)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created = append(c.created, name)
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.canceled = append(c.canceled, name)
	}
}

func joinNames(sub cachev3.Subscription) string {
	if sub.IsWildcard() {
		return "*"
	}
	out := ""
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range sub.SubscribedResources() {
			if !yield(n) {
				return
			}
		}
	}) {
		if out != "" {
			out += ","
		}
		out += n
	}
	return out
}

func (c *innerCache) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, _ chan cachev3.Response) (func(), error) {
	return c.record(req.GetTypeUrl(), sub), nil
}

func (c *innerCache) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, _ chan cachev3.DeltaResponse) (func(), error) {
	return c.record(req.GetTypeUrl(), sub), nil
}

func (c *innerCache) Fetch(context.Context, *cachev3.Request) (cachev3.Response, error) {
	return nil, nil
}

func (c *innerCache) take() (created, canceled []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	created, canceled = c.created, c.canceled
	c.created, c.canceled = nil, nil
	return created, canceled
}

// gateFixture is a gate on a fake clock; its timer is never relied on:
// tests call reevaluate after moving the clock.
type gateFixture struct {
	t     *testing.T
	g     *gate
	inner *innerCache
	now   time.Time
	held  int
}

func newGateFixture(t *testing.T, timeout time.Duration) *gateFixture {
	f := &gateFixture{t: t, inner: &innerCache{}, now: time.Unix(1000, 0)}
	f.g = newGate(f.inner, timeout, slog.New(slog.DiscardHandler), func(n int) { f.held = n })
	f.g.now = func() time.Time { return f.now }
	t.Cleanup(f.g.close)
	return f
}

func (f *gateFixture) sotw(typeURL string, names ...string) func() {
	f.t.Helper()
	cancel, err := f.g.CreateWatch(&cachev3.Request{TypeUrl: typeURL, ResourceNames: names}, streamv3.NewSotwSubscription(names, true), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return cancel
}

func (f *gateFixture) delta(typeURL string, names ...string) func() {
	f.t.Helper()
	cancel, err := f.g.CreateDeltaWatch(&cachev3.DeltaRequest{TypeUrl: typeURL, ResourceNamesSubscribe: names},
		streamv3.NewDeltaSubscription(names, nil, nil, false), nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return cancel
}

// expect checks what the inner cache was handed since the last call.
func (f *gateFixture) expect(what string, created ...string) {
	f.t.Helper()
	got, _ := f.inner.take()
	if !slices.Equal(got, created) {
		f.t.Errorf("%s: handed on %q, want %q", what, got, created)
	}
}

var clusters = map[string]map[string]string{
	resource.ClusterType:  {"default": "v1"},
	resource.EndpointType: {"default": "v1"},
}

// Before the first discovery every watch waits, whatever the timeout; then
// they are handed on clusters first, routes last.
func TestGate_HoldsEverythingUntilReady(t *testing.T) {
	f := newGateFixture(t, time.Second)
	f.sotw(resource.RouteConfigType, "rocketmq/orders")
	f.delta(resource.ListenerType, "rocketmq")
	f.sotw(resource.EndpointType, "default")
	f.delta(resource.ClusterType, "default")
	cancelWild := f.sotw(resource.ClusterType)
	f.expect("before readiness")
	if f.held != 5 || f.g.heldCount() != 5 || f.g.isReady() {
		t.Fatalf("held %d (%d), ready %v; want 5 held, not ready", f.held, f.g.heldCount(), f.g.isReady())
	}
	f.now = f.now.Add(time.Hour)
	f.g.reevaluate()
	f.expect("an hour later, still before readiness")

	cancelWild() // a stream that goes away before readiness leaves nothing behind
	f.g.settle(nil, clusters, true)
	f.expect("at readiness", "cluster default", "endpoint default", "listener rocketmq", "route rocketmq/orders")
	if f.held != 0 || !f.g.isReady() {
		t.Errorf("held %d, ready %v after readiness", f.held, f.g.isReady())
	}
	if _, canceled := f.inner.take(); len(canceled) != 0 {
		t.Errorf("canceled %q", canceled)
	}
}

// A route newly subscribed is awaited: watches naming it wait until it is
// resolved, and clusters not served yet wait while some route is awaited.
func TestGate_HoldsAwaitedRoutesAndTheirClusters(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			f := newGateFixture(t, time.Minute)
			watch := f.sotw
			if protocol == "delta" {
				watch = f.delta
			}
			f.g.settle(nil, clusters, true)
			f.g.await([]string{"rocketmq/orders"})
			watch(resource.RouteConfigType, "rocketmq/orders")
			watch(resource.RouteConfigType, "rocketmq/payments") // not awaited: served or not, at once
			watch(resource.ClusterType, "default/r4w4p6")        // not served yet, may come with orders
			watch(resource.EndpointType, "default")              // served
			watch(resource.ListenerType, "rocketmq")
			f.expect("orders being fetched", "route rocketmq/payments", "endpoint default", "listener rocketmq")
			if got := f.g.awaited(); !slices.Equal(got, []string{"rocketmq/orders"}) {
				t.Errorf("awaited %q", got)
			}

			// The build serves the topic's cluster and resolves the route.
			f.g.settle([]string{"rocketmq/orders"}, map[string]map[string]string{
				resource.ClusterType:  {"default": "v1", "default/r4w4p6": "v2"},
				resource.EndpointType: {"default": "v1", "default/r4w4p6": "v2"},
			}, true)
			f.expect("orders resolved", "cluster default/r4w4p6", "route rocketmq/orders")

			// With nothing awaited, a cluster nobody serves is answered at
			// once (as absent): nothing could bring it.
			watch(resource.ClusterType, "default/gone")
			f.expect("nothing awaited", "cluster default/gone")
		})
	}
}

// A hold ends at the timeout, counted from readiness at the earliest; an
// unsubscribed name stops holding anything; a negative timeout holds
// nothing once ready.
func TestGate_Timeouts(t *testing.T) {
	f := newGateFixture(t, 5*time.Second)
	f.g.await([]string{"rocketmq/orders"})
	f.sotw(resource.RouteConfigType, "rocketmq/orders")
	f.now = f.now.Add(time.Minute) // before readiness: no timeout runs
	f.g.settle(nil, clusters, true)
	f.expect("at readiness, orders still awaited")
	f.now = f.now.Add(4 * time.Second)
	f.g.reevaluate()
	f.expect("4 s after readiness")
	f.now = f.now.Add(time.Second)
	f.g.reevaluate()
	f.expect("5 s after readiness", "route rocketmq/orders")
	f.delta(resource.ClusterType, "default/r4w4p6")
	f.expect("an expired awaited name holds no cluster", "cluster default/r4w4p6")

	f.g.await([]string{"rocketmq/payments"})
	f.sotw(resource.RouteConfigType, "rocketmq/payments")
	f.expect("payments awaited")
	f.g.unawait([]string{"rocketmq/payments"})
	f.g.reevaluate()
	f.expect("payments unsubscribed by everyone else", "route rocketmq/payments")

	n := newGateFixture(t, -1)
	n.g.settle(nil, clusters, true)
	n.g.await([]string{"rocketmq/orders"})
	n.sotw(resource.RouteConfigType, "rocketmq/orders")
	n.sotw(resource.ClusterType, "default/r4w4p6")
	n.expect("negative timeout", "route rocketmq/orders", "cluster default/r4w4p6")
}

// A cancel before release drops the watch; a cancel after release reaches
// the inner cache; the gate answers nothing once closed.
func TestGate_Cancel(t *testing.T) {
	f := newGateFixture(t, time.Minute)
	cancelHeld := f.sotw(resource.ListenerType, "rocketmq")
	cancelReleased := f.delta(resource.ClusterType, "default")
	cancelHeld()
	cancelHeld()
	f.g.settle(nil, clusters, true)
	f.expect("after readiness", "cluster default")
	cancelReleased()
	cancelReleased()
	if _, canceled := f.inner.take(); !slices.Equal(canceled, []string{"cluster default"}) {
		t.Errorf("inner canceled %q, want the released watch's cancel passed on", canceled)
	}
	if f.held != 0 {
		t.Errorf("held %d", f.held)
	}

	c := newGateFixture(t, time.Minute)
	c.sotw(resource.ListenerType, "rocketmq")
	c.g.close()
	c.g.settle(nil, clusters, true)
	c.expect("closed")
}
