package mesh_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

func TestNew_RejectsBadTargetsAndBootstraps(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, target string
		opts         []mesh.Option
		want         string
	}{
		{"scheme", "dns:///x", []mesh.Option{mesh.WithBootstrap([]byte(`{}`))}, `target "dns:///x"`},
		{"empty listener", "xds:///", []mesh.Option{mesh.WithBootstrap([]byte(`{}`))}, `listener name ""`},
		{"bootstrap not JSON", "xds:///l", []mesh.Option{mesh.WithBootstrap([]byte(`{`))}, "bootstrap"},
		{"bootstrap without servers", "xds:///l", []mesh.Option{mesh.WithBootstrap([]byte(`{"xds_servers":[]}`))}, "xds_servers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := mesh.New(ctx, tc.target, tc.opts...)
			if err == nil {
				m.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func sendErr(t *testing.T, h *harness, topic string) error {
	t.Helper()
	p := h.producer()
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	_, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte("x")))
	if err == nil {
		t.Fatalf("send to %q succeeded", topic)
	}
	return err
}

func wantAll(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %s", err, p)
		}
	}
}

func TestMesh_NoHealthyEndpointErrorNamesClusterAndReason(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a"},
			topics:  []string{"orders"},
			spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
				eps := c.BrokerEndpoints(4)
				for i := range eps {
					eps[i].Health = corev3.HealthStatus_UNHEALTHY
				}
				return meshtest.MeshSpec{
					Listener: listenerName,
					Routes:   []meshtest.RouteSpec{{Topic: "orders", Cluster: "sick"}},
					Clusters: []meshtest.ClusterSpec{{Name: "sick", Endpoints: eps}},
				}
			},
		})
		wantAll(t, sendErr(t, h, "orders"), `"orders"`, `"sick"`)
	})
}

func TestMesh_RouteToUnknownClusterErrorNamesCluster(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newHarness(t, harnessConfig{path: path,
			brokers: []string{"broker-a"},
			topics:  []string{"orders"},
			spec: func(c *meshtest.Cluster) meshtest.MeshSpec {
				return meshtest.MeshSpec{
					Listener: listenerName,
					Routes:   []meshtest.RouteSpec{{Topic: "orders", Cluster: "missing"}, {Cluster: "brokers"}},
					Clusters: []meshtest.ClusterSpec{{Name: "brokers", Endpoints: c.BrokerEndpoints(4)}},
				}
			},
			// A resource timeout short enough to keep the test quick, long
			// enough that a loaded machine's control plane answers for the
			// clusters that do exist before it fires.
			meshOpts:  []mesh.Option{mesh.WithRouteTimeout(2 * time.Second)},
			bootstrap: []meshtest.BootstrapOption{meshtest.WithBootstrapResourceTimeout(2 * time.Second)},
			notReady:  `cluster "missing": does not exist`,
		})
		wantAll(t, sendErr(t, h, "orders"), `"orders"`, `"missing"`)
		// Other topics keep working.
		if got := h.sendN(h.producer(), "others", 3); got["broker-a"] != 3 {
			t.Errorf("sends to an unaffected topic went to %v", got)
		}
	})
}

func TestMesh_ListenerThatNeverComes(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	ctx := context.Background()
	m, err := mesh.New(ctx, "xds:///absent", mesh.WithLogger(testLogger(t)),
		mesh.WithBootstrap(cp.Bootstrap(meshtest.WithBootstrapResourceTimeout(300*time.Millisecond))),
		mesh.WithRouteTimeout(200*time.Millisecond))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer m.Close()
	wctx, cancel := context.WithTimeout(ctx, meshtest.DefaultTimeout)
	defer cancel()
	// The does-not-exist timer ends the wait with an error naming the
	// listener and the reason, instead of a hang or a nil that hides it.
	err = m.WaitReady(wctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || xdsclient.KindOf(err) != xdsclient.KindResourceNotFound {
		t.Fatalf("WaitReady = %v, want the listener reported missing", err)
	}
	wantAll(t, err, `listener "absent"`, "does not exist")
	_, err = m.TopicRoute(wctx, "orders")
	if err == nil {
		t.Fatal("route for a listener that does not exist")
	}
	wantAll(t, err, `"orders"`, `"absent"`, "does not exist")
}

func TestMesh_ControlPlaneUnreachableAtStart(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	boot := cp.Bootstrap()
	cp.Close()
	ctx := context.Background()
	m, err := mesh.New(ctx, "xds:///"+listenerName, mesh.WithBootstrap(boot), mesh.WithRouteTimeout(200*time.Millisecond), mesh.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatalf("New must not wait for the control plane: %v", err)
	}
	defer m.Close()
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := m.WaitReady(wctx); err == nil || !strings.Contains(err.Error(), "listener") {
		t.Errorf("WaitReady = %v, want a timeout naming the pending listener", err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer rcancel()
	_, err = m.TopicRoute(rctx, "orders")
	if err == nil {
		t.Fatal("route without any configuration")
	}
	wantAll(t, err, `"orders"`, `"`+listenerName+`"`)
}

// TestMesh_HostileButLegalInputsDoNotPanic covers inputs the public API accepts
// that once panicked: a nanosecond topic idle timeout (the idle sweep's ticker),
// and nil messages or queues handed to the mesh's QueueSelector and
// AllocateStrategy.
func TestMesh_HostileButLegalInputsDoNotPanic(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	m, err := mesh.New(context.Background(), "xds:///"+listenerName, mesh.WithLogger(testLogger(t)),
		mesh.WithBootstrap(cp.Bootstrap()), mesh.WithTopicIdleTimeout(time.Nanosecond), nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer m.Close()
	mqs := []*primitive.MessageQueue{{Topic: "orders", BrokerName: "broker-a", QueueId: 0}}
	if q := m.QueueSelector(nil).Select(nil, mqs, ""); q != nil {
		t.Errorf("QueueSelector chose %v for a nil message, want no queue", q)
	}
	if got := m.AllocateStrategy(nil)("g", "c1", []*primitive.MessageQueue{nil}, []string{"c1"}); len(got) > 1 {
		t.Errorf("AllocateStrategy over one nil queue returned %d queues", len(got))
	}
}

// A cluster whose send_failover knob is impossible (zero attempts, a
// negative per-try timeout) is NACKed with a detail naming the field, and the
// last good cluster keeps serving.
func TestMesh_ImpossibleFailoverKnobIsNACKed(t *testing.T) {
	h := newHarness(t, harnessConfig{path: interceptPath, brokers: []string{"broker-a"}, topics: []string{"orders"}, spec: allBrokers})
	p := h.producer()
	h.sendN(p, "orders", 2)
	for _, tc := range []struct {
		name  string
		edit  func(*wellknown.SendFailover)
		field string
	}{
		{"zero attempts", func(f *wellknown.SendFailover) { f.MaxAttempts = 0 }, `["send_failover"]["max_attempts"]`},
		{"negative per-try timeout", func(f *wellknown.SendFailover) { f.PerTryTimeout = -time.Second }, `["send_failover"]["per_try_timeout"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := allBrokers(h.cluster)
			f := wellknown.DefaultSendFailover()
			tc.edit(&f)
			spec.Clusters[0].SendFailover = &f
			h.apply(spec)
			ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
			defer cancel()
			version := h.cp.Version()
			nack, err := h.cp.WaitForRequest(ctx, func(r meshtest.XDSRequest) bool {
				return r.IsNACK() && r.TypeURL == xdsclient.ClusterTypeURL && strings.Contains(r.ErrorDetail.GetMessage(), tc.field)
			})
			if err != nil {
				t.Fatalf("no NACK naming %s for version %s: %v", tc.field, version, err)
			}
			wantAll(t, errors.New(nack.ErrorDetail.GetMessage()), `cluster "brokers"`, tc.field)
			if got := h.sendN(p, "orders", 2); got["broker-a"] != 2 {
				t.Errorf("after the NACK, sends landed on %v", got)
			}
		})
	}
}
