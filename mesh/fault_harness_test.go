package mesh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
)

// faultSendsEnv sets how many SendSync calls the fault suite's traffic makes
// (default faultSendsCI). The figure is 10,000:
//
//	RMQMESH_FAULT_SENDS=10000 go test -race -count=1 -run 'TestFault_' -v ./mesh/
const faultSendsEnv = "RMQMESH_FAULT_SENDS"

// faultSendsCI keeps the suite inside the CI budget on a loaded 2-core
// machine; the full count is the documented command above.
const faultSendsCI = 1500

// faultSenders is how many goroutines share the traffic's SendSync calls.
const faultSenders = 4

func faultSends(t testing.TB) int {
	if v := os.Getenv(faultSendsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < faultSenders {
			t.Fatalf("%s=%q: want a number of sends of at least %d", faultSendsEnv, v, faultSenders)
		}
		return n
	}
	return faultSendsCI
}

// counts is what a fault scenario reports: every SendSync attempted,
// acknowledged (SendOK) or failed, every acknowledged message consumed, and
// deliveries beyond the first of a message.
type counts struct {
	sent, acked, failed atomic.Int64
	// firstErr is the first send error, for the report.
	errMu    sync.Mutex
	firstErr error
	maxSend  atomic.Int64 // the longest SendSync, in nanoseconds

	mu       sync.Mutex
	ackedSet map[string]string // body → broker that acknowledged it
	received map[string]int    // body → deliveries
	byBroker map[string]int    // first deliveries per broker
}

func newCounts() *counts {
	return &counts{ackedSet: map[string]string{}, received: map[string]int{}, byBroker: map[string]int{}}
}

func (c *counts) deliver(msgs ...*primitive.MessageExt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		b := string(m.Body)
		if c.received[b] == 0 {
			c.byBroker[m.Queue.BrokerName]++
		}
		c.received[b]++
	}
}

// consumed returns how many acknowledged messages were delivered, and the
// deliveries beyond the first of every message.
func (c *counts) consumed() (consumed, duplicates int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for body := range c.ackedSet {
		if c.received[body] > 0 {
			consumed++
		}
	}
	for _, n := range c.received {
		duplicates += n - 1
	}
	return consumed, duplicates
}

// lost returns acknowledged messages not delivered (at most a few, for the
// report).
func (c *counts) lost() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for body, broker := range c.ackedSet {
		if c.received[body] == 0 {
			out = append(out, body+"@"+broker)
			if len(out) == 5 {
				break
			}
		}
	}
	return out
}

func (c *counts) ackedOn(broker string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, b := range c.ackedSet {
		if b == broker {
			n++
		}
	}
	return n
}

// report logs the scenario's counts in one line the note quotes.
func (c *counts) report(t testing.TB, scenario string) {
	t.Helper()
	consumed, dup := c.consumed()
	c.errMu.Lock()
	first := c.firstErr
	c.errMu.Unlock()
	t.Logf("FAULT %s: sent=%d acknowledged=%d failed=%d consumed=%d duplicates=%d max-send=%v first-error=%v",
		scenario, c.sent.Load(), c.acked.Load(), c.failed.Load(), consumed, dup, time.Duration(c.maxSend.Load()).Round(time.Millisecond), first)
}

// traffic sends n messages with SendSync from faultSenders goroutines, small
// bodies numbered from the prefix. at, when not nil, runs once, on the
// sending goroutine, when the acknowledged count reaches atAcked (the fault
// lands mid-traffic, at the same point on every run).
func (c *counts) traffic(t testing.TB, p rocketmq.Producer, topic, prefix string, n int, atAcked int64, at func()) {
	t.Helper()
	var next atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for g := 0; g < faultSenders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				body := fmt.Sprintf("%s-%06d", prefix, i)
				c.sent.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
				start := time.Now()
				res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
				took := time.Since(start)
				cancel()
				for {
					m := c.maxSend.Load()
					if int64(took) <= m || c.maxSend.CompareAndSwap(m, int64(took)) {
						break
					}
				}
				if err == nil && res.Status != primitive.SendOK {
					err = fmt.Errorf("status %v", res.Status)
				}
				if err != nil {
					c.failed.Add(1)
					c.errMu.Lock()
					if c.firstErr == nil {
						c.firstErr = err
					}
					c.errMu.Unlock()
					continue
				}
				c.mu.Lock()
				c.ackedSet[body] = res.MessageQueue.BrokerName
				c.mu.Unlock()
				if acked := c.acked.Add(1); at != nil && acked >= atAcked {
					once.Do(at)
				}
			}
		}()
	}
	wg.Wait()
}

// waitConsumed waits until every acknowledged message was delivered, and
// fails naming some that were not.
func (c *counts) waitConsumed(t testing.TB, scenario string) {
	t.Helper()
	deadline := time.Now().Add(2 * meshtest.DefaultTimeout)
	for {
		consumed, _ := c.consumed()
		if int64(consumed) == c.acked.Load() {
			return
		}
		if time.Now().After(deadline) {
			c.report(t, scenario)
			t.Fatalf("%s: %d of %d acknowledged messages consumed; not consumed, e.g.: %v", scenario, consumed, c.acked.Load(), c.lost())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStoredDelivered waits until every message the cluster stored for topic,
// acknowledged or not, was delivered: the deliveries beyond the first are then
// the scenario's duplicates.
func (c *counts) waitStoredDelivered(t testing.TB, cl *meshtest.Cluster, topic string) {
	t.Helper()
	meshtest.WaitFor(t, "every stored message delivered", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, name := range cl.BrokerNames() {
			for _, m := range cl.Broker(name).Messages(topic) {
				if c.received[string(m.Body)] == 0 {
					return false
				}
			}
		}
		return true
	})
}

// consumeCounting starts a push consumer through the mesh that records every
// delivery in c, with meshtest.StartConsumer; it returns the consumer's stop
// (the test's cleanup stops it otherwise).
func (h *harness) consumeCounting(c *counts, group, topic string, opts ...consumer.Option) (stop func()) {
	h.t.Helper()
	pc, err := h.mesh.NewPushConsumer(append([]consumer.Option{
		consumer.WithGroupName(group),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)...)
	if err != nil {
		h.t.Fatalf("NewPushConsumer: %v", err)
	}
	err = pc.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		c.deliver(msgs...)
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		h.t.Fatalf("Subscribe %q: %v", topic, err)
	}
	return meshtest.StartConsumer(h.t, h.cluster, group, pc)
}

// warmProducer returns a producer through the mesh that has sent one message
// to topic, retried until it is acknowledged: a scenario's fault lands on
// traffic that runs, not on the client's first route lookup. (Under heavy
// load that first lookup failed once with the client's "route info not
// found", before any fault: a start-up matter, not the scenario's.)
func (h *harness) warmProducer(topic string) rocketmq.Producer {
	h.t.Helper()
	p := h.producer()
	var last error
	meshtest.WaitFor(h.t, "a first send to "+topic+" acknowledged", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(uniqueName("warm"))))
		if err == nil && res.Status == primitive.SendOK {
			return true
		}
		if err != nil && last == nil {
			last = err
			h.t.Logf("warming the producer: %v", err)
		}
		return false
	})
	return p
}

// faultCluster is the fault suite's cluster: two brokers, the topic on both,
// the time scale fast so that long polls and suspensions stay short.
var faultCluster = []meshtest.ClusterOption{meshtest.WithTimeScale(0.01)}

// relayState returns the relay's per-cluster state from the config dump.
func (h *harness) relayState() []transport.ClusterStatus {
	h.t.Helper()
	dump, err := h.mesh.ConfigDump()
	if err != nil {
		h.t.Fatal(err)
	}
	var d struct {
		Clusters []transport.ClusterStatus `json:"relayClusters"`
		Kept     int                       `json:"keptOffsetCommits"`
	}
	if err := json.Unmarshal(dump, &d); err != nil {
		h.t.Fatal(err)
	}
	return d.Clusters
}

// keptCommits returns the offset commits the dump says wait for a master.
func (h *harness) keptCommits() int {
	h.t.Helper()
	dump, err := h.mesh.ConfigDump()
	if err != nil {
		h.t.Fatal(err)
	}
	var d struct {
		Kept int `json:"keptOffsetCommits"`
	}
	if err := json.Unmarshal(dump, &d); err != nil {
		h.t.Fatal(err)
	}
	return d.Kept
}
