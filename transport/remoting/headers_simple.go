package remoting

// Each field is the extFields key of the same name in lowerCamelCase (ID for Id)
// unless its comment names the key.

// SendMessageResponseHeader is the response header of the send codes (10, 310, 320, 324, 325).
type SendMessageResponseHeader struct {
	// MsgID is the offset message id (see OffsetMsgID); a batch response lists one
	// per member, joined by commas.
	MsgID       string
	QueueID     int32
	QueueOffset int64
	// TransactionID (transactionId): set for transactional messages.
	TransactionID string
	// MsgRegion (MSG_REGION): the broker's region, e.g. DefaultRegion.
	MsgRegion string
	// TraceOn (TRACE_ON): "true" or "false": whether the broker enables message tracing.
	TraceOn string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var sendMessageResponseHeaderKeys = []string{"msgId", "queueId", "queueOffset", "transactionId", "MSG_REGION", "TRACE_ON"}

// DecodeSendMessageResponseHeader decodes ext into a SendMessageResponseHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeSendMessageResponseHeader(ext map[string]string) (*SendMessageResponseHeader, error) {
	d := extDecoder{header: "SendMessageResponseHeader", ext: ext}
	h := &SendMessageResponseHeader{
		MsgID:         d.str("msgId", true),
		QueueID:       d.i32("queueId", true),
		QueueOffset:   d.i64("queueOffset", true),
		TransactionID: d.str("transactionId", false),
		MsgRegion:     d.str("MSG_REGION", false),
		TraceOn:       d.str("TRACE_ON", false),
		Extra:         d.extra(sendMessageResponseHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *SendMessageResponseHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 6)
	e.str("msgId", h.MsgID, true)
	e.i32("queueId", h.QueueID, true)
	e.i64("queueOffset", h.QueueOffset, true)
	e.str("transactionId", h.TransactionID, false)
	e.str("MSG_REGION", h.MsgRegion, false)
	e.str("TRACE_ON", h.TraceOn, false)
	return e.m
}

// PullMessageRequestHeader is the request header of PULL_MESSAGE (11).
type PullMessageRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	QueueOffset   int64
	MaxMsgNums    int32
	// SysFlag (sysFlag): PullSysFlag bits: 1 commit offset, 2 suspend, 4 subscription, 8 class filter.
	SysFlag              int32
	CommitOffset         int64
	SuspendTimeoutMillis int64
	// Subscription (subscription): the subscription expression; the Go client sends "".
	Subscription string
	SubVersion   int64
	// ExpressionType (expressionType): TAG or SQL92.
	ExpressionType string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var pullMessageRequestHeaderKeys = []string{"consumerGroup", "topic", "queueId", "queueOffset", "maxMsgNums", "sysFlag", "commitOffset", "suspendTimeoutMillis", "subscription", "subVersion", "expressionType"}

// DecodePullMessageRequestHeader decodes ext into a PullMessageRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodePullMessageRequestHeader(ext map[string]string) (*PullMessageRequestHeader, error) {
	d := extDecoder{header: "PullMessageRequestHeader", ext: ext}
	h := &PullMessageRequestHeader{
		ConsumerGroup:        d.str("consumerGroup", true),
		Topic:                d.str("topic", true),
		QueueID:              d.i32("queueId", true),
		QueueOffset:          d.i64("queueOffset", true),
		MaxMsgNums:           d.i32("maxMsgNums", true),
		SysFlag:              d.i32("sysFlag", true),
		CommitOffset:         d.i64("commitOffset", true),
		SuspendTimeoutMillis: d.i64("suspendTimeoutMillis", true),
		Subscription:         d.str("subscription", false),
		SubVersion:           d.i64("subVersion", true),
		ExpressionType:       d.str("expressionType", false),
		Extra:                d.extra(pullMessageRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *PullMessageRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 11)
	e.str("consumerGroup", h.ConsumerGroup, true)
	e.str("topic", h.Topic, true)
	e.i32("queueId", h.QueueID, true)
	e.i64("queueOffset", h.QueueOffset, true)
	e.i32("maxMsgNums", h.MaxMsgNums, true)
	e.i32("sysFlag", h.SysFlag, true)
	e.i64("commitOffset", h.CommitOffset, true)
	e.i64("suspendTimeoutMillis", h.SuspendTimeoutMillis, true)
	e.str("subscription", h.Subscription, true)
	e.i64("subVersion", h.SubVersion, true)
	e.str("expressionType", h.ExpressionType, true)
	return e.m
}

// PullMessageResponseHeader is the response header of PULL_MESSAGE (11).
type PullMessageResponseHeader struct {
	// SuggestWhichBrokerID (suggestWhichBrokerId): the brokerId the client should pull from next.
	SuggestWhichBrokerID int64
	NextBeginOffset      int64
	MinOffset            int64
	MaxOffset            int64
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var pullMessageResponseHeaderKeys = []string{"suggestWhichBrokerId", "nextBeginOffset", "minOffset", "maxOffset"}

// DecodePullMessageResponseHeader decodes ext into a PullMessageResponseHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodePullMessageResponseHeader(ext map[string]string) (*PullMessageResponseHeader, error) {
	d := extDecoder{header: "PullMessageResponseHeader", ext: ext}
	h := &PullMessageResponseHeader{
		SuggestWhichBrokerID: d.i64("suggestWhichBrokerId", true),
		NextBeginOffset:      d.i64("nextBeginOffset", true),
		MinOffset:            d.i64("minOffset", true),
		MaxOffset:            d.i64("maxOffset", true),
		Extra:                d.extra(pullMessageResponseHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *PullMessageResponseHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 4)
	e.i64("suggestWhichBrokerId", h.SuggestWhichBrokerID, true)
	e.i64("nextBeginOffset", h.NextBeginOffset, true)
	e.i64("minOffset", h.MinOffset, true)
	e.i64("maxOffset", h.MaxOffset, true)
	return e.m
}

// QueryConsumerOffsetRequestHeader is the request header of QUERY_CONSUMER_OFFSET (14).
type QueryConsumerOffsetRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var queryConsumerOffsetRequestHeaderKeys = []string{"consumerGroup", "topic", "queueId"}

// DecodeQueryConsumerOffsetRequestHeader decodes ext into a QueryConsumerOffsetRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeQueryConsumerOffsetRequestHeader(ext map[string]string) (*QueryConsumerOffsetRequestHeader, error) {
	d := extDecoder{header: "QueryConsumerOffsetRequestHeader", ext: ext}
	h := &QueryConsumerOffsetRequestHeader{
		ConsumerGroup: d.str("consumerGroup", true),
		Topic:         d.str("topic", true),
		QueueID:       d.i32("queueId", true),
		Extra:         d.extra(queryConsumerOffsetRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *QueryConsumerOffsetRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 3)
	e.str("consumerGroup", h.ConsumerGroup, true)
	e.str("topic", h.Topic, true)
	e.i32("queueId", h.QueueID, true)
	return e.m
}

// QueryConsumerOffsetResponseHeader is the response header of QUERY_CONSUMER_OFFSET (14).
type QueryConsumerOffsetResponseHeader struct {
	Offset int64
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var queryConsumerOffsetResponseHeaderKeys = []string{"offset"}

// DecodeQueryConsumerOffsetResponseHeader decodes ext into a QueryConsumerOffsetResponseHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeQueryConsumerOffsetResponseHeader(ext map[string]string) (*QueryConsumerOffsetResponseHeader, error) {
	d := extDecoder{header: "QueryConsumerOffsetResponseHeader", ext: ext}
	h := &QueryConsumerOffsetResponseHeader{
		Offset: d.i64("offset", true),
		Extra:  d.extra(queryConsumerOffsetResponseHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *QueryConsumerOffsetResponseHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 1)
	e.i64("offset", h.Offset, true)
	return e.m
}

// UpdateConsumerOffsetRequestHeader is the request header of UPDATE_CONSUMER_OFFSET (15).
type UpdateConsumerOffsetRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	CommitOffset  int64
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var updateConsumerOffsetRequestHeaderKeys = []string{"consumerGroup", "topic", "queueId", "commitOffset"}

// DecodeUpdateConsumerOffsetRequestHeader decodes ext into a UpdateConsumerOffsetRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeUpdateConsumerOffsetRequestHeader(ext map[string]string) (*UpdateConsumerOffsetRequestHeader, error) {
	d := extDecoder{header: "UpdateConsumerOffsetRequestHeader", ext: ext}
	h := &UpdateConsumerOffsetRequestHeader{
		ConsumerGroup: d.str("consumerGroup", true),
		Topic:         d.str("topic", true),
		QueueID:       d.i32("queueId", true),
		CommitOffset:  d.i64("commitOffset", true),
		Extra:         d.extra(updateConsumerOffsetRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *UpdateConsumerOffsetRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 4)
	e.str("consumerGroup", h.ConsumerGroup, true)
	e.str("topic", h.Topic, true)
	e.i32("queueId", h.QueueID, true)
	e.i64("commitOffset", h.CommitOffset, true)
	return e.m
}

// SearchOffsetRequestHeader is the request header of SEARCH_OFFSET_BY_TIMESTAMP (29).
type SearchOffsetRequestHeader struct {
	Topic   string
	QueueID int32
	// Timestamp (timestamp): milliseconds since the epoch.
	Timestamp int64
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var searchOffsetRequestHeaderKeys = []string{"topic", "queueId", "timestamp"}

// DecodeSearchOffsetRequestHeader decodes ext into a SearchOffsetRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeSearchOffsetRequestHeader(ext map[string]string) (*SearchOffsetRequestHeader, error) {
	d := extDecoder{header: "SearchOffsetRequestHeader", ext: ext}
	h := &SearchOffsetRequestHeader{
		Topic:     d.str("topic", true),
		QueueID:   d.i32("queueId", true),
		Timestamp: d.i64("timestamp", true),
		Extra:     d.extra(searchOffsetRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *SearchOffsetRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 3)
	e.str("topic", h.Topic, true)
	e.i32("queueId", h.QueueID, true)
	e.i64("timestamp", h.Timestamp, true)
	return e.m
}

// SearchOffsetResponseHeader is the response header of SEARCH_OFFSET_BY_TIMESTAMP (29).
type SearchOffsetResponseHeader struct {
	Offset int64
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var searchOffsetResponseHeaderKeys = []string{"offset"}

// DecodeSearchOffsetResponseHeader decodes ext into a SearchOffsetResponseHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeSearchOffsetResponseHeader(ext map[string]string) (*SearchOffsetResponseHeader, error) {
	d := extDecoder{header: "SearchOffsetResponseHeader", ext: ext}
	h := &SearchOffsetResponseHeader{
		Offset: d.i64("offset", true),
		Extra:  d.extra(searchOffsetResponseHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *SearchOffsetResponseHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 1)
	e.i64("offset", h.Offset, true)
	return e.m
}

// GetMaxOffsetRequestHeader is the request header of GET_MAX_OFFSET (30).
type GetMaxOffsetRequestHeader struct {
	Topic   string
	QueueID int32
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var getMaxOffsetRequestHeaderKeys = []string{"topic", "queueId"}

// DecodeGetMaxOffsetRequestHeader decodes ext into a GetMaxOffsetRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeGetMaxOffsetRequestHeader(ext map[string]string) (*GetMaxOffsetRequestHeader, error) {
	d := extDecoder{header: "GetMaxOffsetRequestHeader", ext: ext}
	h := &GetMaxOffsetRequestHeader{
		Topic:   d.str("topic", true),
		QueueID: d.i32("queueId", true),
		Extra:   d.extra(getMaxOffsetRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *GetMaxOffsetRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 2)
	e.str("topic", h.Topic, true)
	e.i32("queueId", h.QueueID, true)
	return e.m
}

// GetMaxOffsetResponseHeader is the response header of GET_MAX_OFFSET (30).
type GetMaxOffsetResponseHeader struct {
	Offset int64
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var getMaxOffsetResponseHeaderKeys = []string{"offset"}

// DecodeGetMaxOffsetResponseHeader decodes ext into a GetMaxOffsetResponseHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeGetMaxOffsetResponseHeader(ext map[string]string) (*GetMaxOffsetResponseHeader, error) {
	d := extDecoder{header: "GetMaxOffsetResponseHeader", ext: ext}
	h := &GetMaxOffsetResponseHeader{
		Offset: d.i64("offset", true),
		Extra:  d.extra(getMaxOffsetResponseHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *GetMaxOffsetResponseHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 1)
	e.i64("offset", h.Offset, true)
	return e.m
}

// GetMinOffsetRequestHeader is the request header of GET_MIN_OFFSET (31).
type GetMinOffsetRequestHeader struct {
	Topic   string
	QueueID int32
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var getMinOffsetRequestHeaderKeys = []string{"topic", "queueId"}

// DecodeGetMinOffsetRequestHeader decodes ext into a GetMinOffsetRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeGetMinOffsetRequestHeader(ext map[string]string) (*GetMinOffsetRequestHeader, error) {
	d := extDecoder{header: "GetMinOffsetRequestHeader", ext: ext}
	h := &GetMinOffsetRequestHeader{
		Topic:   d.str("topic", true),
		QueueID: d.i32("queueId", true),
		Extra:   d.extra(getMinOffsetRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *GetMinOffsetRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 2)
	e.str("topic", h.Topic, true)
	e.i32("queueId", h.QueueID, true)
	return e.m
}

// GetMinOffsetResponseHeader is the response header of GET_MIN_OFFSET (31).
type GetMinOffsetResponseHeader struct {
	Offset int64
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var getMinOffsetResponseHeaderKeys = []string{"offset"}

// DecodeGetMinOffsetResponseHeader decodes ext into a GetMinOffsetResponseHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeGetMinOffsetResponseHeader(ext map[string]string) (*GetMinOffsetResponseHeader, error) {
	d := extDecoder{header: "GetMinOffsetResponseHeader", ext: ext}
	h := &GetMinOffsetResponseHeader{
		Offset: d.i64("offset", true),
		Extra:  d.extra(getMinOffsetResponseHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *GetMinOffsetResponseHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 1)
	e.i64("offset", h.Offset, true)
	return e.m
}

// ConsumerSendMsgBackRequestHeader is the request header of CONSUMER_SEND_MSG_BACK (36).
type ConsumerSendMsgBackRequestHeader struct {
	// Offset (offset): the commit-log offset of the message sent back.
	Offset            int64
	Group             string
	DelayLevel        int32
	OriginMsgID       string
	OriginTopic       string
	UnitMode          bool
	MaxReconsumeTimes int32
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var consumerSendMsgBackRequestHeaderKeys = []string{"offset", "group", "delayLevel", "originMsgId", "originTopic", "unitMode", "maxReconsumeTimes"}

// DecodeConsumerSendMsgBackRequestHeader decodes ext into a ConsumerSendMsgBackRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeConsumerSendMsgBackRequestHeader(ext map[string]string) (*ConsumerSendMsgBackRequestHeader, error) {
	d := extDecoder{header: "ConsumerSendMsgBackRequestHeader", ext: ext}
	h := &ConsumerSendMsgBackRequestHeader{
		Offset:            d.i64("offset", true),
		Group:             d.str("group", true),
		DelayLevel:        d.i32("delayLevel", true),
		OriginMsgID:       d.str("originMsgId", false),
		OriginTopic:       d.str("originTopic", false),
		UnitMode:          d.boolean("unitMode", false),
		MaxReconsumeTimes: d.i32("maxReconsumeTimes", false),
		Extra:             d.extra(consumerSendMsgBackRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *ConsumerSendMsgBackRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 7)
	e.i64("offset", h.Offset, true)
	e.str("group", h.Group, true)
	e.i32("delayLevel", h.DelayLevel, true)
	e.str("originMsgId", h.OriginMsgID, true)
	e.str("originTopic", h.OriginTopic, true)
	e.boolean("unitMode", h.UnitMode, true)
	e.i32("maxReconsumeTimes", h.MaxReconsumeTimes, true)
	return e.m
}

// EndTransactionRequestHeader is the request header of END_TRANSACTION (37).
type EndTransactionRequestHeader struct {
	ProducerGroup        string
	TranStateTableOffset int64
	CommitLogOffset      int64
	// CommitOrRollback (commitOrRollback): 0 unknown (no reply), SysFlagTransactionCommit or SysFlagTransactionRollback.
	CommitOrRollback     int32
	FromTransactionCheck bool
	MsgID                string
	TransactionID        string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var endTransactionRequestHeaderKeys = []string{"producerGroup", "tranStateTableOffset", "commitLogOffset", "commitOrRollback", "fromTransactionCheck", "msgId", "transactionId"}

// DecodeEndTransactionRequestHeader decodes ext into a EndTransactionRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeEndTransactionRequestHeader(ext map[string]string) (*EndTransactionRequestHeader, error) {
	d := extDecoder{header: "EndTransactionRequestHeader", ext: ext}
	h := &EndTransactionRequestHeader{
		ProducerGroup:        d.str("producerGroup", true),
		TranStateTableOffset: d.i64("tranStateTableOffset", true),
		CommitLogOffset:      d.i64("commitLogOffset", true),
		CommitOrRollback:     d.i32("commitOrRollback", true),
		FromTransactionCheck: d.boolean("fromTransactionCheck", false),
		MsgID:                d.str("msgId", true),
		TransactionID:        d.str("transactionId", false),
		Extra:                d.extra(endTransactionRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *EndTransactionRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 7)
	e.str("producerGroup", h.ProducerGroup, true)
	e.i64("tranStateTableOffset", h.TranStateTableOffset, true)
	e.i64("commitLogOffset", h.CommitLogOffset, true)
	e.i32("commitOrRollback", h.CommitOrRollback, true)
	e.boolean("fromTransactionCheck", h.FromTransactionCheck, true)
	e.str("msgId", h.MsgID, true)
	e.str("transactionId", h.TransactionID, true)
	return e.m
}

// CheckTransactionStateRequestHeader is the request header of CHECK_TRANSACTION_STATE (39), broker to client.
type CheckTransactionStateRequestHeader struct {
	TranStateTableOffset int64
	CommitLogOffset      int64
	MsgID                string
	TransactionID        string
	OffsetMsgID          string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var checkTransactionStateRequestHeaderKeys = []string{"tranStateTableOffset", "commitLogOffset", "msgId", "transactionId", "offsetMsgId"}

// DecodeCheckTransactionStateRequestHeader decodes ext into a CheckTransactionStateRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeCheckTransactionStateRequestHeader(ext map[string]string) (*CheckTransactionStateRequestHeader, error) {
	d := extDecoder{header: "CheckTransactionStateRequestHeader", ext: ext}
	h := &CheckTransactionStateRequestHeader{
		TranStateTableOffset: d.i64("tranStateTableOffset", true),
		CommitLogOffset:      d.i64("commitLogOffset", true),
		MsgID:                d.str("msgId", false),
		TransactionID:        d.str("transactionId", false),
		OffsetMsgID:          d.str("offsetMsgId", false),
		Extra:                d.extra(checkTransactionStateRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *CheckTransactionStateRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 5)
	e.i64("tranStateTableOffset", h.TranStateTableOffset, true)
	e.i64("commitLogOffset", h.CommitLogOffset, true)
	e.str("msgId", h.MsgID, true)
	e.str("transactionId", h.TransactionID, true)
	e.str("offsetMsgId", h.OffsetMsgID, true)
	return e.m
}

// GetConsumerListByGroupRequestHeader is the request header of GET_CONSUMER_LIST_BY_GROUP (38).
type GetConsumerListByGroupRequestHeader struct {
	ConsumerGroup string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var getConsumerListByGroupRequestHeaderKeys = []string{"consumerGroup"}

// DecodeGetConsumerListByGroupRequestHeader decodes ext into a GetConsumerListByGroupRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeGetConsumerListByGroupRequestHeader(ext map[string]string) (*GetConsumerListByGroupRequestHeader, error) {
	d := extDecoder{header: "GetConsumerListByGroupRequestHeader", ext: ext}
	h := &GetConsumerListByGroupRequestHeader{
		ConsumerGroup: d.str("consumerGroup", true),
		Extra:         d.extra(getConsumerListByGroupRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *GetConsumerListByGroupRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 1)
	e.str("consumerGroup", h.ConsumerGroup, true)
	return e.m
}

// GetRouteInfoRequestHeader is the request header of GET_ROUTEINFO_BY_TOPIC (105).
type GetRouteInfoRequestHeader struct {
	Topic string
	// AcceptStandardJSONOnly (acceptStandardJsonOnly): asks for quoted brokerAddrs keys; written only when true.
	AcceptStandardJSONOnly bool
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var getRouteInfoRequestHeaderKeys = []string{"topic", "acceptStandardJsonOnly"}

// DecodeGetRouteInfoRequestHeader decodes ext into a GetRouteInfoRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeGetRouteInfoRequestHeader(ext map[string]string) (*GetRouteInfoRequestHeader, error) {
	d := extDecoder{header: "GetRouteInfoRequestHeader", ext: ext}
	h := &GetRouteInfoRequestHeader{
		Topic:                  d.str("topic", true),
		AcceptStandardJSONOnly: d.boolean("acceptStandardJsonOnly", false),
		Extra:                  d.extra(getRouteInfoRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *GetRouteInfoRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 2)
	e.str("topic", h.Topic, true)
	e.boolean("acceptStandardJsonOnly", h.AcceptStandardJSONOnly, false)
	return e.m
}

// CreateTopicRequestHeader is the request header of UPDATE_AND_CREATE_TOPIC (17).
type CreateTopicRequestHeader struct {
	Topic          string
	DefaultTopic   string
	ReadQueueNums  int32
	WriteQueueNums int32
	Perm           int32
	// TopicFilterType (topicFilterType): SINGLE_TAG or MULTI_TAG.
	TopicFilterType string
	TopicSysFlag    int32
	Order           bool
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var createTopicRequestHeaderKeys = []string{"topic", "defaultTopic", "readQueueNums", "writeQueueNums", "perm", "topicFilterType", "topicSysFlag", "order"}

// DecodeCreateTopicRequestHeader decodes ext into a CreateTopicRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeCreateTopicRequestHeader(ext map[string]string) (*CreateTopicRequestHeader, error) {
	d := extDecoder{header: "CreateTopicRequestHeader", ext: ext}
	h := &CreateTopicRequestHeader{
		Topic:           d.str("topic", true),
		DefaultTopic:    d.str("defaultTopic", true),
		ReadQueueNums:   d.i32("readQueueNums", true),
		WriteQueueNums:  d.i32("writeQueueNums", true),
		Perm:            d.i32("perm", true),
		TopicFilterType: d.str("topicFilterType", true),
		TopicSysFlag:    d.i32("topicSysFlag", false),
		Order:           d.boolean("order", false),
		Extra:           d.extra(createTopicRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *CreateTopicRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 8)
	e.str("topic", h.Topic, true)
	e.str("defaultTopic", h.DefaultTopic, true)
	e.i32("readQueueNums", h.ReadQueueNums, true)
	e.i32("writeQueueNums", h.WriteQueueNums, true)
	e.i32("perm", h.Perm, true)
	e.str("topicFilterType", h.TopicFilterType, true)
	e.i32("topicSysFlag", h.TopicSysFlag, true)
	e.boolean("order", h.Order, true)
	return e.m
}

// NotifyConsumerIdsChangedRequestHeader is the request header of NOTIFY_CONSUMER_IDS_CHANGED (40), broker to client.
type NotifyConsumerIdsChangedRequestHeader struct {
	ConsumerGroup string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var notifyConsumerIdsChangedRequestHeaderKeys = []string{"consumerGroup"}

// DecodeNotifyConsumerIdsChangedRequestHeader decodes ext into a NotifyConsumerIdsChangedRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeNotifyConsumerIdsChangedRequestHeader(ext map[string]string) (*NotifyConsumerIdsChangedRequestHeader, error) {
	d := extDecoder{header: "NotifyConsumerIdsChangedRequestHeader", ext: ext}
	h := &NotifyConsumerIdsChangedRequestHeader{
		ConsumerGroup: d.str("consumerGroup", true),
		Extra:         d.extra(notifyConsumerIdsChangedRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *NotifyConsumerIdsChangedRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 1)
	e.str("consumerGroup", h.ConsumerGroup, true)
	return e.m
}

// ViewMessageByIdRequestHeader is the request header of VIEW_MESSAGE_BY_ID (33).
type ViewMessageByIdRequestHeader struct {
	// Offset (offset): the commit-log offset.
	Offset int64
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var viewMessageByIdRequestHeaderKeys = []string{"offset"}

// DecodeViewMessageByIdRequestHeader decodes ext into a ViewMessageByIdRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeViewMessageByIdRequestHeader(ext map[string]string) (*ViewMessageByIdRequestHeader, error) {
	d := extDecoder{header: "ViewMessageByIdRequestHeader", ext: ext}
	h := &ViewMessageByIdRequestHeader{
		Offset: d.i64("offset", true),
		Extra:  d.extra(viewMessageByIdRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *ViewMessageByIdRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 1)
	e.i64("offset", h.Offset, true)
	return e.m
}

// UnregisterClientRequestHeader is the request header of UNREGISTER_CLIENT (35). Java sends one per group, with only one of the groups set.
type UnregisterClientRequestHeader struct {
	ClientID      string
	ProducerGroup string
	ConsumerGroup string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var unregisterClientRequestHeaderKeys = []string{"clientID", "producerGroup", "consumerGroup"}

// DecodeUnregisterClientRequestHeader decodes ext into a UnregisterClientRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeUnregisterClientRequestHeader(ext map[string]string) (*UnregisterClientRequestHeader, error) {
	d := extDecoder{header: "UnregisterClientRequestHeader", ext: ext}
	h := &UnregisterClientRequestHeader{
		ClientID:      d.str("clientID", true),
		ProducerGroup: d.str("producerGroup", false),
		ConsumerGroup: d.str("consumerGroup", false),
		Extra:         d.extra(unregisterClientRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *UnregisterClientRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 3)
	e.str("clientID", h.ClientID, true)
	e.str("producerGroup", h.ProducerGroup, false)
	e.str("consumerGroup", h.ConsumerGroup, false)
	return e.m
}

// PopMessageRequestHeader is the request header of POP_MESSAGE (200050), RocketMQ 5.
type PopMessageRequestHeader struct {
	ConsumerGroup string
	Topic         string
	// QueueID (queueId): -1 for any queue.
	QueueID    int32
	MaxMsgNums int32
	// InvisibleTime (invisibleTime): milliseconds.
	InvisibleTime int64
	// PollTime (pollTime): milliseconds.
	PollTime int64
	// BornTime (bornTime): milliseconds since the epoch.
	BornTime  int64
	InitMode  int32
	ExpType   string
	Exp       string
	Order     bool
	AttemptID string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var popMessageRequestHeaderKeys = []string{"consumerGroup", "topic", "queueId", "maxMsgNums", "invisibleTime", "pollTime", "bornTime", "initMode", "expType", "exp", "order", "attemptId"}

// DecodePopMessageRequestHeader decodes ext into a PopMessageRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodePopMessageRequestHeader(ext map[string]string) (*PopMessageRequestHeader, error) {
	d := extDecoder{header: "PopMessageRequestHeader", ext: ext}
	h := &PopMessageRequestHeader{
		ConsumerGroup: d.str("consumerGroup", true),
		Topic:         d.str("topic", true),
		QueueID:       d.i32("queueId", true),
		MaxMsgNums:    d.i32("maxMsgNums", true),
		InvisibleTime: d.i64("invisibleTime", true),
		PollTime:      d.i64("pollTime", true),
		BornTime:      d.i64("bornTime", true),
		InitMode:      d.i32("initMode", true),
		ExpType:       d.str("expType", false),
		Exp:           d.str("exp", false),
		Order:         d.boolean("order", false),
		AttemptID:     d.str("attemptId", false),
		Extra:         d.extra(popMessageRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *PopMessageRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 12)
	e.str("consumerGroup", h.ConsumerGroup, true)
	e.str("topic", h.Topic, true)
	e.i32("queueId", h.QueueID, true)
	e.i32("maxMsgNums", h.MaxMsgNums, true)
	e.i64("invisibleTime", h.InvisibleTime, true)
	e.i64("pollTime", h.PollTime, true)
	e.i64("bornTime", h.BornTime, true)
	e.i32("initMode", h.InitMode, true)
	e.str("expType", h.ExpType, false)
	e.str("exp", h.Exp, false)
	e.boolean("order", h.Order, true)
	e.str("attemptId", h.AttemptID, false)
	return e.m
}

// AckMessageRequestHeader is the request header of ACK_MESSAGE (200051), RocketMQ 5.
type AckMessageRequestHeader struct {
	ConsumerGroup string
	Topic         string
	QueueID       int32
	// ExtraInfo (extraInfo): the receipt handle's extra info.
	ExtraInfo string
	Offset    int64
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var ackMessageRequestHeaderKeys = []string{"consumerGroup", "topic", "queueId", "extraInfo", "offset"}

// DecodeAckMessageRequestHeader decodes ext into a AckMessageRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeAckMessageRequestHeader(ext map[string]string) (*AckMessageRequestHeader, error) {
	d := extDecoder{header: "AckMessageRequestHeader", ext: ext}
	h := &AckMessageRequestHeader{
		ConsumerGroup: d.str("consumerGroup", true),
		Topic:         d.str("topic", true),
		QueueID:       d.i32("queueId", true),
		ExtraInfo:     d.str("extraInfo", true),
		Offset:        d.i64("offset", true),
		Extra:         d.extra(ackMessageRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *AckMessageRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 5)
	e.str("consumerGroup", h.ConsumerGroup, true)
	e.str("topic", h.Topic, true)
	e.i32("queueId", h.QueueID, true)
	e.str("extraInfo", h.ExtraInfo, true)
	e.i64("offset", h.Offset, true)
	return e.m
}

// RegisterBrokerRequestHeader is the request header of REGISTER_BROKER (103), broker to nameserver.
type RegisterBrokerRequestHeader struct {
	BrokerName   string
	BrokerAddr   string
	ClusterName  string
	HaServerAddr string
	BrokerID     int64
	Compressed   bool
	// BodyCrc32 (bodyCrc32): CRC32 of the body as Apache RocketMQ's UtilAll.crc32 computes it.
	BodyCrc32 int32
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var registerBrokerRequestHeaderKeys = []string{"brokerName", "brokerAddr", "clusterName", "haServerAddr", "brokerId", "compressed", "bodyCrc32"}

// DecodeRegisterBrokerRequestHeader decodes ext into a RegisterBrokerRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeRegisterBrokerRequestHeader(ext map[string]string) (*RegisterBrokerRequestHeader, error) {
	d := extDecoder{header: "RegisterBrokerRequestHeader", ext: ext}
	h := &RegisterBrokerRequestHeader{
		BrokerName:   d.str("brokerName", true),
		BrokerAddr:   d.str("brokerAddr", true),
		ClusterName:  d.str("clusterName", true),
		HaServerAddr: d.str("haServerAddr", true),
		BrokerID:     d.i64("brokerId", true),
		Compressed:   d.boolean("compressed", false),
		BodyCrc32:    d.i32("bodyCrc32", false),
		Extra:        d.extra(registerBrokerRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *RegisterBrokerRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 7)
	e.str("brokerName", h.BrokerName, true)
	e.str("brokerAddr", h.BrokerAddr, true)
	e.str("clusterName", h.ClusterName, true)
	e.str("haServerAddr", h.HaServerAddr, true)
	e.i64("brokerId", h.BrokerID, true)
	e.boolean("compressed", h.Compressed, true)
	e.i32("bodyCrc32", h.BodyCrc32, true)
	return e.m
}

// GetConsumerRunningInfoRequestHeader is the request header of GET_CONSUMER_RUNNING_INFO (307), broker to client.
type GetConsumerRunningInfoRequestHeader struct {
	ConsumerGroup string
	ClientID      string
	JstackEnable  bool
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var getConsumerRunningInfoRequestHeaderKeys = []string{"consumerGroup", "clientId", "jstackEnable"}

// DecodeGetConsumerRunningInfoRequestHeader decodes ext into a GetConsumerRunningInfoRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeGetConsumerRunningInfoRequestHeader(ext map[string]string) (*GetConsumerRunningInfoRequestHeader, error) {
	d := extDecoder{header: "GetConsumerRunningInfoRequestHeader", ext: ext}
	h := &GetConsumerRunningInfoRequestHeader{
		ConsumerGroup: d.str("consumerGroup", true),
		ClientID:      d.str("clientId", true),
		JstackEnable:  d.boolean("jstackEnable", false),
		Extra:         d.extra(getConsumerRunningInfoRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *GetConsumerRunningInfoRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 3)
	e.str("consumerGroup", h.ConsumerGroup, true)
	e.str("clientId", h.ClientID, true)
	e.boolean("jstackEnable", h.JstackEnable, true)
	return e.m
}

// ConsumeMessageDirectlyRequestHeader is the request header of CONSUME_MESSAGE_DIRECTLY (309), broker to client.
type ConsumeMessageDirectlyRequestHeader struct {
	ConsumerGroup string
	ClientID      string
	MsgID         string
	BrokerName    string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var consumeMessageDirectlyRequestHeaderKeys = []string{"consumerGroup", "clientId", "msgId", "brokerName"}

// DecodeConsumeMessageDirectlyRequestHeader decodes ext into a ConsumeMessageDirectlyRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeConsumeMessageDirectlyRequestHeader(ext map[string]string) (*ConsumeMessageDirectlyRequestHeader, error) {
	d := extDecoder{header: "ConsumeMessageDirectlyRequestHeader", ext: ext}
	h := &ConsumeMessageDirectlyRequestHeader{
		ConsumerGroup: d.str("consumerGroup", true),
		ClientID:      d.str("clientId", false),
		MsgID:         d.str("msgId", false),
		BrokerName:    d.str("brokerName", false),
		Extra:         d.extra(consumeMessageDirectlyRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *ConsumeMessageDirectlyRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 4)
	e.str("consumerGroup", h.ConsumerGroup, true)
	e.str("clientId", h.ClientID, false)
	e.str("msgId", h.MsgID, false)
	e.str("brokerName", h.BrokerName, false)
	return e.m
}

// ResetOffsetRequestHeader is the request header of RESET_CONSUMER_CLIENT_OFFSET (220), broker to client, and of INVOKE_BROKER_TO_RESET_OFFSET (222).
type ResetOffsetRequestHeader struct {
	Topic     string
	Group     string
	Timestamp int64
	IsForce   bool
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

var resetOffsetRequestHeaderKeys = []string{"topic", "group", "timestamp", "isForce"}

// DecodeResetOffsetRequestHeader decodes ext into a ResetOffsetRequestHeader.
// A missing required field or a malformed number or boolean is an error
// wrapping [ErrBadField].
func DecodeResetOffsetRequestHeader(ext map[string]string) (*ResetOffsetRequestHeader, error) {
	d := extDecoder{header: "ResetOffsetRequestHeader", ext: ext}
	h := &ResetOffsetRequestHeader{
		Topic:     d.str("topic", true),
		Group:     d.str("group", true),
		Timestamp: d.i64("timestamp", true),
		IsForce:   d.boolean("isForce", true),
		Extra:     d.extra(resetOffsetRequestHeaderKeys),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the header as extFields, Extra included.
func (h *ResetOffsetRequestHeader) Encode() map[string]string {
	e := newExtEncoder(h.Extra, 4)
	e.str("topic", h.Topic, true)
	e.str("group", h.Group, true)
	e.i64("timestamp", h.Timestamp, true)
	e.boolean("isForce", h.IsForce, true)
	return e.m
}
