package mesh_test

import (
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/meshtest"
)

func TestMain(m *testing.M) {
	rlog.SetLogLevel("error")
	primitive.PanicHandler = func(any) {}
	goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
}
