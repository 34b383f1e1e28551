package wellknown_test

import (
	"testing"

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
