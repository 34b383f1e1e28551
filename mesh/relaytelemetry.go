package mesh

import (
	"context"
	"net/netip"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// relayTelemetry is the relay's tracing link, the outermost of its chain (see
// transport.Interceptor): it counts every request the relay forwards by code
// and upstream, and the failovers, and with [WithRPCSpans] gives each attempt
// to forward a request a CLIENT span, nested under the send span its message
// carries.
//
// With spans off it adds two counter increments to a request and allocates
// nothing; with spans on, the message properties of sends are read (the trace
// context only) and each request costs a span and the hooks that end it.
type relayTelemetry struct {
	tel *rmqotel.Telemetry
}

func (l relayTelemetry) intercept(ctx context.Context, c *transport.Request, next transport.Invoker) error {
	if !l.tel.RPCSpans() {
		err := next(ctx, c)
		l.count(ctx, c, err)
		return err
	}
	rpc := &relayRPC{tel: l.tel, ctx: ctx, code: c.Code, topic: c.Topic(), props: c.MessageProperties()}
	c.OnAttempt(rpc.attempt)
	c.OnResponse(rpc.response)
	err := next(ctx, c)
	l.count(ctx, c, err)
	switch {
	case rpc.span == nil:
		// Refused before any target was chosen (no route, or a link of
		// the application's): a span of its own says why.
		_, s := l.tel.StartRPC(ctx, rmqotel.RPC{Code: rpc.code, Topic: rpc.topic, Properties: rpc.props})
		s.End(0, err)
	case err != nil:
		rpc.span.End(0, err)
	case !c.AwaitsResponse():
		rpc.span.End(remoting.Success, nil)
	}
	// Otherwise the response hook ends the span, on the upstream's reader.
	return err
}

// count records the request in the relay's counters.
func (l relayTelemetry) count(ctx context.Context, c *transport.Request, err error) {
	if err == nil {
		l.tel.RelayRequest(ctx, c.Code, c.Target.Cluster, c.Target.Addr)
	}
	if n := c.Attempt(); n > 1 {
		l.tel.RelayFailovers(ctx, c.Code, c.Target.Cluster, n-1)
	}
}

// relayRPC is one request's spans, one per attempt. span is written only by
// the chain's goroutine, before the request is forwarded; the response hook
// reads it after (the upstream's pending table orders the two, and the relay
// does not try a request elsewhere once its hook may run).
type relayRPC struct {
	tel   *rmqotel.Telemetry
	ctx   context.Context
	code  int32
	topic string
	props string
	span  *rmqotel.RPCSpan
}

func (r *relayRPC) attempt(n int, t transport.Target, prev error) {
	if r.span != nil {
		r.span.Failover(t.Addr, prev)
		r.span.End(0, prev)
	}
	_, r.span = r.tel.StartRPC(r.ctx, rmqotel.RPC{
		Code: r.code, Topic: r.topic, Cluster: t.Cluster, Endpoint: t.Addr, Attempt: n, Properties: r.props,
	})
}

func (r *relayRPC) response(resp *remoting.FrameView) { r.span.End(resp.Code(), nil) }

// brokerAddress is the telemetry's broker address resolver on the intercept
// data path: clients see the relay's virtual endpoints as store hosts and in
// offset message ids, and the spans should name the broker that served. The
// relay names the storing broker's (master's) virtual endpoint in both, so the
// endpoint's broker and id, looked up in the current routes, give the real
// address the relay forwards to.
func (m *Mesh) brokerAddress(seen netip.AddrPort) (string, bool) {
	if m.relay == nil {
		return "", false
	}
	ep, ok := m.relay.EndpointAt(seen)
	if !ok {
		return "", false
	}
	snap := m.table.Load()
	if snap == nil {
		return "", false
	}
	t, ok := m.router.member(snap, ep.BrokerName, ep.BrokerID, nil)
	return t.Addr, ok
}

// brokerAddress is [Mesh.brokerAddress] of the mesh while it is open.
func (r *meshRef) brokerAddress(seen netip.AddrPort) (string, bool) {
	m := r.p.Load()
	if m == nil {
		return "", false
	}
	return m.brokerAddress(seen)
}
