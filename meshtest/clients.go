package meshtest

// Starting and stopping the official client's consumers in tests.
//
// rocketmq-client-go v2.1.2 has two data races of its own that `go test -race`
// reports in tests that start and stop consumers, with or without rmqmesh:
//
//  1. Subscriptions. An internal client (one per process and instance name,
//     shared by every producer and consumer created with that name) runs a route
//     update 10 ms after it starts and a heartbeat round 1 s after, each again
//     every 30 s; both copy the SubscriptionData of every consumer registered with
//     it (rmqClient.UpdateTopicRouteInfo, SendHeartbeatToAllBrokerWithLock). A
//     rebalance that changes a consumer's queues writes SubscriptionData.SubVersion
//     without a lock (pushConsumer.messageQueueChanged). A consumer's first
//     rebalance begins in Start, which is when those first passes run.
//  2. Shutdown. The Shutdown that stops an internal client sets rmqClient.close
//     without a lock, and every request the client sends reads that flag first
//     (rmqClient.InvokeSync, InvokeAsync, InvokeOneWay). A rebalance — begun by
//     Start, by a broker's NOTIFY_CONSUMER_IDS_CHANGED (40), or by the client's
//     20 s timer — keeps running after its consumer's Shutdown and reads the flag
//     while that Shutdown writes it.
//
// StartConsumer keeps both out of a test's reach, for a consumer on an internal
// client of its own (a unique instance name; clients built through rmqmesh's
// mesh get one by default). Every rebalance opens with
// GET_CONSUMER_LIST_BY_GROUP (38), once per subscribed topic, so the cluster can
// both hold rebalances back and count them:
//
//   - It holds the brokers' answers to 38 from before Start until a broker has
//     received the client's first periodic heartbeat round. By then the route
//     update and the heartbeat have made their first pass, and the first
//     rebalance writes SubVersion after them (the broker's answer orders it); both
//     come back only 30 s later, when a test's consumer has long settled. The
//     rounds are counted per connection: rmqmesh's relay replays a client
//     connection's last heartbeat on every upstream connection it opens, so one
//     broker can hold the Start round's heartbeat twice before the periodic
//     round has begun (when the relay sends the rebalance's request on to an
//     endpoint that moved, or to another broker's master); a replay is the
//     first heartbeat on its connection, so it never makes a connection's
//     count two.
//   - It then waits until every consumer of the group has sent 38 once per
//     subscribed topic for every rebalance it was asked to make (one for its
//     Start, one per 40 a broker sent it). The rebalances of one internal client
//     run one at a time and only the first one after the hold changes anything
//     (the others find the queues already theirs), so when the last 38 has
//     arrived no rebalance has a request left to send.
//   - Stopping waits until the brokers have seen the consumer's connections close
//     and the remaining consumers of the group have settled again; at t's cleanup
//     it turns membership notifications off while the consumer stops, so the
//     group's other consumers are not sent into a rebalance that their own
//     cleanup could then meet.
//   - Its pull loops hand pulled messages to a channel that Shutdown closes,
//     outside the lock that guards the close: pulls are held at the brokers,
//     and stopping calls Shutdown only once no loop is handing messages over.
//   - An orderly consumer's Shutdown unlocks its queues, and its consume loops
//     ask for the locks again 100 ms later, reading the flag that Shutdown has
//     written by then: give it a keeper (WithKeeper), which holds the internal
//     client until those loops have ended.
//
// What is left is the client's 20 s rebalance timer and 5 s offset persistence
// meeting a Shutdown within the few milliseconds each takes; a test's consumers
// rarely live that long.
//
// Do not otherwise share one instance name between a producer and a consumer in
// tests, the way tests once warmed an instance before a consumer started: the
// producer's Shutdown is then the one that writes the flag, while the consumer's
// last rebalance may still run. A keeper is the exception made safe: it starts
// after the consumer has settled and stops after the consumer's goroutines.

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Starter is what StartConsumer needs of a consumer (rocketmq.PushConsumer,
// rocketmq.PullConsumer) and of a keeper (rocketmq.Producer).
type Starter interface {
	Start() error
	Shutdown() error
}

// StartOption configures StartConsumer.
type StartOption func(*startOptions)

type startOptions struct {
	routedTopics int     // 0: every subscription
	keeper       Starter // nil: none
}

// WithRoutedTopics says how many of the consumer's subscriptions, its
// %RETRY%group topic included, have a route: a rebalance asks for the consumer
// list once per routed topic. The default is every subscription, which holds
// whenever the routes cover the group's retry topic; say fewer when they do not
// (StartConsumer otherwise waits for requests that never come and says so).
func WithRoutedTopics(n int) StartOption {
	return func(o *startOptions) { o.routedTopics = n }
}

// WithKeeper gives StartConsumer a client built on the consumer's instance name
// and not yet started — a producer — for an orderly consumer. Shutting an orderly
// consumer down unlocks its queues, and each of its per-queue consume loops that
// sees a queue unlocked before it sees the shutdown asks for the lock again
// 100 ms later (pushConsumer.tryLockLaterAndReconsume), a request that reads the
// flag the same Shutdown writes. With a keeper holding the internal client,
// stopping shuts the consumer down, waits until the consumer's goroutines have
// ended, and only then shuts the keeper down, which writes the flag; another
// orderly consumer running at the time makes the wait last until it stops too.
// StartConsumer starts the keeper once the consumer has settled.
func WithKeeper(k Starter) StartOption {
	return func(o *startOptions) { o.keeper = k }
}

// StartConsumer starts consumer — built by the caller for group, subscribed,
// clustering (the default message model), on an instance name of its own, and
// pointed at c directly or through a mesh — and returns once its start has
// settled; see the comment at the top of this file for why. It registers a
// cleanup on t that stops the consumer, and returns the same stop for tests that
// stop it earlier (safe to call more than once). It fails t when the consumer
// cannot start or does not settle within DefaultTimeout.
func StartConsumer(t testing.TB, c *Cluster, group string, consumer Starter, opts ...StartOption) (stop func()) {
	t.Helper()
	var o startOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	c.setRoutedTopics(group, o.routedTopics)
	// The client looks up %RETRY%group in Start, before its first heartbeat would
	// create it; rebalances then ask for the consumer list once per topic, and
	// counting them needs every subscribed topic routed.
	c.CreateConsumerGroup(group)
	before := c.groupMembers(group)
	release := c.Hold(remoting.CodeGetConsumerListByGroup)
	defer release()
	if err := consumer.Start(); err != nil {
		t.Fatalf("meshtest: starting a consumer of group %q: %v", group, err)
	}
	var id string
	WaitFor(t, fmt.Sprintf("the consumer of group %q to register with a broker", group), func() bool {
		for m := range c.groupMembers(group) {
			if !before[m] {
				id = m
				return true
			}
		}
		return false
	})
	WaitFor(t, fmt.Sprintf("the first periodic heartbeat of client %q", id), func() bool {
		return c.heartbeatRounds(id) >= 2
	})
	release()
	c.waitSettled(t, group)
	if o.keeper != nil {
		if err := o.keeper.Start(); err != nil {
			t.Fatalf("meshtest: starting the keeper of consumer %q: %v", id, err)
		}
	}

	var once sync.Once
	stop = func() {
		once.Do(func() {
			t.Helper()
			// v2.1.2 hands pulled messages to its process queue's channel
			// outside the lock under which Shutdown closes that channel
			// (processQueue.putMessage against defaultConsumer.shutdown). Pulls
			// are held at the brokers while the consumer stops, once none of
			// its pull loops is handing messages over.
			releasePulls := c.Hold(remoting.CodePullMessage)
			quiet := 0
			WaitFor(t, fmt.Sprintf("the pull loops of consumer %q to hand nothing over", id), func() bool {
				if pullLoopsBusy(consumer) {
					quiet = 0
				} else {
					quiet++
				}
				return quiet >= 2
			})
			err := consumer.Shutdown()
			releasePulls()
			if err != nil {
				t.Errorf("meshtest: consumer %q of group %q: Shutdown: %v", id, group, err)
			}
			if o.keeper != nil {
				// Reading the broker's state in the wait orders the consume loops'
				// last requests, which it received, before the keeper's Shutdown.
				WaitFor(t, fmt.Sprintf("the goroutines of consumer %q to end after its Shutdown", id), func() bool {
					c.groupMembers(group)
					return !consumerRunning(consumer)
				})
				if err := o.keeper.Shutdown(); err != nil {
					t.Errorf("meshtest: the keeper of consumer %q: Shutdown: %v", id, err)
				}
			}
			WaitFor(t, fmt.Sprintf("the brokers to see consumer %q of group %q leave", id, group), func() bool {
				return !c.groupMembers(group)[id]
			})
			c.waitSettled(t, group)
		})
	}
	t.Cleanup(func() {
		defer c.SetNotifyConsumerIDsChanged(c.SetNotifyConsumerIDsChanged(false))
		stop()
	})
	return stop
}

// setRoutedTopics records WithRoutedTopics for group (0: every subscription).
func (c *Cluster) setRoutedTopics(group string, n int) {
	c.settleMu.Lock()
	defer c.settleMu.Unlock()
	if c.routed == nil {
		c.routed = map[string]int{}
	}
	c.routed[group] = n
}

func (c *Cluster) routedTopics(group string) int {
	c.settleMu.Lock()
	defer c.settleMu.Unlock()
	return c.routed[group]
}

// consumerRunning reports whether the official push consumer consumer still has
// a goroutine that may send a request through its internal client: a consume
// loop (one that was to ask for a lock 100 ms later included), found by the
// receiver of its method frames in the goroutine dump, or its lock ticker, an
// unnamed closure found by name (an orderly consumer's only; it ends at
// Shutdown). Its pull loops are left out: a long poll can keep one for 20 s, and
// pulls do not read the flag.
func consumerRunning(consumer Starter) bool {
	selves := consumerIdentities(consumer)
	const pkg = "rocketmq-client-go/v2/consumer.(*pushConsumer)."
	for _, g := range allStacks() {
		if bytes.Contains(g, []byte(pkg+"Start.func1.3(")) {
			return true
		}
		if !slices.ContainsFunc(selves, func(self []byte) bool { return bytes.Contains(g, self) }) {
			continue
		}
		for _, f := range []string{"consumeMessageOrderly(", "consumeMessageConcurrently(", "tryLockLaterAndReconsume(", "submitConsumeRequestLater(", "submitToConsume("} {
			if bytes.Contains(g, []byte(pkg+f)) {
				return true
			}
		}
	}
	return false
}

// pullLoopsBusy reports whether one of the official push consumer's pull
// loops inside consumer is doing anything but waiting — for a pull's answer or
// for its next pull — or is handing messages to a process queue.
func pullLoopsBusy(consumer Starter) bool {
	selves := consumerIdentities(consumer)
	const loop = "rocketmq-client-go/v2/consumer.(*pushConsumer).pullMessage("
	for _, g := range allStacks() {
		if !bytes.Contains(g, []byte(loop)) || !slices.ContainsFunc(selves, func(self []byte) bool { return bytes.Contains(g, self) }) {
			continue
		}
		if bytes.Contains(g, []byte(").putMessage(")) {
			return true
		}
		header, _, _ := bytes.Cut(g, []byte("\n"))
		if bytes.Contains(header, []byte("[running]")) || bytes.Contains(header, []byte("[runnable]")) {
			return true
		}
	}
	return false
}

// allStacks returns the stack of every goroutine, one element each.
func allStacks() [][]byte {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Split(buf[:n], []byte("\n\n"))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// consumerIdentities returns how the official consumer inside consumer appears
// as a receiver in goroutine stacks: "(0x…" for consumer itself and for each
// client it wraps (an instrumented consumer embeds the official one, whose
// pointer is the one its goroutines carry).
func consumerIdentities(consumer Starter) [][]byte {
	var out [][]byte
	v := reflect.ValueOf(consumer)
	for range 4 { // wrappers of wrappers, bounded
		if v.Kind() == reflect.Interface {
			v = v.Elem()
		}
		if v.Kind() != reflect.Pointer || v.IsNil() {
			break
		}
		out = append(out, []byte(fmt.Sprintf("(0x%x", v.Pointer())))
		e := v.Elem()
		if e.Kind() != reflect.Struct {
			break
		}
		next := reflect.Value{}
		for i := range e.NumField() {
			if f := e.Type().Field(i); f.Anonymous && f.Type.Kind() == reflect.Interface && f.Type.Implements(reflect.TypeFor[Starter]()) {
				next = e.Field(i)
				break
			}
		}
		if !next.IsValid() {
			break
		}
		v = next
	}
	return out
}

// memberKey names one consumer connection in one group. Requests are counted
// by connection because a client may ask for the consumer list on a connection
// before its first heartbeat there has named the client; the name is looked up
// when the counts are read.
type memberKey struct {
	cn    *conn
	group string
}

// rebalanceCount is what one broker knows of a member's rebalances.
type rebalanceCount struct {
	notified int // NOTIFY_CONSUMER_IDS_CHANGED sent to it
	asked    int // GET_CONSUMER_LIST_BY_GROUP received from it
}

func (b *Broker) rebalanceCountLocked(cn *conn, group string) *rebalanceCount {
	k := memberKey{cn, group}
	rc := b.rebalances[k]
	if rc == nil {
		rc = &rebalanceCount{}
		b.rebalances[k] = rc
	}
	return rc
}

// groupMembers returns the clientIDs registered in group on any broker.
func (c *Cluster) groupMembers(group string) map[string]bool {
	out := map[string]bool{}
	for _, b := range c.allBrokers() {
		for _, id := range b.ConsumerIDs(group) {
			out[id] = true
		}
	}
	return out
}

// heartbeatKey names one client's heartbeats on one connection.
type heartbeatKey struct {
	cn       *conn
	clientID string
}

// heartbeatRounds returns the most heartbeats of clientID that one broker
// connection carried. A client sends each round's heartbeat to every broker
// once, on its one connection there, so that is the number of rounds the
// client has made. Counted per broker instead, a relay's replay would count
// too: rmqmesh's relay replays a client connection's last heartbeat on every
// new upstream connection before any other request, so one broker can hold
// the Start round's heartbeat twice, on two connections, before the periodic
// round (see the comment at the top of this file). A replay is the first
// heartbeat on its connection, so it never makes a connection's count two.
func (c *Cluster) heartbeatRounds(clientID string) int {
	most := 0
	for _, b := range c.allBrokers() {
		b.mu.Lock()
		for k, n := range b.heartbeats {
			if k.clientID == clientID {
				most = max(most, n)
			}
		}
		b.mu.Unlock()
	}
	return most
}

// allBrokers returns every broker of the cluster, masters and replicas.
func (c *Cluster) allBrokers() []*Broker {
	var out []*Broker
	for _, s := range c.sets {
		out = append(out, s.members...)
	}
	return out
}

// waitSettled waits until every consumer of group has made the rebalances it was
// asked to make; see the comment at the top of this file.
func (c *Cluster) waitSettled(t testing.TB, group string) {
	t.Helper()
	waitDetail(t, fmt.Sprintf("the consumers of group %q to finish rebalancing", group), func() (bool, string) {
		return c.settled(group)
	})
}

// settled reports whether every member of group has sent
// GET_CONSUMER_LIST_BY_GROUP once per subscribed topic for its start and for
// every notification it was sent, or, when not, which member lags.
func (c *Cluster) settled(group string) (bool, string) {
	routed := c.routedTopics(group)
	topics, broadcasting := 0, false
	asked, notified := map[string]int{}, map[string]int{}
	for _, b := range c.allBrokers() {
		b.mu.Lock()
		if g := b.consumers[group]; g != nil {
			topics = max(topics, len(g.subs))
			broadcasting = broadcasting || g.messageModel == "BROADCASTING"
		}
		for k, rc := range b.rebalances {
			if k.group == group {
				id := k.cn.ClientID()
				asked[id] += rc.asked
				notified[id] += rc.notified
			}
		}
		b.mu.Unlock()
	}
	if routed > 0 {
		topics = routed
	}
	if broadcasting {
		// Broadcasting consumers rebalance without asking for the group.
		return true, ""
	}
	members := c.groupMembers(group)
	ids := make([]string, 0, len(members))
	for id := range members {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if want := topics * (1 + notified[id]); asked[id] < want {
			return false, fmt.Sprintf("client %q asked for the consumer list %d times, want %d (%d routed topics × (start + %d notifications));"+
				" a client never asks for a topic without a route (see WithRoutedTopics)", id, asked[id], want, topics, notified[id])
		}
	}
	return true, ""
}

// QuietClientLogs silences the official client's logger (rlog) for the rest of
// the process, so that a failing test's own message is what its output shows,
// not pages of client logs; call it from TestMain. Fatal messages still reach
// stderr. When ROCKETMQ_GO_LOG_LEVEL is set, the client's own logger stays, at
// that level, for debugging.
func QuietClientLogs() {
	if os.Getenv("ROCKETMQ_GO_LOG_LEVEL") != "" {
		return
	}
	rlog.SetLogger(quietLogger{})
}

// quietLogger is an rlog.Logger that drops everything below fatal.
type quietLogger struct{}

func (quietLogger) Debug(string, map[string]any)   {}
func (quietLogger) Info(string, map[string]any)    {}
func (quietLogger) Warning(string, map[string]any) {}
func (quietLogger) Error(string, map[string]any)   {}
func (quietLogger) Fatal(msg string, fields map[string]any) {
	fmt.Fprintln(os.Stderr, "rocketmq-client-go fatal:", msg, fields)
}
func (quietLogger) Level(string)            {}
func (quietLogger) OutputPath(string) error { return nil }
