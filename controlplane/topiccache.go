package controlplane

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/rmqmesh/rmqmesh/controlplane/resource"
)

// topicCache serves per-topic route configurations, many thousands of them,
// each to the few clients subscribed to it: a change to one is pushed to
// its subscribers only, in both protocols.
//
// It does what go-control-plane's LinearCache does, except for versions:
// every version is a content hash. A resource's version is the hash of its
// bytes; a state-of-the-world response's version is the hash of the
// (name, version) pairs the client holds after it. Two replicas with equal
// resources therefore answer with equal versions, and a client that
// reconnects to another replica quoting its last version is not sent what
// it already has.
type topicCache struct {
	typeURL string

	mu      sync.Mutex // guards everything below
	entries map[string]*topicEntry
	// unknown names have no entry and are not gone either: the server does
	// not know yet what to serve. A client holding one is not told it was
	// removed.
	unknown map[string]bool
	watches map[uint64]*topicWatch
	byName  map[string]map[uint64]struct{}
	wild    map[uint64]struct{}
	nextID  uint64
}

type topicEntry struct {
	res     *anypb.Any
	version string
}

// topicWatch is one open watch of a stream, SotW (sotw set) or delta.
type topicWatch struct {
	sotw  chan cachev3.Response
	delta chan cachev3.DeltaResponse
	req   *discoveryv3.DiscoveryRequest
	dreq  *discoveryv3.DeltaDiscoveryRequest
	sub   cachev3.Subscription
	known map[string]string // what the client holds, by name
	names []string          // indexed under, copied when tracked
}

var _ cachev3.Cache = (*topicCache)(nil)

func newTopicCache(typeURL string) *topicCache {
	return &topicCache{
		typeURL: typeURL,
		entries: map[string]*topicEntry{},
		unknown: map[string]bool{},
		watches: map[uint64]*topicWatch{},
		byName:  map[string]map[uint64]struct{}{},
		wild:    map[uint64]struct{}{},
	}
}

// update sets (non-nil) and deletes (nil) resources by name, marks names
// unknown (true) or not (false), and answers the watches that subscribe to
// a changed resource. A resource whose bytes did not change is not touched.
func (c *topicCache) update(changes map[string]proto.Message, unknown map[string]bool) error {
	type change struct {
		name string
		e    *topicEntry // nil: delete
	}
	var list []change
	for name, m := range changes {
		if m == nil {
			list = append(list, change{name: name})
			continue
		}
		a, err := resource.DeterministicAny(m)
		if err != nil {
			return err
		}
		v, err := resource.Hash(m)
		if err != nil {
			return err
		}
		list = append(list, change{name, &topicEntry{res: a, version: v}})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	affected := map[uint64]struct{}{}
	for name, u := range unknown {
		switch {
		case u:
			c.unknown[name] = true
		case c.unknown[name]:
			delete(c.unknown, name)
			if _, ok := c.entries[name]; !ok {
				// Known now to have nothing: a delta client holding it
				// from elsewhere hears it is gone.
				maps.Copy(affected, c.byName[name])
			}
		}
	}
	for _, ch := range list {
		old, had := c.entries[ch.name]
		switch {
		case ch.e == nil && !had:
			continue
		case ch.e == nil:
			delete(c.entries, ch.name)
		case had && old.version == ch.e.version:
			continue
		default:
			c.entries[ch.name] = ch.e
		}
		maps.Copy(affected, c.byName[ch.name])
		maps.Copy(affected, c.wild)
	}
	for id := range affected {
		if w, ok := c.watches[id]; ok && c.respondLocked(w) {
			c.removeLocked(id)
		}
	}
	return nil
}

// size returns the number of resources held.
func (c *topicCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// versions returns the version of every resource, by name.
func (c *topicCache) versions() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.entries))
	for n, e := range c.entries {
		out[n] = e.version
	}
	return out
}

// get returns the resource name as served.
func (c *topicCache) get(name string) (*anypb.Any, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[name]
	if !ok {
		return nil, "", false
	}
	return e.res, e.version, true
}

// CreateWatch implements cachev3.ConfigWatcher for state of the world.
func (c *topicCache) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, ch chan cachev3.Response) (func(), error) {
	if req.GetTypeUrl() != c.typeURL {
		return nil, errors.New("controlplane: topic cache: type " + req.GetTypeUrl() + " is not served here")
	}
	w := &topicWatch{sotw: ch, req: req, sub: sub, known: maps.Clone(sub.ReturnedResources())}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(w.known) == 0 && req.GetVersionInfo() != "" {
		// A new stream quoting a version: the client held something from
		// this or another replica. If what it names is what is here, it has
		// it all already.
		now := map[string]string{}
		for _, n := range c.namesLocked(w) {
			if e, ok := c.entries[n]; ok {
				now[n] = e.version
			}
		}
		if resource.CombinedVersion(now) == req.GetVersionInfo() {
			w.known = now
		}
	}
	if c.respondLocked(w) {
		return func() {}, nil
	}
	return c.trackLocked(w), nil
}

// CreateDeltaWatch implements cachev3.ConfigWatcher for delta.
func (c *topicCache) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, ch chan cachev3.DeltaResponse) (func(), error) {
	if req.GetTypeUrl() != c.typeURL {
		return nil, errors.New("controlplane: topic cache: type " + req.GetTypeUrl() + " is not served here")
	}
	w := &topicWatch{delta: ch, dreq: req, sub: sub, known: maps.Clone(sub.ReturnedResources())}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.respondLocked(w) {
		return func() {}, nil
	}
	return c.trackLocked(w), nil
}

// Fetch is not supported: clients stream.
func (c *topicCache) Fetch(context.Context, *cachev3.Request) (cachev3.Response, error) {
	return nil, errors.New("controlplane: topic cache: fetch is not supported")
}

func (c *topicCache) namesLocked(w *topicWatch) []string {
	if w.sub.IsWildcard() {
		return slices.Collect(maps.Keys(c.entries))
	}
	return slices.Collect(maps.Keys(w.sub.SubscribedResources()))
}

// respondLocked answers w if it lacks something: a resource it subscribes to
// that it does not hold at the current version, or (delta) one it holds
// that is gone. It reports whether it answered.
func (c *topicCache) respondLocked(w *topicWatch) bool {
	names := c.namesLocked(w)
	slices.Sort(names)
	next := make(map[string]string, len(names))
	var changed []string
	var removed []string
	for _, n := range names {
		e, ok := c.entries[n]
		known, held := w.known[n]
		switch {
		case ok && known != e.version:
			changed = append(changed, n)
			next[n] = e.version
		case ok:
			next[n] = known
		case held && !c.unknown[n]:
			removed = append(removed, n)
		}
	}
	if w.sotw != nil {
		// State of the world cannot say "removed" for this type; the client
		// keeps what it has until it unsubscribes.
		if len(changed) == 0 {
			return false
		}
		resources := make([]*anypb.Any, len(changed))
		for i, n := range changed {
			resources[i] = c.entries[n].res
		}
		w.sotw <- &cachev3.PassthroughResponse{
			Request:           w.req,
			ReturnedResources: next,
			DiscoveryResponse: &discoveryv3.DiscoveryResponse{
				VersionInfo: resource.CombinedVersion(next),
				Resources:   resources,
				TypeUrl:     c.typeURL,
			},
		}
		return true
	}
	if len(changed) == 0 && len(removed) == 0 {
		return false
	}
	resources := make([]*discoveryv3.Resource, len(changed))
	for i, n := range changed {
		e := c.entries[n]
		resources[i] = &discoveryv3.Resource{Name: n, Version: e.version, Resource: e.res}
	}
	w.delta <- &cachev3.DeltaPassthroughResponse{
		DeltaRequest:   w.dreq,
		NextVersionMap: next,
		DeltaDiscoveryResponse: &discoveryv3.DeltaDiscoveryResponse{
			Resources:        resources,
			RemovedResources: removed,
			TypeUrl:          c.typeURL,
		},
	}
	return true
}

func (c *topicCache) trackLocked(w *topicWatch) func() {
	c.nextID++
	id := c.nextID
	c.watches[id] = w
	if w.sub.IsWildcard() {
		c.wild[id] = struct{}{}
	} else {
		w.names = slices.Collect(maps.Keys(w.sub.SubscribedResources()))
		for _, n := range w.names {
			set := c.byName[n]
			if set == nil {
				set = map[uint64]struct{}{}
				c.byName[n] = set
			}
			set[id] = struct{}{}
		}
	}
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.removeLocked(id)
	}
}

func (c *topicCache) removeLocked(id uint64) {
	w, ok := c.watches[id]
	if !ok {
		return
	}
	delete(c.watches, id)
	delete(c.wild, id)
	for _, n := range w.names {
		if set := c.byName[n]; set != nil {
			delete(set, id)
			if len(set) == 0 {
				delete(c.byName, n)
			}
		}
	}
}
