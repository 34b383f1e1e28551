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

	"github.com/rmqmesh/rmqmesh/meshtest"
)

func TestMain(m *testing.M) {
	rlog.SetLogLevel("fatal")
	goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
}

func TestRunEmbedded(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runEmbedded(ctx, &out, slog.New(slog.DiscardHandler), "orders", 100, false); err != nil {
		t.Fatalf("runEmbedded: %v\n%s", err, out.String())
	}
	for _, want := range []string{"1. every broker", "2. canary split", "3. broker-b read-only", "summary: sent 300, received 300", "0 sends to read-only broker-b"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunExternal runs the demo's bootstrap path against a control plane it has
// never seen, as a user with a real one would.
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
	if !bootstrapInEnvironment() {
		t.Fatal("bootstrap in the environment not detected")
	}
	var out bytes.Buffer
	if err := runExternal(ctx, &out, slog.New(slog.DiscardHandler), "xds:///rocketmq", "orders", 20); err != nil {
		t.Fatalf("runExternal: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "broker-a 20 (100%)") {
		t.Errorf("output does not show 20 messages on broker-a:\n%s", out.String())
	}
}
