package transport_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(childDialEnv); addr != "" {
		os.Exit(childDial(addr))
	}
	goleak.VerifyTestMain(m)
}
