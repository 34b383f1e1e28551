package otel

import (
	"context"
	"strconv"

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
	// Properties are the decoded message properties of a send request. When
	// they carry a trace context — the producer's send span, injected by
	// [Telemetry.WrapProducer] — the RPC span becomes its child.
	Properties map[string]string
}

// RPCSpan is the span of one forwarded request. Its methods are safe on a nil
// *RPCSpan; StartRPC returns one that records only metrics when per-RPC spans
// are off.
type RPCSpan struct {
	t        *Telemetry
	ctx      context.Context
	span     trace.Span // nil when per-RPC spans are off
	code     int32
	cluster  string
	upstream string
}

// StartRPC is the relay's per-request hook. It always counts the request in
// rmqmesh.relay.requests (at End); with [WithRPCSpans] on it also starts a
// CLIENT span named "{REQUEST_CODE_NAME} {topic}" that nests under the send or
// receive span of the same context: the one the request's message properties
// carry, or else ctx's.
func (t *Telemetry) StartRPC(ctx context.Context, rpc RPC) (context.Context, *RPCSpan) {
	if ctx == nil {
		ctx = context.Background()
	}
	s := &RPCSpan{t: t, ctx: ctx, code: rpc.Code, cluster: rpc.Cluster, upstream: rpc.Endpoint}
	if !t.rpcSpans {
		return ctx, s
	}
	if len(rpc.Properties) > 0 {
		if pctx := t.prop.Extract(ctx, PropertiesCarrier(rpc.Properties)); trace.SpanContextFromContext(pctx).IsValid() {
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
	s.ctx, s.span = t.tracer.Start(ctx, spanName(name, rpc.Topic),
		trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return s.ctx, s
}

// Failover records that the request is being retried on another endpoint: a
// "failover" span event naming both, and the rmqmesh.relay.failovers counter.
// The relay's next attempt is a new StartRPC with Attempt incremented.
func (s *RPCSpan) Failover(next string, cause error) {
	if s == nil {
		return
	}
	s.t.relayFailover(s.ctx, s.code, s.cluster)
	if s.span == nil {
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
	if s == nil {
		return
	}
	s.t.relayRequest(s.ctx, s.code, s.cluster, s.upstream)
	if s.span == nil {
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
