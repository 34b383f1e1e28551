package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// codeGoAway is RocketMQ 5's GO_AWAY response: the proxy or broker is shutting
// down and wants the client to use another connection.
const codeGoAway int32 = 1500

// upstream is one connection from the relay to a real broker endpoint, opened
// for one client connection. Requests are written by the client connection's
// reading goroutine; readLoop reads the broker's answers and requests and
// writes them to the client.
type upstream struct {
	// immutable after newUpstream
	d      *downstream
	target Target
	nc     net.Conn
	log    *slog.Logger

	wmu sync.Mutex // guards bw
	bw  *bufio.Writer

	mu         sync.Mutex // guards everything below
	pending    map[int32]pendingRequest
	ownOpaque  int32
	draining   bool
	closed     bool
	closedWhy  error // why the reader ended, once closed
	drainTimer *time.Timer

	// only touched by readLoop
	br        *bufio.Reader
	big       []byte
	view      remoting.FrameView
	scratch   []byte
	storeHost netip.AddrPort
}

// pendingRequest is a request awaiting its answer on an upstream.
type pendingRequest struct {
	code int32
	st   remoting.SerializeType
	// own marks the relay's own requests (heartbeat copies and replays),
	// whose answers the client never sees.
	own bool
	// txKey is a redirected transactional send's message key: its answer
	// tells the relay which broker holds the half message.
	txKey      string
	onResponse func(*remoting.FrameView)
}

func newUpstream(d *downstream, t Target, nc net.Conn) *upstream {
	return &upstream{
		d:       d,
		target:  t,
		nc:      nc,
		log:     d.log.With("target", t.Broker, "upstream", t.Addr),
		bw:      bufio.NewWriterSize(nc, bufferSize),
		br:      bufio.NewReaderSize(nc, bufferSize),
		pending: make(map[int32]pendingRequest),
	}
}

// send buffers a request frame, waiting for its answer when track is set.
func (u *upstream) send(frame []byte, opaque int32, p pendingRequest, track bool) error {
	if track {
		u.mu.Lock()
		if u.closed {
			err := u.closedErrorLocked()
			u.mu.Unlock()
			return err
		}
		u.pending[opaque] = p
		u.mu.Unlock()
		u.d.inflight.Add(1)
	}
	if err := u.write(frame); err != nil {
		if track {
			u.mu.Lock()
			_, ok := u.pending[opaque]
			if ok {
				delete(u.pending, opaque)
				u.d.inflight.Add(-1)
			}
			u.mu.Unlock()
			if !ok {
				// The connection's reader ended under the write and has
				// answered the request already (finish), hook included:
				// trying it elsewhere too would answer it twice.
				return nil
			}
		}
		return err
	}
	return nil
}

// sendOwn buffers a copy of frame under an opaque of the relay's own; its
// answer is dropped. The relay's opaques are negative, and the official
// clients count theirs up from zero.
func (u *upstream) sendOwn(frame []byte) error {
	u.mu.Lock()
	if u.closed {
		err := u.closedErrorLocked()
		u.mu.Unlock()
		return err
	}
	for {
		u.ownOpaque--
		if u.ownOpaque >= 0 {
			u.ownOpaque = -1
		}
		if _, busy := u.pending[u.ownOpaque]; !busy {
			break
		}
	}
	opaque := u.ownOpaque
	u.pending[opaque] = pendingRequest{own: true}
	u.mu.Unlock()
	var err error
	u.d.copyBuf, err = withOpaque(u.d.copyBuf[:0], frame, opaque)
	if err == nil {
		err = u.write(u.d.copyBuf)
	}
	if err != nil {
		u.mu.Lock()
		delete(u.pending, opaque)
		u.mu.Unlock()
	}
	return err
}

// closedErrorLocked says why a closed upstream takes no request: the error
// its reader ended with (a TLS alert from a broker that refused the relay's
// certificate, say), not only that it is closed.
func (u *upstream) closedErrorLocked() error {
	if u.closedWhy == nil || u.closedWhy == io.EOF || errors.Is(u.closedWhy, net.ErrClosed) {
		return net.ErrClosed
	}
	return fmt.Errorf("%w: %w", net.ErrClosed, u.closedWhy)
}

// write buffers frame; the client connection's reader flushes. A failed write
// closes the connection.
func (u *upstream) write(frame []byte) error {
	u.wmu.Lock()
	_, err := u.bw.Write(frame)
	u.wmu.Unlock()
	if err != nil {
		u.close()
		return err
	}
	u.d.markDirty(u)
	return nil
}

// writeNow writes and flushes frame from the upstream's reader, which must
// not touch the client connection's list of upstreams to flush (write's
// markDirty belongs to the client connection's reader).
func (u *upstream) writeNow(frame []byte) {
	u.wmu.Lock()
	_, err := u.bw.Write(frame)
	if err == nil {
		err = u.bw.Flush()
	}
	u.wmu.Unlock()
	if err != nil {
		u.log.Debug("upstream write failed", "err", err)
		u.close()
	}
}

func (u *upstream) flush() {
	u.wmu.Lock()
	err := u.bw.Flush()
	u.wmu.Unlock()
	if err != nil {
		u.log.Debug("upstream write failed", "err", err)
		u.close()
	}
}

// close closes the connection; readLoop then answers what is in flight.
func (u *upstream) close() { u.nc.Close() }

// drain stops new requests from reaching the connection (the caller took it out
// of use) and closes it once the requests in flight are answered, or when the
// drain timeout ends.
func (u *upstream) drain() {
	timeout := u.d.r.o.drainTimeout
	u.mu.Lock()
	u.draining = true
	idle := len(u.pending) == 0
	if !idle && timeout > 0 && u.drainTimer == nil && !u.closed {
		u.drainTimer = time.AfterFunc(timeout, u.close)
	}
	u.mu.Unlock()
	if idle || timeout < 0 {
		u.close()
	}
}

// readLoop relays the broker's frames to the client until the connection ends.
func (u *upstream) readLoop() {
	defer u.d.wg.Done()
	var err error
	defer func() { u.finish(err) }()
	for {
		var frame []byte
		var peeked bool
		frame, peeked, err = readFrame(u.br, &u.big)
		if err != nil {
			return
		}
		if err = u.view.Reset(frame); err != nil {
			// The connection pair cannot be trusted any more: answer what
			// is in flight (finish) and close the client connection too.
			u.log.Warn("closing the connection pair: malformed frame from the broker", "err", err)
			u.d.nc.Close()
			return
		}
		if u.view.IsResponse() {
			u.response()
		} else {
			u.brokerRequest()
		}
		if peeked {
			_, _ = u.br.Discard(len(frame))
		}
		if !frameBuffered(u.br) {
			u.d.flush()
		}
		if u.idleAfterDrain() {
			return
		}
	}
}

func (u *upstream) idleAfterDrain() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.draining && len(u.pending) == 0
}

// response relays one answer to the client, rewriting what names the real
// broker.
func (u *upstream) response() {
	v := &u.view
	u.mu.Lock()
	p, ok := u.pending[v.Opaque()]
	if ok {
		delete(u.pending, v.Opaque())
	}
	u.mu.Unlock()
	if !ok {
		if v.Code() == codeGoAway {
			u.log.Info("broker is going away; new requests use a new connection")
			u.d.retire(u)
		}
		// Not an answer to a request of this connection: a late answer
		// the relay already gave the client an error for, an answer to a
		// oneway request, or a broker answering requests it never got. It
		// is dropped, so that no broker can answer a request another
		// broker holds under the same client opaque.
		u.log.Debug("dropping an answer to no request of this connection", "opaque", v.Opaque(), "code", v.Code())
		return
	}
	if p.own {
		return
	}
	u.d.inflight.Add(-1)
	frame := v.Frame()
	if v.Code() == remoting.Success {
		frame = u.rewrite(p, frame)
	}
	if v.Code() == codeGoAway {
		u.log.Info("broker is going away; new requests use a new connection")
		u.d.retire(u)
		frame = errorResponse(v.Opaque(), v.SerializeType(), remoting.ServiceNotAvailable,
			fmt.Sprintf("rmqmesh relay: broker %q at %s is going away (GO_AWAY): retry", u.target.Broker, u.target.Addr))
	}
	if p.onResponse != nil {
		u.observe(p.onResponse, &u.view)
	}
	u.d.write(frame)
}

// rewrite makes a successful answer name the broker's virtual endpoint instead
// of its real address: the store host of pulled and viewed messages, and the
// offset message ids of sends. It records where a redirected transactional
// send's half message went.
func (u *upstream) rewrite(p pendingRequest, frame []byte) []byte {
	v := &u.view
	switch p.code {
	case remoting.CodeSendMessage, remoting.CodeSendMessageV2, remoting.CodeSendBatchMessage,
		remoting.CodeSendReplyMessage, remoting.CodeSendReplyMessageV2:
		if p.txKey != "" {
			u.d.r.affinity.put(p.txKey, u.target.Broker)
		}
		host, ok := u.virtualStoreHost()
		if !ok {
			return frame
		}
		start, end, ok := v.ExtRaw("msgId")
		if !ok {
			return frame
		}
		ids := frame[start:end]
		if out := remoting.RewriteOffsetMsgIDs(ids, host); len(out) != len(ids) || (len(out) > 0 && &out[0] != &ids[0]) {
			edited, err := v.AppendEdited(u.scratch[:0], v.Opaque(), []remoting.ExtEdit{{Key: "msgId", Value: string(out)}})
			if err != nil {
				u.log.Debug("offset message ids not rewritten", "err", err)
				return frame
			}
			u.scratch = edited
			u.resetView(edited)
			return edited
		}
	case remoting.CodePullMessage, remoting.CodeQueryMessage, remoting.CodeViewMessageByID:
		host, ok := u.virtualStoreHost()
		body := v.Body()
		if !ok || len(body) == 0 {
			return frame
		}
		out, err := remoting.RewriteStoreHosts(body, host)
		if err != nil {
			u.log.Debug("store hosts not rewritten", "err", err)
			return frame
		}
		if &out[0] != &body[0] {
			head := len(frame) - len(body)
			u.scratch = append(append(u.scratch[:0], frame[:head]...), out...)
			binary.BigEndian.PutUint32(u.scratch, uint32(len(u.scratch)-4))
			u.resetView(u.scratch)
			return u.scratch
		}
	}
	return frame
}

// observe calls an interceptor's response hook; a panic in it is logged and
// the response still goes to the client.
func (u *upstream) observe(fn func(*remoting.FrameView), v *remoting.FrameView) {
	defer func() {
		if p := recover(); p != nil {
			u.log.Error("response hook panicked", "panic", fmt.Sprint(p))
		}
	}()
	fn(v)
}

func (u *upstream) resetView(frame []byte) {
	if err := u.view.Reset(frame); err != nil {
		u.log.Error("the relay wrote a frame it cannot read", "err", err)
	}
}

// virtualStoreHost is the address the client reaches the broker's master at:
// its virtual endpoint.
func (u *upstream) virtualStoreHost() (netip.AddrPort, bool) {
	if u.storeHost.IsValid() {
		return u.storeHost, true
	}
	ap, err := u.d.r.endpointAddr(Endpoint{BrokerName: u.target.Broker})
	if err != nil {
		u.log.Debug("no virtual endpoint for the store host", "err", err)
		return netip.AddrPort{}, false
	}
	u.storeHost = ap
	return ap, true
}

// brokerRequest relays a request the broker sends the client (check
// transaction, consumer ids changed, reset offset, running info, consume
// directly, push reply, …), under an opaque of the client connection so that
// two brokers' requests cannot collide.
func (u *upstream) brokerRequest() {
	v := &u.view
	if v.Code() == remoting.CodeCheckTransactionState {
		// The client answers with END_TRANSACTION to the address the check
		// came from; it must reach this broker, which holds the half message.
		if key, ok := v.Ext("msgId"); ok && key != "" {
			u.d.r.affinity.put(key, u.target.Broker)
		}
	}
	frame := v.Frame()
	if v.IsOneway() {
		u.d.write(frame)
		return
	}
	opaque, ok := u.d.trackBrokerRequest(u, v.Opaque())
	if !ok {
		u.log.Warn("refusing a broker request: too many broker requests await the client", "code", remoting.RequestCodeName(v.Code()))
		u.writeNow(errorResponse(v.Opaque(), v.SerializeType(), remoting.SystemBusy, "rmqmesh relay: too many requests await this client"))
		return
	}
	if !v.SetOpaqueInPlace(opaque) {
		var err error
		if u.scratch, err = v.AppendEdited(u.scratch[:0], opaque, nil); err != nil {
			u.log.Warn("dropping a broker request", "err", err)
			return
		}
		frame = u.scratch
	}
	u.d.write(frame)
}

// finish runs when readLoop ends: every request still in flight gets an error
// answer the client retries, and the connection is forgotten.
func (u *upstream) finish(err error) {
	u.d.removeUpstream(u)
	u.mu.Lock()
	u.closed, u.closedWhy = true, err
	pend := u.pending
	u.pending = nil
	if u.drainTimer != nil {
		u.drainTimer.Stop()
	}
	draining := u.draining
	u.mu.Unlock()
	u.nc.Close()
	u.d.forgetBrokerRequests(u)
	why := "the connection closed"
	if err != nil && err != io.EOF && !errors.Is(err, net.ErrClosed) { // a frame cut short says so
		why = err.Error()
	}
	if opErr, ok := errors.AsType[*net.OpError](err); ok && opErr.Op == "remote error" {
		// A TLS alert: the broker refused the session (our certificate,
		// most often), which the handshake alone does not tell in TLS 1.3.
		u.log.Warn("broker ended the TLS session", "cluster", u.target.Cluster, "err", err)
	}
	if len(pend) > 0 {
		u.log.Debug("upstream closed with requests in flight", "requests", len(pend), "draining", draining, "why", why)
	}
	for opaque, p := range pend {
		if p.own {
			continue
		}
		u.d.inflight.Add(-1)
		frame := errorResponse(opaque, p.st, remoting.ServiceNotAvailable, fmt.Sprintf(
			"rmqmesh relay: broker %q at %s%s did not answer %s: %s; retry", u.target.Broker, u.target.Addr, clusterNote(u.target.Cluster), remoting.RequestCodeName(p.code), why))
		if p.onResponse != nil {
			// The hook's request ends here, with the answer the client gets.
			var v remoting.FrameView
			if v.Reset(frame) == nil {
				u.observe(p.onResponse, &v)
			}
		}
		u.d.write(frame)
	}
	u.d.flush()
}

// clusterNote names a target's cluster in a remark, when it has one.
func clusterNote(cluster string) string {
	if cluster == "" {
		return ""
	}
	return fmt.Sprintf(" (cluster %q)", cluster)
}
