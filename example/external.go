package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// externalOptions is one run of the demo against the control plane a bootstrap
// names.
type externalOptions struct {
	cfg       *bootstrap.Config
	target    string
	topic     string
	n         int
	wait      time.Duration // for the control plane to answer
	consumers consumerStarter
}

// runExternal runs the demo against the control plane named by the bootstrap:
// the application's view, with nothing in process but the mesh.
func runExternal(ctx context.Context, out io.Writer, log *slog.Logger, o externalOptions) error {
	servers := make([]string, 0, len(o.cfg.XDSServers))
	for _, s := range o.cfg.XDSServers {
		servers = append(servers, s.ServerURI)
	}
	timeout := o.cfg.Mesh.ResourceTimeout
	if timeout <= 0 {
		timeout = bootstrap.DefaultResourceTimeout
	}
	fmt.Fprintf(out, "rmqmesh demo against %s, bootstrap from %s\n", o.target, o.cfg.Source)
	fmt.Fprintf(out, "waiting up to %v for xDS server %s to send the listener and the clusters it routes to (each resource may take %v to be reported missing)\n",
		o.wait, strings.Join(servers, ", "), timeout)
	m, err := mesh.New(ctx, o.target, mesh.WithBootstrapConfig(o.cfg), mesh.WithLogger(log))
	if err != nil {
		return err
	}
	defer m.Close()
	wctx, cancel := context.WithTimeout(ctx, o.wait)
	defer cancel()
	if err := m.WaitReady(wctx); err != nil {
		return fmt.Errorf("the control plane did not answer: %w", err)
	}
	fmt.Fprintf(out, "the control plane answered: listener %q is in force; the clients' nameserver is the mesh's endpoint %s\n", m.Listener(), m.NameServerAddr())

	p, err := newProducer(m, "rmqmesh-demo-producer")
	if err != nil {
		return err
	}
	defer p.Shutdown()
	run := fmt.Sprintf("demo-%d", time.Now().UnixNano())
	sent, err := produce(ctx, p, o.topic, run, o.n)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sent %d to %q:     %v\n", o.n, o.topic, sent)
	r, err := newReceiver(m, o.consumers, "rmqmesh-demo-consumer", o.topic)
	if err != nil {
		return err
	}
	defer r.stop()
	got, err := r.waitFor(ctx, run+"-", o.n)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "received %d:          %v\n", got.total(), got)
	return nil
}
