// Package wellknown holds the names rmqmesh reads in xDS resources: the
// network filter and metadata namespaces, the keys of broker endpoint
// metadata, rmqmesh's own knobs and their values. A control plane that serves
// rmqmesh writes these; the packages that read them (xdsclient validates,
// routing compiles, meshtest builds test resources) import them from here, so
// each name is spelled once.
//
// Broker endpoints carry their RocketMQ facts where Envoy's RocketMQ proxy
// filter reads them, with the same keys under the subset namespace for
// subset load balancing:
//
//	lb_endpoints:
//	- endpoint: {address: {socket_address: {address: 10.0.0.1, port_value: 10911}}}
//	  metadata:
//	    filter_metadata:
//	      envoy.filters.network.rocketmq_proxy: {broker_name: broker-a, broker_id: 0, perm: 6}
//	      envoy.lb: {broker_name: broker-a, broker_id: 0, version: canary}
//
// rmqmesh's knobs live under [MeshMetadataNamespace] in a listener's or a
// cluster's filter_metadata, never in new proto types, so Envoy ignores them:
//
//	metadata:
//	  filter_metadata:
//	    rmqmesh: {data_path: direct}       # on a cluster
//	    rmqmesh: {on_demand_routes: true}  # on a listener
//
// Why a package of its own: the names are shared by packages that must not
// import each other (xdsclient knows no RocketMQ routing, routing does not
// watch xDS) and by control planes outside this module, so they sit in a leaf
// that imports nothing of rmqmesh. RocketMQ's own conventions (request codes,
// permission bits, reserved topics) belong to the wire codec,
// [github.com/rmqmesh/rmqmesh/transport/remoting]; the library version is
// [github.com/rmqmesh/rmqmesh.Version].
package wellknown

import (
	"encoding/json"
	"fmt"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// Filter and metadata namespaces.
const (
	// RocketMQProxyFilter is the name of Envoy's RocketMQ network filter,
	// whose RocketmqProxy config in a listener's filter chain carries the
	// routes rmqmesh follows.
	RocketMQProxyFilter = "envoy.filters.network.rocketmq_proxy"
	// BrokerMetadataNamespace is the endpoint filter_metadata namespace that
	// carries a broker's RocketMQ facts: the filter's name, where Envoy's
	// filter reads them.
	BrokerMetadataNamespace = RocketMQProxyFilter
	// SubsetMetadataNamespace is the namespace of subset keys, on endpoints
	// and in a route's metadata_match (Envoy's subset load balancer). The
	// broker keys are also read here when missing from
	// [BrokerMetadataNamespace].
	SubsetMetadataNamespace = "envoy.lb"
	// MeshMetadataNamespace is the listener and cluster filter_metadata
	// namespace of rmqmesh's knobs.
	MeshMetadataNamespace = "rmqmesh"
)

// Keys of broker endpoint metadata. An endpoint without [BrokerNameKey] is a
// nameserver.
const (
	// BrokerNameKey is the broker's brokerName (string).
	BrokerNameKey = "broker_name"
	// BrokerIDKey is the broker's brokerId (integer, 0 for the master).
	BrokerIDKey = "broker_id"
	// ClusterNameKey is the RocketMQ cluster name (string).
	ClusterNameKey = "cluster_name"
	// PermKey is the broker's permission bits (integer, 4 read, 2 write).
	PermKey = "perm"
	// ReadQueueNumKey is the number of read queues (integer).
	ReadQueueNumKey = "read_queue_num"
	// WriteQueueNumKey is the number of write queues (integer).
	WriteQueueNumKey = "write_queue_num"
)

// CodeHeader is the synthetic header that carries a request's code, as a
// decimal string, for a route's header matchers (as Envoy's RocketMQ filter
// exposes it).
const CodeHeader = "code"

// rmqmesh's knobs, under [MeshMetadataNamespace].
const (
	// OnDemandRoutesKey, a bool on a listener, opts in to per-topic route
	// configurations watched on demand (see the xdsclient package).
	OnDemandRoutesKey = "on_demand_routes"
	// DataPathKey, a string on a cluster, requests the data path its brokers
	// are reached by: [DataPathDirect] or [DataPathIntercept]. Absent or empty
	// leaves the choice to rmqmesh.
	DataPathKey = "data_path"
)

// Values of [DataPathKey].
const (
	// DataPathDirect hands the client the real broker addresses.
	DataPathDirect = "direct"
	// DataPathIntercept sends every broker RPC through rmqmesh's in-process
	// relays.
	DataPathIntercept = "intercept"
)

// ParseDataPath returns the data path a cluster's metadata requests:
// [DataPathDirect], [DataPathIntercept], or "" when [DataPathKey] is absent or
// empty. Any other value is an error naming the field and the value, without
// a package prefix, for the caller's own message (a NACK, a routing error);
// it is the only check of the knob, so every component rejects a bad value
// with the same words.
func ParseDataPath(md *corev3.Metadata) (string, error) {
	v, ok := md.GetFilterMetadata()[MeshMetadataNamespace].GetFields()[DataPathKey]
	if !ok {
		return "", nil
	}
	if s, isStr := v.GetKind().(*structpb.Value_StringValue); isStr {
		switch s.StringValue {
		case "", DataPathDirect, DataPathIntercept:
			return s.StringValue, nil
		}
	}
	return "", fmt.Errorf("filter_metadata[%q][%q] must be %q or %q, not %s",
		MeshMetadataNamespace, DataPathKey, DataPathDirect, DataPathIntercept, valueText(v))
}

// valueText renders a metadata value as compact JSON.
func valueText(v *structpb.Value) string {
	b, err := json.Marshal(v.AsInterface())
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
