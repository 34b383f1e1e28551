package meshtest

import (
	"strconv"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// What an Apache RocketMQ 4.9.8 replica (brokerRole SLAVE) answers, from the
// broker's source:
//
//   - Sends and send-backs: SERVICE_NOT_AVAILABLE
//     (DefaultMessageStore.checkStoreStatus refuses every put on a slave).
//   - END_TRANSACTION: SLAVE_NOT_AVAILABLE (EndTransactionProcessor).
//   - Pulls: served from its copy of the commit log, with
//     suggestWhichBrokerId 0 unless slaveReadEnable (PullMessageProcessor:
//     the slave's PULL_RETRY_IMMEDIATELY is overwritten by the answer for the
//     result's status); a pull's commitOffset flag is ignored on a slave.
//   - Heartbeats, unregistrations, the consumer list, offset lookups (29-32),
//     message queries (12, 33) and locks: answered from its own tables, as a
//     master does.
//   - QUERY_CONSUMER_OFFSET and UPDATE_CONSUMER_OFFSET:
//     ConsumerManageProcessor has no role check, so the replica answers from
//     and commits to its own offset table. SlaveSynchronize.syncConsumerOffset
//     copies the master's table over it every 10 s while the master is
//     registered: a commit only the replica took is lost once its master is
//     back.
//
// meshtest's replicas share their master's store, so the offset rules are
// modelled here: while the master runs, a replica answers from the master's
// table (the sync, without its 10 s lag) and forgets its own commits; while
// the master is down, its own commits win over the last synced table. The
// master's table never sees a replica's commit.

// replicaOffset is a replica's answer to QUERY_CONSUMER_OFFSET.
func (b *Broker) replicaOffset(group, topic string, qid int32) (int64, bool) {
	k := topic + "@" + group
	masterUp := b.set.members[0].Running()
	b.mu.Lock()
	if masterUp {
		delete(b.ownOffsets, k)
	} else if off, ok := b.ownOffsets[k][qid]; ok {
		b.mu.Unlock()
		return off, true
	}
	b.mu.Unlock()
	return b.set.store.consumerOffset(group, topic, qid)
}

// replicaCommit is a replica taking UPDATE_CONSUMER_OFFSET into its own table.
func (b *Broker) replicaCommit(group, topic string, qid int32, off int64) {
	k := topic + "@" + group
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ownOffsets == nil {
		b.ownOffsets = make(map[string]map[int32]int64)
	}
	if b.ownOffsets[k] == nil {
		b.ownOffsets[k] = make(map[int32]int64)
	}
	b.ownOffsets[k][qid] = off
}

// handleReplicaQueryOffset answers QUERY_CONSUMER_OFFSET (14) on a replica.
func (b *Broker) handleReplicaQueryOffset(req *remoting.Command) *remoting.Command {
	off, ok := b.replicaOffset(req.Ext("consumerGroup"), req.Ext("topic"), int32(extInt64(req, "queueId")))
	if !ok {
		off = 0 // as a master: the in-memory store has its first message in memory
	}
	return withExt(remoting.NewResponse(req, remoting.Success, ""), "offset", strconv.FormatInt(off, 10))
}

// handleReplicaUpdateOffset answers UPDATE_CONSUMER_OFFSET (15) on a replica.
func (b *Broker) handleReplicaUpdateOffset(req *remoting.Command) *remoting.Command {
	b.replicaCommit(req.Ext("consumerGroup"), req.Ext("topic"), int32(extInt64(req, "queueId")), extInt64(req, "commitOffset"))
	return withExt(remoting.NewResponse(req, remoting.Success, ""))
}
