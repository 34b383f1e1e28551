package xdsclient

import (
	"sync"
	"sync/atomic"
)

// Watcher receives the state of one watched resource. Callbacks of one
// client are delivered one at a time, in order, from a single goroutine; a
// callback must not block for long and must not call [Client.Close].
type Watcher[T any] interface {
	// ResourceChanged delivers a new valid version of the resource.
	ResourceChanged(update T)
	// ResourceError reports that no usable version is cached: the resource
	// does not exist (see [KindOf]), its first version was invalid, or no
	// server answered before the resource timeout.
	ResourceError(err error)
	// AmbientError reports a problem while a cached version stays in force:
	// the stream is down, or a newer version was NACKed.
	AmbientError(err error)
}

// WatcherFuncs adapts functions to a [Watcher]; nil fields are ignored.
type WatcherFuncs[T any] struct {
	OnResourceChanged func(T)
	OnResourceError   func(error)
	OnAmbientError    func(error)
}

var _ Watcher[*ListenerUpdate] = WatcherFuncs[*ListenerUpdate]{}

// ResourceChanged calls OnResourceChanged if set.
func (f WatcherFuncs[T]) ResourceChanged(u T) {
	if f.OnResourceChanged != nil {
		f.OnResourceChanged(u)
	}
}

// ResourceError calls OnResourceError if set.
func (f WatcherFuncs[T]) ResourceError(err error) {
	if f.OnResourceError != nil {
		f.OnResourceError(err)
	}
}

// AmbientError calls OnAmbientError if set.
func (f WatcherFuncs[T]) AmbientError(err error) {
	if f.OnAmbientError != nil {
		f.OnAmbientError(err)
	}
}

// watcherEntry is the type-erased form of a Watcher held by the cache.
type watcherEntry struct {
	changed  func(update)
	resErr   func(error)
	ambErr   func(error)
	canceled atomic.Bool
}

// newWatcherEntry erases the type of w; a nil w ignores every callback.
func newWatcherEntry[T update](w Watcher[T]) *watcherEntry {
	if w == nil {
		w = WatcherFuncs[T]{}
	}
	return &watcherEntry{
		changed: func(u update) { w.ResourceChanged(u.(T)) },
		resErr:  w.ResourceError,
		ambErr:  w.AmbientError,
	}
}

// serializer runs callbacks one at a time, in order, on its own goroutine.
type serializer struct {
	mu     sync.Mutex
	queue  []func()
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func newSerializer() *serializer {
	s := &serializer{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.run()
	return s
}

// schedule queues f; it is dropped after close.
func (s *serializer) schedule(f func()) {
	s.mu.Lock()
	if !s.closed {
		s.queue = append(s.queue, f)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *serializer) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		q := s.queue
		s.queue = nil
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return
		}
		for _, f := range q {
			if s.isClosed() {
				return // close drops what is still pending
			}
			f()
		}
		if len(q) == 0 {
			<-s.wake
		}
	}
}

func (s *serializer) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// close drops pending callbacks and waits for the running one to return.
func (s *serializer) close() {
	s.mu.Lock()
	s.closed = true
	s.queue = nil
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
}
