package mesh

import (
	"maps"
	"slices"
	"time"
)

// touch records that a client asked for topic and, when the listener serves
// routes on demand, makes sure the topic's route resource is watched.
func (w *watchState) touch(topic string) {
	now := time.Now().UnixNano()
	w.mu.Lock()
	t, ok := w.topics[topic]
	if ok {
		w.mu.Unlock()
		t.lastUsed.Store(now)
		return
	}
	if w.stopped || w.listener == nil || !w.listener.OnDemand {
		w.mu.Unlock()
		return
	}
	t = &topicWatch{}
	t.lastUsed.Store(now)
	w.topics[topic] = t
	w.mu.Unlock()
	w.kickNow()
}

// releaseIdleTopics drops on-demand topics no client has asked for within the idle
// timeout, so the process holds only the routes it uses.
func (w *watchState) releaseIdleTopics() bool {
	cutoff := time.Now().Add(-w.m.topicIdle).UnixNano()
	var cancels []func()
	w.mu.Lock()
	for topic, t := range w.topics {
		if t.lastUsed.Load() < cutoff {
			cancels = append(cancels, t.cancel)
			delete(w.topics, topic)
			delete(w.routeWaits, topic)
		}
	}
	w.mu.Unlock()
	for _, c := range cancels {
		if c != nil {
			c()
		}
	}
	return len(cancels) > 0
}

// heldTopics returns the on-demand topics currently subscribed, sorted.
func (w *watchState) heldTopics() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Sorted(maps.Keys(w.topics))
}
