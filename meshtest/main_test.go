package meshtest

import (
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	rlog.SetLogLevel("error")
	primitive.PanicHandler = func(any) {}
	goleak.VerifyTestMain(m, OfficialClientGoroutines()...)
}
