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
	t           *Telemetry
	ctx         context.Context
	span        trace.Span
	start       time.Time
	n           int
	metricAttrs []attribute.KeyValue
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
	var dest string
	if first != nil {
		dest = destination(first.Topic, info.Namespace)
	}
	attrs := make([]attribute.KeyValue, 0, 20)
	attrs = baseAttrs(attrs, opProcess, semconv.MessagingOperationTypeProcess, dest, info)
	op.metricAttrs = make([]attribute.KeyValue, 0, 6)
	op.metricAttrs = append(op.metricAttrs, semconv.MessagingDestinationName(dest))
	attrs, op.metricAttrs = consumerAttrs(attrs, op.metricAttrs, info, group, mq)
	if first != nil {
		n := len(op.metricAttrs)
		op.metricAttrs = serverAttrs(op.metricAttrs, first.StoreHost)
		attrs = append(attrs, op.metricAttrs[n:]...)
	}
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
	ctx, op.span = t.tracer.Start(ctx, spanName(opProcess, dest),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attrs...),
		trace.WithLinks(links...))
	op.ctx = ctx
	return ctx, op
}

// consumerAttrs appends the consumer group, partition and consumption model to
// span attributes and the first two to metric attributes.
func consumerAttrs(attrs, metricAttrs []attribute.KeyValue, info *ClientInfo, group string, mq *primitive.MessageQueue) ([]attribute.KeyValue, []attribute.KeyValue) {
	if group != "" {
		g := semconv.MessagingConsumerGroupName(group)
		attrs, metricAttrs = append(attrs, g), append(metricAttrs, g)
	}
	if mq != nil {
		p := semconv.MessagingDestinationPartitionID(strconv.Itoa(mq.QueueId))
		attrs, metricAttrs = append(attrs, p), append(metricAttrs, p)
	}
	if info.Broadcasting {
		attrs = append(attrs, semconv.MessagingRocketMQConsumptionModelBroadcasting)
	} else {
		attrs = append(attrs, semconv.MessagingRocketMQConsumptionModelClustering)
	}
	return attrs, metricAttrs
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
		et := semconv.ErrorTypeKey.String(ErrorType(err))
		op.span.SetAttributes(et)
		op.span.SetStatus(codes.Error, err.Error())
		op.metricAttrs = append(op.metricAttrs, et)
	}
	op.span.End()
	op.t.processTime.Record(op.ctx, seconds(op.start), opProcess, system, op.metricAttrs...)
	op.t.consumed.Add(op.ctx, int64(op.n), opProcess, system, op.metricAttrs...)
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
	dest := c.destination(cr.GetMQ(), msgs)
	attrs := make([]attribute.KeyValue, 0, 12)
	attrs = baseAttrs(attrs, op, semconv.MessagingOperationTypeSettle, dest, &c.info)
	metricAttrs := []attribute.KeyValue{semconv.MessagingDestinationName(dest)}
	attrs, metricAttrs = consumerAttrs(attrs, metricAttrs, &c.info, c.info.Group, cr.GetMQ())
	attrs = append(attrs, semconv.MessagingBatchMessageCount(len(msgs)))
	ctx, span := c.t.tracer.Start(ctx, spanName(op, dest),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...),
		trace.WithLinks(c.t.messageLinks(msgs)...))
	c.PullConsumer.ACK(ctx, cr, result)
	span.End()
	c.t.opDuration.Record(ctx, seconds(start), op, system, metricAttrs...)
}

func (c *pullConsumer) destination(mq *primitive.MessageQueue, msgs []*primitive.MessageExt) string {
	return receivedDestination(&c.info, mq, msgs)
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
	dest := receivedDestination(info, mq, msgs)
	attrs := make([]attribute.KeyValue, 0, 16)
	attrs = baseAttrs(attrs, opReceive, semconv.MessagingOperationTypeReceive, dest, info)
	metricAttrs := make([]attribute.KeyValue, 0, 6)
	metricAttrs = append(metricAttrs, semconv.MessagingDestinationName(dest))
	attrs, metricAttrs = consumerAttrs(attrs, metricAttrs, info, info.Group, mq)
	attrs = append(attrs, semconv.MessagingBatchMessageCount(len(msgs)))
	if len(msgs) > 0 && msgs[0] != nil {
		n := len(metricAttrs)
		metricAttrs = serverAttrs(metricAttrs, msgs[0].StoreHost)
		attrs = append(attrs, metricAttrs[n:]...)
		if len(msgs) == 1 {
			attrs = append(attrs, semconv.MessagingMessageID(msgs[0].MsgId))
		}
	}
	ctx, span := t.tracer.Start(ctx, spanName(opReceive, dest),
		trace.WithTimestamp(start),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attrs...),
		trace.WithLinks(t.messageLinks(msgs)...))
	if err != nil {
		et := semconv.ErrorTypeKey.String(ErrorType(err))
		span.SetAttributes(et)
		span.SetStatus(codes.Error, err.Error())
		metricAttrs = append(metricAttrs, et)
	}
	span.End()
	t.opDuration.Record(ctx, seconds(start), opReceive, system, metricAttrs...)
	if len(msgs) > 0 {
		t.consumed.Add(ctx, int64(len(msgs)), opReceive, system, metricAttrs...)
	}
}
