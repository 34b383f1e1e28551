package otel

import (
	"context"
	"strconv"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// RPC describes one request the intercepting relay forwards to a broker.
type RPC struct {
	Code     int32  // request code
	Topic    string // topic of the request, when it has one
	Cluster  string // cluster routing chose
	Endpoint string // upstream "host:port" the request goes to
	Attempt  int    // 1 for the first try, 2 for the first failover, ...
	// Properties are the message properties of a send request in their wire
	// form ("name\x01value\x02…"), as the relay reads them from the frame.
	// When they carry a trace context — the producer's send span, injected by
	// [Telemetry.WrapProducer] — the RPC span becomes its child. Only the
	// propagators' fields are read.
	Properties string
}

// RPCSpan is the span of one attempt of a forwarded request. Its methods are
// safe on a nil *RPCSpan, which is what StartRPC returns when per-RPC spans are
// off, and End may be called from any goroutine, more than once: the first
// call ends the span.
type RPCSpan struct {
	span     trace.Span
	upstream string
	ended    atomic.Bool
}

// StartRPC starts the CLIENT span of one attempt to forward a request, named
// "{REQUEST_CODE_NAME} {topic}", when per-RPC spans are on ([WithRPCSpans]);
// it returns ctx and a nil span otherwise. The span nests under the send span
// the request's message properties carry, or else under ctx's span. Counting
// requests is apart ([Telemetry.RelayRequest]): the relay counts whether or
// not spans are on.
func (t *Telemetry) StartRPC(ctx context.Context, rpc RPC) (context.Context, *RPCSpan) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !t.rpcSpans {
		return ctx, nil
	}
	if rpc.Properties != "" {
		if pctx := t.prop.Extract(ctx, wireProperties(rpc.Properties)); trace.SpanContextFromContext(pctx).IsValid() {
			ctx = pctx
		}
	}
	name := remoting.RequestCodeName(rpc.Code)
	attrs := make([]attribute.KeyValue, 0, 9)
	attrs = append(attrs, semconv.MessagingSystemRocketMQ, RequestCodeKey.String(name))
	if rpc.Topic != "" {
		attrs = append(attrs, semconv.MessagingDestinationName(rpc.Topic))
	}
	if rpc.Cluster != "" {
		attrs = append(attrs, ClusterKey.String(rpc.Cluster))
	}
	attrs = serverAttrs(attrs, rpc.Endpoint)
	if rpc.Attempt > 0 {
		attrs = append(attrs, AttemptKey.Int(rpc.Attempt))
	}
	s := &RPCSpan{upstream: rpc.Endpoint}
	ctx, s.span = t.startSpan(ctx, t.spanName(name, rpc.Topic), clientKind, attrs, nil)
	return ctx, s
}

// Failover records on the span of a failed attempt that the request moves on
// to the endpoint next: a "failover" span event naming both, with the cause.
// The relay's next attempt is a new StartRPC with Attempt incremented; the
// rmqmesh.relay.failovers counter is [Telemetry.RelayFailovers].
func (s *RPCSpan) Failover(next string, cause error) {
	if s == nil || s.ended.Load() {
		return
	}
	attrs := []attribute.KeyValue{UpstreamKey.String(s.upstream), NextUpstreamKey.String(next)}
	if cause != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(ErrorType(cause)), semconv.ExceptionMessage(cause.Error()))
	}
	s.span.AddEvent("failover", trace.WithAttributes(attrs...))
}

// End ends the span with the broker's response code, or err when no response
// came. Response codes that answer a request normally (success, pull not
// found, retry immediately, offset moved, query not found, no message) are not
// errors.
func (s *RPCSpan) End(respCode int32, err error) {
	if s == nil || !s.ended.CompareAndSwap(false, true) {
		return
	}
	switch {
	case err != nil:
		s.span.SetAttributes(semconv.ErrorTypeKey.String(ErrorType(err)))
		s.span.SetStatus(codes.Error, err.Error())
	default:
		name := remoting.ResponseCodeName(respCode)
		s.span.SetAttributes(ResponseCodeKey.String(name))
		if !normalResponse(respCode) {
			s.span.SetAttributes(semconv.ErrorTypeKey.String(name))
			s.span.SetStatus(codes.Error, "response code "+strconv.Itoa(int(respCode))+" "+name)
		}
	}
	s.span.End()
}

func normalResponse(code int32) bool {
	switch code {
	case remoting.Success, remoting.PullNotFound, remoting.PullRetryImmediately, remoting.PullOffsetMoved,
		remoting.QueryNotFound, remoting.NoMessage, remoting.PollingTimeout:
		return true
	}
	return false
}
