// Package grpctransport implements the xdsclient transport over gRPC.
//
// Channel credentials come from the bootstrap server entry: "insecure",
// "google_default" (gRPC's Google default credentials), or "tls" with
// optional CA, certificate and key files that are read again every
// refresh_interval (gRFC A65), so a rotated certificate is used by the next
// connection. Extra dial options are appended after the defaults, so they
// win.
package grpctransport

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/google"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
	"github.com/rmqmesh/rmqmesh/xdsclient/certprovider"
	"github.com/rmqmesh/rmqmesh/xdsclient/transport"
)

// DefaultMaxResponseSize bounds one ADS response, so a hostile or broken
// control plane cannot make the client buffer gigabytes (gRPC's own default
// of 4 MiB is too small for a listener with many inline routes). A larger
// response fails the stream with RESOURCE_EXHAUSTED, naming the limit, and
// the client keeps what it has. Raise it with
// grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(n)) in DialOptions.
const DefaultMaxResponseSize = 64 << 20

// Builder builds gRPC transports.
type Builder struct {
	// DialOptions are appended to the defaults.
	DialOptions []grpc.DialOption
	// Logger reports failed certificate reloads (default: discard).
	Logger *slog.Logger
}

var _ transport.Builder = (*Builder)(nil)

// Build creates a gRPC client for server. It does not connect.
func (b *Builder) Build(server *bootstrap.ServerConfig) (transport.Transport, error) {
	creds, err := credsFor(server, b.Logger)
	if err != nil {
		return nil, err
	}
	opts := []grpc.DialOption{
		creds,
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(DefaultMaxResponseSize)),
	}
	opts = append(opts, b.DialOptions...)
	cc, err := grpc.NewClient(server.ServerURI, opts...)
	if err != nil {
		return nil, fmt.Errorf("grpctransport: server %q: %w", server.ServerURI, err)
	}
	return &grpcTransport{cc: cc}, nil
}

func credsFor(server *bootstrap.ServerConfig, logger *slog.Logger) (grpc.DialOption, error) {
	switch server.ChannelCreds.Type {
	case bootstrap.CredsInsecure:
		return grpc.WithTransportCredentials(insecure.NewCredentials()), nil
	case "":
		// Plaintext only when the bootstrap asks for it by name.
		return nil, fmt.Errorf("grpctransport: server %q: no channel credentials (want %q, %q or %q)", server.ServerURI, bootstrap.CredsInsecure, bootstrap.CredsTLS, bootstrap.CredsGoogleDefault)
	case bootstrap.CredsGoogleDefault:
		return grpc.WithCredentialsBundle(google.NewDefaultCredentials()), nil
	case bootstrap.CredsTLS:
		var files certprovider.Files
		if t := server.ChannelCreds.TLS; t != nil {
			files = certprovider.Files{
				CertificateFile: t.CertificateFile, PrivateKeyFile: t.PrivateKeyFile,
				CACertificateFile: t.CACertificateFile, RefreshInterval: t.RefreshInterval,
			}
		}
		if logger == nil {
			logger = slog.New(slog.DiscardHandler)
		}
		fw, err := certprovider.NewFileWatcher(files, certprovider.WithLogger(logger.With("server", server.ServerURI)))
		if err != nil {
			return nil, fmt.Errorf("grpctransport: server %q: %w", server.ServerURI, err)
		}
		return grpc.WithTransportCredentials(&reloadingTLS{files: fw}), nil
	default:
		return nil, fmt.Errorf("grpctransport: server %q: unsupported channel credentials %q", server.ServerURI, server.ChannelCreds.Type)
	}
}

type grpcTransport struct {
	cc *grpc.ClientConn
}

var streamDesc = &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}

func (t *grpcTransport) NewStream(ctx context.Context, method string) (transport.Stream, error) {
	s, err := t.cc.NewStream(ctx, streamDesc, method, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return nil, fmt.Errorf("grpctransport: %s: %w", t.cc.Target(), err)
	}
	return &grpcStream{s: s}, nil
}

func (t *grpcTransport) Close() error { return t.cc.Close() }

type grpcStream struct {
	s grpc.ClientStream
}

func (s *grpcStream) Send(msg []byte) error { return s.s.SendMsg(msg) }

func (s *grpcStream) Recv() ([]byte, error) {
	var b []byte
	if err := s.s.RecvMsg(&b); err != nil {
		return nil, err
	}
	return b, nil
}

// rawCodec passes already serialized protobuf bytes through. It is named
// "proto" so the content-subtype stays the one servers expect.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("grpctransport: cannot marshal %T", v)
	}
	return b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("grpctransport: cannot unmarshal into %T", v)
	}
	*p = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
