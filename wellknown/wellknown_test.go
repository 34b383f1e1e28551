package wellknown_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

func knobs(fields map[string]*structpb.Value) *corev3.Metadata {
	return &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		wellknown.MeshMetadataNamespace: {Fields: fields},
	}}
}

func TestParseDataPath(t *testing.T) {
	const bad = `filter_metadata["rmqmesh"]["data_path"] must be "direct" or "intercept", not `
	for _, tc := range []struct {
		name    string
		md      *corev3.Metadata
		want    string
		wantErr string
	}{
		{name: "no metadata", md: nil},
		{name: "other knobs only", md: knobs(map[string]*structpb.Value{"other": structpb.NewStringValue("x")})},
		{name: "empty", md: knobs(map[string]*structpb.Value{wellknown.DataPathKey: structpb.NewStringValue("")})},
		{name: "direct", md: knobs(map[string]*structpb.Value{wellknown.DataPathKey: structpb.NewStringValue("direct")}), want: wellknown.DataPathDirect},
		{name: "intercept", md: knobs(map[string]*structpb.Value{wellknown.DataPathKey: structpb.NewStringValue("intercept")}), want: wellknown.DataPathIntercept},
		{name: "unknown value", md: knobs(map[string]*structpb.Value{wellknown.DataPathKey: structpb.NewStringValue("sidecar")}), wantErr: bad + `"sidecar"`},
		{name: "case matters", md: knobs(map[string]*structpb.Value{wellknown.DataPathKey: structpb.NewStringValue("Direct")}), wantErr: bad + `"Direct"`},
		{name: "number", md: knobs(map[string]*structpb.Value{wellknown.DataPathKey: structpb.NewNumberValue(1)}), wantErr: bad + `1`},
		{name: "bool", md: knobs(map[string]*structpb.Value{wellknown.DataPathKey: structpb.NewBoolValue(true)}), wantErr: bad + `true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wellknown.ParseDataPath(tc.md)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ParseDataPath() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseDataPath() = %q, %v; want %q, nil", got, err, tc.want)
			}
		})
	}
}

func TestParseTopicQueues(t *testing.T) {
	num := structpb.NewNumberValue
	broker := func(kv map[string]*structpb.Value) *structpb.Value {
		return structpb.NewStructValue(&structpb.Struct{Fields: kv})
	}
	queues := func(kv map[string]*structpb.Value) *corev3.Metadata {
		return knobs(map[string]*structpb.Value{wellknown.TopicQueuesKey: broker(kv)})
	}
	const field = `filter_metadata["rmqmesh"]["topic_queues"]`
	for _, tc := range []struct {
		name    string
		md      *corev3.Metadata
		want    map[string]wellknown.TopicQueues
		wantErr string
	}{
		{name: "none", md: nil},
		{name: "other knobs only", md: knobs(map[string]*structpb.Value{"other": structpb.NewStringValue("x")})},
		{name: "two brokers", md: queues(map[string]*structpb.Value{
			"broker-a": broker(map[string]*structpb.Value{wellknown.ReadQueueNumKey: num(16), wellknown.WriteQueueNumKey: num(8)}),
			"broker-b": broker(map[string]*structpb.Value{wellknown.ReadQueueNumKey: num(4), wellknown.WriteQueueNumKey: num(4), wellknown.PermKey: num(4)}),
		}), want: map[string]wellknown.TopicQueues{
			"broker-a": {ReadQueueNums: 16, WriteQueueNums: 8, Perm: wellknown.DefaultTopicPerm},
			"broker-b": {ReadQueueNums: 4, WriteQueueNums: 4, Perm: 4},
		}},
		{name: "not a struct", md: knobs(map[string]*structpb.Value{wellknown.TopicQueuesKey: num(8)}), wantErr: field + ` must be a struct of broker names, not 8`},
		{name: "broker not a struct", md: queues(map[string]*structpb.Value{"broker-a": num(8)}), wantErr: field + `["broker-a"] must be a struct, not 8`},
		{name: "missing count", md: queues(map[string]*structpb.Value{"broker-a": broker(map[string]*structpb.Value{wellknown.ReadQueueNumKey: num(8)})}), wantErr: field + `["broker-a"] has no "write_queue_num"`},
		{name: "fraction", md: queues(map[string]*structpb.Value{"broker-a": broker(map[string]*structpb.Value{wellknown.ReadQueueNumKey: num(8.5), wellknown.WriteQueueNumKey: num(8)})}), wantErr: field + `["broker-a"]["read_queue_num"] must be an integer in [0, 2147483647], not 8.5`},
		{name: "perm out of range", md: queues(map[string]*structpb.Value{"broker-a": broker(map[string]*structpb.Value{wellknown.ReadQueueNumKey: num(8), wellknown.WriteQueueNumKey: num(8), wellknown.PermKey: num(9)})}), wantErr: field + `["broker-a"]["perm"] must be an integer in [0, 7], not 9`},
		{name: "empty broker name", md: queues(map[string]*structpb.Value{"": broker(nil)}), wantErr: field + `: empty broker name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wellknown.ParseTopicQueues(tc.md)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ParseTopicQueues() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(got, tc.want) {
				t.Errorf("ParseTopicQueues() = %v, %v; want %v, nil", got, err, tc.want)
			}
		})
	}
}

func TestParseSendFailover(t *testing.T) {
	str, num, boolean := structpb.NewStringValue, structpb.NewNumberValue, structpb.NewBoolValue
	failover := func(kv map[string]*structpb.Value) *corev3.Metadata {
		return knobs(map[string]*structpb.Value{wellknown.SendFailoverKey: structpb.NewStructValue(&structpb.Struct{Fields: kv})})
	}
	const field = `filter_metadata["rmqmesh"]["send_failover"]`
	def := wellknown.DefaultSendFailover()
	for _, tc := range []struct {
		name    string
		md      *corev3.Metadata
		want    wellknown.SendFailover
		wantErr string
	}{
		{name: "absent", md: nil, want: def},
		{name: "empty struct", md: failover(nil), want: def},
		{name: "every field", md: failover(map[string]*structpb.Value{
			"enabled": boolean(false), "max_attempts": num(5), "per_try_timeout": str("250ms"), "timeout": str("1.5s"), "move_keyed_sends": boolean(true),
		}), want: wellknown.SendFailover{Enabled: false, MaxAttempts: 5, PerTryTimeout: 250 * time.Millisecond, Timeout: 1500 * time.Millisecond, MoveKeyedSends: true}},
		{name: "not a struct", md: knobs(map[string]*structpb.Value{wellknown.SendFailoverKey: boolean(true)}), wantErr: field + ` must be a struct, not true`},
		{name: "zero attempts", md: failover(map[string]*structpb.Value{"max_attempts": num(0)}), wantErr: field + `["max_attempts"] must be an integer in [1, 10] (tries in all, the first included), not 0`},
		{name: "fractional attempts", md: failover(map[string]*structpb.Value{"max_attempts": num(1.5)}), wantErr: field + `["max_attempts"] must be an integer in [1, 10] (tries in all, the first included), not 1.5`},
		{name: "too many attempts", md: failover(map[string]*structpb.Value{"max_attempts": num(11)}), wantErr: field + `["max_attempts"] must be an integer in [1, 10] (tries in all, the first included), not 11`},
		{name: "attempts as string", md: failover(map[string]*structpb.Value{"max_attempts": str("3")}), wantErr: field + `["max_attempts"] must be an integer in [1, 10] (tries in all, the first included), not "3"`},
		{name: "negative per-try timeout", md: failover(map[string]*structpb.Value{"per_try_timeout": str("-1s")}), wantErr: field + `["per_try_timeout"] must be a positive duration such as "1s", not "-1s"`},
		{name: "zero timeout", md: failover(map[string]*structpb.Value{"timeout": str("0s")}), wantErr: field + `["timeout"] must be a positive duration such as "1s", not "0s"`},
		{name: "unparsable timeout", md: failover(map[string]*structpb.Value{"timeout": str("soon")}), wantErr: field + `["timeout"] must be a positive duration such as "1s", not "soon"`},
		{name: "timeout as number", md: failover(map[string]*structpb.Value{"timeout": num(2)}), wantErr: field + `["timeout"] must be a duration string such as "1s", not 2`},
		{name: "enabled as string", md: failover(map[string]*structpb.Value{"enabled": str("yes")}), wantErr: field + `["enabled"] must be true or false, not "yes"`},
		{name: "unknown field", md: failover(map[string]*structpb.Value{"retries": num(2)}), wantErr: field + `["retries"]: unknown field`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := wellknown.ParseSendFailover(tc.md)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("ParseSendFailover() error = %v, want it to start with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseSendFailover() = %+v, %v; want %+v, nil", got, err, tc.want)
			}
		})
	}
}

func TestSendFailover_ValueRoundTrips(t *testing.T) {
	want := wellknown.SendFailover{Enabled: true, MaxAttempts: 4, PerTryTimeout: 300 * time.Millisecond, Timeout: 2 * time.Second, MoveKeyedSends: true}
	got, err := wellknown.ParseSendFailover(knobs(map[string]*structpb.Value{wellknown.SendFailoverKey: want.Value()}))
	if err != nil || got != want {
		t.Errorf("ParseSendFailover(Value()) = %+v, %v; want %+v", got, err, want)
	}
}

// What a control plane writes is what rmqmesh reads.
func TestTopicQueuesValue_RoundTrip(t *testing.T) {
	for _, queues := range []map[string]wellknown.TopicQueues{
		{},
		{"broker-a": {ReadQueueNums: 16, WriteQueueNums: 8, Perm: 6}, "broker-b": {ReadQueueNums: 4, WriteQueueNums: 0, Perm: 4}},
		{"b": {ReadQueueNums: 0, WriteQueueNums: 0, Perm: 0}},
	} {
		md := knobs(map[string]*structpb.Value{wellknown.TopicQueuesKey: wellknown.TopicQueuesValue(queues)})
		got, err := wellknown.ParseTopicQueues(md)
		if err != nil || !maps.Equal(got, queues) {
			t.Errorf("ParseTopicQueues(TopicQueuesValue(%v)) = %v, %v", queues, got, err)
		}
	}
}
