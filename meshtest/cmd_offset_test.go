package meshtest

import (
	"testing"
	"time"
)

// Tests of consumer offsets (cmd_offset.go: 14, 15, 29, 30, 31) with the official
// client.

func TestCluster_ConcurrentConsumeCommitsOffsets(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 4), WithTimeScale(0.01))
	p := newProducer(t, c)
	const n = 40
	sendN(t, p, "TopicTest", "m", n)
	group := name("cg")
	var got Collector
	stop := startPushConsumer(t, c, group, "TopicTest", &got, nil)
	WaitFor(t, "all messages consumed", func() bool { return got.Distinct() == n })
	// The client persists offsets every 5 s, and on Shutdown.
	perQueue := waitOffsetsCommitted(t, c, group, "TopicTest")
	stop()
	for q, want := range perQueue {
		c.CheckConsumerOffset(t, group, "TopicTest", q, want)
	}
}

func TestCluster_OffsetsSurviveConsumerRestart(t *testing.T) {
	c := RunCluster(t, WithTopic("TopicTest", 2), WithTimeScale(0.01))
	p := newProducer(t, c)
	sendN(t, p, "TopicTest", "first", 10)
	group := name("cg")
	var first Collector
	stop := startPushConsumer(t, c, group, "TopicTest", &first, nil)
	WaitFor(t, "first batch", func() bool { return first.Distinct() == 10 })
	waitOffsetsCommitted(t, c, group, "TopicTest")
	stop()
	WaitFor(t, "first consumer gone", func() bool { return len(c.Broker("broker-a").ConsumerIDs(group)) == 0 })

	sendN(t, p, "TopicTest", "second", 5)
	var second Collector
	startPushConsumer(t, c, group, "TopicTest", &second, nil)
	WaitFor(t, "second batch", func() bool { return second.Distinct() == 5 })
	time.Sleep(200 * time.Millisecond) // room for a wrong redelivery to show up
	for body := range second.Bodies() {
		if len(body) >= 5 && body[:5] == "first" {
			t.Errorf("committed message %q delivered again after restart", body)
		}
	}
}
