package meshtest

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// PullSysFlag bits (PullSysFlag).
const (
	pullFlagCommitOffset = 1 << 0
	pullFlagSuspend      = 1 << 1
	pullFlagSubscription = 1 << 2
)

// Store transfer limits (maxTransferCountOnMessageInMemory,
// maxTransferBytesOnMessageInMemory).
const (
	maxTransferCount = 32
	maxTransferBytes = 256 << 10
)

// parkedPull is a suspended PULL_MESSAGE waiting for messages or its timeout.
type parkedPull struct {
	cn       *conn
	req      *remoting.Command
	offset   int64
	deadline time.Time
}

type pullHeader struct {
	group, topic, subscription, expressionType string
	queueID                                    int32
	queueOffset, commitOffset, subVersion      int64
	maxMsgNums                                 int32
	sysFlag                                    int32
	suspend                                    time.Duration
}

func parsePullHeader(req *remoting.Command) pullHeader {
	i64 := func(k string) int64 { v, _ := strconv.ParseInt(req.Ext(k), 10, 64); return v }
	return pullHeader{
		group:          req.Ext("consumerGroup"),
		topic:          req.Ext("topic"),
		subscription:   req.Ext("subscription"),
		expressionType: req.Ext("expressionType"),
		queueID:        int32(i64("queueId")),
		queueOffset:    i64("queueOffset"),
		commitOffset:   i64("commitOffset"),
		subVersion:     i64("subVersion"),
		maxMsgNums:     int32(i64("maxMsgNums")),
		sysFlag:        int32(i64("sysFlag")),
		suspend:        time.Duration(i64("suspendTimeoutMillis")) * time.Millisecond,
	}
}

// handlePull answers PULL_MESSAGE (11), suspending it when nothing is there yet.
func (b *Broker) handlePull(cn *conn, req *remoting.Command) *remoting.Command {
	return b.pull(cn, req, true)
}

// pull is PullMessageProcessor.processRequest; allowSuspend is false when a
// suspended pull is re-run after a wake-up or its timeout.
func (b *Broker) pull(cn *conn, req *remoting.Command, allowSuspend bool) *remoting.Command {
	h := parsePullHeader(req)
	errResp := func(code int32, remark string) *remoting.Command {
		return withExt(remoting.NewResponse(req, code, remark))
	}
	st := b.set.store
	tc := st.topic(h.topic)
	if tc == nil {
		return errResp(remoting.TopicNotExist, fmt.Sprintf(remarkPullTopicNotExist, h.topic))
	}
	if tc.perm&remoting.PermRead == 0 {
		return errResp(remoting.NoPermission, "the topic["+h.topic+"] pulling message is forbidden")
	}
	if h.queueID < 0 || h.queueID >= tc.read {
		return errResp(remoting.SystemError, fmt.Sprintf(remarkPullQueueIllegal, h.queueID, h.topic, tc.read, cn.remote))
	}
	var tags []string
	if h.sysFlag&pullFlagSubscription != 0 {
		tags = parseTags(h.subscription)
	} else {
		sub, found, groupFound := b.subscription(h.group, h.topic)
		if !groupFound {
			return errResp(remoting.SubscriptionNotExist, remarkPullNoGroupInfo)
		}
		if !found {
			return errResp(remoting.SubscriptionNotExist, remarkPullNoSubscription)
		}
		if sub.SubVersion < h.subVersion {
			return errResp(remoting.SubscriptionNotLatest, remarkPullNotLatest)
		}
		tags = parseTags(sub.SubString)
	}

	minOff, maxOff := st.queueRange(h.topic, h.queueID)
	var (
		status string
		next   int64
		found  []*storedMsg
	)
	switch {
	case maxOff == 0:
		status, next = statusNoMessageInQueue, 0
	case h.queueOffset < minOff:
		status, next = statusOffsetTooSmall, minOff
	case h.queueOffset == maxOff:
		status, next = statusOffsetOverflowOne, h.queueOffset
	case h.queueOffset > maxOff:
		// The max offset, whatever the min offset, as a 4.9.8 broker answered
		// on the wire (DefaultMessageStore.getMessage); a slave without
		// offsetCheckInSlave keeps the requested offset (nextOffsetCorrection).
		status, next = statusOffsetOverflowBadly, maxOff
		if !b.isMaster() {
			next = h.queueOffset
		}
	default:
		n := int(min(max(h.maxMsgNums, 1), maxTransferCount))
		msgs := st.read(h.topic, h.queueID, h.queueOffset, n)
		size := 0
		next = h.queueOffset
		for _, sm := range msgs {
			if len(found) > 0 && size+len(sm.raw) > maxTransferBytes {
				break
			}
			next++
			if !tagsMatch(tags, sm.props[remoting.PropertyTags]) {
				continue
			}
			found = append(found, sm)
			size += len(sm.raw)
		}
		status = statusNoMatchedMessage
		if len(found) > 0 {
			status = statusFound
		}
	}

	suggest := b.suggested()
	code := remoting.Success
	switch status {
	case statusNoMessageInQueue:
		code = remoting.PullNotFound
		if h.queueOffset != 0 {
			code = remoting.PullOffsetMoved
		}
	case statusNoMatchedMessage:
		code = remoting.PullRetryImmediately
	case statusOffsetOverflowOne:
		code = remoting.PullNotFound
	case statusOffsetOverflowBadly, statusOffsetTooSmall:
		code = remoting.PullOffsetMoved
	}
	// A replica without slaveReadEnable serves the pull all the same and only
	// suggests the master (suggest 0): 4.9.8's PullMessageProcessor sets
	// PULL_RETRY_IMMEDIATELY for a slave and then overwrites it with the
	// result's code (replica.go).
	if allowSuspend && h.sysFlag&pullFlagCommitOffset != 0 && b.isMaster() {
		st.setOffset(h.group, h.topic, h.queueID, h.commitOffset)
	}
	if code == remoting.PullNotFound && allowSuspend && h.sysFlag&pullFlagSuspend != 0 {
		b.park(&parkedPull{cn: cn, req: req, offset: h.queueOffset, deadline: b.c.clock.now().Add(b.c.scaled(h.suspend))})
		return nil
	}
	resp := withExt(remoting.NewResponse(req, code, status),
		"suggestWhichBrokerId", strconv.FormatInt(suggest, 10),
		"nextBeginOffset", strconv.FormatInt(next, 10),
		"minOffset", strconv.FormatInt(minOff, 10),
		"maxOffset", strconv.FormatInt(maxOff, 10),
	)
	if code == remoting.Success {
		body := make([]byte, 0, size(found))
		for _, sm := range found {
			body = append(body, sm.raw...)
		}
		resp.Body = body
	}
	return resp
}

func size(msgs []*storedMsg) int {
	n := 0
	for _, m := range msgs {
		n += len(m.raw)
	}
	return n
}

// parseTags splits a TAG expression ("*", "", "a || b") into tags; nil means all.
func parseTags(expr string) []string {
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == "*" {
		return nil
	}
	var out []string
	for _, t := range strings.Split(expr, "||") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func tagsMatch(tags []string, tag string) bool {
	if tags == nil {
		return true
	}
	for _, t := range tags {
		if t == tag {
			return true
		}
	}
	return false
}

// park suspends a pull until messages arrive or its deadline passes.
func (b *Broker) park(p *parkedPull) {
	h := parsePullHeader(p.req)
	k := queueKey{h.topic, h.queueID}
	b.mu.Lock()
	b.pulls[k] = append(b.pulls[k], p)
	b.mu.Unlock()
	b.c.kick()
}

// wakePulls answers suspended pulls on a queue that now has messages past their
// offset.
func (b *Broker) wakePulls(k queueKey) {
	_, maxOff := b.set.store.queueRange(k.topic, k.qid)
	b.mu.Lock()
	ps := b.pulls[k]
	var ready, keep []*parkedPull
	for _, p := range ps {
		if maxOff > p.offset {
			ready = append(ready, p)
		} else {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		delete(b.pulls, k)
	} else {
		b.pulls[k] = keep
	}
	b.mu.Unlock()
	b.answerParked(ready)
}

// expirePulls answers suspended pulls whose deadline passed.
func (b *Broker) expirePulls(now time.Time) {
	b.mu.Lock()
	var due []*parkedPull
	for k, ps := range b.pulls {
		keep := ps[:0]
		for _, p := range ps {
			if !now.Before(p.deadline) || p.cn.isClosed() {
				due = append(due, p)
			} else {
				keep = append(keep, p)
			}
		}
		if len(keep) == 0 {
			delete(b.pulls, k)
		} else {
			b.pulls[k] = keep
		}
	}
	b.mu.Unlock()
	b.answerParked(due)
}

func (b *Broker) answerParked(ps []*parkedPull) {
	for _, p := range ps {
		if p.cn.isClosed() {
			continue
		}
		if resp := b.pull(p.cn, p.req, false); resp != nil {
			p.cn.write(resp)
		}
	}
}

// dropPulls forgets every suspended pull (the broker stopped).
func (b *Broker) dropPulls() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.pulls)
}

// SuspendedPulls returns how many pulls the broker holds suspended.
func (b *Broker) SuspendedPulls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, ps := range b.pulls {
		n += len(ps)
	}
	return n
}
