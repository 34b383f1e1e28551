package xdsclient

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
	"github.com/rmqmesh/rmqmesh/xdsclient/grpctransport"
)

var allTypes = []*resourceType{listenerType, routeConfigType, clusterType, endpointsType}

// Client is an ADS client. Resource names are grouped by authority (gRFC
// A47): old-style names belong to the top-level xds_servers, xdstp:// names
// to the servers of their authority. Each authority talks to the first
// reachable of its servers (gRFC A71) and caches the last valid version of
// every watched resource. Authorities with the same server share one ADS
// stream to it. A Client is safe for concurrent use.
type Client struct {
	// Immutable after New.
	cfg      *bootstrap.Config
	logger   *slog.Logger
	node     *corev3.Node
	protocol bootstrap.Protocol
	timeout  time.Duration
	backoff  func(int) time.Duration
	ser      *serializer
	defAuth  *authority                                      // old-style (non-xdstp) names
	auths    map[string]*authority                           // by authority name
	channels []*channel                                      // one per distinct server config
	record   func(resourceType string, accepted, nacked int) // nil: not recorded
	wg       sync.WaitGroup                                  // channel goroutines

	// Guarded by mu.
	mu     sync.Mutex
	closed bool
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

// New creates a client for the servers in cfg. It returns at once; a
// server is contacted when the first resource it serves is watched.
func New(cfg *bootstrap.Config, opts ...Option) (*Client, error) {
	if cfg == nil || len(cfg.XDSServers) == 0 {
		return nil, errors.New("xdsclient: bootstrap config has no xds_servers")
	}
	if err := checkServers(cfg.XDSServers, "xds_servers"); err != nil {
		return nil, err
	}
	for name, a := range cfg.Authorities {
		if a == nil {
			return nil, fmt.Errorf("xdsclient: bootstrap config: authorities[%q] is nil", name)
		}
		if err := checkServers(a.XDSServers, fmt.Sprintf("authorities[%q].xds_servers", name)); err != nil {
			return nil, err
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
		o.transport = &grpctransport.Builder{DialOptions: o.dialOptions, Logger: o.logger}
	}
	c := &Client{
		cfg:      cfg,
		logger:   o.logger.With("component", "xdsclient", "protocol", string(o.protocol)),
		node:     cfg.Node(),
		protocol: o.protocol,
		timeout:  o.resourceTimeout,
		backoff:  o.backoff,
		auths:    make(map[string]*authority, len(cfg.Authorities)),
		record:   o.recordUpdates,
	}
	// Transports are built up front so a bad server config (credentials,
	// unreadable files) fails New; streams open only when needed.
	byKey := map[string]*channel{}
	chanFor := func(sc *bootstrap.ServerConfig) (*channel, error) {
		key := serverKey(sc)
		if ch := byKey[key]; ch != nil {
			return ch, nil
		}
		tr, err := o.transport.Build(sc)
		if err != nil {
			return nil, fmt.Errorf("xdsclient: %w", err)
		}
		ch := newChannel(c, sc, tr)
		byKey[key] = ch
		c.channels = append(c.channels, ch)
		return ch, nil
	}
	newAuth := func(name string, servers []*bootstrap.ServerConfig) (*authority, error) {
		a := newAuthority(name, servers)
		for i, sc := range servers {
			ch, err := chanFor(sc)
			if err != nil {
				return nil, err
			}
			a.candidates[i] = ch
		}
		return a, nil
	}
	var err error
	if c.defAuth, err = newAuth("", cfg.XDSServers); err != nil {
		c.closeTransports()
		return nil, err
	}
	for name, ac := range cfg.Authorities {
		servers := ac.XDSServers
		if len(servers) == 0 {
			servers = cfg.XDSServers
		}
		if c.auths[name], err = newAuth(name, servers); err != nil {
			c.closeTransports()
			return nil, err
		}
	}
	c.ser = newSerializer()
	return c, nil
}

func checkServers(servers []*bootstrap.ServerConfig, where string) error {
	for i, sc := range servers {
		if sc == nil || sc.ServerURI == "" {
			return fmt.Errorf("xdsclient: bootstrap config: %s[%d] has no server_uri", where, i)
		}
	}
	return nil
}

// serverKey identifies a server config: authorities whose servers have the
// same key share a stream, as in grpc-go.
func serverKey(sc *bootstrap.ServerConfig) string {
	return fmt.Sprintf("%s|%s|%s|%q", sc.ServerURI, sc.ChannelCreds.Type, sc.ChannelCreds.Config, sc.ServerFeatures)
}

func (c *Client) closeTransports() []error {
	var errs []error
	for _, ch := range c.channels {
		if err := ch.tr.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Close stops the client: streams end, pending callbacks are dropped and
// no callback runs after Close returns. It must not be called from a
// watcher callback. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	for _, a := range c.authorities() {
		for _, rs := range a.allResources() {
			rs.stopTimerLocked()
		}
	}
	for _, ch := range c.channels {
		ch.stopLocked()
	}
	c.mu.Unlock()
	c.wg.Wait()
	errs := c.closeTransports()
	c.ser.close()
	return errors.Join(errs...)
}

// authorities returns every authority, the default one first.
// CertificateProviders returns the bootstrap's certificate_providers, by
// instance name: what the instance names in a cluster's
// [ClusterUpdate.Security] refer to. The map must not be modified.
func (c *Client) CertificateProviders() map[string]*bootstrap.CertProviderConfig {
	return c.cfg.CertificateProviders
}

func (c *Client) authorities() []*authority {
	out := []*authority{c.defAuth}
	for _, name := range slices.Sorted(mapsKeys(c.auths)) {
		out = append(out, c.auths[name])
	}
	return out
}

// WatchListener watches the Listener name. The returned cancel func is safe
// to call more than once.
func (c *Client) WatchListener(name string, w Watcher[*ListenerUpdate]) (cancel func()) {
	return c.watch(listenerType, name, newWatcherEntry(w))
}

// WatchRouteConfig watches a contrib rocketmq_proxy RouteConfiguration,
// typically a per-topic one named with [wellknown.TopicRouteName].
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
// an empty name, the xDS wildcard "*" and an xdstp:// name of an authority
// the bootstrap does not list are never subscribed: the watcher gets a
// resource error at once.
func (c *Client) watch(rt *resourceType, name string, e *watcherEntry) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return func() {}
	}
	a, err := c.authorityFor(name)
	if err != nil {
		err := &Error{Kind: KindResourceNotFound, TypeURL: rt.typeURL, Name: name, Err: err}
		c.deliver(e, func() { e.resErr(err) })
		return sync.OnceFunc(func() { e.canceled.Store(true) })
	}
	rs := a.resource(rt, name)
	if rs == nil {
		rs = a.addResource(rt, name)
		c.subscribeLocked(a, rt, name)
		c.logger.Debug("subscribe", "type", rt.short, "name", name, "authority", a.name)
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
		if len(rs.watchers) > 0 || a.resource(rt, name) != rs || c.closed {
			return
		}
		rs.stopTimerLocked()
		a.removeResource(rt, name)
		c.unsubscribeLocked(a, rt, name)
		c.logger.Debug("unsubscribe", "type", rt.short, "name", name, "authority", a.name)
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
	for _, a := range c.authorities() {
		for _, tc := range a.types {
			for _, rs := range tc.resources {
				d := ResourceDump{TypeURL: tc.rt.typeURL, Name: rs.name, Version: rs.version, Status: rs.status, Watchers: len(rs.watchers)}
				if rs.err != nil {
					d.Error = rs.err.Error()
				}
				if rs.msg != nil {
					d.JSON, _ = protojson.Marshal(rs.msg)
				}
				out = append(out, d)
			}
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
	n := 0
	for _, a := range c.authorities() {
		if tc := a.types[typeURL]; tc != nil {
			n += len(tc.resources)
		}
	}
	return n
}
