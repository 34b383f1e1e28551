package meshtest

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// messageQueue is MessageQueue in lock bodies; fields in fastjson's (alphabetical)
// order.
type messageQueue struct {
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
	Topic      string `json:"topic"`
}

type lockBody struct {
	ConsumerGroup  string         `json:"consumerGroup"`
	ClientID       string         `json:"clientId"`
	OnlyThisBroker bool           `json:"onlyThisBroker"`
	MQSet          []messageQueue `json:"mqSet"`
}

// handleLock answers LOCK_BATCH_MQ (41) as RebalanceLockManager.tryLockBatch does:
// a queue is granted when free, already held by the client, or held by a lock
// older than lockMaxLiveTime (scaled).
func (b *Broker) handleLock(req *remoting.Command) *remoting.Command {
	var body lockBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return remoting.NewResponse(req, remoting.SystemError, "decode lock body failed: "+err.Error())
	}
	ok := b.set.store.tryLock(body.ConsumerGroup, body.ClientID, body.MQSet, b.c.clock.now(), b.c.scaled(lockMaxLiveTime))
	if ok == nil {
		ok = []messageQueue{}
	}
	out, _ := json.Marshal(struct {
		LockOKMQSet []messageQueue `json:"lockOKMQSet"`
	}{ok})
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = out
	return resp
}

// handleUnlock answers UNLOCK_BATCH_MQ (42): the client's locks on the queues go.
func (b *Broker) handleUnlock(req *remoting.Command) *remoting.Command {
	var body lockBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return remoting.NewResponse(req, remoting.SystemError, "decode unlock body failed: "+err.Error())
	}
	b.set.store.unlock(body.ConsumerGroup, body.ClientID, body.MQSet)
	return remoting.NewResponse(req, remoting.Success, "")
}

func (s *store) tryLock(group, clientID string, mqs []messageQueue, now time.Time, ttl time.Duration) []messageQueue {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.locks[group]
	if g == nil {
		g = map[mqKey]*lockEntry{}
		s.locks[group] = g
	}
	var ok []messageQueue
	for _, mq := range mqs {
		k := mqKey{mq.Topic, mq.BrokerName, mq.QueueID}
		e := g[k]
		switch {
		case e == nil:
			g[k] = &lockEntry{clientID: clientID, last: now}
		case e.clientID == clientID:
			e.last = now
		case now.Sub(e.last) > ttl:
			e.clientID, e.last = clientID, now
		default:
			continue
		}
		ok = append(ok, mq)
	}
	return ok
}

func (s *store) unlock(group, clientID string, mqs []messageQueue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.locks[group]
	for _, mq := range mqs {
		k := mqKey{mq.Topic, mq.BrokerName, mq.QueueID}
		if e := g[k]; e != nil && e.clientID == clientID {
			delete(g, k)
		}
	}
}

func (s *store) lockView(group string, now time.Time) []QueueLock {
	s.mu.Lock()
	defer s.mu.Unlock()
	ttl := s.c.scaled(lockMaxLiveTime)
	var out []QueueLock
	for k, e := range s.locks[group] {
		out = append(out, QueueLock{Topic: k.topic, BrokerName: k.broker, QueueID: int(k.qid), ClientID: e.clientID, Expired: now.Sub(e.last) > ttl})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		if out[i].BrokerName != out[j].BrokerName {
			return out[i].BrokerName < out[j].BrokerName
		}
		return out[i].QueueID < out[j].QueueID
	})
	return out
}
