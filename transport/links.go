package transport

import (
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
// could not be reached.
const maxRouteAttempts = 3

// routeLink decides where the request goes, asking the router, and re-decides
// once per unreachable target for requests that may go elsewhere (sends to
// another writable broker, pulls to another readable member, the consumer list
// to another master). It asks the router once per request otherwise: the
// broker of a send was already chosen by the client's queue selector, which
// applied the weights; the relay keeps that choice whenever the route allows it.
func (r *Relay) routeLink(ctx context.Context, c *Request, next Invoker) error {
	q := &c.d.query
	*q = Query{Code: c.Code, Kind: kindOf(c.Code), Topic: c.topic, Broker: c.Endpoint.BrokerName, BrokerID: c.Endpoint.BrokerID, view: c.view}
	if c.Pin != "" {
		q.Kind, q.Broker, q.BrokerID = KindMaster, c.Pin, 0
	}
	var prev error // why the previous attempt's target could not take the request; in the remark when no other target is left
	for attempt := 1; ; attempt++ {
		q.Rand = rand.Uint64()
		t, err := r.router.Route(q)
		if err != nil {
			if prev != nil {
				return fmt.Errorf("rmqmesh relay: %s%s for broker %q: %w (after %v)", remoting.RequestCodeName(c.Code), topicNote(c), q.Broker, err, prev)
			}
			return fmt.Errorf("rmqmesh relay: %s%s for broker %q: %w", remoting.RequestCodeName(c.Code), topicNote(c), q.Broker, err)
		}
		c.Target = t
		c.attempt = attempt
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
			c.onAttempt(attempt, t, prev)
		}
		err = next(ctx, c)
		if err == nil || !isUnreachable(err) {
			return err
		}
		prev = err
		movable := q.Kind == KindWrite || q.Kind == KindRead || q.Kind == KindAnyMaster
		if !movable || attempt >= maxRouteAttempts {
			return fmt.Errorf("rmqmesh relay: %s%s for broker %q: %w", remoting.RequestCodeName(c.Code), topicNote(c), q.Broker, err)
		}
		c.undoEdits(mark)
		c.txKey = ""
		if q.Kind == KindRead {
			q.AvoidAddr = t.Addr
		} else {
			q.Avoid, q.AvoidAddr = t.Broker, t.Addr
		}
	}
}

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
