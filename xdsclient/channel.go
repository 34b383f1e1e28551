package xdsclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
	"github.com/rmqmesh/rmqmesh/xdsclient/transport"
)

// resourceWrapperTypeURL is the type of the envoy.service.discovery.v3.Resource
// wrapper SotW servers use when they set TTLs.
const resourceWrapperTypeURL = "type.googleapis.com/envoy.service.discovery.v3.Resource"

// channel is the ADS session with one management server, shared by every
// authority that lists the server. While at least one authority holds it,
// a goroutine keeps a stream open, reconnecting with backoff. Everything
// but the immutable fields is guarded by Client.mu.
type channel struct {
	// Immutable after construction.
	c      *Client
	server *bootstrap.ServerConfig
	tr     transport.Transport
	logger *slog.Logger

	// Guarded by Client.mu.
	refs    int
	cancel  context.CancelFunc // stops the running goroutine, nil when stopped
	types   map[string]*chanType
	stream  *adsStream
	connErr error // why the last attempt failed
}

// chanType is the subscription and protocol state of one type on a
// channel. Guarded by Client.mu.
type chanType struct {
	rt   *resourceType
	subs map[string]bool // names subscribed on this channel
	// version is the last accepted SotW version_info; it outlives streams.
	version string
	// Scoped to the current stream.
	nonce   string          // last nonce received
	sent    map[string]bool // SotW: names of the last request; nil before the first
	started bool            // delta: the first request of the type was sent
}

// adsStream is one ADS stream of a channel.
type adsStream struct {
	s        transport.Stream
	delta    bool
	wake     chan struct{}
	queue    []*sendItem // guarded by Client.mu
	sentNode bool        // guarded by Client.mu
	answered bool        // guarded by Client.mu: a response was received
}

type itemKind int

const (
	itemACK          itemKind = iota // ACK or NACK of a response
	itemSotWNames                    // SotW: the names subscribed after a change
	itemDeltaInitial                 // delta: the first request of a type
	itemDeltaChange                  // delta: names subscribed and unsubscribed
)

// sendItem is one request to send. Subscription changes are queued one
// request per change, as grpc-go sends them: collapsing "unsubscribe A"
// and "subscribe A" into nothing would leave the server believing the
// client still holds A, which the client dropped on cancel.
type sendItem struct {
	typeURL string
	kind    itemKind
	// itemACK.
	nonce, version string
	nack           error
	// itemSotWNames: the names, and the names dropped since the previous
	// request, which a merged request must not bring back.
	names   []string
	dropped map[string]bool
	// itemDeltaChange.
	sub, unsub []string
}

func newChannel(c *Client, sc *bootstrap.ServerConfig, tr transport.Transport) *channel {
	ch := &channel{c: c, server: sc, tr: tr, types: make(map[string]*chanType, len(allTypes))}
	ch.logger = c.logger.With("server", sc.ServerURI)
	for _, rt := range allTypes {
		ch.types[rt.typeURL] = &chanType{rt: rt, subs: map[string]bool{}}
	}
	return ch
}

// acquireLocked takes a reference, starting the stream goroutine on the
// first one.
func (ch *channel) acquireLocked() {
	ch.refs++
	if ch.refs > 1 || ch.c.closed {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch.cancel = cancel
	ch.c.wg.Add(1)
	go func() {
		defer ch.c.wg.Done()
		ch.run(ctx)
	}()
}

// releaseLocked drops a reference, stopping the stream on the last one.
func (ch *channel) releaseLocked() {
	ch.refs--
	if ch.refs == 0 {
		ch.stopLocked()
	}
}

func (ch *channel) stopLocked() {
	if ch.cancel != nil {
		ch.cancel()
		ch.cancel = nil
	}
	ch.stream = nil
}

func (ch *channel) subscribeLocked(rt *resourceType, name string) {
	ct := ch.types[rt.typeURL]
	if ct.subs[name] {
		return
	}
	ct.subs[name] = true
	ch.enqueueChangeLocked(ct, name, true)
}

func (ch *channel) unsubscribeLocked(rt *resourceType, name string) {
	ct := ch.types[rt.typeURL]
	if !ct.subs[name] {
		return
	}
	delete(ct.subs, name)
	ch.enqueueChangeLocked(ct, name, false)
}

// enqueueChangeLocked queues the request for one subscription change. It
// merges the change into the last queued request of the same kind when
// that loses no transition the server must see.
func (ch *channel) enqueueChangeLocked(ct *chanType, name string, subscribed bool) {
	st := ch.stream
	if st == nil {
		return // the next stream subscribes to everything
	}
	var last *sendItem
	if n := len(st.queue); n > 0 && st.queue[n-1].typeURL == ct.rt.typeURL {
		last = st.queue[n-1]
	}
	if st.delta {
		switch {
		case last != nil && last.kind == itemDeltaInitial:
			// Built at send time from the subscriptions then.
		case last != nil && last.kind == itemDeltaChange && subscribed && !slices.Contains(last.unsub, name):
			last.sub = append(last.sub, name)
		case last != nil && last.kind == itemDeltaChange && !subscribed && !slices.Contains(last.sub, name):
			last.unsub = append(last.unsub, name)
		case subscribed:
			st.enqueue(&sendItem{typeURL: ct.rt.typeURL, kind: itemDeltaChange, sub: []string{name}})
		default:
			st.enqueue(&sendItem{typeURL: ct.rt.typeURL, kind: itemDeltaChange, unsub: []string{name}})
		}
		return
	}
	names := slices.Sorted(maps.Keys(ct.subs))
	if last != nil && last.kind == itemSotWNames && !slices.ContainsFunc(names, func(n string) bool { return last.dropped[n] }) {
		last.names = names
		if !subscribed {
			last.dropped[name] = true
		}
		st.wakeUp()
		return
	}
	it := &sendItem{typeURL: ct.rt.typeURL, kind: itemSotWNames, names: names, dropped: map[string]bool{}}
	if !subscribed {
		it.dropped[name] = true
	}
	st.enqueue(it)
}

func (st *adsStream) enqueue(it *sendItem) {
	st.queue = append(st.queue, it)
	st.wakeUp()
}

func (st *adsStream) wakeUp() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// run keeps a stream to the server open until ctx ends. A stream that got
// a response is reopened at once; a failed attempt is reported to the
// authorities (which may fall back) and retried with backoff.
func (ch *channel) run(ctx context.Context) {
	retries := 0
	for {
		answered, err := ch.runStream(ctx)
		if ctx.Err() != nil {
			return
		}
		if answered {
			// gRFC A57: a stream that ends after a response (a server
			// closing streams at max age) is not an error.
			ch.logger.Debug("ADS stream ended after a response, reconnecting", "error", err)
			retries = 0
			continue
		}
		ch.c.mu.Lock()
		if ctx.Err() == nil {
			ch.connErr = err
			ch.c.onChannelFailureLocked(ch, err)
		}
		ch.c.mu.Unlock()
		d := ch.c.backoff(retries)
		level := slog.LevelDebug
		if retries == 0 {
			level = slog.LevelInfo // once per outage; the retries are chatty
		}
		retries++
		ch.logger.Log(ctx, level, "xDS server unreachable, backing off", "delay", d, "error", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// runStream runs one stream until it breaks and reports whether the
// server answered at least once.
func (ch *channel) runStream(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := ch.c
	method := transport.MethodSotW
	if c.protocol == bootstrap.ProtocolDelta {
		method = transport.MethodDelta
	}
	s, err := ch.tr.NewStream(ctx, method)
	if err != nil {
		return false, err
	}
	st := &adsStream{s: s, delta: c.protocol == bootstrap.ProtocolDelta, wake: make(chan struct{}, 1)}
	c.mu.Lock()
	if ctx.Err() != nil {
		c.mu.Unlock()
		return false, ctx.Err()
	}
	ch.stream = st
	for _, rt := range allTypes {
		ct := ch.types[rt.typeURL]
		ct.nonce, ct.sent, ct.started = "", nil, false
		if len(ct.subs) == 0 {
			continue
		}
		if st.delta {
			st.enqueue(&sendItem{typeURL: rt.typeURL, kind: itemDeltaInitial})
		} else {
			st.enqueue(&sendItem{typeURL: rt.typeURL, kind: itemSotWNames, names: slices.Sorted(maps.Keys(ct.subs)), dropped: map[string]bool{}})
		}
	}
	c.mu.Unlock()
	ch.logger.Debug("ADS stream opened")

	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		ch.sendLoop(ctx, cancel, st)
	}()
	err = ch.recvLoop(st)
	cancel()
	<-sendDone

	c.mu.Lock()
	defer c.mu.Unlock()
	if ch.stream == st {
		ch.stream = nil
	}
	// The does-not-exist timers of requests on this stream stop with it;
	// they start again when the next stream sends the request.
	for typeURL, ct := range ch.types {
		rt := typeByURL(typeURL)
		for name := range ct.subs {
			if a, err := c.authorityFor(name); err == nil {
				if rs := a.resource(rt, name); rs != nil && rs.timerSt == st {
					rs.stopTimerLocked()
				}
			}
		}
	}
	return st.answered, err
}

// sent is a serialized request and the names whose timers start once it
// is on the wire.
type sent struct {
	msg     []byte
	typeURL string
	names   []string
}

func (ch *channel) sendLoop(ctx context.Context, cancel context.CancelFunc, st *adsStream) {
	c := ch.c
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.wake:
		}
		c.mu.Lock()
		items := st.queue
		st.queue = nil
		var msgs []sent
		for _, it := range items {
			// The builders return typed nil pointers when nothing is to be
			// sent; test them before they become a non-nil proto.Message.
			var m proto.Message
			var names []string
			if st.delta {
				r := ch.deltaRequestLocked(st, it)
				if r == nil {
					continue
				}
				m, names = r, r.ResourceNamesSubscribe
			} else {
				r := ch.sotwRequestLocked(st, it)
				if r == nil {
					continue
				}
				m, names = r, r.ResourceNames
			}
			b, err := proto.Marshal(m)
			if err != nil {
				ch.logger.Debug("cannot marshal request", "error", err)
				continue
			}
			msgs = append(msgs, sent{msg: b, typeURL: it.typeURL, names: names})
		}
		c.mu.Unlock()
		for _, m := range msgs {
			if err := st.s.Send(m.msg); err != nil {
				ch.logger.Debug("send failed", "error", err)
				cancel()
				return
			}
			ch.onSent(ctx, st, m)
		}
	}
}

// onSent starts the does-not-exist timers of the names a request carried
// once it is on the wire, as grpc-go does.
func (ch *channel) onSent(ctx context.Context, st *adsStream, m sent) {
	c := ch.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if ctx.Err() != nil || c.closed {
		return
	}
	rt := typeByURL(m.typeURL)
	for _, name := range m.names {
		if a, rs := c.servesLocked(ch, rt, name); rs != nil {
			c.startTimerLocked(a, rt, rs, st)
		}
	}
}

func nackStatus(err error) *statuspb.Status {
	if err == nil {
		return nil
	}
	return &statuspb.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
}

func (ch *channel) sotwRequestLocked(st *adsStream, it *sendItem) *discoveryv3.DiscoveryRequest {
	ct := ch.types[it.typeURL]
	req := &discoveryv3.DiscoveryRequest{TypeUrl: it.typeURL}
	switch it.kind {
	case itemACK:
		if ct.sent == nil {
			// Never subscribed on this stream: an empty request would
			// mean wildcard, even as the ACK of an unsolicited response.
			return nil
		}
		req.ResourceNames = slices.Sorted(maps.Keys(ct.sent))
		req.VersionInfo, req.ResponseNonce, req.ErrorDetail = it.version, it.nonce, nackStatus(it.nack)
	case itemSotWNames:
		if ct.sent == nil && len(it.names) == 0 {
			return nil
		}
		if ct.sent != nil && len(ct.sent) == len(it.names) && !slices.ContainsFunc(it.names, func(n string) bool { return !ct.sent[n] }) {
			return nil
		}
		req.ResourceNames = it.names
		req.VersionInfo, req.ResponseNonce = ct.version, ct.nonce
		ct.sent = make(map[string]bool, len(it.names))
		for _, n := range it.names {
			ct.sent[n] = true
		}
	default:
		return nil
	}
	if !st.sentNode {
		req.Node, st.sentNode = ch.c.node, true
	}
	ch.logger.Debug("send request", "type", ct.rt.short, "names", len(req.ResourceNames), "version", req.VersionInfo, "nonce", req.ResponseNonce, "nack", it.nack != nil)
	return req
}

func (ch *channel) deltaRequestLocked(st *adsStream, it *sendItem) *discoveryv3.DeltaDiscoveryRequest {
	ct := ch.types[it.typeURL]
	req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: it.typeURL}
	switch {
	case it.kind == itemACK:
		if !ct.started {
			return nil // an unsolicited response; see sotwRequestLocked
		}
		req.ResponseNonce, req.ErrorDetail = it.nonce, nackStatus(it.nack)
	case it.kind == itemDeltaInitial || !ct.started:
		if len(ct.subs) == 0 {
			return nil
		}
		req.ResourceNamesSubscribe = slices.Sorted(maps.Keys(ct.subs))
		rt := typeByURL(it.typeURL)
		for _, name := range req.ResourceNamesSubscribe {
			if a, err := ch.c.authorityFor(name); err == nil {
				if rs := a.resource(rt, name); rs != nil && rs.value != nil && rs.version != "" {
					if req.InitialResourceVersions == nil {
						req.InitialResourceVersions = map[string]string{}
					}
					req.InitialResourceVersions[name] = rs.version
				}
			}
		}
		ct.started = true
	default:
		if len(it.sub) == 0 && len(it.unsub) == 0 {
			return nil
		}
		req.ResourceNamesSubscribe, req.ResourceNamesUnsubscribe = it.sub, it.unsub
	}
	if !st.sentNode {
		req.Node, st.sentNode = ch.c.node, true
	}
	ch.logger.Debug("send delta request", "type", ct.rt.short, "subscribe", len(req.ResourceNamesSubscribe), "unsubscribe", len(req.ResourceNamesUnsubscribe), "nonce", req.ResponseNonce, "nack", it.nack != nil)
	return req
}

func (ch *channel) recvLoop(st *adsStream) error {
	for {
		b, err := st.s.Recv()
		if err != nil {
			return err
		}
		if st.delta {
			resp := &discoveryv3.DeltaDiscoveryResponse{}
			if err := proto.Unmarshal(b, resp); err != nil {
				return fmt.Errorf("cannot decode DeltaDiscoveryResponse: %w", err)
			}
			ch.handleDelta(st, resp)
		} else {
			resp := &discoveryv3.DiscoveryResponse{}
			if err := proto.Unmarshal(b, resp); err != nil {
				return fmt.Errorf("cannot decode DiscoveryResponse: %w", err)
			}
			ch.handleSotW(st, resp)
		}
	}
}

// recordLocked reports one response's accepted and NACKed resources to the
// update recorder, if any.
func (c *Client) recordLocked(rt *resourceType, accepted, nacked int) {
	if c.record != nil && (accepted > 0 || nacked > 0) {
		c.record(rt.short, accepted, nacked)
	}
}

// joinNACK formats per-resource errors for error_detail.
func joinNACK(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// beginResponseLocked does what every response does first: it marks the
// stream as answered, returns to this server where it has priority, and
// records the nonce. It returns nil when the response is to be ignored.
func (ch *channel) beginResponseLocked(st *adsStream, typeURL, nonce string) *chanType {
	if ch.stream != st {
		return nil
	}
	st.answered = true
	ch.c.revertLocked(ch)
	ct := ch.types[typeURL]
	if ct == nil {
		ch.logger.Warn("response for unknown type", "type", typeURL)
		return nil
	}
	ct.nonce = nonce
	return ct
}

// unwrapSotW returns the resource inside an envoy.service.discovery.v3.Resource
// wrapper, or a itself. A wrapper without a body is a TTL heartbeat: it
// returns its name and a nil resource.
func unwrapSotW(a *anypb.Any) (heartbeat string, res *anypb.Any, err error) {
	if a.GetTypeUrl() != resourceWrapperTypeURL {
		return "", a, nil
	}
	r := &discoveryv3.Resource{}
	if err := proto.Unmarshal(a.GetValue(), r); err != nil {
		return "", nil, fmt.Errorf("cannot decode resource wrapper: %w", err)
	}
	if r.GetResource() == nil {
		if r.GetName() == "" {
			return "", nil, errors.New("resource wrapper has neither a name nor a resource")
		}
		return r.GetName(), nil, nil
	}
	return "", r.GetResource(), nil
}

// decodedResource is one resource of a response, decoded (or not).
type decodedResource struct {
	name    string
	u       update
	msg     proto.Message
	raw     []byte
	version string // delta only
	err     error
}

// rejectDuplicates turns every copy of a name that a response carries more
// than once into a decode error: two versions of one resource in one answer
// contradict each other, and taking either would be a guess (Envoy rejects
// such an update too). The last good version stays in force.
func rejectDuplicates(ds []decodedResource) []decodedResource {
	count := make(map[string]int, len(ds))
	for _, d := range ds {
		if d.name != "" {
			count[d.name]++
		}
	}
	for i := range ds {
		if n := count[ds[i].name]; n > 1 {
			ds[i].u, ds[i].msg = nil, nil
			ds[i].err = fmt.Errorf("the response carries %d resources named %q; it must carry one", n, ds[i].name)
		}
	}
	return ds
}

// applyLocked applies one decoded resource (or its decode error) to the
// cache when this server is the one it must come from, and returns the
// error for the NACK, if any.
func (ch *channel) applyLocked(ct *chanType, name string, u update, msg proto.Message, raw []byte, version string, decodeErr error) error {
	rt := ct.rt
	var nack error
	if decodeErr != nil {
		nack = fmt.Errorf("%s %q: %w", rt.short, name, decodeErr)
	}
	if !ct.subs[name] {
		return nack // not subscribed
	}
	_, rs := ch.c.servesLocked(ch, rt, name)
	switch {
	case rs == nil:
	case decodeErr != nil:
		ch.c.onInvalidLocked(rt, rs, decodeErr)
	default:
		ch.c.onUpdateLocked(rs, u, msg, raw, version)
	}
	return nack
}

func (ch *channel) handleSotW(st *adsStream, resp *discoveryv3.DiscoveryResponse) {
	c := ch.c
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := ch.beginResponseLocked(st, resp.GetTypeUrl(), resp.GetNonce())
	if ct == nil {
		return
	}
	rt := ct.rt
	seen := map[string]bool{}
	unnamed := false // a resource failed before its name was known
	var errs []error
	decoded := make([]decodedResource, 0, len(resp.GetResources()))
	for _, raw := range resp.GetResources() {
		heartbeat, res, err := unwrapSotW(raw)
		if heartbeat != "" {
			seen[heartbeat] = true // keeps the cached version
			continue
		}
		d := decodedResource{raw: res.GetValue(), err: err}
		if err == nil {
			d.name, d.u, d.msg, d.err = ch.c.decode(rt, res)
		}
		if d.name != "" {
			seen[d.name] = true
		} else {
			unnamed = true
		}
		decoded = append(decoded, d)
	}
	for _, d := range rejectDuplicates(decoded) {
		if err := ch.applyLocked(ct, d.name, d.u, d.msg, d.raw, resp.GetVersionInfo(), d.err); err != nil {
			errs = append(errs, err)
		}
	}
	// A resource missing from a full-state response is deleted, unless a
	// resource of the response could not even be named: it may be the
	// missing one, and a NACK must not drop the last good version.
	if rt.fullState && !unnamed {
		for name := range ct.subs {
			if seen[name] {
				continue
			}
			if _, rs := c.servesLocked(ch, rt, name); rs != nil && rs.value != nil {
				c.onDeletedLocked(rt, rs, ch.server)
			}
		}
	}
	c.recordLocked(rt, len(resp.GetResources())-len(errs), len(errs))
	nack := joinNACK(errs)
	if nack == nil {
		ct.version = resp.GetVersionInfo()
	} else {
		ch.logger.Warn("NACK", "type", rt.short, "version", resp.GetVersionInfo(), "error", nack)
	}
	ch.logger.Debug("received response", "type", rt.short, "version", resp.GetVersionInfo(), "resources", len(resp.GetResources()))
	st.enqueue(&sendItem{typeURL: rt.typeURL, kind: itemACK, nonce: resp.GetNonce(), version: ct.version, nack: nack})
}

func (ch *channel) handleDelta(st *adsStream, resp *discoveryv3.DeltaDiscoveryResponse) {
	c := ch.c
	c.mu.Lock()
	defer c.mu.Unlock()
	ct := ch.beginResponseLocked(st, resp.GetTypeUrl(), resp.GetNonce())
	if ct == nil {
		return
	}
	rt := ct.rt
	var errs []error
	decoded := make([]decodedResource, 0, len(resp.GetResources()))
	for _, r := range resp.GetResources() {
		if r.GetResource() == nil {
			// A TTL heartbeat: the cached version stays in force. Envoy
			// refreshes the TTL; this client does not expire resources.
			ch.logger.Debug("heartbeat", "type", rt.short, "name", r.GetName())
			continue
		}
		name, u, msg, err := ch.c.decode(rt, r.GetResource())
		if err == nil && r.GetName() != "" && r.GetName() != name {
			err = fmt.Errorf("resource body is named %q", name)
		}
		if r.GetName() != "" {
			name = r.GetName()
		}
		decoded = append(decoded, decodedResource{name: name, u: u, msg: msg, raw: r.GetResource().GetValue(),
			version: cmp.Or(r.GetVersion(), resp.GetSystemVersionInfo()), err: err})
	}
	for _, d := range rejectDuplicates(decoded) {
		if err := ch.applyLocked(ct, d.name, d.u, d.msg, d.raw, d.version, d.err); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range resp.GetRemovedResources() {
		if !ct.subs[name] {
			continue
		}
		if _, rs := c.servesLocked(ch, rt, name); rs != nil {
			c.onDeletedLocked(rt, rs, ch.server)
		}
	}
	c.recordLocked(rt, len(resp.GetResources())-len(errs), len(errs))
	nack := joinNACK(errs)
	if nack != nil {
		ch.logger.Warn("NACK", "type", rt.short, "nonce", resp.GetNonce(), "error", nack)
	}
	ch.logger.Debug("received delta response", "type", rt.short, "resources", len(resp.GetResources()), "removed", len(resp.GetRemovedResources()))
	st.enqueue(&sendItem{typeURL: rt.typeURL, kind: itemACK, nonce: resp.GetNonce(), nack: nack})
}
