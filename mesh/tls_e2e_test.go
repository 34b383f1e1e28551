package mesh_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/routing"
)

// Identities of the TLS tests, as Istio's SPIFFE ids name workloads.
const (
	brokerID = "spiffe://cluster.local/ns/rmq/sa/broker"
	clientID = "spiffe://cluster.local/ns/app/sa/producer"
)

// tlsWorld is a CA, a broker certificate and the client's certificate files
// written where Istio's agent writes them.
type tlsWorld struct {
	ca     *meshtest.CA
	broker *meshtest.Leaf
	client *meshtest.Leaf
	dir    string
	files  meshtest.CertFiles
}

func newTLSWorld(t *testing.T) *tlsWorld {
	t.Helper()
	w := &tlsWorld{ca: meshtest.NewCA(t, "mesh-root"), dir: t.TempDir()}
	w.broker = w.ca.Issue(t, meshtest.LeafSpec{CommonName: "broker", URIs: []string{brokerID}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	w.client = w.ca.Issue(t, meshtest.LeafSpec{CommonName: "producer", URIs: []string{clientID}})
	w.files = meshtest.WriteIstioCerts(t, w.dir, w.client, w.ca)
	return w
}

// bootstrap is the certificate provider instance "default" over the files,
// read again every refresh.
func (w *tlsWorld) bootstrap(refresh time.Duration) meshtest.BootstrapOption {
	return meshtest.WithBootstrapCertificateProvider("default", w.files, refresh)
}

// withTLS is allBrokers with the cluster's transport_socket set.
func withTLS(spec meshtest.UpstreamTLSSpec) func(c *meshtest.Cluster) meshtest.MeshSpec {
	return func(c *meshtest.Cluster) meshtest.MeshSpec {
		s := allBrokers(c)
		s.Clusters[0].TransportSocket = meshtest.UpstreamTLSSocket(spec)
		return s
	}
}

// trySend sends one message with a producer that gives up after one retry
// and returns the error.
func trySend(h *harness, topic string) (*primitive.SendResult, error) {
	h.t.Helper()
	p := h.producer(producer.WithRetry(1))
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	return p.SendSync(ctx, primitive.NewMessage(topic, []byte("hello")))
}

// Issue 16 item 1: the TLS matrix, end to end with the official client:
// broker TLS on and off, client certificates required or not, a cluster
// asking for TLS or not. What works works through the relay with the
// identities checked; what does not fails with an error naming the cluster
// and the reason, and never falls back to plaintext.
func TestMesh_TLSMatrix(t *testing.T) {
	tests := []struct {
		name        string
		brokerTLS   bool // the brokers serve TLS
		requireCert bool // … and require a client certificate
		clusterTLS  *meshtest.UpstreamTLSSpec
		wantErr     []string // substrings of the send error; nil: the send works
	}{
		{name: "plaintext both sides"},
		{name: "TLS without client certificate", brokerTLS: true, clusterTLS: &meshtest.UpstreamTLSSpec{NoClientCert: true, SANs: []string{brokerID}}},
		{name: "mTLS", brokerTLS: true, requireCert: true, clusterTLS: &meshtest.UpstreamTLSSpec{SANs: []string{brokerID}}},
		{name: "mTLS without SAN matchers", brokerTLS: true, requireCert: true, clusterTLS: &meshtest.UpstreamTLSSpec{}},
		{name: "broker requires a certificate the cluster does not send", brokerTLS: true, requireCert: true,
			clusterTLS: &meshtest.UpstreamTLSSpec{NoClientCert: true}, wantErr: []string{`cluster "brokers"`, "certificate required"}},
		{name: "TLS cluster, plaintext broker", clusterTLS: &meshtest.UpstreamTLSSpec{},
			wantErr: []string{`cluster "brokers": TLS to broker "broker-a"`}},
		{name: "plaintext cluster, TLS broker", brokerTLS: true, wantErr: []string{`broker "broker-a"`}},
		{name: "SAN mismatch", brokerTLS: true, clusterTLS: &meshtest.UpstreamTLSSpec{SANs: []string{"spiffe://cluster.local/ns/rmq/sa/impostor"}},
			wantErr: []string{`cluster "brokers": TLS to broker "broker-a"`, "no subject alternative name", brokerID}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newTLSWorld(t)
			ic := interceptConfig{harnessConfig: harnessConfig{topics: []string{"orders"}, spec: allBrokers,
				bootstrap: []meshtest.BootstrapOption{w.bootstrap(0)}}}
			if tc.clusterTLS != nil {
				ic.spec = withTLS(*tc.clusterTLS)
			}
			if tc.brokerTLS {
				var clientCA *meshtest.CA
				if tc.requireCert {
					clientCA = w.ca
				}
				ic.cluster = append(ic.cluster, meshtest.WithBrokerTLS(meshtest.ServerTLS(w.broker, clientCA)))
			}
			h := newInterceptHarness(t, ic)
			broker := h.cluster.Broker("broker-a")
			res, err := trySend(h, "orders")
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("send = %v, want an error", res)
				}
				for _, want := range tc.wantErr {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("send error %q does not name %s", err, want)
					}
				}
				if n := len(broker.Messages("orders")); n != 0 {
					t.Errorf("the broker stored %d messages", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			col, _ := h.consume(uniqueName("cg"), "orders", nil)
			meshtest.WaitFor(t, "the message consumed", func() bool { return col.Distinct() == 1 })
			peers := broker.TLSClients()
			switch {
			case !tc.brokerTLS:
				if len(peers) != 0 {
					t.Errorf("a plaintext broker saw TLS clients %v", peers)
				}
			case len(peers) == 0:
				t.Error("the broker saw no TLS client")
			}
			for _, p := range peers {
				sent := p.Serial != nil && p.Serial.Cmp(w.client.Serial) == 0 && len(p.URIs) == 1 && p.URIs[0] == clientID
				if wantCert := !tc.clusterTLS.NoClientCert; sent != wantCert {
					t.Errorf("broker saw client %+v; want the relay's certificate: %v", p, wantCert)
				}
			}
		})
	}
}

// Issue 16 item 1: a broker whose certificate does not verify is not used:
// sends go to the brokers that verify, and nothing reaches the other.
func TestMesh_TLSBadBrokerCertificateIsNotUsed(t *testing.T) {
	w := newTLSWorld(t)
	rogue := meshtest.NewCA(t, "rogue")
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		brokers: []string{"broker-a", "broker-b"}, topics: []string{"orders"},
		spec: withTLS(meshtest.UpstreamTLSSpec{SANs: []string{brokerID}}), bootstrap: []meshtest.BootstrapOption{w.bootstrap(0)},
	}, cluster: []meshtest.ClusterOption{meshtest.WithBrokerTLS(meshtest.ServerTLS(w.broker, w.ca))}})
	h.cluster.Broker("broker-a").SetTLS(meshtest.ServerTLS(rogue.Issue(t, meshtest.LeafSpec{URIs: []string{brokerID}}), w.ca))
	sent := h.sendN(h.producer(), "orders", 10)
	if sent["broker-a"]+sent["broker-b"] != 10 {
		t.Fatalf("sends landed on %v", sent)
	}
	if n := len(h.cluster.Broker("broker-a").Messages("orders")); n != 0 {
		t.Errorf("broker-a, whose certificate does not verify, stored %d messages", n)
	}
	if n := len(h.cluster.Broker("broker-b").Messages("orders")); n != 10 {
		t.Errorf("broker-b stored %d messages, want 10", n)
	}
	if len(h.cluster.Broker("broker-a").TLSClients()) != 0 {
		t.Errorf("broker-a completed a handshake with the relay: %v", h.cluster.Broker("broker-a").TLSClients())
	}
}

// Issue 16 item 1: certificates rotated on disk (the client's, and the CA
// bundle) and on the broker are picked up without a restart; connections
// already open keep working through the rotation, and new ones present the
// new certificate.
func TestMesh_TLSRotation(t *testing.T) {
	w := newTLSWorld(t)
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		topics: []string{"orders"}, spec: withTLS(meshtest.UpstreamTLSSpec{SANs: []string{brokerID}}),
		bootstrap: []meshtest.BootstrapOption{w.bootstrap(20 * time.Millisecond)},
	}, cluster: []meshtest.ClusterOption{meshtest.WithBrokerTLS(meshtest.ServerTLS(w.broker, w.ca))}})
	broker := h.cluster.Broker("broker-a")
	p := h.producer()
	h.sendN(p, "orders", 3)
	handshakes := len(broker.TLSClients())
	if handshakes == 0 || broker.TLSClients()[0].Serial.Cmp(w.client.Serial) != 0 {
		t.Fatalf("before the rotation the broker saw %v, want the first client certificate", broker.TLSClients())
	}

	// A new CA signs everything from now on; the client trusts both for the
	// changeover, as a mesh rotating its root does.
	ca2 := meshtest.NewCA(t, "mesh-root-2")
	client2 := ca2.Issue(t, meshtest.LeafSpec{CommonName: "producer", URIs: []string{clientID}})
	meshtest.WriteIstioCerts(t, w.dir, client2, w.ca, ca2)
	broker2 := ca2.Issue(t, meshtest.LeafSpec{URIs: []string{brokerID}})
	both := meshtest.ServerTLS(broker2, ca2)
	both.ClientCAs.AddCert(w.ca.Certificate())
	broker.SetTLS(both)

	// The established connection carries on.
	h.sendN(p, "orders", 3)
	if n := len(broker.TLSClients()); n != handshakes {
		t.Fatalf("the rotation made %d new handshakes on an established connection", n-handshakes)
	}
	// New connections use the rotated files. The refresh interval is short,
	// but a loaded machine may read the files a little later: wait for it.
	meshtest.WaitFor(t, "a handshake with the rotated client certificate", func() bool {
		h.cluster.Broker("broker-a").CloseClientConnections()
		res, err := trySend(h, "orders")
		if err != nil || res.Status != primitive.SendOK {
			return false
		}
		peers := broker.TLSClients()
		return peers[len(peers)-1].Serial.Cmp(client2.Serial) == 0
	})
	if fails := broker.TLSFailures(); len(fails) > 0 {
		t.Logf("handshakes refused while the files rotated: %q", fails)
	}
}

// Issue 16 item 1: a cluster whose TLS names a certificate provider instance
// the bootstrap does not have is NACKed, and the mesh says so.
func TestMesh_TLSUnknownCertificateProviderIsNACKed(t *testing.T) {
	w := newTLSWorld(t)
	newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		topics: []string{"orders"}, spec: withTLS(meshtest.UpstreamTLSSpec{Instance: "spire"}),
		bootstrap: []meshtest.BootstrapOption{w.bootstrap(0)},
		notReady:  `root certificate provider instance "spire" is not in the bootstrap's certificate_providers`,
	}})
}

// Issue 16 item 1: a mesh without the relay cannot honour a TLS cluster:
// its routes fail with the reason instead of sending clients to the broker
// in plaintext.
func TestMesh_TLSClusterOnTheDirectPath(t *testing.T) {
	w := newTLSWorld(t)
	h := newHarness(t, harnessConfig{
		topics: []string{"orders"}, spec: withTLS(meshtest.UpstreamTLSSpec{}), bootstrap: []meshtest.BootstrapOption{w.bootstrap(0)},
		meshOpts: []mesh.Option{mesh.WithDataPath(routing.DataPathDirect)},
	})
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	_, err := h.mesh.TopicRoute(ctx, "orders")
	if err == nil || !strings.Contains(err.Error(), "only the intercept data path provides") {
		t.Fatalf("TopicRoute on the direct path = %v, want an error naming TLS", err)
	}
}

// Issue 16 item 8: with WithTLSRequired, a control plane that leaves TLS
// out of a cluster gets no plaintext traffic: the routes fail, naming the
// cluster and the reason, and once the cluster asks for TLS they work.
func TestMesh_TLSRequired(t *testing.T) {
	w := newTLSWorld(t)
	h := newInterceptHarness(t, interceptConfig{harnessConfig: harnessConfig{
		topics: []string{"orders"}, spec: allBrokers, bootstrap: []meshtest.BootstrapOption{w.bootstrap(0)},
		meshOpts: []mesh.Option{mesh.WithTLSRequired()},
	}, cluster: []meshtest.ClusterOption{meshtest.WithBrokerTLS(meshtest.ServerTLS(w.broker, w.ca))}})
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if _, err := h.mesh.TopicRoute(ctx, "orders"); err == nil || !strings.Contains(err.Error(), `cluster "brokers"`) || !strings.Contains(err.Error(), "requires TLS") {
		t.Fatalf("TopicRoute of a plaintext cluster = %v, want an error naming the cluster and TLS", err)
	}
	h.apply(withTLS(meshtest.UpstreamTLSSpec{SANs: []string{brokerID}})(h.cluster))
	h.waitApplied()
	if res, err := trySend(h, "orders"); err != nil {
		t.Fatalf("send once the cluster asks for TLS: %v", err)
	} else if res.Status != primitive.SendOK {
		t.Fatalf("send status %v", res.Status)
	}
	if len(h.cluster.Broker("broker-a").TLSClients()) == 0 {
		t.Error("the broker saw no TLS client")
	}
}
