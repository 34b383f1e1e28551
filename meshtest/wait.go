package meshtest

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// DefaultTimeout bounds every wait of this package's helpers, and of rmqmesh's own
// tests. It is generous on purpose: a wait returns as soon as its condition holds,
// so the bound only decides how long a broken test takes to say so on a loaded
// machine, never how long a passing one takes.
const DefaultTimeout = 30 * time.Second

// pollInterval is how often the waits look again.
const pollInterval = 20 * time.Millisecond

// WaitFor polls cond until it holds and fails t (Fatalf) when it still does not
// after DefaultTimeout; what names the awaited state in the failure message.
// Call it from the test's goroutine.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitDetail(t, what, func() (bool, string) { return cond(), "" })
}

// waitDetail is WaitFor for conditions that can say why they do not hold yet;
// the last reason ends the failure message.
func waitDetail(t testing.TB, what string, cond func() (ok bool, why string)) {
	t.Helper()
	deadline := time.Now().Add(DefaultTimeout)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			if why != "" {
				t.Fatalf("meshtest: timed out after %v waiting for %s: %s", DefaultTimeout, what, why)
			}
			t.Fatalf("meshtest: timed out after %v waiting for %s", DefaultTimeout, what)
		}
		time.Sleep(pollInterval)
	}
}

// WaitSubscribed waits until the control plane's clients together subscribe
// exactly want (sorted) of typeURL, and fails t after DefaultTimeout; what names
// the moment in the failure message.
func (cp *ControlPlane) WaitSubscribed(t testing.TB, what, typeURL string, want []string) {
	t.Helper()
	waitDetail(t, what+": subscriptions of "+typeURL, func() (bool, string) {
		got := cp.Subscribed(typeURL)
		if slices.Equal(got, want) {
			return true, ""
		}
		if len(got) > 20 || len(want) > 20 {
			return false, fmt.Sprintf("the control plane sees %d subscribed, want %d", len(got), len(want))
		}
		return false, fmt.Sprintf("the control plane sees %q subscribed, want %q", got, want)
	})
}
