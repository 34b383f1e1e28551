package meshtest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ClusterOption configures a [Cluster].
type ClusterOption func(*clusterOptions)

type brokerSpec struct {
	name     string
	replicas int
}

type topicSpec struct {
	topic  string
	queues int
}

type clusterOptions struct {
	clusterName string
	brokers     []brokerSpec
	topics      []topicSpec
	autoCreate  bool
	timeScale   float64
	logger      *slog.Logger
	accessKey   string
	secretKey   string
	// allowedClients and brokerNameRequired: see addresses.go and proxy.go.
	allowedClients     []string
	brokerNameRequired bool
	retention          int
	pop                bool // WithPop
	// brokerTLS: see tls.go.
	brokerTLS *tls.Config
}

// WithBroker adds a broker set: a master (brokerId 0) and replicas (brokerIds 1..n)
// that share the master's store. Without any WithBroker the cluster has one broker
// set "broker-a" without replicas. Adding a name twice keeps the larger replica
// count.
func WithBroker(name string, replicas int) ClusterOption {
	return func(o *clusterOptions) {
		for i := range o.brokers {
			if o.brokers[i].name == name {
				o.brokers[i].replicas = max(o.brokers[i].replicas, replicas)
				return
			}
		}
		o.brokers = append(o.brokers, brokerSpec{name: name, replicas: max(replicas, 0)})
	}
}

// WithClusterName sets the cluster name reported in routes and stored messages
// (default "DefaultCluster").
func WithClusterName(name string) ClusterOption {
	return func(o *clusterOptions) { o.clusterName = name }
}

// WithTopic creates topic with the given number of read and write queues on every
// broker set (perm read|write).
func WithTopic(topic string, queues int) ClusterOption {
	return func(o *clusterOptions) { o.topics = append(o.topics, topicSpec{topic, queues}) }
}

// WithAutoCreateTopics mirrors the broker's autoCreateTopicEnable (default true):
// the nameserver serves the TBW102 template route and a send to an unknown topic
// creates it.
func WithAutoCreateTopics(enable bool) ClusterOption {
	return func(o *clusterOptions) { o.autoCreate = enable }
}

// WithTimeScale multiplies every broker-side delay: delay levels, long-poll
// suspension, transaction check timing and lock expiry. 0.01 makes a 10 s delay
// level take 100 ms. Values <= 0 are ignored.
func WithTimeScale(scale float64) ClusterOption {
	return func(o *clusterOptions) {
		if scale > 0 {
			o.timeScale = scale
		}
	}
}

// WithLogger sets the logger; the default discards everything.
func WithLogger(l *slog.Logger) ClusterOption {
	return func(o *clusterOptions) { o.logger = l }
}

// WithACL makes the brokers verify the RocketMQ ACL signature (HMAC-SHA1 over the
// sorted extFields values and the body) of every request against one account.
func WithACL(accessKey, secretKey string) ClusterOption {
	return func(o *clusterOptions) { o.accessKey, o.secretKey = accessKey, secretKey }
}

// WithRetention bounds what a long-running cluster (a benchmark, a soak
// test) holds: each consume queue keeps about its last n messages and each
// broker and the nameserver about their last n requests. Older messages are
// deleted as a broker deletes expired commit log files: their queue offsets
// fall below the queue's min offset (a pull from there is told to move on),
// lookups by offset message id miss them, and [Cluster.Messages] and
// Requests no longer list them. n <= 0, the default, keeps everything.
func WithRetention(n int) ClusterOption {
	return func(o *clusterOptions) { o.retention = n }
}

// Cluster is an in-memory RocketMQ cluster: one nameserver and broker sets on
// 127.0.0.1 ephemeral ports, speaking the remoting protocol as Apache RocketMQ 4.9.8
// does. Its methods are safe for concurrent use.
type Cluster struct {
	// Immutable after NewCluster.
	opts clusterOptions
	log  *slog.Logger
	ns   *NameServer
	sets []*brokerSet // in WithBroker order
	byNm map[string]*brokerSet

	clock clock

	noNotify atomic.Bool // notifyConsumerIdsChangedEnable=false

	settleMu sync.Mutex
	routed   map[string]int // group → WithRoutedTopics of StartConsumer; guarded by settleMu

	tickMu    sync.Mutex // serializes tick
	wake      chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// brokerSet is the master and replicas of one broker name and their shared store.
type brokerSet struct {
	name    string
	store   *store
	members []*Broker // index = brokerId

	mu      sync.Mutex
	suggest int64 // suggestWhichBrokerId answered to pulls; guarded by mu
	// ghosts are topics deleted on the broker (215) that the nameserver
	// still routes: a delete does not re-register the broker. Guarded by mu.
	ghosts map[string]*topicConfig
	// unrouted are topics the nameserver dropped (216) until the broker
	// registers them again by creating or updating them. Guarded by mu.
	unrouted map[string]bool
}

// deleteTopic deletes the topic from the set's store, leaving the
// nameserver's route of it in place.
func (s *brokerSet) deleteTopic(topic string) {
	tc := s.store.deleteTopic(topic)
	if tc == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ghosts == nil {
		s.ghosts = map[string]*topicConfig{}
	}
	s.ghosts[topic] = tc
}

// unroute is the nameserver dropping the topic's route (216).
func (s *brokerSet) unroute(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ghosts, topic)
	if s.unrouted == nil {
		s.unrouted = map[string]bool{}
	}
	s.unrouted[topic] = true
}

// registered is the broker registering a created or updated topic with the
// nameserver (AdminBrokerProcessor.updateAndCreateTopic's
// registerIncrementBrokerData, and the registration after an automatic
// creation), which routes it again.
func (s *brokerSet) registered(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ghosts, topic)
	delete(s.unrouted, topic)
}

// routedTopic is the nameserver's view of the set's topic: its config, or nil
// when the nameserver has no route of it on this set.
func (s *brokerSet) routedTopic(topic string) *topicConfig {
	tc := s.store.topic(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unrouted[topic] {
		return nil
	}
	if tc == nil && s.ghosts[topic] != nil {
		cp := *s.ghosts[topic]
		tc = &cp
	}
	return tc
}

// routedTopics lists the topics the nameserver routes on this set.
func (s *brokerSet) routedTopics() []string {
	names := s.store.topicNames()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := names[:0]
	for _, n := range names {
		if !s.unrouted[n] {
			out = append(out, n)
		}
	}
	for n := range s.ghosts {
		out = append(out, n)
	}
	return out
}

// NewCluster starts a cluster. Close it when done.
func NewCluster(opts ...ClusterOption) (*Cluster, error) {
	o := clusterOptions{clusterName: defaultClusterName, autoCreate: true, timeScale: 1}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if len(o.brokers) == 0 {
		o.brokers = []brokerSpec{{name: defaultBrokerName}}
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Cluster{
		opts: o,
		log:  log.With("component", "meshtest"),
		byNm: make(map[string]*brokerSet),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	allow, err := allowFunc(o.allowedClients)
	if err != nil {
		return nil, err
	}
	c.ns = newNameServer(c)
	if err := c.ns.srv.start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("meshtest: starting nameserver: %w", err)
	}
	for _, spec := range o.brokers {
		set := &brokerSet{name: spec.name}
		set.store = newStore(c, set)
		set.store.createSystemTopics(o.clusterName, spec.name, o.autoCreate)
		for _, t := range o.topics {
			set.store.createTopic(&topicConfig{name: t.topic, read: int32(t.queues), write: int32(t.queues), perm: permReadWrite})
		}
		for id := 0; id <= spec.replicas; id++ {
			b := newBroker(c, set, int64(id))
			b.srv.allow = allow
			b.srv.tls.set(o.brokerTLS)
			set.members = append(set.members, b)
			if err := b.srv.start("127.0.0.1:0"); err != nil {
				c.Close()
				return nil, fmt.Errorf("meshtest: starting broker %q id %d: %w", spec.name, id, err)
			}
		}
		c.sets = append(c.sets, set)
		c.byNm[spec.name] = set
	}
	c.wg.Add(1)
	go c.run()
	return c, nil
}

// RunCluster starts a cluster and closes it when t's test ends. It fails t when
// the cluster cannot start.
func RunCluster(t testing.TB, opts ...ClusterOption) *Cluster {
	t.Helper()
	c, err := NewCluster(opts...)
	if err != nil {
		t.Fatalf("meshtest: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Close stops the nameserver and every broker and waits for all of the cluster's
// goroutines to end. It is safe to call more than once.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.wg.Wait()
		c.ns.srv.stop(false)
		for _, s := range c.sets {
			for _, b := range s.members {
				b.srv.stop(false)
			}
		}
	})
}

// NameServerAddr returns the nameserver's "127.0.0.1:port".
func (c *Cluster) NameServerAddr() string { return c.ns.Addr() }

// NameServer returns the nameserver.
func (c *Cluster) NameServer() *NameServer { return c.ns }

// Broker returns the master of the named broker set, or nil when there is none.
func (c *Cluster) Broker(name string) *Broker {
	s := c.byNm[name]
	if s == nil {
		return nil
	}
	return s.members[0]
}

// BrokerNames returns the broker set names in creation order.
func (c *Cluster) BrokerNames() []string {
	out := make([]string, len(c.sets))
	for i, s := range c.sets {
		out[i] = s.name
	}
	return out
}

// ClusterName returns the cluster name used in routes and messages.
func (c *Cluster) ClusterName() string { return c.opts.clusterName }

// Messages returns the messages stored for topic on every broker set, by broker
// set (creation order), queue id and queue offset.
func (c *Cluster) Messages(topic string) []StoredMessage {
	var out []StoredMessage
	for _, s := range c.sets {
		out = append(out, s.store.messages(topic)...)
	}
	return out
}

// ConsumerOffset returns the committed offset of group on queueID of topic,
// searching every broker set; ok is false when no set has one.
func (c *Cluster) ConsumerOffset(group, topic string, queueID int) (offset int64, ok bool) {
	for _, s := range c.sets {
		if off, found := s.store.consumerOffset(group, topic, int32(queueID)); found {
			return off, true
		}
	}
	return 0, false
}

// ConsumerOffsets returns the committed offsets of group on topic, keyed by broker
// name and queue id.
func (c *Cluster) ConsumerOffsets(group, topic string) map[string]map[int]int64 {
	out := map[string]map[int]int64{}
	for _, s := range c.sets {
		if m := s.store.consumerOffsets(group, topic); len(m) > 0 {
			out[s.name] = m
		}
	}
	return out
}

// FastForward advances the cluster's clock by d: delayed messages, transaction
// checks, lock expiry and suspended pulls due within d happen now. It returns once
// the due work has been done.
func (c *Cluster) FastForward(d time.Duration) {
	c.clock.advance(d)
	c.tick()
}

// Now returns the cluster's clock: wall time plus everything FastForward added.
func (c *Cluster) Now() time.Time { return c.clock.now() }

// scaled applies the time scale to a broker-side duration.
func (c *Cluster) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) * c.opts.timeScale)
}

// kick wakes the scheduler early, e.g. after a new suspended pull.
func (c *Cluster) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// tickInterval bounds how late timed work (delays, checks, pull timeouts) runs.
const tickInterval = 10 * time.Millisecond

// run is the cluster's one timer goroutine.
func (c *Cluster) run() {
	defer c.wg.Done()
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		case <-c.wake:
		}
		c.tick()
	}
}

// tick runs every due piece of timed work once.
func (c *Cluster) tick() {
	c.tickMu.Lock()
	defer c.tickMu.Unlock()
	now := c.clock.now()
	for _, s := range c.sets {
		s.store.deliverScheduled(now)
		s.store.checkTransactions(now)
		for _, b := range s.members {
			b.expirePulls(now)
		}
	}
}

// clock is the cluster's injectable clock: wall time plus an offset.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (k *clock) now() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return time.Now().Add(k.offset)
}

func (k *clock) advance(d time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if d > 0 {
		k.offset += d
	}
}

// routeFor builds the route of topic from every broker set whose store has it and
// whose members are running, in creation order. ok is false when no set has it.
func (c *Cluster) routeFor(topic string) (qds []queueDataView, bds []brokerDataView) {
	for _, s := range c.sets {
		tc := s.routedTopic(topic)
		if tc == nil {
			continue
		}
		addrs := map[int64]string{}
		for _, b := range s.members {
			if b.srv.registered() {
				addrs[b.id] = b.Addr()
			}
		}
		if len(addrs) == 0 {
			continue
		}
		qds = append(qds, queueDataView{brokerName: s.name, read: tc.read, write: tc.write, perm: tc.perm, sysFlag: tc.sysFlag})
		bds = append(bds, brokerDataView{name: s.name, addrs: addrs})
	}
	return qds, bds
}

type queueDataView struct {
	brokerName                 string
	read, write, perm, sysFlag int32
}

type brokerDataView struct {
	name  string
	addrs map[int64]string
}

// allBrokerAddrs lists the registered members of every set.
func (c *Cluster) allBrokerAddrs() []brokerDataView {
	var out []brokerDataView
	for _, s := range c.sets {
		addrs := map[int64]string{}
		for _, b := range s.members {
			if b.srv.registered() {
				addrs[b.id] = b.Addr()
			}
		}
		if len(addrs) > 0 {
			out = append(out, brokerDataView{name: s.name, addrs: addrs})
		}
	}
	return out
}

// Topics returns the topics known to any broker set, sorted.
func (c *Cluster) Topics() []string {
	seen := map[string]bool{}
	for _, s := range c.sets {
		for _, t := range s.store.topicNames() {
			seen[t] = true
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ErrClosed is returned by operations on a closed cluster.
var ErrClosed = errors.New("meshtest: cluster closed")

// CreateConsumerGroup creates the group's retry topic (%RETRY%group, one queue) on
// every broker set, as a broker does at the group's first heartbeat. The Go client
// looks the retry topic's route up before its first heartbeat and then only every
// 30 s, so a brand-new group gets no retries until then; creating the group first
// is what a long-lived deployment looks like.
func (c *Cluster) CreateConsumerGroup(group string) {
	for _, s := range c.sets {
		s.store.ensureGroup(group)
		s.store.createTopicIfAbsent(&topicConfig{name: RetryTopicPrefix + group, read: 1, write: 1, perm: permReadWrite})
	}
}

// SetNotifyConsumerIDsChanged turns NOTIFY_CONSUMER_IDS_CHANGED (40) on (the
// default) or off on every broker, as the broker setting
// notifyConsumerIdsChangedEnable does: with it off, consumers learn of a group's
// new or departed members only at their own periodic rebalance (20 s in the Go
// client). It returns the previous setting.
func (c *Cluster) SetNotifyConsumerIDsChanged(on bool) (was bool) {
	return !c.noNotify.Swap(!on)
}

// notifying reports whether brokers notify consumers of membership changes.
func (c *Cluster) notifying() bool { return !c.noNotify.Load() }

// CreateTopic creates or updates topic with the given number of read and write
// queues on every broker set.
func (c *Cluster) CreateTopic(topic string, queues int) {
	for _, s := range c.sets {
		s.store.createTopic(&topicConfig{name: topic, read: int32(queues), write: int32(queues), perm: permReadWrite})
	}
}

// anyRegistered reports whether a member of the set is registered with the
// nameserver.
func (s *brokerSet) anyRegistered() bool {
	for _, b := range s.members {
		if b.srv.registered() {
			return true
		}
	}
	return false
}

// WithPop makes brokers answer POP_MESSAGE (200050) and ACK_MESSAGE (200051)
// minimally, for tests written against RocketMQ 5's pop consumption. Off by
// default: a 4.9.8 broker answers both with REQUEST_CODE_NOT_SUPPORTED.
func WithPop(enable bool) ClusterOption {
	return func(o *clusterOptions) { o.pop = enable }
}
