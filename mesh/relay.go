package mesh

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// relayRouter answers the relay's routing questions from the mesh's current
// snapshot: the routing decisions stay in the routing package and the mesh's
// selector; the relay only asks.
type relayRouter struct {
	m *Mesh
	// index caches, per snapshot, every routed broker's endpoints by name.
	index atomic.Pointer[brokerIndex]
	// discovered holds the brokers of routes fetched from nameservers, whose
	// addresses only the nameservers' answers know.
	discovered discoveredBrokers
}

var _ transport.Router = (*relayRouter)(nil)

// brokerIndex is every broker some route of one snapshot leads to, with the
// endpoints a client may use.
type brokerIndex struct {
	snap   *routing.Snapshot
	byName map[string]remoting.BrokerData
	names  []string // sorted
	// clusterOf is the xDS cluster of each broker, whose TLS setting
	// applies to requests that reach it without a route (BrokerData's
	// Cluster is the RocketMQ cluster name).
	clusterOf map[string]string
}

func (r *relayRouter) brokers(snap *routing.Snapshot) *brokerIndex {
	if idx := r.index.Load(); idx != nil && idx.snap == snap {
		return idx
	}
	idx := &brokerIndex{snap: snap, byName: map[string]remoting.BrokerData{}, clusterOf: snap.BrokerClusters()}
	for _, b := range snap.RoutedBrokers(routing.RouteDataOptions{}) {
		idx.byName[b.BrokerName] = b
		idx.names = append(idx.names, b.BrokerName)
	}
	sort.Strings(idx.names)
	r.index.Store(idx)
	return idx
}

// Route implements transport.Router: route picks the endpoint, and the
// target carries its cluster's TLS setting and relay policy (a broker learnt
// from a nameserver cluster's answer gets that cluster's).
func (r *relayRouter) Route(q *transport.Query) (transport.Target, error) {
	t, err := r.route(q)
	if err == nil && t.Cluster != "" {
		t.TLS = r.m.tls.provider(t.Cluster)
		if t.Policy == nil {
			t.Policy = r.m.policy(t.Cluster)
		}
	}
	return t, err
}

func (r *relayRouter) route(q *transport.Query) (transport.Target, error) {
	snap := r.m.table.Load()
	if snap == nil {
		return transport.Target{}, r.m.noSnapshotError(q.Topic)
	}
	switch q.Kind {
	case transport.KindWrite:
		return r.write(snap, q)
	case transport.KindRead:
		return r.read(snap, q)
	case transport.KindEndpoint:
		// A heartbeat reaches the member behind the endpoint, else the
		// master, else any member: a replica serves pulls only to clients
		// whose heartbeat it holds.
		if t, ok := r.member(snap, q.Broker, q.BrokerID, q); ok {
			return t, nil
		}
		if t, ok := r.member(snap, q.Broker, 0, q); ok {
			return t, nil
		}
		if t, ok := r.anyMember(snap, q.Broker, q); ok {
			return t, nil
		}
	case transport.KindMasterOrReplica:
		if t, ok := r.member(snap, q.Broker, 0, q); ok {
			return t, nil
		}
		if t, ok := r.anyMember(snap, q.Broker, q); ok {
			return t, nil
		}
		return transport.Target{}, fmt.Errorf("mesh: broker %q has no master or readable replica routed in listener %q", q.Broker, r.m.listener)
	case transport.KindAnyMaster:
		if t, ok := r.member(snap, q.Broker, 0, q); ok && !q.Avoided(q.Broker, "") {
			return t, nil
		}
		idx := r.brokers(snap)
		for _, name := range idx.names {
			if t, ok := r.member(snap, name, 0, q); ok && !q.Avoided(name, "") {
				return t, nil
			}
		}
		if t, ok := r.anyMember(snap, q.Broker, q); ok {
			return t, nil
		}
		return transport.Target{}, fmt.Errorf("mesh: no broker master is routed in listener %q", r.m.listener)
	}
	if t, ok := r.member(snap, q.Broker, 0, q); ok {
		return t, nil
	}
	return transport.Target{}, fmt.Errorf("mesh: broker %q has no routed master in listener %q", q.Broker, r.m.listener)
}

// write keeps the broker the client's selector chose when the route's subset has
// it writable, and otherwise takes the route's pick: the selector already
// applied the weights, so they are not applied twice.
func (r *relayRouter) write(snap *routing.Snapshot, q *transport.Query) (transport.Target, error) {
	rt, err := snap.MatchHeaders(q.Topic, q.Code, q)
	if err != nil {
		if routing.KindOf(err) == routing.KindNoRoute && remoting.IsGroupTopic(q.Topic) {
			// Retry and dead-letter topics live wherever the group's
			// messages were served (see Snapshot.GroupTopicRoute).
			if t, ok := r.member(snap, q.Broker, 0, q); ok && !q.Avoided(q.Broker, "") {
				return t, nil
			}
		}
		return transport.Target{}, err
	}
	if rt.IsNameserver() {
		if t, ok := r.discovered.member(q.Broker, 0); ok && !q.Avoided(q.Broker, t.Addr) {
			return t, nil // Route adds the policy of the cluster the broker was learnt from
		}
		return transport.Target{}, fmt.Errorf("mesh: topic %q: broker %q has no master in the nameservers' answers of cluster %q", q.Topic, q.Broker, rt.Cluster())
	}
	if t, ok := r.writableMaster(rt, q.Broker); ok && !q.Avoided(q.Broker, t.Addr) {
		return t, nil
	}
	// A send with a sharding key goes where every producer sends the key
	// (Route.PickWriteBrokerByKey), so that keys stay together when the
	// relay must re-decide.
	if key, ok := shardingKey(q); ok {
		if name, err := rt.PickWriteBrokerByKey(routing.KeyHash(key), q.Avoid); err == nil {
			if t, ok := r.writableMaster(rt, name); ok && !q.Avoided(name, t.Addr) {
				return t, nil
			}
		}
	}
	rnd := q.Rand
	for range 4 {
		name, err := rt.PickWriteBroker(rnd)
		if err != nil {
			return transport.Target{}, err
		}
		if t, ok := r.writableMaster(rt, name); ok && !q.Avoided(name, t.Addr) {
			return t, nil
		}
		rnd = rand.Uint64()
	}
	for _, name := range rt.WritableBrokers() {
		if t, ok := r.writableMaster(rt, name); ok && !q.Avoided(name, t.Addr) {
			return t, nil
		}
	}
	return transport.Target{}, fmt.Errorf("routing: topic %q: cluster %q: no writable broker other than %q (%s)", q.Topic, rt.Cluster(), q.Avoid, rt)
}

// shardingKey returns the sharding key of a send, if it has one.
func shardingKey(q *transport.Query) (string, bool) {
	for _, field := range []string{"properties", "i"} {
		if props, ok := q.Header(field); ok {
			key, ok := remoting.ParseProperties(props)[primitive.PropertyShardingKey]
			return key, ok && key != ""
		}
	}
	return "", false
}

func (r *relayRouter) writableMaster(rt *routing.Route, name string) (transport.Target, bool) {
	g, ok := rt.Broker(name)
	if !ok || !g.Writable() {
		return transport.Target{}, false
	}
	m, _ := g.Master()
	return transport.Target{Broker: name, Addr: m.Address, Cluster: rt.Cluster(), Policy: r.m.policy(rt.Cluster())}, true
}

// read keeps the member the client addressed (the broker's suggestion) when it
// is readable in the route's subset, else another readable member of that
// broker, the master first.
func (r *relayRouter) read(snap *routing.Snapshot, q *transport.Query) (transport.Target, error) {
	rt, err := snap.MatchHeaders(q.Topic, q.Code, q)
	if err != nil {
		if routing.KindOf(err) == routing.KindNoRoute && remoting.IsGroupTopic(q.Topic) {
			if t, ok := r.member(snap, q.Broker, q.BrokerID, q); ok {
				return t, nil
			}
			if t, ok := r.member(snap, q.Broker, 0, q); ok {
				return t, nil
			}
			if t, ok := r.anyMember(snap, q.Broker, q); ok {
				return t, nil
			}
		}
		return transport.Target{}, err
	}
	if rt.IsNameserver() {
		for _, id := range []int64{q.BrokerID, 0} {
			if t, ok := r.discovered.member(q.Broker, id); ok && !q.Avoided("", t.Addr) {
				return t, nil
			}
		}
		return transport.Target{}, fmt.Errorf("mesh: topic %q: broker %q is not in the nameservers' answers of cluster %q", q.Topic, q.Broker, rt.Cluster())
	}
	g, ok := rt.Broker(q.Broker)
	if !ok {
		return transport.Target{}, fmt.Errorf("routing: topic %q: cluster %q: broker %q is not in the route's subset (%s)", q.Topic, rt.Cluster(), q.Broker, rt)
	}
	policy := r.m.policy(rt.Cluster())
	if m, ok := g.Member(q.BrokerID); ok && m.Readable() && !q.Avoided("", m.Address) {
		return transport.Target{Broker: g.Name, Addr: m.Address, Cluster: rt.Cluster(), BrokerID: m.BrokerID, Policy: policy}, nil
	}
	for i := range g.Members {
		if m := &g.Members[i]; m.Readable() && !q.Avoided("", m.Address) {
			return transport.Target{Broker: g.Name, Addr: m.Address, Cluster: rt.Cluster(), BrokerID: m.BrokerID, Policy: policy}, nil
		}
	}
	return transport.Target{}, fmt.Errorf("routing: topic %q: cluster %q: broker %q has no readable member left (%s)", q.Topic, rt.Cluster(), q.Broker, rt)
}

// member returns broker name's endpoint id among the routed brokers (those
// that may take requests), or among the brokers the nameservers answered
// with, unless q avoids its address.
func (r *relayRouter) member(snap *routing.Snapshot, name string, id int64, q *transport.Query) (transport.Target, bool) {
	idx := r.brokers(snap)
	if b, ok := idx.byName[name]; ok {
		if addr, ok := b.BrokerAddrs[id]; ok && !q.Avoided("", addr) {
			cluster := idx.clusterOf[name]
			return transport.Target{Broker: name, Addr: addr, Cluster: cluster, BrokerID: id, Policy: r.m.policy(cluster)}, true
		}
	}
	if t, ok := r.discovered.member(name, id); ok && !q.Avoided("", t.Addr) {
		return t, true
	}
	return transport.Target{}, false
}

// anyMember returns a routed member of broker name that q does not avoid,
// the lowest brokerId first: for requests a replica answers when the master
// cannot.
func (r *relayRouter) anyMember(snap *routing.Snapshot, name string, q *transport.Query) (transport.Target, bool) {
	idx := r.brokers(snap)
	b, ok := idx.byName[name]
	if !ok {
		return transport.Target{}, false
	}
	ids := make([]int64, 0, len(b.BrokerAddrs))
	for id := range b.BrokerAddrs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if t, ok := r.member(snap, name, id, q); ok {
			return t, true
		}
	}
	return transport.Target{}, false
}

// Routed implements transport.Router.
func (r *relayRouter) Routed(name string) bool {
	snap := r.m.table.Load()
	if snap != nil {
		if _, ok := r.brokers(snap).byName[name]; ok {
			return true
		}
	}
	return r.discovered.has(name)
}

// Serves implements transport.Router.
func (r *relayRouter) Serves(name, addr string) bool {
	if snap := r.m.table.Load(); snap != nil {
		for _, a := range r.brokers(snap).byName[name].BrokerAddrs {
			if a == addr {
				return true
			}
		}
	}
	return r.discovered.serves(name, addr)
}

// discoveredTTL is how long a broker learned from a nameserver's answer stays
// routed without being seen again: the official client asks for every topic
// it uses every 30 s.
const discoveredTTL = 5 * time.Minute

// discoveredBrokers remembers the brokers of route answers the mesh fetched
// from real nameservers (and rewrote to virtual addresses).
type discoveredBrokers struct {
	mu sync.Mutex
	m  map[string]discovered
}

type discovered struct {
	cluster string
	addrs   map[int64]string
	seen    time.Time
}

func (d *discoveredBrokers) add(name, cluster string, id int64, addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[string]discovered)
	}
	e, ok := d.m[name]
	if !ok || time.Since(e.seen) > discoveredTTL {
		e = discovered{addrs: make(map[int64]string)}
	}
	e.cluster, e.seen = cluster, time.Now()
	e.addrs[id] = addr
	d.m[name] = e
}

func (d *discoveredBrokers) member(name string, id int64) (transport.Target, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[name]
	if !ok || time.Since(e.seen) > discoveredTTL {
		return transport.Target{}, false
	}
	addr, ok := e.addrs[id]
	return transport.Target{Broker: name, Addr: addr, Cluster: e.cluster, BrokerID: id}, ok
}

func (d *discoveredBrokers) has(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[name]
	return ok && time.Since(e.seen) <= discoveredTTL
}

func (d *discoveredBrokers) serves(name, addr string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[name]
	if !ok || time.Since(e.seen) > discoveredTTL {
		return false
	}
	for _, a := range e.addrs {
		if a == addr {
			return true
		}
	}
	return false
}

// virtualAddresses returns the route data options that give the client the
// relay's virtual endpoints for intercepted brokers, and a function that
// reports the first endpoint that could not be started. learn, when set,
// records the real addresses of brokers from nameservers' answers, with the
// nameserver cluster each came from (whose TLS setting the relay then uses
// for them); it reports false for a broker not to record. Without a relay
// (the direct data path everywhere) the client gets real addresses.
func (m *Mesh) virtualAddresses(learn func(broker string) (cluster string, ok bool)) (routing.RouteDataOptions, func() error) {
	if m.relay == nil {
		return routing.RouteDataOptions{}, func() error { return nil }
	}
	var firstErr error
	opts := routing.RouteDataOptions{KeepMaster: learn == nil, AddressOf: func(name string, id int64, real string) string {
		addr, err := m.relay.Endpoint(name, id)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			return real
		}
		if learn != nil {
			if cluster, ok := learn(name); ok {
				m.router.discovered.add(name, cluster, id, real)
			}
		}
		return addr
	}}
	return opts, func() error {
		if firstErr != nil {
			return fmt.Errorf("mesh: no virtual endpoint for a broker: %w", firstErr)
		}
		return nil
	}
}

// fromCluster is a virtualAddresses learn function for the answer of one
// nameserver cluster.
func fromCluster(cluster string) func(string) (string, bool) {
	return func(string) (string, bool) { return cluster, true }
}

// relayUpdated tells the relay that the route table changed, so that
// endpoints of brokers no longer routed are released and upstreams whose
// address left drain.
func (m *Mesh) relayUpdated() {
	if m.relay != nil {
		m.relay.Update()
	}
}

// DataPath reports the data path the mesh gives clusters whose metadata does
// not choose one.
func (m *Mesh) DataPath() routing.DataPath { return m.dataPath }

// relayEndpoints describes the relay's virtual endpoints for dumps, by address.
func (m *Mesh) relayEndpoints() map[string]string {
	if m.relay == nil {
		return nil
	}
	out := map[string]string{}
	for addr, ep := range m.relay.Endpoints() {
		out[addr] = ep.BrokerName + "/" + strconv.FormatInt(ep.BrokerID, 10)
	}
	return out
}
