package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
)

const demoListener = "demo"

// embeddedOptions is one run of the embedded demo.
type embeddedOptions struct {
	topic string
	n     int  // messages per step
	quiet bool // print only the summary
	// consumers returns how to start consumers against the cluster the demo runs.
	consumers func(*meshtest.Cluster) consumerStarter
}

// demoSpec is the control plane's configuration for the embedded demo: one route
// for every topic to one EDS cluster holding every broker, with per-broker weights
// and broker-b optionally read-only.
func demoSpec(c *meshtest.Cluster, weights map[string]uint32, readOnly string) meshtest.MeshSpec {
	eps := c.BrokerEndpoints(4)
	for i := range eps {
		eps[i].Weight = weights[eps[i].BrokerName]
		if eps[i].BrokerName == readOnly {
			eps[i].Perm = 4
		}
	}
	return meshtest.MeshSpec{
		Listener: demoListener,
		Routes:   []meshtest.RouteSpec{{Cluster: "brokers"}},
		Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: eps}}, // the default data path: intercept
	}
}

func runEmbedded(ctx context.Context, out io.Writer, log *slog.Logger, o embeddedOptions) error {
	say := func(format string, args ...any) {
		if !o.quiet {
			fmt.Fprintf(out, format+"\n", args...)
		}
	}
	topic, n := o.topic, o.n
	cluster, err := meshtest.NewCluster(
		meshtest.WithBroker("broker-a", 1),
		meshtest.WithBroker("broker-b", 0),
		meshtest.WithTopic(topic, 4),
		meshtest.WithLogger(log),
	)
	if err != nil {
		return err
	}
	defer cluster.Close()
	start := o.consumers(cluster)
	cp, err := meshtest.NewControlPlane(meshtest.WithControlPlaneLogger(log))
	if err != nil {
		return err
	}
	defer cp.Close()
	if err := serve(ctx, cp, demoSpec(cluster, nil, "")); err != nil {
		return err
	}
	say("rmqmesh demo (embedded: no xDS bootstrap in the environment)")
	say("  cluster:       broker-a %s (replica %s), broker-b %s",
		cluster.Broker("broker-a").Addr(), cluster.Broker("broker-a").Replica(1).Addr(), cluster.Broker("broker-b").Addr())
	say("  control plane: %s, listener %q", cp.Addr(), demoListener)

	m, err := mesh.New(ctx, "xds:///"+demoListener, mesh.WithBootstrap(cp.Bootstrap()), mesh.WithLogger(log))
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.WaitReady(ctx); err != nil {
		return err
	}
	say("  mesh:          nameserver endpoint %s, %s data path", m.NameServerAddr(), m.DataPath())

	p, err := newProducer(m, "demo-producer")
	if err != nil {
		return err
	}
	defer p.Shutdown()
	const group = "demo-consumer"

	say("\n1. every broker, equal weights")
	even, err := produce(ctx, p, topic, "even", n)
	if err != nil {
		return err
	}
	say("   sent %d:       %v", n, even)
	r, err := newReceiver(m, start, group, topic)
	if err != nil {
		return err
	}
	got, err := r.waitFor(ctx, "even-", n)
	if err != nil {
		r.stop()
		return err
	}
	say("   received %d:   %v", got.total(), got)

	say("\n2. canary split: broker-a weight 80, broker-b weight 20")
	if err := apply(ctx, cp, m, demoSpec(cluster, map[string]uint32{"broker-a": 80, "broker-b": 20}, "")); err != nil {
		r.stop()
		return err
	}
	split, err := produce(ctx, p, topic, "canary", n)
	if err != nil {
		r.stop()
		return err
	}
	say("   sent %d:       %v", n, split)
	share, m95 := explainSplit(say, split, n, "configured")
	got, err = r.waitFor(ctx, "canary-", n)
	r.stop()
	if err != nil {
		return err
	}
	say("   received %d:   %v", got.total(), got)

	say("\n3. broker-b read-only (perm 4): it takes no writes, and what it stores is still read")
	say("   the consumer stopped; the canary is over: equal weights again")
	if err := apply(ctx, cp, m, demoSpec(cluster, nil, "")); err != nil {
		return err
	}
	backlog := max(n/10, 10)
	before, err := produce(ctx, p, topic, "backlog", backlog)
	if err != nil {
		return err
	}
	say("   sent %d before the switch: %v", backlog, before)
	if err := apply(ctx, cp, m, demoSpec(cluster, nil, "broker-b")); err != nil {
		return err
	}
	say("   broker-b is read-only now")
	ro, err := produce(ctx, p, topic, "readonly", n)
	if err != nil {
		return err
	}
	say("   sent %d:       %v", n, ro)
	r, err = newReceiver(m, start, group, topic)
	if err != nil {
		return err
	}
	defer r.stop()
	gotRO, err := r.waitFor(ctx, "readonly-", n)
	if err != nil {
		return err
	}
	gotBacklog, err := r.waitFor(ctx, "backlog-", backlog)
	if err != nil {
		return err
	}
	say("   the consumer started again")
	say("   received %d:   %v", gotRO.total(), gotRO)
	say("   received %d sent before the switch: %v — broker-b's %d read after it became read-only",
		gotBacklog.total(), gotBacklog, gotBacklog["broker-b"])

	relayed, err := relayEndpoints(m)
	if err != nil {
		return err
	}
	sent := 3*n + backlog
	received := even.total() + split.total() + gotRO.total() + gotBacklog.total()
	within := "inside"
	if math.Abs(share-80) > m95 {
		within = "outside"
	}
	fmt.Fprintf(out, "\nsummary: sent %d, received %d; canary split %.0f/%.0f (configured 80/20, %s the 95%% range of ±%.1f); %d sends to read-only broker-b, %d of its stored messages read after the switch; %s data path, %d relay endpoints\n",
		sent, received, share, 100-share, within, m95, ro["broker-b"], gotBacklog["broker-b"], m.DataPath(), relayed)
	if ro["broker-b"] != 0 {
		return fmt.Errorf("read-only broker-b took %d sends", ro["broker-b"])
	}
	if gotBacklog["broker-b"] != before["broker-b"] {
		return fmt.Errorf("read %d of the %d messages stored on broker-b before it became read-only", gotBacklog["broker-b"], before["broker-b"])
	}
	return brokerKilledStep(ctx, out, say, cluster, cp, m, p, r, topic, n)
}

// relayEndpoints counts the virtual broker endpoints the mesh's relay serves.
func relayEndpoints(m *mesh.Mesh) (int, error) {
	dump, err := m.ConfigDump()
	if err != nil {
		return 0, err
	}
	var d struct {
		Relay map[string]string `json:"relayEndpoints"`
	}
	if err := json.Unmarshal(dump, &d); err != nil {
		return 0, fmt.Errorf("reading config dump: %w", err)
	}
	return len(d.Relay), nil
}

func serve(ctx context.Context, cp *meshtest.ControlPlane, spec meshtest.MeshSpec) error {
	res, err := spec.Resources()
	if err != nil {
		return err
	}
	return cp.Update(ctx, res)
}

// apply serves spec and waits until the mesh has it in force: every resource the
// mesh holds carries the control plane's new version.
func apply(ctx context.Context, cp *meshtest.ControlPlane, m *mesh.Mesh, spec meshtest.MeshSpec) error {
	if err := serve(ctx, cp, spec); err != nil {
		return err
	}
	want := cp.Version()
	for {
		dump, err := m.ConfigDump()
		if err != nil {
			return err
		}
		var d struct {
			Resources []struct{ Version string }
		}
		if err := json.Unmarshal(dump, &d); err != nil {
			return fmt.Errorf("reading config dump: %w", err)
		}
		current := len(d.Resources) > 0
		for _, r := range d.Resources {
			current = current && r.Version == want
		}
		if current {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for control plane version %s: %w", want, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
