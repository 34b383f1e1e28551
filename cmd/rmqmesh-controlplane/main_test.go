package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/rmqmesh/rmqmesh/controlplane"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/meshtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// issuePolicy is the policy of issue 14, item 9, verbatim.
const issuePolicy = "../../controlplane/policy/testdata/issue14.yaml"

// syncBuffer is a bytes.Buffer safe for the logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs the command with args and env until the test ends.
func start(t *testing.T, args []string, env map[string]string) (*controlplane.Server, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	ready := make(chan *controlplane.Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, func(k string) string { return env[k] }, out, func(s *controlplane.Server) { ready <- s })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	select {
	case s := <-ready:
		return s, out
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, out.String())
	case <-time.After(30 * time.Second):
		t.Fatal("control plane did not start")
	}
	return nil, nil
}

func waitHealthy(t *testing.T, admin string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + admin + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The issue's command line, with the issue's policy file, ports left to the
// system so tests can run in parallel.
func TestRun_IssueCommand(t *testing.T) {
	c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithBroker("broker-b", 0))
	s, out := start(t, []string{"-nameservers", c.NameServerAddr(), "-policy", issuePolicy, "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0"}, nil)
	health := waitHealthy(t, s.AdminAddr())
	if !strings.Contains(health, `"source": "`+issuePolicy+`"`) {
		t.Errorf("healthz does not name the policy file:\n%s", health)
	}
	if l := listenerOver(t, s.Addr(), nil); l != "rocketmq" {
		t.Errorf("listener %q, want rocketmq", l)
	}
	if !strings.Contains(out.String(), "serving xDS") {
		t.Errorf("log lacks the serving line:\n%s", out.String())
	}
}

// listenerOver asks for the listener "rocketmq" on a raw ADS stream and
// returns the name of what came back.
func listenerOver(t *testing.T, addr string, creds credentials.TransportCredentials) string {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.ListenerType, ResourceNames: []string{"rocketmq"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("ADS over %s: %v", addr, err)
	}
	if len(resp.GetResources()) != 1 {
		t.Fatalf("%d listeners", len(resp.GetResources()))
	}
	l := &listenerv3.Listener{}
	if err := resp.GetResources()[0].UnmarshalTo(l); err != nil {
		t.Fatal(err)
	}
	return l.GetName()
}

func TestRun_Environment(t *testing.T) {
	c := meshtest.RunCluster(t)
	s, _ := start(t, nil, map[string]string{
		"NAMESRV_ADDR":          "127.0.0.1:1;" + c.NameServerAddr(),
		"RMQMESH_CP_POLICY":     issuePolicy,
		"RMQMESH_CP_LISTEN":     "127.0.0.1:0",
		"RMQMESH_CP_ADMIN":      "127.0.0.1:0",
		"RMQMESH_CP_LOG_FORMAT": "json",
	})
	health := waitHealthy(t, s.AdminAddr())
	if !strings.Contains(health, c.NameServerAddr()) || !strings.Contains(health, "127.0.0.1:1") {
		t.Errorf("healthz does not list both nameservers of NAMESRV_ADDR:\n%s", health)
	}
}

func TestRun_Errors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("listeners:\n  - name: x\n    routes: [{cluster: nope}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-policy", issuePolicy}, "no nameservers"},
		{[]string{"-nameservers", "127.0.0.1:1"}, "no policy file"},
		{[]string{"-nameservers", "127.0.0.1:1", "-policy", bad}, `bad.yaml:3: listeners[0].routes[0].cluster: no cluster named "nope"`},
		{[]string{"-nameservers", "127.0.0.1:1", "-policy", issuePolicy, "-tls-cert", "x.pem"}, "-tls-cert and -tls-key go together"},
		{[]string{"-nameservers", "127.0.0.1:1", "-policy", issuePolicy, "-tls-client-ca", "ca.pem"}, "-tls-client-ca needs"},
		{[]string{"-nameservers", "127.0.0.1:1", "-policy", issuePolicy, "-tls-cert", "x.pem", "-tls-key", "y.pem"}, `TLS key pair "x.pem"`},
		{[]string{"-nameservers", "127.0.0.1:1", "-policy", issuePolicy, "-log-level", "loud"}, `-log-level "loud"`},
		{[]string{"-nameservers", "127.0.0.1:1", "-policy", issuePolicy, "extra"}, "unexpected arguments"},
		{[]string{"-no-such-flag"}, "flag provided but not defined"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), c.args, func(string) string { return "" }, &out, nil)
		if err == nil || !strings.Contains(err.Error()+out.String(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

// TLS and mutual TLS on the xDS port.
func TestRun_TLS(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := newCA(t)
	write := func(name string, der []byte, typ string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caPath := write("ca.pem", caCert.Raw, "CERTIFICATE")
	srvDER, srvKey := leaf(t, caCert, caKey, "localhost", true)
	srvKeyDER, _ := x509.MarshalECPrivateKey(srvKey)
	cliDER, cliKey := leaf(t, caCert, caKey, "client", false)
	c := meshtest.RunCluster(t)
	s, _ := start(t, []string{"-nameservers", c.NameServerAddr(), "-policy", issuePolicy, "-listen", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-tls-cert", write("srv.pem", srvDER, "CERTIFICATE"), "-tls-key", write("srv.key", srvKeyDER, "EC PRIVATE KEY"), "-tls-client-ca", caPath}, nil)
	waitHealthy(t, s.AdminAddr())
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	client := tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{client}})
	if l := listenerOver(t, s.Addr(), creds); l != "rocketmq" {
		t.Errorf("listener over mTLS: %q", l)
	}
	// Without a client certificate the handshake fails.
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err == nil {
		_ = stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.ListenerType, ResourceNames: []string{"rocketmq"}})
		_, err = stream.Recv()
	}
	if err == nil {
		t.Error("a client without a certificate was served")
	}
}

func newCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, name string, server bool) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	usage := x509.ExtKeyUsageClientAuth
	if server {
		usage = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}
