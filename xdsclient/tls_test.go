package xdsclient_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// issue returns a leaf certificate of ca for cn (valid for 127.0.0.1) and
// its key in PEM, and its serial.
func issue(t *testing.T, ca *meshtest.CA, cn string) (certPEM, keyPEM []byte, serial *big.Int) {
	t.Helper()
	l := ca.Issue(t, meshtest.LeafSpec{CommonName: cn, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
	return l.CertPEM, l.KeyPEM, l.Serial
}

// serverTLS is a rotatable server-side TLS config requiring client
// certificates; it records the serial of every client certificate seen.
type serverTLS struct {
	cur  atomic.Pointer[tls.Config]
	mu   sync.Mutex
	seen map[int64]bool
}

func (s *serverTLS) set(t *testing.T, ca *meshtest.CA) {
	t.Helper()
	certPEM, keyPEM, _ := issue(t, ca, "control-plane")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	s.cur.Store(&tls.Config{
		MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, NextProtos: []string{"h2"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.seen[cs.PeerCertificates[0].SerialNumber.Int64()] = true
			return nil
		},
	})
}

func (s *serverTLS) sawClient(serial *big.Int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[serial.Int64()]
}

// writeAtomically replaces path so a concurrent reader sees the old or the
// new content, never a torn file.
func writeAtomically(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Item 4 (gRFC A65): "tls" channel credentials read their files again per
// refresh_interval, so after a CA and certificate rotation the client
// reconnects with the new ones.
func TestClient_TLSCredentialsReload(t *testing.T) {
	ctx := testCtx(t)
	srvTLS := &serverTLS{seen: map[int64]bool{}}
	ca1 := meshtest.NewCA(t, "ca-1")
	srvTLS.set(t, ca1)
	cp := meshtest.RunControlPlane(t, meshtest.WithControlPlaneTLS(&tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return srvTLS.cur.Load(), nil },
	}))
	if err := cp.Update(ctx, mustResources(t, baseSpec())); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM, keyPEM, serial1 := issue(t, ca1, "client")
	writeAtomically(t, caFile, ca1.CertPEM())
	writeAtomically(t, certFile, certPEM)
	writeAtomically(t, keyFile, keyPEM)
	cfg := fmt.Sprintf(`{"xds_servers":[{"server_uri":%q,"channel_creds":[{"type":"tls","config":{
	  "ca_certificate_file":%q,"certificate_file":%q,"private_key_file":%q,"refresh_interval":"0.050s"}}]}]}`,
		cp.Addr(), caFile, certFile, keyFile)
	c := newClient(t, []byte(cfg))
	lw := newRecorder[*xdsclient.ListenerUpdate]()
	defer c.WatchListener("rmq-prod", lw)()
	lw.waitUpdate(t, "listener over TLS", nil)
	if !srvTLS.sawClient(serial1) {
		t.Fatal("the control plane did not see the client certificate")
	}

	// Rotate the CA, the server certificate and the client files, then
	// break the connection: only reloaded files can pass the handshake.
	ca2 := meshtest.NewCA(t, "ca-2")
	srvTLS.set(t, ca2)
	certPEM, keyPEM, serial2 := issue(t, ca2, "client")
	writeAtomically(t, keyFile, keyPEM)
	writeAtomically(t, certFile, certPEM)
	writeAtomically(t, caFile, ca2.CertPEM())
	cp.Stop()
	if err := cp.Restart(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a handshake with the rotated client certificate", func() bool { return srvTLS.sawClient(serial2) })
	spec := baseSpec()
	spec.Routes[0].Cluster = "after-rotation"
	spec.Clusters = append(spec.Clusters, meshtest.ClusterSpec{Name: "after-rotation", Endpoints: []meshtest.EndpointSpec{{Address: "127.0.0.1:1"}}})
	if err := cp.Update(ctx, mustResources(t, spec)); err != nil {
		t.Fatal(err)
	}
	lw.waitUpdate(t, "listener update after the rotation", func(u *xdsclient.ListenerUpdate) bool {
		return u.RouteConfig.GetRoutes()[0].GetRoute().GetCluster() == "after-rotation"
	})
}

// Issue 16 item 2: a control plane whose certificate does not verify is not
// used, and nothing falls back to plaintext: the watchers hear why.
func TestClient_TLSControlPlaneWithUntrustedCertificate(t *testing.T) {
	trusted, rogue := meshtest.NewCA(t, "trusted"), meshtest.NewCA(t, "rogue")
	certPEM, keyPEM, _ := issue(t, rogue, "control-plane")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cp := meshtest.RunControlPlane(t, meshtest.WithControlPlaneTLS(&tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}}))
	if err := cp.Update(testCtx(t), mustResources(t, baseSpec())); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeAtomically(t, caFile, trusted.CertPEM())
	c := newClient(t, []byte(fmt.Sprintf(`{"xds_servers":[{"server_uri":%q,"channel_creds":[{"type":"tls","config":{"ca_certificate_file":%q}}]}]}`, cp.Addr(), caFile)))
	lw := newRecorder[*xdsclient.ListenerUpdate]()
	defer c.WatchListener("rmq-prod", lw)()
	err = lw.waitResourceError(t, xdsclient.KindConnection)
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("resource error %q does not say the certificate failed", err)
	}
}
