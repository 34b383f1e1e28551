package transport

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Send failover: a send the relay may try again keeps a copy of the client's
// frame (a sendRetry) until it is answered. Each try is a pending request on
// some upstream; whoever takes that pending entry out of the upstream's table
// — the broker's answer, the connection's end, or the upstream's sweep of
// tries past their per-try timeout — owns the try's outcome, so exactly one
// of them acts on it: relays the answer, or starts the next try on a
// goroutine of its own (d.failover), or answers the client with an error once
// no try is left. One sweep timer per upstream, armed for the earliest
// deadline, keeps a try's cost to a deadline stored with it.
//
// Which answers are "not stored", so that a try on another broker cannot store
// the message twice (Apache RocketMQ 4.9.8's broker):
//
//   - SYSTEM_BUSY (2): the remoting layer refused the request before any
//     processor ran it: NettyRemotingAbstract.processRequestCommand answers
//     "[REJECTREQUEST]system busy" when SendMessageProcessor.rejectRequest says
//     the page cache or the transient store pool is busy, and "[OVERLOAD]system
//     busy" when the send thread pool rejects the task; BrokerFastFailure
//     .cleanExpiredRequest answers "[PCBUSY_CLEAN_QUEUE]" and
//     "[TIMEOUT_CLEAN_QUEUE]broker busy" for requests dropped from the send
//     queue unprocessed.
//   - SERVICE_NOT_AVAILABLE (14): SendMessageProcessor.handlePutMessageResult
//     for PutMessageStatus.SERVICE_NOT_AVAILABLE, which
//     DefaultMessageStore.checkStoreStatus returns before anything is appended:
//     the store is shut down, is a slave, or is not writable (disk full).
//   - NO_PERMISSION (16) and TOPIC_NOT_EXIST (17):
//     AbstractSendMessageProcessor.msgCheck refuses the send before the store
//     sees it: the broker's or the topic's permission forbids writes, or the
//     broker does not hold the topic. Another broker may take it.
//   - SYSTEM_ERROR (1) with the remarks "[PC_SYNCHRONIZED]broker busy"
//     (PutMessageStatus.OS_PAGECACHE_BUSY, from checkStoreStatus), "create
//     mapped file failed" (CREATE_MAPEDFILE_FAILED: CommitLog.asyncPutMessage
//     found no file to append to) and "broker unable to service, until"
//     (SendMessageProcessor before startAcceptSendRequestTimeStamp). Other
//     SYSTEM_ERROR answers (UNKNOWN_ERROR, an illegal queue id) are not retried:
//     the outcome is unknown, or the request is wrong everywhere.
//   - GO_AWAY (1500): a RocketMQ 5 proxy or broker shutting down did not take
//     the request.
//
// Answers that are final: SUCCESS and FLUSH_DISK_TIMEOUT (10),
// SLAVE_NOT_AVAILABLE (11), FLUSH_SLAVE_TIMEOUT (12) — the message is stored,
// only not yet flushed or replicated — and MESSAGE_ILLEGAL (13), which every
// broker would answer. A try that is not answered in time, or whose connection
// breaks after the request was written, may have been stored: retrying it is
// what makes a duplicate possible (RocketMQ is at-least-once).

// notStored reports whether a broker's answer to a send means the message was
// not stored, so that it may be sent again elsewhere. remark is called only
// for the codes whose meaning depends on it.
func notStored(code int32, remark func() string) bool {
	switch code {
	case remoting.SystemBusy, remoting.ServiceNotAvailable, remoting.NoPermission, remoting.TopicNotExist, codeGoAway:
		return true
	case remoting.SystemError:
		r := remark()
		for _, p := range notStoredRemarks {
			if strings.HasPrefix(r, p) {
				return true
			}
		}
	}
	return false
}

var notStoredRemarks = []string{
	"[PC_SYNCHRONIZED]",
	"create mapped file failed",
	"broker unable to service, until",
}

// remarkOf returns the remark of an answer, decoding it whole: only for the
// rare answers that need it.
func remarkOf(frame []byte) string {
	cmd, err := remoting.DecodeFrame(frame)
	if err != nil {
		return ""
	}
	return cmd.Remark
}

// shardingKeyProperty is the message property of a send's sharding key
// (primitive.PropertyShardingKey in rocketmq-client-go).
const shardingKeyProperty = "__SHARDINGKEY"

// sendRetry is one send the relay may try again: the client's frame as it
// arrived and the state of its tries. It belongs to whoever holds it: the
// chain while a try is being routed and written, the upstream while the try
// is in flight (its pending entry points here), then whoever took that entry.
// Each hand-over goes through the upstream's lock, so no field needs a lock
// of its own.
type sendRetry struct {
	// set when the send starts, then immutable until release
	d        *downstream
	frame    []byte // the client's request, unedited
	view     remoting.FrameView
	opaque   int32 // the client's
	st       remoting.SerializeType
	code     int32
	topic    string
	endpoint Endpoint
	policy   Failover
	deadline time.Time
	home     string // the broker of the first try
	onResp   func(*remoting.FrameView)
	// onAttempt is the interceptor's attempt hook: each try is an attempt.
	onAttempt func(attempt int, t Target, prev error)
	// stayHome: the send has a sharding key and the policy does not let it
	// move, so every try goes to home.
	stayHome bool

	attempts    int
	tryDeadline time.Time // when the try in flight counts as unanswered
	avoid       []Target  // the targets the next try must avoid
	tried       []Target  // every try's target, for the remark
	lastCode    int32
	lastReason  string
	retrying    *clusterState // the cluster whose max_retries this send holds
}

func newSendRetryValue() any { return &sendRetry{} }

// maxPooledFrame bounds the frame buffer a pooled sendRetry keeps.
const maxPooledFrame = 256 << 10

// newSendRetry starts the failover state of send c, whose first try goes to t.
func (d *downstream) newSendRetry(c *Request, t Target) *sendRetry {
	sr := d.r.retryPool.Get().(*sendRetry)
	sr.d = d
	sr.frame = append(sr.frame[:0], c.view.Frame()...)
	if err := sr.view.Reset(sr.frame); err != nil {
		// The frame was read from this view; it cannot fail.
		sr.release()
		return nil
	}
	sr.opaque, sr.st, sr.code = c.view.Opaque(), c.view.SerializeType(), c.Code
	sr.topic, sr.endpoint, sr.home = c.topic, c.Endpoint, t.Broker
	var f Failover
	if t.Policy != nil {
		f = t.Policy.Failover
	}
	sr.policy = f.resolved()
	sr.deadline = time.Now().Add(sr.policy.Timeout)
	sr.onResp, sr.onAttempt = c.onResponse, c.onAttempt
	sr.stayHome = !sr.policy.MoveKeyedSends && hasShardingKey(&sr.view, sr.code)
	return sr
}

// eligibleForFailover reports whether the relay may try send c again after its
// first try, which goes to t.
func eligibleForFailover(c *Request, t Target) bool {
	if c.view.IsOneway() || kindOf(c.Code) != KindWrite {
		return false
	}
	if t.Policy != nil && (t.Policy.Failover.Disabled || t.Policy.Failover.MaxAttempts == 1) {
		return false
	}
	return true
}

// canRetry reports whether another try may start now.
func (sr *sendRetry) canRetry() bool {
	return sr.attempts < sr.policy.MaxAttempts && time.Now().Before(sr.deadline)
}

// startTry counts a try that starts now and sets when it counts as
// unanswered: the per-try timeout, cut at the send's deadline.
func (sr *sendRetry) startTry() {
	sr.attempts++
	now := time.Now()
	sr.tryDeadline = now.Add(max(min(sr.policy.PerTryTimeout, sr.deadline.Sub(now)), time.Millisecond))
}

// nextTryQuery is the routing question of a try after the one in flight on
// up, or false when none may start (no attempt or time left, or a send that
// stays on its broker). The upstream's sweep calls it under the upstream's
// lock, while it still holds the try, and asks the router after letting go:
// the question carries no header (sr may be answered and reused by then), so
// it tells whether some other broker is writable, not which one the next try
// will take.
func (sr *sendRetry) nextTryQuery(up *upstream) (Query, bool) {
	if sr.stayHome || !sr.canRetry() {
		return Query{}, false
	}
	q := Query{Code: sr.code, Kind: KindWrite, Topic: sr.topic, Broker: sr.endpoint.BrokerName, BrokerID: sr.endpoint.BrokerID}
	for _, t := range sr.avoid {
		q.avoid(t.Broker, t.Addr)
	}
	q.avoid(up.target.Broker, up.target.Addr)
	return q, true
}

// release returns sr to the pool.
func (sr *sendRetry) release() {
	if cs := sr.retrying; cs != nil {
		cs.retries.Add(-1)
	}
	pool, frame := &sr.d.r.retryPool, sr.frame
	if cap(frame) > maxPooledFrame {
		frame = nil
	}
	*sr = sendRetry{frame: frame[:0]}
	pool.Put(sr)
}

// noteFailure records why the try to t failed. A GO_AWAY does not make the
// next try avoid t: the relay avoids an address going away while another can
// take the send (goAwayTable), and otherwise tries a new connection to it.
func (sr *sendRetry) noteFailure(t Target, code int32, reason string) {
	sr.tried = append(sr.tried, t)
	if code != codeGoAway {
		sr.avoid = append(sr.avoid, t)
	}
	sr.lastCode, sr.lastReason = code, reason
}

// startFailover takes over a send whose try to from failed, on a goroutine of
// the client connection: the next try, or the client's error answer. code is
// the broker's answer, 0 when there was none.
func (d *downstream) startFailover(sr *sendRetry, from Target, code int32, reason string) {
	sr.noteFailure(from, code, reason)
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		sr.release()
		return
	}
	d.wg.Add(1)
	d.mu.Unlock()
	go d.failover(sr)
}

// failover runs the next try of sr, or answers the client when none is left.
func (d *downstream) failover(sr *sendRetry) {
	defer d.wg.Done()
	from := sr.tried[len(sr.tried)-1]
	if !sr.canRetry() {
		d.giveUp(sr, nil)
		return
	}
	if sr.retrying == nil {
		if cs := d.r.clusterFor(from.Policy); cs != nil {
			if max := cs.policy.Load().Limits.MaxRetries; max > 0 && cs.retries.Load() >= int64(max) {
				d.giveUp(sr, d.r.limitError(cs, "max_retries", max, sr.code))
				return
			}
			cs.retries.Add(1)
			sr.retrying = cs
		}
	}
	d.retryMu.Lock()
	defer d.retryMu.Unlock()
	c := &d.retryReq
	c.reset(&sr.view, sr.endpoint)
	c.topic, c.retry, c.onResponse, c.onAttempt, c.flushNow = sr.topic, sr, sr.onResp, sr.onAttempt, true
	if err := d.r.retryInvoke(d.r.ctx, c); err != nil {
		d.giveUp(sr, err)
	}
}

// giveUp answers the client for sr with an error and releases it: a limit's
// answer, else the last broker's error answer, else SERVICE_NOT_AVAILABLE,
// which the official client retries; the remark names every try and why the
// last failed, and err, when not nil, why no further try was made.
func (d *downstream) giveUp(sr *sendRetry, err error) {
	code := remoting.ServiceNotAvailable
	if sr.lastCode != 0 && sr.lastCode != codeGoAway {
		code = sr.lastCode
	}
	var tries strings.Builder
	for i, t := range sr.tried {
		if i > 0 {
			tries.WriteString(", ")
		}
		fmt.Fprintf(&tries, "%s at %s", t.Broker, t.Addr)
	}
	remark := fmt.Sprintf("rmqmesh relay: %s%s: not stored after %d tries (%s): %s", remoting.RequestCodeName(sr.code), topicText(sr.topic), sr.attempts, tries.String(), sr.lastReason)
	var re *ResponseError
	switch {
	case errors.As(err, &re):
		code, remark = re.Code, re.Remark+"; "+remark
	case err != nil:
		remark += "; no further try: " + err.Error()
	}
	d.log.Debug("send failover gave up", "code", remoting.RequestCodeName(sr.code), "topic", sr.topic, "tries", sr.attempts, "response", code, "remark", remark)
	if len(sr.tried) > 0 {
		callHook(d.r, "OnFailover", d.r.o.hooks.OnFailover, FailoverEvent{Code: sr.code, Topic: sr.topic, From: sr.tried[len(sr.tried)-1], Attempt: sr.attempts, Reason: remark})
	}
	frame := errorResponse(sr.opaque, sr.st, code, remark)
	if sr.onResp != nil {
		// The hook's request ends here, with the answer the client gets.
		var v remoting.FrameView
		if v.Reset(frame) == nil {
			observe(d.log, sr.onResp, &v)
		}
	}
	d.writeNow(frame)
	sr.release()
}

func topicText(topic string) string {
	if topic == "" {
		return ""
	}
	return fmt.Sprintf(" (topic %q)", topic)
}

// prepareRetryQuery sets up the routing question of sr's next try: another
// writable broker than those tried, or, for a send that stays with its broker,
// that broker's master again.
func (sr *sendRetry) prepareRetryQuery(q *Query) {
	if sr.stayHome {
		q.Kind, q.Broker, q.BrokerID = KindMaster, sr.home, 0
		return
	}
	for i := range sr.avoid {
		q.avoid(sr.avoid[i].Broker, sr.avoid[i].Addr)
	}
}

// retryInvoker is the chain of a retried try: the relay's own links from
// routing on. The application's interceptors saw the request once, when the
// client sent it.
func (r *Relay) retryInvoker() Invoker {
	return chain([]Interceptor{r.routeLink, r.brokerNameLink, r.aclLink}, r.forward)
}
