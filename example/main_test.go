package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/rlog"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func TestMain(m *testing.M) {
	rlog.SetLogLevel("fatal")
	goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
}

func TestRunEmbedded(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The demo's consumer starts after its first step's sends, well past the
	// official client's 10 ms route-update race (see warmInstance).
	if err := runEmbedded(ctx, &out, slog.New(slog.DiscardHandler), "orders", 300, false); err != nil {
		t.Fatalf("runEmbedded: %v\n%s", err, out.String())
	}
	for _, want := range []string{"1. every broker", "2. canary split", "3. broker-b read-only", "summary: sent 900, received 900", "0 sends to read-only broker-b", "intercept data path, 3 relay endpoints",
		"4. broker-a's master killed mid-traffic", "sends attempted 300, acknowledged 300, failed 0; consumed 300"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// warmInstance starts the demo's shared client instance ahead of the demo.
// rocketmq-client-go v2.1.2 reads consumer subscriptions in a route update 10 ms
// after its internal client starts, unsynchronised with the consumer's first
// rebalance, a race -race reports when a consumer starts within those 10 ms.
func warmInstance(t *testing.T, m *mesh.Mesh) {
	t.Helper()
	p, err := newProducer(m, "warm-up")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	time.Sleep(100 * time.Millisecond)
}

// TestRunExternal runs the demo's bootstrap path against a control plane it has
// never seen, as a user with a real one would.
// TestEmbeddedOnlyWithoutBootstrap checks that the demo picks the embedded
// mode exactly when none of the bootstrap variables is set, and the external
// one, which reports a bootstrap that does not load, otherwise.
func TestEmbeddedOnlyWithoutBootstrap(t *testing.T) {
	vars := []string{bootstrap.EnvRocketMQFile, bootstrap.EnvRocketMQConfig, bootstrap.EnvGRPCFile, bootstrap.EnvGRPCConfig}
	for _, v := range vars {
		t.Setenv(v, "")
	}
	if !embedded() {
		t.Fatal("embedded() = false with no bootstrap variable set")
	}
	for _, v := range vars {
		t.Setenv(v, "/nonexistent/bootstrap.json")
		if embedded() {
			t.Errorf("embedded() = true with %s set", v)
		}
		t.Setenv(v, "")
	}
}

func TestRunExternal(t *testing.T) {
	cluster := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithTopic("orders", 4))
	cp := meshtest.StartControlPlane(t)
	res, err := meshtest.MeshSpec{
		Listener: "rocketmq",
		Routes:   []meshtest.RouteSpec{{Cluster: "brokers"}},
		Clusters: []meshtest.ClusterSpec{{Name: "brokers", DataPath: "direct", Endpoints: cluster.BrokerEndpoints(4)}},
	}.Resources()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cp.Update(ctx, res); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROCKETMQ_XDS_BOOTSTRAP_CONFIG", string(cp.Bootstrap()))
	if embedded() {
		t.Fatal("bootstrap in the environment not detected")
	}
	m, err := mesh.New(ctx, "xds:///rocketmq")
	if err != nil {
		t.Fatalf("mesh.New from the environment's bootstrap: %v", err)
	}
	defer m.Close()
	warmInstance(t, m)
	var out bytes.Buffer
	if err := demoAgainst(ctx, &out, m, "xds:///rocketmq", "orders", 20); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "broker-a 20 (100%)") {
		t.Errorf("output does not show 20 messages on broker-a:\n%s", out.String())
	}
}

// The -controlplane demo, with the policy file the repository ships.
func TestRunControlPlane(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runControlPlane(ctx, &out, slog.New(slog.DiscardHandler), "orders", 200, false); err != nil {
		t.Fatalf("runControlPlane: %v\n%s", err, out.String())
	}
	for _, want := range []string{"1. the shipped policy", "2. policy edited", "summary: sent 400, received 400; 0 sends to read-only broker-b"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
