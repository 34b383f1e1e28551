package meshtest

import (
	"fmt"
	"sync"
	"time"
)

// faultError is an injected error answer.
type faultError struct {
	code   int32
	remark string
}

// SetError makes the broker answer every request with the given code with
// respCode and remark, instead of processing it, until ClearErrors. The request is
// still recorded.
func (b *Broker) SetError(code, respCode int32, remark string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errs[code] = faultError{code: respCode, remark: remark}
}

// ClearErrors removes every error set with SetError, every delay set with
// SetDelay, and GoAway.
func (b *Broker) ClearErrors() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.errs)
	clear(b.delays)
	b.goingAway.Store(false)
}

// SetDelay holds every request with the given code for d (wall time, not scaled)
// before processing it; other requests on the same connection are not held. d <= 0
// removes the delay.
func (b *Broker) SetDelay(code int32, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if d <= 0 {
		delete(b.delays, code)
		return
	}
	b.delays[code] = d
}

func (b *Broker) faultsFor(code int32) (fe faultError, hasErr bool, delay time.Duration, held <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fe, hasErr = b.errs[code]
	if h := b.holds[code]; h != nil {
		held = h.released
	}
	return fe, hasErr, b.delays[code], held
}

// hold is a Hold in force for one request code.
type hold struct {
	released chan struct{} // closed when the last holder releases
	holders  int
}

// Hold keeps every request with the given code that arrives from now on
// unanswered (recorded, not processed) until release is called; other requests on
// the same connection are not held. It is SetDelay with an end the test decides,
// for when a test must observe something before the broker may answer. Holds
// nest; release is safe to call more than once. A held request is dropped, not
// answered, when the broker stops or its connection closes first.
func (b *Broker) Hold(code int32) (release func()) {
	b.mu.Lock()
	h := b.holds[code]
	if h == nil {
		h = &hold{released: make(chan struct{})}
		b.holds[code] = h
	}
	h.holders++
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if h.holders--; h.holders == 0 {
				delete(b.holds, code)
				close(h.released)
			}
		})
	}
}

// Hold holds requests with the given code on every broker of the cluster, masters
// and replicas; see [Broker.Hold].
func (c *Cluster) Hold(code int32) (release func()) {
	var releases []func()
	for _, s := range c.sets {
		for _, b := range s.members {
			releases = append(releases, b.Hold(code))
		}
	}
	return func() {
		for _, r := range releases {
			r()
		}
	}
}

// waitFault waits out a delay and a hold (either may be absent) and reports
// whether the request is still to be answered: false when the broker stopped or
// the connection closed first.
func waitFault(delay time.Duration, held <-chan struct{}, stop, closed <-chan struct{}) bool {
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop:
			return false
		case <-closed:
			return false
		}
	}
	if held != nil {
		select {
		case <-held:
		case <-stop:
			return false
		case <-closed:
			return false
		}
	}
	return true
}

// Stop shuts the broker down gracefully: it leaves the nameserver's routes, closes
// its listener and every client connection (clients see EOF) and drops suspended
// pulls. The store is kept.
func (b *Broker) Stop() {
	b.srv.stop(false)
	b.dropPulls()
}

// Kill stops the broker abruptly: connections are reset (SO_LINGER 0) and nothing
// in flight is answered. The store is kept.
func (b *Broker) Kill() {
	b.srv.stop(true)
	b.dropPulls()
}

// Restart starts a stopped or killed broker again on the same address with the
// same store. Clients must heartbeat again before they can pull.
func (b *Broker) Restart() error {
	select {
	case <-b.c.done:
		return ErrClosed
	default:
	}
	b.goingAway.Store(false)
	if err := b.srv.start(""); err != nil {
		return fmt.Errorf("meshtest: restarting broker %q id %d: %w", b.set.name, b.id, err)
	}
	return nil
}

// RestartElsewhere starts a stopped or killed broker again on a new
// ephemeral port with the same store, as a broker rescheduled onto another
// host does: it registers with the nameserver at its new address. Clients
// still dialing the old one are refused.
func (b *Broker) RestartElsewhere() error {
	select {
	case <-b.c.done:
		return ErrClosed
	default:
	}
	b.goingAway.Store(false)
	if err := b.srv.startElsewhere(); err != nil {
		return fmt.Errorf("meshtest: restarting broker %q id %d at a new address: %w", b.set.name, b.id, err)
	}
	return nil
}

// Running reports whether the broker is started (not stopped or killed).
func (b *Broker) Running() bool { return b.srv.registered() }

// RefuseConnections closes (true) or reopens (false) the broker's listener: new
// connections are refused while established ones keep working.
func (b *Broker) RefuseConnections(refuse bool) error { return b.srv.refuse(refuse) }

// CloseClientConnections closes every established client connection; the broker
// keeps listening.
func (b *Broker) CloseClientConnections() { b.srv.closeConns() }

// Stop shuts the nameserver down; clients keep their cached routes.
func (n *NameServer) Stop() { n.srv.stop(false) }

// Restart starts a stopped nameserver again on the same address.
func (n *NameServer) Restart() error { return n.srv.start("") }

// SetError makes the nameserver answer requests with the given code with respCode
// and remark until ClearErrors.
func (n *NameServer) SetError(code, respCode int32, remark string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.errs[code] = faultError{code: respCode, remark: remark}
}

// ClearErrors removes every error set with SetError.
func (n *NameServer) ClearErrors() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.errs)
}
