// Package oteltest records the spans and metrics of an instrumented RocketMQ
// client in memory, for tests: the OpenTelemetry SDK's span recorder and a
// manual metric reader behind a tracer and a meter provider, with helpers that
// wait for spans and add up metric data points.
//
//	rec := oteltest.New(t)
//	m, _ := mesh.New(ctx, target, mesh.WithTracerProvider(rec.TracerProvider), mesh.WithMeterProvider(rec.MeterProvider))
//	...
//	send := rec.WaitEnded(t, "send orders", 1)[0]
//
// It is test support and must not be used by non-test code.
package oteltest

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// WaitTimeout bounds [Recorder.WaitEnded].
const WaitTimeout = 30 * time.Second

// Recorder holds every span ended and every metric recorded through its
// providers.
type Recorder struct {
	Spans          *tracetest.SpanRecorder
	Reader         *sdkmetric.ManualReader
	TracerProvider *sdktrace.TracerProvider
	MeterProvider  *sdkmetric.MeterProvider
}

// New returns a Recorder whose providers are shut down when t ends.
func New(t testing.TB) *Recorder {
	r := &Recorder{Spans: tracetest.NewSpanRecorder(), Reader: sdkmetric.NewManualReader()}
	r.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.Spans))
	r.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.Reader))
	t.Cleanup(func() {
		_ = r.TracerProvider.Shutdown(context.Background())
		_ = r.MeterProvider.Shutdown(context.Background())
	})
	return r
}

// Ended returns the ended spans named name, in the order they ended.
func (r *Recorder) Ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.Spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// WaitEnded polls until n spans named name have ended and returns them; it
// fails t after WaitTimeout.
func (r *Recorder) WaitEnded(t testing.TB, name string, n int) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for {
		if got := r.Ended(name); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d %q spans; ended: %v", n, name, Names(r.Spans.Ended()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Names returns the names of spans.
func Names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, 0, len(spans))
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

// Metrics collects what has been recorded so far.
func (r *Recorder) Metrics(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collecting metrics: %v", err)
	}
	return rm
}

// Find returns the metric named name.
func Find(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// Sum adds up the data points of the int64 counter name whose attributes
// include want.
func Sum(t testing.TB, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := Find(rm, name)
	if !ok {
		return 0
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, want an int64 sum", name, m.Data)
	}
	var n int64
	for _, dp := range s.DataPoints {
		if HasAll(dp.Attributes, want...) {
			n += dp.Value
		}
	}
	return n
}

// HistogramCount adds up the counts of the float64 histogram name's data
// points whose attributes include want, and returns the bucket bounds of the
// last of them.
func HistogramCount(t testing.TB, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) (uint64, []float64) {
	t.Helper()
	m, ok := Find(rm, name)
	if !ok {
		return 0, nil
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, want a float64 histogram", name, m.Data)
	}
	var n uint64
	var bounds []float64
	for _, dp := range h.DataPoints {
		if HasAll(dp.Attributes, want...) {
			n += dp.Count
			bounds = dp.Bounds
		}
	}
	return n, bounds
}

// HasAll reports whether set holds every attribute of want.
func HasAll(set attribute.Set, want ...attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// CheckAttrs reports, with t.Errorf, every attribute of want that s lacks or
// has another value for.
func CheckAttrs(t testing.TB, s sdktrace.ReadOnlySpan, want ...attribute.KeyValue) {
	t.Helper()
	got := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		got[kv.Key] = kv.Value
	}
	for _, kv := range want {
		if v, ok := got[kv.Key]; !ok {
			t.Errorf("span %q lacks %s (want %q)", s.Name(), kv.Key, kv.Value.String())
		} else if v != kv.Value {
			t.Errorf("span %q: %s = %q, want %q", s.Name(), kv.Key, v.String(), kv.Value.String())
		}
	}
}
