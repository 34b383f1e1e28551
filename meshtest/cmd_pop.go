package meshtest

import (
	"strconv"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// handlePop answers POP_MESSAGE (200050, a RocketMQ 5 code 4.9.8 does not know)
// minimally: up to maxMsgNums messages from the group's offset on the queue
// (queueId -1: the first queue with messages); the offset advances at once, and
// invisibility and redelivery are not modelled. Without WithPop it answers as
// 4.9.8 does: REQUEST_CODE_NOT_SUPPORTED.
func (b *Broker) handlePop(req *remoting.Command) *remoting.Command {
	if !b.c.opts.pop {
		return notSupported(req)
	}
	group, topic := req.Ext("consumerGroup"), req.Ext("topic")
	st := b.set.store
	tc := st.topic(topic)
	if tc == nil {
		return remoting.NewResponse(req, remoting.TopicNotExist, "topic["+topic+"] not exist, apply first please!"+faqSuffix)
	}
	n := int(extInt64(req, "maxMsgNums"))
	if n <= 0 {
		n = 1
	}
	qids := []int32{int32(extInt64(req, "queueId"))}
	if qids[0] < 0 {
		qids = qids[:0]
		for q := int32(0); q < tc.read; q++ {
			qids = append(qids, q)
		}
	}
	for _, qid := range qids {
		off, _ := st.consumerOffset(group, topic, qid)
		msgs := st.read(topic, qid, off, min(n, maxTransferCount))
		if len(msgs) == 0 {
			continue
		}
		st.setOffset(group, topic, qid, off+int64(len(msgs)))
		_, maxOff := st.queueRange(topic, qid)
		resp := withExt(remoting.NewResponse(req, remoting.Success, statusFound),
			"popTime", strconv.FormatInt(b.c.clock.now().UnixMilli(), 10),
			"invisibleTime", req.Ext("invisibleTime"),
			"reviveQid", "0",
			"restNum", strconv.FormatInt(maxOff-off-int64(len(msgs)), 10),
			"startOffsetInfo", topic+" "+strconv.Itoa(int(qid))+" "+strconv.FormatInt(off, 10),
		)
		for _, sm := range msgs {
			resp.Body = append(resp.Body, sm.raw...)
		}
		return resp
	}
	return withExt(remoting.NewResponse(req, remoting.PullNotFound, "no new message"))
}

// handleAck answers ACK_MESSAGE (200051): always SUCCESS.
func (b *Broker) handleAck(req *remoting.Command) *remoting.Command {
	if !b.c.opts.pop {
		return notSupported(req)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}
