package otel

import (
	"context"
	"sync/atomic"

	gotel "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// localCounter is a monotonic counter summed in process and reported through
// an observable instrument. Counting on the data path — every message sent or
// consumed, every relayed request, every routing decision — adds to an atomic
// per attribute combination: no lock, no allocation, where a synchronous SDK
// counter resolves its attributes on every Add (about a microsecond, see
// BenchmarkCounters). The SDK reads the totals when it collects; what a reader
// sees is the same cumulative monotonic sum.
type localCounter[K comparable] struct {
	inst   metric.Int64ObservableCounter
	counts cowCache[K, *localCount]
	// overflow counts combinations past maxMetricSets, under the attribute
	// the SDK uses for its own cardinality overflow.
	overflow localCount
}

type localCount struct {
	n   atomic.Int64
	set attribute.Set
}

var overflowSet = attribute.NewSet(attribute.Bool("otel.metric.overflow", true))

func newLocalCounter[K comparable](m metric.Meter, name, unit, desc string) *localCounter[K] {
	c := &localCounter[K]{overflow: localCount{set: overflowSet}}
	inst, err := m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	if err != nil {
		gotel.Handle(err)
		return c // counts, reports nothing
	}
	c.inst = inst
	return c
}

// add counts n for key; attrs builds key's attributes the first time.
func (c *localCounter[K]) add(key K, n int64, attrs func(K) []attribute.KeyValue) {
	if lc, ok := c.counts.load(key); ok {
		lc.n.Add(n)
		return
	}
	c.store(key, attribute.NewSet(attrs(key)...)).n.Add(n)
}

// addSet counts n for key, whose attributes the caller has already.
func (c *localCounter[K]) addSet(key K, n int64, set attribute.Set) {
	if lc, ok := c.counts.load(key); ok {
		lc.n.Add(n)
		return
	}
	c.store(key, set).n.Add(n)
}

// store adds key's count, or returns the overflow's when there are too many.
func (c *localCounter[K]) store(key K, set attribute.Set) *localCount {
	lc, ok := c.counts.add(key, &localCount{set: set})
	if !ok {
		return &c.overflow
	}
	return lc
}

// observe reports every total to o.
func (c *localCounter[K]) observe(o metric.Observer) {
	if c.inst == nil {
		return
	}
	if m := c.counts.m.Load(); m != nil {
		for _, lc := range *m {
			o.ObserveInt64(c.inst, lc.n.Load(), metric.WithAttributeSet(lc.set))
		}
	}
	if n := c.overflow.n.Load(); n > 0 {
		o.ObserveInt64(c.inst, n, metric.WithAttributeSet(c.overflow.set))
	}
}

// registerLocalCounters makes m collect the totals of t's local counters.
func (t *Telemetry) registerLocalCounters(m metric.Meter) {
	counters := []interface {
		observe(metric.Observer)
		instrument() metric.Int64ObservableCounter
	}{t.sent, t.consumed, t.routingDecisions, t.relayRequests, t.relayFailovers}
	var insts []metric.Observable
	for _, c := range counters {
		if inst := c.instrument(); inst != nil {
			insts = append(insts, inst)
		}
	}
	if len(insts) == 0 {
		return
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, c := range counters {
			c.observe(o)
		}
		return nil
	}, insts...)
	if err != nil {
		gotel.Handle(err)
		return
	}
	t.registration = reg
}

func (c *localCounter[K]) instrument() metric.Int64ObservableCounter { return c.inst }

// Close stops reporting the counters kept in process (messages sent and
// consumed, routing decisions, relay requests and failovers) to the meter
// provider, which otherwise holds on to t for as long as it lives. Spans and
// the duration histograms are not affected. The mesh closes its Telemetry when
// it closes; an application that creates one with [New] closes it when done.
func (t *Telemetry) Close() error {
	t.closeOnce.Do(func() {
		if t.registration != nil {
			t.closeErr = t.registration.Unregister()
		}
	})
	return t.closeErr
}
