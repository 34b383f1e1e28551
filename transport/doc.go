// Package transport holds rmqmesh's in-process endpoints: the loopback nameserver
// the official client is pointed at through its NsResolver, and the broker relay
// that every broker RPC passes through on the intercept data path.
//
// The official client has no transport hook (its remoting client is internal and
// dials with a plain net.Dialer), so the only way to put the mesh between it and the
// cluster is to hand it loopback addresses that speak the RocketMQ remoting protocol.
// [NameServer] answers GET_ROUTEINFO_BY_TOPIC (105) from whatever [RouteProvider] it
// is given; [Relay] listens on one virtual loopback address per (brokerName,
// brokerId) the routes name and relays every request to the real broker a [Router]
// picks. Neither knows anything of xDS.
//
//	relay, err := transport.NewRelay(router, transport.WithLogger(log), transport.WithHooks(hooks))
//	ns, err := transport.NewNameServer(provider, transport.WithLogger(log))
//	// provider answers 105 with addresses from relay.Endpoint(brokerName, brokerID)
//	producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns.Addr()}))
//
// # Connection model
//
//	official client                      Relay                                  brokers
//	───────────────                      ─────                                  ───────
//	conn to 127.0.0.1:41001 ══════► endpoint broker-a/0 ─┬─ upstream ══════► broker-a master  10.0.0.1:10911
//	  (the route's broker-a/0)        (downstream conn)    ├─ upstream ══════► broker-b master  10.0.0.2:10911
//	                                                       └─ upstream ══════► broker-a master' 10.0.0.9:10911
//	                                                             (opened when needed, one per real endpoint)
//	conn to 127.0.0.1:41002 ══════► endpoint broker-a/1 ─── upstream ══════► broker-a replica 10.0.0.3:10911
//
// Each client (downstream) connection gets its own upstream connections, opened
// lazily, one per real endpoint its requests go to: usually the one behind its
// virtual endpoint; another when a send is redirected or the endpoint's address
// changed. Upstreams are not shared between client connections because a broker
// keys its client state (heartbeats, transaction checks, pull suspension) by
// connection.
//
//   - Pipelining: requests are written upstream as they are read and answers go
//     back in the order they arrive, so a long-polling pull never holds up the
//     send behind it. Client opaques pass through unchanged.
//   - Broker → client requests (39 check transaction, 40 consumer ids changed,
//     220, 221, 307, 309, 326 push reply, and any other) go to the client
//     connection the upstream belongs to, under an opaque of that connection, so
//     two brokers' opaques never collide; the client's answer goes back to the
//     broker that asked, with its own opaque.
//   - Heartbeats (34) go to every upstream of the connection, and the last one is
//     replayed on a new upstream before any other request: brokers serve pulls
//     and call back only clients whose heartbeat they hold on that connection.
//   - Configuration changes ([Relay.Update]) apply to the next request: the
//     router is asked per request. An upstream whose address left the
//     configuration drains: its requests in flight complete there (bounded by
//     [WithDrainTimeout]), then it closes; the next request opens a
//     replacement, which starts with the client's heartbeat.
//   - Graceful drain: a broker's GO_AWAY (1500, a RocketMQ 5 proxy or broker
//     shutting down) retires the connection it came on the same way. The
//     refused send is tried again (see Send failover); for a few seconds
//     sends and pulls that can go elsewhere avoid the address; any other
//     refused request is answered SERVICE_NOT_AVAILABLE, which the client
//     retries.
//   - A request that cannot be delivered is answered, never dropped: an
//     unreachable broker gives SERVICE_NOT_AVAILABLE, an upstream that closes
//     with requests in flight answers each of them so (sends under failover
//     go on to their next try instead), a cluster limit gives SYSTEM_BUSY, and
//     a routing failure gives SYSTEM_ERROR with a remark naming the topic, the
//     cluster and the reason.
//
// Frames are decoded only as far as the header ([remoting.FrameView]); bodies are
// not parsed, except the message lists of pull, query and view answers, whose
// store hosts are rewritten (below). A relayed request costs no allocation of the
// relay's own when it fits the 64 KiB connection buffers (BenchmarkRelay).
//
// # Who decides what
//
//	code                          decided by
//	10 310 320 324 325  send      the client's QueueSelector (the mesh's: weights, subsets, locality, per message)
//	                              picks the broker; the relay keeps it when it is writable in the route's subset and
//	                              reachable, and only otherwise asks the route's balancer (queueId −1 then lets that
//	                              broker choose the queue)
//	11                  pull      the client's AllocateStrategy (the mesh's) assigns queues; the broker's suggestion
//	                              picks the member; the relay keeps both when readable, else another readable member
//	12 14 15 29-33      reads     the master of the addressed broker, or a readable replica while the master is away
//	                              (offset queries and commits, offset lookups, message queries: what a replica answers)
//	36 41 42 …                    the broker that holds the state: the master of the addressed broker
//	37                  end-tx    the master of the addressed broker, or the broker that stored the half message when
//	                              the relay redirected the send or relayed the check (an affinity table, [WithAffinity])
//	34 35               heartbeat the member behind the endpoint (else the master, else any member); 34 also to
//	                              every other upstream of the connection
//	38                  consumers the addressed broker's master, or any other master
//	anything else                 the addressed broker's master
//
// So weights are applied once, by the selector: the relay re-decides only when
// the client's choice is no longer allowed or reachable. When it does, the
// client's SendResult still names the broker it chose, with the queue id and
// offset message id the storing broker returned; its offset message id encodes
// the storing broker's virtual endpoint, so looking the message up by it, and
// ending its transaction, reach the broker that has it.
//
// # Send failover
//
// A send (10, 310, 320, 324, 325) whose cluster allows it ([Failover], per
// cluster through [ClusterPolicy]) is tried again inside the client's request
// when its try fails in a way that leaves the message unstored:
//
//   - the connection is refused, or breaks before the answer (a killed
//     broker resets it);
//   - no answer within the per-try timeout, while another broker can take
//     the send (otherwise the try stays in flight: a late answer beats
//     none, and the client's own timeout still applies);
//   - an answer Apache RocketMQ 4.9.8 gives only to sends it did not store:
//     SYSTEM_BUSY, SERVICE_NOT_AVAILABLE, NO_PERMISSION, TOPIC_NOT_EXIST,
//     SYSTEM_ERROR with the remarks of a busy page cache, a missing mapped
//     file or a broker not yet accepting sends, and GO_AWAY (failover.go
//     cites the broker's classes and methods for each).
//
// The next try goes to another writable broker of the topic that the route
// allows, with queueId −1 so that broker picks its own queue, and with an
// opaque of the relay's so that a late answer to an earlier try is dropped;
// the client sees one answer, under its own opaque. The tries stop at
// MaxAttempts or Timeout; the client then gets the last broker's error
// answer, or SERVICE_NOT_AVAILABLE, with a remark naming every try. A send
// with a sharding key (an ordered message) is tried again on its own broker
// only — a new connection, or the broker's new address — unless the cluster
// sets MoveKeyedSends, because a move breaks the order of the key's messages
// for as long as it lasts.
//
// Duplicates: a try that timed out, or whose connection broke after the
// request was written, may have been stored although it was not answered;
// its next try stores the message again. RocketMQ is at-least-once; these are
// the only duplicates the relay makes.
//
// # Outlier detection and limits
//
// A cluster's [OutlierDetection] ejects a host after consecutive errors,
// gateway failures or local-origin failures (refused or reset connections,
// unanswered tries), for the base ejection time × its ejection count: sends,
// pulls and the reads a replica serves steer around ejected hosts while any
// other can take them (a send with nothing else left still tries it, as
// Envoy's panic mode; a pull fails fast, so the consumer goes on with the
// other brokers). [Relay.Clusters] shows each host's state. A cluster's
// [Limits] (circuit breakers) refuse what exceeds them with SYSTEM_BUSY
// naming the cluster and the limit. [Hooks] report failovers, ejections,
// drains and refusals.
//
// # When a master is away
//
// Apache RocketMQ 4.9.8 replicas answer pulls, offset queries and commits,
// offset lookups and message queries from the state they keep in step with
// their master; the official Go client, though, sends offset requests to a
// broker's master address only. The relay sends those requests
// ([KindMasterOrReplica]) and heartbeats to a readable replica while the
// master is unreachable, ejected or absent from the route. A replica keeps
// the commits it takes only until its master is back (it copies the master's
// table over its own), so the relay keeps the last commit per queue that a
// replica took and delivers it to the master when the master takes requests
// again, unless the master already holds that offset or a later one
// ([Relay.KeptCommits]). Sends and end-transactions go to masters only (a
// replica refuses them), and so do locks: ordered consumption of a broker
// pauses while its master is away.
//
// # Nothing bypasses the relay
//
// The official client reaches some brokers at addresses it did not get from a
// route: a push consumer sends expired messages, and orderly messages past their
// maximum reconsume times, back to msg.StoreHost, decoded from the pulled message,
// and an offset message id encodes the store host too. The relay rewrites the
// store host of every message in pull, query and view answers, and the offset
// message ids of send answers, to the virtual endpoint of the broker's master, so
// those requests come back through it. An offsetMsgId the application sees
// therefore names a loopback address of this process, not the broker: it is
// valid for lookups through this mesh only; its commit log offset is the
// broker's.
//
// # Headers and ACL
//
// Requests to brokers get a "bname" field naming the broker ("n" for
// SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE) when the client did not set one: a
// RocketMQ 5 proxy in cluster mode refuses remoting requests without it
// ([WithoutBrokerName] turns this off). When the relay changes a request the
// client signed (an added bname, a redirected send's queueId), it signs it again
// with the credentials of the request's access key ([Relay.AddCredentials]); a
// signed request it has no credentials for keeps the client's signature and is
// not changed.
//
// # Endpoint security and limits
//
// Every endpoint listens on a loopback address and, through its [Guard] (by
// default [OwnProcessGuard]), serves only connections from this process; others
// are closed and logged at warn level. One endpoint serves at most
// [WithMaxConnections] client connections, and one client connection has at most
// [WithMaxPending] requests in flight (SYSTEM_BUSY beyond). A malformed frame from
// either side closes the connection pair, after answering what can be answered.
//
// A broker's frame is read into a buffer that grows with what arrives (up to
// the 16 MiB frame limit), so announcing a large frame costs nothing. Answers to
// no request of the connection are dropped (late answers to tries given up on
// among them): a broker cannot answer a request another broker holds.
//
// # TLS to brokers
//
// A [Target] whose TLS is set is reached over TLS: the relay asks the
// [TLSConfigProvider] for a configuration per new connection and completes the
// handshake within the connect timeout (the cluster's, else the dial
// timeout), through [WithDialer]'s dialer when one is set. Every try of a
// send under failover reaches its broker with that broker's cluster's TLS
// setting; a try whose handshake fails is a failed connection, counted
// against the host by outlier detection. A broker whose handshake fails (its
// certificate does not verify, it is not a TLS server, the provider has no key
// material) is not used: requests that may go elsewhere do, the others are
// answered with SERVICE_NOT_AVAILABLE and a remark naming the cluster, the
// endpoint and the reason ([TLSError]); nothing falls back to plaintext.
// Connections keep the configuration they were made with, so a certificate
// rotation reaches new connections without breaking open ones; a target whose
// provider changed (the cluster's TLS setting did) gets a new connection and
// the old one drains. [Call] speaks TLS with [CallTLS].
//
// What this package does not do: it makes no routing decision of its own (the
// [Router] does), does not read xDS or certificate files, retries no request
// but sends (and only on the failures above, never a send the broker answered
// with an error the client must see), and does not serve TLS on its loopback
// endpoints (the guard, not encryption, keeps them to this process).
package transport
