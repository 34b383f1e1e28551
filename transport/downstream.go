package transport

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// downstream is one client connection to a virtual endpoint, and the upstream
// connections it opened to real brokers. One goroutine (run) reads the client's
// frames and writes requests upstream; each upstream has a goroutine that reads
// the broker's frames and writes them to the client.
type downstream struct {
	// immutable after newDownstream
	r      *Relay
	ep     *endpoint
	nc     net.Conn
	log    *slog.Logger
	remote string

	// only touched by the reading goroutine
	br       *bufio.Reader
	big      []byte
	view     remoting.FrameView
	req      Request
	query    Query
	bufs     frameBufs
	topics   map[string]string
	topicBuf []byte
	dirty    []*upstream

	// only touched under retryMu: the goroutines that fail sends over take
	// turns with one request and one set of buffers
	retryMu    sync.Mutex
	retryReq   Request
	retryQuery Query
	retryBufs  frameBufs

	wmu sync.Mutex // guards bw and writes to nc
	bw  *bufio.Writer

	// inflight counts requests awaiting an answer, in both directions.
	inflight atomic.Int64

	mu         sync.Mutex // guards everything below
	ups        map[string]*upstream
	draining   map[*upstream]struct{}
	brokerReqs map[int32]brokerRequest
	nextOpaque int32
	closed     bool
	heartbeat  []byte // the client's last heartbeat, replayed on new upstreams

	wg sync.WaitGroup // upstream readers and failover goroutines
}

// brokerRequest is a request a broker sent the client, awaiting its answer:
// the upstream it came on and its opaque there.
type brokerRequest struct {
	up     *upstream
	opaque int32
}

// maxInternedTopics bounds the topic strings one connection keeps, so that
// reading a topic does not allocate for a client that sends to a working set of
// topics, and a client that sends to endless new ones does not grow memory.
const maxInternedTopics = 1024

func newDownstream(r *Relay, ep *endpoint, c net.Conn) *downstream {
	d := &downstream{
		r:          r,
		ep:         ep,
		nc:         c,
		remote:     c.RemoteAddr().String(),
		br:         bufio.NewReaderSize(c, bufferSize),
		bw:         bufio.NewWriterSize(c, bufferSize),
		topics:     make(map[string]string),
		ups:        make(map[string]*upstream),
		draining:   make(map[*upstream]struct{}),
		brokerReqs: make(map[int32]brokerRequest),
	}
	d.log = r.log.With("broker", ep.key.BrokerName, "brokerId", ep.key.BrokerID, "client", d.remote)
	d.req.d, d.req.q, d.req.bufs = d, &d.query, &d.bufs
	d.retryReq.d, d.retryReq.q, d.retryReq.bufs = d, &d.retryQuery, &d.retryBufs
	return d
}

// run reads the client's frames until the connection ends, then closes every
// upstream and waits for their readers.
func (d *downstream) run() {
	defer d.shutdown()
	for {
		frame, peeked, err := readFrame(d.br, &d.big)
		if err != nil {
			// readFrame's bare io.EOF is a clean end between frames. A
			// frame cut short (the client went away mid-frame, or reset
			// the connection, as clients do when they shut down) is told
			// at debug level; a frame that breaks the protocol at warn.
			switch {
			case err == io.EOF || errors.Is(err, net.ErrClosed):
			case errors.Is(err, remoting.ErrTruncated):
				d.log.Debug("client connection ended mid-frame", "err", err)
			default:
				d.log.Warn("closing client connection: unreadable frame", "err", err)
			}
			return
		}
		if err := d.view.Reset(frame); err != nil {
			// Without a header there is no opaque to answer with.
			d.log.Warn("closing client connection: malformed frame", "err", err)
			return
		}
		if d.view.IsResponse() {
			d.answerBroker()
		} else {
			d.request()
		}
		if peeked {
			_, _ = d.br.Discard(len(frame))
		}
		if !frameBuffered(d.br) {
			d.flushUpstreams()
		}
	}
}

// request runs one client request through the chain.
func (d *downstream) request() {
	v := &d.view
	if limit := d.r.o.maxPending; limit > 0 && d.inflight.Load() >= int64(limit) {
		d.reject(&ResponseError{Code: remoting.SystemBusy, Remark: fmt.Sprintf(
			"rmqmesh relay: %d requests in flight on this connection to broker %s (limit %d); retry later", d.inflight.Load(), d.ep.key, limit)})
		return
	}
	d.req.reset(v, d.ep.key)
	d.req.topic = d.topicOf(v)
	err := d.invoke()
	if c := &d.req; c.retry != nil && c.retryHeld {
		// No upstream took the send: its failover state ends here.
		c.retry.release()
		c.retry, c.retryHeld = nil, false
	}
	if err != nil {
		d.reject(err)
	}
}

// invoke runs the chain. A panic in a link (an interceptor or router of the
// application's) fails the request, not the process.
func (d *downstream) invoke() (err error) {
	defer func() {
		if p := recover(); p != nil {
			d.log.Error("relay link panicked; the request is answered with an error", "code", remoting.RequestCodeName(d.req.Code), "panic", fmt.Sprint(p))
			err = fmt.Errorf("rmqmesh relay: %s: internal error: %v", remoting.RequestCodeName(d.req.Code), p)
		}
	}()
	return d.r.invoke(d.r.ctx, &d.req)
}

// reject answers the current request with an error response.
func (d *downstream) reject(err error) {
	v := &d.view
	code, remark := responseFor(err)
	d.log.Debug("request refused", "code", remoting.RequestCodeName(v.Code()), "opaque", v.Opaque(), "response", code, "remark", remark)
	if v.IsOneway() {
		return
	}
	d.writeNow(errorResponse(v.Opaque(), v.SerializeType(), code, remark))
}

// topicOf reads the request's topic, for the codes that carry one.
func (d *downstream) topicOf(v *remoting.FrameView) string {
	field := topicField(v.Code())
	if field == "" {
		return ""
	}
	var ok bool
	d.topicBuf, ok = v.AppendExt(d.topicBuf[:0], field)
	if !ok {
		return ""
	}
	if s, ok := d.topics[string(d.topicBuf)]; ok {
		return s
	}
	if len(d.topics) >= maxInternedTopics {
		clear(d.topics)
	}
	s := string(d.topicBuf)
	d.topics[s] = s
	return s
}

// forward writes the request, as the chain left it, to its target's upstream.
// From the moment the upstream holds a send under failover, the upstream owns
// it.
func (d *downstream) forward(c *Request) error {
	if c.Target.Addr == "" {
		return fmt.Errorf("rmqmesh relay: %s: no link of the chain chose a broker", remoting.RequestCodeName(c.Code))
	}
	cs := d.r.clusterFor(c.Target.Policy)
	if err := d.r.admitRequest(cs, c.Code); err != nil {
		return err
	}
	up, err := d.upstream(c.Target, cs, c)
	if err != nil {
		return err
	}
	sr := c.retry
	wire := c.view.Opaque()
	if sr != nil && sr.attempts > 1 {
		// A late answer to an earlier try must not be taken for this one's.
		wire = up.reserveOpaque()
	}
	frame := c.view.Frame()
	b := c.bufs
	switch {
	case c.replaced != nil && wire != c.view.Opaque():
		if b.scratch, err = withOpaque(b.scratch[:0], c.replaced, wire); err != nil {
			return fmt.Errorf("rmqmesh relay: %s: %w", remoting.RequestCodeName(c.Code), err)
		}
		frame = b.scratch
	case c.replaced != nil:
		frame = c.replaced
	case c.nedits > 0 || wire != c.view.Opaque():
		if b.scratch, err = c.view.AppendEdited(b.scratch[:0], wire, c.edits[:c.nedits]); err != nil {
			return fmt.Errorf("rmqmesh relay: %s: %w", remoting.RequestCodeName(c.Code), err)
		}
		frame = b.scratch
	}
	p := pendingRequest{code: c.Code, st: c.view.SerializeType(), txKey: c.txKey, onResponse: c.onResponse, cs: cs, retry: sr}
	if err := up.send(frame, wire, p, tracked(c)); err != nil {
		return &unreachableError{target: c.Target, err: err}
	}
	c.retryHeld = false
	if c.flushNow {
		up.flush()
	} else {
		d.markDirty(up)
	}
	switch c.Code {
	case remoting.CodeHeartBeat:
		d.fanOutHeartbeat(up, frame, b)
	case remoting.CodeUpdateConsumerOffset:
		d.r.trackCommit(c, frame)
	}
	return nil
}

// tracked reports whether the relay waits for the request's answer. The
// broker answers everything but oneway requests and END_TRANSACTION with the
// "unknown" state (and the official client never sets the oneway flag).
func tracked(c *Request) bool {
	if c.view.IsOneway() {
		return false
	}
	if c.Code == remoting.CodeEndTransaction {
		var buf [4]byte
		state, _ := c.view.AppendExt(buf[:0], "commitOrRollback")
		return string(state) != "0"
	}
	return true
}

// fanOutHeartbeat sends the heartbeat that went to primary to every other
// upstream of the connection, and keeps it for the ones opened later: a broker
// serves pulls to, and calls back, only clients whose heartbeat it holds on
// that connection.
func (d *downstream) fanOutHeartbeat(primary *upstream, frame []byte, b *frameBufs) {
	d.mu.Lock()
	d.heartbeat = append(d.heartbeat[:0], frame...)
	others := make([]*upstream, 0, len(d.ups))
	for _, up := range d.ups {
		if up != primary {
			others = append(others, up)
		}
	}
	d.mu.Unlock()
	for _, up := range others {
		if err := up.sendOwn(frame, b); err != nil {
			d.log.Debug("heartbeat copy not sent", "broker", up.target.Broker, "addr", up.target.Addr, "err", err)
			continue
		}
		d.markDirty(up)
	}
}

// upstream returns the connection to t.Addr, opening it (and replaying the
// client's heartbeat on it) when there is none. cs is t's cluster, whose
// connect timeout and limits apply; c the request that needs it.
func (d *downstream) upstream(t Target, cs *clusterState, c *Request) (*upstream, error) {
	d.mu.Lock()
	up := d.ups[t.Addr]
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil, net.ErrClosed
	}
	if up != nil {
		if up.target.TLS == t.TLS {
			return up, nil
		}
		// The cluster's TLS setting changed: requests in flight finish on
		// the old connection, new ones use a new one.
		d.log.Debug("upstream retired: its cluster's TLS setting changed", "target", t.Broker, "addr", t.Addr, "cluster", t.Cluster)
		d.retire(up)
	}
	if down, why := d.r.down.isDown(t.Addr); down {
		return nil, &unreachableError{target: t, err: fmt.Errorf("%w: %w", errRecentlyDown, why)}
	}
	timeout := d.r.o.dialTimeout
	if cs != nil {
		p := cs.policy.Load()
		if p.ConnectTimeout > 0 {
			timeout = p.ConnectTimeout
		}
		if max := p.Limits.MaxConnections; max > 0 && cs.connections.Load() >= int64(max) {
			return nil, d.r.limitError(cs, "max_connections", max, c.Code)
		}
		if max := p.Limits.MaxPendingRequests; max > 0 && cs.pending.Load() >= int64(max) {
			return nil, d.r.limitError(cs, "max_pending_requests", max, c.Code)
		}
		cs.pending.Add(1)
		defer cs.pending.Add(-1)
	}
	if sr := c.retry; sr != nil {
		timeout = max(min(timeout, time.Until(sr.deadline)), time.Millisecond)
	}
	// The connect timeout bounds the TLS handshake too: a broker that
	// accepts but never completes one is as unreachable as one that does
	// not accept.
	nc, err := d.r.dialUpstream(t, timeout)
	if err != nil {
		d.r.down.failed(t.Addr, err)
		d.r.report(cs, t.Addr, outcomeLocal)
		if tlsErr, ok := errors.AsType[*TLSError](err); ok {
			d.log.Warn("broker not used: TLS failed", "cluster", t.Cluster, "target", t.Broker, "addr", t.Addr, "err", tlsErr.Err)
		} else {
			d.log.Debug("broker unreachable", "target", t.Broker, "addr", t.Addr, "err", err)
		}
		return nil, &unreachableError{target: t, err: err}
	}
	d.r.down.succeeded(t.Addr)
	up = newUpstream(d, t, nc, cs)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		nc.Close()
		return nil, net.ErrClosed
	}
	if other := d.ups[t.Addr]; other != nil {
		// Another goroutine of this connection (a failover) opened one
		// meanwhile: use it.
		d.mu.Unlock()
		nc.Close()
		return other, nil
	}
	hb := d.heartbeat
	if len(hb) > 0 {
		// Replayed before any other request: the upstream is not shared yet.
		if err := up.sendOwn(hb, c.bufs); err != nil {
			d.mu.Unlock()
			nc.Close()
			return nil, &unreachableError{target: t, err: err}
		}
	}
	d.ups[t.Addr] = up
	d.wg.Add(1)
	d.mu.Unlock()
	if cs != nil {
		cs.connections.Add(1)
	}
	d.log.Debug("upstream connected", "target", t.Broker, "addr", t.Addr, "cluster", t.Cluster)
	go up.readLoop()
	return up, nil
}

// answerBroker relays the client's answer to a broker's request back to the
// broker that asked, with that broker's opaque.
func (d *downstream) answerBroker() {
	v := &d.view
	d.mu.Lock()
	br, ok := d.brokerReqs[v.Opaque()]
	if ok {
		delete(d.brokerReqs, v.Opaque())
	}
	d.mu.Unlock()
	if !ok {
		d.log.Debug("dropping an answer to no broker request", "opaque", v.Opaque(), "code", v.Code())
		return
	}
	d.inflight.Add(-1)
	frame := v.Frame()
	if !v.SetOpaqueInPlace(br.opaque) {
		var err error
		if d.bufs.scratch, err = v.AppendEdited(d.bufs.scratch[:0], br.opaque, nil); err != nil {
			d.log.Warn("dropping the client's answer to a broker request", "err", err)
			return
		}
		frame = d.bufs.scratch
	}
	if err := br.up.write(frame); err != nil {
		d.log.Debug("the broker that asked is gone; dropping the client's answer", "broker", br.up.target.Broker, "err", err)
		return
	}
	d.markDirty(br.up)
}

// trackBrokerRequest gives a request from up a fresh opaque on this connection
// and remembers whose it was. ok is false when too many are waiting.
func (d *downstream) trackBrokerRequest(up *upstream, opaque int32) (int32, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if limit := d.r.o.maxPending; limit > 0 && len(d.brokerReqs) >= limit {
		return 0, false
	}
	for {
		d.nextOpaque++
		if d.nextOpaque <= 0 {
			d.nextOpaque = 1
		}
		if _, busy := d.brokerReqs[d.nextOpaque]; !busy {
			break
		}
	}
	d.brokerReqs[d.nextOpaque] = brokerRequest{up: up, opaque: opaque}
	d.inflight.Add(1)
	return d.nextOpaque, true
}

// forgetBrokerRequests drops the broker requests of an upstream that closed;
// the client's late answers to them are dropped.
func (d *downstream) forgetBrokerRequests(up *upstream) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for o, br := range d.brokerReqs {
		if br.up == up {
			delete(d.brokerReqs, o)
			d.inflight.Add(-1)
		}
	}
}

// markDirty records that up has buffered requests to flush.
func (d *downstream) markDirty(up *upstream) {
	for _, u := range d.dirty {
		if u == up {
			return
		}
	}
	d.dirty = append(d.dirty, up)
}

// flushUpstreams flushes what the reading goroutine buffered for upstreams.
func (d *downstream) flushUpstreams() {
	for i, up := range d.dirty {
		up.flush()
		d.dirty[i] = nil
	}
	d.dirty = d.dirty[:0]
}

// write buffers a frame for the client.
func (d *downstream) write(frame []byte) {
	d.wmu.Lock()
	_, err := d.bw.Write(frame)
	d.wmu.Unlock()
	if err != nil {
		d.nc.Close()
	}
}

// flush sends what write buffered.
func (d *downstream) flush() {
	d.wmu.Lock()
	err := d.bw.Flush()
	d.wmu.Unlock()
	if err != nil {
		d.nc.Close()
	}
}

func (d *downstream) writeNow(frame []byte) {
	d.wmu.Lock()
	_, err := d.bw.Write(frame)
	if err == nil {
		err = d.bw.Flush()
	}
	d.wmu.Unlock()
	if err != nil {
		d.nc.Close()
	}
}

// drainStale moves upstreams whose address no longer serves their broker out
// of use: their requests in flight complete, then they close.
func (d *downstream) drainStale() {
	var stale []*upstream
	d.mu.Lock()
	for addr, up := range d.ups {
		if !d.r.router.Serves(up.target.Broker, addr) {
			delete(d.ups, addr)
			d.draining[up] = struct{}{}
			stale = append(stale, up)
		}
	}
	d.mu.Unlock()
	for _, up := range stale {
		d.log.Debug("draining upstream: its address left the configuration", "target", up.target.Broker, "addr", up.target.Addr)
		callHook(d.r, "OnDrain", d.r.o.hooks.OnDrain, DrainEvent{Target: up.target, InFlight: up.inFlight()})
		up.drain()
	}
}

// retire takes up out of use for new requests (a GO_AWAY from the broker): the
// next request to its address opens a new connection, its requests in flight
// complete, then it closes. It reports whether up was in use.
func (d *downstream) retire(up *upstream) bool {
	d.mu.Lock()
	inUse := d.ups[up.target.Addr] == up
	if inUse {
		delete(d.ups, up.target.Addr)
		d.draining[up] = struct{}{}
	}
	d.mu.Unlock()
	if inUse {
		callHook(d.r, "OnDrain", d.r.o.hooks.OnDrain, DrainEvent{Target: up.target, GoAway: true, InFlight: up.inFlight()})
	}
	up.drain()
	return inUse
}

// removeUpstream forgets an upstream whose reader ended.
func (d *downstream) removeUpstream(up *upstream) {
	d.mu.Lock()
	if d.ups[up.target.Addr] == up {
		delete(d.ups, up.target.Addr)
	}
	delete(d.draining, up)
	d.mu.Unlock()
}

func (d *downstream) shutdown() {
	d.mu.Lock()
	d.closed = true
	ups := make([]*upstream, 0, len(d.ups)+len(d.draining))
	for _, up := range d.ups {
		ups = append(ups, up)
	}
	for up := range d.draining {
		ups = append(ups, up)
	}
	d.mu.Unlock()
	// Closing the client first unblocks upstream readers writing to it.
	d.nc.Close()
	for _, up := range ups {
		up.close()
	}
	d.wg.Wait()
}

// errRecentlyDown is why a request was not tried on an address that just
// failed.
var errRecentlyDown = errors.New("connecting failed moments ago")

// unreachableError means the target's upstream could not be opened or written.
// The routing link re-decides requests that may go elsewhere; others are
// answered with SERVICE_NOT_AVAILABLE, which the client retries.
type unreachableError struct {
	target Target
	err    error
}

func (e *unreachableError) Error() string {
	if tlsErr, ok := errors.AsType[*TLSError](e.err); ok {
		return tlsErr.Error() // names the broker and its address already
	}
	return fmt.Sprintf("broker %q at %s%s is unreachable: %v", e.target.Broker, e.target.Addr, clusterNote(e.target.Cluster), e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }
