// Package meshtest is test support for code that talks to RocketMQ: an in-memory
// RocketMQ cluster (nameserver and brokers on loopback, speaking the remoting
// protocol as Apache RocketMQ 4.9.8 does) and an in-process xDS control plane.
//
// Point the official Go client at a cluster and drive it as in production:
//
//	c := meshtest.RunCluster(t,
//		meshtest.WithBroker("broker-a", 1), // master + one replica
//		meshtest.WithTopic("orders", 4),
//		meshtest.WithTimeScale(0.01), // delay levels, long polls and checks 100x faster
//	)
//	p, _ := rocketmq.NewProducer(
//		producer.WithNameServer([]string{c.NameServerAddr()}),
//		producer.WithInstanceName("test-1"),
//	)
//	p.Start()
//	p.SendSync(ctx, primitive.NewMessage("orders", []byte("hi")))
//	c.CheckBodies(t, "orders", "hi")
//
// State is observable without the wire ([Cluster.Messages],
// [Cluster.ConsumerOffset], [Broker.Requests], [Broker.SentRequests],
// [Broker.Locks], [Broker.Clients]), faults are verbs ([Broker.Stop],
// [Broker.Restart], [Broker.Kill], [Broker.RestartElsewhere], [Broker.GoAway],
// [Broker.SetError], [Broker.SetDelay], [Broker.Hold],
// [Broker.RefuseConnections], [Broker.CloseClientConnections],
// [Cluster.SetNotifyConsumerIDsChanged], [ControlPlane.Stop],
// [ControlPlane.RestartEmpty]) and time is a knob ([WithTimeScale],
// [Cluster.FastForward]).
//
// Start the official client's consumers with [StartConsumer]: it keeps
// rocketmq-client-go's own data races out of `go test -race` (clients.go says
// how), and [WaitFor] and [DefaultTimeout] bound every wait.
//
// Each broker set (brokerName) has one store shared by its master (brokerId 0)
// and replicas. Replicas answer as a 4.9.8 slave does: they serve pulls
// (suggesting the master unless [Broker.SuggestReplica]), heartbeats and
// offset lookups, keep the offset commits they take in a table of their own
// that the master's overwrites while the master runs, and refuse sends. The
// nameserver derives routes from the brokers' topics on every request, so a
// stopped broker leaves the routes at once. README.md lists every request code
// and how it is answered.
//
// The cluster does not persist anything, replicate asynchronously, filter by SQL92,
// enforce ACL resource permissions (only signatures), expire idle client channels
// or model POP invisibility; it is not meant for production traffic.
package meshtest
