package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/producer"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/routing"
)

// modeSpec is one way of building the official client.
type modeSpec struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	About string `json:"about"`
}

// The modes, in the order tables and the chart show them. bare is the
// reference every ratio is taken to.
var modeSpecs = []modeSpec{
	{"bare", "bare client", "the official client alone, on the cluster's own nameserver (the reference, 1.00)"},
	{"direct", "mesh direct", "built by a mesh on the direct data path: real broker addresses, the mesh's queue selector"},
	{"intercept", "mesh intercept", "built by a mesh on the intercept data path (the default): every broker RPC through the in-process relay"},
	{"traced-noop", "intercept + tracing (no-op processor)", "intercept, with an SDK tracer provider sampling every span into a processor that drops it"},
	{"traced-batch", "intercept + tracing (batch exporter)", "intercept, with an SDK tracer provider sampling every span into the SDK's batch processor and an in-memory exporter"},
}

// sendTimeout is every mode's send timeout. The client's default of 3 s is
// shorter than a send can wait on a saturated two-core machine shared with
// other work, and one timeout ends the run; the benchmark measures cost, and a
// send that takes seconds shows in the tail latencies instead. SendAsync in
// rocketmq-client-go v2.1.2 ignores it and always gives up after 3 s.
const sendTimeout = 30 * time.Second

// endpoints is where the benchmark's clients connect.
type endpoints struct {
	// nameServer is what the bare client is given; empty when no mode needs it.
	nameServer string
	// target is the mesh's xds:/// target.
	target string
	// bootstrap is the mesh's bootstrap JSON; nil reads it from the
	// environment, as an application's mesh does.
	bootstrap []byte
}

// mode is one mode's clients: a producer, alive for the whole run, and push
// consumers made on demand, each of a group of its own.
//
// Each consumer runs on a client instance of its own (the mesh gives each
// client one; the bare client is given one), unlike the clients of an
// application, which often share one: rocketmq-client-go v2.1.2 can leave a
// rebalance blocked for ever, holding the instance's rebalance lock, when a
// consumer shuts down while it runs (the rebalance re-adds the queues the
// shutdown dropped and blocks handing the fifth to the consumer's stopped pull
// loop). Every later consumer on that instance would then never get a queue.
type mode struct {
	modeSpec
	producer    rocketmq.Producer
	newConsumer func(group string, opts ...consumer.Option) (rocketmq.PushConsumer, error)
	// spans counts the spans that reached the span processor (traced-noop)
	// or the exporter (traced-batch): proof that tracing was on; nil in the
	// other modes.
	spans   func() int
	closers []func() error
}

// newMode builds and starts the clients of one mode.
func newMode(ctx context.Context, spec modeSpec, ep endpoints, runID string, log *slog.Logger) (_ *mode, err error) {
	m := &mode{modeSpec: spec}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	group := "bench-" + spec.Name + "-" + runID
	instance := group
	if spec.Name == "bare" {
		if ep.nameServer == "" {
			return nil, errors.New(`mode "bare" needs the cluster's nameserver: give -namesrv (or NAMESRV_ADDR), or leave it out of -modes`)
		}
		p, err := rocketmq.NewProducer(
			producer.WithNameServer([]string{ep.nameServer}),
			producer.WithGroupName(group),
			producer.WithInstanceName(instance),
			producer.WithSendMsgTimeout(sendTimeout),
		)
		if err != nil {
			return nil, fmt.Errorf("mode %q: %w", spec.Name, err)
		}
		m.producer = p
		m.newConsumer = func(group string, opts ...consumer.Option) (rocketmq.PushConsumer, error) {
			return rocketmq.NewPushConsumer(append([]consumer.Option{
				consumer.WithNameServer([]string{ep.nameServer}),
				consumer.WithGroupName(group),
				consumer.WithInstance(group),
			}, opts...)...)
		}
	} else {
		opts := []mesh.Option{mesh.WithLogger(log)}
		if ep.bootstrap != nil {
			opts = append(opts, mesh.WithBootstrap(ep.bootstrap))
		}
		switch spec.Name {
		case "direct":
			opts = append(opts, mesh.WithDataPath(routing.DataPathDirect))
		case "intercept":
		case "traced-noop":
			proc := &noopProcessor{}
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(proc))
			m.closers = append(m.closers, func() error { return tp.Shutdown(context.Background()) })
			m.spans = func() int { return int(proc.ended.Load()) }
			opts = append(opts, mesh.WithTracerProvider(tp))
		case "traced-batch":
			exp := newMemExporter(4096)
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(exp))
			m.closers = append(m.closers, func() error { return tp.Shutdown(context.Background()) })
			m.spans = exp.Total
			opts = append(opts, mesh.WithTracerProvider(tp))
		default:
			return nil, fmt.Errorf("unknown mode %q", spec.Name)
		}
		if ep.target == "" {
			return nil, fmt.Errorf("mode %q needs the mesh's xDS target: give -target", spec.Name)
		}
		msh, err := mesh.New(ctx, ep.target, opts...)
		if err != nil {
			return nil, fmt.Errorf("mode %q: %w", spec.Name, err)
		}
		m.closers = append(m.closers, msh.Close)
		if err := msh.WaitReady(ctx); err != nil {
			return nil, fmt.Errorf("mode %q: %w", spec.Name, err)
		}
		p, err := msh.NewProducer(producer.WithGroupName(group), producer.WithInstanceName(instance), producer.WithSendMsgTimeout(sendTimeout))
		if err != nil {
			return nil, fmt.Errorf("mode %q: %w", spec.Name, err)
		}
		m.producer = p
		m.newConsumer = func(group string, opts ...consumer.Option) (rocketmq.PushConsumer, error) {
			return msh.NewPushConsumer(append([]consumer.Option{consumer.WithGroupName(group)}, opts...)...)
		}
	}
	if err := m.producer.Start(); err != nil {
		m.producer = nil
		return nil, fmt.Errorf("mode %q: starting the producer: %w", spec.Name, err)
	}
	return m, nil
}

// Close shuts the mode's producer down, then what it was built with (mesh,
// tracer provider) in reverse order.
func (m *mode) Close() error {
	var errs []error
	if m.producer != nil {
		errs = append(errs, m.producer.Shutdown())
	}
	for i := len(m.closers) - 1; i >= 0; i-- {
		errs = append(errs, m.closers[i]())
	}
	return errors.Join(errs...)
}

// selectModes returns the specs named in list (comma-separated), in the
// canonical order.
func selectModes(list string) ([]modeSpec, error) {
	return selectNamed(list, "-modes", "mode", modeSpecs, func(s modeSpec) string { return s.Name })
}

func names[T any](xs []T, name func(T) string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return strings.Join(out, ", ")
}

// noopProcessor is a span processor that drops every span, counting them:
// with it, tracing costs what the SDK spends recording spans (and one atomic
// add), and nothing for exporting them.
type noopProcessor struct{ ended atomic.Int64 }

func (*noopProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (p *noopProcessor) OnEnd(sdktrace.ReadOnlySpan)                   { p.ended.Add(1) }
func (*noopProcessor) Shutdown(context.Context) error                  { return nil }
func (*noopProcessor) ForceFlush(context.Context) error                { return nil }

// memExporter is an exporter that keeps the spans of its last exports in a
// ring in memory, as an exporter holds what it is about to send, and counts
// them all.
type memExporter struct {
	mu    sync.Mutex
	ring  []sdktrace.ReadOnlySpan
	total int
}

func newMemExporter(size int) *memExporter {
	return &memExporter{ring: make([]sdktrace.ReadOnlySpan, size)}
}

func (e *memExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range spans {
		e.ring[e.total%len(e.ring)] = s
		e.total++
	}
	return nil
}

func (e *memExporter) Shutdown(context.Context) error { return nil }

// Total returns how many spans were exported.
func (e *memExporter) Total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.total
}
