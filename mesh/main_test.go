package mesh_test

import (
	"os"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/meshtest"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(childDialEnv); addr != "" {
		os.Exit(childDial(addr))
	}
	rlog.SetLogLevel("error")
	primitive.PanicHandler = func(any) {}
	goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
}
