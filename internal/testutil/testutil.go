// Package testutil holds test helpers of rmqmesh's own tests that users of
// meshtest have no use for; shared test support users may want lives in
// meshtest. Only _test.go files import it.
package testutil

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// MustAny wraps m in an Any, failing t when m cannot be marshalled.
func MustAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatalf("anypb.New(%T): %v", m, err)
	}
	return a
}
