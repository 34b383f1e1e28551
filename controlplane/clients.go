package controlplane

import (
	"context"
	"maps"
	"slices"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/grpc/peer"

	"github.com/rmqmesh/rmqmesh/controlplane/resource"
)

// streamKey identifies a stream: go-control-plane numbers SotW and delta
// streams separately.
type streamKey struct {
	delta bool
	id    int64
}

// client is the server's view of one ADS stream.
type client struct {
	id     int64
	delta  bool
	peer   string
	opened time.Time
	node   *corev3.Node
	types  map[string]*clientType
}

// clientType is what one stream does with one resource type.
type clientType struct {
	subs     map[string]struct{}
	wildcard bool
	pushes   int
	// lastPushed is the version (SotW) or nonce (delta) of the last response.
	lastPushed string
	// acked is the version (SotW) or nonce (delta) the client last ACKed.
	acked    string
	nacks    int
	lastNACK *nackInfo
	// lastReq is the request the stream's watch of this type was made for,
	// to ask the gate whether it holds it; nonce is the last response's
	// (SotW), since go-control-plane ignores a request quoting an older one.
	lastReq any
	nonce   string
}

type nackInfo struct {
	Nonce  string    `json:"nonce"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
}

func (c *client) typeState(typeURL string) *clientType {
	t := c.types[typeURL]
	if t == nil {
		t = &clientType{subs: map[string]struct{}{}}
		c.types[typeURL] = t
	}
	return t
}

// callbacks track streams, their subscriptions (per-topic route names are
// what discovery is asked for), pushes and NACKs.
func (s *Server) callbacks() serverv3.Callbacks {
	open := func(delta bool) func(context.Context, int64, string) error {
		return func(ctx context.Context, id int64, _ string) error {
			c := &client{id: id, delta: delta, opened: time.Now(), types: map[string]*clientType{}}
			if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
				c.peer = p.Addr.String()
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.streams[streamKey{delta, id}] = c
			s.m.clients.Set(float64(len(s.streams)))
			return nil
		}
	}
	closed := func(delta bool) func(int64, *corev3.Node) {
		return func(id int64, _ *corev3.Node) { s.streamClosed(streamKey{delta, id}) }
	}
	return serverv3.CallbackFuncs{
		StreamOpenFunc:        open(false),
		DeltaStreamOpenFunc:   open(true),
		StreamClosedFunc:      closed(false),
		DeltaStreamClosedFunc: closed(true),
		StreamRequestFunc: func(id int64, req *discoveryv3.DiscoveryRequest) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			c := s.streams[streamKey{false, id}]
			if c == nil {
				return nil
			}
			if req.GetNode() != nil {
				c.node = req.GetNode()
			}
			t := c.typeState(req.GetTypeUrl())
			if t.nonce == "" || req.GetResponseNonce() == t.nonce {
				t.lastReq = req
			}
			s.ackLocked(c, t, req.GetTypeUrl(), req.GetVersionInfo(), req.GetResponseNonce(), req.GetErrorDetail().GetMessage(), req.GetErrorDetail() != nil)
			next := map[string]struct{}{}
			for _, n := range req.GetResourceNames() {
				next[n] = struct{}{}
			}
			t.wildcard = len(next) == 0
			s.resubscribeLocked(t, req.GetTypeUrl(), next)
			return nil
		},
		StreamDeltaRequestFunc: func(id int64, req *discoveryv3.DeltaDiscoveryRequest) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			c := s.streams[streamKey{true, id}]
			if c == nil {
				return nil
			}
			if req.GetNode() != nil {
				c.node = req.GetNode()
			}
			t := c.typeState(req.GetTypeUrl())
			t.lastReq = req
			s.ackLocked(c, t, req.GetTypeUrl(), "", req.GetResponseNonce(), req.GetErrorDetail().GetMessage(), req.GetErrorDetail() != nil)
			next := maps.Clone(t.subs)
			for _, n := range req.GetResourceNamesSubscribe() {
				next[n] = struct{}{}
			}
			for _, n := range req.GetResourceNamesUnsubscribe() {
				delete(next, n)
			}
			s.resubscribeLocked(t, req.GetTypeUrl(), next)
			return nil
		},
		StreamResponseFunc: func(_ context.Context, id int64, req *discoveryv3.DiscoveryRequest, resp *discoveryv3.DiscoveryResponse) {
			s.pushed(streamKey{false, id}, req.GetTypeUrl(), resp.GetVersionInfo(), resp.GetNonce())
		},
		StreamDeltaResponseFunc: func(id int64, req *discoveryv3.DeltaDiscoveryRequest, resp *discoveryv3.DeltaDiscoveryResponse) {
			s.pushed(streamKey{true, id}, req.GetTypeUrl(), resp.GetNonce(), "")
		},
	}
}

func (s *Server) streamClosed(k streamKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.streams[k]
	if c == nil {
		return
	}
	delete(s.streams, k)
	s.m.clients.Set(float64(len(s.streams)))
	if t := c.types[resource.RouteConfigType]; t != nil {
		s.unrequestLocked(slices.Collect(maps.Keys(t.subs)))
	}
}

// pushed records a response: its version (SotW) or nonce (delta), and for
// SotW the nonce the next request must quote.
func (s *Server) pushed(k streamKey, typeURL, version, nonce string) {
	s.m.pushes.WithLabelValues(typeLabel(typeURL)).Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.streams[k]; c != nil {
		t := c.typeState(typeURL)
		t.pushes++
		t.lastPushed = version
		t.nonce = nonce
	}
}

// ackLocked records an ACK or a NACK. A NACK is counted and logged once per
// response it rejects.
func (s *Server) ackLocked(c *client, t *clientType, typeURL, version, nonce, detail string, nack bool) {
	if nonce == "" {
		return // a first request or a new subscription, not an answer
	}
	if !nack {
		t.acked = version
		if c.delta {
			t.acked = nonce
		}
		return
	}
	if t.lastNACK != nil && t.lastNACK.Nonce == nonce {
		return
	}
	t.nacks++
	t.lastNACK = &nackInfo{Nonce: nonce, Detail: detail, At: time.Now()}
	s.m.nacks.WithLabelValues(typeLabel(typeURL)).Inc()
	s.log.Warn("client rejected a response (NACK)", "node", c.node.GetId(), "stream", c.id, "type", typeLabel(typeURL), "detail", detail)
}

// resubscribeLocked sets a stream's subscriptions of one type; for
// per-topic routes it updates what clients hold and wakes the build when
// that changes.
func (s *Server) resubscribeLocked(t *clientType, typeURL string, next map[string]struct{}) {
	if typeURL != resource.RouteConfigType {
		t.subs = next
		return
	}
	var added, removed []string
	for n := range next {
		if _, ok := t.subs[n]; !ok {
			added = append(added, n)
		}
	}
	for n := range t.subs {
		if _, ok := next[n]; !ok {
			removed = append(removed, n)
		}
	}
	t.subs = next
	var fresh []string
	for _, n := range added {
		if s.requested[n]++; s.requested[n] == 1 {
			s.pending[n] = true
			fresh = append(fresh, n)
		}
	}
	// A name no client held before is awaited: its first answer waits for
	// its topic's queue data (the gate runs after this callback).
	s.gate.await(fresh)
	if s.unrequestLocked(removed) || len(fresh) > 0 {
		s.kickLocked()
	}
}

// unrequestLocked drops one stream's interest in names and reports whether a
// name is now held by nobody.
func (s *Server) unrequestLocked(names []string) bool {
	var gone []string
	for _, n := range names {
		if s.requested[n]--; s.requested[n] <= 0 {
			delete(s.requested, n)
			s.pending[n] = false
			gone = append(gone, n)
		}
	}
	if len(gone) > 0 {
		s.gate.unawait(gone)
		s.kickLocked()
	}
	return len(gone) > 0
}
