package wellknown_test

import (
	"testing"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

func TestTopicRouteName(t *testing.T) {
	if got, want := wellknown.TopicRouteName("rmq-routes", "orders"), "rmq-routes/orders"; got != want {
		t.Errorf("TopicRouteName() = %q, want %q", got, want)
	}
	got := wellknown.TopicRouteNameInAuthority("mesh.example", "rmq-routes", "a/b %c")
	want := "xdstp://mesh.example/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration/rmq-routes/a%2Fb%20%25c"
	if got != want {
		t.Errorf("TopicRouteNameInAuthority() = %q, want %q", got, want)
	}
	if got := wellknown.TopicRouteNameInAuthority("", "n", "t"); got != "n/t" {
		t.Errorf("TopicRouteNameInAuthority(\"\") = %q", got)
	}
}

// Every name the builders make parses back; anything else is refused.
func TestParseTopicRouteName(t *testing.T) {
	for _, c := range []struct {
		name, family, topic string
		ok                  bool
	}{
		{wellknown.TopicRouteName("rocketmq", "orders"), "rocketmq", "orders", true},
		{wellknown.TopicRouteName("rocketmq", "a/b"), "rocketmq", "a/b", true},
		{wellknown.TopicRouteNameInAuthority("cp.example", "rocketmq", "%RETRY%g 1/x"), "rocketmq", "%RETRY%g 1/x", true},
		{"rocketmq", "", "", false},
		{"/orders", "", "", false},
		{"rocketmq/", "", "", false},
		{"xdstp://a/other.Type/rocketmq/orders", "", "", false},
		{"xdstp://a", "", "", false},
		{"xdstp://a/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration/rocketmq", "", "", false},
		{"xdstp://a/envoy.extensions.filters.network.rocketmq_proxy.v3.RouteConfiguration/rocketmq/%zz", "", "", false},
	} {
		f, topic, ok := wellknown.ParseTopicRouteName(c.name)
		if f != c.family || topic != c.topic || ok != c.ok {
			t.Errorf("ParseTopicRouteName(%q) = %q, %q, %v; want %q, %q, %v", c.name, f, topic, ok, c.family, c.topic, c.ok)
		}
	}
}
