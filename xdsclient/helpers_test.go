package xdsclient_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

func fastBackoff(int) time.Duration { return 20 * time.Millisecond }

// event is one watcher callback.
type event[T any] struct {
	update T
	resErr error
	ambErr error
}

// recorder is a Watcher that records callbacks on a channel.
type recorder[T any] struct{ ch chan event[T] }

func newRecorder[T any]() *recorder[T] { return &recorder[T]{ch: make(chan event[T], 10000)} }

func (r *recorder[T]) ResourceChanged(u T)     { r.ch <- event[T]{update: u} }
func (r *recorder[T]) ResourceError(err error) { r.ch <- event[T]{resErr: err} }
func (r *recorder[T]) AmbientError(err error)  { r.ch <- event[T]{ambErr: err} }

// waitFor returns the first event matching ok; it fails the test at the
// deadline.
func (r *recorder[T]) waitFor(t *testing.T, what string, ok func(event[T]) bool) event[T] {
	t.Helper()
	timer := time.NewTimer(meshtest.DefaultTimeout)
	defer timer.Stop()
	for {
		select {
		case e := <-r.ch:
			if ok(e) {
				return e
			}
		case <-timer.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (r *recorder[T]) waitUpdate(t *testing.T, what string, ok func(T) bool) T {
	t.Helper()
	var zero T
	return r.waitFor(t, what, func(e event[T]) bool {
		return e.resErr == nil && e.ambErr == nil && (ok == nil || ok(e.update)) && any(e.update) != any(zero)
	}).update
}

func (r *recorder[T]) waitResourceError(t *testing.T, kind xdsclient.ErrorKind) error {
	t.Helper()
	return r.waitFor(t, "resource error of kind "+kind.String(), func(e event[T]) bool {
		return e.resErr != nil && xdsclient.KindOf(e.resErr) == kind
	}).resErr
}

func (r *recorder[T]) waitAmbientError(t *testing.T, kind xdsclient.ErrorKind) error {
	t.Helper()
	return r.waitFor(t, "ambient error of kind "+kind.String(), func(e event[T]) bool {
		return e.ambErr != nil && xdsclient.KindOf(e.ambErr) == kind
	}).ambErr
}

func newClient(t *testing.T, bootstrapJSON []byte, opts ...xdsclient.Option) *xdsclient.Client {
	t.Helper()
	cfg, err := bootstrap.Parse(bootstrapJSON, "test")
	if err != nil {
		t.Fatalf("bootstrap.Parse() failed: %v", err)
	}
	c, err := xdsclient.New(cfg, append([]xdsclient.Option{xdsclient.WithBackoff(fastBackoff)}, opts...)...)
	if err != nil {
		t.Fatalf("xdsclient.New() failed: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	t.Cleanup(cancel)
	return ctx
}

// unusedAddr returns an address nothing listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func mustResources(t testing.TB, s meshtest.MeshSpec) meshtest.Resources {
	t.Helper()
	r, err := s.Resources()
	if err != nil {
		t.Fatalf("MeshSpec.Resources() failed: %v", err)
	}
	return r
}

func forEachProtocol(t *testing.T, f func(t *testing.T, protocol string)) {
	for _, p := range []string{"sotw", "delta"} {
		t.Run(p, func(t *testing.T) { f(t, p) })
	}
}
