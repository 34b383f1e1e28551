package meshtest

import (
	"maps"
	"net/netip"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// StoredMessage is one message as a broker set stored it.
type StoredMessage struct {
	BrokerName      string
	Topic           string
	QueueID         int
	QueueOffset     int64
	CommitLogOffset int64
	// MsgID is the offset message id (store host + commit log offset) the broker
	// returned to the producer.
	MsgID string
	// UniqKey is the producer's message id (the UNIQ_KEY property), "" for batch
	// members from the Go client.
	UniqKey                   string
	Tags                      string
	Keys                      string
	Body                      []byte
	Properties                map[string]string
	Flag                      int32
	SysFlag                   int32
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	BornTime                  time.Time
	StoreTime                 time.Time
}

// topicConfig is one topic on one broker set.
type topicConfig struct {
	name                       string
	read, write, perm, sysFlag int32
	order                      bool
}

func (t *topicConfig) String() string {
	return "TopicConfig [topicName=" + t.name + ", readQueueNums=" + strconv.Itoa(int(t.read)) +
		", writeQueueNums=" + strconv.Itoa(int(t.write)) + ", perm=" + permString(t.perm) +
		", topicFilterType=SINGLE_TAG, topicSysFlag=" + strconv.Itoa(int(t.sysFlag)) +
		", order=" + strconv.FormatBool(t.order) + "]"
}

// permString is PermName.perm2String.
func permString(p int32) string {
	b := []byte("---")
	if p&remoting.PermRead != 0 {
		b[0] = 'R'
	}
	if p&remoting.PermWrite != 0 {
		b[1] = 'W'
	}
	if p&remoting.PermInherit != 0 {
		b[2] = 'X'
	}
	return string(b)
}

// storedMsg is a message in the commit log: the decoded record, its parsed
// properties and its encoded bytes (what a pull returns).
type storedMsg struct {
	m     remoting.Message
	props map[string]string
	raw   []byte
}

type mqKey struct {
	topic, broker string
	qid           int32
}

type lockEntry struct {
	clientID string
	last     time.Time
}

type scheduledMsg struct {
	due time.Time
	msg *storedMsg
}

// halfState tracks one transactional half message across its re-appended copies.
type halfState struct {
	latest    *storedMsg
	group     string
	nextCheck time.Time
	checks    int
	resolved  bool
}

// consumeQueue is one consume queue: its messages from queue offset base on.
// Offsets below base were deleted by retention (WithRetention).
type consumeQueue struct {
	base int64
	msgs []*storedMsg
}

// maxOffset is one past the last queue offset.
func (q *consumeQueue) maxOffset() int64 { return q.base + int64(len(q.msgs)) }

// queueKey names one consume queue.
type queueKey struct {
	topic string
	qid   int32
}

// store is the in-memory message store of one broker set, shared by its master
// and replicas: commit log, consume queues, topics, consumer offsets, locks,
// scheduled and half messages.
type store struct {
	c   *Cluster
	set *brokerSet

	mu        sync.Mutex
	topics    map[string]*topicConfig
	queues    map[string][]*consumeQueue
	byPhy     map[int64]*storedMsg
	nextPhy   int64
	offsets   map[string]map[int32]int64 // "topic@group" -> queue -> offset
	locks     map[string]map[mqKey]*lockEntry
	scheduled []scheduledMsg
	halves    map[int64]*halfState // by commit log offset of every copy

	groups        map[string]subscriptionGroupConfig
	groupsVersion dataVersion
}

func newStore(c *Cluster, set *brokerSet) *store {
	s := &store{
		c: c, set: set,
		topics:  make(map[string]*topicConfig),
		queues:  make(map[string][]*consumeQueue),
		byPhy:   make(map[int64]*storedMsg),
		offsets: make(map[string]map[int32]int64),
		locks:   make(map[string]map[mqKey]*lockEntry),
		halves:  make(map[int64]*halfState),
	}
	s.initGroupsLocked()
	return s
}

// createTopic creates or updates a topic; the broker registers it with the
// nameserver at once.
func (s *store) createTopic(tc *topicConfig) {
	s.mu.Lock()
	cp := *tc
	s.topics[tc.name] = &cp
	s.mu.Unlock()
	s.set.registered(tc.name)
}

// deleteTopic removes a topic's config and consume queues and returns the
// config it had, or nil. The commit log keeps the records (as 4.9.8's
// cleanUnusedTopic keeps them), unreachable by topic.
func (s *store) deleteTopic(name string) *topicConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	tc := s.topics[name]
	delete(s.topics, name)
	delete(s.queues, name)
	return tc
}

// createTopicIfAbsent creates the topic unless it exists and returns the config.
func (s *store) createTopicIfAbsent(tc *topicConfig) *topicConfig {
	s.mu.Lock()
	if t := s.topics[tc.name]; t != nil {
		cp := *t
		s.mu.Unlock()
		return &cp
	}
	cp := *tc
	s.topics[tc.name] = &cp
	out := cp
	s.mu.Unlock()
	s.set.registered(tc.name)
	return &out
}

// topic returns a copy of the topic's config, or nil.
func (s *store) topic(name string) *topicConfig {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[name]
	if t == nil {
		return nil
	}
	cp := *t
	return &cp
}

func (s *store) topicNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.topics))
	for n := range s.topics {
		out = append(out, n)
	}
	return out
}

// storeHost is the master's address, the store host of every stored message.
func (s *store) storeHost() netip.AddrPort {
	ap, _ := netip.ParseAddrPort(s.set.members[0].Addr())
	return ap
}

// put appends one message as CommitLog.asyncPutMessage does: a delay level moves it
// to SCHEDULE_TOPIC_XXXX. The CLUSTER property must already be in props. Waiting
// pulls are woken after the lock is released.
func (s *store) put(m *remoting.Message, props map[string]string) *storedMsg {
	s.mu.Lock()
	sm := s.putLocked(m, props)
	s.mu.Unlock()
	s.wake(sm)
	return sm
}

func (s *store) putLocked(m *remoting.Message, props map[string]string) *storedMsg {
	tt := remoting.TransactionType(m.SysFlag)
	if tt == 0 || tt == remoting.SysFlagTransactionCommit {
		if lvl, _ := strconv.Atoi(props[remoting.PropertyDelayLevel]); lvl > 0 {
			if lvl > maxDelayLevel {
				lvl = maxDelayLevel
				props[remoting.PropertyDelayLevel] = strconv.Itoa(lvl)
			}
			props[remoting.PropertyRealTopic] = m.Topic
			props[remoting.PropertyRealQueueID] = strconv.Itoa(int(m.QueueID))
			m.Topic = ScheduleTopic
			m.QueueID = int32(lvl - 1)
			sm := s.appendLocked(m, props)
			due := time.UnixMilli(sm.m.StoreTimestamp).Add(s.c.scaled(DelayLevel(lvl)))
			s.scheduled = append(s.scheduled, scheduledMsg{due: due, msg: sm})
			return sm
		}
	}
	return s.appendLocked(m, props)
}

// appendLocked writes the record to the commit log and its consume queue.
func (s *store) appendLocked(in *remoting.Message, props map[string]string) *storedMsg {
	m := *in
	qs := s.queues[m.Topic]
	for int(m.QueueID) >= len(qs) {
		qs = append(qs, &consumeQueue{})
	}
	q := qs[m.QueueID]
	m.QueueOffset = q.maxOffset()
	m.CommitLogOffset = s.nextPhy
	m.StoreTimestamp = s.c.clock.now().UnixMilli()
	m.StoreHost = s.storeHost()
	m.Properties = remoting.FormatProperties(props)
	raw := remoting.AppendMessage(nil, &m)
	m.StoreSize = int32(len(raw))
	sm := &storedMsg{m: m, props: props, raw: raw}
	q.msgs = append(q.msgs, sm)
	s.queues[m.Topic] = qs
	s.byPhy[m.CommitLogOffset] = sm
	s.nextPhy += int64(len(raw))
	s.retainLocked(q)
	return sm
}

// retainLocked deletes the oldest messages of q beyond the cluster's retention,
// as a broker deletes expired commit log files: their offsets fall below the
// queue's min offset and lookups by commit log offset no longer find them. It
// deletes in steps of a quarter of the retention, so that a queue at its limit
// is not trimmed on every append.
func (s *store) retainLocked(q *consumeQueue) {
	keep := s.c.opts.retention
	if keep <= 0 || len(q.msgs) <= keep+max(keep/4, 1) {
		return
	}
	drop := len(q.msgs) - keep
	for _, sm := range q.msgs[:drop] {
		delete(s.byPhy, sm.m.CommitLogOffset)
	}
	clear(q.msgs[:drop]) // the backing array outlives the slice until append grows it
	q.msgs = q.msgs[drop:]
	q.base += int64(drop)
}

// wake tells every member of the set that a queue grew.
func (s *store) wake(sm *storedMsg) {
	if sm == nil {
		return
	}
	k := queueKey{sm.m.Topic, sm.m.QueueID}
	for _, b := range s.set.members {
		b.wakePulls(k)
	}
}

// queueRange returns the min and max offsets of a queue (max is one past the last).
func (s *store) queueRange(topic string, qid int32) (minOff, maxOff int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	qs := s.queues[topic]
	if int(qid) < len(qs) && qid >= 0 {
		return qs[qid].base, qs[qid].maxOffset()
	}
	return 0, 0
}

// read returns up to n messages of a queue from offset.
func (s *store) read(topic string, qid int32, offset int64, n int) []*storedMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	qs := s.queues[topic]
	if qid < 0 || int(qid) >= len(qs) {
		return nil
	}
	q := qs[qid]
	if offset < q.base || offset >= q.maxOffset() {
		return nil
	}
	i := offset - q.base
	end := min(i+int64(n), int64(len(q.msgs)))
	return append([]*storedMsg(nil), q.msgs[i:end]...)
}

// byOffset returns the message at a commit log offset.
func (s *store) byOffset(off int64) *storedMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byPhy[off]
}

// searchOffset returns the first queue offset stored at or after ts (ms), or the
// max offset when every message is older.
func (s *store) searchOffset(topic string, qid int32, ts int64) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	qs := s.queues[topic]
	if qid < 0 || int(qid) >= len(qs) {
		return 0
	}
	q := qs[qid]
	i := sort.Search(len(q.msgs), func(i int) bool { return q.msgs[i].m.StoreTimestamp >= ts })
	return q.base + int64(i)
}

func (s *store) setOffset(group, topic string, qid int32, off int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := topic + "@" + group
	m := s.offsets[k]
	if m == nil {
		m = make(map[int32]int64)
		s.offsets[k] = m
	}
	m[qid] = off
}

func (s *store) consumerOffset(group, topic string, qid int32) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	off, ok := s.offsets[topic+"@"+group][qid]
	return off, ok
}

func (s *store) consumerOffsets(group, topic string) map[int]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int64{}
	for q, off := range s.offsets[topic+"@"+group] {
		out[int(q)] = off
	}
	return out
}

// messages returns the topic's stored messages by queue and offset.
func (s *store) messages(topic string) []StoredMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StoredMessage
	for _, q := range s.queues[topic] {
		for _, sm := range q.msgs {
			out = append(out, s.view(sm))
		}
	}
	return out
}

func (s *store) view(sm *storedMsg) StoredMessage {
	m := &sm.m
	return StoredMessage{
		BrokerName:                s.set.name,
		Topic:                     m.Topic,
		QueueID:                   int(m.QueueID),
		QueueOffset:               m.QueueOffset,
		CommitLogOffset:           m.CommitLogOffset,
		MsgID:                     remoting.OffsetMsgID(m.StoreHost, m.CommitLogOffset),
		UniqKey:                   sm.props[remoting.PropertyUniqKey],
		Tags:                      sm.props[remoting.PropertyTags],
		Keys:                      sm.props[remoting.PropertyKeys],
		Body:                      append([]byte(nil), m.Body...),
		Properties:                maps.Clone(sm.props),
		Flag:                      m.Flag,
		SysFlag:                   m.SysFlag,
		ReconsumeTimes:            m.ReconsumeTimes,
		PreparedTransactionOffset: m.PreparedTransactionOffset,
		BornTime:                  time.UnixMilli(m.BornTimestamp),
		StoreTime:                 time.UnixMilli(m.StoreTimestamp),
	}
}

// deliverScheduled moves due delayed messages to their real topic, as
// ScheduleMessageService.messageTimeup does: same body and properties, DELAY
// included (4.9.8 clears it from the property map after it has copied the
// properties string it stores).
func (s *store) deliverScheduled(now time.Time) {
	s.mu.Lock()
	var woke []*storedMsg
	kept := s.scheduled[:0]
	for _, e := range s.scheduled {
		if e.due.After(now) {
			kept = append(kept, e)
			continue
		}
		props := maps.Clone(e.msg.props)
		m := e.msg.m
		m.Topic = props[remoting.PropertyRealTopic]
		qid, _ := strconv.Atoi(props[remoting.PropertyRealQueueID])
		m.QueueID = int32(qid)
		m.SysFlag = e.msg.m.SysFlag
		woke = append(woke, s.appendLocked(&m, props))
	}
	clear(s.scheduled[len(kept):])
	s.scheduled = kept
	s.mu.Unlock()
	for _, sm := range woke {
		s.wake(sm)
	}
}

// createSystemTopics creates the topics a 4.9.8 broker has from its start
// (TopicConfigManager's constructor, with BrokerConfig's defaults:
// clusterTopicEnable and brokerTopicEnable on, traceTopicEnable off), so that
// they are routed as on a real cluster. The reply topic
// (<cluster>_REPLY_TOPIC, one queue on 4.9.8) is left to be created by the
// first reply: routes the mesh synthesizes from broker endpoints give every
// topic the same queue count, which a one-queue reply topic refuses (see
// README, known differences).
func (s *store) createSystemTopics(cluster, broker string, autoCreate bool) {
	s.createTopic(&topicConfig{name: selfTestTopic, read: 1, write: 1, perm: permReadWrite})
	if autoCreate {
		s.createTopic(&topicConfig{name: DefaultTopicKey, read: defaultTopicQueueNums, write: defaultTopicQueueNums, perm: permInheritReadWrite})
	}
	s.createTopic(&topicConfig{name: benchmarkTopic, read: 1024, write: 1024, perm: permReadWrite})
	s.createTopic(&topicConfig{name: cluster, read: 16, write: 16, perm: permInheritReadWrite})
	s.createTopic(&topicConfig{name: broker, read: 1, write: 1, perm: permInheritReadWrite})
	s.createTopic(&topicConfig{name: offsetMovedTopic, read: 1, write: 1, perm: permReadWrite})
	s.createTopic(&topicConfig{name: ScheduleTopic, read: maxDelayLevel, write: maxDelayLevel, perm: permReadWrite})
}
