package mesh

import (
	"context"
	"errors"
	"fmt"

	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

var _ transport.RouteProvider = (*Mesh)(nil)

// TopicRoute answers a client's route query (code 105) from the route table. It
// waits, bounded by ctx, until the xDS resources the topic depends on have arrived,
// so a client started together with the mesh does not see a spurious "no route".
func (m *Mesh) TopicRoute(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
	var sw settleWait
	for {
		// Touch on every wake-up, not once: a query that arrives before the
		// listener does cannot know yet whether it serves routes on demand, and
		// a topic not registered once it does would never settle.
		m.watch.touch(topic)
		settled, changed := m.watch.settledFor(topic, &sw)
		if settled {
			break
		}
		select {
		case <-changed:
			continue
		case <-ctx.Done():
		}
		if snap := m.table.Load(); snap == nil {
			return nil, fmt.Errorf("rmqmesh: topic %q: no configuration for listener %q yet (waiting for %s)", topic, m.listener, m.watch.pendingNames())
		}
		break
	}
	return m.routeFor(ctx, topic)
}

func (m *Mesh) routeFor(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
	snap := m.table.Load()
	if snap == nil {
		return nil, m.noSnapshotError(topic)
	}
	if topic == defaultTopicKey {
		// The official producer asks for this topic when its own has no route and
		// then sends there with auto-creation: answering it from a catch-all route
		// would let every unrouted or broken topic bypass routing.
		if r, err := snap.Match(topic, remoting.CodeSendMessage, nil); err != nil || !isExactTopicRoute(r, topic) {
			return nil, fmt.Errorf("rmqmesh: topic %q: the client's auto-create default topic is served only by a route naming it exactly in listener %q", topic, m.listener)
		}
	}
	src, err := snap.RouteSource(topic)
	if err != nil {
		return nil, err
	}
	if src.Kind != routing.SourceNameserver {
		opts, endpointErr := m.virtualAddresses(false)
		r, err := snap.GroupTopicRoute(topic, opts)
		if err == nil {
			err = endpointErr()
		}
		if err != nil {
			return nil, err
		}
		return toWire(r), nil
	}
	upstream, err := m.askNameServers(ctx, topic, src.Cluster, src.Nameservers)
	if err != nil {
		m.forwardErrs.Store(topic, err)
		return nil, err
	}
	opts, endpointErr := m.virtualAddresses(true)
	r, err := snap.RewriteRoute(topic, fromWire(upstream), opts)
	if err == nil {
		err = endpointErr()
	}
	if err != nil {
		m.forwardErrs.Store(topic, err)
		return nil, err
	}
	m.forwardErrs.Delete(topic)
	return toWire(r), nil
}

// defaultTopicKey is the official producer's CreateTopicKey default, the topic
// whose route it borrows for topics without one.
const defaultTopicKey = "TBW102"

func isExactTopicRoute(r *routing.Route, topic string) bool {
	return r != nil && r.ExactTopic() == topic
}

func (m *Mesh) noSnapshotError(topic string) error {
	m.watch.mu.Lock()
	lerr := m.watch.listenerErr
	m.watch.mu.Unlock()
	if lerr != nil {
		return fmt.Errorf("rmqmesh: topic %q: listener %q unavailable: %w", topic, m.listener, lerr)
	}
	return fmt.Errorf("rmqmesh: topic %q: no configuration for listener %q yet", topic, m.listener)
}

// askNameServers forwards a route query to the real nameservers of a cluster, in
// order, and returns the first answer.
func (m *Mesh) askNameServers(ctx context.Context, topic, cluster string, addrs []string) (*remoting.TopicRouteData, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("rmqmesh: topic %q: nameserver cluster %q of listener %q has no endpoint to ask", topic, cluster, m.listener)
	}
	var errs []error
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
		req.Opaque = m.nextOpaque()
		resp, err := transport.Call(ctx, addr, req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.Code != remoting.Success {
			errs = append(errs, fmt.Errorf("nameserver %q answered code %d: %s", addr, resp.Code, resp.Remark))
			if resp.Code == remoting.TopicNotExist {
				break // the nameservers of one cluster agree; asking the rest only adds latency
			}
			continue
		}
		r, err := remoting.DecodeTopicRouteData(resp.Body)
		if err != nil {
			errs = append(errs, fmt.Errorf("nameserver %q: %w", addr, err))
			continue
		}
		return r, nil
	}
	return nil, fmt.Errorf("rmqmesh: topic %q: no nameserver of cluster %q (listener %q) answered: %w", topic, cluster, m.listener, errors.Join(errs...))
}

func (m *Mesh) nextOpaque() int32 { return m.opaque.Add(1) }

func toWire(r *routing.TopicRouteData) *remoting.TopicRouteData {
	out := &remoting.TopicRouteData{
		OrderTopicConf:    r.OrderTopicConf,
		QueueDatas:        make([]remoting.QueueData, 0, len(r.QueueDatas)),
		BrokerDatas:       make([]remoting.BrokerData, 0, len(r.BrokerDatas)),
		FilterServerTable: map[string][]string{},
	}
	for _, q := range r.QueueDatas {
		out.QueueDatas = append(out.QueueDatas, remoting.QueueData{
			BrokerName:     q.BrokerName,
			ReadQueueNums:  int32(q.ReadQueueNums),
			WriteQueueNums: int32(q.WriteQueueNums),
			Perm:           int32(q.Perm),
			TopicSysFlag:   int32(q.TopicSysFlag),
		})
	}
	for _, b := range r.BrokerDatas {
		addrs := make(map[int64]string, len(b.BrokerAddrs))
		for id, a := range b.BrokerAddrs {
			addrs[id] = a
		}
		out.BrokerDatas = append(out.BrokerDatas, remoting.BrokerData{Cluster: b.Cluster, BrokerName: b.BrokerName, BrokerAddrs: addrs})
	}
	return out
}

func fromWire(r *remoting.TopicRouteData) *routing.TopicRouteData {
	out := &routing.TopicRouteData{OrderTopicConf: r.OrderTopicConf}
	for _, q := range r.QueueDatas {
		out.QueueDatas = append(out.QueueDatas, routing.QueueData{
			BrokerName:     q.BrokerName,
			ReadQueueNums:  int(q.ReadQueueNums),
			WriteQueueNums: int(q.WriteQueueNums),
			Perm:           int(q.Perm),
			TopicSysFlag:   int(q.TopicSysFlag),
		})
	}
	for _, b := range r.BrokerDatas {
		addrs := make(map[int64]string, len(b.BrokerAddrs))
		for id, a := range b.BrokerAddrs {
			addrs[id] = a
		}
		out.BrokerDatas = append(out.BrokerDatas, routing.BrokerData{Cluster: b.Cluster, BrokerName: b.BrokerName, BrokerAddrs: addrs})
	}
	return out
}
