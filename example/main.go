// Command example is rmqmesh's demo: an official RocketMQ Go producer and consumer
// whose brokers are chosen by an xDS control plane.
//
// With no bootstrap in the environment it runs everything in process: a meshtest
// RocketMQ cluster (broker-a with a replica, and broker-b), a meshtest xDS control
// plane, and one mesh. It produces and consumes a few hundred messages, then
// changes the control plane twice — an 80/20 canary split and a read-only broker —
// and shows where messages went each time.
//
//	go run ./example
//
// With -controlplane it runs rmqmesh's own control plane instead of the meshtest
// one: discovered from the embedded cluster's nameserver, steered by
// example/policy.yaml.
//
//	go run ./example -controlplane
//
// With ROCKETMQ_XDS_BOOTSTRAP (or GRPC_XDS_BOOTSTRAP, or their _CONFIG forms) set
// it uses that control plane instead: it resolves the listener named by -target,
// sends -n messages to -topic and reads them back.
//
//	ROCKETMQ_XDS_BOOTSTRAP=/etc/rmqmesh/bootstrap.json go run ./example -target xds:///rocketmq -topic orders
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

func main() {
	var (
		target = flag.String("target", "xds:///rocketmq", "xDS target of the RocketMQ listener (with a bootstrap)")
		topic  = flag.String("topic", "orders", "topic to produce to and consume from")
		n      = flag.Int("n", 300, "messages per step")
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var err error
	if *withCP {
		err = runControlPlane(ctx, out, log, *topic, *n, *quiet)
	} else if bootstrapInEnvironment() {
		err = runExternal(ctx, out, log, *target, *topic, *n)
	} else {
		err = runEmbedded(ctx, out, log, *topic, *n, *quiet)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func bootstrapInEnvironment() bool {
	for _, v := range []string{"ROCKETMQ_XDS_BOOTSTRAP", "ROCKETMQ_XDS_BOOTSTRAP_CONFIG", "GRPC_XDS_BOOTSTRAP", "GRPC_XDS_BOOTSTRAP_CONFIG"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}
