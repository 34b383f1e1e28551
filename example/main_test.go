package main

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func TestMain(m *testing.M) {
	meshtest.QuietClientLogs()
	goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
}

// testConsumers starts the demo's consumers with meshtest.StartConsumer, which
// keeps the official client's own data races out of -race.
func testConsumers(t *testing.T) func(*meshtest.Cluster) consumerStarter {
	return func(c *meshtest.Cluster) consumerStarter {
		return func(group string, pc rocketmq.PushConsumer) (func(), error) {
			return meshtest.StartConsumer(t, c, group, pc), nil
		}
	}
}

func TestRunEmbedded(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const n = 300
	err := runEmbedded(ctx, &out, slog.New(slog.DiscardHandler), embeddedOptions{topic: "orders", n: n, consumers: testConsumers(t)})
	if err != nil {
		t.Fatalf("runEmbedded: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"1. every broker", "2. canary split", "3. broker-b read-only",
		// Every step says what it sent and what it received.
		"sent 300:", "received 300:",
		"95% of runs land within 80 ± 4.5 points, 99% within ± 5.9",
		"sent 30 before the switch:", "read after it became read-only",
		"summary: sent 930, received 930", "0 sends to read-only broker-b",
		// The relay is the default data path.
		"intercept data path, 3 relay endpoints",
		// Step 4: the relay hides a dead master from the application.
		"4. broker-a's master killed mid-traffic", "sends attempted 300, acknowledged 300, failed 0; consumed 300",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got := strings.Count(out.String(), "   received 300:"); got != 4 {
		t.Errorf("%d steps report 300 received, want 4:\n%s", got, out.String())
	}
}

func TestSplitMargins(t *testing.T) {
	for _, tc := range []struct {
		p        float64
		n        int
		p95, p99 float64
	}{
		{0.8, 300, 4.53, 5.95},
		{0.8, 2000, 1.75, 2.30},
		{0.5, 100, 9.80, 12.88},
	} {
		p95, p99 := splitMargins(tc.p, tc.n)
		if math.Abs(p95-tc.p95) > 0.01 || math.Abs(p99-tc.p99) > 0.01 {
			t.Errorf("splitMargins(%v, %d) = %.2f, %.2f; want %.2f, %.2f", tc.p, tc.n, p95, p99, tc.p95, tc.p99)
		}
	}
	if p95, _ := splitMargins(0.8, 0); !math.IsInf(p95, 1) {
		t.Errorf("splitMargins with no sends = %v, want +Inf", p95)
	}
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
	cp := meshtest.RunControlPlane(t)
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
	cfg, err := bootstrap.FromEnv()
	if err != nil {
		t.Fatalf("bootstrap.FromEnv with the control plane's bootstrap set: %v", err)
	}
	var out bytes.Buffer
	err = runExternal(ctx, &out, slog.New(slog.DiscardHandler), externalOptions{
		cfg: cfg, target: "xds:///rocketmq", topic: "orders", n: 20, wait: meshtest.DefaultTimeout,
		consumers: testConsumers(t)(cluster),
	})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"waiting up to 30s for xDS server " + cp.Addr(),
		"the control plane answered",
		`sent 20 to "orders":     broker-a 20 (100%)`,
		"received 20:          broker-a 20 (100%)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRunExternal_NoControlPlane checks that the demo says what it waits for, and
// fails with the mesh's reason rather than printing as if connected. The
// resource timeout is longer than the wait, so WaitReady has an answer before
// the wait ends only if it fails fast.
func TestRunExternal_NoControlPlane(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := lis.Addr().String()
	lis.Close()
	cfg, err := bootstrap.Parse([]byte(`{"xds_servers":[{"server_uri":"`+dead+`","channel_creds":[{"type":"insecure"}]}],"node":{"id":"demo-test"},"rmqmesh":{"resource_timeout":"60s"}}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	var out bytes.Buffer
	err = runExternal(ctx, &out, slog.New(slog.DiscardHandler), externalOptions{
		cfg: cfg, target: "xds:///rocketmq", topic: "orders", n: 1, wait: 2 * time.Second, consumers: startPlain,
	})
	if err == nil {
		t.Fatalf("the demo succeeded without a control plane:\n%s", out.String())
	}
	if !strings.Contains(err.Error(), "the control plane did not answer") {
		t.Errorf("error %q does not say the control plane did not answer", err)
	}
	if want := "waiting up to 2s for xDS server " + dead; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out.String())
	}
	if strings.Contains(out.String(), "answered") || strings.Contains(out.String(), "sent") {
		t.Errorf("the demo printed as if the control plane had answered:\n%s", out.String())
	}
}

// TestSampleBootstrap parses example/bootstrap.json, the file the README's
// external-mode instructions use, so it never rots.
func TestSampleBootstrap(t *testing.T) {
	cfg, err := bootstrap.FromFile("bootstrap.json")
	if err != nil {
		t.Fatalf("example/bootstrap.json: %v", err)
	}
	if len(cfg.XDSServers) != 1 || cfg.XDSServers[0].ServerURI != "127.0.0.1:18000" || cfg.XDSServers[0].ChannelCreds.Type != "insecure" {
		t.Errorf("xds_servers = %+v, want one insecure server at 127.0.0.1:18000", cfg.XDSServers)
	}
	if cfg.NodeConfig.ID != "orders-service-1" || cfg.NodeConfig.Cluster != "orders-service" {
		t.Errorf("node = %+v, want id orders-service-1 in cluster orders-service", cfg.NodeConfig)
	}
	if cfg.Mesh.Protocol != bootstrap.ProtocolSotW || cfg.Mesh.ResourceTimeout != 15*time.Second {
		t.Errorf("rmqmesh settings = %+v, want sotw and 15s", cfg.Mesh)
	}
}

// The -controlplane demo, with the policy file the repository ships.
func TestRunControlPlane(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := runControlPlane(ctx, &out, slog.New(slog.DiscardHandler), embeddedOptions{topic: "orders", n: 200, consumers: testConsumers(t)})
	if err != nil {
		t.Fatalf("runControlPlane: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"1. the shipped policy", "2. policy edited",
		"95% of runs land within 80 ± 5.5 points",
		"summary: sent 400, received 400; 0 sends to read-only broker-b",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if got := strings.Count(out.String(), "   received 200:"); got != 2 {
		t.Errorf("%d steps report 200 received, want 2:\n%s", got, out.String())
	}
}
