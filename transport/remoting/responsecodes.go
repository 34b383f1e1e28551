package remoting

import "strconv"

// ResponseCodeName returns Apache RocketMQ's name for a response code
// (ResponseCode's constant names, e.g. "NO_PERMISSION"), or the number when the
// code is not one this package knows.
func ResponseCodeName(code int32) string {
	switch code {
	case Success:
		return "SUCCESS"
	case SystemError:
		return "SYSTEM_ERROR"
	case SystemBusy:
		return "SYSTEM_BUSY"
	case RequestCodeNotSupported:
		return "REQUEST_CODE_NOT_SUPPORTED"
	case TransactionFailed:
		return "TRANSACTION_FAILED"
	case FlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case SlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	case FlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case MessageIllegal:
		return "MESSAGE_ILLEGAL"
	case ServiceNotAvailable:
		return "SERVICE_NOT_AVAILABLE"
	case VersionNotSupported:
		return "VERSION_NOT_SUPPORTED"
	case NoPermission:
		return "NO_PERMISSION"
	case TopicNotExist:
		return "TOPIC_NOT_EXIST"
	case TopicExistAlready:
		return "TOPIC_EXIST_ALREADY"
	case PullNotFound:
		return "PULL_NOT_FOUND"
	case PullRetryImmediately:
		return "PULL_RETRY_IMMEDIATELY"
	case PullOffsetMoved:
		return "PULL_OFFSET_MOVED"
	case QueryNotFound:
		return "QUERY_NOT_FOUND"
	case SubscriptionParseFailed:
		return "SUBSCRIPTION_PARSE_FAILED"
	case SubscriptionNotExist:
		return "SUBSCRIPTION_NOT_EXIST"
	case SubscriptionNotLatest:
		return "SUBSCRIPTION_NOT_LATEST"
	case SubscriptionGroupNotExist:
		return "SUBSCRIPTION_GROUP_NOT_EXIST"
	case FilterDataNotExist:
		return "FILTER_DATA_NOT_EXIST"
	case FilterDataNotLatest:
		return "FILTER_DATA_NOT_LATEST"
	case TransactionShouldCommit:
		return "TRANSACTION_SHOULD_COMMIT"
	case TransactionShouldRollback:
		return "TRANSACTION_SHOULD_ROLLBACK"
	case TransactionStateUnknown:
		return "TRANSACTION_STATE_UNKNOW"
	case TransactionStateGroupWrong:
		return "TRANSACTION_STATE_GROUP_WRONG"
	case NoBuyerID:
		return "NO_BUYER_ID"
	case NotInCurrentUnit:
		return "NOT_IN_CURRENT_UNIT"
	case ConsumerNotOnline:
		return "CONSUMER_NOT_ONLINE"
	case ConsumeMsgTimeout:
		return "CONSUME_MSG_TIMEOUT"
	case NoMessage:
		return "NO_MESSAGE"
	case PollingFull:
		return "POLLING_FULL"
	case PollingTimeout:
		return "POLLING_TIMEOUT"
	}
	return strconv.Itoa(int(code))
}
