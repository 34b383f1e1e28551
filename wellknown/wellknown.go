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
//	    rmqmesh: {send_failover: {max_attempts: 2, per_try_timeout: 500ms}}  # on a cluster
//	    rmqmesh: {on_demand_routes: true}  # on a listener
//
// A route carries the queue data of the topics it matches in its
// metadata_match, under the same namespace (see [TopicQueuesKey]); Envoy's
// subset load balancer reads only the [SubsetMetadataNamespace] there:
//
//	route:
//	  cluster: brokers
//	  metadata_match:
//	    filter_metadata:
//	      envoy.lb: {version: canary}
//	      rmqmesh:
//	        topic_queues:
//	          broker-a: {read_queue_num: 16, write_queue_num: 16}
//	          broker-b: {read_queue_num: 8, write_queue_num: 8, perm: 4}
//
// Per-topic route configurations are named "N/T" ([TopicRouteName]): the
// contract between a control plane that serves them and the client that
// subscribes, spelled and parsed here only.
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
	"math"
	"sort"

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

// TopicQueuesKey, a struct in a route's metadata_match under
// [MeshMetadataNamespace], gives the queue data of the topics the route
// matches, by broker name: per broker a struct with [ReadQueueNumKey] and
// [WriteQueueNumKey] (integers, required) and [PermKey] (the topic's
// permission bits on that broker, default 6). It is meant for routes that
// match one topic exactly, such as the routes of a per-topic route
// configuration. A control plane that knows each topic's queues (from the
// brokers' topic configs, as a nameserver does) publishes them here; without
// them rmqmesh takes every topic's queue counts from the brokers' endpoint
// metadata. With them, a broker the struct does not list does not hold the
// topic and is left out of its route. See [ParseTopicQueues].
const TopicQueuesKey = "topic_queues"

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

// TopicQueues is one broker's queue data for a topic, from [TopicQueuesKey].
type TopicQueues struct {
	ReadQueueNums, WriteQueueNums int32
	// Perm is the topic's permission bits on the broker (4 read, 2 write).
	Perm int32
}

// DefaultTopicPerm is the [TopicQueues.Perm] of an entry without [PermKey]:
// read and write.
const DefaultTopicPerm = 6

// ParseTopicQueues returns the per-topic queue data of a route's
// metadata_match ([TopicQueuesKey]), by broker name; nil, nil when there is
// none. Any malformed entry is an error naming the field and the value,
// without a package prefix, for the caller's own message; it is the only
// check of the convention, so the xDS client's NACK and the route table say
// the same.
func ParseTopicQueues(md *corev3.Metadata) (map[string]TopicQueues, error) {
	v, ok := md.GetFilterMetadata()[MeshMetadataNamespace].GetFields()[TopicQueuesKey]
	if !ok {
		return nil, nil
	}
	field := fmt.Sprintf("filter_metadata[%q][%q]", MeshMetadataNamespace, TopicQueuesKey)
	s, isStruct := v.GetKind().(*structpb.Value_StructValue)
	if !isStruct {
		return nil, fmt.Errorf("%s must be a struct of broker names, not %s", field, valueText(v))
	}
	brokers := s.StructValue.GetFields()
	names := make([]string, 0, len(brokers))
	for name := range brokers {
		names = append(names, name)
	}
	sort.Strings(names) // the first error is the same on every run
	out := make(map[string]TopicQueues, len(brokers))
	for _, name := range names {
		bv := brokers[name]
		where := fmt.Sprintf("%s[%q]", field, name)
		if name == "" {
			return nil, fmt.Errorf("%s: empty broker name", field)
		}
		b, isStruct := bv.GetKind().(*structpb.Value_StructValue)
		if !isStruct {
			return nil, fmt.Errorf("%s must be a struct, not %s", where, valueText(bv))
		}
		f := b.StructValue.GetFields()
		q := TopicQueues{Perm: DefaultTopicPerm}
		for _, k := range []struct {
			key      string
			dst      *int32
			max      int64
			required bool
		}{
			{ReadQueueNumKey, &q.ReadQueueNums, math.MaxInt32, true},
			{WriteQueueNumKey, &q.WriteQueueNums, math.MaxInt32, true},
			{PermKey, &q.Perm, 7, false},
		} {
			fv, ok := f[k.key]
			if !ok {
				if k.required {
					return nil, fmt.Errorf("%s has no %q", where, k.key)
				}
				continue
			}
			n, isNum := fv.GetKind().(*structpb.Value_NumberValue)
			if !isNum || n.NumberValue != math.Trunc(n.NumberValue) || n.NumberValue < 0 || n.NumberValue > float64(k.max) {
				return nil, fmt.Errorf("%s[%q] must be an integer in [0, %d], not %s", where, k.key, k.max, valueText(fv))
			}
			*k.dst = int32(n.NumberValue)
		}
		out[name] = q
	}
	return out, nil
}

// TopicQueuesValue returns queues, by broker name, as the value of
// [TopicQueuesKey]: what [ParseTopicQueues] reads back. Every field is
// written, perm included.
func TopicQueuesValue(queues map[string]TopicQueues) *structpb.Value {
	fields := make(map[string]*structpb.Value, len(queues))
	for name, q := range queues {
		fields[name] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			ReadQueueNumKey:  structpb.NewNumberValue(float64(q.ReadQueueNums)),
			WriteQueueNumKey: structpb.NewNumberValue(float64(q.WriteQueueNums)),
			PermKey:          structpb.NewNumberValue(float64(q.Perm)),
		}})
	}
	return structpb.NewStructValue(&structpb.Struct{Fields: fields})
}

// valueText renders a metadata value as compact JSON.
func valueText(v *structpb.Value) string {
	b, err := json.Marshal(v.AsInterface())
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
