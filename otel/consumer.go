package otel

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ConsumeFunc is a push consumer's subscription callback.
type ConsumeFunc = func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error)

// WrapPushConsumer returns c instrumented: every call of a subscription
// callback, concurrent or orderly, gets a CONSUMER span named
// "process {topic}" and the messaging.process.duration and
// messaging.client.consumed.messages metrics.
//
// A callback given one message runs in a span that is a child of the context
// the message carries, so it continues the producer's trace; a callback given
// several (consumer.WithConsumeMessageBatchMaxSize) runs in a span with a link
// to each message's context. The callback's ctx carries the span (and, for one
// message, the message's baggage), so work it starts joins the trace.
//
// The span's status is an error when the callback returns an error, a result
// that asks for redelivery (ConsumeRetryLater, SuspendCurrentQueueAMoment,
// Rollback; error.type names it), or panics. Wrapping a wrapped consumer
// returns it unchanged.
func (t *Telemetry) WrapPushConsumer(c rocketmq.PushConsumer, info ClientInfo) rocketmq.PushConsumer {
	if c == nil {
		return nil
	}
	if _, ok := c.(*pushConsumer); ok {
		return c
	}
	return &pushConsumer{PushConsumer: c, t: t, info: info}
}

type pushConsumer struct {
	rocketmq.PushConsumer
	t    *Telemetry
	info ClientInfo
}

func (c *pushConsumer) Subscribe(topic string, selector consumer.MessageSelector, f ConsumeFunc) error {
	if f == nil {
		return c.PushConsumer.Subscribe(topic, selector, f)
	}
	return c.PushConsumer.Subscribe(topic, selector, c.t.WrapConsumeFunc(c.info, f))
}

// WrapConsumeFunc returns f instrumented as [Telemetry.WrapPushConsumer]
// instruments subscription callbacks, for applications that keep their own
// consumer.
func (t *Telemetry) WrapConsumeFunc(info ClientInfo, f ConsumeFunc) ConsumeFunc {
	return func(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		ctx, op := t.startProcess(ctx, &info, msgs)
		finished := false
		defer func() {
			// A panicking callback is recovered (or not) by the client; the
			// span still ends, and the panic goes on unchanged.
			if !finished {
				op.end(errPanicked)
			}
		}()
		result, err := f(ctx, msgs...)
		finished = true
		if err == nil && consumeFailed(result) {
			op.end(consumeError{result})
		} else {
			op.end(err)
		}
		return result, err
	}
}

// consumeOp is one process span.
type consumeOp struct {
	t     *Telemetry
	ctx   context.Context
	span  trace.Span
	start time.Time
	n     int
	key   metricKey
}

func (t *Telemetry) startProcess(ctx context.Context, info *ClientInfo, msgs []*primitive.MessageExt) (context.Context, *consumeOp) {
	if ctx == nil {
		ctx = context.Background()
	}
	op := &consumeOp{t: t, start: time.Now(), n: len(msgs)}
	var first *primitive.MessageExt
	if len(msgs) > 0 {
		first = msgs[0]
	}
	group := info.Group
	var mq *primitive.MessageQueue
	if mc, ok := primitive.GetConsumerCtx(ctx); ok {
		mq = mc.MQ
		if group == "" {
			group = destination(mc.ConsumerGroup, info.Namespace)
		}
	}
	if mq == nil && first != nil {
		mq = first.Queue
	}
	op.key = consumerKey(opProcess, info, group, mq, msgs)
	op.key.server = t.brokerAddr(storeHost(msgs))
	pooled := getAttrs()
	attrs := baseAttrs(*pooled, opProcess, semconv.MessagingOperationTypeProcess, op.key.dest, info)
	attrs = consumerAttrs(attrs, info, op.key)
	attrs = append(attrs, t.metricSets.get(op.key).server...)
	var links []trace.Link
	if len(msgs) == 1 && first != nil {
		attrs = append(attrs, semconv.MessagingMessageID(first.MsgId))
		attrs = messageAttrs(attrs, &first.Message)
		// The message's context becomes the parent: its producer's send span.
		ctx = t.prop.Extract(ctx, MessageCarrier{&first.Message})
	} else {
		attrs = append(attrs, semconv.MessagingBatchMessageCount(len(msgs)))
		links = t.messageLinks(msgs)
	}
	ctx, op.span = t.startSpan(ctx, t.spanName(opProcess, op.key.dest), consumerKind, attrs, links)
	putAttrs(pooled, attrs)
	op.ctx = ctx
	return ctx, op
}

// consumerKey is the metric key of a consumer operation on msgs from mq.
func consumerKey(op string, info *ClientInfo, group string, mq *primitive.MessageQueue, msgs []*primitive.MessageExt) metricKey {
	k := metricKey{op: op, dest: receivedDestination(info, mq, msgs), group: group}
	if mq != nil {
		k.partition = strconv.Itoa(mq.QueueId)
	}
	return k
}

// storeHost is the broker that stored the first of msgs, as the client saw it.
func storeHost(msgs []*primitive.MessageExt) string {
	if len(msgs) > 0 && msgs[0] != nil {
		return msgs[0].StoreHost
	}
	return ""
}

// consumerAttrs appends the consumer group, partition and consumption model.
func consumerAttrs(attrs []attribute.KeyValue, info *ClientInfo, k metricKey) []attribute.KeyValue {
	if k.group != "" {
		attrs = append(attrs, semconv.MessagingConsumerGroupName(k.group))
	}
	if k.partition != "" {
		attrs = append(attrs, semconv.MessagingDestinationPartitionID(k.partition))
	}
	if info.Broadcasting {
		return append(attrs, semconv.MessagingRocketMQConsumptionModelBroadcasting)
	}
	return append(attrs, semconv.MessagingRocketMQConsumptionModelClustering)
}

// messageLinks returns a link to the context of every message that carries a
// valid one.
func (t *Telemetry) messageLinks(msgs []*primitive.MessageExt) []trace.Link {
	links := make([]trace.Link, 0, len(msgs))
	for _, m := range msgs {
		if m == nil {
			continue
		}
		if sc := t.extractSpanContext(MessageCarrier{&m.Message}); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	return links
}

func (op *consumeOp) end(err error) {
	if err != nil {
		op.key.errType = ErrorType(err)
		op.span.SetAttributes(semconv.ErrorTypeKey.String(op.key.errType))
		op.span.SetStatus(codes.Error, err.Error())
	}
	op.span.End()
	ms := op.t.metricSets.get(op.key)
	op.t.processTime.Float64Histogram.Record(op.ctx, seconds(op.start), ms.rec...)
	op.t.consumed.addSet(op.key, int64(op.n), ms.set)
}

// WrapPullConsumer returns c instrumented: Poll, Pull and PullFrom calls that
// return messages or fail get a CLIENT span named "receive {topic}" with a link
// to each message's context, and ACK gets a CLIENT span named "ack {topic}"
// ("nack {topic}" for a result that asks for redelivery). Calls that return no
// message record nothing: a polling loop would otherwise fill the trace
// backend with empty spans. Metrics: messaging.client.operation.duration and
// messaging.client.consumed.messages.
func (t *Telemetry) WrapPullConsumer(c rocketmq.PullConsumer, info ClientInfo) rocketmq.PullConsumer {
	if c == nil {
		return nil
	}
	if _, ok := c.(*pullConsumer); ok {
		return c
	}
	return &pullConsumer{PullConsumer: c, t: t, info: info}
}

type pullConsumer struct {
	rocketmq.PullConsumer
	t    *Telemetry
	info ClientInfo
}

func (c *pullConsumer) Poll(ctx context.Context, timeout time.Duration) (*consumer.ConsumeRequest, error) {
	start := time.Now()
	cr, err := c.PullConsumer.Poll(ctx, timeout)
	if errors.Is(err, consumer.ErrNoNewMsg) {
		return cr, err
	}
	var (
		mq   *primitive.MessageQueue
		msgs []*primitive.MessageExt
	)
	if cr != nil {
		mq, msgs = cr.GetMQ(), cr.GetMsgList()
	}
	c.t.recordReceive(ctx, &c.info, start, mq, msgs, err)
	return cr, err
}

func (c *pullConsumer) Pull(ctx context.Context, numbers int) (*primitive.PullResult, error) {
	start := time.Now()
	res, err := c.PullConsumer.Pull(ctx, numbers)
	c.recordPull(ctx, start, nil, res, err)
	return res, err
}

func (c *pullConsumer) PullFrom(ctx context.Context, queue *primitive.MessageQueue, offset int64, numbers int) (*primitive.PullResult, error) {
	start := time.Now()
	res, err := c.PullConsumer.PullFrom(ctx, queue, offset, numbers)
	c.recordPull(ctx, start, queue, res, err)
	return res, err
}

func (c *pullConsumer) recordPull(ctx context.Context, start time.Time, mq *primitive.MessageQueue, res *primitive.PullResult, err error) {
	var msgs []*primitive.MessageExt
	if res != nil {
		msgs = res.GetMessageExts()
	}
	c.t.recordReceive(ctx, &c.info, start, mq, msgs, err)
}

func (c *pullConsumer) ACK(ctx context.Context, cr *consumer.ConsumeRequest, result consumer.ConsumeResult) {
	if cr == nil || len(cr.GetMsgList()) == 0 {
		c.PullConsumer.ACK(ctx, cr, result)
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	start := time.Now()
	msgs := cr.GetMsgList()
	op := opAck
	if consumeFailed(result) {
		op = opNack
	}
	k := consumerKey(op, &c.info, c.info.Group, cr.GetMQ(), msgs) // an acknowledgement is not counted per broker
	attrs := make([]attribute.KeyValue, 0, 12)
	attrs = baseAttrs(attrs, op, semconv.MessagingOperationTypeSettle, k.dest, &c.info)
	attrs = consumerAttrs(attrs, &c.info, k)
	attrs = append(attrs, semconv.MessagingBatchMessageCount(len(msgs)))
	ctx, span := c.t.startSpan(ctx, c.t.spanName(op, k.dest), clientKind, attrs, c.t.messageLinks(msgs))
	c.PullConsumer.ACK(ctx, cr, result)
	span.End()
	c.t.opDuration.Float64Histogram.Record(ctx, seconds(start), c.t.metricSets.get(k).rec...)
}

func receivedDestination(info *ClientInfo, mq *primitive.MessageQueue, msgs []*primitive.MessageExt) string {
	topic := ""
	switch {
	case len(msgs) > 0 && msgs[0] != nil:
		topic = msgs[0].Topic
	case mq != nil:
		topic = mq.Topic
	}
	return destination(topic, info.Namespace)
}

// recordReceive records a receive span and its metrics after the fact, from
// start to now, when messages arrived or the call failed.
func (t *Telemetry) recordReceive(ctx context.Context, info *ClientInfo, start time.Time, mq *primitive.MessageQueue, msgs []*primitive.MessageExt, err error) {
	if err == nil && len(msgs) == 0 {
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if mq == nil && len(msgs) > 0 && msgs[0] != nil {
		mq = msgs[0].Queue
	}
	k := consumerKey(opReceive, info, info.Group, mq, msgs)
	k.server = t.brokerAddr(storeHost(msgs))
	attrs := make([]attribute.KeyValue, 0, 16)
	attrs = baseAttrs(attrs, opReceive, semconv.MessagingOperationTypeReceive, k.dest, info)
	attrs = consumerAttrs(attrs, info, k)
	attrs = append(attrs, semconv.MessagingBatchMessageCount(len(msgs)))
	if len(msgs) == 1 && msgs[0] != nil {
		attrs = append(attrs, semconv.MessagingMessageID(msgs[0].MsgId))
	}
	if err != nil {
		k.errType = ErrorType(err)
	}
	ms := t.metricSets.get(k)
	attrs = append(attrs, ms.server...)
	ctx, span := t.startSpan(ctx, t.spanName(opReceive, k.dest), clientKind, attrs, t.messageLinks(msgs), trace.WithTimestamp(start))
	if err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(k.errType))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
	t.opDuration.Float64Histogram.Record(ctx, seconds(start), ms.rec...)
	if len(msgs) > 0 {
		t.consumed.addSet(k, int64(len(msgs)), ms.set)
	}
}
