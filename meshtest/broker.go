package meshtest

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Broker is one member of a broker set: the master (ID 0) or a replica. Replicas
// share the master's store: they serve pulls and accept heartbeats and offsets.
type Broker struct {
	// Immutable after construction.
	c   *Cluster
	set *brokerSet
	id  int64
	srv *server

	opaque atomic.Int32 // numbers the requests the broker sends (39, 40)

	goingAway atomic.Bool // GoAway: every request is answered GO_AWAY

	mu       sync.Mutex
	errs     map[int32]faultError
	delays   map[int32]time.Duration
	holds    map[int32]*hold
	requests []Request
	sent     []Request // requests the broker sent to clients (39, 40)
	// rebalances counts, per connection and group, the rebalances the broker
	// asked for (40 sent) and saw (38 received); heartbeats counts, per
	// connection and client, the heartbeats it received; never reset.
	rebalances map[memberKey]*rebalanceCount
	heartbeats map[heartbeatKey]int
	producers  map[string]map[string]*conn // group -> clientID -> conn
	consumers  map[string]*consumerGroup
	pulls      map[queueKey][]*parkedPull
	clients    map[string]*clientInfo

	// guarded by mu: a replica's own commits, "topic@group" -> queue -> offset
	ownOffsets map[string]map[int32]int64
}

func newBroker(c *Cluster, set *brokerSet, id int64) *Broker {
	b := &Broker{
		c: c, set: set, id: id,
		errs:       map[int32]faultError{},
		delays:     map[int32]time.Duration{},
		holds:      map[int32]*hold{},
		rebalances: map[memberKey]*rebalanceCount{},
		heartbeats: map[heartbeatKey]int{},
		producers:  map[string]map[string]*conn{},
		consumers:  map[string]*consumerGroup{},
		pulls:      map[queueKey][]*parkedPull{},
		clients:    map[string]*clientInfo{},
	}
	log := c.log.With("broker", set.name, "brokerId", id)
	b.srv = newServer(log, b.serve)
	b.srv.onClose = b.connClosed
	return b
}

// Addr returns the broker's "127.0.0.1:port"; it stays the same across Restart.
func (b *Broker) Addr() string { return b.srv.addrString() }

// Name returns the broker set's name.
func (b *Broker) Name() string { return b.set.name }

// ID returns the brokerId: 0 for the master, >= 1 for replicas.
func (b *Broker) ID() int64 { return b.id }

// Replica returns the member with brokerId id of this broker's set (0 is the
// master), or nil.
func (b *Broker) Replica(id int64) *Broker {
	if id < 0 || int(id) >= len(b.set.members) {
		return nil
	}
	return b.set.members[id]
}

// Messages returns the messages of topic in this broker set's store.
func (b *Broker) Messages(topic string) []StoredMessage { return b.set.store.messages(topic) }

// ConsumerOffset returns the committed offset of group on a queue as this
// broker answers QUERY_CONSUMER_OFFSET: the master's table, or for a replica
// its own commits while the master is down (see replica.go); ok is false
// when none was committed.
func (b *Broker) ConsumerOffset(group, topic string, queueID int) (offset int64, ok bool) {
	if !b.isMaster() {
		return b.replicaOffset(group, topic, int32(queueID))
	}
	return b.set.store.consumerOffset(group, topic, int32(queueID))
}

// CreateTopic creates or updates topic on this broker set with the given number of
// read and write queues (perm read|write), as UPDATE_AND_CREATE_TOPIC does.
func (b *Broker) CreateTopic(topic string, queues int) {
	b.set.store.createTopic(&topicConfig{name: topic, read: int32(queues), write: int32(queues), perm: permReadWrite})
}

// SuggestReplica makes the set's brokers answer pulls with suggestWhichBrokerId=id,
// so that clients read from that replica (slaveReadEnable with
// whichBrokerWhenConsumeSlowly); 0 restores master reads.
func (b *Broker) SuggestReplica(id int64) {
	b.set.mu.Lock()
	defer b.set.mu.Unlock()
	b.set.suggest = id
}

func (b *Broker) suggested() int64 {
	b.set.mu.Lock()
	defer b.set.mu.Unlock()
	return b.set.suggest
}

// isMaster reports whether the broker is its set's master.
func (b *Broker) isMaster() bool { return b.id == 0 }

// serve is the broker's request path: observe, authenticate, inject faults, run.
func (b *Broker) serve(cn *conn, req *remoting.Command) *remoting.Command {
	b.record(cn, req)
	if resp := b.goAwayAnswer(req); resp != nil {
		return resp
	}
	if resp := b.checkACL(req); resp != nil {
		return resp
	}
	if resp := b.checkBrokerName(req); resp != nil {
		return resp
	}
	fe, hasErr, delay, held := b.faultsFor(req.Code)
	if delay > 0 || held != nil {
		b.srv.wg.Add(1)
		stop := b.srv.stopCh
		go func() {
			defer b.srv.wg.Done()
			if !waitFault(delay, held, stop, cn.closed) {
				return
			}
			var resp *remoting.Command
			if hasErr {
				resp = remoting.NewResponse(req, fe.code, fe.remark)
			} else {
				resp = b.process(cn, req)
			}
			if resp != nil && !req.IsOneway() {
				cn.write(resp)
			}
		}()
		return nil
	}
	if hasErr {
		return remoting.NewResponse(req, fe.code, fe.remark)
	}
	return b.process(cn, req)
}

// process answers one request as Apache RocketMQ 4.9.8's broker does.
func (b *Broker) process(cn *conn, req *remoting.Command) *remoting.Command {
	switch req.Code {
	case remoting.CodeSendMessage, remoting.CodeSendMessageV2, remoting.CodeSendBatchMessage,
		remoting.CodeSendReplyMessage, remoting.CodeSendReplyMessageV2:
		return b.handleSend(cn, req)
	case remoting.CodePullMessage:
		return b.handlePull(cn, req)
	case remoting.CodeQueryConsumerOffset:
		return b.handleQueryOffset(req)
	case remoting.CodeUpdateConsumerOffset:
		return b.handleUpdateOffset(req)
	case remoting.CodeSearchOffsetByTimestamp, remoting.CodeGetMaxOffset, remoting.CodeGetMinOffset:
		return b.handleOffsetLookup(req)
	case remoting.CodeUpdateAndCreateTopic:
		return b.handleCreateTopic(req)
	case remoting.CodeDeleteTopicInBroker:
		return b.handleDeleteTopic(req)
	case remoting.CodeGetAllSubscriptionGroup:
		return b.handleAllSubscriptionGroups(req)
	case remoting.CodeViewMessageByID:
		return b.handleViewMessage(req)
	case remoting.CodeHeartBeat:
		return b.handleHeartbeat(cn, req)
	case remoting.CodeUnregisterClient:
		return b.handleUnregister(cn, req)
	case remoting.CodeGetConsumerListByGroup:
		return b.handleConsumerList(req)
	case remoting.CodeConsumerSendMsgBack:
		return b.handleSendBack(req)
	case remoting.CodeEndTransaction:
		return b.handleEndTransaction(req)
	case remoting.CodeLockBatchMQ:
		return b.handleLock(req)
	case remoting.CodeUnlockBatchMQ:
		return b.handleUnlock(req)
	case remoting.CodePopMessage:
		return b.handlePop(req)
	case remoting.CodeAckMessage:
		return b.handleAck(req)
	}
	return notSupported(req)
}

// notSupported is the REQUEST_CODE_NOT_SUPPORTED answer.
func notSupported(req *remoting.Command) *remoting.Command {
	return remoting.NewResponse(req, remoting.RequestCodeNotSupported, RemarkNotSupported(req.Code))
}

// withExt returns resp with a non-nil (possibly empty) extFields map, as Java
// writes for responses created with a custom header class.
func withExt(resp *remoting.Command, kv ...string) *remoting.Command {
	resp.ExtFields = make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		resp.ExtFields[kv[i]] = kv[i+1]
	}
	return resp
}

// send sends a broker-initiated oneway request (39, 40) to a client, recording it
// for SentRequests first, so that a client that has read it finds it recorded.
// A notification the connection could not take does not count as one the client
// was sent (see StartConsumer).
func (b *Broker) send(cn *conn, code int32, ext map[string]string, body []byte) {
	req := b.newBrokerRequest(code, ext, body)
	r := newRequest(cn, req, b.c.clock.now())
	notify := code == remoting.CodeNotifyConsumerIDsChanged
	b.mu.Lock()
	b.sent = append(b.sent, r)
	if notify {
		b.rebalanceCountLocked(cn, ext["consumerGroup"]).notified++
	}
	b.mu.Unlock()
	cn.write(req)
	if notify && cn.isClosed() {
		b.mu.Lock()
		b.rebalanceCountLocked(cn, ext["consumerGroup"]).notified--
		b.mu.Unlock()
	}
}

// newBrokerRequest builds a broker-initiated oneway request (39, 40) in Java form.
func (b *Broker) newBrokerRequest(code int32, ext map[string]string, body []byte) *remoting.Command {
	return &remoting.Command{
		Code:          code,
		Language:      remoting.LanguageJava,
		Version:       remoting.VersionV4_9_8,
		Opaque:        b.opaque.Add(1) - 1,
		Flag:          remoting.FlagOneway,
		ExtFields:     ext,
		Body:          body,
		SerializeType: remoting.SerializeJSON,
		Style:         remoting.StyleJava,
	}
}
