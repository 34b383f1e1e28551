package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/mesh"
)

// runTracedWith runs the demo's traced message on a fresh embedded cluster with
// tr's provider given explicitly (tests leave the global one alone).
func runTracedWith(t *testing.T, tr *tracing) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	m, cluster, stop, err := embeddedMesh(ctx, log, "orders", mesh.WithTracerProvider(tr.provider), mesh.WithRPCSpans())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var out bytes.Buffer
	if err := traceOneMessage(ctx, &out, tr, m, testConsumers(t)(cluster), "orders"); err != nil {
		t.Fatalf("traceOneMessage: %v\n%s", err, out.String())
	}
	return out.String()
}

func TestTraceOneMessage_PrintsSpanTree(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tr, err := newTracing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.shutdown(context.Background())
	out := runTracedWith(t, tr)
	for _, want := range []string{"  place order [internal]", "  └─ send orders [producer] broker 127.0.0.1:", "     ├─ SEND_MESSAGE orders [client] broker 127.0.0.1:",
		"     └─ process orders [consumer] broker 127.0.0.1:", "group rmqmesh-demo-trace-consumer"} {
		if !strings.Contains(out, want) {
			t.Errorf("span tree lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "OTLP") {
		t.Errorf("claims an OTLP export without an endpoint:\n%s", out)
	}
}

func TestTracing_ExportsOverOTLPWhenConfigured(t *testing.T) {
	var posts, spans atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" && r.Header.Get("Content-Type") == "application/x-protobuf" {
			posts.Add(1)
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(r.Body)
			spans.Add(int64(bytes.Count(buf.Bytes(), []byte("process orders"))))
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	tr, err := newTracing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := runTracedWith(t, tr)
	if err := tr.shutdown(context.Background()); err != nil {
		t.Fatalf("flushing to the collector: %v", err)
	}
	if !strings.Contains(out, "(exported over OTLP, http/protobuf)") {
		t.Errorf("output does not say it exported:\n%s", out)
	}
	if posts.Load() == 0 || spans.Load() == 0 {
		t.Errorf("collector got %d exports with %d process spans, want the traced message's", posts.Load(), spans.Load())
	}
}

// TestTracing_UnreachableCollectorDoesNotHoldUpSends points the exporter at a
// port nobody listens on: the message is still sent and processed.
func TestTracing_UnreachableCollectorDoesNotHoldUpSends(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "200")
	tr, err := newTracing(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := runTracedWith(t, tr)
	if !strings.Contains(out, "process orders [consumer]") {
		t.Errorf("the traced message was not processed:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tr.shutdown(ctx) // the export fails; that is the point
}

func TestNewTracing_RejectsUnknownProtocol(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	if _, err := newTracing(context.Background()); err == nil || !strings.Contains(err.Error(), `"http/json"`) {
		t.Errorf("newTracing with protocol http/json: %v, want an error naming it", err)
	}
}
