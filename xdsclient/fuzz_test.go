package xdsclient

import (
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

// FuzzDecode feeds server bytes to every resource decoder, bare and in a
// SotW Resource wrapper: no panic, and an accepted resource has a name.
func FuzzDecode(f *testing.F) {
	queues, err := structpb.NewStruct(map[string]any{wellknown.TopicQueuesKey: map[string]any{"broker-a": map[string]any{wellknown.ReadQueueNumKey: 8, wellknown.WriteQueueNumKey: 8}}})
	if err != nil {
		f.Fatal(err)
	}
	withQueues := goodRoute()
	withQueues.Route.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: queues}}
	seeds := []proto.Message{
		edsCluster(),
		&rocketmqv3.RouteConfiguration{Name: "rc", Routes: []*rocketmqv3.Route{goodRoute(), withQueues}},
		claWithLocalities(locality("a", nil, 1, 2)),
		claWithLocalities(locality("a", wrapperspb.UInt32(0), 1), locality("b", nil, 0)),
	}
	for _, m := range seeds {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		for i := range allTypes {
			f.Add(b, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		rt := allTypes[int(which)%len(allTypes)]
		check := func(a *anypb.Any) {
			name, u, msg, err := rt.decode(a)
			if err == nil && (name == "" || u == nil || msg == nil) {
				t.Fatalf("%s: accepted resource without name or value: %q %v", rt.short, name, u)
			}
		}
		check(&anypb.Any{TypeUrl: rt.typeURL, Value: data})
		wrapped, err := proto.Marshal(&discoveryv3.Resource{Name: "x", Resource: &anypb.Any{TypeUrl: rt.typeURL, Value: data}})
		if err != nil {
			return
		}
		if _, res, err := unwrapSotW(&anypb.Any{TypeUrl: resourceWrapperTypeURL, Value: wrapped}); err == nil && res != nil {
			check(res)
		}
		_, _, _ = unwrapSotW(&anypb.Any{TypeUrl: resourceWrapperTypeURL, Value: data})
	})
}
