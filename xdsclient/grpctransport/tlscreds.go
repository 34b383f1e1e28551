package grpctransport

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"google.golang.org/grpc/credentials"

	"github.com/rmqmesh/rmqmesh/xdsclient/certprovider"
)

// reloadingTLS are client TLS credentials whose certificates and roots come
// from a FileWatcher at every handshake, so a rotation on disk is picked up
// by the next connection (gRFC A65) without restarting the client.
type reloadingTLS struct {
	files      *certprovider.FileWatcher
	serverName string // set by OverrideServerName
}

var _ credentials.TransportCredentials = (*reloadingTLS)(nil)

func (r *reloadingTLS) config() *tls.Config {
	km := r.files.KeyMaterial()
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: km.Roots, Certificates: km.Certificates, ServerName: r.serverName}
}

// ClientHandshake delegates to gRPC's TLS credentials built from the
// current key material, so ALPN and server-name handling stay gRPC's.
func (r *reloadingTLS) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return credentials.NewTLS(r.config()).ClientHandshake(ctx, authority, conn)
}

func (r *reloadingTLS) ServerHandshake(net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("grpctransport: xDS channel credentials are client-only")
}

func (r *reloadingTLS) Info() credentials.ProtocolInfo {
	return credentials.NewTLS(&tls.Config{ServerName: r.serverName}).Info()
}

func (r *reloadingTLS) Clone() credentials.TransportCredentials {
	c := *r
	return &c
}

// OverrideServerName is deprecated in gRPC but part of the interface.
func (r *reloadingTLS) OverrideServerName(name string) error {
	r.serverName = name
	return nil
}
