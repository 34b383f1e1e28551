package oteltest_test

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/otel/oteltest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The recorder sees what its providers record, and its helpers add it up.
func TestRecorder_SpansAndMetrics(t *testing.T) {
	rec := oteltest.New(t)
	ctx := context.Background()
	tr := rec.TracerProvider.Tracer("test")
	for range 2 {
		_, s := tr.Start(ctx, "send orders")
		s.SetAttributes(attribute.String("k", "v"))
		s.End()
	}
	_, other := tr.Start(ctx, "receive orders")
	other.End()
	spans := rec.WaitEnded(t, "send orders", 2)
	if len(spans) != 2 || !slices.Equal(oteltest.Names(spans), []string{"send orders", "send orders"}) {
		t.Fatalf("WaitEnded = %v", oteltest.Names(spans))
	}
	oteltest.CheckAttrs(t, spans[0], attribute.String("k", "v"))

	m := rec.MeterProvider.Meter("test")
	c, err := m.Int64Counter("sent")
	if err != nil {
		t.Fatal(err)
	}
	h, err := m.Float64Histogram("latency")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 3)
	c.Add(ctx, 4)
	h.Record(ctx, 1.5)
	rm := rec.Metrics(t)
	if got := oteltest.Sum(t, rm, "sent"); got != 7 {
		t.Errorf("Sum = %d, want 7", got)
	}
	if n, bounds := oteltest.HistogramCount(t, rm, "latency"); n != 1 || len(bounds) == 0 {
		t.Errorf("HistogramCount = %d, %v", n, bounds)
	}
	if _, ok := oteltest.Find(rm, "absent"); ok {
		t.Error("Find found a metric nobody recorded")
	}
}
