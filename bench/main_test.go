package main

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/meshtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, meshtest.OfficialClientGoroutines()...)
}
