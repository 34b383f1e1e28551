package discovery_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

func newPoller(t *testing.T, ns []discovery.NameServer, opts ...discovery.Option) *discovery.Poller {
	t.Helper()
	p, err := discovery.New(ns, append([]discovery.Option{discovery.WithTimeout(2 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// Against meshtest's wire-faithful nameserver: brokers and replicas from 106,
// queue data from 105, a stopped broker kept as lost, a restarted one back.
func TestPoller_MeshtestCluster(t *testing.T) {
	c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 1), meshtest.WithBroker("broker-b", 0),
		meshtest.WithTopic("orders", 4), meshtest.WithClusterName("ProdCluster"))
	c.Broker("broker-b").CreateTopic("wide", 16)
	p := newPoller(t, []discovery.NameServer{discovery.Remote(c.NameServerAddr())})
	ctx := ctxT(t)
	p.SetTopics([]string{"orders", "wide", "missing"})
	p.Poll(ctx)
	v := p.View()
	want := []discovery.Broker{
		{Cluster: "ProdCluster", Name: "broker-a", ID: 0, Addr: c.Broker("broker-a").Addr(), Registered: true},
		{Cluster: "ProdCluster", Name: "broker-a", ID: 1, Addr: c.Broker("broker-a").Replica(1).Addr(), Registered: true},
		{Cluster: "ProdCluster", Name: "broker-b", ID: 0, Addr: c.Broker("broker-b").Addr(), Registered: true},
	}
	if diff := cmp.Diff(v.Brokers, want); diff != "" || !v.Synced {
		t.Errorf("brokers (-got +want), synced %v:\n%s", v.Synced, diff)
	}
	wantTopics := map[string]discovery.Topic{
		"orders":  {Exists: true, Queues: []discovery.QueueData{{BrokerName: "broker-a", Read: 4, Write: 4, Perm: 6}, {BrokerName: "broker-b", Read: 4, Write: 4, Perm: 6}}},
		"wide":    {Exists: true, Queues: []discovery.QueueData{{BrokerName: "broker-b", Read: 16, Write: 16, Perm: 6}}},
		"missing": {},
	}
	if diff := cmp.Diff(v.Topics, wantTopics); diff != "" {
		t.Errorf("topics (-got +want):\n%s", diff)
	}
	if q, ok := v.Topics["orders"].Queue("broker-b"); !ok || q.Write != 4 {
		t.Errorf("Queue(broker-b) = %+v, %v", q, ok)
	}

	c.Broker("broker-b").Stop()
	p.Poll(ctx)
	b, _ := p.View().Broker("broker-b", 0)
	if b.Registered || b.Addr != want[2].Addr {
		t.Errorf("stopped broker-b: %+v; want kept at its address, not registered", b)
	}
	if err := c.Broker("broker-b").Restart(); err != nil {
		t.Fatal(err)
	}
	p.Poll(ctx)
	if b, _ := p.View().Broker("broker-b", 0); !b.Registered {
		t.Errorf("restarted broker-b: %+v; want registered", b)
	}

	p.TakeChanges()
	p.SetTopics([]string{"orders"})
	if _, ok := p.View().Topics["wide"]; ok {
		t.Error("a topic no longer asked for stays in the view")
	}
	brokers, topics := p.TakeChanges()
	slices.Sort(topics)
	if brokers || !slices.Equal(topics, []string{"missing", "wide"}) {
		t.Errorf("changes after dropping wide and missing: brokers %v, topics %v", brokers, topics)
	}
}

// Changes are reported per topic, so a follower need not compare views.
func TestPoller_TakeChanges(t *testing.T) {
	ns := &fakeNS{addr: "ns:9876"}
	ns.set(info("C", map[string]map[int64]string{"a": {0: "10.0.0.1:10911"}}), nil)
	route := func(n int32) *remoting.TopicRouteData {
		return &remoting.TopicRouteData{
			QueueDatas:  []remoting.QueueData{{BrokerName: "a", ReadQueueNums: n, WriteQueueNums: n, Perm: 6}},
			BrokerDatas: []remoting.BrokerData{{BrokerName: "a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}}},
		}
	}
	ns.rds = map[string]*remoting.TopicRouteData{"t1": route(4), "t2": route(4)}
	p := newPoller(t, []discovery.NameServer{ns}, discovery.WithTopicRefresh(time.Nanosecond))
	p.SetTopics([]string{"t1", "t2"})
	ctx := ctxT(t)
	p.Poll(ctx)
	brokers, topics := p.TakeChanges()
	slices.Sort(topics)
	if !brokers || !slices.Equal(topics, []string{"t1", "t2"}) {
		t.Errorf("first poll: brokers %v, topics %v", brokers, topics)
	}
	ns.mu.Lock()
	ns.rds["t2"] = route(8)
	ns.mu.Unlock()
	p.Poll(ctx)
	if brokers, topics := p.TakeChanges(); brokers || !slices.Equal(topics, []string{"t2"}) {
		t.Errorf("after t2 changed: brokers %v, topics %v", brokers, topics)
	}
	if tp, ok := p.Topic("t2"); !ok || tp.Queues[0].Write != 8 {
		t.Errorf("Topic(t2) = %+v, %v", tp, ok)
	}
	if bs, synced := p.Brokers(); !synced || len(bs) != 1 {
		t.Errorf("Brokers() = %v, %v", bs, synced)
	}
}

// A first ask that fails is reported once, as a change, and in Failed, so
// a control plane holding a client's first answer stops waiting; a later
// answer clears it, and a failure after an answer keeps the answer.
func TestPoller_FailedFirstAsk(t *testing.T) {
	ns := &fakeNS{addr: "ns:9876", topicErr: map[string]error{"t1": errors.New("nameserver busy")}}
	ns.set(info("C", map[string]map[int64]string{"a": {0: "10.0.0.1:10911"}}), nil)
	ns.rds = map[string]*remoting.TopicRouteData{"t1": {
		QueueDatas:  []remoting.QueueData{{BrokerName: "a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
		BrokerDatas: []remoting.BrokerData{{BrokerName: "a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}}},
	}}
	p := newPoller(t, []discovery.NameServer{ns}, discovery.WithTopicRefresh(time.Nanosecond))
	ctx := ctxT(t)
	p.SetTopics([]string{"t1"})
	p.Poll(ctx)
	if _, topics := p.TakeChanges(); !p.Failed("t1") || !slices.Equal(topics, []string{"t1"}) {
		t.Errorf("after a failed first ask: Failed %v, changes %v", p.Failed("t1"), topics)
	}
	if _, ok := p.Topic("t1"); ok {
		t.Error("a failed ask gave t1 an answer")
	}
	p.Poll(ctx)
	if _, topics := p.TakeChanges(); !p.Failed("t1") || len(topics) != 0 {
		t.Errorf("failing again: Failed %v, changes %v; want no new change", p.Failed("t1"), topics)
	}
	ns.mu.Lock()
	delete(ns.topicErr, "t1")
	ns.mu.Unlock()
	p.Poll(ctx)
	if _, ok := p.Topic("t1"); !ok || p.Failed("t1") {
		t.Errorf("after an answer: answered %v, Failed %v", ok, p.Failed("t1"))
	}
	ns.mu.Lock()
	ns.topicErr["t1"] = errors.New("nameserver busy")
	ns.mu.Unlock()
	p.Poll(ctx)
	if _, ok := p.Topic("t1"); !ok || p.Failed("t1") {
		t.Errorf("failing after an answer: answered %v, Failed %v; want the answer kept", ok, p.Failed("t1"))
	}
	p.SetTopics(nil)
	p.SetTopics([]string{"t1"})
	p.Poll(ctx)
	p.SetTopics(nil)
	if p.Failed("t1") {
		t.Error("a topic no longer wanted is still Failed")
	}
}

// fakeNS is a NameServer whose answers the test sets.
type fakeNS struct {
	addr string
	mu   sync.Mutex
	info *remoting.ClusterInfo
	err  error
	rds  map[string]*remoting.TopicRouteData
	asks map[string]int
	// topicErr fails the route queries of a topic.
	topicErr map[string]error
}

func (f *fakeNS) Addr() string { return f.addr }

func (f *fakeNS) ClusterInfo(context.Context) (*remoting.ClusterInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.info, f.err
}

func (f *fakeNS) TopicRoute(_ context.Context, topic string) (*remoting.TopicRouteData, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asks == nil {
		f.asks = map[string]int{}
	}
	f.asks[topic]++
	if f.err != nil {
		return nil, f.err
	}
	if err := f.topicErr[topic]; err != nil {
		return nil, err
	}
	rd, ok := f.rds[topic]
	if !ok {
		return nil, fmt.Errorf("fake %s: %w", f.addr, discovery.ErrTopicNotExist)
	}
	return rd, nil
}

func (f *fakeNS) set(info *remoting.ClusterInfo, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.info, f.err = info, err
}

func info(cluster string, brokers map[string]map[int64]string) *remoting.ClusterInfo {
	ci := &remoting.ClusterInfo{BrokerAddrTable: map[string]remoting.BrokerData{}, ClusterAddrTable: map[string][]string{}}
	for name, addrs := range brokers {
		ci.BrokerAddrTable[name] = remoting.BrokerData{Cluster: cluster, BrokerName: name, BrokerAddrs: addrs}
		ci.ClusterAddrTable[cluster] = append(ci.ClusterAddrTable[cluster], name)
	}
	return ci
}

// Lying nameservers: conflicting addresses, one address for two brokers,
// malformed addresses, clusters naming brokers without addresses, routes
// naming brokers without addresses. What cannot be trusted is left out and
// each problem is reported.
func TestPoller_LyingNameservers(t *testing.T) {
	ns1 := &fakeNS{addr: "ns1:9876"}
	ns2 := &fakeNS{addr: "ns2:9876"}
	i1 := info("C", map[string]map[int64]string{"a": {0: "10.0.0.1:10911"}, "b": {0: "10.0.0.2:10911", 1: "bad-address", 2: "10.0.0.1:10911"}})
	i1.ClusterAddrTable["C"] = append(i1.ClusterAddrTable["C"], "ghost")
	ns1.set(i1, nil)
	ns2.set(info("C", map[string]map[int64]string{"a": {0: "10.0.0.9:10911"}, "c": {0: "10.0.0.3:10911"}}), nil)
	ns1.rds = map[string]*remoting.TopicRouteData{"t": {
		QueueDatas:  []remoting.QueueData{{BrokerName: "a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}, {BrokerName: "nobody", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
		BrokerDatas: []remoting.BrokerData{{BrokerName: "a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}}},
	}}
	p := newPoller(t, []discovery.NameServer{ns1, ns2})
	p.SetTopics([]string{"t"})
	p.Poll(ctxT(t))
	v := p.View()
	var got []string
	for _, b := range v.Brokers {
		got = append(got, fmt.Sprintf("%s/%d@%s", b.Name, b.ID, b.Addr))
	}
	if diff := cmp.Diff(got, []string{"a/0@10.0.0.1:10911", "b/0@10.0.0.2:10911", "c/0@10.0.0.3:10911"}); diff != "" {
		t.Errorf("brokers (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(v.Topics["t"].Queues, []discovery.QueueData{{BrokerName: "a", Read: 4, Write: 4, Perm: 6}}); diff != "" {
		t.Errorf("queues of t (-got +want):\n%s", diff)
	}
	problems := strings.Join(p.Status().Problems, "\n")
	for _, want := range []string{
		`nameservers "ns1:9876" and "ns2:9876" disagree on broker "a" id 0: 10.0.0.1:10911`,
		`nameserver "ns1:9876": broker "b" id 1: address "bad-address"`,
		`nameserver "ns1:9876" gives broker "b" id 2 the address 10.0.0.1:10911 of broker "a" id 0`,
		`nameserver "ns1:9876" lists broker "ghost" in cluster "C" but gives no addresses for it`,
		`nameserver "ns1:9876": route of topic "t" has queues on broker "nobody" but no addresses for it`,
	} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
}

// When every nameserver fails the last good view stays and each failure is
// reported; a nameserver that answers again clears its error.
func TestPoller_FailuresKeepLastGoodView(t *testing.T) {
	ns := &fakeNS{addr: "ns:9876"}
	ns.set(info("C", map[string]map[int64]string{"a": {0: "10.0.0.1:10911"}}), nil)
	ns.rds = map[string]*remoting.TopicRouteData{"t": {
		QueueDatas:  []remoting.QueueData{{BrokerName: "a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
		BrokerDatas: []remoting.BrokerData{{BrokerName: "a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}}},
	}}
	p := newPoller(t, []discovery.NameServer{ns}, discovery.WithTopicRefresh(time.Nanosecond))
	p.SetTopics([]string{"t"})
	ctx := ctxT(t)
	p.Poll(ctx)
	good := p.View()
	ns.set(nil, errors.New("garbage frame"))
	p.Poll(ctx)
	p.Poll(ctx)
	if diff := cmp.Diff(p.View(), good); diff != "" {
		t.Errorf("view changed while every nameserver failed (-got +want):\n%s", diff)
	}
	st := p.Status().NameServers[0]
	if st.Failures != 2 || !strings.Contains(st.LastError, "garbage frame") {
		t.Errorf("status %+v; want 2 failures naming the error", st)
	}
	ns.set(info("C", map[string]map[int64]string{"a": {0: "10.0.0.1:10911"}}), nil)
	p.Poll(ctx)
	if st := p.Status().NameServers[0]; st.Failures != 0 || st.LastError != "" || st.LastOK.IsZero() {
		t.Errorf("status after recovery %+v", st)
	}
}

// The real codec path: unreachable nameservers and ones that answer garbage
// are errors naming the nameserver, and the second nameserver is used.
func TestRemote_GarbageAndUnreachable(t *testing.T) {
	garbage := listen(t, func(c net.Conn) {
		buf := make([]byte, 1024)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("\x00\x00\x00\x10garbage garbage!"))
	})
	closed := listen(t, nil)
	closedAddr := closed.Addr().String()
	closed.Close()
	c := meshtest.RunCluster(t, meshtest.WithTopic("orders", 4))
	ctx := ctxT(t)
	for _, addr := range []string{garbage.Addr().String(), closedAddr} {
		if _, err := discovery.Remote(addr).ClusterInfo(ctx); err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("ClusterInfo from %s: %v; want an error naming it", addr, err)
		}
		if _, err := discovery.Remote(addr).TopicRoute(ctx, "orders"); err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("TopicRoute from %s: %v; want an error naming it", addr, err)
		}
	}
	p := newPoller(t, []discovery.NameServer{discovery.Remote(garbage.Addr().String()), discovery.Remote(c.NameServerAddr())})
	p.SetTopics([]string{"orders"})
	p.Poll(ctx)
	if v := p.View(); len(v.Brokers) != 1 || !v.Topics["orders"].Exists {
		t.Errorf("view %+v; want the good nameserver's", v)
	}
	if st := p.Status().NameServers[0]; st.Failures != 1 {
		t.Errorf("garbage nameserver status %+v", st)
	}
}

func listen(t *testing.T, serve func(net.Conn)) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if serve != nil {
					serve(c)
				}
			})
		}
	})
	return l
}

// Run asks a new topic at once, without waiting for the interval, and
// signals the change.
func TestPoller_RunAsksNewTopicsAtOnce(t *testing.T) {
	ns := &fakeNS{addr: "ns:9876"}
	ns.set(info("C", map[string]map[int64]string{"a": {0: "10.0.0.1:10911"}}), nil)
	ns.rds = map[string]*remoting.TopicRouteData{"t": {
		QueueDatas:  []remoting.QueueData{{BrokerName: "a", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}},
		BrokerDatas: []remoting.BrokerData{{BrokerName: "a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}}},
	}}
	p := newPoller(t, []discovery.NameServer{ns}, discovery.WithInterval(time.Hour))
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.After(meshtest.DefaultTimeout)
	for !p.View().Synced {
		select {
		case <-p.Changed():
		case <-deadline:
			t.Fatal("no first poll")
		}
	}
	p.SetTopics([]string{"t"})
	for !p.View().Topics["t"].Exists {
		select {
		case <-p.Changed():
		case <-deadline:
			t.Fatal("new topic not asked within the deadline (interval is an hour)")
		}
	}
}

func TestNew_NoNameserver(t *testing.T) {
	if _, err := discovery.New(nil); err == nil {
		t.Error("New without nameservers succeeded")
	}
}
