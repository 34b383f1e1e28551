package mesh_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Issue 16 item 4: a run with ACL credentials and mTLS, logged at debug
// level, with requests the relay re-signs, refuses and fails, logs neither
// the secret key, nor the security token, nor the private key, and the
// config dump holds none of them either.
//
// Only sends run: rocketmq-client-go v2.1.2 leaves the security token out of
// the signature it computes (the broker's validator, and meshtest's, include
// it), so its requests the relay does not re-sign, heartbeats among them, are
// refused when a token is set. The relay re-signs sends (it adds "bname"),
// correctly.
func TestMesh_SecretsNeverLogged(t *testing.T) {
	creds := primitive.Credentials{AccessKey: "mesh-app", SecretKey: "s3cret-never-logged", SecurityToken: "t0ken-never-logged"}
	w := newTLSWorld(t)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newInterceptHarness(t, interceptConfig{
		harnessConfig: harnessConfig{
			brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"},
			spec:      withTLS(meshtest.UpstreamTLSSpec{SANs: []string{brokerID}}),
			bootstrap: []meshtest.BootstrapOption{w.bootstrap(0)},
			meshOpts:  []mesh.Option{mesh.WithCredentials(creds), mesh.WithLogger(log)},
		},
		cluster: []meshtest.ClusterOption{
			meshtest.WithACL(creds.AccessKey, creds.SecretKey),
			meshtest.WithBrokerTLS(meshtest.ServerTLS(w.broker, w.ca)),
		},
	})
	if got := h.sendN(h.producer(), "orders", 10); got["broker-a"]+got["broker-b"] != 10 {
		t.Fatalf("signed sends landed on %v", got)
	}
	// A route to a cluster that does not exist makes the nameserver
	// endpoint refuse the topic.
	spec := withTLS(meshtest.UpstreamTLSSpec{SANs: []string{brokerID}})(h.cluster)
	spec.Routes = append([]meshtest.RouteSpec{{Topic: "nowhere", Cluster: "missing"}}, spec.Routes...)
	h.apply(spec)
	h.waitApplied()
	if _, err := trySend(h, "nowhere"); err == nil {
		t.Error("a send to a topic routed to a missing cluster worked")
	}
	// A broker whose certificate fails: the relay logs the TLS failure.
	rogue := meshtest.NewCA(t, "rogue")
	h.cluster.Broker("broker-a").SetTLS(meshtest.ServerTLS(rogue.Issue(t, meshtest.LeafSpec{URIs: []string{brokerID}}), w.ca))
	h.cluster.Broker("broker-a").CloseClientConnections()
	// Sends addressed to broker-a make the relay dial it (the selector's own
	// picks may all go to broker-b); the relay redirects or refuses them.
	p := h.producer()
	meshtest.WaitFor(t, "the relay's TLS failure with the rogue broker logged", func() bool {
		msg := primitive.NewMessage("orders", []byte("to the rogue broker"))
		msg.Queue = &primitive.MessageQueue{Topic: "orders", BrokerName: "broker-a", QueueId: 0}
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		_, _ = p.SendSync(ctx, msg)
		return strings.Contains(logs.String(), "TLS failed")
	})
	dump, err := h.mesh.ConfigDump()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=DEBUG") || !strings.Contains(logs.String(), "TLS failed") {
		t.Fatalf("the run logged too little to prove anything:\n%s", logs.String())
	}
	keyBody := strings.Split(strings.TrimSpace(string(w.client.KeyPEM)), "\n")[1]
	for what, secret := range map[string]string{"secret key": creds.SecretKey, "security token": creds.SecurityToken, "private key": keyBody} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds the %s", what)
		}
		if bytes.Contains(dump, []byte(secret)) {
			t.Errorf("the config dump holds the %s", what)
		}
	}
}
