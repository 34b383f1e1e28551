package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rmqmesh/rmqmesh/controlplane"
	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
)

// demoPolicy is the policy the -controlplane demo starts with.
//
//go:embed policy.yaml
var demoPolicy string

// runControlPlane runs the whole system in process: a meshtest cluster, the
// control plane discovering it and reading policy.yaml, a mesh following the
// control plane. It produces with the shipped policy (broker-b read-only),
// then edits the policy file so broker-b takes writes again and produces
// once more: the 80/20 split shows.
func runControlPlane(ctx context.Context, out io.Writer, log *slog.Logger, o embeddedOptions) error {
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
	dir, err := os.MkdirTemp("", "rmqmesh-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	policyFile := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(demoPolicy), 0o644); err != nil {
		return err
	}
	cp, err := controlplane.New(
		controlplane.WithNameservers(cluster.NameServerAddr()),
		controlplane.WithPolicyFile(policyFile),
		controlplane.WithAdminAddress("127.0.0.1:0"),
		controlplane.WithLogger(log),
		controlplane.WithPollInterval(500*time.Millisecond),
		controlplane.WithPolicyCheckInterval(200*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer cp.Close()
	say("rmqmesh demo with the control plane (embedded cluster)")
	say("  cluster:       nameserver %s; broker-a %s (replica %s), broker-b %s", cluster.NameServerAddr(),
		cluster.Broker("broker-a").Addr(), cluster.Broker("broker-a").Replica(1).Addr(), cluster.Broker("broker-b").Addr())
	say("  control plane: xDS %s, admin http://%s/config_dump, policy %s", cp.Addr(), cp.AdminAddr(), policyFile)

	m, err := mesh.New(ctx, "xds:///rocketmq", mesh.WithBootstrap(demoBootstrap(cp.Addr())), mesh.WithLogger(log))
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.WaitReady(ctx); err != nil {
		return err
	}
	say("  mesh:          target xds:///rocketmq, nameserver endpoint %s", m.NameServerAddr())

	say("\n1. the shipped policy: 80/20, broker-b read-only")
	p, err := newProducer(m, "demo-producer")
	if err != nil {
		return err
	}
	defer p.Shutdown()
	shipped, err := produce(ctx, p, topic, "shipped", n)
	if err != nil {
		return err
	}
	say("   sent %d:       %v", n, shipped)
	r, err := newReceiver(m, start, "demo-consumer", topic)
	if err != nil {
		return err
	}
	defer r.stop()
	got, err := r.waitFor(ctx, "shipped-", n)
	if err != nil {
		return err
	}
	say("   received %d:   %v", got.total(), got)

	say("\n2. policy edited (broker-b: {weight: 20}), no restart")
	edited := strings.Replace(demoPolicy, "{weight: 20, perm: read-only}", "{weight: 20}", 1)
	if edited == demoPolicy {
		return fmt.Errorf("policy.yaml no longer has broker-b read-only: the demo's edit does not apply")
	}
	if err := os.WriteFile(policyFile, []byte(edited), 0o644); err != nil {
		return err
	}
	if err := waitWritable(ctx, m, topic, "broker-b"); err != nil {
		return err
	}
	// A running client learns of new write queues at its 30 s route poll; a
	// client started now learns at once.
	p2, err := newProducer(m, "demo-producer-2")
	if err != nil {
		return err
	}
	defer p2.Shutdown()
	split, err := produce(ctx, p2, topic, "edited", n)
	if err != nil {
		return err
	}
	say("   sent %d:       %v", n, split)
	share, _ := explainSplit(say, split, n, "in the policy")
	edited2, err := r.waitFor(ctx, "edited-", n)
	if err != nil {
		return err
	}
	say("   received %d:   %v", edited2.total(), edited2)

	fmt.Fprintf(out, "\nsummary: sent %d, received %d; %d sends to read-only broker-b; after the edit %.0f/%.0f (policy 80/20)\n",
		2*n, got.total()+edited2.total(), shipped["broker-b"], share, 100-share)
	if shipped["broker-b"] != 0 {
		return fmt.Errorf("read-only broker-b took %d sends", shipped["broker-b"])
	}
	return nil
}

// waitWritable waits until the mesh's route for topic lets broker take
// writes: the control plane has reloaded the policy and pushed it.
func waitWritable(ctx context.Context, m *mesh.Mesh, topic, broker string) error {
	for {
		rd, err := m.TopicRoute(ctx, topic)
		if err == nil {
			for _, q := range rd.QueueDatas {
				if q.BrokerName == broker && q.Perm&2 != 0 {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s to take writes: %w", broker, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// demoBootstrap is the bootstrap a user writes for the control plane:
// its address, insecure.
func demoBootstrap(addr string) []byte {
	b, _ := json.Marshal(map[string]any{
		"xds_servers": []any{map[string]any{"server_uri": addr, "channel_creds": []any{map[string]any{"type": "insecure"}}, "server_features": []string{"xds_v3"}}},
		"node":        map[string]any{"id": "rmqmesh-demo"},
	})
	return b
}
