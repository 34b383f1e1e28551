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

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
	"github.com/rmqmesh/rmqmesh/xdsclient/transport"
)

// adsStream is one ADS stream. Its queue is guarded by Client.mu.
type adsStream struct {
	s        transport.Stream
	server   *serverEntry
	delta    bool
	wake     chan struct{}
	queue    []sendItem // guarded by Client.mu
	sentNode bool       // guarded by Client.mu
	answered bool       // guarded by Client.mu: a response was received
}

// sendItem asks the sender to send a request for one type: an ACK/NACK of
// a response (ack true) or the current subscription.
type sendItem struct {
	typeURL string
	ack     bool
	nonce   string
	version string
	nack    error
}

func (st *adsStream) enqueueLocked(it sendItem) {
	if !it.ack && slices.ContainsFunc(st.queue, func(q sendItem) bool { return !q.ack && q.typeURL == it.typeURL }) {
		return
	}
	st.queue = append(st.queue, it)
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// run keeps a stream open: it tries the servers in bootstrap order (the
// first that answers wins) and backs off when none does.
func (c *Client) run() {
	defer close(c.done)
	retries := 0
	for {
		answered := false
		for _, se := range c.servers {
			if c.ctx.Err() != nil {
				return
			}
			if c.runStream(se) {
				answered = true
				break
			}
			c.logger.Debug("xDS server failed, trying the next one", "server", se.cfg.ServerURI)
		}
		if c.ctx.Err() != nil {
			return
		}
		if answered {
			retries = 0
			continue
		}
		c.mu.Lock()
		err := &Error{Kind: KindConnection, Err: fmt.Errorf("no xDS server reachable: %w", c.connErr)}
		c.notifyAllCachedLocked(err)
		c.mu.Unlock()
		d := c.backoff(retries)
		retries++
		c.logger.Info("no xDS server reachable, backing off", "delay", d, "error", err)
		t := time.NewTimer(d)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// notifyAllCachedLocked sends err as an ambient error to the watchers of
// every cached resource.
func (c *Client) notifyAllCachedLocked(err error) {
	for _, ts := range c.types {
		for _, rs := range ts.resources {
			if rs.value != nil {
				c.notifyAmbientErrorLocked(rs, err)
			}
		}
	}
}

// runStream runs one stream to se until it breaks and reports whether the
// server answered at least once.
func (c *Client) runStream(se *serverEntry) bool {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	method := transport.MethodSotW
	if c.protocol == bootstrap.ProtocolDelta {
		method = transport.MethodDelta
	}
	logger := c.logger.With("server", se.cfg.ServerURI)
	s, err := se.tr.NewStream(ctx, method)
	if err != nil {
		c.mu.Lock()
		c.connErr = err
		c.mu.Unlock()
		logger.Debug("cannot open ADS stream", "error", err)
		return false
	}
	st := &adsStream{s: s, server: se, delta: c.protocol == bootstrap.ProtocolDelta, wake: make(chan struct{}, 1)}
	c.mu.Lock()
	c.stream = st
	for _, ts := range c.types {
		ts.nonce, ts.sent = "", nil
		if len(ts.resources) > 0 {
			st.enqueueLocked(sendItem{typeURL: ts.rt.typeURL})
		}
		for _, rs := range ts.resources {
			if rs.value == nil && rs.status != StatusNacked {
				rs.status, rs.err = StatusRequested, nil
				c.startTimerLocked(ts, rs)
			}
		}
	}
	c.mu.Unlock()
	logger.Debug("ADS stream opened")

	sendDone := make(chan struct{})
	go func() {
		defer close(sendDone)
		c.sendLoop(ctx, cancel, st, logger)
	}()
	err = c.recvLoop(st, logger)
	cancel()
	<-sendDone

	c.mu.Lock()
	defer c.mu.Unlock()
	c.stream = nil
	c.connErr = err
	if st.answered && !c.closed {
		logger.Info("ADS stream broken", "error", err)
		c.notifyAllCachedLocked(&Error{Kind: KindConnection, Err: fmt.Errorf("ADS stream to %q broken: %w", se.cfg.ServerURI, err)})
	}
	return st.answered
}

func (c *Client) sendLoop(ctx context.Context, cancel context.CancelFunc, st *adsStream, logger *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.wake:
		}
		c.mu.Lock()
		items := st.queue
		st.queue = nil
		var msgs [][]byte
		for _, it := range items {
			// The builders return typed nil pointers when nothing is to be
			// sent; test them before they become a non-nil proto.Message.
			var m proto.Message
			if st.delta {
				r := c.deltaRequestLocked(st, it)
				if r == nil {
					continue
				}
				m = r
			} else {
				r := c.sotwRequestLocked(st, it)
				if r == nil {
					continue
				}
				m = r
			}
			b, err := proto.Marshal(m)
			if err != nil {
				logger.Debug("cannot marshal request", "error", err)
				continue
			}
			msgs = append(msgs, b)
		}
		c.mu.Unlock()
		for _, b := range msgs {
			if err := st.s.Send(b); err != nil {
				logger.Debug("send failed", "error", err)
				cancel()
				return
			}
		}
	}
}

func nackStatus(err error) *statuspb.Status {
	if err == nil {
		return nil
	}
	return &statuspb.Status{Code: int32(codes.InvalidArgument), Message: err.Error()}
}

func (c *Client) sotwRequestLocked(st *adsStream, it sendItem) *discoveryv3.DiscoveryRequest {
	ts := c.types[it.typeURL]
	names := slices.Sorted(maps.Keys(ts.resources))
	if ts.sent == nil && len(names) == 0 {
		// Never subscribed on this stream: an empty first request would
		// mean wildcard, even as the ACK of an unsolicited response.
		return nil
	}
	req := &discoveryv3.DiscoveryRequest{TypeUrl: it.typeURL, ResourceNames: names}
	if it.ack {
		req.VersionInfo, req.ResponseNonce, req.ErrorDetail = it.version, it.nonce, nackStatus(it.nack)
	} else {
		if ts.sent != nil && len(ts.sent) == len(names) && !slices.ContainsFunc(names, func(n string) bool { return !ts.sent[n] }) {
			return nil
		}
		req.VersionInfo, req.ResponseNonce = ts.version, ts.nonce
	}
	ts.sent = make(map[string]bool, len(names))
	for _, n := range names {
		ts.sent[n] = true
	}
	if !st.sentNode {
		req.Node, st.sentNode = c.node, true
	}
	c.logger.Debug("send request", "type", ts.rt.short, "names", len(names), "version", req.VersionInfo, "nonce", req.ResponseNonce, "nack", it.nack != nil)
	return req
}

func (c *Client) deltaRequestLocked(st *adsStream, it sendItem) *discoveryv3.DeltaDiscoveryRequest {
	ts := c.types[it.typeURL]
	req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: it.typeURL}
	if ts.sent == nil {
		if len(ts.resources) == 0 {
			// An empty first request would mean wildcard, even as the ACK
			// of an unsolicited response.
			return nil
		}
		req.ResourceNamesSubscribe = slices.Sorted(maps.Keys(ts.resources))
		for name, rs := range ts.resources {
			if rs.value != nil && rs.version != "" {
				if req.InitialResourceVersions == nil {
					req.InitialResourceVersions = map[string]string{}
				}
				req.InitialResourceVersions[name] = rs.version
			}
		}
		ts.sent = map[string]bool{}
	} else {
		for name := range ts.resources {
			if !ts.sent[name] {
				req.ResourceNamesSubscribe = append(req.ResourceNamesSubscribe, name)
			}
		}
		for name := range ts.sent {
			if _, ok := ts.resources[name]; !ok {
				req.ResourceNamesUnsubscribe = append(req.ResourceNamesUnsubscribe, name)
			}
		}
		slices.Sort(req.ResourceNamesSubscribe)
		slices.Sort(req.ResourceNamesUnsubscribe)
	}
	if it.ack {
		req.ResponseNonce, req.ErrorDetail = it.nonce, nackStatus(it.nack)
	} else if len(req.ResourceNamesSubscribe) == 0 && len(req.ResourceNamesUnsubscribe) == 0 {
		return nil
	}
	for _, n := range req.ResourceNamesSubscribe {
		ts.sent[n] = true
	}
	for _, n := range req.ResourceNamesUnsubscribe {
		delete(ts.sent, n)
	}
	if !st.sentNode {
		req.Node, st.sentNode = c.node, true
	}
	c.logger.Debug("send delta request", "type", ts.rt.short, "subscribe", len(req.ResourceNamesSubscribe), "unsubscribe", len(req.ResourceNamesUnsubscribe), "nonce", req.ResponseNonce, "nack", it.nack != nil)
	return req
}

func (c *Client) recvLoop(st *adsStream, logger *slog.Logger) error {
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
			c.handleDelta(st, resp)
		} else {
			resp := &discoveryv3.DiscoveryResponse{}
			if err := proto.Unmarshal(b, resp); err != nil {
				return fmt.Errorf("cannot decode DiscoveryResponse: %w", err)
			}
			c.handleSotW(st, resp)
		}
	}
}

// recordLocked reports one response's accepted and NACKed resources to the
// update recorder, if any.
func (c *Client) recordLocked(ts *typeState, accepted, nacked int) {
	if c.record != nil && (accepted > 0 || nacked > 0) {
		c.record(ts.rt.short, accepted, nacked)
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

func (c *Client) handleSotW(st *adsStream, resp *discoveryv3.DiscoveryResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream != st {
		return
	}
	st.answered = true
	ts := c.types[resp.GetTypeUrl()]
	if ts == nil {
		c.logger.Warn("response for unknown type", "type", resp.GetTypeUrl())
		return
	}
	ts.nonce = resp.GetNonce()
	seen := map[string]bool{}
	unnamed := false // a resource failed before its name was known
	var errs []error
	for _, a := range resp.GetResources() {
		name, u, msg, err := ts.rt.decode(a)
		if name != "" {
			seen[name] = true
		} else {
			unnamed = true
		}
		rs := ts.resources[name]
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", ts.rt.short, name, err))
			if rs != nil {
				c.onInvalidLocked(ts, rs, err)
			}
			continue
		}
		if rs == nil {
			continue // not subscribed
		}
		c.onUpdateLocked(rs, u, msg, a.GetValue(), resp.GetVersionInfo())
	}
	// A resource missing from a full-state response is deleted, unless a
	// resource of the response could not even be named: it may be the
	// missing one, and a NACK must not drop the last good version.
	if ts.rt.fullState && !unnamed {
		for name, rs := range ts.resources {
			if !seen[name] && rs.value != nil {
				c.onDeletedLocked(ts, rs, st.server.cfg)
			}
		}
	}
	c.recordLocked(ts, len(resp.GetResources())-len(errs), len(errs))
	nack := joinNACK(errs)
	if nack == nil {
		ts.version = resp.GetVersionInfo()
	} else {
		c.logger.Warn("NACK", "type", ts.rt.short, "version", resp.GetVersionInfo(), "error", nack)
	}
	c.logger.Debug("received response", "type", ts.rt.short, "version", resp.GetVersionInfo(), "resources", len(resp.GetResources()))
	st.enqueueLocked(sendItem{typeURL: ts.rt.typeURL, ack: true, nonce: resp.GetNonce(), version: ts.version, nack: nack})
}

func (c *Client) handleDelta(st *adsStream, resp *discoveryv3.DeltaDiscoveryResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stream != st {
		return
	}
	st.answered = true
	ts := c.types[resp.GetTypeUrl()]
	if ts == nil {
		c.logger.Warn("response for unknown type", "type", resp.GetTypeUrl())
		return
	}
	ts.nonce = resp.GetNonce()
	var errs []error
	for _, r := range resp.GetResources() {
		var (
			name string
			u    update
			msg  proto.Message
			err  error
		)
		if r.GetResource() == nil {
			name, err = r.GetName(), errors.New("resource has no body")
		} else {
			name, u, msg, err = ts.rt.decode(r.GetResource())
			if err == nil && r.GetName() != "" && r.GetName() != name {
				err = fmt.Errorf("resource body is named %q", name)
			}
			if r.GetName() != "" {
				name = r.GetName()
			}
		}
		rs := ts.resources[name]
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", ts.rt.short, name, err))
			if rs != nil {
				c.onInvalidLocked(ts, rs, err)
			}
			continue
		}
		if rs == nil {
			continue
		}
		c.onUpdateLocked(rs, u, msg, r.GetResource().GetValue(), cmp.Or(r.GetVersion(), resp.GetSystemVersionInfo()))
	}
	for _, name := range resp.GetRemovedResources() {
		rs := ts.resources[name]
		if rs == nil {
			continue
		}
		if rs.value != nil {
			c.onDeletedLocked(ts, rs, st.server.cfg)
		} else if rs.status != StatusDoesNotExist {
			rs.stopTimerLocked()
			rs.status = StatusDoesNotExist
			rs.err = &Error{Kind: KindResourceNotFound, TypeURL: ts.rt.typeURL, Name: name, Err: errors.New("removed by the management server")}
			c.notifyResourceErrorLocked(rs, rs.err)
		}
	}
	c.recordLocked(ts, len(resp.GetResources())-len(errs), len(errs))
	nack := joinNACK(errs)
	if nack != nil {
		c.logger.Warn("NACK", "type", ts.rt.short, "nonce", resp.GetNonce(), "error", nack)
	}
	c.logger.Debug("received delta response", "type", ts.rt.short, "resources", len(resp.GetResources()), "removed", len(resp.GetRemovedResources()))
	st.enqueueLocked(sendItem{typeURL: ts.rt.typeURL, ack: true, nonce: resp.GetNonce(), nack: nack})
}
