package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// kindOf maps a request code to the endpoints that may take it (DESIGN.md §5).
func kindOf(code int32) Kind {
	switch code {
	case remoting.CodeSendMessage, remoting.CodeSendMessageV2, remoting.CodeSendBatchMessage,
		remoting.CodeSendReplyMessage, remoting.CodeSendReplyMessageV2:
		return KindWrite
	case remoting.CodePullMessage:
		return KindRead
	case remoting.CodeHeartBeat, remoting.CodeUnregisterClient:
		return KindEndpoint
	case remoting.CodeGetConsumerListByGroup:
		return KindAnyMaster
	case remoting.CodeQueryConsumerOffset, remoting.CodeUpdateConsumerOffset, remoting.CodeSearchOffsetByTimestamp,
		remoting.CodeGetMaxOffset, remoting.CodeGetMinOffset, remoting.CodeGetEarliestMsgStoreTime,
		remoting.CodeQueryMessage, remoting.CodeViewMessageByID:
		// A 4.9.8 replica answers these from the state it keeps in step with
		// its master: ConsumerManageProcessor, AdminBrokerProcessor and
		// QueryMessageProcessor have no role check for them (send and
		// end-transaction have, and locks live in each broker's own
		// RebalanceLockManager).
		return KindMasterOrReplica
	}
	return KindMaster
}

// topicField is the extFields key of a request's topic, "" for codes without
// one. SEND_MESSAGE_V2 and the batch and V2 reply sends use one-letter keys.
func topicField(code int32) string {
	switch code {
	case remoting.CodeSendMessageV2, remoting.CodeSendBatchMessage, remoting.CodeSendReplyMessageV2:
		return "b"
	case remoting.CodeSendMessage, remoting.CodeSendReplyMessage, remoting.CodePullMessage, remoting.CodeQueryMessage,
		remoting.CodeQueryConsumerOffset, remoting.CodeUpdateConsumerOffset, remoting.CodeSearchOffsetByTimestamp,
		remoting.CodeGetMaxOffset, remoting.CodeGetMinOffset, remoting.CodeGetEarliestMsgStoreTime:
		return "topic"
	}
	return ""
}

// sendField returns the extFields key of a send header field, given by its long
// name, in the form the code uses ("queueId" or "e", …).
func sendField(code int32, long, short string) string {
	switch code {
	case remoting.CodeSendMessageV2, remoting.CodeSendBatchMessage, remoting.CodeSendReplyMessageV2:
		return short
	}
	return long
}

// brokerNameField is the extFields key a RocketMQ 5 proxy reads the broker name
// from: "n" for SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE, "bname" otherwise.
func brokerNameField(code int32) string {
	if code == remoting.CodeSendMessageV2 || code == remoting.CodeSendBatchMessage {
		return "n"
	}
	return "bname"
}

// maxRouteAttempts bounds how often one request is re-decided after its target
// could not be reached, when it is not a send under failover (whose policy
// bounds its tries).
const maxRouteAttempts = 3

// maxShunned bounds how often one routing decision steers around an ejected or
// departing host.
const maxShunned = 4

// routeLink decides where the request goes, asking the router, and re-decides
// for requests that may go elsewhere when the target cannot be reached (sends
// to another writable broker, pulls and replica-served reads to another
// member, the consumer list to another master), or is ejected by outlier
// detection or going away. It asks the router once per request otherwise: the
// broker of a send was already chosen by the client's queue selector, which
// applied the weights; the relay keeps that choice whenever the route allows it.
//
// A send under failover (c.retry) counts its tries against its policy; a send
// with a sharding key stays on its broker unless the policy lets it move.
func (r *Relay) routeLink(ctx context.Context, c *Request, next Invoker) error {
	q := c.q
	*q = Query{Code: c.Code, Kind: kindOf(c.Code), Topic: c.topic, Broker: c.Endpoint.BrokerName, BrokerID: c.Endpoint.BrokerID, view: c.view}
	if c.Pin != "" {
		q.Kind, q.Broker, q.BrokerID = KindMaster, c.Pin, 0
	}
	sr := c.retry
	if sr != nil {
		sr.prepareRetryQuery(q)
	}
	var fallback Target
	var unreachable error // the last target that could not be reached
	shunned := 0
	var prev error // why the previous attempt's target could not take the request; in the remark when no other target is left
	for attempt := 1; ; attempt++ {
		q.Rand = rand.Uint64()
		t, err := r.router.Route(q)
		switch {
		case err != nil && unreachable != nil && shunned == 0:
			// Nowhere else to go: the client learns why the target failed.
			return fmt.Errorf("rmqmesh relay: %s%s for broker %q: %w (and no other target: %v)", remoting.RequestCodeName(c.Code), topicNote(c), q.Broker, unreachable, err)
		case err != nil && shunned > 0 && q.Kind == KindRead:
			// A pull whose only members are ejected fails fast, so that the
			// consumer keeps consuming the other brokers.
			return &ResponseError{Code: remoting.ServiceNotAvailable, Remark: fmt.Sprintf(
				"rmqmesh relay: %s%s for broker %q: %s at %s is ejected by outlier detection or going away, and no other member can take it; retry later",
				remoting.RequestCodeName(c.Code), topicNote(c), q.Broker, fallback.Broker, fallback.Addr)}
		case err != nil && shunned > 0:
			// Nothing else is left: use the shunned host rather than fail
			// (Envoy's panic mode).
			t, err = fallback, nil
			shunned = maxShunned
		case err != nil && prev != nil:
			return fmt.Errorf("rmqmesh relay: %s%s for broker %q: %w (after %v)", remoting.RequestCodeName(c.Code), topicNote(c), q.Broker, err, prev)
		case err != nil:
			return fmt.Errorf("rmqmesh relay: %s%s for broker %q: %w", remoting.RequestCodeName(c.Code), topicNote(c), q.Broker, err)
		case shunned < maxShunned && shunnable(q.Kind) && r.shunned(t):
			// The fallback is the first host shunned, unless it is going
			// away and a later one is only ejected: a GO_AWAY is the
			// broker's own refusal, an ejection a guess from failures.
			if shunned == 0 || (r.goingAway.has(fallback.Addr) && !r.goingAway.has(t.Addr)) {
				fallback = t
			}
			shunned++
			attempt--
			r.avoidTarget(q, t)
			continue
		}
		c.Target = t
		if sr == nil && attempt == 1 && eligibleForFailover(c, t) {
			if sr = c.d.newSendRetry(c, t); sr != nil {
				c.retry, c.retryHeld = sr, true
			}
		}
		if sr != nil {
			sr.startTry()
			if n := len(sr.tried); n > 0 {
				from := sr.tried[n-1]
				r.log.Debug("send failover", "code", remoting.RequestCodeName(c.Code), "topic", c.topic, "from", from.Addr, "to", t.Addr, "attempt", sr.attempts, "reason", sr.lastReason)
				callHook(r, "OnFailover", r.o.hooks.OnFailover, FailoverEvent{Code: c.Code, Topic: c.topic, From: from, To: t, Attempt: sr.attempts - 1, Reason: sr.lastReason})
			}
		}
		c.attempt = attempt
		if sr != nil {
			// A send's tries are counted across its failovers.
			c.attempt = sr.attempts
			if prev == nil && len(sr.tried) > 0 {
				prev = errors.New(sr.lastReason)
			}
		}
		mark := c.editsMark()
		if q.Kind == KindWrite && t.Broker != c.Endpoint.BrokerName && r.mayEdit(c) {
			// The queue the client chose belongs to another broker: let the
			// broker that takes the message pick one of its own.
			if err := c.SetExt(sendField(c.Code, "queueId", "e"), "-1"); err != nil {
				return err
			}
			c.txKey = transactionKey(c)
		}
		if c.onAttempt != nil {
			c.onAttempt(c.attempt, t, prev)
		}
		err = next(ctx, c)
		if err == nil || !isUnreachable(err) {
			return err
		}
		prev = err
		// Nothing was sent: another target is safe for any request that may
		// go elsewhere.
		if sr != nil {
			sr.noteFailure(t, 0, err.Error())
			if !sr.canRetry() {
				return fmt.Errorf("rmqmesh relay: %s%s for broker %q: %w", remoting.RequestCodeName(c.Code), topicNote(c), q.Broker, err)
			}
		}
		if !movable(q.Kind) || (sr == nil && attempt >= maxRouteAttempts) || (q.Kind == KindWrite && sr == nil && keyedSend(c)) {
			return fmt.Errorf("rmqmesh relay: %s%s for broker %q: %w", remoting.RequestCodeName(c.Code), topicNote(c), q.Broker, err)
		}
		if q.Kind == KindWrite && sr != nil && sr.stayHome {
			q.Kind, q.Broker, q.BrokerID = KindMaster, sr.home, 0
			continue
		}
		c.undoEdits(mark)
		c.txKey = ""
		r.avoidTarget(q, t)
		unreachable = err
	}
}

// movable reports whether requests of kind k may go to another endpoint than
// the one first chosen.
func movable(k Kind) bool {
	switch k {
	case KindWrite, KindRead, KindAnyMaster, KindMasterOrReplica, KindEndpoint:
		return true
	}
	return false
}

// shunnable reports whether requests of kind k steer around ejected and
// departing hosts: sends, pulls and the reads a replica serves. Heartbeats
// and the state a master holds go where they must.
func shunnable(k Kind) bool {
	switch k {
	case KindWrite, KindRead, KindAnyMaster, KindMasterOrReplica:
		return true
	}
	return false
}

// avoidTarget makes the next routing answer avoid t: another broker for sends
// and the consumer list, another member of the same broker otherwise.
func (r *Relay) avoidTarget(q *Query, t Target) {
	switch q.Kind {
	case KindWrite, KindAnyMaster:
		q.avoid(t.Broker, t.Addr)
	default:
		q.avoid("", t.Addr)
	}
}

// shunned reports whether t is ejected by outlier detection or going away.
func (r *Relay) shunned(t Target) bool {
	return r.goingAway.has(t.Addr) || r.ejected(r.clusterFor(t.Policy), t.Addr)
}

// keyedSend reports whether send c carries a sharding key.
func keyedSend(c *Request) bool { return hasShardingKey(c.view, c.Code) }

// hasShardingKey reports whether the send in v carries a sharding key. It
// scans the properties as the frame encodes them, without decoding: name and
// value are separated by \x01, which a JSON header escapes as \u0001.
func hasShardingKey(v *remoting.FrameView, code int32) bool {
	raw, ok := v.ExtEncoded(sendField(code, "properties", "i"))
	if !ok {
		return false
	}
	return bytes.Contains(raw, []byte(shardingKeyRaw)) || (v.SerializeType() == remoting.SerializeJSON && bytes.Contains(raw, []byte(shardingKeyJSON)))
}

const (
	shardingKeyRaw  = shardingKeyProperty + "\x01"
	shardingKeyJSON = shardingKeyProperty + `\u0001`
)

func topicNote(c *Request) string {
	if c.topic == "" {
		return ""
	}
	return " (topic " + strconv.Quote(c.topic) + ")"
}

// transactionKey returns the message key of a transactional half-message send,
// "" for any other request.
func transactionKey(c *Request) string {
	var buf [16]byte
	flag, _ := c.view.AppendExt(buf[:0], sendField(c.Code, "sysFlag", "f"))
	sysFlag, err := strconv.ParseInt(string(flag), 10, 32)
	if err != nil || remoting.TransactionType(int32(sysFlag)) != remoting.SysFlagTransactionPrepared {
		return ""
	}
	props, _ := c.view.Ext(sendField(c.Code, "properties", "i"))
	return remoting.ParseProperties(props)[remoting.PropertyUniqKey]
}

// affinityLink pins an END_TRANSACTION to the broker that holds its half
// message, when that is not the broker the client addresses: after a send the
// relay redirected, or for the answer to a check that another broker's endpoint
// relayed.
func (r *Relay) affinityLink(ctx context.Context, c *Request, next Invoker) error {
	if c.Code == remoting.CodeEndTransaction {
		if key, ok := c.view.Ext("msgId"); ok && key != "" {
			if broker, ok := r.affinity.get(key); ok {
				c.Pin = broker
			}
		}
	}
	return next(ctx, c)
}

// brokerNameLink adds the name of the broker a request is for, when the client
// did not: RocketMQ 5 proxies in cluster mode refuse remoting requests without
// it, and rocketmq-client-go v2.1.2 never sends it. Heartbeats and
// unregistrations, which a proxy serves itself and the relay copies to several
// brokers, are left alone, and so are signed requests the relay cannot sign
// again.
func (r *Relay) brokerNameLink(ctx context.Context, c *Request, next Invoker) error {
	if r.o.noBrokerName || c.Target.Broker == "" || c.Code == remoting.CodeHeartBeat || c.Code == remoting.CodeUnregisterClient {
		return next(ctx, c)
	}
	field := brokerNameField(c.Code)
	if !c.HasExt(field) && r.mayEdit(c) {
		if err := c.SetExt(field, c.Target.Broker); err != nil {
			return err
		}
	}
	return next(ctx, c)
}

// forward is the end of the chain.
func (r *Relay) forward(_ context.Context, c *Request) error {
	return c.d.forward(c)
}

// isUnreachable reports whether err says a target could not be reached. It is
// a function of its own so that the success path does not pay for errors.As.
func isUnreachable(err error) bool {
	var ue *unreachableError
	return errors.As(err, &ue)
}
