package mesh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	rmqotel "github.com/rmqmesh/rmqmesh/otel"
	"github.com/rmqmesh/rmqmesh/routing"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// Mesh connects official RocketMQ clients to an xDS-configured route table. Create
// it with [New]; it is safe for concurrent use. Close it after the clients built from
// it have been shut down.
type Mesh struct {
	// immutable after New
	target   string
	listener string
	log      *slog.Logger
	xds      *xdsclient.Client
	ownsXDS  bool
	ns       *transport.NameServer
	relay    *transport.Relay // nil when every cluster is direct
	router   *relayRouter
	tls      *upstreamTLS // the clusters' TLS, for the relay and nameserver queries
	// tlsRequired refuses clusters without TLS (WithTLSRequired).
	tlsRequired bool
	dataPath    routing.DataPath
	// credentials are given to the clients the mesh builds that have none.
	credentials primitive.Credentials
	topicIdle   time.Duration
	prefix      string
	meshID      string
	locality    *corev3.Locality
	failFast    bool
	// routeTimeout is the nameserver endpoint's: how long clients' route
	// queries for one topic wait together.
	routeTimeout time.Duration
	tel          *rmqotel.Telemetry // nil after WithoutTelemetry
	ref          *meshRef           // what the official clients hold; cleared by Close

	// safe for concurrent use on their own
	table      routing.Table // current snapshot; lock-free reads
	configured atomic.Bool   // a snapshot has been stored at least once
	watch      *watchState   // xDS watches and the inputs of the next snapshot
	clientSeq  atomic.Uint64
	opaque     atomic.Int32 // for requests the mesh sends to nameservers
	// policies holds the relay policies of the snapshot's clusters.
	policies atomic.Pointer[policySet]
	// forwardErrs holds, per topic whose route queries are forwarded to
	// nameservers, why the last one failed; a success removes the entry.
	forwardErrs sync.Map // topic → error

	closeOnce sync.Once
	closeErr  error
}

// New connects to the xDS management server named by the bootstrap and starts the
// in-process nameserver endpoint. target is "xds:///LISTENER". New does not wait
// for the control plane: route queries wait for it (bounded by
// [WithRouteTimeout]) and [Mesh.WaitReady] waits explicitly.
func New(ctx context.Context, target string, opts ...Option) (_ *Mesh, err error) {
	cfg := config{log: slog.Default(), topicIdle: DefaultTopicIdleTimeout, instancePrefix: "rmqmesh", failFast: true}
	for _, o := range opts {
		if o != nil {
			o.apply(&cfg)
		}
	}
	if cfg.topicIdle <= 0 {
		cfg.topicIdle = DefaultTopicIdleTimeout
	}
	if cfg.routeTimeout <= 0 {
		cfg.routeTimeout = transport.DefaultRouteTimeout
	}
	listener, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mesh: new %q: %w", target, err)
	}
	m := &Mesh{
		target:    target,
		listener:  listener,
		topicIdle: cfg.topicIdle,
		prefix:    cfg.instancePrefix,
		meshID:    newMeshID(),

		failFast:     cfg.failFast,
		routeTimeout: cfg.routeTimeout,
	}
	m.ref = &meshRef{}
	m.ref.p.Store(m)
	// The official clients keep the telemetry (their interceptors) after
	// Shutdown: it reaches the mesh through the reference Close clears.
	m.tel = newTelemetry(cfg.telemetry, m.ref.brokerAddress)
	defer func() {
		if err != nil && m.tel != nil {
			m.tel.Close() // nothing else holds it: stop its metrics callback
		}
	}()
	m.log = cfg.log.With("component", "rmqmesh", "listener", listener)

	xc := cfg.xds
	if xc == nil {
		bc := cfg.bootstrap
		if bc == nil {
			if cfg.bootstrapJSON != nil {
				bc, err = bootstrap.Parse(cfg.bootstrapJSON, "mesh.WithBootstrap")
			} else {
				bc, err = bootstrap.FromEnv()
			}
			if err != nil {
				return nil, fmt.Errorf("mesh: new %q: %w", target, err)
			}
		}
		m.locality = bc.Node().GetLocality()
		xopts := append([]xdsclient.Option{xdsclient.WithLogger(cfg.log)}, m.xdsTelemetryOptions()...)
		xc, err = xdsclient.New(bc, append(xopts, cfg.xdsOpts...)...)
		if err != nil {
			return nil, fmt.Errorf("mesh: new %q: %w", target, err)
		}
		m.ownsXDS = true
	}
	m.xds = xc
	m.tls = newUpstreamTLS(xc.CertificateProviders(), cfg.log)
	m.tlsRequired = cfg.tlsRequired
	m.watch = newWatchState(m)
	m.router = &relayRouter{m: m}
	m.credentials = cfg.credentials
	m.dataPath = routing.DataPathIntercept
	if cfg.dataPathSet {
		m.dataPath = cfg.dataPath
	}
	if err := m.startRelay(&cfg); err != nil {
		if m.ownsXDS {
			xc.Close()
		}
		return nil, fmt.Errorf("mesh: new %q: %w", target, err)
	}

	m.ns, err = transport.NewNameServer(clientQueries{m}, transport.WithLogger(cfg.log), transport.WithRouteTimeout(cfg.routeTimeout))
	if err != nil {
		if m.relay != nil {
			m.relay.Close()
		}
		if m.ownsXDS {
			xc.Close()
		}
		return nil, fmt.Errorf("mesh: new %q: %w", target, err)
	}
	m.watch.start()
	installPanicHandler(m.log)
	return m, nil
}

func parseTarget(target string) (string, error) {
	name, ok := strings.CutPrefix(target, "xds:///")
	if !ok {
		return "", fmt.Errorf("mesh: target %q: want the form xds:///LISTENER", target)
	}
	if name == "" || strings.Contains(name, "/") && !strings.HasPrefix(name, "xdstp:") {
		return "", fmt.Errorf("mesh: target %q: listener name %q is empty or has a path", target, name)
	}
	return name, nil
}

// panicHandlerOnce keeps meshes created concurrently from racing on the official
// client's process-wide primitive.PanicHandler. It is this package's only global,
// and exists because the variable it guards is one.
var panicHandlerOnce sync.Once

// installPanicHandler sets the official client's process-wide panic handler when
// nobody has: without one a SendAsync timeout panics in a client goroutine and
// takes the process down.
func installPanicHandler(log *slog.Logger) {
	panicHandlerOnce.Do(func() {
		if primitive.PanicHandler == nil {
			primitive.PanicHandler = func(r interface{}) {
				log.Error("rocketmq client goroutine panicked; recovered by rmqmesh", "panic", fmt.Sprint(r))
			}
		}
	})
}

// Listener returns the name of the xDS listener this mesh follows.
func (m *Mesh) Listener() string { return m.listener }

// NameServerAddr returns the in-process nameserver endpoint the mesh's clients use.
func (m *Mesh) NameServerAddr() string { return m.ns.Addr() }

// WaitReady blocks until the listener and every cluster it routes to, with
// their endpoints, have arrived and the route table built from them is in
// force, and returns nil then.
//
// It returns an error naming the listener, and the resource and the reason,
// as soon as something it waits for is reported unavailable: the listener or
// a cluster does not exist (the control plane says so, or did not send it
// within the xDS resource timeout), was rejected, or no xDS server is
// reachable. [xdsclient.KindOf] of the error tells which ([xdsclient.KindConnection],
// [xdsclient.KindResourceNotFound], [xdsclient.KindNACKed]). When ctx ends first,
// the error wraps ctx's and names what is still pending. With
// [WithFailFast](false), reports of unavailability do not end the wait:
// WaitReady waits for the configuration until ctx ends.
//
// An error changes nothing for the mesh: it keeps watching and serves the
// configuration when it arrives. An application that prefers to start anyway
// logs the error and goes on; until then its clients' route queries fail fast
// with the same reason, and the clients pick routes up at their next route
// poll (30 s).
func (m *Mesh) WaitReady(ctx context.Context) error {
	var sw settleWait
	for {
		r := m.watch.readiness("", &sw)
		if r.done {
			if r.problem != nil {
				return fmt.Errorf("mesh: listener %q not ready: %w", m.listener, r.problem)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			if p := m.watch.unavailable(); p != nil {
				return fmt.Errorf("mesh: waiting for xDS configuration of listener %q: %w (pending: %s; unavailable: %v)", m.listener, ctx.Err(), m.watch.pendingNames(), p)
			}
			return fmt.Errorf("mesh: waiting for xDS configuration of listener %q: %w (pending: %s)", m.listener, ctx.Err(), m.watch.pendingNames())
		case <-r.changed:
		}
	}
}

// Close stops the nameserver endpoint, the relay and the xDS watches, stops
// reporting the mesh's own counters, and closes the xDS client when the mesh
// created it. Clients built from the mesh stop resolving
// routes and reaching brokers; shut them down first.
func (m *Mesh) Close() error {
	m.closeOnce.Do(func() {
		m.ref.p.Store(nil)
		var errs []error
		if err := m.ns.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		m.watch.stop()
		if m.relay != nil {
			if err := m.relay.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if m.tel != nil {
			if err := m.tel.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if m.ownsXDS {
			if err := m.xds.Close(); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			m.closeErr = fmt.Errorf("mesh: close: %w", errors.Join(errs...))
		}
	})
	return m.closeErr
}

// newMeshID makes instance names unique between meshes, in one process and across
// processes on one host: the official client keys its shared internal client by IP
// and instance name.
func newMeshID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
