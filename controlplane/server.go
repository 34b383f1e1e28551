package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/policy"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// Server is the control plane: it discovers the cluster from nameservers,
// applies the policy, and serves the result over ADS (state of the world
// and delta, on one gRPC port) with go-control-plane: listeners, clusters
// and endpoints from a snapshot cache shared by every client, per-topic
// route configurations from a cache that pushes a topic's change to its
// subscribers only. Every version is a content hash.
//
// Create one with [New] and stop it with [Server.Close].
type Server struct {
	// Immutable after New.
	o        options
	log      *slog.Logger
	m        *metrics
	poller   *discovery.Poller
	snaps    cachev3.SnapshotCache
	topics   *topicCache
	gate     *gate // in front of both caches
	gs       *grpc.Server
	lis      net.Listener
	adminLis net.Listener
	adminSrv *http.Server
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	kick     chan struct{} // capacity 1: something the build depends on changed

	// Only touched by the build goroutine.
	eng        *engine
	reqNames   map[string]bool // route names subscribed, as last seen
	held       map[string]int  // topic → subscribed route names of on-demand listeners, +1 if an inline route names it
	heldFor    *policy.Policy  // the policy held was computed with
	engPending map[string]bool // route name → subscribed (true) or not, not yet given to the engine
	logged     map[string]bool // warnings already logged
	pushedOnce bool

	mu         sync.Mutex // guards everything below
	policy     *policy.Policy
	rejected   *rejection // the last policy edit refused, while the file still has it
	known      map[string]bool
	synced     bool
	streams    map[streamKey]*client
	requested  map[string]int  // route configuration name → streams subscribed
	pending    map[string]bool // route names whose subscription changed since the last build: now subscribed or not
	typeHashes map[string]map[string]string
	warnings   []string
	lastBuild  time.Time
	closed     bool
}

// rejection is a refused policy edit.
type rejection struct {
	Digest string    `json:"digest"`
	Error  string    `json:"error"`
	At     time.Time `json:"at"`
}

// nodeKey is the snapshot key every client shares: all see the same
// listeners, clusters and endpoints.
const nodeKey = "rmqmesh"

type sharedKey struct{}

func (sharedKey) ID(*corev3.Node) string { return nodeKey }

// New starts a control plane: it loads the policy (an invalid one is an
// error), starts discovery, and listens for xDS and, if configured, admin
// requests. Close it when done.
func New(opts ...Option) (*Server, error) {
	o := options{listen: "127.0.0.1:0", policyInterval: time.Second, holdTimeout: defaultHoldTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if len(o.nameservers) == 0 {
		return nil, errors.New("controlplane: no nameserver configured")
	}
	p := o.policy
	if o.policyFile != "" {
		var err error
		if p, err = policy.Load(o.policyFile); err != nil {
			return nil, fmt.Errorf("controlplane: %w", err)
		}
	}
	if p == nil {
		return nil, errors.New("controlplane: no policy configured")
	}
	s := &Server{
		o: o, log: o.logger.With("component", "controlplane"), m: newMetrics(),
		kick: make(chan struct{}, 1), eng: newEngine(), logged: map[string]bool{},
		reqNames: map[string]bool{}, held: map[string]int{}, engPending: map[string]bool{},
		policy: p, known: map[string]bool{}, streams: map[streamKey]*client{}, requested: map[string]int{},
		pending: map[string]bool{},
	}
	poller, err := discovery.New(o.nameservers, discovery.WithInterval(o.pollInterval), discovery.WithTopicRefresh(o.topicRefresh),
		discovery.WithLogger(o.logger), discovery.WithObserver(s.observePoll))
	if err != nil {
		return nil, fmt.Errorf("controlplane: %w", err)
	}
	s.poller = poller
	gcpLog := gcpLogger{s.log}
	s.snaps = cachev3.NewSnapshotCache(false, sharedKey{}, gcpLog)
	s.topics = newTopicCache(resource.RouteConfigType)
	mux := &cachev3.MuxCache{
		Classify:      func(r *cachev3.Request) string { return classify(r.GetTypeUrl()) },
		ClassifyDelta: func(r *cachev3.DeltaRequest) string { return classify(r.GetTypeUrl()) },
		Caches:        map[string]cachev3.Cache{"snapshot": s.snaps, "topics": s.topics},
	}
	s.gate = newGate(mux, o.holdTimeout, s.log, func(n int) { s.m.heldWatches.Set(float64(n)) })
	s.ctx, s.cancel = context.WithCancel(context.Background())
	xds := serverv3.NewServer(s.ctx, s.gate, s.callbacks())
	s.lis, err = net.Listen("tcp", o.listen)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("controlplane: xDS listener: %w", err)
	}
	if o.admin != "" {
		if s.adminLis, err = net.Listen("tcp", o.admin); err != nil {
			s.lis.Close()
			s.cancel()
			return nil, fmt.Errorf("controlplane: admin listener: %w", err)
		}
	}
	s.gs = grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(math.MaxInt32)}, o.grpcOpts...)...)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(s.gs, xds)
	s.wg.Go(func() { _ = s.gs.Serve(s.lis) })
	if s.adminLis != nil {
		s.adminSrv = &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		s.wg.Go(func() { _ = s.adminSrv.Serve(s.adminLis) })
	}
	s.wg.Go(func() { _ = s.poller.Run(s.ctx) })
	s.wg.Go(s.buildLoop)
	if o.policyFile != "" {
		s.wg.Go(s.watchPolicyFile)
	}
	s.log.Info("serving xDS", "addr", s.lis.Addr().String(), "admin", s.AdminAddr(), "policy", p.Source, "nameservers", o.nsAddrs)
	return s, nil
}

func classify(typeURL string) string {
	if typeURL == resource.RouteConfigType {
		return "topics"
	}
	return "snapshot"
}

// Addr returns the xDS listen address.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// AdminAddr returns the admin listen address, or "" without one.
func (s *Server) AdminAddr() string {
	if s.adminLis == nil {
		return ""
	}
	return s.adminLis.Addr().String()
}

// Close stops serving, breaks every stream and waits for the server's
// goroutines. It is safe to call more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.gate.close()
	s.gs.Stop()
	if s.adminSrv != nil {
		_ = s.adminSrv.Close()
	}
	s.wg.Wait()
}

// Policy returns the policy in force.
func (s *Server) Policy() *policy.Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// SetPolicy replaces the policy. It is refused, with an error naming each
// place, when the policy names brokers no nameserver has ever reported.
func (s *Server) SetPolicy(p *policy.Policy) error {
	if p == nil {
		return errors.New("controlplane: nil policy")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkBrokersLocked(p); err != nil {
		return err
	}
	s.policy, s.rejected = p, nil
	s.kickLocked()
	return nil
}

func (s *Server) checkBrokersLocked(p *policy.Policy) error {
	if !s.synced {
		return nil // nothing known yet: a broker may just be down
	}
	return p.CheckBrokers(func(n string) bool { return s.known[n] })
}

// Versions returns the version served of each resource type: a content hash
// of the listeners, clusters and endpoints, and of every per-topic route
// configuration together.
func (s *Server) Versions() map[string]string {
	s.mu.Lock()
	out := map[string]string{}
	for t, h := range s.typeHashes {
		out[t] = resource.CombinedVersion(h)
	}
	s.mu.Unlock()
	out[resource.RouteConfigType] = resource.CombinedVersion(s.topics.versions())
	return out
}

// Resources returns what is served now: the snapshot's listeners, clusters
// and endpoints and every per-topic route configuration.
func (s *Server) Resources() resource.Set {
	var set resource.Set
	snap, err := s.snaps.GetSnapshot(nodeKey)
	if err == nil {
		set = setFromSnapshot(snap)
	}
	for _, name := range slices.Sorted(maps.Keys(s.topics.versions())) {
		a, _, ok := s.topics.get(name)
		if !ok {
			continue
		}
		rc := &rocketmqv3.RouteConfiguration{}
		if a.UnmarshalTo(rc) == nil {
			set.RouteConfigs = append(set.RouteConfigs, rc)
		}
	}
	return set.Clone()
}

func (s *Server) kickLocked() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Server) observePoll(e discovery.Event) {
	code := strconv.Itoa(int(e.Code))
	s.m.polls.WithLabelValues(e.NameServer, code).Inc()
	if e.Err != nil {
		s.m.pollFailures.WithLabelValues(e.NameServer, code).Inc()
	}
}

// buildLoop rebuilds whenever discovery, the policy or the clients'
// subscriptions change.
func (s *Server) buildLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		case <-s.poller.Changed():
		}
		s.build()
	}
}

func (s *Server) build() {
	start := time.Now()
	brokers, synced := s.poller.Brokers()
	_, changedTopics := s.poller.TakeChanges()
	s.mu.Lock()
	if synced {
		s.synced = true
		for _, b := range brokers {
			s.known[b.Name] = true
		}
	}
	p := s.policy
	pending := s.pending
	s.pending = map[string]bool{}
	s.mu.Unlock()

	s.updateHeld(p, pending)
	for name, on := range pending {
		s.engPending[name] = on
	}
	registered, lost := 0, 0
	for _, b := range brokers {
		if b.Registered {
			registered++
		} else {
			lost++
		}
	}
	s.m.brokers.WithLabelValues("registered").Set(float64(registered))
	s.m.brokers.WithLabelValues("lost").Set(float64(lost))
	s.m.discoveryProbs.Set(float64(len(s.poller.Status().Problems)))
	if !synced {
		return // nothing is known of the brokers: serving nothing beats serving empty clusters
	}

	in := engineInput{policy: p, brokers: brokers, nameservers: s.o.nsAddrs, topics: changedTopics, topic: s.poller.Topic}
	for name, on := range s.engPending {
		if on {
			in.added = append(in.added, name)
		} else {
			in.removed = append(in.removed, name)
		}
	}
	clear(s.engPending)
	ch := s.eng.update(in)
	// Clusters a route is about to name are served before the route, and
	// those it stops naming are withdrawn after: make before break.
	first := ch.transit
	if first == nil {
		first = ch.shared
	}
	if first != nil {
		if err := s.setSnapshot(*first); err != nil {
			s.log.Error("listeners, clusters and endpoints not updated", "err", err)
		}
	}
	routes := make(map[string]proto.Message, len(ch.routes))
	for name, rc := range ch.routes {
		if rc == nil {
			routes[name] = nil
		} else {
			routes[name] = rc
		}
	}
	if err := s.topics.update(routes, ch.unknown); err != nil {
		s.log.Error("topic routes not updated", "err", err)
	}
	if ch.shared != nil {
		if err := s.setSnapshot(*ch.shared); err != nil {
			s.log.Error("listeners, clusters and endpoints not updated", "err", err)
		}
	}
	warnings := s.eng.warnings()
	for _, w := range warnings {
		if !s.logged[w] {
			s.logged[w] = true
			s.log.Warn("policy and cluster disagree", "warning", w)
		}
	}
	s.m.resources.WithLabelValues("route").Set(float64(s.topics.size()))
	s.m.buildWarnings.Set(float64(len(warnings)))
	s.m.buildSeconds.Observe(time.Since(start).Seconds())

	s.mu.Lock()
	s.warnings, s.lastBuild = warnings, time.Now()
	served := s.typeHashes
	s.mu.Unlock()
	s.gate.settle(s.resolved(in, ch.full), served, true)
}

// resolved returns the route names whose state the last update may have
// settled, and that the engine has decided on or whose topic's first fetch
// failed: holding their watches longer would wait for nothing. Only the
// names the update touched are looked at (all the awaited ones after a
// full rebuild), so the cost follows the change, not what is awaited.
func (s *Server) resolved(in engineInput, full bool) []string {
	candidates := in.added
	for _, t := range in.topics {
		candidates = append(candidates, s.eng.routeNames(t)...)
	}
	if full {
		candidates = s.gate.awaited()
	}
	var out []string
	for _, name := range candidates {
		topic, decided := s.eng.decided(name)
		if decided || topic != "" && s.poller.Failed(topic) {
			out = append(out, name)
		}
	}
	return out
}

// updateHeld keeps the topics discovery asks for in line with what clients
// subscribe to: the topics of per-topic routes of on-demand listeners (a
// name a client made up costs nothing), and the policy's inline exact
// topics.
func (s *Server) updateHeld(p *policy.Policy, pending map[string]bool) {
	onDemand := func(name string) (string, bool) {
		family, topic, ok := wellknown.ParseTopicRouteName(name)
		if !ok {
			return "", false
		}
		l, ok := p.ListenerForRouteConfig(family)
		return topic, ok && l.OnDemand
	}
	var add, remove []string
	if p != s.heldFor {
		for name, on := range pending {
			if on {
				s.reqNames[name] = true
			} else {
				delete(s.reqNames, name)
			}
		}
		held := map[string]int{}
		for _, t := range inlineTopics(p) {
			held[t]++ // inline exact routes carry their topic's queue data
		}
		for name := range s.reqNames {
			if topic, ok := onDemand(name); ok {
				held[topic]++
			}
		}
		for t := range held {
			if s.held[t] == 0 {
				add = append(add, t)
			}
		}
		for t := range s.held {
			if held[t] == 0 {
				remove = append(remove, t)
			}
		}
		s.held, s.heldFor = held, p
	} else {
		for name, on := range pending {
			if on == s.reqNames[name] {
				continue
			}
			if on {
				s.reqNames[name] = true
			} else {
				delete(s.reqNames, name)
			}
			topic, ok := onDemand(name)
			if !ok {
				continue
			}
			if on {
				if s.held[topic]++; s.held[topic] == 1 {
					add = append(add, topic)
				}
			} else if s.held[topic]--; s.held[topic] <= 0 {
				delete(s.held, topic)
				remove = append(remove, topic)
			}
		}
	}
	if len(add) > 0 || len(remove) > 0 {
		s.poller.UpdateTopics(add, remove)
	}
	s.m.topicsHeld.Set(float64(len(s.held)))
}

// setSnapshot serves listeners, clusters and endpoints, each type versioned
// by a hash of its resources; a type whose resources did not change keeps
// its version, so its clients are not pushed to.
func (s *Server) setSnapshot(set resource.Set) error {
	snap := &cachev3.Snapshot{}
	hashes := map[string]map[string]string{}
	for _, group := range []struct {
		typeURL string
		index   types.ResponseType
		items   []types.Resource
	}{
		{resource.ListenerType, types.Listener, asResources(set.Listeners)},
		{resource.ClusterType, types.Cluster, asResources(set.Clusters)},
		{resource.EndpointType, types.Endpoint, asResources(set.Endpoints)},
	} {
		h := make(map[string]string, len(group.items))
		for _, r := range group.items {
			v, err := resource.Hash(r)
			if err != nil {
				return err
			}
			h[cachev3.GetResourceName(r)] = v
		}
		hashes[group.typeURL] = h
		snap.Resources[group.index] = cachev3.NewResources(resource.CombinedVersion(h), group.items)
		s.m.resources.WithLabelValues(typeLabel(group.typeURL)).Set(float64(len(group.items)))
	}
	s.mu.Lock()
	unchanged := s.pushedOnce
	for t, h := range hashes {
		unchanged = unchanged && maps.Equal(h, s.typeHashes[t])
	}
	s.mu.Unlock()
	if unchanged {
		return nil
	}
	if err := s.snaps.SetSnapshot(s.ctx, nodeKey, snap); err != nil {
		return err
	}
	s.mu.Lock()
	s.typeHashes, s.pushedOnce = hashes, true
	s.mu.Unlock()
	return nil
}

func asResources[M types.Resource](in []M) []types.Resource {
	out := make([]types.Resource, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}

// typeLabel is the short name of a type URL, for metrics and dumps.
func typeLabel(typeURL string) string {
	switch typeURL {
	case resource.ListenerType:
		return "listener"
	case resource.ClusterType:
		return "cluster"
	case resource.EndpointType:
		return "endpoint"
	case resource.RouteConfigType:
		return "route"
	}
	return "other"
}

// gcpLogger adapts slog to go-control-plane's logger, one level down: its
// info is chatty.
type gcpLogger struct{ l *slog.Logger }

func (g gcpLogger) Debugf(format string, args ...any) { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gcpLogger) Infof(format string, args ...any)  { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gcpLogger) Warnf(format string, args ...any)  { g.l.Info(fmt.Sprintf(format, args...)) }
func (g gcpLogger) Errorf(format string, args ...any) { g.l.Warn(fmt.Sprintf(format, args...)) }
