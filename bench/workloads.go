package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// workloadSpec is one thing the benchmark makes every mode do.
type workloadSpec struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// Op is what one latency sample times ("" when the workload measures
	// throughput only).
	Op  string `json:"latency_of,omitempty"`
	run func(ctx context.Context, b *bench, m *mode, mt *meter, n int) (sample, error)
	// count is how many operations a round does, from the settings.
	count func(s settings) int
	// perOp is how many messages one operation carries.
	perOp func(s settings) int
}

// batchSize is how many messages one batch send carries.
const batchSize = 32

// workloadSpecs are the workloads in the order they run in each round.
var workloadSpecs = []workloadSpec{
	{
		Name: "sync", Title: "sync send, 1 KiB", Op: "send",
		run: runSync, count: func(s settings) int { return s.Sync }, perOp: one,
	},
	{
		Name: "async", Title: "async send, 1 KiB, bounded in flight", Op: "send (to its callback)",
		run: runAsync, count: func(s settings) int { return s.Async }, perOp: one,
	},
	{
		Name: "batch", Title: "batch send, 32 × 1 KiB", Op: "batch",
		run: runBatch, count: func(s settings) int { return s.Batches }, perOp: func(settings) int { return batchSize },
	},
	{
		Name: "e2e", Title: "produce → consume, push consumer", Op: "message, send to consume callback",
		run: runE2E, count: func(s settings) int { return s.E2E }, perOp: one,
	},
	{
		Name: "drain", Title: "push consumer draining a backlog",
		run: runDrain, count: func(s settings) int { return s.Backlog }, perOp: one,
	},
}

func one(settings) int { return 1 }

// bench is what the workloads share.
type bench struct {
	settings settings
	body     []byte
	runID    string
	groups   atomic.Int64 // numbers the consumer groups
}

// group returns a consumer group name of its own for one run of a workload.
func (b *bench) group(workload string, m *mode) string {
	return fmt.Sprintf("bench-%s-%s-%s-%d", workload, m.Name, b.runID, b.groups.Add(1))
}

func (b *bench) message(topic string) *primitive.Message {
	return primitive.NewMessage(topic, b.body)
}

func checkSent(res *primitive.SendResult, err error) error {
	if err != nil {
		return err
	}
	if res.Status != primitive.SendOK {
		return fmt.Errorf("send status %d", res.Status)
	}
	return nil
}

// runSync sends n messages one after the other with SendSync, timing each.
func runSync(ctx context.Context, b *bench, m *mode, mt *meter, n int) (sample, error) {
	lat := make([]time.Duration, 0, n)
	mt.start()
	for range n {
		start := time.Now()
		if err := checkSent(m.producer.SendSync(ctx, b.message(b.settings.Topic))); err != nil {
			return sample{}, fmt.Errorf("sync send: %w", err)
		}
		lat = append(lat, time.Since(start))
	}
	return mt.stop(n, lat), nil
}

// runAsync sends n messages with SendAsync, at most InFlight awaiting their
// callbacks at any time, timing each from the call to its callback.
func runAsync(ctx context.Context, b *bench, m *mode, mt *meter, n int) (sample, error) {
	lat := make([]time.Duration, n)
	window := make(chan struct{}, b.settings.InFlight)
	var (
		wg      sync.WaitGroup
		sendErr atomic.Pointer[error] // the first error
	)
	fail := func(err error) { sendErr.CompareAndSwap(nil, &err) }
	mt.start()
	for i := 0; i < n && sendErr.Load() == nil; i++ {
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			fail(ctx.Err())
			continue
		}
		wg.Add(1)
		start := time.Now()
		err := m.producer.SendAsync(ctx, func(_ context.Context, res *primitive.SendResult, err error) {
			lat[i] = time.Since(start)
			if err := checkSent(res, err); err != nil {
				fail(err)
			}
			<-window
			wg.Done()
		}, b.message(b.settings.Topic))
		if err != nil {
			fail(err)
			<-window
			wg.Done()
		}
	}
	wg.Wait()
	if err := sendErr.Load(); err != nil {
		return sample{}, fmt.Errorf("async send: %w", *err)
	}
	return mt.stop(n, lat), nil
}

// runBatch sends n batches of batchSize messages with SendSync, timing each.
func runBatch(ctx context.Context, b *bench, m *mode, mt *meter, n int) (sample, error) {
	lat := make([]time.Duration, 0, n)
	msgs := make([]*primitive.Message, batchSize)
	mt.start()
	for range n {
		for i := range msgs {
			msgs[i] = b.message(b.settings.Topic)
		}
		start := time.Now()
		if err := checkSent(m.producer.SendSync(ctx, msgs...)); err != nil {
			return sample{}, fmt.Errorf("batch send: %w", err)
		}
		lat = append(lat, time.Since(start))
	}
	return mt.stop(n*batchSize, lat), nil
}

// seqProperty numbers the messages of the produce → consume workload.
const seqProperty = "bench_seq"

// e2eWarmup is how many messages in a row a new push consumer must have
// received before the produce → consume workload times anything: by then it
// owns its queues and has pulls waiting on them.
const e2eWarmup = 8

// runE2E starts a push consumer of a group of its own at the end of the e2e
// topic, waits until it receives, then sends n messages one at a time, each
// after the previous one arrived, timing each from the send to the consumer's
// callback (both in this process, on one clock).
func runE2E(ctx context.Context, b *bench, m *mode, mt *meter, n int) (sample, error) {
	type arrival struct {
		seq int64
		at  time.Time
	}
	arrivals := make(chan arrival, 4096)
	c, err := m.newConsumer(b.group("e2e", m),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromLastOffset),
	)
	if err != nil {
		return sample{}, fmt.Errorf("produce → consume: %w", err)
	}
	err = c.Subscribe(b.settings.E2ETopic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		now := time.Now()
		for _, msg := range msgs {
			if seq, err := strconv.ParseInt(msg.GetProperty(seqProperty), 10, 64); err == nil {
				select {
				case arrivals <- arrival{seq, now}:
				default: // nobody waits for this one any more
				}
			}
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return sample{}, fmt.Errorf("produce → consume: subscribing: %w", err)
	}
	if err := c.Start(); err != nil {
		return sample{}, fmt.Errorf("produce → consume: starting the consumer: %w", err)
	}
	defer c.Shutdown()

	var seq int64
	// ping sends the next message and waits up to wait for it to arrive.
	ping := func(wait time.Duration) (sent, arrived time.Time, ok bool, err error) {
		seq++
		msg := b.message(b.settings.E2ETopic)
		msg.WithProperty(seqProperty, strconv.FormatInt(seq, 10))
		sent = time.Now()
		if err := checkSent(m.producer.SendSync(ctx, msg)); err != nil {
			return sent, sent, false, err
		}
		timeout := time.NewTimer(wait)
		defer timeout.Stop()
		for {
			select {
			case a := <-arrivals:
				if a.seq == seq {
					return sent, a.at, true, nil
				}
			case <-timeout.C:
				return sent, sent, false, nil
			case <-ctx.Done():
				return sent, sent, false, ctx.Err()
			}
		}
	}
	// Messages sent before the consumer has taken its queues' offsets are
	// not consumed: warm up until a run of them arrives.
	deadline := time.Now().Add(time.Minute)
	for inARow := 0; inARow < e2eWarmup; {
		_, _, ok, err := ping(time.Second)
		if err != nil {
			return sample{}, fmt.Errorf("produce → consume: warming up: %w", err)
		}
		if inARow++; !ok {
			inARow = 0
		}
		if time.Now().After(deadline) {
			return sample{}, fmt.Errorf("produce → consume: the consumer did not receive %d messages in a row within a minute", e2eWarmup)
		}
	}
	lat := make([]time.Duration, 0, n)
	mt.start()
	for range n {
		sent, arrived, ok, err := ping(30 * time.Second)
		if err != nil {
			return sample{}, fmt.Errorf("produce → consume: %w", err)
		}
		if !ok {
			return sample{}, fmt.Errorf("produce → consume: message %d not consumed within 30 s", seq)
		}
		lat = append(lat, arrived.Sub(sent))
	}
	return mt.stop(n, lat), nil
}

// runDrain starts a push consumer of a group of its own at the first offset
// of the backlog topic and times it from its start until it has consumed n
// messages.
func runDrain(ctx context.Context, b *bench, m *mode, mt *meter, n int) (sample, error) {
	var (
		consumed atomic.Int64
		doneOnce sync.Once
		done     = make(chan struct{})
	)
	c, err := m.newConsumer(b.group("drain", m),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	)
	if err != nil {
		return sample{}, fmt.Errorf("drain: %w", err)
	}
	err = c.Subscribe(b.settings.BacklogTopic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		if consumed.Add(int64(len(msgs))) >= int64(n) {
			doneOnce.Do(func() { close(done) })
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		return sample{}, fmt.Errorf("drain: subscribing: %w", err)
	}
	mt.start()
	if err := c.Start(); err != nil {
		return sample{}, fmt.Errorf("drain: starting the consumer: %w", err)
	}
	defer c.Shutdown()
	select {
	case <-done:
	case <-ctx.Done():
		return sample{}, ctx.Err()
	case <-time.After(10 * time.Minute):
		return sample{}, fmt.Errorf("drain: consumed %d of %d messages in 10 minutes", consumed.Load(), n)
	}
	return mt.stop(n, nil), nil
}

// fillBacklog sends n messages to the backlog topic in batches.
func fillBacklog(ctx context.Context, b *bench, m *mode, n int) error {
	for sent := 0; sent < n; {
		k := min(batchSize, n-sent)
		msgs := make([]*primitive.Message, k)
		for i := range msgs {
			msgs[i] = b.message(b.settings.BacklogTopic)
		}
		if err := checkSent(m.producer.SendSync(ctx, msgs...)); err != nil {
			return fmt.Errorf("filling the backlog topic %q: %w", b.settings.BacklogTopic, err)
		}
		sent += k
	}
	return nil
}
