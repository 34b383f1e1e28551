package meshtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CA is a certificate authority made at test time, so that no key is ever
// committed. It issues the brokers' and the clients' certificates of TLS
// tests:
//
//	ca := meshtest.NewCA(t, "mesh-root")
//	broker := ca.Issue(t, meshtest.LeafSpec{URIs: []string{"spiffe://cluster.local/ns/rmq/sa/broker"}, IPs: []net.IP{net.IPv6loopback}})
//	cluster := meshtest.RunCluster(t, meshtest.WithBrokerTLS(meshtest.ServerTLS(broker, ca)))
//
// Its methods are safe for concurrent use.
type CA struct {
	// Immutable after NewCA.
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

// serials numbers the certificates of every CA of the process, so that each
// certificate a test sees is told apart by its serial.
var serials struct {
	mu   sync.Mutex
	next int64
}

func nextSerial() *big.Int {
	serials.mu.Lock()
	defer serials.mu.Unlock()
	serials.next++
	return big.NewInt(serials.next)
}

// NewCA makes a self-signed CA valid from an hour ago for a day. It fails t
// when the key cannot be made.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("meshtest: CA key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("meshtest: CA certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("meshtest: CA certificate: %v", err)
	}
	return &CA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// CertPEM returns the CA's certificate in PEM, what a ca_certificate_file
// holds.
func (ca *CA) CertPEM() []byte { return ca.certPEM }

// Certificate returns the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Pool returns a pool holding the CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// LeafSpec says what a certificate [CA.Issue] makes names.
type LeafSpec struct {
	// CommonName is the subject's common name.
	CommonName string
	// DNSNames, IPs, URIs and Emails are the subject alternative names.
	DNSNames []string
	IPs      []net.IP
	URIs     []string
	Emails   []string
	// NotBefore and NotAfter bound the validity; zero values mean an hour
	// ago and a day from now.
	NotBefore, NotAfter time.Time
}

// Leaf is a certificate and its key, issued by a [CA] for both server and
// client authentication, as mesh workload certificates are.
type Leaf struct {
	// CertPEM and KeyPEM are what certificate_file and private_key_file hold.
	CertPEM, KeyPEM []byte
	// Certificate is the pair, ready for a tls.Config.
	Certificate tls.Certificate
	// Serial is the certificate's serial number.
	Serial *big.Int
}

// Issue makes a certificate for spec signed by the CA. It fails t on a
// malformed URI or when signing fails.
func (ca *CA) Issue(t testing.TB, spec LeafSpec) *Leaf {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("meshtest: leaf key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   nextSerial(),
		Subject:        pkix.Name{CommonName: spec.CommonName},
		NotBefore:      spec.NotBefore,
		NotAfter:       spec.NotAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:       spec.DNSNames,
		IPAddresses:    spec.IPs,
		EmailAddresses: spec.Emails,
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	}
	for _, u := range spec.URIs {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("meshtest: leaf URI %q: %v", u, err)
		}
		tmpl.URIs = append(tmpl.URIs, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatalf("meshtest: leaf certificate: %v", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatalf("meshtest: leaf key: %v", err)
	}
	l := &Leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		Serial:  tmpl.SerialNumber,
	}
	if l.Certificate, err = tls.X509KeyPair(l.CertPEM, l.KeyPEM); err != nil {
		t.Fatalf("meshtest: leaf pair: %v", err)
	}
	return l
}

// ServerTLS returns the TLS configuration of a server presenting leaf. With
// clientCA set it requires a client certificate that clientCA issued;
// without, it asks for none.
func ServerTLS(leaf *Leaf, clientCA *CA) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{leaf.Certificate}}
	if clientCA != nil {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = clientCA.Pool()
	}
	return cfg
}

// CertFiles are the PEM files a bootstrap's file_watcher certificate
// provider reads.
type CertFiles struct {
	CertificateFile, PrivateKeyFile, CACertificateFile string
}

// Istio's proxyless agent writes a workload's files under these names in
// its output directory (/var/lib/istio/data by default); a bootstrap names
// them in the certificate provider instance "default".
const (
	IstioCertChainFile = "cert-chain.pem"
	IstioKeyFile       = "key.pem"
	IstioRootCertFile  = "root-cert.pem"
)

// WriteIstioCerts writes leaf and roots (the CA certificates a client
// trusts, concatenated) to dir under the names Istio's agent uses, each
// file replaced atomically (written aside and renamed, as the agent and
// Kubernetes secret mounts do), and returns their paths. Calling it again
// rotates the files.
func WriteIstioCerts(t testing.TB, dir string, leaf *Leaf, roots ...*CA) CertFiles {
	t.Helper()
	var rootPEM []byte
	for _, ca := range roots {
		rootPEM = append(rootPEM, ca.certPEM...)
	}
	f := CertFiles{
		CertificateFile:   filepath.Join(dir, IstioCertChainFile),
		PrivateKeyFile:    filepath.Join(dir, IstioKeyFile),
		CACertificateFile: filepath.Join(dir, IstioRootCertFile),
	}
	type write struct {
		path string
		data []byte
	}
	writes := []write{{f.CACertificateFile, rootPEM}}
	if leaf != nil {
		writes = append(writes, write{f.PrivateKeyFile, leaf.KeyPEM}, write{f.CertificateFile, leaf.CertPEM})
	} else {
		f.CertificateFile, f.PrivateKeyFile = "", ""
	}
	for _, w := range writes {
		tmp := w.path + ".tmp"
		if err := os.WriteFile(tmp, w.data, 0o600); err != nil {
			t.Fatalf("meshtest: %v", err)
		}
		if err := os.Rename(tmp, w.path); err != nil {
			t.Fatalf("meshtest: %v", err)
		}
	}
	return f
}

// TLSPeer is what a TLS server of the cluster saw of one client that
// completed a handshake.
type TLSPeer struct {
	// Serial is the client certificate's serial number, nil when the
	// client sent none.
	Serial *big.Int
	// CommonName and URIs are the client certificate's subject common name
	// and URI SANs.
	CommonName string
	URIs       []string
}

// tlsState is a server's TLS configuration and what its handshakes saw.
type tlsState struct {
	mu       sync.Mutex
	config   *tls.Config // nil: plaintext
	peers    []TLSPeer
	failures []string
}

func (s *tlsState) current() *tls.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.config
}

func (s *tlsState) set(cfg *tls.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config = cfg
}

// handshakeTimeout bounds a client's TLS handshake with a server of the
// cluster.
const handshakeTimeout = 10 * time.Second

// handshake completes a TLS server handshake and records its outcome.
func (s *tlsState) handshake(tc *tls.Conn) error {
	_ = tc.SetDeadline(time.Now().Add(handshakeTimeout))
	err := tc.Handshake()
	_ = tc.SetDeadline(time.Time{})
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.failures = append(s.failures, err.Error())
		return err
	}
	var p TLSPeer
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		p.Serial, p.CommonName = certs[0].SerialNumber, certs[0].Subject.CommonName
		for _, u := range certs[0].URIs {
			p.URIs = append(p.URIs, u.String())
		}
	}
	s.peers = append(s.peers, p)
	return nil
}

func (s *tlsState) record() ([]TLSPeer, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]TLSPeer(nil), s.peers...), append([]string(nil), s.failures...)
}

// WithBrokerTLS makes every broker of the cluster serve TLS only, with cfg
// (see [ServerTLS]); set cfg.ClientAuth to require client certificates.
// [Broker.SetTLS] changes one broker's later.
func WithBrokerTLS(cfg *tls.Config) ClusterOption {
	return func(o *clusterOptions) { o.brokerTLS = cfg }
}

// SetTLS makes the broker serve new connections with cfg, or in plaintext
// when cfg is nil; established connections keep what they have. Tests
// rotate a broker's certificate with it.
func (b *Broker) SetTLS(cfg *tls.Config) { b.srv.tls.set(cfg) }

// TLSClients returns, in order, every client that completed a TLS
// handshake with the broker.
func (b *Broker) TLSClients() []TLSPeer {
	peers, _ := b.srv.tls.record()
	return peers
}

// TLSFailures returns the errors of every TLS handshake with the broker
// that failed, in order.
func (b *Broker) TLSFailures() []string {
	_, failures := b.srv.tls.record()
	return failures
}

// SetTLS makes the nameserver serve new connections with cfg, or in
// plaintext when cfg is nil.
func (n *NameServer) SetTLS(cfg *tls.Config) { n.srv.tls.set(cfg) }
