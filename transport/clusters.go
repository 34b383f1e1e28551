package transport

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// clusterState is the runtime state the relay keeps for one cluster: the
// counters its limits bound, and the outlier state of its hosts. It lives as
// long as the relay; the policy in force is the one the latest target
// carried.
type clusterState struct {
	// immutable after newClusterState
	name string

	policy atomic.Pointer[ClusterPolicy]

	// counters (atomic): requests in flight, requests waiting for a
	// connection, sends being failed over, open connections
	requests, pending, retries, connections atomic.Int64

	hosts sync.Map // addr → *hostState

	mu sync.Mutex // serializes ejection decisions and host pruning
}

// hostState is one host's outlier state.
type hostState struct {
	// atomic: read on the data path
	ejectedUntil                       atomic.Int64 // unix nanos; 0 when in service
	cons5xx, consGateway, consLocal    atomic.Uint32
	ejections                          atomic.Int32 // the multiplier of the base ejection time
	lastReturn                         atomic.Int64 // unix nanos of the last return, for the multiplier's decay
	reason                             atomic.Pointer[string]
	totalEjections, totalLocalFailures atomic.Int64
}

// outcome classifies a request's result for outlier detection.
type outcome uint8

const (
	outcomeSuccess outcome = iota
	outcomeError           // an error answer: Envoy's 5xx
	outcomeGateway         // an error answer meaning "unavailable": Envoy's 502-504
	outcomeLocal           // refused or reset connection, or no answer in time
)

// outcomeOf classifies a broker's answer to a request with code reqCode.
// SYSTEM_BUSY and SERVICE_NOT_AVAILABLE say the broker cannot serve now.
// SYSTEM_ERROR is an error of the broker only for sends (a store failure);
// RocketMQ answers other requests with it for what is an application's
// condition ("no consumer for this group", "can not find message"), which
// must not eject a healthy broker.
func outcomeOf(reqCode, code int32) outcome {
	switch code {
	case remoting.SystemBusy, remoting.ServiceNotAvailable:
		return outcomeGateway
	case remoting.SystemError:
		if kindOf(reqCode) == KindWrite {
			return outcomeError
		}
	}
	return outcomeSuccess
}

// clusterFor returns the state of p's cluster, nil for a nil policy, and
// makes p the policy in force.
func (r *Relay) clusterFor(p *ClusterPolicy) *clusterState {
	if p == nil || p.Name == "" {
		return nil
	}
	v, ok := r.clusterStates.Load(p.Name)
	if !ok {
		v, _ = r.clusterStates.LoadOrStore(p.Name, &clusterState{name: p.Name})
	}
	cs := v.(*clusterState)
	if cs.policy.Load() != p {
		cs.policy.Store(p)
	}
	return cs
}

// limitError is a request refused by a cluster's limit.
func (r *Relay) limitError(cs *clusterState, limit string, max int, code int32) error {
	callHook(r, "OnLimit", r.o.hooks.OnLimit, LimitEvent{Cluster: cs.name, Limit: limit, Max: max, Code: code})
	return &ResponseError{Code: remoting.SystemBusy, Remark: fmt.Sprintf(
		"rmqmesh relay: %s: cluster %q is at its circuit breaker limit %s = %d; retry later", remoting.RequestCodeName(code), cs.name, limit, max)}
}

// admitRequest checks the cluster's max_requests before a request is sent.
func (r *Relay) admitRequest(cs *clusterState, code int32) error {
	if cs == nil {
		return nil
	}
	if max := cs.policy.Load().Limits.MaxRequests; max > 0 && cs.requests.Load() >= int64(max) {
		return r.limitError(cs, "max_requests", max, code)
	}
	return nil
}

// host returns addr's outlier state, creating it.
func (cs *clusterState) host(addr string) *hostState {
	if v, ok := cs.hosts.Load(addr); ok {
		return v.(*hostState)
	}
	v, _ := cs.hosts.LoadOrStore(addr, &hostState{})
	return v.(*hostState)
}

// ejected reports whether addr is ejected now. An ejection that has ended is
// ended here, on the first look after it.
func (r *Relay) ejected(cs *clusterState, addr string) bool {
	if cs == nil || cs.policy.Load().Outlier == nil {
		return false
	}
	v, ok := cs.hosts.Load(addr)
	if !ok {
		return false
	}
	h := v.(*hostState)
	until := h.ejectedUntil.Load()
	if until == 0 {
		return false
	}
	now := time.Now().UnixNano()
	if now < until {
		return true
	}
	if h.ejectedUntil.CompareAndSwap(until, 0) {
		h.lastReturn.Store(now)
		r.log.Info("host returns from outlier ejection", "cluster", cs.name, "addr", addr)
		callHook(r, "OnEjection", r.o.hooks.OnEjection, EjectionEvent{Cluster: cs.name, Addr: addr, Ejections: int(h.ejections.Load())})
	}
	return false
}

// report records a request's outcome on addr and ejects the host when a
// consecutive-failure rule says so.
func (r *Relay) report(cs *clusterState, addr string, o outcome) {
	if cs == nil {
		return
	}
	od := cs.policy.Load().Outlier
	if od == nil {
		return
	}
	h := cs.host(addr)
	if o == outcomeSuccess {
		// Stores only when needed: most answers find the counters at zero.
		for _, c := range []*atomic.Uint32{&h.cons5xx, &h.consGateway, &h.consLocal} {
			if c.Load() != 0 {
				c.Store(0)
			}
		}
		return
	}
	if h.ejectedUntil.Load() != 0 {
		return // ejected hosts are not judged again until they return
	}
	if o == outcomeLocal {
		h.totalLocalFailures.Add(1)
		if od.SplitExternalLocalOriginErrors {
			if n := h.consLocal.Add(1); od.ConsecutiveLocalOriginFailure > 0 && n >= od.ConsecutiveLocalOriginFailure {
				r.maybeEject(cs, addr, h, od, od.EnforcingConsecutiveLocalOriginFailure, "consecutive local-origin failures")
			}
			return
		}
		o = outcomeGateway // Envoy maps local-origin failures to 503 unless split
	}
	n5 := h.cons5xx.Add(1)
	var ng uint32
	if o == outcomeGateway {
		ng = h.consGateway.Add(1)
	} else if h.consGateway.Load() != 0 {
		h.consGateway.Store(0)
	}
	switch {
	case od.Consecutive5xx > 0 && n5 >= od.Consecutive5xx:
		r.maybeEject(cs, addr, h, od, od.EnforcingConsecutive5xx, "consecutive errors")
	case od.ConsecutiveGatewayFailure > 0 && ng >= od.ConsecutiveGatewayFailure:
		r.maybeEject(cs, addr, h, od, od.EnforcingConsecutiveGatewayFailure, "consecutive gateway failures")
	}
}

// maybeEject ejects h when the rule's enforcement draw and the cluster's
// max_ejection_percent allow it; the counters start again either way.
func (r *Relay) maybeEject(cs *clusterState, addr string, h *hostState, od *OutlierDetection, enforcing uint32, reason string) {
	h.cons5xx.Store(0)
	h.consGateway.Store(0)
	h.consLocal.Store(0)
	if enforcing == 0 || (enforcing < 100 && rand.Uint32N(100) >= enforcing) {
		return
	}
	cs.mu.Lock()
	now := time.Now()
	if h.ejectedUntil.Load() != 0 {
		cs.mu.Unlock()
		return
	}
	ejected, total := 0, 0
	cs.hosts.Range(func(_, v any) bool {
		total++
		if u := v.(*hostState).ejectedUntil.Load(); u != 0 && now.UnixNano() < u {
			ejected++
		}
		return true
	})
	total = max(total, cs.policy.Load().Hosts)
	allowed := uint64(100*(ejected+1)) <= uint64(od.MaxEjectionPercent)*uint64(total) || (od.AlwaysEjectOneHost && ejected == 0)
	if !allowed {
		cs.mu.Unlock()
		r.log.Debug("outlier ejection skipped: max_ejection_percent reached", "cluster", cs.name, "addr", addr, "ejected", ejected, "hosts", total, "reason", reason)
		return
	}
	// The multiplier decays by one per interval spent in service.
	n := h.ejections.Load()
	if last := h.lastReturn.Load(); last != 0 && od.Interval > 0 {
		n = max(0, n-int32(now.Sub(time.Unix(0, last))/od.Interval))
	}
	n++
	h.ejections.Store(n)
	d := od.BaseEjectionTime * time.Duration(n)
	if cap := max(od.MaxEjectionTime, od.BaseEjectionTime); d > cap || d < 0 {
		d = cap
	}
	if od.MaxEjectionTimeJitter > 0 {
		d += rand.N(od.MaxEjectionTimeJitter)
	}
	until := now.Add(d)
	h.ejectedUntil.Store(until.UnixNano())
	h.reason.Store(&reason)
	h.totalEjections.Add(1)
	cs.mu.Unlock()
	r.log.Warn("host ejected by outlier detection", "cluster", cs.name, "addr", addr, "reason", reason, "for", d, "ejections", n)
	callHook(r, "OnEjection", r.o.hooks.OnEjection, EjectionEvent{Cluster: cs.name, Addr: addr, Ejected: true, Until: until, Ejections: int(n), Reason: reason})
}

// pruneHosts forgets hosts with nothing to remember: not ejected, no failure
// counted, ejection multiplier decayed. Called on configuration changes, so
// that addresses long gone do not accumulate.
func (r *Relay) pruneHosts() {
	now := time.Now()
	r.clusterStates.Range(func(_, v any) bool {
		cs := v.(*clusterState)
		od := cs.policy.Load().Outlier
		cs.mu.Lock()
		cs.hosts.Range(func(k, hv any) bool {
			h := hv.(*hostState)
			if h.ejectedUntil.Load() != 0 || h.cons5xx.Load() != 0 || h.consGateway.Load() != 0 || h.consLocal.Load() != 0 {
				return true
			}
			if n := h.ejections.Load(); n > 0 && (od == nil || od.Interval <= 0 || now.Sub(time.Unix(0, h.lastReturn.Load())) < time.Duration(n)*od.Interval) {
				return true
			}
			cs.hosts.Delete(k)
			return true
		})
		cs.mu.Unlock()
		return true
	})
}

// ClusterStatus is the runtime state of one cluster, for dumps.
type ClusterStatus struct {
	Name string `json:"name"`
	// Requests in flight, requests waiting for a connection, sends being
	// failed over, and open connections, through this relay.
	Requests    int64          `json:"requestsInFlight"`
	Pending     int64          `json:"pendingRequests"`
	Retries     int64          `json:"retriesInFlight"`
	Connections int64          `json:"connections"`
	Limits      Limits         `json:"limits"`
	Failover    FailoverStatus `json:"sendFailover"`
	Outlier     bool           `json:"outlierDetection"`
	Hosts       []HostStat     `json:"hosts,omitempty"`
}

// FailoverStatus is the send failover policy in force, for dumps.
type FailoverStatus struct {
	Enabled        bool   `json:"enabled"`
	MaxAttempts    int    `json:"maxAttempts"`
	PerTryTimeout  string `json:"perTryTimeout"`
	Timeout        string `json:"timeout"`
	MoveKeyedSends bool   `json:"moveKeyedSends"`
}

// HostStat is one host's outlier state, for dumps.
type HostStat struct {
	Addr         string    `json:"addr"`
	Ejected      bool      `json:"ejected"`
	EjectedUntil time.Time `json:"ejectedUntil,omitzero"`
	Reason       string    `json:"ejectionReason,omitempty"`
	// Ejections is the current multiplier; TotalEjections counts every
	// ejection since the relay started.
	Ejections           int    `json:"ejections"`
	TotalEjections      int64  `json:"totalEjections"`
	ConsecutiveErrors   uint32 `json:"consecutiveErrors"`
	ConsecutiveGateway  uint32 `json:"consecutiveGatewayFailures"`
	ConsecutiveLocal    uint32 `json:"consecutiveLocalOriginFailures"`
	LocalOriginFailures int64  `json:"localOriginFailures"`
}

// Clusters returns the runtime state of every cluster the relay has routed
// to, sorted by name: counters, limits and failover in force, and the outlier
// state of each host it has judged.
func (r *Relay) Clusters() []ClusterStatus {
	var out []ClusterStatus
	now := time.Now().UnixNano()
	r.clusterStates.Range(func(_, v any) bool {
		cs := v.(*clusterState)
		p := cs.policy.Load()
		st := ClusterStatus{
			Name: cs.name, Requests: cs.requests.Load(), Pending: cs.pending.Load(), Retries: cs.retries.Load(),
			Connections: cs.connections.Load(), Limits: p.Limits, Outlier: p.Outlier != nil,
		}
		f := p.Failover.resolved()
		st.Failover = FailoverStatus{Enabled: !f.Disabled, MaxAttempts: f.MaxAttempts, PerTryTimeout: f.PerTryTimeout.String(), Timeout: f.Timeout.String(), MoveKeyedSends: f.MoveKeyedSends}
		cs.hosts.Range(func(k, hv any) bool {
			h := hv.(*hostState)
			hs := HostStat{
				Addr: k.(string), Ejections: int(h.ejections.Load()), TotalEjections: h.totalEjections.Load(),
				ConsecutiveErrors: h.cons5xx.Load(), ConsecutiveGateway: h.consGateway.Load(), ConsecutiveLocal: h.consLocal.Load(),
				LocalOriginFailures: h.totalLocalFailures.Load(),
			}
			if u := h.ejectedUntil.Load(); u != 0 && now < u {
				hs.Ejected, hs.EjectedUntil = true, time.Unix(0, u)
				if rs := h.reason.Load(); rs != nil {
					hs.Reason = *rs
				}
			}
			st.Hosts = append(st.Hosts, hs)
			return true
		})
		sort.Slice(st.Hosts, func(i, j int) bool { return st.Hosts[i].Addr < st.Hosts[j].Addr })
		out = append(out, st)
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
