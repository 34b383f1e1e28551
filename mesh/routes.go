package mesh

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

var (
	_ transport.RouteProvider       = (*Mesh)(nil)
	_ transport.RouteProvider       = clientQueries{}
	_ transport.ClusterInfoProvider = clientQueries{}
)

// TopicRoute answers a route query (code 105) for topic from the route table,
// as the mesh's clients see it. It waits, bounded by ctx, until the xDS
// resources the topic depends on have arrived, so a client started together
// with the mesh does not see a spurious "no route"; when the mesh knows they
// cannot come for now (see [WithFailFast]) it answers at once.
//
// The clients' own queries, through the mesh's nameserver endpoint, also
// share one route timeout per topic (see [WithRouteTimeout]).
func (m *Mesh) TopicRoute(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
	m.awaitConfig(ctx, topic, false, m.answerReserve(ctx))
	return m.routeFor(ctx, topic)
}

// answerReserve is how long before ctx's deadline a route query stops
// waiting for configuration, to answer with what is in force: a fifth of the
// route timeout, or of the time ctx leaves if that is shorter. Forwarding to
// nameservers, which the fallback of a topic without its own route may do,
// fits in it.
func (m *Mesh) answerReserve(ctx context.Context) time.Duration {
	r := m.routeTimeout / 5
	if dl, ok := ctx.Deadline(); ok {
		r = min(r, time.Until(dl)/5)
	}
	return max(r, 0)
}

// clientQueries serves the nameserver endpoint, which the official clients
// query. Unlike a direct [Mesh.TopicRoute] caller, a client repeats a failed
// route query up to six times per send, each with a deadline of its own: the
// waits for one topic share one route timeout here, so that a send without
// configuration fails after about one route timeout rather than six.
type clientQueries struct{ m *Mesh }

// TopicRoute implements [transport.RouteProvider]. Its errors become the
// remark of the client's TOPIC_NOT_EXIST answer; they start with "mesh: " or
// "routing: ", the part of rmqmesh that decided.
func (q clientQueries) TopicRoute(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
	q.m.awaitConfig(ctx, topic, true, q.m.answerReserve(ctx))
	return q.m.routeFor(ctx, topic)
}

// ClusterInfo implements [transport.ClusterInfoProvider].
func (q clientQueries) ClusterInfo(ctx context.Context) (*remoting.ClusterInfo, error) {
	return q.m.ClusterInfo(ctx)
}

// awaitConfig waits until the xDS resources topic depends on ("" for the
// listener's configuration alone) have answered and a snapshot built from the
// answers is in the table, or the mesh knows they cannot come for now, or it
// is reserve before ctx's deadline (ctx's end without a deadline): the time
// left to answer with what is in force, which for a topic whose own route
// never comes is the listener's fallback and may be forwarded to
// nameservers. With budgeted, it also stops once the waits for the same
// thing have spent one route timeout together (see
// [watchState.routeWaitDeadline]).
func (m *Mesh) awaitConfig(ctx context.Context, topic string, budgeted bool, reserve time.Duration) {
	var sw settleWait
	for {
		if topic != "" {
			// Touch on every wake-up, not once: a query that arrives before
			// the listener does cannot know yet whether it serves routes on
			// demand, and a topic not registered once it does would never
			// settle.
			m.watch.touch(topic)
		}
		r := m.watch.readiness(topic, &sw)
		if r.done {
			return
		}
		var until time.Time
		if dl, ok := ctx.Deadline(); ok && reserve > 0 {
			until = dl.Add(-reserve)
		}
		if budgeted {
			deadline, ok := m.watch.routeWaitDeadline(r.key, m.routeTimeout)
			if !ok {
				return
			}
			if until.IsZero() || deadline.Before(until) {
				until = deadline
			}
		}
		var (
			timer  *time.Timer
			stopAt <-chan time.Time
		)
		if !until.IsZero() {
			wait := time.Until(until)
			if wait <= 0 {
				return
			}
			timer = time.NewTimer(wait)
			stopAt = timer.C
		}
		stop := false
		select {
		case <-r.changed:
		case <-stopAt:
			stop = true
		case <-ctx.Done():
			stop = true
		}
		if timer != nil {
			timer.Stop()
		}
		if stop {
			return
		}
	}
}

func (m *Mesh) routeFor(ctx context.Context, topic string) (_ *remoting.TopicRouteData, err error) {
	defer func() { m.recordRouteAnswer(ctx, topic, err) }()
	snap := m.table.Load()
	if snap == nil {
		return nil, m.noSnapshotError(topic)
	}
	if topic == remoting.AutoCreateTopicKey {
		// The official producer asks for this topic when its own has no route and
		// then sends there with auto-creation: answering it from a catch-all route
		// would let every unrouted or broken topic bypass routing.
		if r, err := snap.Match(topic, remoting.CodeSendMessage, nil); err != nil || !isExactTopicRoute(r, topic) {
			return nil, fmt.Errorf("mesh: topic %q: the client's auto-create default topic is served only by a route naming it exactly in listener %q", topic, m.listener)
		}
	}
	src, err := snap.RouteSource(topic)
	if err != nil {
		return nil, err
	}
	switch src.Kind {
	case routing.SourceGroup:
		return m.groupRouteFor(ctx, snap, topic, src)
	case routing.SourceSynthesize:
		opts, endpointErr := m.virtualAddresses(nil)
		r, err := snap.GroupTopicRoute(topic, opts)
		if err == nil {
			err = endpointErr()
		}
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	upstream, err := m.askNameServers(ctx, topic, src.Cluster, src.Nameservers)
	if err != nil {
		m.forwardErrs.Store(topic, err)
		return nil, err
	}
	opts, endpointErr := m.virtualAddresses(fromCluster(src.Cluster))
	r, err := snap.RewriteRoute(topic, upstream, opts)
	if err == nil {
		err = endpointErr()
	}
	if err != nil {
		m.forwardErrs.Store(topic, err)
		return nil, err
	}
	m.forwardErrs.Delete(topic)
	return r, nil
}

// groupRouteFor answers a group's retry or dead-letter topic that no route
// names from every nameserver cluster the routes lead to: they know which
// brokers hold it. A cluster that fails to answer (or does not know the topic
// yet) only leaves its brokers out.
func (m *Mesh) groupRouteFor(ctx context.Context, snap *routing.Snapshot, topic string, src routing.Source) (*remoting.TopicRouteData, error) {
	var (
		answers []*remoting.TopicRouteData
		errs    []error
	)
	clusterOf := map[string]string{} // broker name → the cluster whose nameservers named it
	for _, u := range src.Upstreams {
		r, err := m.askNameServers(ctx, topic, u.Cluster, u.Nameservers)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		answers = append(answers, r)
		for _, b := range r.BrokerDatas {
			if _, seen := clusterOf[b.BrokerName]; !seen {
				clusterOf[b.BrokerName] = u.Cluster
			}
		}
	}
	opts, endpointErr := m.virtualAddresses(func(broker string) (string, bool) {
		c, ok := clusterOf[broker]
		return c, ok
	})
	r, err := snap.RewriteGroupRoute(topic, answers, opts)
	if err != nil && len(errs) > 0 {
		return nil, fmt.Errorf("%w; %w", err, errors.Join(errs...))
	}
	if err == nil {
		err = endpointErr()
	}
	return r, err
}

func isExactTopicRoute(r *routing.Route, topic string) bool {
	return r != nil && r.ExactTopic() == topic
}

// noSnapshotError says why there is no route table to answer topic from.
func (m *Mesh) noSnapshotError(topic string) error {
	if lerr := m.watch.listenerError(); lerr != nil {
		return fmt.Errorf("mesh: topic %q: listener %q unavailable: %w", topic, m.listener, lerr)
	}
	return fmt.Errorf("mesh: topic %q: no configuration for listener %q yet (waiting for %s)", topic, m.listener, m.watch.pendingNames())
}

// askNameServers forwards a route query to the real nameservers of a cluster, in
// order, and returns the first answer.
func (m *Mesh) askNameServers(ctx context.Context, topic, cluster string, addrs []string) (*remoting.TopicRouteData, error) {
	if len(addrs) == 0 {
		return nil, fmt.Errorf("mesh: topic %q: nameserver cluster %q of listener %q has no endpoint to ask", topic, cluster, m.listener)
	}
	var errs []error
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
		req.Opaque = m.nextOpaque()
		resp, err := transport.Call(ctx, addr, req, transport.CallTLS(cluster, m.tls.provider(cluster)))
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
	return nil, fmt.Errorf("mesh: topic %q: no nameserver of cluster %q (listener %q) answered: %w", topic, cluster, m.listener, errors.Join(errs...))
}

func (m *Mesh) nextOpaque() int32 { return m.opaque.Add(1) }
