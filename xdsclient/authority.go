package xdsclient

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func mapsKeys[K comparable, V any](m map[K]V) func(func(K) bool) { return maps.Keys(m) }

// authority is the resource cache of one authority (gRFC A47) and its
// fallback state (gRFC A71): the ordered servers it may use, and which of
// them is in use. All fields are guarded by Client.mu.
type authority struct {
	name    string // "" for old-style names
	servers []*bootstrap.ServerConfig
	// candidates[i] is the channel for servers[i]; held[i] says whether
	// this authority holds a reference to it. The authority holds
	// candidates[0..active] once anything was watched: the active one and
	// the higher-priority ones it waits to return to.
	candidates []*channel
	held       []bool
	active     int
	types      map[string]*typeCache
}

// typeCache is the cache of one resource type within an authority.
type typeCache struct {
	rt        *resourceType
	resources map[string]*resourceState
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
	// The does-not-exist timer runs only while a request naming the
	// resource is on an open stream (timerSt).
	timer    *time.Timer
	timerGen int
	timerSt  *adsStream
}

func newAuthority(name string, servers []*bootstrap.ServerConfig) *authority {
	a := &authority{
		name:       name,
		servers:    servers,
		candidates: make([]*channel, len(servers)),
		held:       make([]bool, len(servers)),
		types:      make(map[string]*typeCache, len(allTypes)),
	}
	for _, rt := range allTypes {
		a.types[rt.typeURL] = &typeCache{rt: rt, resources: map[string]*resourceState{}}
	}
	return a
}

func (a *authority) resource(rt *resourceType, name string) *resourceState {
	return a.types[rt.typeURL].resources[name]
}

func (a *authority) addResource(rt *resourceType, name string) *resourceState {
	rs := &resourceState{name: name, watchers: map[*watcherEntry]struct{}{}}
	a.types[rt.typeURL].resources[name] = rs
	return rs
}

func (a *authority) removeResource(rt *resourceType, name string) {
	delete(a.types[rt.typeURL].resources, name)
}

func (a *authority) allResources() []*resourceState {
	var out []*resourceState
	for _, tc := range a.types {
		for _, rs := range tc.resources {
			out = append(out, rs)
		}
	}
	return out
}

// index returns the position of ch among the channels a holds, or -1.
func (a *authority) index(ch *channel) int {
	for i, c := range a.candidates {
		if c == ch && a.held[i] {
			return i
		}
	}
	return -1
}

// activeChannel returns the channel a uses, nil before the first watch.
func (a *authority) activeChannel() *channel {
	if !a.held[a.active] {
		return nil
	}
	return a.candidates[a.active]
}

// hasUncachedWatch reports whether something watched has no cached value,
// where "does not exist" counts as cached (gRFC A71's fallback condition).
func (a *authority) hasUncachedWatch() bool {
	for _, rs := range a.allResources() {
		if rs.value == nil && rs.status != StatusDoesNotExist && len(rs.watchers) > 0 {
			return true
		}
	}
	return false
}

// authorityFor maps a resource name to its authority (gRFC A47): xdstp://
// names to the authority they name, every other name to the top-level
// servers.
func (c *Client) authorityFor(name string) (*authority, error) {
	if name == "" || name == "*" {
		return nil, errors.New("invalid resource name: empty or the wildcard \"*\"")
	}
	if !strings.HasPrefix(name, "xdstp:") {
		return c.defAuth, nil
	}
	u, err := url.Parse(name)
	if err != nil || u.Scheme != "xdstp" || u.Opaque != "" {
		return nil, fmt.Errorf("invalid xdstp resource name: want xdstp://AUTHORITY/TYPE/ID")
	}
	a := c.auths[u.Host]
	if a == nil {
		return nil, fmt.Errorf("authority %q is not in the bootstrap's authorities", u.Host)
	}
	return a, nil
}

// subscribeLocked subscribes name on every channel a holds, acquiring
// the first server's channel on a's first watch.
func (c *Client) subscribeLocked(a *authority, rt *resourceType, name string) {
	if !a.held[0] {
		a.active = 0
		c.holdLocked(a, 0)
	}
	for i := 0; i <= a.active; i++ {
		a.candidates[i].subscribeLocked(rt, name)
	}
}

func (c *Client) unsubscribeLocked(a *authority, rt *resourceType, name string) {
	for i := 0; i <= a.active; i++ {
		if a.held[i] {
			a.candidates[i].unsubscribeLocked(rt, name)
		}
	}
}

func (c *Client) holdLocked(a *authority, i int) {
	a.held[i] = true
	a.candidates[i].acquireLocked()
}

// releaseLocked drops a's reference to candidates[i] and its names there.
func (c *Client) releaseLocked(a *authority, i int) {
	ch := a.candidates[i]
	for typeURL, tc := range a.types {
		for name := range tc.resources {
			ch.unsubscribeLocked(typeByURL(typeURL), name)
		}
	}
	a.held[i] = false
	ch.releaseLocked()
}

// onChannelFailureLocked handles a stream to ch that failed before any
// response (a connectivity failure in gRFC A57's sense). For each
// authority using ch, it falls back to the next server when something
// watched is not cached (gRFC A71), and otherwise reports the failure to
// the watchers: a resource error where nothing is cached, an ambient error
// where something is.
func (c *Client) onChannelFailureLocked(ch *channel, cause error) {
	for _, a := range c.authorities() {
		i := a.index(ch)
		if i < 0 || i != a.active {
			// A higher-priority server that is still down while a
			// fallback serves: nothing new for the watchers.
			continue
		}
		if a.hasUncachedWatch() && i+1 < len(a.servers) {
			a.active = i + 1
			c.holdLocked(a, a.active)
			next := a.candidates[a.active]
			for typeURL, tc := range a.types {
				for name := range tc.resources {
					next.subscribeLocked(typeByURL(typeURL), name)
				}
			}
			c.logger.Warn("xDS server unreachable, falling back", "authority", a.name, "server", ch.server.ServerURI, "fallback", next.server.ServerURI, "error", cause)
			continue
		}
		for typeURL, tc := range a.types {
			for _, rs := range tc.resources {
				err := &Error{Kind: KindConnection, TypeURL: typeURL, Name: rs.name, Err: fmt.Errorf("no xDS server reachable (last tried %q): %w", ch.server.ServerURI, cause)}
				if rs.value != nil {
					c.notifyAmbientErrorLocked(rs, err)
					continue
				}
				if rs.status != StatusRequested || KindOf(rs.err) == KindConnection {
					// Either the watchers already have an answer (does not
					// exist, NACKed) or were told of this outage: once per
					// outage, since the error is cleared when a stream sends
					// the request again.
					continue
				}
				rs.err = err
				c.notifyResourceErrorLocked(rs, err)
			}
		}
	}
}

// revertLocked makes every authority that holds ch at a higher priority
// than its active server use ch again, and lets go of the lower-priority
// servers (gRFC A71: the primary answered again).
func (c *Client) revertLocked(ch *channel) {
	for _, a := range c.authorities() {
		i := a.index(ch)
		if i < 0 || i >= a.active {
			continue
		}
		for j := a.active; j > i; j-- {
			if a.held[j] {
				c.releaseLocked(a, j)
			}
		}
		c.logger.Info("xDS server answered again, leaving the fallback", "authority", a.name, "server", ch.server.ServerURI, "fallback", a.servers[a.active].ServerURI)
		a.active = i
	}
}

// servesLocked returns the authority and state of name when ch is the
// server a response about it must come from, else nils.
func (c *Client) servesLocked(ch *channel, rt *resourceType, name string) (*authority, *resourceState) {
	a, err := c.authorityFor(name)
	if err != nil || a.activeChannel() != ch {
		return nil, nil
	}
	return a, a.resource(rt, name)
}

func (rs *resourceState) stopTimerLocked() {
	rs.timerGen++
	rs.timerSt = nil
	if rs.timer != nil {
		rs.timer.Stop()
		rs.timer = nil
	}
}

// startTimerLocked starts the does-not-exist timer of rs once a request
// naming it was sent on st, unless something about rs is already known or
// the timer runs.
func (c *Client) startTimerLocked(a *authority, rt *resourceType, rs *resourceState, st *adsStream) {
	if rs.timer != nil || rs.value != nil || rs.status != StatusRequested {
		return
	}
	rs.err = nil // a connection error is no longer current
	rs.timerGen++
	gen := rs.timerGen
	rs.timerSt = st
	rs.timer = time.AfterFunc(c.timeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed || rs.timerGen != gen || a.resource(rt, rs.name) != rs || rs.value != nil || rs.status != StatusRequested {
			return
		}
		rs.timer, rs.timerSt = nil, nil
		rs.status = StatusDoesNotExist
		rs.err = &Error{Kind: KindResourceNotFound, TypeURL: rt.typeURL, Name: rs.name,
			Err: fmt.Errorf("does not exist: no response within %v", c.timeout)}
		c.logger.Debug("resource timeout", "type", rt.short, "name", rs.name, "error", rs.err)
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
	if f := unimplementedOf(u); len(f) > 0 {
		c.logger.Warn("accepted settings that are not implemented yet; they have no effect", "name", rs.name, "version", version, "settings", f)
	}
	c.notifyChangedLocked(rs)
}

// onInvalidLocked records a rejected version of rs; the last valid version
// stays in force.
func (c *Client) onInvalidLocked(rt *resourceType, rs *resourceState, cause error) {
	rs.stopTimerLocked()
	rs.status = StatusNacked
	rs.err = &Error{Kind: KindNACKed, TypeURL: rt.typeURL, Name: rs.name, Err: cause}
	if rs.value != nil {
		c.notifyAmbientErrorLocked(rs, rs.err)
	} else {
		c.notifyResourceErrorLocked(rs, rs.err)
	}
}

// onDeletedLocked handles a resource the server removed.
func (c *Client) onDeletedLocked(rt *resourceType, rs *resourceState, server *bootstrap.ServerConfig) {
	if server.IgnoreResourceDeletion && rs.value != nil {
		c.logger.Warn("ignoring resource deletion (ignore_resource_deletion)", "type", rt.short, "name", rs.name, "server", server.ServerURI)
		return
	}
	if rs.value == nil && rs.status == StatusDoesNotExist {
		return
	}
	rs.stopTimerLocked()
	rs.value, rs.msg, rs.raw, rs.version = nil, nil, nil, ""
	rs.status = StatusDoesNotExist
	rs.err = &Error{Kind: KindResourceNotFound, TypeURL: rt.typeURL, Name: rs.name, Err: errors.New("deleted by the management server")}
	c.notifyResourceErrorLocked(rs, rs.err)
}

func typeByURL(typeURL string) *resourceType {
	for _, rt := range allTypes {
		if rt.typeURL == typeURL {
			return rt
		}
	}
	return nil
}
