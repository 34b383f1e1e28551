package meshtest

import (
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	QuietClientLogs()
	primitive.PanicHandler = func(any) {}
	goleak.VerifyTestMain(m, OfficialClientGoroutines()...)
}
