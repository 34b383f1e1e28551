package meshtest

import (
	"encoding/json"
	"fmt"
	"time"
)

// BootstrapOption configures [ControlPlane.Bootstrap].
type BootstrapOption func(*bootstrapSpec)

type bootstrapSpec struct {
	protocol        string
	nodeID          string
	cluster         string
	locality        map[string]string
	features        []string
	servers         []string
	resourceTimeout time.Duration
	authorities     []string
	certProviders   map[string]certProvider
}

// certProvider is one file_watcher certificate provider instance.
type certProvider struct {
	files   CertFiles
	refresh time.Duration
}

// WithBootstrapProtocol sets rmqmesh.protocol: "sotw" or "delta".
func WithBootstrapProtocol(p string) BootstrapOption {
	return func(s *bootstrapSpec) { s.protocol = p }
}

// WithBootstrapNode sets node.id and node.cluster.
func WithBootstrapNode(id, cluster string) BootstrapOption {
	return func(s *bootstrapSpec) { s.nodeID, s.cluster = id, cluster }
}

// WithBootstrapLocality sets node.locality.
func WithBootstrapLocality(region, zone, subZone string) BootstrapOption {
	return func(s *bootstrapSpec) {
		s.locality = map[string]string{"region": region, "zone": zone, "sub_zone": subZone}
	}
}

// WithBootstrapServerFeatures sets server_features of every server, e.g.
// "ignore_resource_deletion".
func WithBootstrapServerFeatures(features ...string) BootstrapOption {
	return func(s *bootstrapSpec) { s.features = features }
}

// WithBootstrapServers replaces the server list (in fallback order); use it
// to put an unreachable server before [ControlPlane.Address].
func WithBootstrapServers(uris ...string) BootstrapOption {
	return func(s *bootstrapSpec) { s.servers = uris }
}

// WithBootstrapResourceTimeout sets rmqmesh.resource_timeout.
func WithBootstrapResourceTimeout(d time.Duration) BootstrapOption {
	return func(s *bootstrapSpec) { s.resourceTimeout = d }
}

// WithBootstrapAuthorities adds authorities (served by the same servers).
func WithBootstrapAuthorities(names ...string) BootstrapOption {
	return func(s *bootstrapSpec) { s.authorities = names }
}

// WithBootstrapCertificateProvider adds a "file_watcher" certificate provider
// instance reading files, and reading them again every refresh (zero leaves
// gRPC's default of ten minutes). Clusters' TLS contexts name instances;
// Istio's proxyless agent writes one named "default" ([WriteIstioCerts]).
func WithBootstrapCertificateProvider(instance string, files CertFiles, refresh time.Duration) BootstrapOption {
	return func(s *bootstrapSpec) {
		if s.certProviders == nil {
			s.certProviders = map[string]certProvider{}
		}
		s.certProviders[instance] = certProvider{files: files, refresh: refresh}
	}
}

// Bootstrap returns gRPC-format xDS bootstrap JSON pointing at the control
// plane (insecure credentials, node id "meshtest" by default).
func (cp *ControlPlane) Bootstrap(opts ...BootstrapOption) []byte {
	s := bootstrapSpec{nodeID: "meshtest", servers: []string{cp.Addr()}}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	type server struct {
		URI      string           `json:"server_uri"`
		Creds    []map[string]any `json:"channel_creds"`
		Features []string         `json:"server_features,omitempty"`
	}
	servers := make([]server, 0, len(s.servers))
	for _, u := range s.servers {
		servers = append(servers, server{URI: u, Creds: []map[string]any{{"type": "insecure"}}, Features: append([]string{"xds_v3"}, s.features...)})
	}
	node := map[string]any{"id": s.nodeID}
	if s.cluster != "" {
		node["cluster"] = s.cluster
	}
	if s.locality != nil {
		node["locality"] = s.locality
	}
	doc := map[string]any{"xds_servers": servers, "node": node}
	mesh := map[string]any{}
	if s.protocol != "" {
		mesh["protocol"] = s.protocol
	}
	if s.resourceTimeout > 0 {
		mesh["resource_timeout"] = s.resourceTimeout.String()
	}
	if len(mesh) > 0 {
		doc["rmqmesh"] = mesh
	}
	if len(s.authorities) > 0 {
		auth := map[string]any{}
		for _, a := range s.authorities {
			auth[a] = map[string]any{}
		}
		doc["authorities"] = auth
	}
	if len(s.certProviders) > 0 {
		providers := map[string]any{}
		for name, p := range s.certProviders {
			cfg := map[string]any{}
			for k, v := range map[string]string{"certificate_file": p.files.CertificateFile, "private_key_file": p.files.PrivateKeyFile, "ca_certificate_file": p.files.CACertificateFile} {
				if v != "" {
					cfg[k] = v
				}
			}
			if p.refresh > 0 {
				cfg["refresh_interval"] = fmt.Sprintf("%.3fs", p.refresh.Seconds())
			}
			providers[name] = map[string]any{"plugin_name": "file_watcher", "config": cfg}
		}
		doc["certificate_providers"] = providers
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic("meshtest: bootstrap: " + err.Error()) // only plain maps and strings
	}
	return b
}
