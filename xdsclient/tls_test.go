package xdsclient_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// testPKI is a CA made at test time, so no key is ever committed.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serials atomic.Int64

func newTestPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serials.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a leaf certificate and key in PEM, and its serial.
func (p *testPKI) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial = serials.Add(1)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), serial
}

// serverTLS is a rotatable server-side TLS config requiring client
// certificates; it records the serial of every client certificate seen.
type serverTLS struct {
	cur  atomic.Pointer[tls.Config]
	mu   sync.Mutex
	seen map[int64]bool
}

func (s *serverTLS) set(t *testing.T, ca *testPKI) {
	t.Helper()
	certPEM, keyPEM, _ := ca.issue(t, "control-plane", true)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
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

func (s *serverTLS) sawClient(serial int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[serial]
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
	ca1 := newTestPKI(t, "ca-1")
	srvTLS.set(t, ca1)
	cp := meshtest.RunControlPlane(t, meshtest.WithControlPlaneTLS(&tls.Config{
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return srvTLS.cur.Load(), nil },
	}))
	if err := cp.Update(ctx, mustResources(t, baseSpec())); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM, keyPEM, serial1 := ca1.issue(t, "client", false)
	writeAtomically(t, caFile, ca1.pem)
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
	ca2 := newTestPKI(t, "ca-2")
	srvTLS.set(t, ca2)
	certPEM, keyPEM, serial2 := ca2.issue(t, "client", false)
	writeAtomically(t, keyFile, keyPEM)
	writeAtomically(t, certFile, certPEM)
	writeAtomically(t, caFile, ca2.pem)
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
