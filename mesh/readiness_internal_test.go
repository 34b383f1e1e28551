package mesh

import (
	"log/slog"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/xdsclient"
)

// spend waits until a budget of d that starts now is spent.
func spend(d time.Duration) {
	start := time.Now()
	for time.Since(start) <= d {
		time.Sleep(d / 4)
	}
}

// TestWatchState_RouteWaitBudgetLastsWhilePending checks the route timeout
// budget: waits for the same pending thing share one budget; once what they
// waited for has answered and is published, the next time it is pending
// starts a budget of its own.
func TestWatchState_RouteWaitBudgetLastsWhilePending(t *testing.T) {
	const budget = 5 * time.Millisecond
	log := slog.New(slog.DiscardHandler)
	m := &Mesh{listener: "l", failFast: true, log: log, tls: newUpstreamTLS(nil, log)}
	w := newWatchState(m)
	m.watch = w

	if _, ok := w.routeWaitDeadline("", budget); !ok {
		t.Fatal("a first wait found its budget spent")
	}
	if _, ok := w.routeWaitDeadline("t", budget); !ok {
		t.Fatal("a first wait for topic t found its budget spent")
	}
	spend(budget)
	if _, ok := w.routeWaitDeadline("", budget); ok {
		t.Fatal("a second wait for the listener got a budget of its own")
	}

	// The listener answers and serves topic t on demand; t's own route has
	// not answered, so its budget stays spent while the listener's ends.
	w.mu.Lock()
	w.listenerSeen, w.listener = true, &xdsclient.ListenerUpdate{Name: "l", OnDemand: true, RouteConfigName: "rc"}
	w.topics["t"] = &topicWatch{resource: "rc/t"}
	w.gen++
	w.mu.Unlock()
	w.publish()
	if _, ok := w.routeWaitDeadline("t", budget); ok {
		t.Error("topic t's budget was renewed while its route is still pending")
	}
	if _, ok := w.routeWaitDeadline("", budget); !ok {
		t.Error("the listener answered, but a new wait for it found the old budget spent")
	}

	// t's route answers: its next pending spell gets a budget of its own.
	w.mu.Lock()
	w.topics["t"].seen = true
	w.gen++
	w.mu.Unlock()
	w.publish()
	if _, ok := w.routeWaitDeadline("t", budget); !ok {
		t.Error("topic t answered, but a new wait for it found the old budget spent")
	}
}
