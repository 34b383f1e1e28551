package certprovider

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// Store holds one [FileWatcher] per certificate provider instance of a
// bootstrap, by instance name, shared by everything that names the
// instance. A watcher is made on the first use of its instance, and made
// again on the next use after a failure: the files may not exist yet when
// the process starts (Istio's agent writes them after the application
// container starts). A Store starts no goroutine and is safe for concurrent
// use.
type Store struct {
	// Immutable after NewStore.
	files map[string]Files
	opts  []Option

	mu       sync.Mutex // guards watchers
	watchers map[string]*FileWatcher
}

// NewStore returns a store of the given instances. opts apply to every
// watcher it makes.
func NewStore(instances map[string]Files, opts ...Option) *Store {
	files := make(map[string]Files, len(instances))
	for name, f := range instances {
		files[name] = f
	}
	return &Store{files: files, opts: opts, watchers: make(map[string]*FileWatcher)}
}

// KeyMaterial returns the current key material of instance (see
// [FileWatcher.KeyMaterial]). The error names the instance and the reason:
// an instance the store does not have, or files that cannot be read yet.
func (s *Store) KeyMaterial(instance string) (*KeyMaterial, error) {
	w, err := s.watcher(instance)
	if err != nil {
		return nil, err
	}
	return w.KeyMaterial(), nil
}

func (s *Store) watcher(instance string) (*FileWatcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if w := s.watchers[instance]; w != nil {
		return w, nil
	}
	f, ok := s.files[instance]
	if !ok {
		names := make([]string, 0, len(s.files))
		for n := range s.files {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("certprovider: no certificate provider instance %q (have %q)", instance, names)
	}
	opts := append(slices.Clip(s.opts), WithLogger(s.logger().With("instance", instance)))
	w, err := NewFileWatcher(f, opts...)
	if err != nil {
		return nil, fmt.Errorf("certprovider: instance %q: %w", instance, err)
	}
	s.watchers[instance] = w
	return w, nil
}

// logger returns the logger the store's options set, or one that discards.
func (s *Store) logger() *slog.Logger {
	w := &FileWatcher{logger: slog.New(slog.DiscardHandler)}
	for _, o := range s.opts {
		if o != nil {
			o(w)
		}
	}
	return w.logger
}
