package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rmqmesh/rmqmesh/mesh"
)

// runExternal runs the demo against the control plane named by the bootstrap in
// the environment: the application's view, with nothing in process but the mesh.
func runExternal(ctx context.Context, out io.Writer, log *slog.Logger, target, topic string, n int) error {
	m, err := mesh.New(ctx, target, mesh.WithLogger(log))
	if err != nil {
		return err
	}
	defer m.Close()
	return demoAgainst(ctx, out, m, target, topic, n)
}

// demoAgainst sends n messages to topic through m and reads them back.
func demoAgainst(ctx context.Context, out io.Writer, m *mesh.Mesh, target, topic string, n int) error {
	if err := m.WaitReady(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "rmqmesh demo against %s (nameserver endpoint %s)\n", target, m.NameServerAddr())
	p, err := newProducer(m, "rmqmesh-demo-producer")
	if err != nil {
		return err
	}
	defer p.Shutdown()
	run := fmt.Sprintf("demo-%d", time.Now().UnixNano())
	sent, err := produce(ctx, p, topic, run, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sent %d to %q:  %v\n", n, topic, sent)
	r, err := newReceiver(m, "rmqmesh-demo-consumer", topic)
	if err != nil {
		return err
	}
	defer r.c.Shutdown()
	got, err := r.waitFor(ctx, run, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "received:        %v\n", got)
	return nil
}
