package main

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
)

// tally counts messages per broker name.
type tally map[string]int

func (t tally) total() int {
	s := 0
	for _, c := range t {
		s += c
	}
	return s
}

func (t tally) String() string {
	if len(t) == 0 {
		return "none"
	}
	names := make([]string, 0, len(t))
	for n := range t {
		names = append(names, n)
	}
	sort.Strings(names)
	total := t.total()
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d (%.0f%%)", n, t[n], 100*float64(t[n])/float64(max(total, 1))))
	}
	return strings.Join(parts, ", ")
}

// produce sends n messages with bodies "<step>-<i>" through a mesh producer and
// counts where each landed.
func produce(ctx context.Context, p rocketmq.Producer, topic, step string, n int) (tally, error) {
	landed := tally{}
	for i := 0; i < n; i++ {
		msg := primitive.NewMessage(topic, []byte(fmt.Sprintf("%s-%04d", step, i)))
		res, err := p.SendSync(ctx, msg)
		if err != nil {
			return landed, fmt.Errorf("sending %s message %d: %w", step, i, err)
		}
		landed[res.MessageQueue.BrokerName]++
	}
	return landed, nil
}

// newProducer builds and starts a producer through the mesh, as an application
// would after replacing rocketmq.NewProducer with m.NewProducer. The mesh gives it
// an instance name of its own, so it shares no internal client with the consumer.
func newProducer(m *mesh.Mesh, group string) (rocketmq.Producer, error) {
	p, err := m.NewProducer(producer.WithGroupName(group), producer.WithRetry(2))
	if err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("starting producer: %w", err)
	}
	return p, nil
}

// consumerStarter starts a built and subscribed consumer of group and returns
// what stops it. The demo starts its consumers with startPlain, as an
// application does; its tests start them with meshtest.StartConsumer, which keeps
// the official client's own data races out of `go test -race`.
type consumerStarter func(group string, c rocketmq.PushConsumer) (stop func(), err error)

func startPlain(group string, c rocketmq.PushConsumer) (func(), error) {
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("starting consumer of group %q: %w", group, err)
	}
	return func() { _ = c.Shutdown() }, nil
}

// plainConsumers is startPlain for the embedded cluster.
func plainConsumers(*meshtest.Cluster) consumerStarter { return startPlain }

// receiver is a push consumer through the mesh that records where each message
// came from.
type receiver struct {
	stop func()
	mu   sync.Mutex
	seen map[string]string // body → broker
}

func newReceiver(m *mesh.Mesh, start consumerStarter, group, topic string) (*receiver, error) {
	r := &receiver{seen: map[string]string{}}
	c, err := m.NewPushConsumer(consumer.WithGroupName(group), consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
	if err != nil {
		return nil, err
	}
	err = c.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, msg := range msgs {
			r.seen[string(msg.Body)] = msg.Queue.BrokerName
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return nil, fmt.Errorf("subscribing to %q: %w", topic, err)
	}
	if r.stop, err = start(group, c); err != nil {
		return nil, err
	}
	return r, nil
}

// waitFor waits until the receiver holds want messages whose body starts with
// prefix (a consumer group reading from the first offset also gets earlier runs'
// messages, and redeliveries are counted once), and returns them by broker.
func (r *receiver) waitFor(ctx context.Context, prefix string, want int) (tally, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		byBroker := tally{}
		for body, b := range r.seen {
			if strings.HasPrefix(body, prefix) {
				byBroker[b]++
			}
		}
		r.mu.Unlock()
		if got := byBroker.total(); got >= want {
			return byBroker, nil
		}
		select {
		case <-ctx.Done():
			return byBroker, fmt.Errorf("received %d of %d %q messages: %w", byBroker.total(), want, prefix, ctx.Err())
		case <-tick.C:
		}
	}
}

// explainSplit says how the share of sends broker-a took compares with the 80%
// it was configured (in the place named by source) to take, and returns that
// share in percent and the 95% margin in points.
func explainSplit(say func(string, ...any), split tally, n int, source string) (share, m95 float64) {
	share = 100 * float64(split["broker-a"]) / float64(max(n, 1))
	m95, m99 := splitMargins(0.8, n)
	say("   split:          broker-a %.1f%% against 80%% %s; each send picks a broker at random by weight,", share, source)
	say("                   so over %d sends 95%% of runs land within 80 ± %.1f points, 99%% within ± %.1f", n, m95, m99)
	return share, m95
}

// splitMargins returns how far, in percentage points, the observed share of n
// independent picks that each go one way with probability p lands from p in 95%
// and 99% of runs: the normal approximation of the binomial, z·sqrt(p(1−p)/n).
func splitMargins(p float64, n int) (p95, p99 float64) {
	if n <= 0 {
		return math.Inf(1), math.Inf(1)
	}
	sd := math.Sqrt(p * (1 - p) / float64(n))
	return 100 * 1.959964 * sd, 100 * 2.575829 * sd
}
