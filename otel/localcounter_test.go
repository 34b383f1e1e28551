package otel

import (
	"context"
	"strconv"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func collectSums(t testing.TB, r *sdkmetric.ManualReader, name string) map[attribute.Distinct]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[attribute.Distinct]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || !sum.IsMonotonic {
				t.Fatalf("%s is %T, want a monotonic int64 sum", name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				out[dp.Attributes.Equivalent()] = dp.Value
			}
		}
	}
	return out
}

// TestLocalCounter_OverflowAndClose: combinations past the bound are counted
// under otel.metric.overflow, nothing is lost, and Close stops the reports.
func TestLocalCounter_OverflowAndClose(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	tel := New(WithMeterProvider(mp))
	const limit = 16
	tel.relayRequests.counts.limit = limit
	ctx := context.Background()
	for i := range limit + 10 {
		tel.RelayRequest(ctx, 10, "brokers", "10.0.0.1:"+strconv.Itoa(i))
	}
	tel.RelayRequest(ctx, 10, "brokers", "10.0.0.1:0")
	sums := collectSums(t, reader, MetricRelayRequests)
	if len(sums) != limit+1 {
		t.Errorf("%d series, want %d and the overflow", len(sums), limit)
	}
	var total int64
	for _, n := range sums {
		total += n
	}
	if total != limit+11 {
		t.Errorf("counted %d requests, want %d", total, limit+11)
	}
	first := attribute.NewSet(RequestCodeKey.String("SEND_MESSAGE"), ClusterKey.String("brokers"), UpstreamKey.String("10.0.0.1:0"))
	if n := sums[first.Equivalent()]; n != 2 {
		t.Errorf("10.0.0.1:0 counted %d, want 2", n)
	}
	if n := sums[overflowSet.Equivalent()]; n != 10 {
		t.Errorf("overflow = %d, want 10", n)
	}
	if err := tel.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tel.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if sums := collectSums(t, reader, MetricRelayRequests); len(sums) != 0 {
		t.Errorf("%d series reported after Close", len(sums))
	}
}

// BenchmarkCounters compares, in one run, counting a relayed request on a
// synchronous SDK counter with its attribute set cached (what the relay did
// before) and on the in-process counter it uses now.
//
//	go test -run '^$' -bench Counters -benchmem ./otel/
func BenchmarkCounters(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	meter := mp.Meter("bench")
	ctx := context.Background()
	attrs := func(k relayKey) []attribute.KeyValue {
		return []attribute.KeyValue{RequestCodeKey.Int(int(k.code)), ClusterKey.String(k.cluster), UpstreamKey.String(k.upstream)}
	}
	key := relayKey{10, "brokers", "10.0.0.1:10911"}
	b.Run("sdk-sync", func(b *testing.B) {
		c, err := meter.Int64Counter("sync")
		if err != nil {
			b.Fatal(err)
		}
		opts := []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attrs(key)...))}
		b.ReportAllocs()
		for b.Loop() {
			c.Add(ctx, 1, opts...)
		}
	})
	b.Run("local", func(b *testing.B) {
		c := newLocalCounter[relayKey](meter, "local", "{request}", "")
		b.ReportAllocs()
		for b.Loop() {
			c.add(key, 1, attrs)
		}
	})
}
