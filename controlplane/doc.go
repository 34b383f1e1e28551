// Package controlplane is rmqmesh's control plane ("Pilot" for RocketMQ): it
// discovers a RocketMQ cluster from its nameservers, applies a policy file,
// and serves the result over xDS to rmqmesh clients and Envoy sidecars.
//
//	s, err := controlplane.New(
//		controlplane.WithNameservers("10.0.0.1:9876"),
//		controlplane.WithPolicyFile("policy.yaml"),
//		controlplane.WithListenAddress(":18000"),
//		controlplane.WithAdminAddress(":18001"),
//	)
//	if err != nil { ... }
//	defer s.Close()
//
// The command cmd/rmqmesh-controlplane wraps it.
//
// Three parts meet in one pure function, [Build]: discovery (package
// discovery: brokers from code 106, and the queue data of the topics clients
// hold from code 105), the policy (package policy: listeners, ordered
// routes, clusters selecting brokers, per-broker overrides), and the
// resources (package resource: exactly what rmqmesh and Envoy's RocketMQ
// filter read). The [Server] keeps Build's result current as any part
// changes and serves it with go-control-plane: state-of-the-world and delta
// ADS on one gRPC port; listeners, clusters and endpoints shared by every
// client; per-topic route configurations subscribed on demand, a change to
// one topic pushed to its subscribers only.
//
// Versions are content hashes, so replicas given the same cluster and
// policy serve the same versions, an unchanged push is never sent, and a
// client that moves to another replica is not resent what it holds.
//
// A replica never answers from an incomplete view. Until some nameserver
// has answered it, every client's answers are held (and /healthz, the
// readiness probe, says 503). Afterwards, the first answer about a topic a
// client newly subscribes to waits until the topic's queue data has been
// fetched, or the fetch failed, or [WithHoldTimeout] passed; so does an
// answer about a per-topic cluster not served yet. A client that moves to a
// freshly started replica, or to one that held none of its topics, is
// therefore told nothing it does not already hold: no route or cluster
// vanishes and comes back. When the nameservers cannot say anything of a
// topic, nothing is made up for it, and a client that holds its route from
// elsewhere keeps it.
//
// The admin handler serves /healthz, /livez, /config_dump, /clients and
// /metrics (Prometheus).
//
// The package does not import mesh: it serves any xDS client.
package controlplane
