package resource

import (
	"net/url"
	"strings"
)

// The names below are the contract between a control plane and rmqmesh (and
// Envoy's RocketMQ filter). They are kept here, in one place, so that moving
// them to the shared metadata package is a one-line change per name; a test
// checks them against the constants routing and xdsclient read.
const (
	// RocketMQFilterName is the name of Envoy's RocketMQ network filter and the
	// endpoint filter_metadata namespace of broker facts.
	RocketMQFilterName = "envoy.filters.network.rocketmq_proxy"
	// LBNamespace is the filter_metadata namespace of subset keys, on endpoints
	// and in a route's metadata_match (Envoy's subset load balancer).
	LBNamespace = "envoy.lb"
	// MeshNamespace is the listener and cluster filter_metadata namespace of
	// rmqmesh knobs.
	MeshNamespace = "rmqmesh"
	// OnDemandRoutesField is the bool under listener
	// filter_metadata["rmqmesh"] that makes clients subscribe to per-topic
	// route configurations.
	OnDemandRoutesField = "on_demand_routes"
	// DataPathField is the string under cluster filter_metadata["rmqmesh"]
	// naming the data path: "direct" or "intercept".
	DataPathField = "data_path"

	// Broker metadata keys, under both RocketMQFilterName and LBNamespace.
	KeyBrokerName     = "broker_name"
	KeyBrokerID       = "broker_id"
	KeyClusterName    = "cluster_name"
	KeyPerm           = "perm"
	KeyReadQueueNums  = "read_queue_num"
	KeyWriteQueueNums = "write_queue_num"

	// CodeHeader is the synthetic request header Envoy's RocketMQ filter
	// exposes the request code under.
	CodeHeader = "code"
)

// Type URLs of the resources a RocketMQ control plane serves.
const (
	ListenerType    = "type.googleapis.com/envoy.config.listener.v3.Listener"
	ClusterType     = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	EndpointType    = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	RouteConfigType = "type.googleapis.com/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration"
)

// routeConfigTypeName is RouteConfigType without its "type.googleapis.com/"
// prefix: the type segment of an xdstp:// resource name.
const routeConfigTypeName = "envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration"

// TopicRouteName returns the name of the per-topic route configuration of
// topic in the family routeConfigName: "N/T", the name a client subscribes to
// when the listener serves routes on demand.
func TopicRouteName(routeConfigName, topic string) string {
	return routeConfigName + "/" + topic
}

// ParseTopicRouteName splits a per-topic route configuration name, in the
// plain form "N/T" or the xdstp:// form
// "xdstp://AUTHORITY/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration/N/T"
// (topic path-escaped), into its family and topic. A family never contains
// "/", a topic may. ok is false for a name of neither form.
func ParseTopicRouteName(name string) (routeConfigName, topic string, ok bool) {
	if rest, isXDSTP := strings.CutPrefix(name, "xdstp://"); isXDSTP {
		_, rest, found := strings.Cut(rest, "/") // authority
		if !found {
			return "", "", false
		}
		rest, found = strings.CutPrefix(rest, routeConfigTypeName+"/")
		if !found {
			return "", "", false
		}
		family, escaped, found := strings.Cut(rest, "/")
		if !found || family == "" || escaped == "" {
			return "", "", false
		}
		t, err := url.PathUnescape(escaped)
		if err != nil || t == "" {
			return "", "", false
		}
		return family, t, true
	}
	family, t, found := strings.Cut(name, "/")
	if !found || family == "" || t == "" {
		return "", "", false
	}
	return family, t, true
}
