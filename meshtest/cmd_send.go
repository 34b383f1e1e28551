package meshtest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// sendHeader is SendMessageRequestHeader, read from long (10, 324) or one-letter
// (310, 320, 325) extFields.
type sendHeader struct {
	producerGroup, topic, defaultTopic string
	defaultTopicQueueNums              int32
	queueID                            int32
	sysFlag                            int32
	bornTimestamp                      int64
	flag                               int32
	properties                         string
	reconsumeTimes                     int32
	unitMode                           bool
	maxReconsumeTimes                  int32
	maxReconsumeSet                    bool
	batch                              bool
}

func parseSendHeader(req *remoting.Command) sendHeader {
	short := req.Code == remoting.CodeSendMessageV2 || req.Code == remoting.CodeSendBatchMessage || req.Code == remoting.CodeSendReplyMessageV2
	get := func(long, s string) string {
		if short {
			return req.Ext(s)
		}
		return req.Ext(long)
	}
	i32 := func(long, s string) int32 { v, _ := strconv.ParseInt(get(long, s), 10, 32); return int32(v) }
	h := sendHeader{
		producerGroup:         get("producerGroup", "a"),
		topic:                 get("topic", "b"),
		defaultTopic:          get("defaultTopic", "c"),
		defaultTopicQueueNums: i32("defaultTopicQueueNums", "d"),
		queueID:               i32("queueId", "e"),
		sysFlag:               i32("sysFlag", "f"),
		flag:                  i32("flag", "h"),
		properties:            get("properties", "i"),
		reconsumeTimes:        i32("reconsumeTimes", "j"),
		unitMode:              get("unitMode", "k") == "true",
		batch:                 get("batch", "m") == "true",
	}
	h.bornTimestamp, _ = strconv.ParseInt(get("bornTimestamp", "g"), 10, 64)
	if v := get("maxReconsumeTimes", "l"); v != "" {
		n, _ := strconv.ParseInt(v, 10, 32)
		h.maxReconsumeTimes, h.maxReconsumeSet = int32(n), true
	}
	return h
}

// validTopic is TopicValidator.validateTopic; it returns the error remark or "".
func validTopic(topic string) string {
	if strings.TrimSpace(topic) == "" {
		return remarkTopicBlank
	}
	if len(topic) > 127 {
		return remarkTopicTooLong
	}
	for _, r := range topic {
		if !(r == '%' || r == '|' || r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return remarkTopicIllegal
		}
	}
	return ""
}

// topicForSend finds the topic, creating it from the default topic or as a retry
// topic as msgCheck does. It returns nil when the topic cannot be created.
func (b *Broker) topicForSend(h *sendHeader) *topicConfig {
	st := b.set.store
	if tc := st.topic(h.topic); tc != nil {
		return tc
	}
	if def := st.topic(h.defaultTopic); def != nil && h.defaultTopic != "" && def.perm&remoting.PermInherit != 0 {
		n := min(h.defaultTopicQueueNums, def.write)
		if n <= 0 {
			n = def.write
		}
		return st.createTopicIfAbsent(&topicConfig{name: h.topic, read: n, write: n, perm: def.perm &^ remoting.PermInherit})
	}
	if strings.HasPrefix(h.topic, RetryTopicPrefix) {
		return st.createTopicIfAbsent(&topicConfig{name: h.topic, read: 1, write: 1, perm: permReadWrite})
	}
	return nil
}

// handleSend answers SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE
// (320) and the reply variants (324, 325, see cmd_reply.go).
func (b *Broker) handleSend(cn *conn, req *remoting.Command) *remoting.Command {
	h := parseSendHeader(req)
	if resp := b.checkSend(cn, req, &h); resp != nil {
		// SendMessageProcessor (and ReplyMessageProcessor) add the region and
		// trace switch to the response before msgCheck fills it in.
		return withExt(resp, remoting.PropertyMsgRegion, defaultRegion, remoting.PropertyTraceSwitch, "true")
	}
	if req.Code == remoting.CodeSendReplyMessage || req.Code == remoting.CodeSendReplyMessageV2 {
		return b.handleReply(cn, req, h)
	}
	return b.storeSend(cn, req, h)
}

// checkSend is AbstractSendMessageProcessor.msgCheck plus the broker's role and
// permission checks: nil when the send may be stored, the error answer
// otherwise. It resolves a queueId of -1 to a random queue.
func (b *Broker) checkSend(cn *conn, req *remoting.Command, h *sendHeader) *remoting.Command {
	if r := validTopic(h.topic); r != "" {
		return remoting.NewResponse(req, remoting.SystemError, r)
	}
	if notAllowedSendTopics[h.topic] {
		return remoting.NewResponse(req, remoting.NoPermission, fmt.Sprintf(remarkSendTopicNotAllow, h.topic))
	}
	tc := b.topicForSend(h)
	if tc == nil {
		return remoting.NewResponse(req, remoting.TopicNotExist, fmt.Sprintf(remarkSendTopicNotExist, h.topic))
	}
	if h.queueID >= max(tc.write, tc.read) {
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf(remarkSendQueueIllegal, h.queueID, tc, cn.remote))
	}
	if !b.isMaster() {
		return remoting.NewResponse(req, remoting.ServiceNotAvailable, fmt.Sprintf(remarkSlaveNotWritable, "CL:  0.01 CQ:  0.01 INDEX:  0.01"))
	}
	if tc.perm&remoting.PermWrite == 0 {
		return remoting.NewResponse(req, remoting.NoPermission, "the topic["+h.topic+"] sending message is forbidden")
	}
	if h.queueID < 0 {
		h.queueID = rand.Int32N(max(tc.write, 1))
	}
	return nil
}

// storeSend stores a checked send and answers it.
func (b *Broker) storeSend(cn *conn, req *remoting.Command, h sendHeader) *remoting.Command {
	bornHost, _ := netip.ParseAddrPort(cn.remote)
	st := b.set.store
	var ids []string
	var first *storedMsg
	if req.Code == remoting.CodeSendBatchMessage || h.batch {
		members, err := remoting.DecodeBatch(req.Body)
		if err != nil {
			return remoting.NewResponse(req, remoting.MessageIllegal, err.Error())
		}
		st.mu.Lock()
		var stored []*storedMsg
		for _, bm := range members {
			props := remoting.ParseProperties(bm.Properties)
			props[remoting.PropertyCluster] = b.c.opts.clusterName
			m := &remoting.Message{
				Topic: h.topic, QueueID: h.queueID, Flag: bm.Flag, Body: append([]byte(nil), bm.Body...),
				SysFlag: h.sysFlag, BornTimestamp: h.bornTimestamp, BornHost: bornHost,
			}
			stored = append(stored, st.appendLocked(m, props))
		}
		st.mu.Unlock()
		for _, sm := range stored {
			ids = append(ids, remoting.OffsetMsgID(sm.m.StoreHost, sm.m.CommitLogOffset))
		}
		if len(stored) > 0 {
			first = stored[0]
			st.wake(first)
		}
	} else {
		props := remoting.ParseProperties(h.properties)
		props[remoting.PropertyCluster] = b.c.opts.clusterName
		m := &remoting.Message{
			Topic: h.topic, QueueID: h.queueID, Flag: h.flag, Body: append([]byte(nil), req.Body...),
			SysFlag: h.sysFlag, BornTimestamp: h.bornTimestamp, BornHost: bornHost, ReconsumeTimes: h.reconsumeTimes,
		}
		if strings.HasPrefix(h.topic, RetryTopicPrefix) {
			maxTimes := int32(defaultMaxReconsume)
			if h.maxReconsumeSet {
				maxTimes = h.maxReconsumeTimes
			}
			if h.reconsumeTimes >= maxTimes {
				group := strings.TrimPrefix(h.topic, RetryTopicPrefix)
				st.createTopicIfAbsent(&topicConfig{name: DLQTopicPrefix + group, read: 1, write: 1, perm: permReadWrite})
				m.Topic, m.QueueID = DLQTopicPrefix+group, 0
				delete(props, remoting.PropertyDelayLevel)
			}
		}
		if remoting.TransactionType(h.sysFlag) == remoting.SysFlagTransactionPrepared {
			first = st.putHalf(m, props)
		} else {
			first = st.put(m, props)
		}
		ids = []string{remoting.OffsetMsgID(first.m.StoreHost, first.m.CommitLogOffset)}
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	offset := int64(0)
	if first != nil {
		offset = first.m.QueueOffset
	}
	return withExt(resp,
		"msgId", strings.Join(ids, ","),
		"queueId", strconv.Itoa(int(h.queueID)),
		"queueOffset", strconv.FormatInt(offset, 10),
		remoting.PropertyMsgRegion, defaultRegion,
		remoting.PropertyTraceSwitch, "true",
	)
}
