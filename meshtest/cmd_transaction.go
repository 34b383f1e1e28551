package meshtest

import (
	"maps"
	"strconv"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Transaction types of END_TRANSACTION's commitOrRollback (MessageSysFlag).
const (
	txNotType  = 0
	txCommit   = remoting.SysFlagTransactionCommit
	txRollback = remoting.SysFlagTransactionRollback
)

// putHalf stores a half message as TransactionalMessageBridge.parseHalfMessageInner
// does: REAL_TOPIC/REAL_QID kept in properties, transaction bits cleared, queue 0
// of RMQ_SYS_TRANS_HALF_TOPIC, invisible to consumers of the real topic.
func (s *store) putHalf(m *remoting.Message, props map[string]string) *storedMsg {
	props[remoting.PropertyRealTopic] = m.Topic
	props[remoting.PropertyRealQueueID] = strconv.Itoa(int(m.QueueID))
	m.SysFlag &^= remoting.SysFlagTransactionRollback
	m.Topic, m.QueueID = HalfTopic, 0
	s.mu.Lock()
	defer s.mu.Unlock()
	sm := s.appendLocked(m, props)
	st := &halfState{
		latest:    sm,
		group:     props[remoting.PropertyProducerGroup],
		nextCheck: time.UnixMilli(sm.m.StoreTimestamp).Add(s.c.scaled(transactionTimeout)),
	}
	s.halves[sm.m.CommitLogOffset] = st
	return sm
}

// handleEndTransaction answers END_TRANSACTION (37): commit makes the half message
// visible in its real topic, rollback drops it, and "not type" (unknown) is left
// for the check; the latter gets no response.
func (b *Broker) handleEndTransaction(req *remoting.Command) *remoting.Command {
	if !b.isMaster() {
		return remoting.NewResponse(req, remoting.SlaveNotAvailable, "")
	}
	kind := int32(extInt64(req, "commitOrRollback"))
	if kind != txCommit && kind != txRollback {
		return nil
	}
	off := extInt64(req, "commitLogOffset")
	st := b.set.store
	st.mu.Lock()
	sm := st.byPhy[off]
	if sm == nil {
		st.mu.Unlock()
		return remoting.NewResponse(req, remoting.SystemError, remarkTxFindFailed)
	}
	switch {
	case sm.props[remoting.PropertyProducerGroup] != req.Ext("producerGroup"):
		st.mu.Unlock()
		return remoting.NewResponse(req, remoting.SystemError, remarkTxGroupWrong)
	case sm.m.QueueOffset != extInt64(req, "tranStateTableOffset"):
		st.mu.Unlock()
		return remoting.NewResponse(req, remoting.SystemError, remarkTxTableOffsetWrong)
	case sm.m.CommitLogOffset != off:
		st.mu.Unlock()
		return remoting.NewResponse(req, remoting.SystemError, remarkTxCommitOffsetWrong)
	}
	var committed *storedMsg
	if hs := st.halves[off]; hs != nil && !hs.resolved {
		hs.resolved = true
		if kind == txCommit {
			props := maps.Clone(sm.props)
			m := sm.m
			m.Topic = props[remoting.PropertyRealTopic]
			qid, _ := strconv.Atoi(props[remoting.PropertyRealQueueID])
			m.QueueID = int32(qid)
			m.SysFlag = m.SysFlag&^remoting.SysFlagTransactionRollback | txCommit
			m.PreparedTransactionOffset = sm.m.CommitLogOffset
			committed = st.putLocked(&m, props)
		}
	}
	st.mu.Unlock()
	st.wake(committed)
	if kind == txRollback {
		// EndTransactionProcessor answers a rollback with checkPrepareMessage's
		// response, whose remark is never set; a commit with the final send's.
		return remoting.NewResponse(req, remoting.Success, remarkUnsetCode)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// checkTransactions re-appends every unresolved half message whose check is due
// and asks its producer group for the state (CHECK_TRANSACTION_STATE, 39, oneway),
// as TransactionalMessageCheckService does; after transactionCheckMax checks the
// message is discarded.
func (s *store) checkTransactions(now time.Time) {
	type check struct {
		group string
		msg   *storedMsg
	}
	var checks []check
	s.mu.Lock()
	seen := map[*halfState]bool{}
	for _, hs := range s.halves {
		if hs.resolved || seen[hs] || now.Before(hs.nextCheck) {
			continue
		}
		seen[hs] = true
		if hs.checks >= transactionCheckMax {
			hs.resolved = true
			continue
		}
		hs.checks++
		props := maps.Clone(hs.latest.props)
		props[remoting.PropertyTransactionCheckTimes] = strconv.Itoa(hs.checks)
		// The copy is stored with WAIT=false, as the golden check frame shows
		// (TransactionalMessageBridge.renewHalfMessageInner).
		props[remoting.PropertyWaitStoreMsgOK] = "false"
		m := hs.latest.m
		cp := s.appendLocked(&m, props)
		s.halves[cp.m.CommitLogOffset] = hs
		hs.latest = cp
		hs.nextCheck = now.Add(s.c.scaled(transactionCheckInterval))
		checks = append(checks, check{hs.group, cp})
	}
	s.mu.Unlock()
	master := s.set.members[0]
	for _, c := range checks {
		master.sendCheck(c.group, c.msg)
	}
}

// sendCheck sends CHECK_TRANSACTION_STATE over a connection of the producer group.
func (b *Broker) sendCheck(group string, sm *storedMsg) {
	if !b.srv.registered() {
		return
	}
	cn := b.producerConn(group)
	if cn == nil {
		b.srv.log.Debug("transaction check: no producer connection", "group", group)
		return
	}
	m := sm.m
	m.Topic = sm.props[remoting.PropertyRealTopic]
	qid, _ := strconv.Atoi(sm.props[remoting.PropertyRealQueueID])
	m.QueueID = int32(qid)
	uniq := sm.props[remoting.PropertyUniqKey]
	txID := sm.props[remoting.PropertyTransactionID]
	if txID == "" {
		txID = uniq
	}
	ext := map[string]string{
		"commitLogOffset":      strconv.FormatInt(sm.m.CommitLogOffset, 10),
		"tranStateTableOffset": strconv.FormatInt(sm.m.QueueOffset, 10),
		"msgId":                uniq,
		"offsetMsgId":          remoting.OffsetMsgID(sm.m.StoreHost, sm.m.CommitLogOffset),
		"transactionId":        txID,
	}
	b.send(cn, remoting.CodeCheckTransactionState, ext, remoting.AppendMessage(nil, &m))
}

// HalfMessages returns the unresolved transactional half messages of this broker
// set (their latest copies).
func (b *Broker) HalfMessages() []StoredMessage {
	st := b.set.store
	st.mu.Lock()
	defer st.mu.Unlock()
	seen := map[*halfState]bool{}
	var out []StoredMessage
	for _, hs := range st.halves {
		if hs.resolved || seen[hs] {
			continue
		}
		seen[hs] = true
		out = append(out, st.view(hs.latest))
	}
	return out
}
