package otel

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	rmqerrors "github.com/apache/rocketmq-client-go/v2/errors"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// ClientInfo describes the client a wrapper instruments: what the spans say
// about the client rather than about each message.
type ClientInfo struct {
	// Group is the producer or consumer group, without namespace.
	Group string
	// Namespace is the client's namespace (producer.WithNamespace,
	// consumer.WithNamespace), stripped from topics in destination names.
	Namespace string
	// ClientID identifies the client (messaging.client.id): the official client
	// uses "IP@instance".
	ClientID string
	// Broadcasting is set for consumers in the BroadCasting model.
	Broadcasting bool
}

// destination is the topic without the client's namespace: the official client
// writes namespaced topics as "namespace%topic".
func destination(topic, namespace string) string {
	if namespace != "" {
		if t, ok := strings.CutPrefix(topic, namespace+"%"); ok {
			return t
		}
	}
	return topic
}

// messageAttrs are the attributes that describe one message.
func messageAttrs(dst []attribute.KeyValue, m *primitive.Message) []attribute.KeyValue {
	if tag := m.GetTags(); tag != "" {
		dst = append(dst, semconv.MessagingRocketMQMessageTag(tag))
	}
	if keys := m.GetKeys(); keys != "" {
		dst = append(dst, semconv.MessagingRocketMQMessageKeys(strings.Fields(keys)...))
	}
	if g := m.GetShardingKey(); g != "" {
		dst = append(dst, semconv.MessagingRocketMQMessageGroup(g))
	}
	if lvl := delayLevel(m); lvl > 0 {
		dst = append(dst, semconv.MessagingRocketMQMessageDelayTimeLevel(lvl))
	}
	// messaging.message.body.size is opt-in in the conventions: left out.
	return dst
}

// delayLevel is the message's delay level, 0 for none.
func delayLevel(m *primitive.Message) int {
	v := m.GetProperty(primitive.PropertyDelayTimeLevel)
	if v == "" {
		return 0 // most messages: skip the parse error Atoi would allocate
	}
	lvl, _ := strconv.Atoi(v)
	return lvl
}

// messageType is messaging.rocketmq.message.type of a message sent by a plain
// producer: delay when it has a delay level, fifo when it has a sharding key
// (the official client's message group, which its ordered selectors hash),
// normal otherwise.
func messageType(m *primitive.Message) attribute.KeyValue {
	if delayLevel(m) > 0 {
		return semconv.MessagingRocketMQMessageTypeDelay
	}
	if m.GetShardingKey() != "" {
		return semconv.MessagingRocketMQMessageTypeFifo
	}
	return semconv.MessagingRocketMQMessageTypeNormal
}

// ErrorType returns the error.type of err: the name of the RocketMQ response
// code the broker answered with (e.g. "NO_PERMISSION") when err carries one;
// "timeout" for the client's request timeout and context deadlines (the
// client's sentinel errors are all of one Go type, which would say nothing);
// otherwise the Go type as the semantic conventions derive it. nil gives "".
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	if code, ok := responseCode(err.Error()); ok {
		return remoting.ResponseCodeName(code)
	}
	if errors.Is(err, rmqerrors.ErrRequestTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return semconv.ErrorType(err).Value.AsString()
}

// responseCode finds the response code in the official client's error for a
// broker's non-success answer, "CODE: 16, DESC: ...", wherever it is in msg (the
// mesh wraps client errors with routing context).
func responseCode(msg string) (int32, bool) {
	_, rest, ok := strings.Cut(msg, "CODE: ")
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, ",")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// consumeError is the error a push consumer's result stands for when the
// callback returned no error of its own: anything but success or commit asks
// the client to deliver the messages again.
type consumeError struct{ result consumer.ConsumeResult }

func (e consumeError) Error() string     { return "otel: consume result " + e.ErrorType() }
func (e consumeError) ErrorType() string { return consumeResultName(e.result) }

func consumeResultName(r consumer.ConsumeResult) string {
	switch r {
	case consumer.ConsumeSuccess:
		return "ConsumeSuccess"
	case consumer.ConsumeRetryLater:
		return "ConsumeRetryLater"
	case consumer.Commit:
		return "Commit"
	case consumer.Rollback:
		return "Rollback"
	case consumer.SuspendCurrentQueueAMoment:
		return "SuspendCurrentQueueAMoment"
	}
	return "ConsumeResult(" + strconv.Itoa(int(r)) + ")"
}

// consumeFailed reports whether a consume result asks for redelivery.
func consumeFailed(r consumer.ConsumeResult) bool {
	return r != consumer.ConsumeSuccess && r != consumer.Commit
}

var errPanicked = errors.New("otel: consume callback panicked")
