package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Option configures a [Poller].
type Option func(*options)

type options struct {
	interval     time.Duration
	topicRefresh time.Duration
	timeout      time.Duration
	concurrency  int
	logger       *slog.Logger
	observe      func(Event)
	now          func() time.Time
}

// WithInterval sets how often brokers are polled (default 5 s, well under the
// official client's 30 s route poll). Values <= 0 keep the default.
func WithInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.interval = d
		}
	}
}

// WithTopicRefresh sets how often the queue data of a topic already known is
// asked again (default 30 s); a topic asked for the first time is asked at
// once. Values <= 0 keep the default.
func WithTopicRefresh(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.topicRefresh = d
		}
	}
}

// WithTimeout bounds each request to a nameserver (default 3 s).
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithConcurrency bounds the topic queries in flight (default 16).
func WithConcurrency(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.concurrency = n
		}
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithObserver calls f after every request to a nameserver, for metrics. f
// must not block.
func WithObserver(f func(Event)) Option {
	return func(o *options) { o.observe = f }
}

// Event describes one request to a nameserver.
type Event struct {
	NameServer string
	// Code is the request code: 106 or 105.
	Code int32
	// Err is nil on success; a topic that does not exist is a success.
	Err error
}

// NameServerStatus is the health of one nameserver as discovery sees it.
type NameServerStatus struct {
	Addr string `json:"addr"`
	// LastOK is the time of the last answered broker query.
	LastOK time.Time `json:"last_ok,omitzero"`
	// Failures counts broker queries failed in a row.
	Failures int `json:"failures"`
	// LastError is the error of the last failed query, cleared on success.
	LastError string `json:"last_error,omitempty"`
}

// Status is what discovery reports about itself.
type Status struct {
	NameServers []NameServerStatus `json:"nameservers"`
	// Problems are the inconsistencies the last poll found in the
	// nameservers' answers (conflicts, routes naming unknown brokers, bad
	// addresses); what they concern was left out of the view.
	Problems []string `json:"problems,omitempty"`
	// LastPoll is when the last broker poll ended.
	LastPoll time.Time `json:"last_poll,omitzero"`
}

// Poller keeps a [View] of the cluster by polling nameservers: brokers
// (code 106) every interval, and the queue data (code 105) of the topics
// set with [Poller.SetTopics]. When every nameserver fails it keeps the last
// good view; each failure and each inconsistency is logged once and shown in
// [Poller.Status].
type Poller struct {
	// Immutable after New.
	ns      []NameServer
	o       options
	log     *slog.Logger
	kick    chan struct{} // a new topic is wanted
	changed chan struct{} // capacity 1: the view changed

	mu           sync.Mutex // guards everything below
	brokers      []Broker   // replaced, never modified
	synced       bool
	topics       map[string]Topic
	wanted       map[string]bool
	due          map[string]time.Time // next ask per answered topic
	inFlight     map[string]bool
	failed       map[string]bool     // wanted, never answered, last ask failed
	dirtyTopics  map[string]struct{} // changed since TakeChanges
	dirtyBrokers bool
	status       []NameServerStatus
	problems     map[string]bool // reported problems of the current polls
	topicPbs     map[string][]string
	brokerPb     []string
	lastPoll     time.Time
	rand         *rand.Rand
}

// New returns a Poller for nameservers, in the order they are asked.
func New(nameservers []NameServer, opts ...Option) (*Poller, error) {
	if len(nameservers) == 0 {
		return nil, errors.New("discovery: no nameserver to poll")
	}
	o := options{interval: 5 * time.Second, topicRefresh: 30 * time.Second, timeout: 3 * time.Second, concurrency: 16, now: time.Now}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	p := &Poller{
		ns: nameservers, o: o, log: o.logger.With("component", "discovery"),
		kick: make(chan struct{}, 1), changed: make(chan struct{}, 1),
		topics: map[string]Topic{}, wanted: map[string]bool{}, due: map[string]time.Time{}, inFlight: map[string]bool{}, failed: map[string]bool{},
		dirtyTopics: map[string]struct{}{}, problems: map[string]bool{}, topicPbs: map[string][]string{},
		rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0)),
	}
	for _, n := range nameservers {
		p.status = append(p.status, NameServerStatus{Addr: n.Addr()})
	}
	return p, nil
}

// View returns a copy of what is known now. It costs a copy of every
// topic's entry: a control plane following changes uses [Poller.Brokers],
// [Poller.Topic] and [Poller.TakeChanges] instead.
func (p *Poller) View() *View {
	p.mu.Lock()
	defer p.mu.Unlock()
	return &View{Brokers: p.brokers, Topics: maps.Clone(p.topics), Synced: p.synced}
}

// Brokers returns the brokers (which must not be modified) and whether
// some nameserver has answered yet.
func (p *Poller) Brokers() ([]Broker, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.brokers, p.synced
}

// Topic returns what the nameservers said of topic, if they answered.
func (p *Poller) Topic(topic string) (Topic, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.topics[topic]
	return t, ok
}

// Failed reports whether topic was asked for and no nameserver answered,
// with no earlier answer to keep: what a client waiting for its first
// answer will not get soon. It is cleared by an answer; a failed topic is
// asked again at the next poll.
func (p *Poller) Failed(topic string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed[topic]
}

// TakeChanges returns what changed since the last call: whether the brokers
// did, and the topics whose answer changed, appeared or was dropped.
func (p *Poller) TakeChanges() (brokers bool, topics []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	brokers, p.dirtyBrokers = p.dirtyBrokers, false
	topics = slices.Collect(maps.Keys(p.dirtyTopics))
	clear(p.dirtyTopics)
	return brokers, topics
}

// Changed returns a channel that receives after the view changed.
func (p *Poller) Changed() <-chan struct{} { return p.changed }

// Status returns the nameservers' health and the current problems.
func (p *Poller) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Status{NameServers: slices.Clone(p.status), LastPoll: p.lastPoll}
	s.Problems = append(s.Problems, p.brokerPb...)
	for _, t := range slices.Sorted(maps.Keys(p.topicPbs)) {
		s.Problems = append(s.Problems, p.topicPbs[t]...)
	}
	return s
}

// SetTopics sets the topics whose queue data is kept. Topics new to the set
// are asked at once (by Run); topics left out are dropped.
func (p *Poller) SetTopics(topics []string) {
	want := make(map[string]bool, len(topics))
	var add, remove []string
	for _, t := range topics {
		want[t] = true
	}
	p.mu.Lock()
	for t := range want {
		if !p.wanted[t] {
			add = append(add, t)
		}
	}
	for t := range p.wanted {
		if !want[t] {
			remove = append(remove, t)
		}
	}
	p.mu.Unlock()
	p.UpdateTopics(add, remove)
}

// UpdateTopics adds topics to the set whose queue data is kept (asked at
// once by Run) and removes others.
func (p *Poller) UpdateTopics(add, remove []string) {
	p.mu.Lock()
	dropped, added := false, false
	for _, t := range remove {
		if !p.wanted[t] {
			continue
		}
		delete(p.wanted, t)
		delete(p.due, t)
		delete(p.topicPbs, t)
		delete(p.failed, t)
		if _, ok := p.topics[t]; ok {
			delete(p.topics, t)
			p.dirtyTopics[t] = struct{}{}
			dropped = true
		}
	}
	for _, t := range add {
		if !p.wanted[t] {
			p.wanted[t] = true
			added = true
		}
	}
	p.mu.Unlock()
	if dropped {
		p.signal()
	}
	if added {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// Run polls until ctx ends: brokers and due topics every interval, new topics
// as soon as they are set.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.o.interval)
	defer t.Stop()
	p.Poll(ctx)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			p.Poll(ctx)
		case <-p.kick:
			p.pollTopics(ctx)
		}
	}
}

// Poll runs one round: brokers, then every topic due.
func (p *Poller) Poll(ctx context.Context) {
	p.pollBrokers(ctx)
	p.pollTopics(ctx)
}

type nsAnswer struct {
	addr string
	info *remoting.ClusterInfo
}

func (p *Poller) pollBrokers(ctx context.Context) {
	answers := make([]*remoting.ClusterInfo, len(p.ns))
	errs := make([]error, len(p.ns))
	var wg sync.WaitGroup
	for i, n := range p.ns {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, p.o.timeout)
			defer cancel()
			answers[i], errs[i] = n.ClusterInfo(cctx)
			p.observe(n.Addr(), remoting.CodeGetBrokerClusterInfo, errs[i])
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // shutting down: not the nameservers' fault
	}
	var ok []nsAnswer
	now := p.o.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, n := range p.ns {
		st := &p.status[i]
		if errs[i] != nil {
			if st.Failures == 0 {
				p.log.Warn("nameserver unreachable or unreadable; keeping what the others or the last poll said", "nameserver", n.Addr(), "err", errs[i])
			}
			st.Failures++
			st.LastError = errs[i].Error()
			continue
		}
		if st.Failures > 0 {
			p.log.Info("nameserver answers again", "nameserver", n.Addr(), "after_failures", st.Failures)
		}
		st.Failures, st.LastError, st.LastOK = 0, "", now
		ok = append(ok, nsAnswer{n.Addr(), answers[i]})
	}
	p.lastPoll = now
	if len(ok) == 0 {
		return
	}
	merged, problems := mergeClusterInfo(ok)
	p.brokerPb = problems
	p.reportLocked(problems)
	// A broker no answer mentions any more is lost: kept, marked, at its
	// last address.
	for _, b := range p.brokers {
		k := brokerKey{b.Name, b.ID}
		if _, ok := merged[k]; !ok {
			if b.Registered {
				p.log.Warn("broker stopped registering", "broker", b.Name, "id", b.ID, "addr", b.Addr)
			}
			b.Registered = false
			merged[k] = b
		}
	}
	brokers := slices.SortedFunc(maps.Values(merged), compareBrokers)
	if p.synced && slices.Equal(brokers, p.brokers) {
		return
	}
	p.brokers, p.synced, p.dirtyBrokers = brokers, true, true
	p.signal()
}

// pollTopics asks every wanted topic that is due: never answered, or
// answered a refresh interval ago. Each answer is applied as it comes, so a
// change is seen without waiting for the rest of a large round.
func (p *Poller) pollTopics(ctx context.Context) {
	now := p.o.now()
	p.mu.Lock()
	var due []string
	for t := range p.wanted {
		next, answered := p.due[t]
		if !p.inFlight[t] && (!answered || !now.Before(next)) {
			due = append(due, t)
			p.inFlight[t] = true
		}
	}
	p.mu.Unlock()
	if len(due) == 0 {
		return
	}
	slices.Sort(due)
	sem := make(chan struct{}, p.o.concurrency)
	var wg sync.WaitGroup
	for _, topic := range due {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			t, pbs, err := p.askTopic(ctx, topic)
			p.applyTopic(topic, t, pbs, err)
		})
	}
	wg.Wait()
}

// applyTopic records one answer. A failed ask keeps the last answer.
func (p *Poller) applyTopic(topic string, t Topic, problems []string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inFlight, topic)
	if !p.wanted[topic] {
		return // dropped meanwhile
	}
	if err != nil {
		// The last answer, if any, stays. A first ask that failed is a
		// change for whoever waits for it.
		if _, answered := p.topics[topic]; !answered && !p.failed[topic] {
			p.failed[topic] = true
			p.dirtyTopics[topic] = struct{}{}
			p.signal()
		}
		return
	}
	delete(p.failed, topic)
	// Jitter spreads the next asks of topics first asked together.
	refresh := float64(p.o.topicRefresh) * (0.9 + 0.2*p.rand.Float64())
	p.due[topic] = p.o.now().Add(time.Duration(refresh))
	if len(problems) > 0 {
		p.topicPbs[topic] = problems
		p.reportLocked(problems)
	} else {
		delete(p.topicPbs, topic)
	}
	if old, ok := p.topics[topic]; ok && old.Equal(t) {
		return
	}
	p.topics[topic] = t
	p.dirtyTopics[topic] = struct{}{}
	p.signal()
}

// askTopic asks the nameservers in order until one answers.
func (p *Poller) askTopic(ctx context.Context, topic string) (Topic, []string, error) {
	var errs []error
	for _, n := range p.ns {
		cctx, cancel := context.WithTimeout(ctx, p.o.timeout)
		rd, err := n.TopicRoute(cctx, topic)
		cancel()
		if errors.Is(err, ErrTopicNotExist) {
			p.observe(n.Addr(), remoting.CodeGetRouteInfoByTopic, nil)
			return Topic{}, nil, nil
		}
		p.observe(n.Addr(), remoting.CodeGetRouteInfoByTopic, err)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		t, problems := topicFromRoute(n.Addr(), topic, rd)
		return t, problems, nil
	}
	err := fmt.Errorf("discovery: no nameserver answered for topic %q: %w", topic, errors.Join(errs...))
	if ctx.Err() == nil {
		p.log.Debug("topic route unavailable; keeping the last answer", "topic", topic, "err", err)
	}
	return Topic{}, nil, err
}

// reportLocked logs each problem the first time it is seen.
func (p *Poller) reportLocked(problems []string) {
	for _, pb := range problems {
		if !p.problems[pb] {
			p.problems[pb] = true
			p.log.Warn("inconsistent nameserver answer", "problem", pb)
		}
	}
}

func (p *Poller) observe(ns string, code int32, err error) {
	if p.o.observe != nil {
		p.o.observe(Event{NameServer: ns, Code: code, Err: err})
	}
}

func (p *Poller) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}
