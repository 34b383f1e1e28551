package testutil_test

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fatalRecorder is a testing.TB whose Fatalf records instead of stopping the
// test, so MustAny's failure path can be checked.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.msg = fmt.Sprintf(format, args...) }

func TestMustAny(t *testing.T) {
	a := testutil.MustAny(t, wrapperspb.String("orders"))
	var got wrapperspb.StringValue
	if err := a.UnmarshalTo(&got); err != nil || got.GetValue() != "orders" {
		t.Errorf("MustAny(%q) unwraps to %q, %v", "orders", got.GetValue(), err)
	}
	// A proto3 string must be valid UTF-8: marshalling fails, and MustAny
	// says so naming the message type.
	r := &fatalRecorder{TB: t}
	testutil.MustAny(r, proto.Message(wrapperspb.String("\xff")))
	if !strings.Contains(r.msg, "wrapperspb.StringValue") {
		t.Errorf("MustAny of an unmarshallable message: Fatalf(%q), want it to name the type", r.msg)
	}
}
