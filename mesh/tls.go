package mesh

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
	"github.com/rmqmesh/rmqmesh/xdsclient/certprovider"
)

// WithTLSRequired makes the mesh refuse every cluster without a
// transport_socket: routes to it fail, naming the cluster and the reason,
// instead of handing clients, or the relay, a broker reached in plaintext.
// It is the application's guarantee against a control plane that leaves TLS
// out (by mistake, or because it was compromised); certificates still come
// from the bootstrap's certificate providers, and only the intercept data
// path can speak TLS.
func WithTLSRequired() Option {
	return optionFunc(func(c *config) { c.tlsRequired = true })
}

// upstreamTLS translates the clusters' xDS TLS contexts
// ([xdsclient.SecurityConfig]) into the relay's [transport.TLSConfigProvider]s,
// with key material from the bootstrap's certificate provider instances.
//
// A cluster keeps its provider for as long as its TLS setting is unchanged,
// so the relay's connections survive unrelated updates and certificate
// rotations (the provider reads the rotated files for the next handshake);
// a changed setting gets a new provider, and the relay replaces the
// connections made with the old one.
type upstreamTLS struct {
	// immutable after newUpstreamTLS
	store *certprovider.Store

	// byCluster is replaced, never modified: the relay reads it per request.
	byCluster atomic.Pointer[map[string]*clusterTLS]
}

func newUpstreamTLS(providers map[string]*bootstrap.CertProviderConfig, log *slog.Logger) *upstreamTLS {
	files := make(map[string]certprovider.Files, len(providers))
	for name, p := range providers {
		if fw := p.FileWatcher; fw != nil {
			files[name] = certprovider.Files{CertificateFile: fw.CertificateFile, PrivateKeyFile: fw.PrivateKeyFile,
				CACertificateFile: fw.CACertificateFile, RefreshInterval: fw.RefreshInterval}
		}
	}
	return &upstreamTLS{store: certprovider.NewStore(files, certprovider.WithLogger(log.With("component", "certprovider")))}
}

// set installs the TLS settings of the clusters in force, reusing the
// provider of every cluster whose setting is unchanged. Only the reconcile
// goroutine calls it.
func (u *upstreamTLS) set(settings map[string]*xdsclient.SecurityConfig) {
	var old map[string]*clusterTLS
	if p := u.byCluster.Load(); p != nil {
		old = *p
	}
	next := make(map[string]*clusterTLS, len(settings))
	for name, sec := range settings {
		if prev := old[name]; prev != nil && prev.sec.Equal(sec) {
			next[name] = prev
			continue
		}
		next[name] = &clusterTLS{cluster: name, sec: sec, store: u.store}
	}
	u.byCluster.Store(&next)
}

// provider returns the TLS provider of cluster, nil for a plaintext one.
func (u *upstreamTLS) provider(cluster string) transport.TLSConfigProvider {
	if p := u.byCluster.Load(); p != nil {
		if c := (*p)[cluster]; c != nil {
			return c
		}
	}
	return nil // an untyped nil: plaintext
}

// clusterTLS is one cluster's TLS setting.
type clusterTLS struct {
	cluster string
	sec     *xdsclient.SecurityConfig
	store   *certprovider.Store
}

var _ transport.TLSConfigProvider = (*clusterTLS)(nil)

// TLSConfig returns the configuration of one connection, with the key
// material current now. The broker is verified here rather than by
// crypto/tls's host name check: the relay dials brokers by IP address,
// and mesh certificates name workloads (SPIFFE URIs), not addresses.
func (c *clusterTLS) TLSConfig() (*tls.Config, error) {
	sec := c.sec
	cfg := &tls.Config{
		MinVersion: max(tls.VersionTLS12, sec.MinVersion),
		MaxVersion: sec.MaxVersion,
		ServerName: sec.SNI,
		NextProtos: sec.ALPN,
		// Verification is VerifyConnection's, below.
		InsecureSkipVerify: true,
	}
	var roots *x509.CertPool
	if sec.SystemRoots {
		var err error
		if roots, err = x509.SystemCertPool(); err != nil {
			return nil, fmt.Errorf("system roots: %w", err)
		}
	} else {
		km, err := c.store.KeyMaterial(sec.RootInstance)
		if err != nil {
			return nil, err
		}
		if km.Roots == nil {
			return nil, fmt.Errorf("certificate provider instance %q has no CA certificates", sec.RootInstance)
		}
		roots = km.Roots
	}
	if sec.IdentityInstance != "" {
		km, err := c.store.KeyMaterial(sec.IdentityInstance)
		if err != nil {
			return nil, err
		}
		if len(km.Certificates) == 0 {
			return nil, fmt.Errorf("certificate provider instance %q has no certificate", sec.IdentityInstance)
		}
		cfg.Certificates = km.Certificates
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyPeer(cs, roots, sec.SANMatchers) }
	return cfg, nil
}

// verifyPeer checks the peer's chain against roots and, when there are SAN
// matchers, that one of them accepts one of the leaf's subject alternative
// names.
func verifyPeer(cs tls.ConnectionState, roots *x509.CertPool, matchers []xdsclient.SANMatcher) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the peer sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("certificate of %q (serial %s) does not verify: %w", leaf.Subject.String(), leaf.SerialNumber, err)
	}
	if len(matchers) == 0 {
		return nil
	}
	sans := certSANs(leaf)
	for _, s := range sans {
		for i := range matchers {
			if matchers[i].Match(s.typ, s.value) {
				return nil
			}
		}
	}
	names := make([]string, len(sans))
	for i, s := range sans {
		names[i] = s.typ.String() + ":" + s.value
	}
	want := make([]string, len(matchers))
	for i := range matchers {
		want[i] = matchers[i].String()
	}
	return fmt.Errorf("certificate of %q (serial %s): no subject alternative name [%s] matches [%s]",
		leaf.Subject.String(), leaf.SerialNumber, strings.Join(names, " "), strings.Join(want, ", "))
}

type san struct {
	typ   xdsclient.SANType
	value string
}

func certSANs(c *x509.Certificate) []san {
	var out []san
	for _, n := range c.DNSNames {
		out = append(out, san{xdsclient.SANDNS, n})
	}
	for _, u := range c.URIs {
		out = append(out, san{xdsclient.SANURI, u.String()})
	}
	for _, e := range c.EmailAddresses {
		out = append(out, san{xdsclient.SANEmail, e})
	}
	for _, ip := range c.IPAddresses {
		out = append(out, san{xdsclient.SANIP, ip.String()})
	}
	return out
}
