package remoting

// Typed headers are declared here and nowhere else. Each field's `ext` tag names its
// extFields key and says how the key is read and written; headergen turns the
// declarations into DecodeX(ext) and Encode() in headers_typed_gen.go:
//
//	`ext:"key,required"`   decoding fails without the key (@CFNotNull in Apache
//	                       RocketMQ); always written
//	`ext:"key"`            zero when absent; always written, as the Go client does
//	`ext:"key,omitempty"`  zero when absent; written only when not zero
//	`v2:"a"`               the key in SEND_MESSAGE_V2's one-letter form
//
// Fields are string, int32, int64, bool, or *int32 (nil when absent, written when
// set). Every type ends with Extra, the keys it does not know, so that a header
// decoded, changed and encoded keeps every key it did not touch. After editing a
// declaration, run
//
//	go generate ./transport/remoting
//
//go:generate go run ./internal/headergen

// SendMessageRequestHeader is the request header of SEND_MESSAGE (10) and
// SEND_REPLY_MESSAGE (324) with long field names, and of SEND_MESSAGE_V2 (310),
// SEND_BATCH_MESSAGE (320) and SEND_REPLY_MESSAGE_V2 (325) with one-letter names
// (see [DecodeSendMessageV2]).
type SendMessageRequestHeader struct {
	ProducerGroup string `ext:"producerGroup,required" v2:"a"`
	Topic         string `ext:"topic,required" v2:"b"`
	// DefaultTopic is the template topic for auto-creation, "TBW102".
	DefaultTopic          string `ext:"defaultTopic,required" v2:"c"`
	DefaultTopicQueueNums int32  `ext:"defaultTopicQueueNums,required" v2:"d"`
	// QueueID is the queue the producer chose; -1 lets the broker choose.
	QueueID       int32 `ext:"queueId,required" v2:"e"`
	SysFlag       int32 `ext:"sysFlag,required" v2:"f"`
	BornTimestamp int64 `ext:"bornTimestamp,required" v2:"g"`
	Flag          int32 `ext:"flag,required" v2:"h"`
	// Properties is the raw property string (see ParseProperties).
	Properties     string `ext:"properties" v2:"i"`
	ReconsumeTimes int32  `ext:"reconsumeTimes" v2:"j"`
	UnitMode       bool   `ext:"unitMode" v2:"k"`
	// MaxReconsumeTimes is nil when absent: the Go client always sends it, the Java
	// producer only for retried messages.
	MaxReconsumeTimes *int32 `ext:"maxReconsumeTimes" v2:"l"`
	Batch             bool   `ext:"batch" v2:"m"`
	// BrokerName is the target broker set; Java sends it, the Go client does not.
	BrokerName string `ext:"brokerName,omitempty" v2:"n"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// DecodeSendMessageRequestHeader decodes the long-name form (codes 10 and 324).
// A missing required field or a malformed value is an error wrapping [ErrBadField].
func DecodeSendMessageRequestHeader(ext map[string]string) (*SendMessageRequestHeader, error) {
	return decodeSendMessageRequestHeader(ext)
}

// DecodeSendMessageV2 decodes the one-letter form (codes 310, 320 and 325) into
// the same struct.
func DecodeSendMessageV2(ext map[string]string) (*SendMessageRequestHeader, error) {
	return decodeSendMessageRequestHeaderV2(ext)
}

// DecodeSendHeader decodes the header of any send code in the form that code uses.
func DecodeSendHeader(code int32, ext map[string]string) (*SendMessageRequestHeader, error) {
	if UsesV2SendHeader(code) {
		return DecodeSendMessageV2(ext)
	}
	return DecodeSendMessageRequestHeader(ext)
}

// UsesV2SendHeader reports whether a send code carries the one-letter header.
func UsesV2SendHeader(code int32) bool {
	switch code {
	case CodeSendMessageV2, CodeSendBatchMessage, CodeSendReplyMessageV2:
		return true
	}
	return false
}

// Encode returns the long-name form (codes 10 and 324), Extra included.
func (h *SendMessageRequestHeader) Encode() map[string]string { return h.encode() }

// EncodeV2 returns the one-letter form (codes 310, 320 and 325), Extra included.
func (h *SendMessageRequestHeader) EncodeV2() map[string]string { return h.encodeV2() }

// EncodeFor returns the form code uses.
func (h *SendMessageRequestHeader) EncodeFor(code int32) map[string]string {
	if UsesV2SendHeader(code) {
		return h.EncodeV2()
	}
	return h.Encode()
}

// SendMessageResponseHeader is the response header of the send codes (10, 310, 320, 324, 325).
type SendMessageResponseHeader struct {
	// MsgID is the offset message id (see OffsetMsgID); a batch response lists one
	// per member, joined by commas.
	MsgID       string `ext:"msgId,required"`
	QueueID     int32  `ext:"queueId,required"`
	QueueOffset int64  `ext:"queueOffset,required"`
	// TransactionID is set for transactional messages.
	TransactionID string `ext:"transactionId,omitempty"`
	// MsgRegion is the broker's region, e.g. DefaultRegion.
	MsgRegion string `ext:"MSG_REGION,omitempty"`
	// TraceOn is "true" or "false": whether the broker enables message tracing.
	TraceOn string `ext:"TRACE_ON,omitempty"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// PullMessageRequestHeader is the request header of PULL_MESSAGE (11).
type PullMessageRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	Topic         string `ext:"topic,required"`
	QueueID       int32  `ext:"queueId,required"`
	QueueOffset   int64  `ext:"queueOffset,required"`
	MaxMsgNums    int32  `ext:"maxMsgNums,required"`
	// SysFlag holds PullSysFlag bits: 1 commit offset, 2 suspend, 4 subscription, 8 class filter.
	SysFlag              int32 `ext:"sysFlag,required"`
	CommitOffset         int64 `ext:"commitOffset,required"`
	SuspendTimeoutMillis int64 `ext:"suspendTimeoutMillis,required"`
	// Subscription is the subscription expression; the Go client sends "".
	Subscription string `ext:"subscription"`
	SubVersion   int64  `ext:"subVersion,required"`
	// ExpressionType is TAG or SQL92.
	ExpressionType string `ext:"expressionType"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// PullMessageResponseHeader is the response header of PULL_MESSAGE (11).
type PullMessageResponseHeader struct {
	// SuggestWhichBrokerID is the brokerId the client should pull from next.
	SuggestWhichBrokerID int64 `ext:"suggestWhichBrokerId,required"`
	NextBeginOffset      int64 `ext:"nextBeginOffset,required"`
	MinOffset            int64 `ext:"minOffset,required"`
	MaxOffset            int64 `ext:"maxOffset,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// QueryConsumerOffsetRequestHeader is the request header of QUERY_CONSUMER_OFFSET (14).
type QueryConsumerOffsetRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	Topic         string `ext:"topic,required"`
	QueueID       int32  `ext:"queueId,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// QueryConsumerOffsetResponseHeader is the response header of QUERY_CONSUMER_OFFSET (14).
type QueryConsumerOffsetResponseHeader struct {
	Offset int64 `ext:"offset,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// UpdateConsumerOffsetRequestHeader is the request header of UPDATE_CONSUMER_OFFSET (15).
type UpdateConsumerOffsetRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	Topic         string `ext:"topic,required"`
	QueueID       int32  `ext:"queueId,required"`
	CommitOffset  int64  `ext:"commitOffset,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// SearchOffsetRequestHeader is the request header of SEARCH_OFFSET_BY_TIMESTAMP (29).
type SearchOffsetRequestHeader struct {
	Topic   string `ext:"topic,required"`
	QueueID int32  `ext:"queueId,required"`
	// Timestamp is in milliseconds since the epoch.
	Timestamp int64 `ext:"timestamp,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// SearchOffsetResponseHeader is the response header of SEARCH_OFFSET_BY_TIMESTAMP (29).
type SearchOffsetResponseHeader struct {
	Offset int64 `ext:"offset,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// GetMaxOffsetRequestHeader is the request header of GET_MAX_OFFSET (30).
type GetMaxOffsetRequestHeader struct {
	Topic   string `ext:"topic,required"`
	QueueID int32  `ext:"queueId,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// GetMaxOffsetResponseHeader is the response header of GET_MAX_OFFSET (30).
type GetMaxOffsetResponseHeader struct {
	Offset int64 `ext:"offset,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// GetMinOffsetRequestHeader is the request header of GET_MIN_OFFSET (31).
type GetMinOffsetRequestHeader struct {
	Topic   string `ext:"topic,required"`
	QueueID int32  `ext:"queueId,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// GetMinOffsetResponseHeader is the response header of GET_MIN_OFFSET (31).
type GetMinOffsetResponseHeader struct {
	Offset int64 `ext:"offset,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// ConsumerSendMsgBackRequestHeader is the request header of CONSUMER_SEND_MSG_BACK (36).
type ConsumerSendMsgBackRequestHeader struct {
	// Offset is the commit-log offset of the message sent back.
	Offset            int64  `ext:"offset,required"`
	Group             string `ext:"group,required"`
	DelayLevel        int32  `ext:"delayLevel,required"`
	OriginMsgID       string `ext:"originMsgId"`
	OriginTopic       string `ext:"originTopic"`
	UnitMode          bool   `ext:"unitMode"`
	MaxReconsumeTimes int32  `ext:"maxReconsumeTimes"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// EndTransactionRequestHeader is the request header of END_TRANSACTION (37).
type EndTransactionRequestHeader struct {
	ProducerGroup        string `ext:"producerGroup,required"`
	TranStateTableOffset int64  `ext:"tranStateTableOffset,required"`
	CommitLogOffset      int64  `ext:"commitLogOffset,required"`
	// CommitOrRollback is 0 for unknown (no reply), SysFlagTransactionCommit or SysFlagTransactionRollback.
	CommitOrRollback     int32  `ext:"commitOrRollback,required"`
	FromTransactionCheck bool   `ext:"fromTransactionCheck"`
	MsgID                string `ext:"msgId,required"`
	TransactionID        string `ext:"transactionId"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// CheckTransactionStateRequestHeader is the request header of CHECK_TRANSACTION_STATE (39), broker to client.
type CheckTransactionStateRequestHeader struct {
	TranStateTableOffset int64  `ext:"tranStateTableOffset,required"`
	CommitLogOffset      int64  `ext:"commitLogOffset,required"`
	MsgID                string `ext:"msgId"`
	TransactionID        string `ext:"transactionId"`
	OffsetMsgID          string `ext:"offsetMsgId"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// GetConsumerListByGroupRequestHeader is the request header of GET_CONSUMER_LIST_BY_GROUP (38).
type GetConsumerListByGroupRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// GetRouteInfoRequestHeader is the request header of GET_ROUTEINFO_BY_TOPIC (105).
type GetRouteInfoRequestHeader struct {
	Topic string `ext:"topic,required"`
	// AcceptStandardJSONOnly asks for quoted brokerAddrs keys; written only when true.
	AcceptStandardJSONOnly bool `ext:"acceptStandardJsonOnly,omitempty"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// CreateTopicRequestHeader is the request header of UPDATE_AND_CREATE_TOPIC (17).
type CreateTopicRequestHeader struct {
	Topic          string `ext:"topic,required"`
	DefaultTopic   string `ext:"defaultTopic,required"`
	ReadQueueNums  int32  `ext:"readQueueNums,required"`
	WriteQueueNums int32  `ext:"writeQueueNums,required"`
	Perm           int32  `ext:"perm,required"`
	// TopicFilterType is SINGLE_TAG or MULTI_TAG.
	TopicFilterType string `ext:"topicFilterType,required"`
	TopicSysFlag    int32  `ext:"topicSysFlag"`
	Order           bool   `ext:"order"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// NotifyConsumerIdsChangedRequestHeader is the request header of NOTIFY_CONSUMER_IDS_CHANGED (40), broker to client.
type NotifyConsumerIdsChangedRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// ViewMessageByIdRequestHeader is the request header of VIEW_MESSAGE_BY_ID (33).
type ViewMessageByIdRequestHeader struct {
	// Offset is the commit-log offset.
	Offset int64 `ext:"offset,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// UnregisterClientRequestHeader is the request header of UNREGISTER_CLIENT (35). Java sends one per group, with only one of the groups set.
type UnregisterClientRequestHeader struct {
	ClientID      string `ext:"clientID,required"`
	ProducerGroup string `ext:"producerGroup,omitempty"`
	ConsumerGroup string `ext:"consumerGroup,omitempty"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// PopMessageRequestHeader is the request header of POP_MESSAGE (200050), RocketMQ 5.
type PopMessageRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	Topic         string `ext:"topic,required"`
	// QueueID is -1 for any queue.
	QueueID    int32 `ext:"queueId,required"`
	MaxMsgNums int32 `ext:"maxMsgNums,required"`
	// InvisibleTime is in milliseconds.
	InvisibleTime int64 `ext:"invisibleTime,required"`
	// PollTime is in milliseconds.
	PollTime int64 `ext:"pollTime,required"`
	// BornTime is in milliseconds since the epoch.
	BornTime  int64  `ext:"bornTime,required"`
	InitMode  int32  `ext:"initMode,required"`
	ExpType   string `ext:"expType,omitempty"`
	Exp       string `ext:"exp,omitempty"`
	Order     bool   `ext:"order"`
	AttemptID string `ext:"attemptId,omitempty"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// AckMessageRequestHeader is the request header of ACK_MESSAGE (200051), RocketMQ 5.
type AckMessageRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	Topic         string `ext:"topic,required"`
	QueueID       int32  `ext:"queueId,required"`
	// ExtraInfo is the receipt handle's extra info.
	ExtraInfo string `ext:"extraInfo,required"`
	Offset    int64  `ext:"offset,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// RegisterBrokerRequestHeader is the request header of REGISTER_BROKER (103), broker to nameserver.
type RegisterBrokerRequestHeader struct {
	BrokerName   string `ext:"brokerName,required"`
	BrokerAddr   string `ext:"brokerAddr,required"`
	ClusterName  string `ext:"clusterName,required"`
	HaServerAddr string `ext:"haServerAddr,required"`
	BrokerID     int64  `ext:"brokerId,required"`
	Compressed   bool   `ext:"compressed"`
	// BodyCrc32 is the CRC32 of the body as Apache RocketMQ's UtilAll.crc32 computes it.
	BodyCrc32 int32 `ext:"bodyCrc32"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// GetConsumerRunningInfoRequestHeader is the request header of GET_CONSUMER_RUNNING_INFO (307), broker to client.
type GetConsumerRunningInfoRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	ClientID      string `ext:"clientId,required"`
	JstackEnable  bool   `ext:"jstackEnable"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// ConsumeMessageDirectlyRequestHeader is the request header of CONSUME_MESSAGE_DIRECTLY (309), broker to client.
type ConsumeMessageDirectlyRequestHeader struct {
	ConsumerGroup string `ext:"consumerGroup,required"`
	ClientID      string `ext:"clientId,omitempty"`
	MsgID         string `ext:"msgId,omitempty"`
	BrokerName    string `ext:"brokerName,omitempty"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// ResetOffsetRequestHeader is the request header of RESET_CONSUMER_CLIENT_OFFSET (220), broker to client, and of INVOKE_BROKER_TO_RESET_OFFSET (222).
type ResetOffsetRequestHeader struct {
	Topic     string `ext:"topic,required"`
	Group     string `ext:"group,required"`
	Timestamp int64  `ext:"timestamp,required"`
	IsForce   bool   `ext:"isForce,required"`
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}
