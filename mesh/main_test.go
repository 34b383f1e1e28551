package mesh_test

import (
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/meshtest"
)

func TestMain(m *testing.M) {
	meshtest.QuietClientLogs()
	primitive.PanicHandler = func(any) {}
	goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
}
