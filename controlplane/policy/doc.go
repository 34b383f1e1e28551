// Package policy reads the control plane's policy file: what the user wants
// from the RocketMQ cluster the nameservers describe. It is YAML:
//
//	listeners:
//	  - name: rocketmq                 # clients use the target xds:///rocketmq
//	    route_config_name: rocketmq    # default: the name
//	    topic_routes: on_demand        # on_demand (default) | inline
//	    route_info: nameserver         # inline only: nameserver (default) | synthesize
//	    routes:                        # in match order; the first match wins
//	      - topic: {exact: orders}     # or {prefix: ord}, {regex: "pay-.*"};
//	                                   # omitted or {prefix: ""}: any topic
//	        codes: [10, 310, 320]      # request codes; omitted: all
//	        cluster: canary
//	        subset: {version: canary}  # envoy.lb keys the endpoints must have
//	      - cluster: default
//	clusters:
//	  - name: default
//	    brokers:                       # every criterion set must hold; {} is all
//	      cluster_name: DefaultCluster
//	      broker_names: [broker-a, broker-b]
//	      labels: {tier: gold}         # labels from the brokers section
//	    data_path: direct              # direct | intercept (rmqmesh's default)
//	    lost_brokers: withdraw         # withdraw (default) | unhealthy
//	    queues: {read: 8, write: 8}    # inline routes with route_info synthesize
//	    connect_timeout: 5s
//	    overrides:                     # per broker name
//	      broker-a: {weight: 80, zone: zone-a}
//	      broker-b: {weight: 20, perm: read-only}   # read-write | read-only | write-only | none
//	      broker-c: {drain: true}      # EDS DRAINING: no reads, no writes
//	    outlier_detection: {...}       # Envoy's fields, passed through
//	    circuit_breakers: {...}
//	    send_failover: {max_attempts: 3, per_try_timeout: 1s, timeout: 2.5s, move_keyed_sends: false}
//	    tls: {...}                     # an UpstreamTlsContext
//	brokers:                           # labels and locality by broker name
//	  broker-b: {labels: {version: canary}, region: eu, zone: zone-b, sub_zone: r1}
//
// With on-demand topic routes a client subscribes to one route
// configuration per topic it uses; the control plane builds it from the
// routes matching that topic and the topic's queue data on each broker, as
// the nameservers report it. Inline routes put every route in the listener
// (what an Envoy sidecar needs); clients' route queries are then forwarded to
// the nameservers (route_info: nameserver) or answered from the clusters'
// endpoint metadata with the counts of queues (route_info: synthesize),
// except that a route of an exact topic carries that topic's own queue
// data, which the control plane asks the nameservers for.
//
// [Parse] rejects a file with any problem as a whole, reporting each
// problem with the file, line and field ([*Error]); unknown fields are
// problems too. Broker names are checked against what the nameservers
// report only by the control plane ([Policy.CheckBrokers]), since a broker
// may be down when the file is read.
package policy
