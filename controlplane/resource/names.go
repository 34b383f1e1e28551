package resource

// The metadata names a control plane writes, and the names of per-topic
// route configurations (wellknown.TopicRouteName), are package wellknown's,
// shared with the packages that read them.

// Type URLs of the resources a RocketMQ control plane serves.
const (
	ListenerType    = "type.googleapis.com/envoy.config.listener.v3.Listener"
	ClusterType     = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	EndpointType    = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
	RouteConfigType = "type.googleapis.com/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration"
)
