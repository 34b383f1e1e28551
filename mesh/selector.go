package mesh

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
	"github.com/rmqmesh/rmqmesh/routing"
)

// QueueSelector returns a QueueSelector that first narrows the client's writable
// queues to one broker picked by routing — endpoint and locality weights, the
// route's write subset, node locality — and then lets next choose among that
// broker's queues. A nil next means the client's default round robin.
//
// Messages with a sharding key pick the broker by [routing.KeyHash] of the key
// (weighted rendezvous hashing, see [routing.Route.PickWriteBrokerByKey]) rather
// than at random: every producer sends a key to the same broker, a change of
// brokers moves only the keys the change has to move, and the broker choice is
// independent of the queue hash next applies (the client's hash selector uses
// 32-bit FNV-1a), so keys reach every queue of every broker. On a retry
// (lastBrokerName set) the failed broker is avoided when another is writable. A
// nil message selects no queue.
func (m *Mesh) QueueSelector(next producer.QueueSelector) producer.QueueSelector {
	if next == nil {
		next = producer.NewRoundRobinQueueSelector()
	}
	return &queueSelector{ref: m.ref, next: next}
}

// meshRef is how the selector and allocate strategy handed to official
// clients reach the mesh. rocketmq-client-go v2.1.2 keeps goroutines of a
// push consumer running after its Shutdown, and with them the consumer's
// options: through a plain pointer they would keep every closed mesh, its
// route tables and relay, alive. Close clears the reference; a client that
// outlives its mesh then selects and allocates as it would without one.
type meshRef struct{ p atomic.Pointer[Mesh] }

type queueSelector struct {
	ref  *meshRef
	next producer.QueueSelector
	// byTopic caches, per topic, the client's queue list split by broker. The client
	// hands the same slice until its route changes, so the split is rebuilt only
	// then and a send allocates nothing here.
	byTopic sync.Map // topic → *queueSplit
}

type queueSplit struct {
	first    *primitive.MessageQueue
	n        int
	byBroker map[string][]*primitive.MessageQueue
}

func (s *queueSelector) split(topic string, mqs []*primitive.MessageQueue) *queueSplit {
	if v, ok := s.byTopic.Load(topic); ok {
		qs := v.(*queueSplit)
		if qs.n == len(mqs) && qs.first == mqs[0] {
			return qs
		}
	}
	qs := &queueSplit{first: mqs[0], n: len(mqs), byBroker: make(map[string][]*primitive.MessageQueue)}
	for _, q := range mqs {
		if q == nil {
			continue
		}
		qs.byBroker[q.BrokerName] = append(qs.byBroker[q.BrokerName], q)
	}
	s.byTopic.Store(topic, qs)
	return qs
}

// Select implements producer.QueueSelector.
func (s *queueSelector) Select(msg *primitive.Message, mqs []*primitive.MessageQueue, lastBrokerName string) *primitive.MessageQueue {
	if msg == nil {
		// Nothing to route, and every selector of the official client would
		// panic on it; the client reports a nil queue as "route info not found".
		return nil
	}
	m := s.ref.p.Load()
	if m == nil {
		return s.next.Select(msg, mqs, lastBrokerName) // the mesh is closed
	}
	snap := m.table.Load()
	if snap == nil || len(mqs) == 0 {
		m.recordWritePick(snap, msg.Topic, rmqotel.OutcomeFallback)
		return s.next.Select(msg, mqs, lastBrokerName)
	}
	qs := s.split(msg.Topic, mqs)
	if key := msg.GetShardingKey(); key != "" {
		broker, err := snap.PickWriteBrokerByKey(msg.Topic, routing.KeyHash(key), lastBrokerName)
		if queues := qs.byBroker[broker]; err == nil && len(queues) > 0 {
			m.recordWritePick(snap, msg.Topic, rmqotel.OutcomeRouted)
			return s.next.Select(msg, queues, lastBrokerName)
		}
		// The client's queue list lacks the broker (its route is older than
		// the table): every producer with that list falls back alike.
		m.recordWritePick(snap, msg.Topic, rmqotel.OutcomeFallback)
		return s.next.Select(msg, mqs, lastBrokerName)
	}
	r := rand.Uint64()
	for attempt := 0; attempt < 4; attempt++ {
		broker, err := snap.PickWriteBroker(msg.Topic, r)
		if err != nil {
			break
		}
		if queues := qs.byBroker[broker]; len(queues) > 0 && (broker != lastBrokerName || len(qs.byBroker) == 1) {
			m.recordWritePick(snap, msg.Topic, rmqotel.OutcomeRouted)
			return s.next.Select(msg, queues, lastBrokerName)
		}
		r = rand.Uint64()
	}
	m.recordWritePick(snap, msg.Topic, rmqotel.OutcomeFallback)
	return s.next.Select(msg, mqs, lastBrokerName)
}

// AllocateStrategy returns an AllocateStrategy that removes the queues of brokers
// routing does not let this consumer read, then lets next allocate the rest. Every
// member of a group with the same route table computes the same answer. A nil next
// means the client's default, consumer.AllocateByAveragely.
func (m *Mesh) AllocateStrategy(next consumer.AllocateStrategy) consumer.AllocateStrategy {
	if next == nil {
		next = consumer.AllocateByAveragely
	}
	ref := m.ref
	return func(group, currentCID string, mqAll []*primitive.MessageQueue, cidAll []string) []*primitive.MessageQueue {
		m := ref.p.Load()
		if m == nil {
			return next(group, currentCID, mqAll, cidAll) // the mesh is closed
		}
		snap := m.table.Load()
		if snap == nil || len(mqAll) == 0 || mqAll[0] == nil {
			return next(group, currentCID, mqAll, cidAll)
		}
		readable, err := snap.ReadableBrokers(mqAll[0].Topic)
		if err != nil {
			return next(group, currentCID, mqAll, cidAll)
		}
		allowed := make(map[string]bool, len(readable))
		for _, b := range readable {
			allowed[b] = true
		}
		kept := make([]*primitive.MessageQueue, 0, len(mqAll))
		for _, q := range mqAll {
			if q != nil && allowed[q.BrokerName] {
				kept = append(kept, q)
			}
		}
		return next(group, currentCID, kept, cidAll)
	}
}
