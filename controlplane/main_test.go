package controlplane_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(scaleChildEnv) != "" {
		os.Exit(scaleChild())
	}
	goleak.VerifyTestMain(m)
}
