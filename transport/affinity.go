package transport

import (
	"sync"
	"time"
)

// affinityTable remembers which broker holds a transactional half message, by
// the message's key (its UNIQ_KEY, which the official client puts in
// END_TRANSACTION's msgId), for two cases where the client would otherwise
// address the wrong broker: an end-transaction after a send the relay
// redirected (the client sends it to the broker it chose), and the answer to a
// broker's transaction check that came over another broker's endpoint. It holds
// at most size entries, each for at most ttl; when full, the oldest goes.
type affinityTable struct {
	ttl  time.Duration
	size int

	mu    sync.Mutex
	m     map[string]affinityEntry
	order []string // insertion order; a ring of size keys once full
	next  int      // the oldest key's index, once full
}

type affinityEntry struct {
	broker string
	at     time.Time
}

func newAffinityTable(ttl time.Duration, size int) *affinityTable {
	// The ring grows with use: most relays never see a transaction, and a
	// relay kept alive by something else should not hold a megabyte.
	return &affinityTable{ttl: ttl, size: size, m: make(map[string]affinityEntry)}
}

func (t *affinityTable) put(key, broker string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[key]; !ok {
		if len(t.order) < t.size {
			t.order = append(t.order, key)
		} else {
			delete(t.m, t.order[t.next])
			t.order[t.next] = key
			t.next = (t.next + 1) % t.size
		}
	}
	t.m[key] = affinityEntry{broker: broker, at: time.Now()}
}

func (t *affinityTable) get(key string) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[key]
	if !ok || time.Since(e.at) > t.ttl {
		return "", false
	}
	return e.broker, true
}
