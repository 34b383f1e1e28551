package meshtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// ControlPlane is an in-process xDS management server built on
// go-control-plane: a snapshot cache for listeners, clusters and endpoints
// (shared by every node) and a linear cache for per-topic RouteConfigurations,
// both served over state-of-the-world and delta ADS.
//
// Create one with [RunControlPlane] (cleanup on t) or [NewControlPlane]
// and [ControlPlane.Close].
type ControlPlane struct {
	// Immutable after construction.
	logger    *slog.Logger
	snapshots cachev3.SnapshotCache
	topics    *cachev3.LinearCache
	server    serverv3.Server
	tls       *tls.Config
	ctx       context.Context
	cancel    context.CancelFunc

	// Guarded by mu.
	mu       sync.Mutex
	addr     string
	grpc     *grpc.Server
	serveErr chan error
	version  int
	current  Resources
	requests []XDSRequest
	streams  map[int64]*cpStream
	changed  chan struct{} // closed and replaced on every request
	closed   bool
}

// cpStream is the server's view of one client stream.
type cpStream struct {
	delta bool
	subs  map[string]map[string]bool // type URL → names
}

// XDSRequest is a discovery request a client sent, SotW or delta.
type XDSRequest struct {
	StreamID int64
	Delta    bool
	Node     *corev3.Node
	TypeURL  string
	// VersionInfo is the SotW version_info (empty for delta).
	VersionInfo   string
	ResponseNonce string
	// ResourceNames are the SotW resource_names or the delta
	// resource_names_subscribe.
	ResourceNames []string
	// Unsubscribe are the delta resource_names_unsubscribe.
	Unsubscribe []string
	// InitialResourceVersions are the delta initial_resource_versions.
	InitialResourceVersions map[string]string
	// ErrorDetail is set on a NACK.
	ErrorDetail *statuspb.Status
}

// IsNACK reports whether the request rejects a response.
func (r XDSRequest) IsNACK() bool { return r.ErrorDetail != nil }

// ControlPlaneOption configures a ControlPlane.
type ControlPlaneOption func(*cpOptions)

type cpOptions struct {
	logger *slog.Logger
	addr   string
	tls    *tls.Config
}

// WithControlPlaneLogger sets the logger (default: discard).
func WithControlPlaneLogger(l *slog.Logger) ControlPlaneOption {
	return func(o *cpOptions) { o.logger = l }
}

// WithControlPlaneAddress sets the listen address (default 127.0.0.1:0).
func WithControlPlaneAddress(addr string) ControlPlaneOption {
	return func(o *cpOptions) { o.addr = addr }
}

// WithControlPlaneTLS serves over TLS with cfg (default: plaintext). Use
// cfg.GetConfigForClient to rotate certificates while the server runs.
func WithControlPlaneTLS(cfg *tls.Config) ControlPlaneOption {
	return func(o *cpOptions) { o.tls = cfg }
}

// nodeKey is the single snapshot key: every node sees the same resources.
const nodeKey = "meshtest"

type constHash struct{}

func (constHash) ID(*corev3.Node) string { return nodeKey }

// RunControlPlane starts a control plane and closes it when t's test ends, as
// RunCluster does for a cluster. It fails t when the server cannot start.
func RunControlPlane(t testing.TB, opts ...ControlPlaneOption) *ControlPlane {
	t.Helper()
	cp, err := NewControlPlane(opts...)
	if err != nil {
		t.Fatalf("meshtest: RunControlPlane: %v", err)
	}
	t.Cleanup(cp.Close)
	return cp
}

// StartControlPlane is [RunControlPlane].
//
// Deprecated: use RunControlPlane, named as RunCluster is (RunX registers
// cleanup on t; NewX and Close are for manual use).
func StartControlPlane(t testing.TB, opts ...ControlPlaneOption) *ControlPlane {
	t.Helper()
	return RunControlPlane(t, opts...)
}

// NewControlPlane starts a control plane serving an empty snapshot. Call
// Close when done.
func NewControlPlane(opts ...ControlPlaneOption) (*ControlPlane, error) {
	o := cpOptions{addr: "127.0.0.1:0"}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	cp := &ControlPlane{
		logger:  o.logger.With("component", "meshtest.controlplane"),
		streams: map[int64]*cpStream{},
		changed: make(chan struct{}),
		tls:     o.tls,
	}
	gcpLog := gcpLogger{cp.logger}
	cp.snapshots = cachev3.NewSnapshotCache(false, constHash{}, gcpLog)
	cp.topics = cachev3.NewLinearCache(xdsclient.RouteConfigTypeURL, cachev3.WithLogger(gcpLog))
	mux := &cachev3.MuxCache{
		Classify:      func(r *cachev3.Request) string { return classify(r.GetTypeUrl()) },
		ClassifyDelta: func(r *cachev3.DeltaRequest) string { return classify(r.GetTypeUrl()) },
		Caches:        map[string]cachev3.Cache{"snapshot": cp.snapshots, "topics": cp.topics},
	}
	cp.ctx, cp.cancel = context.WithCancel(context.Background())
	cp.server = serverv3.NewServer(cp.ctx, mux, cp.callbacks())
	if err := cp.Update(cp.ctx, Resources{}); err != nil {
		cp.cancel()
		return nil, err
	}
	if err := cp.listen(cp.ctx, o.addr); err != nil {
		cp.cancel()
		return nil, err
	}
	return cp, nil
}

func classify(typeURL string) string {
	if typeURL == xdsclient.RouteConfigTypeURL {
		return "topics"
	}
	return "snapshot"
}

// listen serves on addr; a fixed address still held (a restart's, on a
// shared machine) is waited for (listenRetry).
func (cp *ControlPlane) listen(ctx context.Context, addr string) error {
	lis, err := listenRetry(ctx, addr)
	if err != nil {
		return fmt.Errorf("meshtest: control plane: %w", err)
	}
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(math.MaxInt32)}
	if cp.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cp.tls)))
	}
	gs := grpc.NewServer(opts...)
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, cp.server)
	done := make(chan error, 1)
	cp.mu.Lock()
	cp.addr, cp.grpc, cp.serveErr = lis.Addr().String(), gs, done
	cp.mu.Unlock()
	go func() { done <- gs.Serve(lis) }()
	return nil
}

// Addr returns the "127.0.0.1:port" the server listens on; it stays the same
// across Restart.
func (cp *ControlPlane) Addr() string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.addr
}

// Address returns [ControlPlane.Addr].
//
// Deprecated: use Addr, named as Cluster.NameServerAddr and Broker.Addr are.
func (cp *ControlPlane) Address() string { return cp.Addr() }

// Update replaces every served resource and bumps the version, even when
// nothing changed.
func (cp *ControlPlane) Update(ctx context.Context, r Resources) error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.setLocked(ctx, r.Clone())
}

func (cp *ControlPlane) setLocked(ctx context.Context, r Resources) error {
	if err := cp.snapshotLocked(ctx, msgs(r.Listeners), msgs(r.Clusters), msgs(r.Endpoints)); err != nil {
		return err
	}
	topics := make(map[string]types.Resource, len(r.RouteConfigs))
	for _, rc := range r.RouteConfigs {
		topics[rc.GetName()] = rc
	}
	cp.topics.SetResources(topics)
	cp.current = r
	return nil
}

func (cp *ControlPlane) snapshotLocked(ctx context.Context, ls, cs, es []types.Resource) error {
	cp.version++
	res := map[resourcev3.Type][]types.Resource{
		resourcev3.ListenerType: ls,
		resourcev3.ClusterType:  cs,
		resourcev3.EndpointType: es,
	}
	snap, err := cachev3.NewSnapshot(strconv.Itoa(cp.version), res)
	if err != nil {
		return fmt.Errorf("meshtest: control plane: %w", err)
	}
	if err := cp.snapshots.SetSnapshot(ctx, nodeKey, snap); err != nil {
		return fmt.Errorf("meshtest: control plane: %w", err)
	}
	return nil
}

// Version returns the version of the last snapshot.
func (cp *ControlPlane) Version() string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return strconv.Itoa(cp.version)
}

// SetTopicRoute adds or replaces the per-topic route configuration name.
func (cp *ControlPlane) SetTopicRoute(ctx context.Context, name string, rc *rocketmqv3.RouteConfiguration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	rc = proto.CloneOf(rc)
	cp.current.RouteConfigs = slices.DeleteFunc(cp.current.RouteConfigs, func(r *rocketmqv3.RouteConfiguration) bool { return r.GetName() == name })
	cp.current.RouteConfigs = append(cp.current.RouteConfigs, rc)
	if err := cp.topics.UpdateResource(name, rc); err != nil {
		return fmt.Errorf("meshtest: topic route %q: %w", name, err)
	}
	return nil
}

// DeleteTopicRoute removes the per-topic route configuration name.
func (cp *ControlPlane) DeleteTopicRoute(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.current.RouteConfigs = slices.DeleteFunc(cp.current.RouteConfigs, func(r *rocketmqv3.RouteConfiguration) bool { return r.GetName() == name })
	if err := cp.topics.DeleteResource(name); err != nil {
		return fmt.Errorf("meshtest: topic route %q: %w", name, err)
	}
	return nil
}

// ServeInvalid serves res — typically deliberately invalid resources — on
// top of the current resources, replacing resources of the same type and
// name, and bumps the version. The next Update drops them.
func (cp *ControlPlane) ServeInvalid(ctx context.Context, res ...types.Resource) error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	byType := map[string][]types.Resource{}
	for _, r := range []struct {
		typ  string
		list []types.Resource
	}{
		{resourcev3.ListenerType, msgs(cp.current.Listeners)},
		{resourcev3.ClusterType, msgs(cp.current.Clusters)},
		{resourcev3.EndpointType, msgs(cp.current.Endpoints)},
	} {
		byType[r.typ] = r.list
	}
	for _, r := range res {
		typ := typeURLOf(r)
		name := cachev3.GetResourceName(r)
		if typ == xdsclient.RouteConfigTypeURL {
			if rc, ok := r.(*rocketmqv3.RouteConfiguration); ok {
				name = rc.GetName()
			}
			if err := cp.topics.UpdateResource(name, r); err != nil {
				return fmt.Errorf("meshtest: serve invalid %q: %w", name, err)
			}
			continue
		}
		if _, ok := byType[typ]; !ok {
			return fmt.Errorf("meshtest: serve invalid: unsupported type %q", typ)
		}
		byType[typ] = append(slices.DeleteFunc(byType[typ], func(x types.Resource) bool { return cachev3.GetResourceName(x) == name }), r)
	}
	return cp.snapshotLocked(ctx, byType[resourcev3.ListenerType], byType[resourcev3.ClusterType], byType[resourcev3.EndpointType])
}

func msgs[M types.Resource](list []M) []types.Resource {
	out := make([]types.Resource, 0, len(list))
	for _, m := range list {
		out = append(out, m)
	}
	return out
}

func typeURLOf(r types.Resource) string {
	return "type.googleapis.com/" + string(r.ProtoReflect().Descriptor().FullName())
}

// Stop stops serving and breaks every stream; the resources are kept.
func (cp *ControlPlane) Stop() {
	cp.mu.Lock()
	gs, done := cp.grpc, cp.serveErr
	cp.grpc = nil
	cp.mu.Unlock()
	if gs != nil {
		gs.Stop()
		<-done
	}
}

// Restart stops serving if needed and serves again on the same address with
// the same resources.
func (cp *ControlPlane) Restart() error {
	cp.Stop()
	cp.mu.Lock()
	addr, closed := cp.addr, cp.closed
	cp.mu.Unlock()
	if closed {
		return errors.New("meshtest: control plane is closed")
	}
	return cp.listen(context.Background(), addr)
}

// Close stops the server for good.
func (cp *ControlPlane) Close() {
	cp.mu.Lock()
	cp.closed = true
	cp.mu.Unlock()
	cp.Stop()
	cp.cancel()
}

// Requests returns every request received so far, in order.
func (cp *ControlPlane) Requests() []XDSRequest {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return slices.Clone(cp.requests)
}

// WaitForRequest waits until a request received (now or earlier) matches.
func (cp *ControlPlane) WaitForRequest(ctx context.Context, match func(XDSRequest) bool) (XDSRequest, error) {
	seen := 0
	for {
		cp.mu.Lock()
		reqs, ch := cp.requests[seen:], cp.changed
		seen = len(cp.requests)
		cp.mu.Unlock()
		for _, r := range reqs {
			if match(r) {
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			return XDSRequest{}, fmt.Errorf("meshtest: no matching xDS request: %w", ctx.Err())
		case <-ch:
		}
	}
}

// Subscribed returns the names of typeURL that open streams subscribe to,
// sorted.
func (cp *ControlPlane) Subscribed(typeURL string) []string {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	set := map[string]bool{}
	for _, s := range cp.streams {
		maps.Copy(set, s.subs[typeURL])
	}
	return slices.Sorted(maps.Keys(set))
}

// OpenStreams returns the number of open ADS streams.
func (cp *ControlPlane) OpenStreams() int {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return len(cp.streams)
}

func (cp *ControlPlane) recordLocked(r XDSRequest) {
	cp.requests = append(cp.requests, r)
	close(cp.changed)
	cp.changed = make(chan struct{})
}

func (cp *ControlPlane) callbacks() serverv3.Callbacks {
	open := func(delta bool) func(context.Context, int64, string) error {
		return func(_ context.Context, id int64, _ string) error {
			cp.mu.Lock()
			defer cp.mu.Unlock()
			cp.streams[id] = &cpStream{delta: delta, subs: map[string]map[string]bool{}}
			return nil
		}
	}
	closed := func(id int64, _ *corev3.Node) {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		delete(cp.streams, id)
	}
	return serverv3.CallbackFuncs{
		StreamOpenFunc:        open(false),
		DeltaStreamOpenFunc:   open(true),
		StreamClosedFunc:      closed,
		DeltaStreamClosedFunc: closed,
		StreamRequestFunc: func(id int64, req *discoveryv3.DiscoveryRequest) error {
			cp.mu.Lock()
			defer cp.mu.Unlock()
			if s := cp.streams[id]; s != nil {
				set := map[string]bool{}
				for _, n := range req.GetResourceNames() {
					set[n] = true
				}
				s.subs[req.GetTypeUrl()] = set
			}
			cp.recordLocked(XDSRequest{
				StreamID: id, Node: req.GetNode(), TypeURL: req.GetTypeUrl(), VersionInfo: req.GetVersionInfo(),
				ResponseNonce: req.GetResponseNonce(), ResourceNames: slices.Clone(req.GetResourceNames()), ErrorDetail: req.GetErrorDetail(),
			})
			cp.logger.Debug("request", "stream", id, "type", req.GetTypeUrl(), "names", req.GetResourceNames(), "nack", req.GetErrorDetail().GetMessage())
			return nil
		},
		StreamDeltaRequestFunc: func(id int64, req *discoveryv3.DeltaDiscoveryRequest) error {
			cp.mu.Lock()
			defer cp.mu.Unlock()
			if s := cp.streams[id]; s != nil {
				set := s.subs[req.GetTypeUrl()]
				if set == nil {
					set = map[string]bool{}
					s.subs[req.GetTypeUrl()] = set
				}
				for _, n := range req.GetResourceNamesSubscribe() {
					set[n] = true
				}
				for _, n := range req.GetResourceNamesUnsubscribe() {
					delete(set, n)
				}
			}
			cp.recordLocked(XDSRequest{
				StreamID: id, Delta: true, Node: req.GetNode(), TypeURL: req.GetTypeUrl(), ResponseNonce: req.GetResponseNonce(),
				ResourceNames: slices.Clone(req.GetResourceNamesSubscribe()), Unsubscribe: slices.Clone(req.GetResourceNamesUnsubscribe()),
				InitialResourceVersions: maps.Clone(req.GetInitialResourceVersions()), ErrorDetail: req.GetErrorDetail(),
			})
			cp.logger.Debug("delta request", "stream", id, "type", req.GetTypeUrl(), "subscribe", req.GetResourceNamesSubscribe(), "unsubscribe", req.GetResourceNamesUnsubscribe(), "nack", req.GetErrorDetail().GetMessage())
			return nil
		},
	}
}

// gcpLogger adapts slog to go-control-plane's logger at debug level.
type gcpLogger struct{ l *slog.Logger }

func (g gcpLogger) Debugf(format string, args ...any) { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gcpLogger) Infof(format string, args ...any)  { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gcpLogger) Warnf(format string, args ...any)  { g.l.Debug(fmt.Sprintf(format, args...)) }
func (g gcpLogger) Errorf(format string, args ...any) { g.l.Warn(fmt.Sprintf(format, args...)) }
