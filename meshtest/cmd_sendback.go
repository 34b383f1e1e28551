package meshtest

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// handleSendBack answers CONSUMER_SEND_MSG_BACK (36): the message at the commit log
// offset goes to %RETRY%group with a delay level (0 means 3 + reconsumeTimes), or
// to %DLQ%group once reconsumeTimes reaches maxReconsumeTimes or the level is
// negative.
func (b *Broker) handleSendBack(req *remoting.Command) *remoting.Command {
	group := req.Ext("group")
	off := extInt64(req, "offset")
	delayLevel := int(extInt64(req, "delayLevel"))
	maxTimes := int32(defaultMaxReconsume)
	if v := req.Ext("maxReconsumeTimes"); v != "" && req.Version >= 0 {
		if n, err := strconv.Atoi(v); err == nil {
			maxTimes = int32(n)
		}
	}
	if !b.isMaster() {
		return remoting.NewResponse(req, remoting.ServiceNotAvailable, fmt.Sprintf(remarkSlaveNotWritable, "CL:  0.01 CQ:  0.01 INDEX:  0.01"))
	}
	st := b.set.store
	newTopic := RetryTopicPrefix + group
	st.createTopicIfAbsent(&topicConfig{name: newTopic, read: 1, write: 1, perm: permReadWrite})
	orig := st.byOffset(off)
	if orig == nil {
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf(remarkLookMessageFailed, off))
	}
	props := maps.Clone(orig.props)
	if props[remoting.PropertyRetryTopic] == "" {
		props[remoting.PropertyRetryTopic] = orig.m.Topic
	}
	props[remoting.PropertyWaitStoreMsgOK] = "false"
	qid := int32(0)
	if orig.m.ReconsumeTimes >= maxTimes || delayLevel < 0 {
		newTopic = DLQTopicPrefix + group
		st.createTopicIfAbsent(&topicConfig{name: newTopic, read: 1, write: 1, perm: permReadWrite})
		delete(props, remoting.PropertyDelayLevel)
	} else {
		if delayLevel == 0 {
			delayLevel = 3 + int(orig.m.ReconsumeTimes)
		}
		props[remoting.PropertyDelayLevel] = strconv.Itoa(delayLevel)
	}
	if props[remoting.PropertyOriginMessageID] == "" {
		props[remoting.PropertyOriginMessageID] = remoting.OffsetMsgID(orig.m.StoreHost, orig.m.CommitLogOffset)
	}
	if strings.TrimSpace(props[remoting.PropertyOriginMessageID]) == "" {
		props[remoting.PropertyOriginMessageID] = req.Ext("originMsgId")
	}
	m := &remoting.Message{
		Topic:          newTopic,
		QueueID:        qid,
		Flag:           orig.m.Flag,
		Body:           orig.m.Body,
		SysFlag:        orig.m.SysFlag,
		BornTimestamp:  orig.m.BornTimestamp,
		BornHost:       orig.m.BornHost,
		ReconsumeTimes: orig.m.ReconsumeTimes + 1,
	}
	st.put(m, props)
	return remoting.NewResponse(req, remoting.Success, "")
}
