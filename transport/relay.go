package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Relay is the broker relay of the intercept data path: one virtual loopback
// endpoint per (brokerName, brokerId) that the routes handed to clients name,
// each relaying every request to the real broker endpoint the [Router] chooses,
// through the interceptor chain. See the package documentation for the
// connection model.
//
// A Relay owns its endpoints, every client connection accepted on them and every
// upstream connection it opened; Close releases all of them.
type Relay struct {
	// immutable after NewRelay
	router      Router
	o           options
	log         *slog.Logger
	host        netip.Addr
	invoke      Invoker
	retryInvoke Invoker // the chain of a send's later tries
	affinity    *affinityTable
	dialer      net.Dialer
	ctx         context.Context // cancelled by Close
	cancel      context.CancelFunc

	// safe for concurrent use on their own
	down          downTable
	goingAway     goAwayTable
	clusterStates sync.Map  // cluster name → *clusterState
	retryPool     sync.Pool // *sendRetry
	commits       commitKeeper

	wg sync.WaitGroup // endpoint closes started from a connection's goroutine, commit delivery

	// byAddr maps the address of every running endpoint to its key; replaced
	// whole, under mu, whenever endpoints start or stop, and read without a
	// lock (EndpointAt is asked per traced message).
	byAddr atomic.Pointer[map[netip.AddrPort]Endpoint]

	mu        sync.Mutex // guards everything below
	endpoints map[Endpoint]*endpoint
	creds     map[string]Credentials
	closed    bool
}

// endpoint is one virtual broker endpoint.
type endpoint struct {
	key  Endpoint
	addr netip.AddrPort
	srv  *server

	// guarded by Relay.mu
	routed bool
	downs  map[*downstream]struct{}
}

// NewRelay starts a relay that routes through router. Every option applies;
// [WithListenAddress] gives the host of the virtual endpoints (default
// 127.0.0.1).
func NewRelay(router Router, opts ...Option) (*Relay, error) {
	if router == nil {
		return nil, errors.New("transport: relay needs a router")
	}
	o := newOptions(opts)
	host, err := listenHost(o.listenAddr)
	if err != nil {
		return nil, fmt.Errorf("transport: relay: %w", err)
	}
	r := &Relay{
		router:    router,
		o:         o,
		log:       o.log.With("component", "relay"),
		host:      host,
		affinity:  newAffinityTable(o.affinityTTL, o.affinitySize),
		endpoints: make(map[Endpoint]*endpoint),
		creds:     make(map[string]Credentials),
	}
	if o.upstreamSource != "" {
		ip, err := netip.ParseAddr(o.upstreamSource)
		if err != nil {
			return nil, fmt.Errorf("transport: relay: upstream source %q is not an IP address: %w", o.upstreamSource, err)
		}
		r.dialer.LocalAddr = &net.TCPAddr{IP: ip.AsSlice()}
	}
	for _, c := range o.credentials {
		if err := r.AddCredentials(c); err != nil {
			return nil, err
		}
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	links := append([]Interceptor(nil), o.interceptors...)
	links = append(links, r.affinityLink, r.routeLink, r.brokerNameLink, r.aclLink)
	r.invoke = chain(links, r.forward)
	r.retryInvoke = r.retryInvoker()
	r.retryPool.New = newSendRetryValue
	return r, nil
}

// listenHost returns the host of a listen address ("127.0.0.1:0" or a bare IP),
// which must be a loopback IP.
func listenHost(addr string) (netip.Addr, error) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		addr = ap.Addr().String()
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("listen address %q is not a loopback IP: %w", addr, err)
	}
	if !ip.IsLoopback() {
		return netip.Addr{}, fmt.Errorf("listen address %q is not a loopback address: the endpoints serve this process only", addr)
	}
	return ip, nil
}

// Endpoint returns the address of the virtual endpoint of (brokerName,
// brokerID), starting it if needed. The address stays the same for as long as
// the broker is routed or a client connection uses it.
func (r *Relay) Endpoint(brokerName string, brokerID int64) (string, error) {
	ap, err := r.endpointAddr(Endpoint{BrokerName: brokerName, BrokerID: brokerID})
	if err != nil {
		return "", err
	}
	return ap.String(), nil
}

func (r *Relay) endpointAddr(key Endpoint) (netip.AddrPort, error) {
	if key.BrokerName == "" {
		return netip.AddrPort{}, errors.New("transport: relay: virtual endpoint for an empty broker name")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return netip.AddrPort{}, fmt.Errorf("transport: relay: endpoint of broker %q: %w", key, net.ErrClosed)
	}
	if ep, ok := r.endpoints[key]; ok {
		ep.routed = true
		return ep.addr, nil
	}
	ep := &endpoint{key: key, routed: true, downs: make(map[*downstream]struct{})}
	log := r.log.With("broker", key.BrokerName, "brokerId", key.BrokerID)
	srv, err := listen(netip.AddrPortFrom(r.host, 0).String(), &r.o, log, func(c net.Conn) { r.serve(ep, c) })
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("transport: relay: endpoint of broker %s: %w", key, err)
	}
	ep.srv = srv
	ep.addr, _ = netip.ParseAddrPort(srv.Addr())
	r.endpoints[key] = ep
	r.publishAddrsLocked()
	log.Debug("virtual broker endpoint started", "addr", srv.Addr())
	return ep.addr, nil
}

// EndpointAt returns the virtual endpoint listening at addr, if one is: what
// an address the relay gave a client (a route's broker address, a rewritten
// store host or offset message id) stands for. It takes no lock.
func (r *Relay) EndpointAt(addr netip.AddrPort) (Endpoint, bool) {
	m := r.byAddr.Load()
	if m == nil {
		return Endpoint{}, false
	}
	ep, ok := (*m)[addr]
	return ep, ok
}

// publishAddrsLocked replaces byAddr after endpoints changed; r.mu is held.
func (r *Relay) publishAddrsLocked() {
	m := make(map[netip.AddrPort]Endpoint, len(r.endpoints))
	for k, ep := range r.endpoints {
		m[ep.addr] = k
	}
	r.byAddr.Store(&m)
}

// Endpoints returns the virtual endpoints running now, by address.
func (r *Relay) Endpoints() map[string]Endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]Endpoint, len(r.endpoints))
	for k, ep := range r.endpoints {
		out[ep.addr.String()] = k
	}
	return out
}

// Update applies a configuration change: endpoints of brokers no longer routed
// are closed once no connection uses them, and upstream connections to
// addresses that no longer serve their broker drain. Call it after every change
// the router answers from; requests already use the new configuration (the
// router is asked per request).
func (r *Relay) Update() {
	var closing []*endpoint
	var downs []*downstream
	r.mu.Lock()
	for k, ep := range r.endpoints {
		ep.routed = r.router.Routed(k.BrokerName)
		if !ep.routed && len(ep.downs) == 0 {
			closing = append(closing, ep)
			delete(r.endpoints, k)
			continue
		}
		for d := range ep.downs {
			downs = append(downs, d)
		}
	}
	if len(closing) > 0 {
		r.publishAddrsLocked()
	}
	r.mu.Unlock()
	for _, ep := range closing {
		r.log.Debug("virtual broker endpoint released: no route names its broker", "broker", ep.key.BrokerName, "brokerId", ep.key.BrokerID, "addr", ep.addr.String())
		ep.srv.Close()
	}
	for _, d := range downs {
		d.drainStale()
	}
	r.pruneHosts()
}

// Close stops every endpoint, closes every connection and waits for the relay's
// goroutines. Requests in flight are not answered. It is safe to call more than
// once.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		r.wg.Wait()
		return nil
	}
	r.closed = true
	eps := make([]*endpoint, 0, len(r.endpoints))
	for _, ep := range r.endpoints {
		eps = append(eps, ep)
	}
	clear(r.endpoints)
	r.publishAddrsLocked()
	r.mu.Unlock()
	r.cancel()
	var errs []error
	for _, ep := range eps {
		if err := ep.srv.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	r.wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("transport: relay: close: %w", errors.Join(errs...))
	}
	return nil
}

// serve runs one client connection of ep.
func (r *Relay) serve(ep *endpoint, c net.Conn) {
	d := newDownstream(r, ep, c)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	ep.downs[d] = struct{}{}
	r.mu.Unlock()
	d.run()
	r.mu.Lock()
	delete(ep.downs, d)
	release := !ep.routed && len(ep.downs) == 0 && r.endpoints[ep.key] == ep
	if release {
		delete(r.endpoints, ep.key)
		r.publishAddrsLocked()
		// Close waits for this goroutine to return, so it cannot run here.
		r.wg.Add(1)
	}
	r.mu.Unlock()
	if release {
		go func() {
			defer r.wg.Done()
			r.log.Debug("virtual broker endpoint released: its last connection closed and no route names its broker", "broker", ep.key.BrokerName, "addr", ep.addr.String())
			ep.srv.Close()
		}()
	}
}

// downTable remembers addresses the relay could not connect to, so that the
// requests after a failure are redirected at once instead of each waiting for
// the dial timeout. The pause doubles with each failure, up to maxDownPause.
type downTable struct {
	mu sync.Mutex
	m  map[string]downEntry
}

type downEntry struct {
	until time.Time
	pause time.Duration
	why   error // the last failure, for the remarks of requests not tried
}

const (
	minDownPause = 100 * time.Millisecond
	maxDownPause = 5 * time.Second
)

func (t *downTable) isDown(addr string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[addr]
	if ok && time.Now().Before(e.until) {
		return true, e.why
	}
	return false, nil
}

func (t *downTable) failed(addr string, why error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]downEntry)
	}
	e := t.m[addr]
	e.pause = min(max(2*e.pause, minDownPause), maxDownPause)
	e.until = time.Now().Add(e.pause)
	e.why = why
	t.m[addr] = e
}

func (t *downTable) succeeded(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, addr)
}

// goAwayHold is how long an address that answered GO_AWAY is avoided by
// requests that can go elsewhere. A proxy or broker shutting down keeps
// answering GO_AWAY for a while; a new connection to the same address is
// still tried for requests that have nowhere else to go (a proxy behind a
// load-balanced address may answer on another instance).
const goAwayHold = 5 * time.Second

// goAwayTable remembers addresses that answered GO_AWAY.
type goAwayTable struct {
	mu sync.Mutex
	m  map[string]time.Time
	n  atomic.Int32 // entries, so that the common case takes no lock
}

func (t *goAwayTable) add(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]time.Time)
	}
	t.m[addr] = time.Now().Add(goAwayHold)
	t.n.Store(int32(len(t.m)))
}

func (t *goAwayTable) has(addr string) bool {
	if t.n.Load() == 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	until, ok := t.m[addr]
	if ok && !time.Now().Before(until) {
		delete(t.m, addr)
		t.n.Store(int32(len(t.m)))
		return false
	}
	return ok
}
