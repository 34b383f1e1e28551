package mesh_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/rmqmesh/rmqmesh/mesh"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// newBareMesh follows the control plane of boot, with no cluster behind it.
func newBareMesh(t *testing.T, boot []byte, opts ...mesh.Option) *mesh.Mesh {
	t.Helper()
	m, err := mesh.New(context.Background(), "xds:///"+listenerName, append([]mesh.Option{mesh.WithBootstrap(boot), mesh.WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatalf("mesh.New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// officialProducer is a started official producer built with the mesh's
// options but not wrapped by it: what an application that builds its
// clients itself runs, and the way to see the client's own route queries at
// work.
func officialProducer(t *testing.T, m *mesh.Mesh) rocketmq.Producer {
	t.Helper()
	return startProducer(t, func(opts ...producer.Option) (rocketmq.Producer, error) {
		return rocketmq.NewProducer(append(opts, m.ProducerOptions()...)...)
	})
}

// startedProducer is a started producer of the mesh.
func startedProducer(t *testing.T, m *mesh.Mesh) rocketmq.Producer {
	t.Helper()
	return startProducer(t, m.NewProducer)
}

// startProducer builds a producer with newProducer, starts it and shuts it
// down at the end of the test.
func startProducer(t *testing.T, newProducer func(...producer.Option) (rocketmq.Producer, error)) rocketmq.Producer {
	t.Helper()
	p, err := newProducer(producer.WithGroupName(uniqueName("pg")), producer.WithRetry(2))
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	if err := p.Start(); err != nil {
		t.Fatalf("producer Start: %v", err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// controlPlaneServing starts a control plane serving the test listener with
// routes and one cluster, "brokers", holding broker-a at an address nothing
// listens on: enough for readiness and route queries, not for sends.
func controlPlaneServing(t *testing.T, routes ...meshtest.RouteSpec) *meshtest.ControlPlane {
	t.Helper()
	return controlPlaneWith(t, meshtest.MeshSpec{
		Listener: listenerName,
		Routes:   routes,
		Clusters: []meshtest.ClusterSpec{{Name: "brokers", DataPath: "direct", Endpoints: fakeBrokerA}},
	})
}

// fakeBrokerA is broker-a at an address nothing listens on.
var fakeBrokerA = []meshtest.EndpointSpec{{Address: "127.0.0.1:10911", BrokerName: "broker-a"}}

// controlPlaneWith starts a control plane serving spec.
func controlPlaneWith(t *testing.T, spec meshtest.MeshSpec) *meshtest.ControlPlane {
	t.Helper()
	cp := meshtest.RunControlPlane(t)
	res, err := spec.Resources()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	if err := cp.Update(ctx, res); err != nil {
		t.Fatal(err)
	}
	return cp
}

// timedSend sends one message to "orders" and returns the error and how long
// SendSync took.
func timedSend(ctx context.Context, p rocketmq.Producer) (time.Duration, error) {
	start := time.Now()
	_, err := p.SendSync(ctx, primitive.NewMessage("orders", []byte("x")))
	return time.Since(start), err
}

// A resource timeout longer than any test: what ends a wait in these tests is
// never the xDS client's does-not-exist timer unless a test sets a short one.
const neverTimesOut = time.Hour

func TestMesh_WaitReadyNoServerReachable(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	boot := cp.Bootstrap(meshtest.WithBootstrapResourceTimeout(neverTimesOut))
	cp.Close()
	m := newBareMesh(t, boot)
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	err := m.WaitReady(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || xdsclient.KindOf(err) != xdsclient.KindConnection {
		t.Fatalf("WaitReady = %v, want the xDS servers reported unreachable", err)
	}
	wantAll(t, err, `listener "`+listenerName+`"`, "no xDS server reachable")

	// Route queries fail with the same reason, without waiting.
	_, err = m.TopicRoute(ctx, "orders")
	if err == nil || errors.Is(err, context.DeadlineExceeded) || xdsclient.KindOf(err) != xdsclient.KindConnection {
		t.Fatalf("TopicRoute = %v, want the xDS servers reported unreachable", err)
	}
	wantAll(t, err, `"orders"`, `"`+listenerName+`"`, "no xDS server reachable")
}

func TestMesh_WaitReadyListenerAbsent(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	m := newBareMesh(t, cp.Bootstrap(meshtest.WithBootstrapResourceTimeout(300*time.Millisecond)))
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	err := m.WaitReady(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || xdsclient.KindOf(err) != xdsclient.KindResourceNotFound {
		t.Fatalf("WaitReady = %v, want the listener reported missing", err)
	}
	wantAll(t, err, `listener "`+listenerName+`"`, "does not exist")
}

func TestMesh_WaitReadyClusterAbsent(t *testing.T) {
	cp := controlPlaneServing(t, meshtest.RouteSpec{Topic: "orders", Cluster: "orders-brokers"}, meshtest.RouteSpec{Cluster: "brokers"})
	// Long enough that the clusters that exist arrive first on a loaded
	// machine: only orders-brokers may be reported missing.
	boot := cp.Bootstrap(meshtest.WithBootstrapResourceTimeout(2 * time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()

	m := newBareMesh(t, boot)
	err := m.WaitReady(ctx)
	if err == nil || errors.Is(err, context.DeadlineExceeded) || xdsclient.KindOf(err) != xdsclient.KindResourceNotFound {
		t.Fatalf("WaitReady = %v, want the cluster reported missing", err)
	}
	wantAll(t, err, `listener "`+listenerName+`"`, `cluster "orders-brokers"`, "does not exist")
	// The rest of the listener's configuration is in force.
	if r, err := m.TopicRoute(ctx, "others"); err != nil || len(r.BrokerDatas) != 1 {
		t.Errorf("TopicRoute(others) = %+v, %v; want broker-a", r, err)
	}

	// Without fail fast the wait goes on until ctx ends, and says what it saw.
	m = newBareMesh(t, boot, mesh.WithFailFast(false))
	short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
	defer cancelShort()
	err = m.WaitReady(short)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady without fail fast = %v, want the context's deadline", err)
	}
	wantAll(t, err, `listener "`+listenerName+`"`, `cluster "orders-brokers"`)
}

func TestMesh_WaitReadyDeadline(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	m := newBareMesh(t, cp.Bootstrap(meshtest.WithBootstrapResourceTimeout(neverTimesOut)))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := m.WaitReady(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady = %v, want the context's deadline", err)
	}
	wantAll(t, err, `listener "`+listenerName+`"`, "pending")
}

// TestMesh_WithoutFailFastWaitsForTheControlPlane starts the mesh while its
// control plane is down: without fail fast WaitReady outlives the report that
// no server is reachable and returns nil once the control plane serves.
func TestMesh_WithoutFailFastWaitsForTheControlPlane(t *testing.T) {
	cp := controlPlaneServing(t, meshtest.RouteSpec{Cluster: "brokers"})
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	cp.Stop()
	m := newBareMesh(t, cp.Bootstrap(meshtest.WithBootstrapResourceTimeout(neverTimesOut)),
		mesh.WithFailFast(false),
		mesh.WithXDSClientOptions(xdsclient.WithBackoff(func(int) time.Duration { return 50 * time.Millisecond })))
	ready := make(chan error, 1)
	go func() { ready <- m.WaitReady(ctx) }()
	meshtest.WaitFor(t, "the mesh to learn that no xDS server is reachable", func() bool {
		b, err := m.ConfigDump()
		return err == nil && strings.Contains(string(b), "no xDS server reachable")
	})
	select {
	case err := <-ready:
		t.Fatalf("WaitReady returned %v while the control plane was down", err)
	default:
	}
	if err := cp.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := <-ready; err != nil {
		t.Errorf("WaitReady after the control plane came up = %v, want nil", err)
	}
}

// TestMesh_SendWithoutConfigurationWaitsOneRouteTimeout sends before any
// configuration exists (the control plane is up but has no listener, and
// never says so within the test): the official client's six route queries
// wait one route timeout together, and the mesh's producer returns the mesh's
// error after one route timeout, or at the caller's deadline when that comes
// first. The bounds are three times what is expected.
func TestMesh_SendWithoutConfigurationWaitsOneRouteTimeout(t *testing.T) {
	cp := meshtest.RunControlPlane(t)
	boot := cp.Bootstrap(meshtest.WithBootstrapResourceTimeout(neverTimesOut))
	const routeTimeout = 2500 * time.Millisecond // the default

	t.Run("official client", func(t *testing.T) {
		m := newBareMesh(t, boot)
		took, err := timedSend(context.Background(), officialProducer(t, m))
		t.Logf("official client SendSync without configuration: %v after %v", err, took)
		if err == nil {
			t.Fatal("send without configuration succeeded")
		}
		if took > 3*routeTimeout {
			t.Errorf("SendSync took %v, want about one route timeout (%v), at most %v", took, routeTimeout, 3*routeTimeout)
		}
	})
	t.Run("mesh producer", func(t *testing.T) {
		m := newBareMesh(t, boot)
		took, err := timedSend(context.Background(), startedProducer(t, m))
		t.Logf("mesh producer SendSync without configuration: %v after %v", err, took)
		if err == nil {
			t.Fatal("send without configuration succeeded")
		}
		wantAll(t, err, "mesh: ", `"orders"`, `listener "`+listenerName+`"`, "no configuration")
		if took > 3*routeTimeout {
			t.Errorf("SendSync took %v, want about one route timeout (%v), at most %v", took, routeTimeout, 3*routeTimeout)
		}
	})
	t.Run("caller's deadline first", func(t *testing.T) {
		m := newBareMesh(t, boot, mesh.WithRouteTimeout(time.Minute))
		const deadline = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		took, err := timedSend(ctx, startedProducer(t, m))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("SendSync = %v, want the caller's deadline", err)
		}
		wantAll(t, err, `"orders"`, `listener "`+listenerName+`"`)
		if took > 3*deadline+time.Second {
			t.Errorf("SendSync took %v with a %v deadline", took, deadline)
		}
	})
}

// TestMesh_SendFailsFastWhenConfigurationCannotCome sends once the mesh
// knows no answer is coming — no xDS server reachable, or the listener
// reported missing — and expects the failure well within one route timeout,
// for the official client's own route queries and for the mesh's producer.
func TestMesh_SendFailsFastWhenConfigurationCannotCome(t *testing.T) {
	const routeTimeout = 5 * time.Second
	down := meshtest.RunControlPlane(t)
	unreachable := down.Bootstrap(meshtest.WithBootstrapResourceTimeout(neverTimesOut))
	down.Close()
	empty := meshtest.RunControlPlane(t)
	missing := empty.Bootstrap(meshtest.WithBootstrapResourceTimeout(300 * time.Millisecond))

	for _, tc := range []struct {
		name string
		boot []byte
		kind xdsclient.ErrorKind
		says string
	}{
		{"no server reachable", unreachable, xdsclient.KindConnection, "no xDS server reachable"},
		{"listener missing", missing, xdsclient.KindResourceNotFound, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newBareMesh(t, tc.boot, mesh.WithRouteTimeout(routeTimeout))
			ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
			defer cancel()
			if err := m.WaitReady(ctx); xdsclient.KindOf(err) != tc.kind {
				t.Fatalf("WaitReady = %v, want kind %v", err, tc.kind)
			}
			took, err := timedSend(ctx, officialProducer(t, m))
			if err == nil {
				t.Fatal("send succeeded")
			}
			if took >= routeTimeout {
				t.Errorf("official client SendSync took %v, want it to fail fast (route timeout %v)", took, routeTimeout)
			}
			took, err = timedSend(ctx, startedProducer(t, m))
			if xdsclient.KindOf(err) != tc.kind {
				t.Fatalf("mesh producer SendSync = %v, want kind %v", err, tc.kind)
			}
			wantAll(t, err, "mesh: ", `"orders"`, `listener "`+listenerName+`"`, tc.says)
			if took >= routeTimeout {
				t.Errorf("mesh producer SendSync took %v, want it to fail fast (route timeout %v)", took, routeTimeout)
			}
		})
	}
}
