package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// TLSConfigProvider supplies the client TLS configuration of connections to
// the brokers (or nameservers) of one cluster. The mesh builds one per
// cluster from the cluster's xDS TLS context; this package knows nothing of
// xDS.
//
// TLSConfig is called for every new connection, so certificates rotated on
// disk are used by the next connection while established ones keep theirs.
// The configuration it returns must verify the peer itself (the relay dials
// by IP address, which mesh certificates rarely name): typically
// InsecureSkipVerify with a VerifyConnection that checks the chain and the
// subject alternative names.
//
// Implementations must be comparable (pointers are): the relay compares a
// target's provider with the one an open connection was made with, and a
// different one means the cluster's TLS setting changed.
type TLSConfigProvider interface {
	TLSConfig() (*tls.Config, error)
}

// TLSError is why a TLS connection to a broker or nameserver could not be
// set up: the provider had no usable configuration (key material missing),
// or the handshake failed (the peer's certificate did not verify, it is not
// a TLS server, it refused the relay's certificate). The relay does not use
// such an endpoint: the request goes to another one where the request may,
// and the client's error remark carries this error's text.
type TLSError struct {
	// Cluster, Broker and Addr name the endpoint; Broker is "" for a
	// nameserver.
	Cluster, Broker, Addr string
	// Err is the reason.
	Err error
}

func (e *TLSError) Error() string {
	peer := "nameserver"
	if e.Broker != "" {
		peer = fmt.Sprintf("broker %q", e.Broker)
	}
	return fmt.Sprintf("cluster %q: TLS to %s at %s failed: %v", e.Cluster, peer, e.Addr, e.Err)
}

func (e *TLSError) Unwrap() error { return e.Err }

// dialUpstream connects to t's broker within timeout (the TLS handshake
// included), through [WithDialer]'s dialer when one is set, and over TLS
// when t.TLS is set: a dialer supplies the transport, never the decision to
// skip TLS.
func (r *Relay) dialUpstream(t Target, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	dial := r.dialer.DialContext
	if r.o.dialer != nil {
		dial = r.o.dialer
	}
	return dialTLS(ctx, dial, t.Addr, t.TLS, func(err error) error {
		return &TLSError{Cluster: t.Cluster, Broker: t.Broker, Addr: t.Addr, Err: err}
	})
}

// dialTLS dials addr with dial and, with a provider, completes a TLS
// handshake with the provider's configuration before ctx ends. TLS failures
// are wrapped by wrap.
func dialTLS(ctx context.Context, dial Dialer, addr string, p TLSConfigProvider, wrap func(error) error) (net.Conn, error) {
	var cfg *tls.Config
	if p != nil {
		var err error
		if cfg, err = p.TLSConfig(); err != nil {
			return nil, wrap(err)
		}
		if cfg == nil {
			return nil, wrap(errors.New("no TLS configuration"))
		}
	}
	nc, err := dial(ctx, "tcp", addr)
	if err != nil || cfg == nil {
		return nc, err
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("handshake not finished: %w", ctx.Err())
		}
		return nil, wrap(err)
	}
	return tc, nil
}

// CallOption configures [Call].
type CallOption func(*callOptions)

type callOptions struct {
	tls     TLSConfigProvider
	cluster string
}

// CallTLS makes [Call] speak TLS with p's configuration to a nameserver of
// cluster (named in errors).
func CallTLS(cluster string, p TLSConfigProvider) CallOption {
	return func(o *callOptions) { o.cluster, o.tls = cluster, p }
}
