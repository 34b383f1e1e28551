package mesh_test

import (
	"os"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/meshtest"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(childDialEnv); addr != "" {
		os.Exit(childDial(addr))
	}
	meshtest.QuietClientLogs()
	primitive.PanicHandler = func(any) {}
	goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
}
