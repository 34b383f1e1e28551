package controlplane

import (
	"cmp"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/controlplane/discovery"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
)

// AdminHandler serves the admin endpoints:
//
//   - /healthz: readiness. 200 once the server answers xDS requests: some
//     nameserver has answered and what it said is being served; 503 before
//     (every client's answers are held until then, so that none is told of
//     an empty or partial cluster). The body (JSON) says why, with the
//     policy's source and last refused edit, the nameservers' health, the
//     answers held, and the warnings and inconsistencies of the last build.
//     Once ready the server stays ready: when the nameservers fail later it
//     keeps serving the last good view, and /healthz says so in the body.
//     Use it as the readiness probe, so that a load balancer in front of
//     several replicas sends no client to one that cannot answer yet.
//   - /livez: liveness. 200 while the server runs. A replica that cannot
//     reach its nameservers is not ready, but restarting it would not help:
//     use /livez, not /healthz, as the liveness probe.
//   - /config_dump: every resource served and its version, by type
//     (?type=listener|cluster|endpoint|route and ?name=N narrow it).
//   - /clients: the open streams: node, peer, protocol, subscriptions,
//     pushes, ACKs and NACKs with their detail.
//   - /metrics: Prometheus metrics.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("GET /livez", s.serveLive)
	mux.HandleFunc("GET /config_dump", s.serveConfigDump)
	mux.HandleFunc("GET /clients", s.serveClients)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	return mux
}

// Health is the body of /healthz.
type Health struct {
	// OK is true once the server answers xDS requests (readiness).
	OK      bool     `json:"ok"`
	Reasons []string `json:"reasons,omitempty"`
	// HeldAnswers counts the client subscriptions whose answer is held:
	// all of them before the first discovery, then those waiting for a
	// topic's queue data.
	HeldAnswers int              `json:"held_answers"`
	Policy      PolicyStatus     `json:"policy"`
	Discovery   discovery.Status `json:"discovery"`
	Warnings    []string         `json:"warnings,omitempty"`
	LastBuild   time.Time        `json:"last_build,omitzero"`
}

// PolicyStatus says which policy is in force and which edit was refused.
type PolicyStatus struct {
	Source   string     `json:"source"`
	Digest   string     `json:"digest"`
	Rejected *rejection `json:"rejected,omitempty"`
}

// Health reports the server's health, as /healthz does.
func (s *Server) Health() Health {
	st := s.poller.Status()
	s.mu.Lock()
	defer s.mu.Unlock()
	h := Health{
		OK:        true,
		Policy:    PolicyStatus{Source: s.policy.Source, Digest: s.policy.Digest, Rejected: s.rejected},
		Discovery: st,
		Warnings:  slices.Clone(s.warnings),
		LastBuild: s.lastBuild,
	}
	h.HeldAnswers = s.gate.heldCount()
	if !s.gate.isReady() {
		h.OK = false
		h.Reasons = append(h.Reasons, "no nameserver has answered yet: every xDS answer is held until one does")
	}
	if s.rejected != nil {
		// Still healthy: the last good policy serves. An orchestrator
		// restarting the server would lose it.
		h.Warnings = append(h.Warnings, "the policy file has an edit that was refused; the previous policy is in force: "+s.rejected.Error)
	}
	return h
}

func (s *Server) serveLive(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	h := s.Health()
	code := http.StatusOK
	if !h.OK {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, h)
}

// dumpedResource is one resource in /config_dump.
type dumpedResource struct {
	Name     string          `json:"name"`
	Version  string          `json:"version"`
	Resource json.RawMessage `json:"resource"`
}

type dumpedType struct {
	Version   string           `json:"version"`
	Resources []dumpedResource `json:"resources"`
}

func (s *Server) serveConfigDump(w http.ResponseWriter, r *http.Request) {
	want := r.URL.Query().Get("type")
	name := r.URL.Query().Get("name")
	versions := s.Versions()
	out := map[string]dumpedType{}
	add := func(typeURL string, items map[string]proto.Message, itemVersion func(string) string) {
		label := typeLabel(typeURL)
		if want != "" && want != label {
			return
		}
		dt := dumpedType{Version: versions[typeURL], Resources: []dumpedResource{}}
		for _, n := range slices.Sorted(maps.Keys(items)) {
			if name != "" && n != name {
				continue
			}
			b, err := protojson.Marshal(items[n])
			if err != nil {
				b, _ = json.Marshal(err.Error())
			}
			dt.Resources = append(dt.Resources, dumpedResource{Name: n, Version: itemVersion(n), Resource: b})
		}
		out[label] = dt
	}
	if snap, err := s.snaps.GetSnapshot(nodeKey); err == nil {
		for _, typeURL := range []string{resource.ListenerType, resource.ClusterType, resource.EndpointType} {
			items := map[string]proto.Message{}
			for n, res := range snap.GetResources(typeURL) {
				items[n] = res
			}
			add(typeURL, items, func(n string) string { v, _ := resource.Hash(items[n]); return v })
		}
	}
	topicVersions := s.topics.versions()
	items := map[string]proto.Message{}
	if want == "" || want == "route" {
		for n := range topicVersions {
			if name != "" && n != name {
				continue
			}
			if a, _, ok := s.topics.get(n); ok {
				items[n] = a
			}
		}
	}
	add(resource.RouteConfigType, items, func(n string) string { return topicVersions[n] })
	writeJSON(w, http.StatusOK, out)
}

// ClientInfo is one open stream, as /clients shows it.
type ClientInfo struct {
	Stream   int64                     `json:"stream"`
	Node     string                    `json:"node"`
	Cluster  string                    `json:"cluster,omitempty"`
	Locality string                    `json:"locality,omitempty"`
	Peer     string                    `json:"peer,omitempty"`
	Protocol string                    `json:"protocol"`
	Opened   time.Time                 `json:"opened"`
	Types    map[string]ClientTypeInfo `json:"types"`
}

// ClientTypeInfo is what a stream does with one resource type.
type ClientTypeInfo struct {
	Subscribed []string `json:"subscribed"`
	Wildcard   bool     `json:"wildcard,omitempty"`
	// Held is true while the answer to the stream's latest request of this
	// type is held back: discovery has not answered yet, or a topic it
	// subscribes to is being fetched.
	Held       bool      `json:"held,omitempty"`
	Pushes     int       `json:"pushes"`
	LastPushed string    `json:"last_pushed,omitempty"`
	Acked      string    `json:"acked,omitempty"`
	NACKs      int       `json:"nacks,omitempty"`
	LastNACK   *nackInfo `json:"last_nack,omitempty"`
}

// Clients returns the open streams, by stream id.
func (s *Server) Clients() []ClientInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ClientInfo
	keys := slices.SortedFunc(maps.Keys(s.streams), func(a, b streamKey) int {
		return cmp.Or(cmp.Compare(a.id, b.id), boolCompare(a.delta, b.delta))
	})
	for _, k := range keys {
		c := s.streams[k]
		ci := ClientInfo{Stream: k.id, Node: c.node.GetId(), Cluster: c.node.GetCluster(), Peer: c.peer,
			Protocol: "sotw", Opened: c.opened, Types: map[string]ClientTypeInfo{}}
		if l := c.node.GetLocality(); l != nil {
			ci.Locality = strings.Trim(l.GetRegion()+"/"+l.GetZone()+"/"+l.GetSubZone(), "/")
		}
		if c.delta {
			ci.Protocol = "delta"
		}
		for typeURL, t := range c.types {
			ci.Types[typeLabel(typeURL)] = ClientTypeInfo{
				Subscribed: slices.Sorted(maps.Keys(t.subs)), Wildcard: t.wildcard, Held: s.gate.holding(t.lastReq), Pushes: t.pushes,
				LastPushed: t.lastPushed, Acked: t.acked, NACKs: t.nacks, LastNACK: t.lastNACK,
			}
		}
		out = append(out, ci)
	}
	return out
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func (s *Server) serveClients(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Clients())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// setFromSnapshot returns a snapshot's listeners, clusters and endpoints in
// name order.
func setFromSnapshot(snap cachev3.ResourceSnapshot) resource.Set {
	var set resource.Set
	ls := snap.GetResources(resource.ListenerType)
	for _, n := range slices.Sorted(maps.Keys(ls)) {
		if l, ok := ls[n].(*listenerv3.Listener); ok {
			set.Listeners = append(set.Listeners, l)
		}
	}
	cs := snap.GetResources(resource.ClusterType)
	for _, n := range slices.Sorted(maps.Keys(cs)) {
		if c, ok := cs[n].(*clusterv3.Cluster); ok {
			set.Clusters = append(set.Clusters, c)
		}
	}
	es := snap.GetResources(resource.EndpointType)
	for _, n := range slices.Sorted(maps.Keys(es)) {
		if e, ok := es[n].(*endpointv3.ClusterLoadAssignment); ok {
			set.Endpoints = append(set.Endpoints, e)
		}
	}
	return set
}
