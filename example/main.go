// Command example is rmqmesh's demo: an official RocketMQ Go producer and consumer
// whose brokers are chosen by an xDS control plane.
//
// With no bootstrap in the environment it runs everything in process: a meshtest
// RocketMQ cluster (broker-a with a replica, and broker-b), a meshtest xDS control
// plane, and one mesh. It produces and consumes -n messages per step while it
// changes the control plane twice — an 80/20 canary split, then broker-b
// read-only — and prints, for every step, where the messages were sent and where
// they were received from.
//
//	go run ./example
//
// Either way it ends with one traced message: it prints the span tree from the
// request that sent it to the code that processed it, and exports every span
// over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (standard OTEL_* variables).
//
// With -controlplane it runs rmqmesh's own control plane instead of the meshtest
// one: discovered from the embedded cluster's nameserver, steered by
// example/policy.yaml.
//
//	go run ./example -controlplane
//
// With ROCKETMQ_XDS_BOOTSTRAP (or GRPC_XDS_BOOTSTRAP, or their _CONFIG forms) set
// it uses that control plane instead: it waits for the listener named by -target,
// sends -n messages to -topic and reads them back. example/bootstrap.json is a
// sample bootstrap.
//
//	ROCKETMQ_XDS_BOOTSTRAP=example/bootstrap.json go run ./example -target xds:///rocketmq -topic orders
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"go.opentelemetry.io/otel"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func main() {
	var (
		target = flag.String("target", "xds:///rocketmq", "xDS target of the RocketMQ listener (with a bootstrap)")
		topic  = flag.String("topic", "orders", "topic to produce to and consume from")
		n      = flag.Int("n", 300, "messages per step")
		wait   = flag.Duration("wait", 30*time.Second, "how long to wait for the control plane (with a bootstrap)")
		quiet  = flag.Bool("quiet", false, "print only the summary")
		withCP = flag.Bool("controlplane", false, "run the embedded cluster with rmqmesh's control plane and example/policy.yaml")
	)
	flag.Parse()

	// The official client logs through its own logger to stdout; keep the demo's
	// output to what it has to say.
	rlog.SetLogLevel("fatal")
	// A SendAsync timeout otherwise panics the process; rmqmesh installs a handler
	// when none is set, the demo sets its own to show that is possible.
	primitive.PanicHandler = func(r any) { fmt.Fprintln(os.Stderr, "recovered client panic:", r) }

	out := io.Writer(os.Stdout)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+*wait)
	defer cancel()

	tr, err := newTracing(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
	// The mesh instruments its clients with the global providers: this line
	// is all an application adds to get traces of its RocketMQ traffic.
	otel.SetTracerProvider(tr.provider)
	var cfg *bootstrap.Config // nil: in process
	switch {
	case *withCP:
		err = runControlPlane(ctx, out, log, embeddedOptions{topic: *topic, n: *n, quiet: *quiet, consumers: plainConsumers})
	case embedded():
		err = runEmbedded(ctx, out, log, embeddedOptions{topic: *topic, n: *n, quiet: *quiet, consumers: plainConsumers})
	default:
		// A bootstrap that is set but does not load is reported here.
		if cfg, err = bootstrap.FromEnv(); err == nil {
			err = runExternal(ctx, out, log, externalOptions{cfg: cfg, target: *target, topic: *topic, n: *n, wait: *wait, consumers: startPlain})
		}
	}
	if err == nil {
		err = runTraced(ctx, out, log, tr, cfg, *target, *topic)
	}
	if serr := tr.shutdown(context.Background()); err == nil {
		err = serr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

// embedded reports whether the demo runs everything in process: only when no
// xDS bootstrap is configured at all, by any of the variables bootstrap.FromEnv
// reads.
func embedded() bool {
	_, err := bootstrap.FromEnv()
	return errors.Is(err, bootstrap.ErrNoBootstrap)
}

// runTraced sends and consumes one traced message and prints its span tree:
// through a fresh one-broker in-process cluster without a bootstrap (cfg nil),
// through the control plane cfg names with one. Per-RPC spans show the relay's
// hop to the broker under the send span.
func runTraced(ctx context.Context, out io.Writer, log *slog.Logger, tr *tracing, cfg *bootstrap.Config, target, topic string) error {
	if cfg != nil {
		m, err := mesh.New(ctx, target, mesh.WithBootstrapConfig(cfg), mesh.WithLogger(log), mesh.WithRPCSpans())
		if err != nil {
			return err
		}
		defer m.Close()
		return traceOneMessage(ctx, out, tr, m, startPlain, topic)
	}
	m, cluster, stop, err := embeddedMesh(ctx, log, topic, mesh.WithRPCSpans())
	if err != nil {
		return err
	}
	defer stop()
	return traceOneMessage(ctx, out, tr, m, plainConsumers(cluster), topic)
}
