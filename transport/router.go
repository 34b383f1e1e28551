package transport

import (
	"strconv"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Router answers the relay's routing questions from the current configuration.
// The mesh implements it over its route snapshot, so the routing decisions stay
// in one place (the routing package) and the relay knows nothing of xDS.
//
// Implementations are called on the relay's data path: they must be safe for
// concurrent use, must not block, and should not allocate when they succeed.
type Router interface {
	// Route picks the broker endpoint that takes one request. q is valid only
	// during the call. The error's text becomes the remark of the error
	// response the client gets, so it should name the topic, the cluster and the
	// reason.
	Route(q *Query) (Target, error)
	// Routed reports whether some route still leads to brokerName. A virtual
	// endpoint of a broker that is no longer routed is closed once no client
	// connection uses it.
	Routed(brokerName string) bool
	// Serves reports whether addr is still an endpoint of brokerName. An
	// upstream connection to an address that is not drains: its requests in
	// flight complete, new ones go where Route now says.
	Serves(brokerName, addr string) bool
}

// Kind says which endpoint of a request's broker may take it; the relay derives
// it from the request code (see the package documentation's table).
type Kind uint8

// Kinds of requests.
const (
	// KindMaster requests concern state the broker holds (offsets, locks,
	// send-backs, transactions, and every code the relay does not know): they
	// go to the master of Query.Broker.
	KindMaster Kind = iota
	// KindWrite requests are sends: they go to the master of Query.Broker when
	// that broker is writable for the topic in the route's subset, otherwise to
	// the broker the route's balancer picks.
	KindWrite
	// KindRead requests are pulls: they go to Query.BrokerID of Query.Broker
	// (the replica the broker suggested, or the master) when it is readable for
	// the topic, otherwise to another readable member of that broker.
	KindRead
	// KindEndpoint requests (heartbeats, unregistrations) go to the member
	// behind the virtual endpoint the client addressed, or the master when that
	// member is gone, or another member when the master is gone too (a
	// replica serves pulls only to clients whose heartbeat it holds).
	KindEndpoint
	// KindAnyMaster requests (the consumer list of a group) go to the master of
	// Query.Broker, or any other routed master when it has none.
	KindAnyMaster
	// KindMasterOrReplica requests are those an Apache RocketMQ 4.9.8 replica
	// answers from the state it shares with its master (offset queries and
	// commits, offset lookups, message queries): they go to the master of
	// Query.Broker, or to a readable replica when the master is not available
	// (Target.BrokerID says which). See the package documentation for what
	// happens to a commit a replica takes.
	KindMasterOrReplica
)

var kindNames = [...]string{"master", "write", "read", "endpoint", "any-master", "master-or-replica"}

// String returns the kind's name, e.g. "write".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Query is one routing question.
type Query struct {
	// Code is the request code; Kind follows from it.
	Code int32
	Kind Kind
	// Topic is the request's topic, for KindWrite and KindRead; "" otherwise.
	Topic string
	// Broker and BrokerID name the virtual endpoint the client addressed, or
	// the broker an earlier link pinned the request to.
	Broker   string
	BrokerID int64
	// Avoid is a broker name, and AvoidAddr an address, that the relay could
	// not use for this request (the last it tried): the answer must not be
	// them. Earlier ones are remembered too: see [Query.Avoided].
	Avoid     string
	AvoidAddr string
	// Rand is a random number for pickers.
	Rand uint64

	view *remoting.FrameView
	// more holds the brokers and addresses avoided before Avoid and
	// AvoidAddr, for requests tried more than twice.
	more []avoided
}

type avoided struct{ broker, addr string }

// Avoided reports whether the answer must not be broker (when broker is not
// "") or addr: one of the brokers or addresses the relay could not use for
// this request.
func (q *Query) Avoided(broker, addr string) bool {
	if q == nil {
		return false
	}
	if (broker != "" && broker == q.Avoid) || (addr != "" && addr == q.AvoidAddr) {
		return true
	}
	for _, a := range q.more {
		if (broker != "" && broker == a.broker) || (addr != "" && addr == a.addr) {
			return true
		}
	}
	return false
}

// avoid adds a broker (may be "") and an address the answer must not be.
func (q *Query) avoid(broker, addr string) {
	if q.Avoid != "" || q.AvoidAddr != "" {
		q.more = append(q.more, avoided{q.Avoid, q.AvoidAddr})
	}
	q.Avoid, q.AvoidAddr = broker, addr
}

// Header returns a field of the request's header (its extFields), for header
// matchers; it allocates the value. Query implements the routing package's
// Headers interface.
func (q *Query) Header(name string) (string, bool) {
	if q.view == nil {
		return "", false
	}
	return q.view.Ext(name)
}

// Target is where a request goes.
type Target struct {
	// Broker is the brokerName that takes the request and Addr its endpoint's
	// real host:port.
	Broker string
	Addr   string
	// Cluster is the xDS cluster the route led to, for logs and remarks; ""
	// when the answer did not come from a route.
	Cluster string
	// BrokerID is the endpoint's brokerId: 0 for the master. A request for
	// the master that goes to a replica says so ([KindMasterOrReplica]).
	BrokerID int64
	// Policy is the cluster's policy, nil for the defaults; see
	// [ClusterPolicy].
	Policy *ClusterPolicy
	// TLS secures the connection to Addr; nil means plaintext. The router
	// returns the same provider for as long as the cluster's TLS setting
	// holds: a connection made with another one is replaced.
	TLS TLSConfigProvider
}
