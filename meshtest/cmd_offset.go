package meshtest

import (
	"strconv"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

func extInt64(req *remoting.Command, k string) int64 {
	v, _ := strconv.ParseInt(req.Ext(k), 10, 64)
	return v
}

// handleQueryOffset answers QUERY_CONSUMER_OFFSET (14): the committed offset, or 0
// for a group without one (the in-memory store always has its first message "in
// memory", so 4.9.8 answers 0 rather than QUERY_NOT_FOUND).
func (b *Broker) handleQueryOffset(req *remoting.Command) *remoting.Command {
	if !b.isMaster() {
		return b.handleReplicaQueryOffset(req)
	}
	group, topic := req.Ext("consumerGroup"), req.Ext("topic")
	qid := int32(extInt64(req, "queueId"))
	off, ok := b.set.store.consumerOffset(group, topic, qid)
	if !ok {
		off = 0
	}
	return withExt(remoting.NewResponse(req, remoting.Success, ""), "offset", strconv.FormatInt(off, 10))
}

// handleUpdateOffset answers UPDATE_CONSUMER_OFFSET (15).
func (b *Broker) handleUpdateOffset(req *remoting.Command) *remoting.Command {
	if !b.isMaster() {
		return b.handleReplicaUpdateOffset(req)
	}
	b.set.store.setOffset(req.Ext("consumerGroup"), req.Ext("topic"), int32(extInt64(req, "queueId")), extInt64(req, "commitOffset"))
	return withExt(remoting.NewResponse(req, remoting.Success, ""))
}

// handleOffsetLookup answers SEARCH_OFFSET_BY_TIMESTAMP (29), GET_MAX_OFFSET (30)
// and GET_MIN_OFFSET (31).
func (b *Broker) handleOffsetLookup(req *remoting.Command) *remoting.Command {
	topic, qid := req.Ext("topic"), int32(extInt64(req, "queueId"))
	st := b.set.store
	var off int64
	switch req.Code {
	case remoting.CodeSearchOffsetByTimestamp:
		off = st.searchOffset(topic, qid, extInt64(req, "timestamp"))
	case remoting.CodeGetMaxOffset:
		_, off = st.queueRange(topic, qid)
	case remoting.CodeGetMinOffset:
		off, _ = st.queueRange(topic, qid)
	}
	return withExt(remoting.NewResponse(req, remoting.Success, ""), "offset", strconv.FormatInt(off, 10))
}
