package meshtest

import (
	"sync"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Collector records the messages a consumer's callback receives, for a test to
// wait on and inspect; call Add from the callback. Redeliveries are recorded
// again; the methods that count bodies count each body once. Its methods are
// safe for concurrent use.
type Collector struct {
	mu   sync.Mutex
	msgs []*primitive.MessageExt // every delivery, in order
}

// Add records one callback's messages.
func (c *Collector) Add(msgs ...*primitive.MessageExt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
}

// Messages returns every delivery so far, in order, redeliveries included.
func (c *Collector) Messages() []*primitive.MessageExt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*primitive.MessageExt(nil), c.msgs...)
}

// Len returns the number of deliveries, redeliveries included.
func (c *Collector) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// Bodies returns how often each body was delivered.
func (c *Collector) Bodies() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for _, m := range c.msgs {
		out[string(m.Body)]++
	}
	return out
}

// Distinct returns the number of different bodies delivered.
func (c *Collector) Distinct() int { return len(c.Bodies()) }

// PerBroker returns how many different bodies came from each broker name, by
// the broker of each body's first delivery.
func (c *Collector) PerBroker() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	out := map[string]int{}
	for _, m := range c.msgs {
		if !seen[string(m.Body)] {
			seen[string(m.Body)] = true
			out[m.Queue.BrokerName]++
		}
	}
	return out
}

// Queues returns the queue IDs messages were delivered from.
func (c *Collector) Queues() map[int]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int]bool{}
	for _, m := range c.msgs {
		out[m.Queue.QueueId] = true
	}
	return out
}
