package remoting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// HeartbeatData is the body of a HEART_BEAT (34) request. JSON names are those the Go
// client and Apache RocketMQ write.
type HeartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []ProducerData `json:"producerDataSet"`
	ConsumerDataSet []ConsumerData `json:"consumerDataSet"`
}

// ProducerData names one producer group of a heartbeat.
type ProducerData struct {
	GroupName string `json:"groupName"`
}

// ConsumerData describes one consumer group of a heartbeat.
type ConsumerData struct {
	GroupName string `json:"groupName"`
	// ConsumeType is CONSUME_ACTIVELY (pull) or CONSUME_PASSIVELY (push).
	ConsumeType string `json:"consumeType"`
	// MessageModel is CLUSTERING or BROADCASTING.
	MessageModel string `json:"messageModel"`
	// ConsumeFromWhere is e.g. CONSUME_FROM_LAST_OFFSET.
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

// Consume types and message models of [ConsumerData].
const (
	ConsumeActively  = "CONSUME_ACTIVELY"
	ConsumePassively = "CONSUME_PASSIVELY"
	Clustering       = "CLUSTERING"
	Broadcasting     = "BROADCASTING"
)

// SubscriptionData is one topic subscription of a consumer group.
type SubscriptionData struct {
	ClassFilterMode bool   `json:"classFilterMode"`
	Topic           string `json:"topic"`
	// SubString is the expression, "*" for all.
	SubString string   `json:"subString"`
	TagsSet   []string `json:"tagsSet"`
	// CodeSet holds the tags' hash codes. Java writes numbers, the Go client writes
	// them as strings; decoding accepts both, encoding writes numbers.
	CodeSet []int32 `json:"codeSet"`
	// SubVersion is a version stamp; the Go client puts a nanosecond time in it.
	SubVersion int64 `json:"subVersion"`
	// ExpType is TAG or SQL92.
	ExpType string `json:"expressionType"`
}

// UnmarshalJSON decodes a subscription, accepting codeSet members as numbers or as
// strings holding numbers.
func (s *SubscriptionData) UnmarshalJSON(b []byte) error {
	type plain SubscriptionData
	var aux struct {
		plain
		CodeSet []json.RawMessage `json:"codeSet"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*s = SubscriptionData(aux.plain)
	s.CodeSet = nil
	if aux.CodeSet != nil {
		s.CodeSet = make([]int32, 0, len(aux.CodeSet))
	}
	for _, raw := range aux.CodeSet {
		text := string(bytes.TrimSpace(raw))
		if uq, err := strconv.Unquote(text); err == nil {
			text = uq
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
			return &bodyValueError{detail: fmt.Sprintf("codeSet member %s is not a 32-bit integer", raw)}
		}
		s.CodeSet = append(s.CodeSet, int32(n))
	}
	return nil
}

// DecodeHeartbeat parses a heartbeat body. Errors wrap [ErrBadBody].
func DecodeHeartbeat(b []byte) (*HeartbeatData, error) {
	h := new(HeartbeatData)
	if err := DecodeJSONBody(b, h); err != nil {
		return nil, err
	}
	return h, nil
}

// MessageQueue identifies one queue. The JSON names are those of Apache RocketMQ's
// MessageQueue and the Go client's primitive.MessageQueue.
type MessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
}

// String returns "topic@brokerName#queueId".
func (q MessageQueue) String() string {
	return q.Topic + "@" + q.BrokerName + "#" + strconv.Itoa(int(q.QueueID))
}

// LockBatchRequestBody is the body of a LOCK_BATCH_MQ (41) request.
type LockBatchRequestBody struct {
	ConsumerGroup string `json:"consumerGroup"`
	ClientID      string `json:"clientId"`
	// OnlyThisBroker is sent by Java clients only; the Go client omits it.
	OnlyThisBroker bool           `json:"onlyThisBroker,omitempty"`
	MQSet          []MessageQueue `json:"mqSet"`
}

// UnlockBatchRequestBody is the body of an UNLOCK_BATCH_MQ (42) request.
type UnlockBatchRequestBody struct {
	ConsumerGroup string `json:"consumerGroup"`
	ClientID      string `json:"clientId"`
	// OnlyThisBroker is sent by Java clients only; the Go client omits it.
	OnlyThisBroker bool           `json:"onlyThisBroker,omitempty"`
	MQSet          []MessageQueue `json:"mqSet"`
}

// LockBatchResponseBody is the body of a LOCK_BATCH_MQ (41) response: the queues
// now locked by the requesting client.
type LockBatchResponseBody struct {
	LockOKMQSet []MessageQueue `json:"lockOKMQSet"`
}

// ConsumerListBody is the body of a GET_CONSUMER_LIST_BY_GROUP (38) response.
type ConsumerListBody struct {
	ConsumerIDList []string `json:"consumerIdList"`
}

// DecodeJSONBody decodes a JSON body into v with encoding/json, whose case-insensitive
// key matching accepts both the Go client's and fastjson's spelling. Errors wrap
// [ErrBadBody] and name the target type.
func DecodeJSONBody(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		detail := err.Error()
		if e, ok := errors.AsType[*bodyValueError](err); ok {
			detail = e.detail
		}
		return fmt.Errorf("remoting: JSON body into %T: %s: %w", v, detail, ErrBadBody)
	}
	return nil
}

// bodyValueError is what the UnmarshalJSON methods of the body types return.
// encoding/json hands it to its caller unchanged, so its message carries the
// package prefix itself; DecodeJSONBody, which names the body type, takes only
// the detail so that the prefix is not repeated.
type bodyValueError struct{ detail string }

func (e *bodyValueError) Error() string { return "remoting: " + e.detail + ": " + ErrBadBody.Error() }

func (e *bodyValueError) Unwrap() error { return ErrBadBody }

// EncodeJSONBody encodes v as compact JSON. It panics only if v cannot be marshalled
// at all (channels, functions, cyclic values), which is a programming error for the
// body types of this package.
func EncodeJSONBody(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("remoting: encoding %T body: %v", v, err))
	}
	return b
}
