package meshtest

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// pushReplyTimeout is how long the broker waits for the requesting client to
// take a pushed reply (Broker2Client.callClient).
const pushReplyTimeout = 10 * time.Second

// handleReply answers SEND_REPLY_MESSAGE (324) and SEND_REPLY_MESSAGE_V2 (325) as
// Apache RocketMQ 4.9.8's ReplyMessageProcessor does: the reply is pushed to the
// client that sent the request (its REPLY_TO_CLIENT property names it) with
// PUSH_REPLY_MESSAGE_TO_CLIENT (326), over a connection that client's producer
// heartbeat registered on this broker; the client's answer to the push decides
// the reply's; then the reply is stored (storeReplyMessageEnable), pushed or
// not. The push waits for the client, so it runs off the connection's reading
// goroutine.
func (b *Broker) handleReply(cn *conn, req *remoting.Command, h sendHeader) *remoting.Command {
	props := remoting.ParseProperties(h.properties)
	senderID := props[remoting.PropertyReplyTo]
	target := b.producerByClientID(senderID)
	b.srv.wg.Add(1)
	stop := b.srv.stopCh
	go func() {
		defer b.srv.wg.Done()
		resp := remoting.NewResponse(req, remoting.Success, "")
		remark := ""
		switch {
		case senderID == "":
			remark = "reply message properties[" + remoting.PropertyReplyTo + "] is null"
		case target == nil:
			remark = "push reply message fail, channel of <" + senderID + "> not found."
		default:
			props[remoting.PropertyPushReplyTime] = strconv.FormatInt(time.Now().UnixMilli(), 10)
			push := b.newBrokerRequest(remoting.CodePushReplyMessageToClient, map[string]string{
				"bornHost":              "/" + cn.remote,
				"storeHost":             "/" + b.set.members[0].Addr(),
				"storeTimestamp":        strconv.FormatInt(time.Now().UnixMilli(), 10),
				"producerGroup":         h.producerGroup,
				"topic":                 h.topic,
				"defaultTopic":          h.defaultTopic,
				"defaultTopicQueueNums": strconv.Itoa(int(h.defaultTopicQueueNums)),
				"queueId":               strconv.Itoa(int(h.queueID)),
				"sysFlag":               strconv.Itoa(int(h.sysFlag)),
				"bornTimestamp":         strconv.FormatInt(h.bornTimestamp, 10),
				"flag":                  strconv.Itoa(int(h.flag)),
				"properties":            remoting.FormatProperties(props),
				"reconsumeTimes":        strconv.Itoa(int(h.reconsumeTimes)),
				"unitMode":              strconv.FormatBool(h.unitMode),
			}, req.Body)
			push.Flag = 0 // a synchronous call: the client answers
			answer, err := target.call(push, pushReplyTimeout, stop)
			if err != nil || answer.Code != remoting.Success {
				remark = "push reply message to " + senderID + "fail."
			}
		}
		// The reply is stored whatever the push gave
		// (ReplyMessageProcessor.processReplyMessageRequest with
		// storeReplyMessageEnable on); a failed push decides the code.
		if remark != "" {
			resp.Code, resp.Remark = remoting.SystemError, remark
		}
		stored := b.storeReply(cn, h, props, req.Body)
		cn.write(withExt(resp,
			"msgId", remoting.OffsetMsgID(stored.m.StoreHost, stored.m.CommitLogOffset),
			"queueId", strconv.Itoa(int(h.queueID)),
			"queueOffset", strconv.FormatInt(stored.m.QueueOffset, 10),
			remoting.PropertyMsgRegion, defaultRegion,
			remoting.PropertyTraceSwitch, "true",
		))
	}()
	return nil
}

// storeReply stores a pushed reply in its topic.
func (b *Broker) storeReply(cn *conn, h sendHeader, props map[string]string, body []byte) *storedMsg {
	bornHost, _ := netip.ParseAddrPort(cn.remote)
	props[remoting.PropertyCluster] = b.c.opts.clusterName
	m := &remoting.Message{
		Topic: h.topic, QueueID: h.queueID, Flag: h.flag, Body: append([]byte(nil), body...),
		SysFlag: h.sysFlag, BornTimestamp: h.bornTimestamp, BornHost: bornHost, ReconsumeTimes: h.reconsumeTimes,
	}
	return b.set.store.put(m, props)
}

// producerByClientID returns a live connection of a producer with the given
// clientID, as ProducerManager.findChannel does.
func (b *Broker) producerByClientID(clientID string) *conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, group := range sortedKeys(b.producers) {
		if cn := b.producers[group][clientID]; cn != nil && !cn.isClosed() {
			return cn
		}
	}
	return nil
}

// call sends a request the client must answer and waits for the answer, the
// timeout, the connection's end or stop.
func (cn *conn) call(req *remoting.Command, timeout time.Duration, stop <-chan struct{}) (*remoting.Command, error) {
	ch := make(chan *remoting.Command, 1)
	cn.callMu.Lock()
	if cn.calls == nil {
		cn.calls = make(map[int32]chan *remoting.Command)
	}
	cn.calls[req.Opaque] = ch
	cn.callMu.Unlock()
	defer func() {
		cn.callMu.Lock()
		delete(cn.calls, req.Opaque)
		cn.callMu.Unlock()
	}()
	cn.write(req)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case resp := <-ch:
		return resp, nil
	case <-t.C:
		return nil, fmt.Errorf("meshtest: %s to %s: no answer within %v", remoting.RequestCodeName(req.Code), cn.remote, timeout)
	case <-cn.closed:
		return nil, fmt.Errorf("meshtest: %s to %s: connection closed", remoting.RequestCodeName(req.Code), cn.remote)
	case <-stop:
		return nil, ErrClosed
	}
}

// deliver hands a client's answer to the call waiting for it.
func (cn *conn) deliver(resp *remoting.Command) {
	cn.callMu.Lock()
	ch := cn.calls[resp.Opaque]
	cn.callMu.Unlock()
	if ch != nil {
		select {
		case ch <- resp:
		default:
		}
	}
}
