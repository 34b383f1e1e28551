package meshtest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// The helpers of the tests that drive the official client against a cluster, one
// file per command family (cmd_*_test.go, as cmd_*.go).

var uniq atomic.Int64

// name returns a process-unique name for groups and instances.
func name(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, uniq.Add(1))
}

// newProducer starts an official producer on an instance of its own, talking to
// c's nameserver, and shuts it down when t ends.
func newProducer(t *testing.T, c *Cluster, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	all := append([]producer.Option{
		producer.WithNameServer([]string{c.NameServerAddr()}),
		producer.WithGroupName(name("pg")),
		producer.WithInstanceName(name("pi")),
		producer.WithRetry(0),
	}, opts...)
	p, err := rocketmq.NewProducer(all...)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("producer Start: %v", err)
	}
	t.Cleanup(func() { p.Shutdown() })
	return p
}

// startPushConsumer builds an official push consumer of group on an instance of
// its own, subscribes it to topic with a handler that records every message into
// got and answers result(msg), and starts it with StartConsumer. stop shuts it
// down (the broker then sees its connection close: the Go client never sends 35).
func startPushConsumer(t *testing.T, c *Cluster, group, topic string, got *Collector, result func(*primitive.MessageExt) consumer.ConsumeResult, opts ...consumer.Option) (stop func()) {
	t.Helper()
	pc := newPushConsumer(t, c, group, name("ci"), topic, got, result, opts...)
	return StartConsumer(t, c, group, pc)
}

// startOrderlyConsumer is startPushConsumer for an orderly consumer, with a
// keeper (see WithKeeper).
func startOrderlyConsumer(t *testing.T, c *Cluster, group, topic string, got *Collector) (stop func()) {
	t.Helper()
	inst := name("ci")
	pc := newPushConsumer(t, c, group, inst, topic, got, nil, consumer.WithConsumerOrder(true))
	keeper, err := rocketmq.NewProducer(producer.WithNameServer([]string{c.NameServerAddr()}),
		producer.WithGroupName(name("keeper")), producer.WithInstanceName(inst))
	if err != nil {
		t.Fatalf("NewProducer (keeper): %v", err)
	}
	return StartConsumer(t, c, group, pc, WithKeeper(keeper))
}

func newPushConsumer(t *testing.T, c *Cluster, group, instance, topic string, got *Collector, result func(*primitive.MessageExt) consumer.ConsumeResult, opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	all := append([]consumer.Option{
		consumer.WithNameServer([]string{c.NameServerAddr()}),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}, opts...)
	pc, err := rocketmq.NewPushConsumer(all...)
	if err != nil {
		t.Fatalf("NewPushConsumer: %v", err)
	}
	err = pc.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		got.Add(msgs...)
		if result != nil {
			return result(msgs[0]), nil
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatalf("Subscribe %q: %v", topic, err)
	}
	return pc
}

// waitOffsetsCommitted waits until the broker holds a committed offset of group
// at the end of every queue of topic. The client updates its offsets after a
// consume callback returns and persists them every 5 s, so waiting for the
// broker to have them is what makes a later Shutdown safe on a slow machine.
func waitOffsetsCommitted(t *testing.T, c *Cluster, group, topic string) map[int]int64 {
	t.Helper()
	perQueue := map[int]int64{}
	for _, m := range c.Messages(topic) {
		perQueue[m.QueueID]++
	}
	WaitFor(t, "offsets committed", func() bool {
		for q, want := range perQueue {
			if off, _ := c.ConsumerOffset(group, topic, q); off != want {
				return false
			}
		}
		return true
	})
	return perQueue
}

func sendN(t *testing.T, p rocketmq.Producer, topic, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(fmt.Sprint(prefix, i)))); err != nil {
			t.Fatalf("SendSync %d: %v", i, err)
		}
	}
}

type fakeStarter struct{ _ int } // not zero-sized: distinct pointers

func (*fakeStarter) Start() error    { return nil }
func (*fakeStarter) Shutdown() error { return nil }

type wrappingStarter struct{ Starter }

// An instrumented consumer embeds the official one; its goroutines carry the
// official consumer's pointer, which consumerRunning must look for too.
func TestConsumerIdentities_SeeThroughWrappers(t *testing.T) {
	inner := &fakeStarter{}
	outer := &wrappingStarter{Starter: &wrappingStarter{Starter: inner}}
	got := consumerIdentities(outer)
	want := fmt.Sprintf("(%p", inner)
	if len(got) != 3 || string(got[0]) != fmt.Sprintf("(%p", outer) || string(got[2]) != want {
		t.Fatalf("consumerIdentities = %q, want 3 identities ending with %q", got, want)
	}
}
