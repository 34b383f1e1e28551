package xdsclient

import (
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// FuzzDecode feeds server bytes to every resource decoder, bare and in a
// SotW Resource wrapper: no panic, and an accepted resource has a name.
func FuzzDecode(f *testing.F) {
	seeds := []proto.Message{
		edsCluster(),
		&rocketmqv3.RouteConfiguration{Name: "rc", Routes: []*rocketmqv3.Route{goodRoute()}},
		claWithLocalities(locality("a", nil, 1, 2)),
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
