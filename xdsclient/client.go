package xdsclient

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
	"github.com/rmqmesh/rmqmesh/xdsclient/grpctransport"
	"github.com/rmqmesh/rmqmesh/xdsclient/transport"
)

var allTypes = []*resourceType{listenerType, routeConfigType, clusterType, endpointsType}

// Client is an ADS client. It keeps one stream to the first reachable
// management server, subscribes to what is watched and caches the last
// valid version of every watched resource. It is safe for concurrent use.
type Client struct {
	// Immutable after New.
	cfg      *bootstrap.Config
	logger   *slog.Logger
	node     *corev3.Node
	protocol bootstrap.Protocol
	timeout  time.Duration
	backoff  func(int) time.Duration
	record   func(resourceType string, accepted, nacked int) // nil: not recorded
	servers  []*serverEntry
	ser      *serializer
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{}

	// Guarded by mu.
	mu      sync.Mutex
	closed  bool
	types   map[string]*typeState
	stream  *adsStream // the open stream, nil when disconnected
	connErr error      // why the last stream attempt failed
}

type serverEntry struct {
	cfg *bootstrap.ServerConfig
	tr  transport.Transport
}

// typeState is the cache of one resource type. Guarded by Client.mu.
type typeState struct {
	rt        *resourceType
	resources map[string]*resourceState
	// version is the last accepted SotW version_info.
	version string
	// Scoped to the current stream.
	nonce string          // last nonce received
	sent  map[string]bool // names in the last request sent; nil when none sent
}

// resourceState is one subscribed resource. Guarded by Client.mu.
type resourceState struct {
	name     string
	watchers map[*watcherEntry]struct{}
	value    update        // last valid version, nil if none
	msg      proto.Message // the proto of value
	raw      []byte        // serialized value, to skip unchanged updates
	version  string
	status   ResourceStatus
	err      error // last error, if any
	timer    *time.Timer
	timerGen int
}

// ResourceStatus is the client-side state of a subscribed resource.
type ResourceStatus int

// Resource states.
const (
	// StatusRequested: subscribed, nothing received yet.
	StatusRequested ResourceStatus = iota
	// StatusAcked: the cached version is the latest received.
	StatusAcked
	// StatusNacked: the latest received version was rejected.
	StatusNacked
	// StatusDoesNotExist: the server does not have it, or did not answer
	// before the resource timeout.
	StatusDoesNotExist
)

// String returns the status as shown in dumps, e.g. "acked".
func (s ResourceStatus) String() string {
	switch s {
	case StatusRequested:
		return "requested"
	case StatusAcked:
		return "acked"
	case StatusNacked:
		return "nacked"
	case StatusDoesNotExist:
		return "does-not-exist"
	}
	return fmt.Sprintf("ResourceStatus(%d)", int(s))
}

// MarshalText makes dumps show the status by name.
func (s ResourceStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// New creates a client for the servers in cfg. It returns at once; the
// connection is made in the background, trying servers in bootstrap order.
func New(cfg *bootstrap.Config, opts ...Option) (*Client, error) {
	if cfg == nil || len(cfg.XDSServers) == 0 {
		return nil, errors.New("xdsclient: bootstrap config has no xds_servers")
	}
	for i, sc := range cfg.XDSServers {
		if sc == nil || sc.ServerURI == "" {
			return nil, fmt.Errorf("xdsclient: bootstrap config: xds_servers[%d] has no server_uri", i)
		}
	}
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.resourceTimeout <= 0 {
		o.resourceTimeout = cmp.Or(cfg.Mesh.ResourceTimeout, bootstrap.DefaultResourceTimeout)
	}
	if o.protocol == "" {
		o.protocol = cmp.Or(cfg.Mesh.Protocol, bootstrap.ProtocolSotW)
	}
	if o.protocol != bootstrap.ProtocolSotW && o.protocol != bootstrap.ProtocolDelta {
		return nil, fmt.Errorf("xdsclient: unknown protocol %q", o.protocol)
	}
	if o.backoff == nil {
		o.backoff = DefaultBackoff
	}
	if o.transport == nil {
		o.transport = &grpctransport.Builder{DialOptions: o.dialOptions}
	}
	c := &Client{
		cfg:      cfg,
		logger:   o.logger.With("component", "xdsclient", "protocol", string(o.protocol)),
		node:     cfg.Node(),
		protocol: o.protocol,
		timeout:  o.resourceTimeout,
		backoff:  o.backoff,
		record:   o.recordUpdates,
		types:    make(map[string]*typeState, len(allTypes)),
		done:     make(chan struct{}),
	}
	for _, sc := range cfg.XDSServers {
		tr, err := o.transport.Build(sc)
		if err != nil {
			for _, s := range c.servers {
				s.tr.Close()
			}
			return nil, fmt.Errorf("xdsclient: %w", err)
		}
		c.servers = append(c.servers, &serverEntry{cfg: sc, tr: tr})
	}
	for _, rt := range allTypes {
		c.types[rt.typeURL] = &typeState{rt: rt, resources: map[string]*resourceState{}}
	}
	c.ser = newSerializer()
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
	return c, nil
}

// Close stops the client: the stream ends, pending callbacks are dropped
// and no callback runs after Close returns. It must not be called from a
// watcher callback. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for _, ts := range c.types {
		for _, rs := range ts.resources {
			rs.stopTimerLocked()
		}
	}
	c.mu.Unlock()
	c.cancel()
	<-c.done
	var errs []error
	for _, s := range c.servers {
		if err := s.tr.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	c.ser.close()
	return errors.Join(errs...)
}

// WatchListener watches the Listener name. The returned cancel func is safe
// to call more than once.
func (c *Client) WatchListener(name string, w Watcher[*ListenerUpdate]) (cancel func()) {
	return c.watch(listenerType, name, newWatcherEntry(w))
}

// WatchRouteConfig watches a contrib rocketmq_proxy RouteConfiguration,
// typically a per-topic one named with [OnDemandRouteName].
func (c *Client) WatchRouteConfig(name string, w Watcher[*RouteConfigUpdate]) (cancel func()) {
	return c.watch(routeConfigType, name, newWatcherEntry(w))
}

// WatchCluster watches the Cluster name.
func (c *Client) WatchCluster(name string, w Watcher[*ClusterUpdate]) (cancel func()) {
	return c.watch(clusterType, name, newWatcherEntry(w))
}

// WatchEndpoints watches the ClusterLoadAssignment name (a cluster's
// [ClusterUpdate.EDSServiceName]).
func (c *Client) WatchEndpoints(name string, w Watcher[*EndpointsUpdate]) (cancel func()) {
	return c.watch(endpointsType, name, newWatcherEntry(w))
}

// watch subscribes e to name. Watching on a closed client does nothing;
// an empty name or the xDS wildcard "*" is never subscribed (the server
// would read it as "every resource") and the watcher gets a resource error.
func (c *Client) watch(rt *resourceType, name string, e *watcherEntry) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return func() {}
	}
	if name == "" || name == "*" {
		err := &Error{Kind: KindResourceNotFound, TypeURL: rt.typeURL, Name: name, Err: errors.New("invalid resource name: empty or the wildcard \"*\"")}
		c.deliver(e, func() { e.resErr(err) })
		return sync.OnceFunc(func() { e.canceled.Store(true) })
	}
	ts := c.types[rt.typeURL]
	rs := ts.resources[name]
	if rs == nil {
		rs = &resourceState{name: name, watchers: map[*watcherEntry]struct{}{}}
		ts.resources[name] = rs
		c.startTimerLocked(ts, rs)
		if c.stream != nil {
			c.stream.enqueueLocked(sendItem{typeURL: rt.typeURL})
		}
		c.logger.Debug("subscribe", "type", rt.short, "name", name)
	}
	rs.watchers[e] = struct{}{}
	switch {
	case rs.value != nil:
		v, err := rs.value, rs.err
		c.deliver(e, func() {
			e.changed(v)
			if err != nil {
				e.ambErr(err)
			}
		})
	case rs.err != nil:
		err := rs.err
		c.deliver(e, func() { e.resErr(err) })
	}
	return sync.OnceFunc(func() {
		e.canceled.Store(true)
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(rs.watchers, e)
		if len(rs.watchers) > 0 || ts.resources[name] != rs {
			return
		}
		rs.stopTimerLocked()
		delete(ts.resources, name)
		if c.stream != nil && !c.closed {
			c.stream.enqueueLocked(sendItem{typeURL: rt.typeURL})
		}
		c.logger.Debug("unsubscribe", "type", rt.short, "name", name)
	})
}

// deliver queues f for watcher e; it is skipped if e is canceled by then.
func (c *Client) deliver(e *watcherEntry, f func()) {
	c.ser.schedule(func() {
		if !e.canceled.Load() {
			f()
		}
	})
}

func (c *Client) notifyChangedLocked(rs *resourceState) {
	v := rs.value
	for e := range rs.watchers {
		c.deliver(e, func() { e.changed(v) })
	}
}

func (c *Client) notifyResourceErrorLocked(rs *resourceState, err error) {
	for e := range rs.watchers {
		c.deliver(e, func() { e.resErr(err) })
	}
}

func (c *Client) notifyAmbientErrorLocked(rs *resourceState, err error) {
	for e := range rs.watchers {
		c.deliver(e, func() { e.ambErr(err) })
	}
}

func (rs *resourceState) stopTimerLocked() {
	rs.timerGen++
	if rs.timer != nil {
		rs.timer.Stop()
		rs.timer = nil
	}
}

// startTimerLocked (re)starts the does-not-exist timer of rs.
func (c *Client) startTimerLocked(ts *typeState, rs *resourceState) {
	rs.stopTimerLocked()
	gen := rs.timerGen
	rs.timer = time.AfterFunc(c.timeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed || rs.timerGen != gen || ts.resources[rs.name] != rs || rs.value != nil || rs.status != StatusRequested {
			return
		}
		rs.timer = nil
		rs.status = StatusDoesNotExist
		if c.stream != nil {
			rs.err = &Error{Kind: KindResourceNotFound, TypeURL: ts.rt.typeURL, Name: rs.name,
				Err: fmt.Errorf("does not exist: no response within %v", c.timeout)}
		} else {
			cause := c.connErr
			if cause == nil {
				cause = errors.New("not connected")
			}
			rs.err = &Error{Kind: KindConnection, TypeURL: ts.rt.typeURL, Name: rs.name,
				Err: fmt.Errorf("no xDS server reachable within %v: %w", c.timeout, cause)}
		}
		c.logger.Debug("resource timeout", "type", ts.rt.short, "name", rs.name, "error", rs.err)
		c.notifyResourceErrorLocked(rs, rs.err)
	})
}

// onUpdateLocked stores a valid version of rs and notifies its watchers.
// An update whose bytes equal the cached ones is not delivered again, but
// the cached value takes the new version so a later watcher sees it.
func (c *Client) onUpdateLocked(rs *resourceState, u update, msg proto.Message, raw []byte, version string) {
	rs.stopTimerLocked()
	unchanged := rs.value != nil && bytes.Equal(rs.raw, raw)
	wasNacked := rs.status == StatusNacked
	rs.status = StatusAcked
	rs.err = nil
	u.setVersion(version)
	rs.value, rs.msg, rs.raw, rs.version = u, msg, raw, version
	if unchanged && !wasNacked {
		return
	}
	c.notifyChangedLocked(rs)
}

// onInvalidLocked records a rejected version of rs; the last valid version
// stays in force.
func (c *Client) onInvalidLocked(ts *typeState, rs *resourceState, cause error) {
	rs.stopTimerLocked()
	rs.status = StatusNacked
	rs.err = &Error{Kind: KindNACKed, TypeURL: ts.rt.typeURL, Name: rs.name, Err: cause}
	if rs.value != nil {
		c.notifyAmbientErrorLocked(rs, rs.err)
	} else {
		c.notifyResourceErrorLocked(rs, rs.err)
	}
}

// onDeletedLocked handles a resource the server removed.
func (c *Client) onDeletedLocked(ts *typeState, rs *resourceState, server *bootstrap.ServerConfig) {
	if server.IgnoreResourceDeletion && rs.value != nil {
		c.logger.Warn("ignoring resource deletion (ignore_resource_deletion)", "type", ts.rt.short, "name", rs.name, "server", server.ServerURI)
		return
	}
	rs.stopTimerLocked()
	rs.value, rs.msg, rs.raw, rs.version = nil, nil, nil, ""
	rs.status = StatusDoesNotExist
	rs.err = &Error{Kind: KindResourceNotFound, TypeURL: ts.rt.typeURL, Name: rs.name, Err: errors.New("deleted by the management server")}
	c.notifyResourceErrorLocked(rs, rs.err)
}

// ResourceDump describes one cached resource, for a CSDS-like config dump.
type ResourceDump struct {
	TypeURL, Name, Version string
	Status                 ResourceStatus
	// Error is the last error (NACK reason, does-not-exist), or "".
	Error string
	// JSON is the cached resource in protojson, or nil.
	JSON json.RawMessage
	// Watchers is the number of watchers.
	Watchers int
}

// Dump returns every subscribed resource, sorted by type URL and name.
func (c *Client) Dump() []ResourceDump {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ResourceDump
	for _, ts := range c.types {
		for _, rs := range ts.resources {
			d := ResourceDump{TypeURL: ts.rt.typeURL, Name: rs.name, Version: rs.version, Status: rs.status, Watchers: len(rs.watchers)}
			if rs.err != nil {
				d.Error = rs.err.Error()
			}
			if rs.msg != nil {
				d.JSON, _ = protojson.Marshal(rs.msg)
			}
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b ResourceDump) int {
		return cmp.Or(cmp.Compare(a.TypeURL, b.TypeURL), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// CacheSize returns the number of subscribed resources of typeURL.
func (c *Client) CacheSize(typeURL string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts := c.types[typeURL]; ts != nil {
		return len(ts.resources)
	}
	return 0
}
