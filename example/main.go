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

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func main() {
	var (
		target = flag.String("target", "xds:///rocketmq", "xDS target of the RocketMQ listener (with a bootstrap)")
		topic  = flag.String("topic", "orders", "topic to produce to and consume from")
		n      = flag.Int("n", 300, "messages per step")
		wait   = flag.Duration("wait", 30*time.Second, "how long to wait for the control plane (with a bootstrap)")
		quiet  = flag.Bool("quiet", false, "print only the summary")
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

	cfg, err := bootstrap.FromEnv()
	switch {
	case errors.Is(err, bootstrap.ErrNoBootstrap):
		err = runEmbedded(ctx, out, log, embeddedOptions{topic: *topic, n: *n, quiet: *quiet, consumers: plainConsumers})
	case err == nil:
		err = runExternal(ctx, out, log, externalOptions{cfg: cfg, target: *target, topic: *topic, n: *n, wait: *wait, consumers: startPlain})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}
