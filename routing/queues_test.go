package routing

import (
	"encoding/json"
	"strings"
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// withTopicQueues sets the route's rmqmesh.topic_queues.
func withTopicQueues(t *testing.T, r *rocketmqv3.Route, queues map[string]any) *rocketmqv3.Route {
	t.Helper()
	if r.Route.MetadataMatch == nil {
		r.Route.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{}}
	}
	r.Route.MetadataMatch.FilterMetadata[wellknown.MeshMetadataNamespace] = mustStruct(t, map[string]any{wellknown.TopicQueuesKey: queues})
	return r
}

// Issue 10 item 9: a route carrying the topic's queue data gives the topic
// its real queue counts and only the brokers that hold it.
func TestSnapshot_TopicQueuesFromRoute(t *testing.T) {
	in := oneCluster(t, loc{eps: []ep{
		{addr: "10.0.0.1", broker: "broker-a", rq: 4, wq: 4},
		{addr: "10.0.0.2", broker: "broker-b", rq: 4, wq: 4},
		{addr: "10.0.0.3", broker: "broker-c", rq: 4, wq: 4},
		{addr: "10.0.0.4", broker: "broker-c", id: 1, perm: remoting.PermRead, rq: 4, wq: 4},
	}})
	in.RouteConfig = rc("rc",
		withTopicQueues(t, rt(t, exact("orders"), "brokers", nil), map[string]any{
			"broker-a": map[string]any{"read_queue_num": 16.0, "write_queue_num": 8.0},
			"broker-c": map[string]any{"read_queue_num": 2.0, "write_queue_num": 2.0, "perm": 4.0},
		}),
		rt(t, prefix(""), "brokers", nil),
	)
	s := mustSnapshot(t, in)
	got, err := s.TopicRoute("orders", RouteDataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []remoting.QueueData{
		{BrokerName: "broker-a", ReadQueueNums: 16, WriteQueueNums: 8, Perm: remoting.PermRead | remoting.PermWrite},
		{BrokerName: "broker-c", ReadQueueNums: 2, WriteQueueNums: 2, Perm: remoting.PermRead},
	}
	if diff := cmp.Diff(got.QueueDatas, want); diff != "" {
		t.Errorf("orders queue data mismatch (-got +want):\n%s", diff)
	}
	// Writes go only where the topic is writable.
	checkShares(t, s, "orders", map[string]float64{"broker-a": 1})
	// Other topics keep the endpoint metadata's counts.
	other, err := s.TopicRoute("payments", RouteDataOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range other.QueueDatas {
		if q.ReadQueueNums != 4 || q.WriteQueueNums != 4 {
			t.Errorf("payments on %s: %d/%d queues, want the metadata's 4/4", q.BrokerName, q.ReadQueueNums, q.WriteQueueNums)
		}
	}
}

func TestSnapshot_TopicQueuesInvalid(t *testing.T) {
	in := oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a"}}})
	in.RouteConfig = rc("rc", withTopicQueues(t, rt(t, exact("orders"), "brokers", nil), map[string]any{"broker-a": 8.0}))
	_, err := NewSnapshot(in)
	if KindOf(err) != KindInvalidConfig || !strings.Contains(err.Error(), `["topic_queues"]["broker-a"] must be a struct`) || !strings.Contains(err.Error(), "routes[0]") {
		t.Errorf("NewSnapshot() error = %v, want %v naming the route and the field", err, KindInvalidConfig)
	}
}

// Without per-topic queue data, the dump says where queue counts come from
// and warns that topics created with more queues are partly unreachable.
func TestSnapshot_DumpSaysWhereQueueCountsComeFrom(t *testing.T) {
	in := oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a"}}})
	in.RouteConfig = rc("rc",
		withTopicQueues(t, rt(t, exact("orders"), "brokers", nil), map[string]any{"broker-a": map[string]any{"read_queue_num": 8.0, "write_queue_num": 8.0}}),
		rt(t, prefix(""), "brokers", nil),
	)
	b, err := json.Marshal(mustSnapshot(t, in).Dump())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Warnings    []string
		RouteConfig struct {
			Routes []struct {
				QueueCounts string             `json:"queue_counts"`
				WriteShares map[string]float64 `json:"write_shares"`
			}
		} `json:"route_config"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if r := got.RouteConfig.Routes; len(r) != 2 || r[0].QueueCounts != "route topic_queues" || r[1].QueueCounts != "endpoint metadata" || r[1].WriteShares["broker-a"] != 1 {
		t.Errorf("dump routes = %+v, want queue counts from the route, then from endpoint metadata", r)
	}
	if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], `route 1 in listener "rmq-prod"`) || !strings.Contains(got.Warnings[0], "topic_queues") {
		t.Errorf("dump warnings = %q, want one naming route 1 and the topic_queues convention", got.Warnings)
	}
}
