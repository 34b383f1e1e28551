package transport_test

import (
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/xdsclient/transport"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The method names are the ones Envoy's service definition registers: a
// typo would reach every management server as an unknown method.
func TestMethods_MatchTheADSService(t *testing.T) {
	if transport.MethodSotW != discoveryv3.AggregatedDiscoveryService_StreamAggregatedResources_FullMethodName {
		t.Errorf("MethodSotW = %q", transport.MethodSotW)
	}
	if transport.MethodDelta != discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResources_FullMethodName {
		t.Errorf("MethodDelta = %q", transport.MethodDelta)
	}
}
