package resource

import (
	"net/url"
	"strings"
)

// The metadata names a control plane writes are package wellknown's, shared
// with the packages that read them.

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
