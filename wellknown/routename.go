package wellknown

import (
	"net/url"
	"strings"
)

// routeConfigTypeName is the full name of the contrib RouteConfiguration
// proto: the type segment of an xdstp:// per-topic route name.
const routeConfigTypeName = "envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration"

// TopicRouteName returns the name of the per-topic route configuration of
// topic in the family routeConfigName: "N/T". A listener that opts in with
// [OnDemandRoutesKey] names the family N in its filter's inline
// route_config.name; a client that needs topic T subscribes to "N/T" and a
// control plane serves the topic's routes under that name. A family never
// contains "/"; a topic may.
func TopicRouteName(routeConfigName, topic string) string {
	return routeConfigName + "/" + topic
}

// TopicRouteNameInAuthority returns the xdstp:// name of the per-topic route
// configuration of topic in the family routeConfigName, for names that live
// in an xdstp authority (gRFC A47):
//
//	xdstp://AUTHORITY/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration/N/T
//
// with T path-escaped. An empty authority gives [TopicRouteName].
func TopicRouteNameInAuthority(authority, routeConfigName, topic string) string {
	if authority == "" {
		return TopicRouteName(routeConfigName, topic)
	}
	return "xdstp://" + authority + "/" + routeConfigTypeName + "/" + routeConfigName + "/" + url.PathEscape(topic)
}

// ParseTopicRouteName splits a per-topic route configuration name, of
// either form ([TopicRouteName], [TopicRouteNameInAuthority]), into its
// family and topic. ok is false for a name of neither form.
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
