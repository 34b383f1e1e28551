package meshtest

import (
	"fmt"
	"strconv"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// handleCreateTopic answers UPDATE_AND_CREATE_TOPIC (17). 4.9.8 only sets the code,
// so a success keeps the default remark "not set any response code".
func (b *Broker) handleCreateTopic(req *remoting.Command) *remoting.Command {
	topic := req.Ext("topic")
	if r := validTopic(topic); r != "" {
		return remoting.NewResponse(req, remoting.SystemError, r)
	}
	if topic == DefaultTopicKey || notAllowedSendTopics[topic] || topic == ScheduleTopic {
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf(remarkTopicSystem, topic))
	}
	i32 := func(k string, def int32) int32 {
		v, err := strconv.ParseInt(req.Ext(k), 10, 32)
		if err != nil {
			return def
		}
		return int32(v)
	}
	b.set.store.createTopic(&topicConfig{
		name:    topic,
		read:    i32("readQueueNums", 16),
		write:   i32("writeQueueNums", 16),
		perm:    i32("perm", permReadWrite),
		sysFlag: i32("topicSysFlag", 0),
		order:   req.Ext("order") == "true",
	})
	return remoting.NewResponse(req, remoting.Success, remarkCreateTopicOK)
}

// handleViewMessage answers VIEW_MESSAGE_BY_ID (33): the encoded message at the
// commit log offset.
func (b *Broker) handleViewMessage(req *remoting.Command) *remoting.Command {
	off := extInt64(req, "offset")
	sm := b.set.store.byOffset(off)
	if sm == nil {
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf(remarkViewMessageFailed, off))
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = append([]byte(nil), sm.raw...)
	return resp
}
