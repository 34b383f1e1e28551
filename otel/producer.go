package otel

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Timeouts of the official client that bound its callbacks, and the grace after
// which a callback that has not come is given up on.
const (
	// clientAsyncSendTimeout is rocketmq-client-go v2.1.2's fixed SendAsync
	// timeout (producer.sendAsync).
	clientAsyncSendTimeout = 3 * time.Second
	// defaultCallbackGrace is how long after the client's own timeout a
	// SendAsync or RequestAsync span waits for its callback before ending with
	// a timeout error. RequestAsync needs it: v2.1.2 reports an unanswered
	// request only when its cache evicts the entry, up to ten minutes late.
	defaultCallbackGrace = 2 * time.Second
)

// operation name of Request and RequestAsync spans: a send that also waits for
// the reply, so its duration is not a send's.
const opRequest = "request"

// WrapProducer returns p instrumented: every send — SendSync, SendAsync,
// SendOneWay, batches, Request and RequestAsync — gets a PRODUCER span named
// "send {topic}" ("request {topic}" for Request and RequestAsync) that is the
// creation context injected into each message's properties, and the
// messaging.client.operation.duration and messaging.client.sent.messages
// metrics.
//
// The wrapper calls through the official interface instead of installing a
// producer interceptor: in rocketmq-client-go v2.1.2 any producer interceptor
// makes Request return before the reply and RequestAsync send twice.
//
// A SendAsync span ends in the callback; when the callback has not come by the
// client's timeout plus a grace period, the span ends with a timeout error.
// RequestAsync spans do the same with the request's ttl.
//
// Duplicate instrumentation: a message that already carries a valid trace
// context of another trace (another instrumentation of the same client, or the
// application, put it there) keeps it; the send span gets a link to it instead.
// A context of the same trace, such as this wrapper's own from an earlier
// attempt to send the same message, is replaced. Wrapping a wrapped producer
// returns it unchanged.
func (t *Telemetry) WrapProducer(p rocketmq.Producer, info ClientInfo) rocketmq.Producer {
	if p == nil {
		return nil
	}
	return wrapProducer(t, p, p, info)
}

// requestCallback is the official client's RequestCallback, whose type lives in
// an internal package: the wrapper is generic over it so that it can implement
// RequestAsync. Go infers it from the producer's method set.
type requestCallback interface {
	~func(ctx context.Context, msg *primitive.Message, err error)
}

type requestAsyncer[CB requestCallback] interface {
	RequestAsync(ctx context.Context, ttl time.Duration, callback CB, msg *primitive.Message) error
}

func wrapProducer[CB requestCallback](t *Telemetry, p rocketmq.Producer, ra requestAsyncer[CB], info ClientInfo) rocketmq.Producer {
	if _, ok := any(p).(*producer[CB]); ok {
		return p
	}
	// *producer[CB] implements rocketmq.Producer only for the client's own
	// callback type, which is what inference gives; the assertion is checked
	// at run time because the compiler cannot see that in generic code.
	if w, ok := any(&producer[CB]{Producer: p, ra: ra, t: t, info: info}).(rocketmq.Producer); ok {
		return w
	}
	return p
}

type producer[CB requestCallback] struct {
	rocketmq.Producer // Start and Shutdown pass through
	ra                requestAsyncer[CB]
	t                 *Telemetry
	info              ClientInfo
}

func (p *producer[CB]) SendSync(ctx context.Context, msgs ...*primitive.Message) (*primitive.SendResult, error) {
	var op sendOp // ends before the call returns: no allocation
	ctx = p.t.startSend(ctx, &op, &p.info, opSend, msgs, attribute.KeyValue{})
	res, err := p.Producer.SendSync(ctx, msgs...)
	op.end(res, err)
	return res, err
}

func (p *producer[CB]) SendOneWay(ctx context.Context, msgs ...*primitive.Message) error {
	var op sendOp
	ctx = p.t.startSend(ctx, &op, &p.info, opSend, msgs, attribute.KeyValue{})
	err := p.Producer.SendOneWay(ctx, msgs...)
	op.end(nil, err)
	return err
}

func (p *producer[CB]) SendAsync(ctx context.Context, f func(context.Context, *primitive.SendResult, error), msgs ...*primitive.Message) error {
	op := new(sendOp) // the callback ends it
	ctx = p.t.startSend(ctx, op, &p.info, opSend, msgs, attribute.KeyValue{})
	if op.quiet {
		// Nothing to end in the callback: the caller's own, as it is.
		return p.Producer.SendAsync(ctx, f, msgs...)
	}
	op.guard(ctx, "SendAsync", clientAsyncSendTimeout)
	err := p.Producer.SendAsync(ctx, func(cctx context.Context, res *primitive.SendResult, err error) {
		// End first: the callback may panic (the client recovers it), and in
		// v2.1.2 a timed-out send panics right after this call returns.
		op.end(res, err)
		if f != nil {
			f(cctx, res, err)
		}
	}, msgs...)
	if err != nil {
		op.end(nil, err)
	}
	return err
}

func (p *producer[CB]) Request(ctx context.Context, ttl time.Duration, msg *primitive.Message) (*primitive.Message, error) {
	var op sendOp
	ctx = p.t.startSend(ctx, &op, &p.info, opRequest, []*primitive.Message{msg}, attribute.KeyValue{})
	reply, err := p.Producer.Request(ctx, ttl, msg)
	op.endRequest(msg, reply, err)
	return reply, err
}

func (p *producer[CB]) RequestAsync(ctx context.Context, ttl time.Duration, cb CB, msg *primitive.Message) error {
	op := new(sendOp)
	ctx = p.t.startSend(ctx, op, &p.info, opRequest, []*primitive.Message{msg}, attribute.KeyValue{})
	if op.quiet {
		return p.ra.RequestAsync(ctx, ttl, cb, msg)
	}
	op.guard(ctx, "RequestAsync", ttl)
	err := p.ra.RequestAsync(ctx, ttl, CB(func(cctx context.Context, reply *primitive.Message, err error) {
		op.endRequest(msg, reply, err)
		if cb != nil {
			cb(cctx, reply, err)
		}
	}), msg)
	if err != nil {
		op.endRequest(msg, nil, err)
	}
	return err
}

// WrapTransactionProducer returns p instrumented like [Telemetry.WrapProducer]:
// SendMessageInTransaction gets a "send {topic}" span with
// messaging.rocketmq.message.type=transaction covering the half message, the
// local transaction and its outcome, which is recorded as the
// "rocketmq.transaction.end" event and the rocketmq.transaction.state
// attribute (commit, rollback or unknown).
func (t *Telemetry) WrapTransactionProducer(p rocketmq.TransactionProducer, info ClientInfo) rocketmq.TransactionProducer {
	if p == nil {
		return nil
	}
	if _, ok := p.(*transactionProducer); ok {
		return p
	}
	return &transactionProducer{TransactionProducer: p, t: t, info: info}
}

type transactionProducer struct {
	rocketmq.TransactionProducer
	t    *Telemetry
	info ClientInfo
}

// TransactionStateKey is the attribute recording a transaction's outcome.
const TransactionStateKey = attribute.Key("rocketmq.transaction.state")

func (p *transactionProducer) SendMessageInTransaction(ctx context.Context, msg *primitive.Message) (*primitive.TransactionSendResult, error) {
	var op sendOp
	ctx = p.t.startSend(ctx, &op, &p.info, opSend, []*primitive.Message{msg}, semconv.MessagingRocketMQMessageTypeTransaction)
	res, err := p.TransactionProducer.SendMessageInTransaction(ctx, msg)
	var sr *primitive.SendResult
	if res != nil {
		sr = res.SendResult
		state := TransactionStateKey.String(transactionState(res.State))
		op.span.AddEvent("rocketmq.transaction.end", trace.WithAttributes(state))
		op.span.SetAttributes(state)
	}
	op.end(sr, err)
	return res, err
}

func transactionState(s primitive.LocalTransactionState) string {
	switch s {
	case primitive.CommitMessageState:
		return "commit"
	case primitive.RollbackMessageState:
		return "rollback"
	}
	return "unknown"
}

// sendOp is one send span, from startSend to its end, which happens once.
type sendOp struct {
	t     *Telemetry
	ctx   context.Context
	span  trace.Span
	start time.Time
	op    string
	dest  string
	n     int

	// quiet is set when nothing records the send: the span is not recording
	// and no metric reader wants the send's measurements (the global
	// providers before an application sets any, or a sampler's no). Its end
	// then has nothing to do, and an async send needs no guard nor wrapped
	// callback: most of what instrumentation costs a send is spared when it
	// is off.
	quiet bool

	ended atomic.Bool // the span ends once, by whoever comes first
	// guardTimer is the callback guard of async sends; set by guard before
	// the send starts. It is a pointer of its own so that loading it does not
	// make every sendOp escape: a synchronous send's stays on its stack.
	guardTimer *atomic.Pointer[time.Timer]
}

// startSend starts the span of a send into s, which the caller provides so
// that a synchronous send can keep it on its stack, and returns the context
// that carries it.
func (t *Telemetry) startSend(ctx context.Context, s *sendOp, info *ClientInfo, op string, msgs []*primitive.Message, msgType attribute.KeyValue) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	s.t, s.start, s.op, s.n = t, time.Now(), op, len(msgs)
	var first *primitive.Message
	if len(msgs) > 0 {
		first = msgs[0]
	}
	if first != nil {
		// The client prefixes the namespace in place during the call.
		s.dest = destination(first.Topic, info.Namespace)
	}
	pooled := getAttrs()
	attrs := baseAttrs(*pooled, op, semconv.MessagingOperationTypeSend, s.dest, info)
	if len(msgs) > 1 {
		attrs = append(attrs, semconv.MessagingBatchMessageCount(len(msgs)))
	} else if first != nil {
		attrs = messageAttrs(attrs, first)
		if !msgType.Valid() {
			msgType = messageType(first)
		}
	}
	if msgType.Valid() {
		attrs = append(attrs, msgType)
	}
	var (
		links   []trace.Link
		foreign []bool
	)
	for i, m := range msgs {
		if m == nil {
			continue
		}
		if sc := t.foreignContext(ctx, m); sc.IsValid() {
			if foreign == nil {
				foreign = make([]bool, len(msgs))
			}
			foreign[i] = true
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx, s.span = t.startSpan(ctx, t.spanName(op, s.dest), producerKind, attrs, links)
	putAttrs(pooled, attrs)
	s.ctx = ctx
	// The messages-sent counter is observable and cannot say whether a reader
	// wants it; it comes from the same meter as the duration histogram, so the
	// histogram answers for both. (Asking the counter's instrument would keep
	// every send under the global providers loud: their instruments are
	// delegates that no type check tells from a real one.)
	s.quiet = !s.span.IsRecording() && !t.opDuration.Enabled(ctx)
	for i, m := range msgs {
		if m != nil && (foreign == nil || !foreign[i]) {
			t.prop.Inject(ctx, MessageCarrier{m})
		}
	}
	return ctx
}

// guard ends the span with a timeout error when no callback has come within
// timeout (shortened by ctx's deadline, as the client's is) plus the grace.
func (s *sendOp) guard(ctx context.Context, what string, timeout time.Duration) {
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	after := max(timeout, 0) + s.t.callbackGrace()
	s.guardTimer = new(atomic.Pointer[time.Timer])
	s.guardTimer.Store(time.AfterFunc(after, func() {
		s.end(nil, &CallbackTimeoutError{Call: what, After: after})
	}))
}

func (t *Telemetry) callbackGrace() time.Duration {
	if t.grace > 0 {
		return t.grace
	}
	return defaultCallbackGrace
}

// CallbackTimeoutError ends the span of an asynchronous call whose callback did
// not come in time. Its error.type is "timeout".
type CallbackTimeoutError struct {
	Call  string        // "SendAsync" or "RequestAsync"
	After time.Duration // how long the span waited
}

func (e *CallbackTimeoutError) Error() string {
	return fmt.Sprintf("otel: %s callback did not come within %v", e.Call, e.After)
}

// ErrorType implements the semantic conventions' error type hook.
func (e *CallbackTimeoutError) ErrorType() string { return "timeout" }

func (s *sendOp) end(res *primitive.SendResult, err error) {
	if s.ended.CompareAndSwap(false, true) {
		s.finish(res, err, nil)
	}
}

// endRequest ends a Request or RequestAsync span: the request message's id and
// correlation id are known only after the client set them, and the reply's
// context, when it carries one, is linked.
func (s *sendOp) endRequest(msg, reply *primitive.Message, err error) {
	if s.ended.CompareAndSwap(false, true) {
		var extra []attribute.KeyValue
		if msg != nil {
			if id := msg.GetProperty(primitive.PropertyUniqueClientMessageIdKeyIndex); id != "" {
				extra = append(extra, semconv.MessagingMessageID(id))
			}
			if c := msg.GetProperty(primitive.PropertyCorrelationID); c != "" {
				extra = append(extra, semconv.MessagingMessageConversationID(c))
			}
		}
		if reply != nil {
			if sc := s.t.extractSpanContext(MessageCarrier{reply}); sc.IsValid() {
				s.span.AddLink(trace.Link{SpanContext: sc})
			}
		}
		s.finish(nil, err, extra)
	}
}

func (s *sendOp) finish(res *primitive.SendResult, err error, extra []attribute.KeyValue) {
	if s.quiet {
		s.span.End()
		return
	}
	if g := s.guardTimer; g != nil {
		if tm := g.Load(); tm != nil {
			tm.Stop()
		}
	}
	pooled := getAttrs()
	attrs := append(*pooled, extra...)
	k := metricKey{op: s.op, dest: s.dest}
	if res != nil {
		if s.n == 1 && res.MsgID != "" {
			attrs = append(attrs, semconv.MessagingMessageID(res.MsgID))
		}
		if res.MessageQueue != nil {
			attrs = append(attrs, semconv.MessagingDestinationPartitionID(strconv.Itoa(res.MessageQueue.QueueId)))
		}
		k.server = s.t.brokerAddr(storeKey(res.OffsetMsgID))
	}
	if err != nil {
		k.errType = ErrorType(err)
		s.span.SetStatus(codes.Error, err.Error())
	}
	ms := s.t.metricSets.get(k)
	attrs = append(attrs, ms.server...)
	if k.errType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(k.errType))
	}
	if len(attrs) > 0 {
		s.span.SetAttributes(attrs...)
	}
	putAttrs(pooled, attrs)
	s.span.End()
	s.t.opDuration.Float64Histogram.Record(s.ctx, seconds(s.start), ms.rec...)
	s.t.sent.addSet(k, int64(s.n), ms.set)
}
