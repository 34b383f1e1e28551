// Package rmqmesh holds what every package of the module shares about the
// library itself: its [Version]. The library's parts live in subpackages:
//
//   - [github.com/rmqmesh/rmqmesh/mesh]: the public API that builds official
//     RocketMQ Go clients whose brokers an xDS control plane chooses;
//   - [github.com/rmqmesh/rmqmesh/wellknown]: the names rmqmesh reads in xDS
//     resources (metadata namespaces and keys, rmqmesh's knobs and their
//     values), for control planes that serve it;
//   - [github.com/rmqmesh/rmqmesh/routing], [github.com/rmqmesh/rmqmesh/xdsclient]
//     and [github.com/rmqmesh/rmqmesh/transport]: the route snapshot, the xDS
//     client and the in-process endpoints the mesh is built from;
//   - [github.com/rmqmesh/rmqmesh/meshtest]: an in-memory RocketMQ cluster and
//     xDS control plane for tests.
//
// This package imports nothing of the module, so any package, including
// instrumentation that reports the library version, can import it.
package rmqmesh
