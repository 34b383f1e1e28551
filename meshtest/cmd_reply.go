package meshtest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Remarks of 4.9.8's ReplyMessageProcessor.
const (
	remarkReplyToClientMissing = "reply message properties[REPLY_TO_CLIENT] is null"
	remarkReplyChannelNotFound = "push reply message fail, channel of <%s> not found."
)

// handleReply answers SEND_REPLY_MESSAGE (324) and SEND_REPLY_MESSAGE_V2 (325) as
// 4.9.8's ReplyMessageProcessor does: it pushes the reply to the requesting
// client as PUSH_REPLY_MESSAGE_TO_CLIENT (326) over the producer connection whose
// heartbeat carried the client id in the REPLY_TO_CLIENT property, then stores
// it (storeReplyMessageEnable defaults to true). When the requester has no
// connection the answer is SYSTEM_ERROR with the broker's remark; the reply is
// stored all the same. The client's answer to the push is not waited for.
func (b *Broker) handleReply(cn *conn, req *remoting.Command) *remoting.Command {
	h := parseSendHeader(req)
	props := remoting.ParseProperties(h.properties)
	sender := props[remoting.PropertyReplyTo]
	var failed string
	switch target := b.clientConn(sender); {
	case sender == "":
		failed = remarkReplyToClientMissing
	case target == nil:
		failed = fmt.Sprintf(remarkReplyChannelNotFound, sender)
	default:
		props[remoting.PropertyPushReplyTime] = strconv.FormatInt(time.Now().UnixMilli(), 10)
		ext := map[string]string{
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
			"bornHost":              "/" + cn.remote,
			"storeHost":             "/" + b.Addr(),
			"storeTimestamp":        strconv.FormatInt(b.c.clock.now().UnixMilli(), 10),
		}
		push := b.newBrokerRequest(remoting.CodePushReplyMessageToClient, ext, req.Body)
		push.Flag = 0 // invokeSync in 4.9.8: the client answers
		target.write(push)
	}
	resp := b.handleSend(cn, req)
	if failed != "" && resp.Code == remoting.Success {
		resp.Code, resp.Remark = remoting.SystemError, failed
	}
	return resp
}

// clientConn returns the open producer connection whose heartbeat carried
// clientID, as ProducerManager.findChannel does, or nil.
func (b *Broker) clientConn(clientID string) *conn {
	if clientID == "" {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, g := range b.producers {
		if cn := g[clientID]; cn != nil && !cn.isClosed() {
			return cn
		}
	}
	return nil
}
