package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/mesh"
)

// appInstance is the instance name the demo's clients share.
const appInstance = "demo-app"

// tally counts messages per broker name.
type tally map[string]int

func (t tally) String() string {
	names := make([]string, 0, len(t))
	total := 0
	for n, c := range t {
		names = append(names, n)
		total += c
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d (%.0f%%)", n, t[n], 100*float64(t[n])/float64(max(total, 1))))
	}
	return strings.Join(parts, ", ")
}

// produce sends n messages through a mesh producer and counts where each landed.
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
// would after replacing rocketmq.NewProducer with m.NewProducer.
//
// The producer and the consumer share the instance name appInstance, as clients of
// one application usually do: the official client then runs one internal client
// for both. The mesh scopes the name to itself.
func newProducer(m *mesh.Mesh, group string) (rocketmq.Producer, error) {
	p, err := m.NewProducer(producer.WithGroupName(group), producer.WithRetry(2), producer.WithInstanceName(appInstance))
	if err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("starting producer: %w", err)
	}
	return p, nil
}

// receiver is a push consumer through the mesh that counts what it receives.
type receiver struct {
	c    rocketmq.PushConsumer
	mu   sync.Mutex
	seen map[string]string // body → broker
}

func newReceiver(m *mesh.Mesh, group, topic string) (*receiver, error) {
	r := &receiver{seen: map[string]string{}}
	c, err := m.NewPushConsumer(consumer.WithGroupName(group), consumer.WithInstance(appInstance),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset))
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
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("starting consumer: %w", err)
	}
	r.c = c
	return r, nil
}

// waitFor waits until the receiver holds want messages whose body starts with
// prefix (a consumer group reading from the first offset also gets earlier runs'
// messages), and returns them by broker.
func (r *receiver) waitFor(ctx context.Context, prefix string, want int) (tally, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		got := 0
		byBroker := tally{}
		for body, b := range r.seen {
			if strings.HasPrefix(body, prefix) {
				byBroker[b]++
				got++
			}
		}
		r.mu.Unlock()
		if got >= want {
			return byBroker, nil
		}
		select {
		case <-ctx.Done():
			return byBroker, fmt.Errorf("received %d of %d messages: %w", got, want, ctx.Err())
		case <-tick.C:
		}
	}
}
