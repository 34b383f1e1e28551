package meshtest

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// remarkSlaveModify is what a 4.9.8 slave answers a topic or subscription
// group change with (AdminBrokerProcessor.validateSlave).
const remarkSlaveModify = "Can't modify topic or subscription group from slave broker, please execute it from master broker."

// handleCreateTopic answers UPDATE_AND_CREATE_TOPIC (17). 4.9.8 only sets the code,
// so a success keeps the default remark "not set any response code".
func (b *Broker) handleCreateTopic(req *remoting.Command) *remoting.Command {
	if !b.isMaster() {
		return remoting.NewResponse(req, remoting.SystemError, remarkSlaveModify)
	}
	topic := req.Ext("topic")
	if r := validTopic(topic); r != "" {
		return remoting.NewResponse(req, remoting.SystemError, r)
	}
	if b.isSystemTopic(topic) {
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

// isSystemTopic is TopicValidator.isSystemTopic as seen by this broker: the
// static system topics plus the cluster's and the broker's own names, which
// 4.9.8's TopicConfigManager constructor adds with addSystemTopic.
func (b *Broker) isSystemTopic(topic string) bool {
	return systemTopics[topic] || topic == b.c.opts.clusterName || topic == b.set.name
}

// handleDeleteTopic answers DELETE_TOPIC_IN_BROKER (215) as 4.9.8's
// AdminBrokerProcessor.deleteTopic does: the topic's config and consume queues
// go, and the broker does not re-register, so the nameserver keeps routing the
// topic until DELETE_TOPIC_IN_NAMESRV (216).
func (b *Broker) handleDeleteTopic(req *remoting.Command) *remoting.Command {
	if !b.isMaster() {
		return remoting.NewResponse(req, remoting.SystemError, remarkSlaveModify)
	}
	b.set.deleteTopic(req.Ext("topic"))
	return remoting.NewResponse(req, remoting.Success, "")
}

// handleAllSubscriptionGroups answers GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201)
// with SubscriptionGroupManager's JSON, as AdminBrokerProcessor.getAllSubscriptionGroup
// does.
func (b *Broker) handleAllSubscriptionGroups(req *remoting.Command) *remoting.Command {
	body, err := json.Marshal(b.set.store.subscriptionGroups())
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, "meshtest: encoding subscription groups: "+err.Error())
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	return resp
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
