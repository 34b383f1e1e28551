package mesh_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// The fault suite: the official client through the mesh against meshtest,
// a fault injected mid-traffic, and counts asserted for the intercept data
// path and reported for the direct one. Each scenario logs a line
//
//	FAULT <scenario>/<path>: sent=… acknowledged=… failed=… consumed=… duplicates=…
//
// Run it alone, with the 10,000 sends:
//
//	RMQMESH_FAULT_SENDS=10000 go test -race -count=1 -run 'TestFault_' -v ./mesh/ | grep FAULT

// faultOutlier ejects a broker after 5 consecutive failures (Envoy's
// default) for a second, half of the cluster at most.
func faultOutlier() *clusterv3.OutlierDetection {
	return &clusterv3.OutlierDetection{
		Consecutive_5Xx:    wrapperspb.UInt32(5),
		Interval:           durationpb.New(time.Second),
		BaseEjectionTime:   durationpb.New(time.Second),
		MaxEjectionPercent: wrapperspb.UInt32(50),
	}
}

// faultSpec is allBrokers with the fault suite's cluster policy.
func faultSpec(c *meshtest.Cluster) meshtest.MeshSpec {
	spec := allBrokers(c)
	spec.Clusters[0].OutlierDetection = faultOutlier()
	return spec
}

func newFaultHarness(t *testing.T, path testPath, spec func(*meshtest.Cluster) meshtest.MeshSpec, replica bool) *harness {
	return newHarness(t, harnessConfig{
		path: path, brokers: []string{"broker-a", "broker-b"}, replica: replica, topics: []string{"orders"},
		spec: spec, cluster: faultCluster,
	})
}

// TestFault_BrokerKilledDuringSends kills broker-a abruptly (connections
// reset, nothing in flight answered) a third into the traffic, with a push
// consumer running, and restarts it at the same address once the traffic is
// over. Intercept: no send fails, broker-a is ejected while dead and takes
// sends again after its return. Both paths: every acknowledged message is
// consumed, the consumer kept consuming broker-b while broker-a was dead.
func TestFault_BrokerKilledDuringSends(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newFaultHarness(t, path, faultSpec, false)
		n := faultSends(t)
		c := newCounts()
		h.consumeCounting(c, uniqueName("cg"), "orders")
		p := h.warmProducer("orders")
		a := h.cluster.Broker("broker-a")
		var atKill int
		c.traffic(t, p, "orders", "kill", n, int64(n/3), func() {
			a.Kill()
			consumed, _ := c.consumed()
			atKill = consumed
		})
		if path.intercept {
			if got := c.failed.Load(); got != 0 {
				c.report(t, "broker-killed/"+path.name)
				t.Errorf("%d sends failed through the relay while broker-a died, want 0", got)
			}
			// Refused connections add up to an ejection (the relay spaces its
			// attempts at a dead address, so this may take more sends).
			more := newCounts()
			meshtest.WaitFor(t, "the config dump to show broker-a ejected", func() bool {
				for _, cs := range h.relayState() {
					for _, host := range cs.Hosts {
						if host.Addr == a.Addr() && host.TotalEjections > 0 {
							return true
						}
					}
				}
				more.traffic(t, p, "orders", uniqueName("eject"), faultSenders, 0, nil)
				return false
			})
			if more.failed.Load() != 0 {
				t.Errorf("%d sends failed while broker-a was being ejected", more.failed.Load())
			}
		}
		// The consumer kept consuming broker-b while broker-a was dead.
		meshtest.WaitFor(t, "broker-b's messages consumed while broker-a is dead", func() bool {
			consumed, _ := c.consumed()
			return consumed > atKill && consumed >= c.ackedOn("broker-b")
		})
		if err := a.Restart(); err != nil {
			t.Fatal(err)
		}
		c.waitConsumed(t, "broker-killed/"+path.name)
		c.report(t, "broker-killed/"+path.name)
		// Sends reach broker-a again once it is back (on the intercept path
		// after its ejection ends).
		after := newCounts()
		meshtest.WaitFor(t, "a send acknowledged by broker-a after its restart", func() bool {
			after.traffic(t, p, "orders", uniqueName("back"), faultSenders, 0, nil)
			return after.ackedOn("broker-a") > 0
		})
	})
}

// TestFault_BrokerRestartsAtNewAddress stops broker-a mid-traffic and starts
// it again at a new address, which EDS announces: sends and consumption
// resume at the new address and nothing acknowledged is lost. The intercept
// path follows the new endpoint at once; the direct path only at the
// client's 30 s route poll.
func TestFault_BrokerRestartsAtNewAddress(t *testing.T) {
	t.Parallel() // mostly waits for the direct client's route poll
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newFaultHarness(t, path, faultSpec, false)
		n := faultSends(t)
		c := newCounts()
		h.consumeCounting(c, uniqueName("cg"), "orders")
		p := h.warmProducer("orders")
		a := h.cluster.Broker("broker-a")
		old := a.Addr()
		c.traffic(t, p, "orders", "moved", n, int64(n/3), func() {
			a.Kill()
			if err := a.RestartElsewhere(); err != nil {
				t.Error(err)
				return
			}
			h.apply(faultSpec(h.cluster))
		})
		if a.Addr() == old {
			t.Fatalf("broker-a restarted at its old address %s", old)
		}
		if path.intercept && c.failed.Load() != 0 {
			c.report(t, "restart-new-address/"+path.name)
			t.Errorf("%d sends failed through the relay while broker-a moved, want 0", c.failed.Load())
		}
		// Its old address is dead: an acknowledgement from broker-a comes
		// from the new one.
		meshtest.WaitFor(t, "a send acknowledged by broker-a at its new address", func() bool {
			after := newCounts()
			after.traffic(t, p, "orders", uniqueName("back"), faultSenders, 0, nil)
			return after.ackedOn("broker-a") > 0
		})
		c.waitConsumed(t, "restart-new-address/"+path.name)
		c.report(t, "restart-new-address/"+path.name)
	})
}

// TestFault_SlowBroker holds broker-a's answers to sends for 5 s, beyond the
// cluster's 800 ms per-try timeout and the client's own 3 s: on the intercept
// path sends move on to broker-b and none fails — a send stuck beyond the
// client's timeout would fail with the client's "request timeout" (the
// direct path's failures), so no wall-clock bound is asserted; the longest
// send is reported. Every acknowledged message is consumed (broker-a stores
// the held ones late: those are the duplicates).
func TestFault_SlowBroker(t *testing.T) {
	spec := func(c *meshtest.Cluster) meshtest.MeshSpec {
		s := allBrokers(c)
		f := wellknown.DefaultSendFailover()
		f.PerTryTimeout = 800 * time.Millisecond
		s.Clusters[0].SendFailover = &f
		return s
	}
	t.Parallel() // mostly waits for held answers and client timeouts
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newFaultHarness(t, path, spec, false)
		// Every send to broker-a costs the direct path the client's 3 s
		// timeout: a few dozen sends show the difference.
		n := 32
		c := newCounts()
		h.consumeCounting(c, uniqueName("cg"), "orders")
		p := h.warmProducer("orders")
		a := h.cluster.Broker("broker-a")
		a.SetDelay(10, 5*time.Second)
		c.traffic(t, p, "orders", "slow", n, 0, nil)
		// Broker-a stores the held sends once their delay is over: wait for
		// them, so that the duplicates they make are counted.
		meshtest.WaitFor(t, "broker-a to store every send it held", func() bool {
			return len(a.Messages("orders")) == a.RequestCount(10)
		})
		a.ClearErrors()
		if path.intercept {
			if c.failed.Load() != 0 {
				c.report(t, "slow-broker/"+path.name)
				t.Errorf("%d sends failed through the relay with broker-a slow, want 0", c.failed.Load())
			}
		}
		c.waitConsumed(t, "slow-broker/"+path.name)
		c.waitStoredDelivered(t, h.cluster, "orders")
		c.report(t, "slow-broker/"+path.name)
	})
}

// TestFault_ControlPlaneOutage stops the control plane for a sustained period
// while traffic flows, restarts it empty, and re-populates it with a changed
// configuration (broker-a read-only): traffic continues on the last good
// configuration throughout, the mesh subscribes again, and the new
// configuration applies.
func TestFault_ControlPlaneOutage(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newFaultHarness(t, path, faultSpec, false)
		n := faultSends(t)
		c := newCounts()
		h.consumeCounting(c, uniqueName("cg"), "orders")
		p := h.warmProducer("orders")
		var stopped time.Time
		c.traffic(t, p, "orders", "cp-down", n/2, int64(n/6), func() {
			h.cp.Stop()
			stopped = time.Now()
		})
		// Sustained: longer than the xDS client's first reconnect backoffs,
		// with a client started during the outage.
		if rest := 2*time.Second - time.Since(stopped); rest > 0 {
			time.Sleep(rest)
		}
		late := h.producer()
		c.traffic(t, late, "orders", "cp-late", 50, 0, nil)
		before := len(h.cp.Requests())
		ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
		defer cancel()
		if err := h.cp.RestartEmpty(ctx); err != nil {
			t.Fatal(err)
		}
		meshtest.WaitFor(t, "the mesh to subscribe to its listener again", func() bool {
			for _, r := range h.cp.Requests()[before:] {
				if r.TypeURL == xdsclient.ListenerTypeURL && slices.Contains(r.ResourceNames, listenerName) {
					return true
				}
			}
			return false
		})
		c.traffic(t, p, "orders", "cp-empty", n/4, 0, nil)
		h.apply(allBrokersWith(readOnly("broker-a"))(h.cluster))
		h.waitApplied()
		after := newCounts()
		prefix := uniqueName("cp-new")
		after.traffic(t, p, "orders", prefix, n/4, 0, nil)
		// Where a message is stored tells (a SendResult names the broker
		// the client chose, which the relay may have overruled). On the
		// direct path the client's own retries choose from the queues of
		// its route, refreshed every 30 s, so some may still land on
		// broker-a: reported, not asserted.
		onA := 0
		for _, m := range h.cluster.Broker("broker-a").Messages("orders") {
			if strings.HasPrefix(string(m.Body), prefix) {
				onA++
			}
		}
		t.Logf("after the new configuration (broker-a read-only): %d of %d sends stored on broker-a, %d failed", onA, n/4, after.failed.Load())
		if path.intercept && (onA != 0 || after.failed.Load() != 0) {
			t.Errorf("after the new configuration (broker-a read-only): %d sends stored on broker-a, %d failed; want all on broker-b", onA, after.failed.Load())
		}
		if path.intercept && c.failed.Load() != 0 {
			c.report(t, "control-plane-outage/"+path.name)
			t.Errorf("%d sends failed through the relay with the control plane down, want 0", c.failed.Load())
		}
		c.waitConsumed(t, "control-plane-outage/"+path.name)
		c.report(t, "control-plane-outage/"+path.name)
	})
}

// TestFault_GoAwayUnderLoad makes broker-a answer every request with GO_AWAY
// (1500) a third into the traffic, as a RocketMQ 5 server shutting down does.
// The intercept path retires the connection and moves the refused sends: no
// send fails. The official client has no notion of 1500: on the direct path
// each refused send fails.
func TestFault_GoAwayUnderLoad(t *testing.T) {
	eachDataPath(t, func(t *testing.T, path testPath) {
		h := newFaultHarness(t, path, faultSpec, false)
		n := faultSends(t)
		c := newCounts()
		h.consumeCounting(c, uniqueName("cg"), "orders")
		p := h.warmProducer("orders")
		a := h.cluster.Broker("broker-a")
		c.traffic(t, p, "orders", "goaway", n, int64(n/3), a.GoAway)
		if path.intercept && c.failed.Load() != 0 {
			c.report(t, "go-away/"+path.name)
			t.Errorf("%d sends failed through the relay after broker-a's GO_AWAY, want 0", c.failed.Load())
		}
		a.ClearErrors() // the broker comes back for its messages to be consumed
		c.waitConsumed(t, "go-away/"+path.name)
		c.report(t, "go-away/"+path.name)
	})
}

// TestFault_ReadsSurviveMasterLoss stops broker-a's master and marks it
// unhealthy in EDS while its replica is up: a new consumer group consumes
// everything broker-a stored, from the replica (pulls, and the offset
// queries its rebalance needs); sends go on to broker-b. The group's offset
// commits, which only the replica took, are delivered to the master once it
// is back, so a successor does not start over. Intercept path only: the
// official client sends offset requests to a broker's master address alone,
// which a route without a live master lacks.
func TestFault_ReadsSurviveMasterLoss(t *testing.T) {
	h := newFaultHarness(t, interceptPath, allBrokers, true)
	p := h.warmProducer("orders")
	seeded := newCounts()
	seeded.traffic(t, p, "orders", "stored", 200, 0, nil)
	if seeded.failed.Load() != 0 || seeded.ackedOn("broker-a") == 0 {
		t.Fatalf("seeding: %d failed (first: %v), %d on broker-a", seeded.failed.Load(), seeded.firstErr, seeded.ackedOn("broker-a"))
	}
	master := h.cluster.Broker("broker-a")
	replica := master.Replica(1)
	master.Stop()
	h.apply(allBrokersWith(func(e *meshtest.EndpointSpec) {
		if e.BrokerName == "broker-a" && e.BrokerID == 0 {
			e.Health = corev3.HealthStatus_UNHEALTHY
		}
	})(h.cluster))
	h.waitApplied()

	group := uniqueName("cg")
	c := newCounts()
	for body, broker := range seeded.ackedSet {
		c.ackedSet[body] = broker
	}
	c.acked.Store(seeded.acked.Load())
	stop := h.consumeCounting(c, group, "orders")
	during := newCounts()
	during.traffic(t, p, "orders", "during", 100, 0, nil)
	if during.failed.Load() != 0 || during.ackedOn("broker-a") != 0 {
		t.Errorf("sends with broker-a's master down: %d failed, %d acknowledged by broker-a; want all on broker-b", during.failed.Load(), during.ackedOn("broker-a"))
	}
	for body, broker := range during.ackedSet {
		c.mu.Lock()
		c.ackedSet[body] = broker
		c.mu.Unlock()
	}
	c.acked.Add(during.acked.Load())
	c.waitConsumed(t, "master-down")
	c.report(t, "master-down/intercept")
	if replica.RequestCount(11) == 0 || replica.RequestCount(14) == 0 {
		t.Errorf("the replica answered %d pulls and %d offset queries, want both", replica.RequestCount(11), replica.RequestCount(14))
	}
	// The group leaves while the master is down: its last commits went to the
	// replica alone.
	stop()
	meshtest.WaitFor(t, "the replica's commits kept for the master", func() bool { return h.keptCommits() > 0 })
	want := map[int]int64{}
	for _, m := range master.Messages("orders") {
		if m.QueueOffset+1 > want[m.QueueID] {
			want[m.QueueID] = m.QueueOffset + 1
		}
	}
	if err := master.Restart(); err != nil {
		t.Fatal(err)
	}
	h.apply(allBrokers(h.cluster))
	h.waitApplied()
	meshtest.WaitFor(t, "the kept commits delivered to broker-a's master", func() bool {
		for q, off := range want {
			if got, ok := master.ConsumerOffset(group, "orders", q); !ok || got < off {
				return false
			}
		}
		return h.keptCommits() == 0
	})
}
