package otel

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
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
	if lvl, _ := strconv.Atoi(m.GetProperty(primitive.PropertyDelayTimeLevel)); lvl > 0 {
		dst = append(dst, semconv.MessagingRocketMQMessageDelayTimeLevel(lvl))
	}
	return append(dst, semconv.MessagingMessageBodySize(len(m.Body)))
}

// messageType is messaging.rocketmq.message.type of a message sent by a plain
// producer: delay when it has a delay level, fifo when it has a sharding key
// (the official client's message group, which its ordered selectors hash),
// normal otherwise.
func messageType(m *primitive.Message) attribute.KeyValue {
	if lvl, _ := strconv.Atoi(m.GetProperty(primitive.PropertyDelayTimeLevel)); lvl > 0 {
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

// storeAddr decodes the broker address an offset message id names: the broker
// that stored the message, after any redirect. A batch's ids are
// comma-separated; the first one is used.
func storeAddr(offsetMsgID string) (netip.AddrPort, bool) {
	id, _, _ := strings.Cut(offsetMsgID, ",")
	var b [28]byte
	switch len(id) {
	case 32: // IPv4 (4) + port (4) + commit log offset (8), hex
		if _, err := hex.Decode(b[:16], []byte(id)); err != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(portOf(b[4:8]))), true
	case 56: // IPv6 (16) + port (4) + offset (8)
		if _, err := hex.Decode(b[:28], []byte(id)); err != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])), uint16(portOf(b[16:20]))), true
	}
	return netip.AddrPort{}, false
}

func portOf(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// serverAttrs appends server.address and server.port for a "host:port".
func serverAttrs(dst []attribute.KeyValue, hostport string) []attribute.KeyValue {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return dst
	}
	dst = append(dst, semconv.ServerAddress(host))
	if p, err := strconv.Atoi(port); err == nil {
		dst = append(dst, semconv.ServerPort(p))
	}
	return dst
}

func serverAttrsFromAddrPort(dst []attribute.KeyValue, ap netip.AddrPort) []attribute.KeyValue {
	return append(dst, semconv.ServerAddress(ap.Addr().String()), semconv.ServerPort(int(ap.Port())))
}
