package bootstrap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmqmesh/rmqmesh"
)

const goodJSON = `{
  "xds_servers": [
    {"server_uri": "primary:15010", "channel_creds": [{"type": "google_default"}, {"type": "insecure"}], "server_features": ["xds_v3", "ignore_resource_deletion"]},
    {"server_uri": "secondary:15010", "channel_creds": [{"type": "tls", "config": {"ca_certificate_file": "/ca.pem", "certificate_file": "/c.pem", "private_key_file": "/k.pem"}}]}
  ],
  "node": {"id": "n1", "cluster": "c1", "locality": {"region": "r", "zone": "z", "sub_zone": "s"}, "metadata": {"k": "v"}},
  "certificate_providers": {"default": {"plugin_name": "file_watcher", "config": {"certificate_file": "/c.pem", "private_key_file": "/k.pem", "ca_certificate_file": "/ca.pem", "refresh_interval": "60s"}}},
  "authorities": {"mesh.example": {"client_listener_resource_name_template": "xdstp://mesh.example/envoy.config.listener.v3.Listener/%s", "xds_servers": [{"server_uri": "a:1", "channel_creds": [{"type": "insecure"}]}]}},
  "client_default_listener_resource_name_template": "%s",
  "some_future_key": {"x": 1},
  "rmqmesh": {"protocol": "delta", "resource_timeout": "3s"}
}`

func TestParse_Good(t *testing.T) {
	cfg, err := Parse([]byte(goodJSON), "test")
	if err != nil {
		t.Fatalf("Parse() failed: %v", err)
	}
	if got, want := len(cfg.XDSServers), 2; got != want {
		t.Fatalf("len(XDSServers) = %d, want %d", got, want)
	}
	s0, s1 := cfg.XDSServers[0], cfg.XDSServers[1]
	if s0.ServerURI != "primary:15010" || s0.ChannelCreds.Type != CredsGoogleDefault || !s0.IgnoreResourceDeletion {
		t.Errorf("server 0 = %+v, want primary, google_default, ignore_resource_deletion", s0)
	}
	wantTLS := &TLSConfig{CACertificateFile: "/ca.pem", CertificateFile: "/c.pem", PrivateKeyFile: "/k.pem", RefreshInterval: 10 * time.Minute}
	if diff := cmp.Diff(s1.ChannelCreds.TLS, wantTLS); diff != "" || s1.IgnoreResourceDeletion {
		t.Errorf("server 1 TLS (-got +want):\n%s", diff)
	}
	fw := cfg.CertificateProviders["default"].FileWatcher
	if fw == nil || fw.RefreshInterval != time.Minute || fw.CertificateFile != "/c.pem" {
		t.Errorf("file_watcher = %+v", fw)
	}
	if a := cfg.Authorities["mesh.example"]; a == nil || len(a.XDSServers) != 1 {
		t.Errorf("authority = %+v", a)
	}
	if cfg.Mesh != (MeshSettings{Protocol: ProtocolDelta, ResourceTimeout: 3 * time.Second}) {
		t.Errorf("Mesh = %+v", cfg.Mesh)
	}
	n := cfg.Node()
	if n.GetId() != "n1" || n.GetCluster() != "c1" || n.GetUserAgentName() != "rmqmesh" || n.GetUserAgentVersion() != rmqmesh.Version || n.GetLocality().GetSubZone() != "s" {
		t.Errorf("Node() = %v", n)
	}
	if n.GetMetadata().GetFields()["k"].GetStringValue() != "v" {
		t.Errorf("Node().Metadata = %v", n.GetMetadata())
	}
	if len(n.GetClientFeatures()) == 0 {
		t.Errorf("Node().ClientFeatures empty")
	}
}

func TestParse_Defaults(t *testing.T) {
	cfg, err := Parse([]byte(`{"xds_servers":[{"server_uri":"x","channel_creds":[{"type":"insecure"}]}]}`), "test")
	if err != nil {
		t.Fatalf("Parse() failed: %v", err)
	}
	if cfg.Mesh != (MeshSettings{Protocol: ProtocolSotW, ResourceTimeout: DefaultResourceTimeout}) {
		t.Errorf("Mesh = %+v, want defaults", cfg.Mesh)
	}
	if cfg.ClientDefaultListenerResourceNameTemplate != "%s" {
		t.Errorf("template = %q", cfg.ClientDefaultListenerResourceNameTemplate)
	}
	if l := cfg.Node().GetLocality(); l != nil {
		t.Errorf("Node().Locality = %v, want nil", l)
	}
}

func TestParse_Errors(t *testing.T) {
	const ins = `"channel_creds":[{"type":"insecure"}]`
	srv := `{"xds_servers":[{"server_uri":"x",` + ins + `}]`
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{`, `bootstrap (src): invalid JSON`},
		{"not object", `[1]`, `bootstrap (src): invalid JSON`},
		{"null", `null`, `bootstrap (src): must be a JSON object: null`},
		{"no servers", `{}`, `bootstrap (src): "xds_servers" is required`},
		{"servers not array", `{"xds_servers":{}}`, `bootstrap (src): "xds_servers" must be a JSON array: {}`},
		{"servers empty", `{"xds_servers":[]}`, `bootstrap (src): "xds_servers" cannot be empty: []`},
		{"server not object", `{"xds_servers":[1]}`, `bootstrap (src): "xds_servers[0]" must be a JSON object: 1`},
		{"empty uri", `{"xds_servers":[{` + ins + `}]}`, `bootstrap (src): "server_uri" in xds_servers[0] cannot be empty: {` + ins + `}`},
		{"uri not string", `{"xds_servers":[{"server_uri":1}]}`, `bootstrap (src): "server_uri" in xds_servers[0] must be a string: {"server_uri":1}`},
		{"no creds", `{"xds_servers":[{"server_uri":"x"}]}`, `bootstrap (src): "channel_creds" in xds_servers[0] is required: {"server_uri":"x"}`},
		{"creds not array", `{"xds_servers":[{"server_uri":"x","channel_creds":{}}]}`, `"channel_creds" in xds_servers[0] must be a JSON array`},
		{"creds empty", `{"xds_servers":[{"server_uri":"x","channel_creds":[]}]}`, `"channel_creds" in xds_servers[0] cannot be empty`},
		{"cred not object", `{"xds_servers":[{"server_uri":"x","channel_creds":[1]}]}`, `"xds_servers[0].channel_creds[0]" must be a JSON object: 1`},
		{"cred no type", `{"xds_servers":[{"server_uri":"x","channel_creds":[{}]}]}`, `"type" in xds_servers[0].channel_creds[0] cannot be empty: {}`},
		{"cred config not object", `{"xds_servers":[{"server_uri":"x","channel_creds":[{"type":"tls","config":1}]}]}`, `"config" in xds_servers[0].channel_creds[0] must be a JSON object`},
		{"unsupported creds", `{"xds_servers":[{"server_uri":"x","channel_creds":[{"type":"fancy"},{"type":"fancier"}]}]}`, `"channel_creds" in xds_servers[0] has no supported type (want "google_default", "insecure" or "tls", got ["fancy" "fancier"])`},
		{"tls bad interval", `{"xds_servers":[{"server_uri":"x","channel_creds":[{"type":"tls","config":{"refresh_interval":"10m"}}]}]}`, `"refresh_interval" in xds_servers[0].channel_creds[0].config must be a positive protobuf JSON duration such as "600s"`},
		{"tls cert without key", `{"xds_servers":[{"server_uri":"x","channel_creds":[{"type":"tls","config":{"certificate_file":"c"}}]}]}`, `"certificate_file" in xds_servers[0].channel_creds[0].config and "private_key_file" must be set together`},
		{"tls bad field", `{"xds_servers":[{"server_uri":"x","channel_creds":[{"type":"tls","config":{"ca_certificate_file":1}}]}]}`, `"ca_certificate_file" in xds_servers[0].channel_creds[0].config must be a string`},
		{"features not strings", `{"xds_servers":[{"server_uri":"x",` + ins + `,"server_features":[1]}]}`, `"server_features" in xds_servers[0] must be an array of strings`},
		{"node not object", srv + `,"node":1}`, `"node" must be a JSON object: 1`},
		{"node id not string", srv + `,"node":{"id":1}}`, `"id" in node must be a string: {"id":1}`},
		{"node cluster not string", srv + `,"node":{"cluster":1}}`, `"cluster" in node must be a string`},
		{"locality not object", srv + `,"node":{"locality":1}}`, `"locality" in node must be a JSON object: {"locality":1}`},
		{"zone not string", srv + `,"node":{"locality":{"zone":2}}}`, `"zone" in node.locality must be a string: {"zone":2}`},
		{"region not string", srv + `,"node":{"locality":{"region":2}}}`, `"region" in node.locality must be a string`},
		{"sub_zone not string", srv + `,"node":{"locality":{"sub_zone":2}}}`, `"sub_zone" in node.locality must be a string`},
		{"metadata not object", srv + `,"node":{"metadata":[1]}}`, `"metadata" in node must be a JSON object`},
		{"providers not object", srv + `,"certificate_providers":[]}`, `"certificate_providers" must be a JSON object`},
		{"provider not object", srv + `,"certificate_providers":{"p":1}}`, `"certificate_providers[\"p\"]" must be a JSON object: 1`},
		{"provider no plugin", srv + `,"certificate_providers":{"p":{}}}`, `"plugin_name" in certificate_providers["p"] cannot be empty: {}`},
		{"provider config not object", srv + `,"certificate_providers":{"p":{"plugin_name":"x","config":1}}}`, `"config" in certificate_providers["p"] must be a JSON object`},
		{"file_watcher no config", srv + `,"certificate_providers":{"p":{"plugin_name":"file_watcher"}}}`, `"config" in certificate_providers["p"] is required for plugin "file_watcher"`},
		{"file_watcher nothing", srv + `,"certificate_providers":{"p":{"plugin_name":"file_watcher","config":{}}}}`, `"config" in certificate_providers["p"] must set "certificate_file" or "ca_certificate_file"`},
		{"file_watcher key only", srv + `,"certificate_providers":{"p":{"plugin_name":"file_watcher","config":{"private_key_file":"k"}}}}`, `"certificate_file" in certificate_providers["p"].config and "private_key_file" must be set together`},
		{"file_watcher bad interval", srv + `,"certificate_providers":{"p":{"plugin_name":"file_watcher","config":{"ca_certificate_file":"c","refresh_interval":"soon"}}}}`, `"refresh_interval" in certificate_providers["p"].config must be a positive protobuf JSON duration such as "600s"`},
		{"file_watcher go duration", srv + `,"certificate_providers":{"p":{"plugin_name":"file_watcher","config":{"ca_certificate_file":"c","refresh_interval":"10m"}}}}`, `"refresh_interval" in certificate_providers["p"].config must be a positive protobuf JSON duration`},
		{"file_watcher zero interval", srv + `,"certificate_providers":{"p":{"plugin_name":"file_watcher","config":{"ca_certificate_file":"c","refresh_interval":"0s"}}}}`, `"refresh_interval" in certificate_providers["p"].config must be a positive protobuf JSON duration`},
		{"file_watcher field type", srv + `,"certificate_providers":{"p":{"plugin_name":"file_watcher","config":{"ca_certificate_file":3}}}}`, `"ca_certificate_file" in certificate_providers["p"].config must be a string`},
		{"template not string", srv + `,"client_default_listener_resource_name_template":1}`, `"client_default_listener_resource_name_template" must be a string`},
		{"authorities not object", srv + `,"authorities":1}`, `"authorities" must be a JSON object: 1`},
		{"authority not object", srv + `,"authorities":{"a":1}}`, `"authorities[\"a\"]" must be a JSON object`},
		{"authority bad template", srv + `,"authorities":{"a":{"client_listener_resource_name_template":"xdstp://b/x"}}}`, `"client_listener_resource_name_template" in authorities["a"] must start with "xdstp://a/"`},
		{"authority bad servers", srv + `,"authorities":{"a":{"xds_servers":[{"channel_creds":[]}]}}}`, `"server_uri" in authorities["a"].xds_servers[0] cannot be empty`},
		{"rmqmesh not object", srv + `,"rmqmesh":"delta"}`, `"rmqmesh" must be a JSON object: "delta"`},
		{"rmqmesh unknown key", srv + `,"rmqmesh":{"protocl":"delta"}}`, `"protocl" in rmqmesh is not a known setting`},
		{"rmqmesh bad protocol", srv + `,"rmqmesh":{"protocol":"grpc"}}`, `"protocol" in rmqmesh must be "sotw" or "delta": {"protocol":"grpc"}`},
		{"rmqmesh protocol type", srv + `,"rmqmesh":{"protocol":1}}`, `"protocol" in rmqmesh must be a string`},
		{"rmqmesh bad timeout", srv + `,"rmqmesh":{"resource_timeout":"-1s"}}`, `"resource_timeout" in rmqmesh must be a positive duration such as "15s": {"resource_timeout":"-1s"}`},
		{"rmqmesh timeout type", srv + `,"rmqmesh":{"resource_timeout":15}}`, `"resource_timeout" in rmqmesh must be a string`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.json), "src")
			if err == nil {
				t.Fatalf("Parse(%s) succeeded, want error containing %q", tc.json, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%s) error:\n  %v\nwant it to contain:\n  %s", tc.json, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "bootstrap (src): ") {
				t.Errorf("error %q does not name its source", err)
			}
		})
	}
}

func TestFromFile_ErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(path, []byte(`{"xds_servers":[{"channel_creds":[]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := FromFile(path)
	want := `bootstrap (file "` + path + `"): "server_uri" in xds_servers[0] cannot be empty: {"channel_creds":[]}`
	if err == nil || err.Error() != want {
		t.Errorf("FromFile() error = %v, want %s", err, want)
	}
	if _, err := FromFile(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("FromFile(missing) error = %v, want os.ErrNotExist", err)
	}
}

func TestFromEnv_Precedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, uri string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(`{"xds_servers":[{"server_uri":"`+uri+`","channel_creds":[{"type":"insecure"}]}]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	inline := func(uri string) string {
		return `{"xds_servers":[{"server_uri":"` + uri + `","channel_creds":[{"type":"insecure"}]}]}`
	}
	rf, gf := write("r.json", "rocketmq-file"), write("g.json", "grpc-file")
	tests := []struct {
		name    string
		env     map[string]string
		wantURI string
		source  string
	}{
		{"rocketmq file beats all", map[string]string{EnvRocketMQFile: rf, EnvRocketMQConfig: inline("x"), EnvGRPCFile: gf, EnvGRPCConfig: inline("y")}, "rocketmq-file", `file "` + rf + `"`},
		{"rocketmq inline beats grpc", map[string]string{EnvRocketMQConfig: inline("rocketmq-inline"), EnvGRPCFile: gf}, "rocketmq-inline", "env " + EnvRocketMQConfig},
		{"grpc file beats grpc inline", map[string]string{EnvGRPCFile: gf, EnvGRPCConfig: inline("y")}, "grpc-file", `file "` + gf + `"`},
		{"grpc inline", map[string]string{EnvGRPCConfig: inline("grpc-inline")}, "grpc-inline", "env " + EnvGRPCConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := fromEnv(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatalf("fromEnv() failed: %v", err)
			}
			if cfg.XDSServers[0].ServerURI != tc.wantURI || cfg.Source != tc.source {
				t.Errorf("fromEnv() = uri %q source %q, want %q %q", cfg.XDSServers[0].ServerURI, cfg.Source, tc.wantURI, tc.source)
			}
		})
	}
	if _, err := fromEnv(func(string) string { return "" }); !errors.Is(err, ErrNoBootstrap) {
		t.Errorf("fromEnv(empty) error = %v, want ErrNoBootstrap", err)
	}
	_, err := fromEnv(func(k string) string {
		if k == EnvGRPCConfig {
			return `{"xds_servers":[]}`
		}
		return ""
	})
	if err == nil || !strings.HasPrefix(err.Error(), "bootstrap (env GRPC_XDS_BOOTSTRAP_CONFIG): ") {
		t.Errorf("fromEnv(bad inline) error = %v, want it to name the variable", err)
	}
}

func TestFromEnv_Unset(t *testing.T) {
	for _, k := range []string{EnvRocketMQFile, EnvRocketMQConfig, EnvGRPCFile, EnvGRPCConfig} {
		t.Setenv(k, "")
	}
	if _, err := FromEnv(); !errors.Is(err, ErrNoBootstrap) {
		t.Errorf("FromEnv() error = %v, want ErrNoBootstrap", err)
	}
}

// Item 12: gRPC uses the first channel_creds type it supports, and
// google_default is one of them.
func TestParse_ChannelCredsFirstSupported(t *testing.T) {
	tests := []struct{ creds, want string }{
		{`[{"type":"google_default"}]`, CredsGoogleDefault},
		{`[{"type":"google_default"},{"type":"insecure"}]`, CredsGoogleDefault},
		{`[{"type":"insecure"},{"type":"google_default"}]`, CredsInsecure},
		{`[{"type":"fancy"},{"type":"tls"},{"type":"insecure"}]`, CredsTLS},
	}
	for _, tc := range tests {
		cfg, err := Parse([]byte(`{"xds_servers":[{"server_uri":"x","channel_creds":`+tc.creds+`}]}`), "test")
		if err != nil {
			t.Errorf("Parse(channel_creds %s) failed: %v", tc.creds, err)
			continue
		}
		if got := cfg.XDSServers[0].ChannelCreds.Type; got != tc.want {
			t.Errorf("channel_creds %s: picked %q, want %q", tc.creds, got, tc.want)
		}
	}
}

// Item 13: an authority without a template gets gRPC's default, and
// refresh intervals are protobuf JSON durations.
func TestParse_AuthorityTemplateAndDurations(t *testing.T) {
	cfg, err := Parse([]byte(`{
	  "xds_servers":[{"server_uri":"x","channel_creds":[{"type":"tls","config":{"ca_certificate_file":"/ca.pem","refresh_interval":"0.250s"}}]}],
	  "certificate_providers":{"p":{"plugin_name":"file_watcher","config":{"ca_certificate_file":"c","refresh_interval":"600s"}}},
	  "authorities":{"mesh.example":{}}
	}`), "test")
	if err != nil {
		t.Fatalf("Parse() failed: %v", err)
	}
	if got, want := cfg.Authorities["mesh.example"].ClientListenerResourceNameTemplate, "xdstp://mesh.example/envoy.config.listener.v3.Listener/%s"; got != want {
		t.Errorf("default template = %q, want %q", got, want)
	}
	if got := cfg.XDSServers[0].ChannelCreds.TLS.RefreshInterval; got != 250*time.Millisecond {
		t.Errorf("tls refresh_interval = %v, want 250ms", got)
	}
	if got := cfg.CertificateProviders["p"].FileWatcher.RefreshInterval; got != 10*time.Minute {
		t.Errorf("file_watcher refresh_interval = %v, want 10m", got)
	}
}
