package remoting

import "strconv"

// Request codes (Apache RocketMQ's RequestCode) that the official client sends or
// receives, plus the nameserver and admin codes a mesh may see.
const (
	CodeSendMessage                 int32 = 10
	CodePullMessage                 int32 = 11
	CodeQueryMessage                int32 = 12
	CodeQueryConsumerOffset         int32 = 14
	CodeUpdateConsumerOffset        int32 = 15
	CodeUpdateAndCreateTopic        int32 = 17
	CodeGetAllTopicConfig           int32 = 21
	CodeSearchOffsetByTimestamp     int32 = 29
	CodeGetMaxOffset                int32 = 30
	CodeGetMinOffset                int32 = 31
	CodeGetEarliestMsgStoreTime     int32 = 32
	CodeViewMessageByID             int32 = 33
	CodeHeartBeat                   int32 = 34
	CodeUnregisterClient            int32 = 35
	CodeConsumerSendMsgBack         int32 = 36
	CodeEndTransaction              int32 = 37
	CodeGetConsumerListByGroup      int32 = 38
	CodeCheckTransactionState       int32 = 39
	CodeNotifyConsumerIDsChanged    int32 = 40
	CodeLockBatchMQ                 int32 = 41
	CodeUnlockBatchMQ               int32 = 42
	CodeGetAllConsumerOffset        int32 = 43
	CodeGetAllDelayOffset           int32 = 45
	CodeCheckClientConfig           int32 = 46
	CodeRegisterBroker              int32 = 103
	CodeUnregisterBroker            int32 = 104
	CodeGetRouteInfoByTopic         int32 = 105
	CodeGetBrokerClusterInfo        int32 = 106
	CodeGetAllSubscriptionGroup     int32 = 201
	CodeGetConsumerConnectionList   int32 = 203
	CodeGetProducerConnectionList   int32 = 204
	CodeGetAllTopicListFromNameSrv  int32 = 206
	CodeDeleteTopicInBroker         int32 = 215
	CodeDeleteTopicInNameSrv        int32 = 216
	CodeResetConsumerClientOffset   int32 = 220
	CodeGetConsumerStatusFromClient int32 = 221
	CodeInvokeBrokerToResetOffset   int32 = 222
	CodeGetConsumerRunningInfo      int32 = 307
	CodeConsumeMessageDirectly      int32 = 309
	CodeSendMessageV2               int32 = 310
	CodeSendBatchMessage            int32 = 320
	CodeSendReplyMessage            int32 = 324
	CodeSendReplyMessageV2          int32 = 325
	CodePushReplyMessageToClient    int32 = 326
	CodePopMessage                  int32 = 200050
	CodeAckMessage                  int32 = 200051
	CodePeekMessage                 int32 = 200052
	CodeChangeMessageInvisibleTime  int32 = 200053
	CodeNotification                int32 = 200054
	CodePollingInfo                 int32 = 200055
)

// Response codes (Apache RocketMQ's ResponseCode).
const (
	Success                    int32 = 0
	SystemError                int32 = 1
	SystemBusy                 int32 = 2
	RequestCodeNotSupported    int32 = 3
	TransactionFailed          int32 = 4
	FlushDiskTimeout           int32 = 10
	SlaveNotAvailable          int32 = 11
	FlushSlaveTimeout          int32 = 12
	MessageIllegal             int32 = 13
	ServiceNotAvailable        int32 = 14
	VersionNotSupported        int32 = 15
	NoPermission               int32 = 16
	TopicNotExist              int32 = 17
	TopicExistAlready          int32 = 18
	PullNotFound               int32 = 19
	PullRetryImmediately       int32 = 20
	PullOffsetMoved            int32 = 21
	QueryNotFound              int32 = 22
	SubscriptionParseFailed    int32 = 23
	SubscriptionNotExist       int32 = 24
	SubscriptionNotLatest      int32 = 25
	SubscriptionGroupNotExist  int32 = 26
	FilterDataNotExist         int32 = 27
	FilterDataNotLatest        int32 = 28
	TransactionShouldCommit    int32 = 200
	TransactionShouldRollback  int32 = 201
	TransactionStateUnknown    int32 = 202
	TransactionStateGroupWrong int32 = 203
	NoBuyerID                  int32 = 204
	NotInCurrentUnit           int32 = 205
	ConsumerNotOnline          int32 = 206
	ConsumeMsgTimeout          int32 = 207
	NoMessage                  int32 = 208
	PollingFull                int32 = 209
	PollingTimeout             int32 = 210
)

// RequestCodeName returns Apache RocketMQ's name for a request code, or the number
// when the code is not one this package knows.
func RequestCodeName(code int32) string {
	switch code {
	case CodeSendMessage:
		return "SEND_MESSAGE"
	case CodePullMessage:
		return "PULL_MESSAGE"
	case CodeQueryMessage:
		return "QUERY_MESSAGE"
	case CodeQueryConsumerOffset:
		return "QUERY_CONSUMER_OFFSET"
	case CodeUpdateConsumerOffset:
		return "UPDATE_CONSUMER_OFFSET"
	case CodeUpdateAndCreateTopic:
		return "UPDATE_AND_CREATE_TOPIC"
	case CodeGetAllTopicConfig:
		return "GET_ALL_TOPIC_CONFIG"
	case CodeSearchOffsetByTimestamp:
		return "SEARCH_OFFSET_BY_TIMESTAMP"
	case CodeGetMaxOffset:
		return "GET_MAX_OFFSET"
	case CodeGetMinOffset:
		return "GET_MIN_OFFSET"
	case CodeGetEarliestMsgStoreTime:
		return "GET_EARLIEST_MSG_STORETIME"
	case CodeViewMessageByID:
		return "VIEW_MESSAGE_BY_ID"
	case CodeHeartBeat:
		return "HEART_BEAT"
	case CodeUnregisterClient:
		return "UNREGISTER_CLIENT"
	case CodeConsumerSendMsgBack:
		return "CONSUMER_SEND_MSG_BACK"
	case CodeEndTransaction:
		return "END_TRANSACTION"
	case CodeGetConsumerListByGroup:
		return "GET_CONSUMER_LIST_BY_GROUP"
	case CodeCheckTransactionState:
		return "CHECK_TRANSACTION_STATE"
	case CodeNotifyConsumerIDsChanged:
		return "NOTIFY_CONSUMER_IDS_CHANGED"
	case CodeLockBatchMQ:
		return "LOCK_BATCH_MQ"
	case CodeUnlockBatchMQ:
		return "UNLOCK_BATCH_MQ"
	case CodeGetAllConsumerOffset:
		return "GET_ALL_CONSUMER_OFFSET"
	case CodeGetAllDelayOffset:
		return "GET_ALL_DELAY_OFFSET"
	case CodeCheckClientConfig:
		return "CHECK_CLIENT_CONFIG"
	case CodeRegisterBroker:
		return "REGISTER_BROKER"
	case CodeUnregisterBroker:
		return "UNREGISTER_BROKER"
	case CodeGetRouteInfoByTopic:
		return "GET_ROUTEINFO_BY_TOPIC"
	case CodeGetBrokerClusterInfo:
		return "GET_BROKER_CLUSTER_INFO"
	case CodeGetAllSubscriptionGroup:
		return "GET_ALL_SUBSCRIPTIONGROUP_CONFIG"
	case CodeGetConsumerConnectionList:
		return "GET_CONSUMER_CONNECTION_LIST"
	case CodeGetProducerConnectionList:
		return "GET_PRODUCER_CONNECTION_LIST"
	case CodeGetAllTopicListFromNameSrv:
		return "GET_ALL_TOPIC_LIST_FROM_NAMESERVER"
	case CodeDeleteTopicInBroker:
		return "DELETE_TOPIC_IN_BROKER"
	case CodeDeleteTopicInNameSrv:
		return "DELETE_TOPIC_IN_NAMESRV"
	case CodeResetConsumerClientOffset:
		return "RESET_CONSUMER_CLIENT_OFFSET"
	case CodeGetConsumerStatusFromClient:
		return "GET_CONSUMER_STATUS_FROM_CLIENT"
	case CodeInvokeBrokerToResetOffset:
		return "INVOKE_BROKER_TO_RESET_OFFSET"
	case CodeGetConsumerRunningInfo:
		return "GET_CONSUMER_RUNNING_INFO"
	case CodeConsumeMessageDirectly:
		return "CONSUME_MESSAGE_DIRECTLY"
	case CodeSendMessageV2:
		return "SEND_MESSAGE_V2"
	case CodeSendBatchMessage:
		return "SEND_BATCH_MESSAGE"
	case CodeSendReplyMessage:
		return "SEND_REPLY_MESSAGE"
	case CodeSendReplyMessageV2:
		return "SEND_REPLY_MESSAGE_V2"
	case CodePushReplyMessageToClient:
		return "PUSH_REPLY_MESSAGE_TO_CLIENT"
	case CodePopMessage:
		return "POP_MESSAGE"
	case CodeAckMessage:
		return "ACK_MESSAGE"
	case CodePeekMessage:
		return "PEEK_MESSAGE"
	case CodeChangeMessageInvisibleTime:
		return "CHANGE_MESSAGE_INVISIBLETIME"
	case CodeNotification:
		return "NOTIFICATION"
	case CodePollingInfo:
		return "POLLING_INFO"
	}
	return strconv.Itoa(int(code))
}

// IsSendCode reports whether code carries a message to a broker for storage.
func IsSendCode(code int32) bool {
	switch code {
	case CodeSendMessage, CodeSendMessageV2, CodeSendBatchMessage, CodeSendReplyMessage, CodeSendReplyMessageV2:
		return true
	}
	return false
}
