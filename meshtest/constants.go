package meshtest

import (
	"fmt"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Remarks Apache RocketMQ 4.9.8 writes into error responses, in one place so that
// tests and the mesh can match them. Format verbs are filled with the request's
// values by the helpers below. A "/%s" is a channel's remoteAddress(), which
// Java formats as an InetSocketAddress: with a leading slash.
const (
	// faqSuffix is FAQUrl.suggestTodo(...) of 4.9.8: every FAQ URL is the same page.
	faqSuffix = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."

	remarkNoTopicRoute        = "No topic route info in name server for the topic: %s" + faqSuffix
	remarkNotSupported        = " request type %d not supported"
	remarkUnsetCode           = "not set any response code" // RemotingCommand.createResponseCommand's default
	remarkCreateTopicOK       = remarkUnsetCode
	remarkSendTopicNotExist   = "topic[%s] not exist, apply first please!" + faqSuffix
	remarkSendQueueIllegal    = "request queueId[%d] is illegal, %s Producer: /%s"
	remarkSendForbidden       = "the broker[%s] sending message is forbidden"
	remarkSlaveNotWritable    = "service not available now. It may be caused by one of the following reasons: the broker's disk is full [%s], messages are put to the slave, message store has been shut down, etc."
	remarkTopicBlank          = "The specified topic is blank."
	remarkTopicConflict       = "The specified topic is conflict with AUTO_CREATE_TOPIC_KEY_TOPIC."
	remarkPullTopicNotExist   = "topic[%s] not exist, apply first please! " + faqSuffix
	remarkPullQueueIllegal    = "queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d] consumer:[/%s]"
	remarkPullNoGroupInfo     = "the consumer's group info not exist" + faqSuffix
	remarkPullNoSubscription  = "the consumer's subscription not exist" + faqSuffix
	remarkPullNotLatest       = "the consumer's subscription not latest"
	remarkNoConsumer          = "no consumer for this group, %s"
	remarkLookMessageFailed   = "look message by offset failed, %d"
	remarkViewMessageFailed   = "can not find message by the offset, %d"
	remarkTxFindFailed        = "Find prepared transaction message failed"
	remarkTxGroupWrong        = "The producer group wrong"
	remarkTxTableOffsetWrong  = "The transaction state table offset wrong"
	remarkTxCommitOffsetWrong = "The commit log offset wrong"
	remarkQueryOffsetNotFound = "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"

	// ACL failures surface as SYSTEM_ERROR with RemotingHelper.exceptionSimpleDesc of
	// the AclException thrown by PlainPermissionManager.validate (4.9.8 line numbers).
	remarkACLNoAccessKey = "org.apache.rocketmq.acl.common.AclException: No accessKey is configured, org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:664)"
	remarkACLNoConfig    = "org.apache.rocketmq.acl.common.AclException: No acl config for %s, org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:668)"
	remarkACLSignature   = "org.apache.rocketmq.acl.common.AclException: Check signature failed for accessKey=%s, org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:684)"
)

// Pull statuses (GetMessageStatus names), used as the remark of pull responses.
const (
	statusFound               = "FOUND"
	statusNoMatchedMessage    = "NO_MATCHED_MESSAGE"
	statusNoMessageInQueue    = "NO_MESSAGE_IN_QUEUE"
	statusOffsetOverflowOne   = "OFFSET_OVERFLOW_ONE"
	statusOffsetOverflowBadly = "OFFSET_OVERFLOW_BADLY"
	statusOffsetTooSmall      = "OFFSET_TOO_SMALL"
)

// System topics and prefixes under meshtest's names; the wire codec
// (package remoting) owns them.
const (
	// DefaultTopicKey is the auto-create template topic (AUTO_CREATE_TOPIC_KEY_TOPIC).
	DefaultTopicKey = remoting.AutoCreateTopicKey
	// ScheduleTopic holds delayed messages until their delay level elapses.
	ScheduleTopic = remoting.ScheduleTopic
	// HalfTopic holds transactional half messages until commit or rollback.
	HalfTopic = remoting.HalfTopic
	// RetryTopicPrefix prefixes a consumer group's retry topic.
	RetryTopicPrefix = remoting.RetryTopicPrefix
	// DLQTopicPrefix prefixes a consumer group's dead-letter topic.
	DLQTopicPrefix = remoting.DLQTopicPrefix
)

// Defaults of Apache RocketMQ 4.9.8's BrokerConfig and MessageStoreConfig.
const (
	defaultClusterName       = "DefaultCluster"
	defaultBrokerName        = "broker-a"
	defaultTopicQueueNums    = 8 // BrokerConfig.defaultTopicQueueNums, TBW102's queues
	defaultMaxReconsume      = 16
	defaultRegion            = "DefaultRegion"
	lockMaxLiveTime          = 60 * time.Second
	transactionTimeout       = 6 * time.Second
	transactionCheckInterval = 60 * time.Second
	transactionCheckMax      = 15
	maxDelayLevel            = 18
	permReadWrite            = 6
	permInheritReadWrite     = 7
)

// delayLevels is messageDelayLevel "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";
// delayLevels[0] is level 1.
var delayLevels = [maxDelayLevel]time.Duration{
	1 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	1 * time.Minute, 2 * time.Minute, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute,
	6 * time.Minute, 7 * time.Minute, 8 * time.Minute, 9 * time.Minute, 10 * time.Minute,
	20 * time.Minute, 30 * time.Minute, 1 * time.Hour, 2 * time.Hour,
}

// DelayLevel returns the delay of a RocketMQ delay level (1..18) before time
// scaling; levels outside the range are clamped.
func DelayLevel(level int) time.Duration {
	if level < 1 {
		level = 1
	}
	if level > maxDelayLevel {
		level = maxDelayLevel
	}
	return delayLevels[level-1]
}

// RemarkNoTopicRoute returns the remark the nameserver answers a route request for
// an unknown topic with (code 17).
func RemarkNoTopicRoute(topic string) string { return fmt.Sprintf(remarkNoTopicRoute, topic) }

// RemarkNotSupported returns the remark of a REQUEST_CODE_NOT_SUPPORTED (3) answer.
func RemarkNotSupported(code int32) string { return fmt.Sprintf(remarkNotSupported, code) }

// RemarkNoConsumer returns the remark of a consumer-list request (38) for a group
// the broker has no heartbeat of.
func RemarkNoConsumer(group string) string { return fmt.Sprintf(remarkNoConsumer, group) }

// RemarkACLSignature returns the remark of a request whose ACL signature is wrong.
func RemarkACLSignature(accessKey string) string { return fmt.Sprintf(remarkACLSignature, accessKey) }

// RemarkPullNoGroupInfo is the remark of a pull (24) from a group the broker has no
// heartbeat of.
const RemarkPullNoGroupInfo = remarkPullNoGroupInfo

// More 4.9.8 remarks (TopicValidator).
const (
	remarkTopicIllegal      = "The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
	remarkTopicTooLong      = "The specified topic is longer than topic max length."
	remarkSendTopicNotAllow = "Sending message to topic[%s] is forbidden."
	remarkTopicSystem       = "The topic[%s] is conflict with system topic."
)

// systemTopics is TopicValidator's static SYSTEM_TOPIC_SET of 4.9.8; each
// broker adds its cluster's and its own name (Broker.isSystemTopic).
var systemTopics = map[string]bool{
	DefaultTopicKey: true, ScheduleTopic: true, benchmarkTopic: true, HalfTopic: true,
	"RMQ_SYS_TRACE_TOPIC": true, "RMQ_SYS_TRANS_OP_HALF_TOPIC": true, "TRANS_CHECK_MAX_TIME_TOPIC": true,
	selfTestTopic: true, offsetMovedTopic: true,
}

// System topics every 4.9.8 broker creates at start (TopicConfigManager's
// constructor), besides the cluster's, the broker's and the reply topic.
const (
	selfTestTopic    = "SELF_TEST_TOPIC"
	benchmarkTopic   = "BenchmarkTest"
	offsetMovedTopic = "OFFSET_MOVED_EVENT"
)

// notAllowedSendTopics is TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET.
var notAllowedSendTopics = map[string]bool{
	ScheduleTopic: true, HalfTopic: true, "RMQ_SYS_TRANS_OP_HALF_TOPIC": true,
	"TRANS_CHECK_MAX_TIME_TOPIC": true, selfTestTopic: true, offsetMovedTopic: true,
}
