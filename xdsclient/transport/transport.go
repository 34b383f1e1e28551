// Package transport defines the small interface between the xdsclient ADS
// protocol logic and the wire: a stream that sends and receives serialized
// DiscoveryRequest/DiscoveryResponse (or their delta variants) as bytes.
//
// The gRPC implementation lives in package grpctransport; tests can plug in
// a fake. The package does not interpret the bytes.
package transport

import (
	"context"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// gRPC methods of the aggregated discovery service.
const (
	// MethodSotW is the state-of-the-world ADS method.
	MethodSotW = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
	// MethodDelta is the incremental ADS method.
	MethodDelta = "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
)

// Builder creates a Transport to one management server.
type Builder interface {
	// Build returns a transport to server. It must not block on the network.
	Build(server *bootstrap.ServerConfig) (Transport, error)
}

// Transport is a connection to one management server.
type Transport interface {
	// NewStream opens a bidirectional stream for method (MethodSotW or
	// MethodDelta). The stream ends when ctx is done.
	NewStream(ctx context.Context, method string) (Stream, error)
	// Close releases the connection; open streams fail.
	Close() error
}

// Stream is one ADS stream. Send and Recv may be called concurrently with
// each other but neither concurrently with itself.
type Stream interface {
	// Send sends one serialized request.
	Send(msg []byte) error
	// Recv receives one serialized response.
	Recv() ([]byte, error)
}
