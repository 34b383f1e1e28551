// Package resource builds the Envoy-compatible xDS resources that rmqmesh
// (and Envoy's RocketMQ network filter) read: a Listener carrying the
// RocketmqProxy filter with its inline route configuration, per-topic
// RouteConfigurations served on demand, EDS Clusters, and
// ClusterLoadAssignments whose broker endpoints carry the RocketMQ metadata
// (broker_name, broker_id, cluster_name, perm, read_queue_num,
// write_queue_num) under both "envoy.filters.network.rocketmq_proxy" and
// "envoy.lb".
//
//	l, err := resource.NewListener(resource.Listener{
//		Name: "rocketmq", RouteConfigName: "rocketmq",
//		Routes: []resource.Route{{Kind: resource.AnyTopic, Cluster: "brokers"}},
//	})
//	c, cla, err := resource.NewCluster(resource.Cluster{Name: "brokers", Endpoints: eps})
//
// It is the one resource builder of the repository: the control plane's
// Build and meshtest's MeshSpec both use it. It does no I/O and holds no
// state; [Hash] and [CombinedVersion] give content-hash versions, equal on
// every replica for equal inputs.
package resource
