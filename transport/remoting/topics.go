package remoting

import "strings"

// Topics and topic prefixes that mean something to brokers and clients
// (Apache RocketMQ's TopicValidator and MixAll). The rest of rmqmesh and
// meshtest take them from here.
const (
	// AutoCreateTopicKey is the template topic whose route a producer borrows
	// for a topic that has none, and sends with auto-creation
	// (AUTO_CREATE_TOPIC_KEY_TOPIC, the official client's CreateTopicKey
	// default, the DefaultTopic field of a send header).
	AutoCreateTopicKey = "TBW102"
	// ScheduleTopic holds delayed messages until their delay level elapses.
	ScheduleTopic = "SCHEDULE_TOPIC_XXXX"
	// HalfTopic holds transactional half messages until commit or rollback.
	HalfTopic = "RMQ_SYS_TRANS_HALF_TOPIC"
	// RetryTopicPrefix prefixes a consumer group's retry topic.
	RetryTopicPrefix = "%RETRY%"
	// DLQTopicPrefix prefixes a consumer group's dead-letter topic.
	DLQTopicPrefix = "%DLQ%"
)

// IsGroupTopic reports whether topic is a consumer group's retry or
// dead-letter topic.
func IsGroupTopic(topic string) bool {
	return strings.HasPrefix(topic, RetryTopicPrefix) || strings.HasPrefix(topic, DLQTopicPrefix)
}
