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
//	relay, err := transport.NewRelay(router, transport.WithLogger(log))
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
//     [WithDrainTimeout]), then it closes. A broker's GO_AWAY (1500) does the
//     same and the client gets SERVICE_NOT_AVAILABLE, which it retries.
//   - A request that cannot be delivered is answered, never dropped: an
//     unreachable broker gives SERVICE_NOT_AVAILABLE, an upstream that closes
//     with requests in flight answers each of them so, and a routing failure
//     gives SYSTEM_ERROR with a remark naming the topic, the cluster and the
//     reason.
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
//	14 15 29-33 36 41 42 …       the broker that holds the state: the master of the addressed broker
//	37                  end-tx    the master of the addressed broker, or the broker that stored the half message when
//	                              the relay redirected the send or relayed the check (an affinity table, [WithAffinity])
//	34 35               heartbeat the member behind the endpoint; 34 also to every other upstream of the connection
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
// no request of the connection are dropped: a broker cannot answer a request
// another broker holds.
//
// # TLS to brokers
//
// A [Target] whose TLS is set is reached over TLS: the relay asks the
// [TLSConfigProvider] for a configuration per new connection and completes the
// handshake within the dial timeout. A broker whose handshake fails (its
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
// [Router] does), does not read xDS or certificate files, does not retry a
// request the broker answered with an error, and does not serve TLS on its
// loopback endpoints (the guard, not encryption, keeps them to this process).
package transport
