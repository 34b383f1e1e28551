package grpctransport

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// Item 12: google_default channel credentials build (gRPC's Google default
// credentials). Application default credentials come from a file made
// here, so nothing probes a metadata server.
func TestBuild_GoogleDefault(t *testing.T) {
	adc := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(adc, []byte(`{"type":"authorized_user","client_id":"id","client_secret":"secret","refresh_token":"token"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", adc)
	cfg, err := bootstrap.Parse([]byte(`{"xds_servers":[{"server_uri":"127.0.0.1:1","channel_creds":[{"type":"google_default"},{"type":"insecure"}]}]}`), "test")
	if err != nil {
		t.Fatal(err)
	}
	tr, err := (&Builder{}).Build(cfg.XDSServers[0])
	if err != nil {
		t.Fatalf("Build(google_default) failed: %v", err)
	}
	tr.Close()
}

func TestBuild_Errors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ca.pem")
	tests := []struct {
		server *bootstrap.ServerConfig
		want   string
	}{
		{&bootstrap.ServerConfig{ServerURI: "a:1", ChannelCreds: bootstrap.ChannelCreds{Type: "fancy"}}, `server "a:1": unsupported channel credentials "fancy"`},
		// Issue 16 item 2: plaintext only when asked for by name.
		{&bootstrap.ServerConfig{ServerURI: "c:1"}, `server "c:1": no channel credentials`},
		{&bootstrap.ServerConfig{ServerURI: "b:1", ChannelCreds: bootstrap.ChannelCreds{Type: bootstrap.CredsTLS, TLS: &bootstrap.TLSConfig{CACertificateFile: missing}}}, `server "b:1": certprovider: open ` + missing},
	}
	for _, tc := range tests {
		_, err := (&Builder{}).Build(tc.server)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%+v) error = %v, want it to contain %q", tc.server, err, tc.want)
		}
	}
}
