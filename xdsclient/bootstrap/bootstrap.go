// Package bootstrap reads the xDS bootstrap configuration that tells rmqmesh
// which xDS management servers to talk to and how to identify itself.
//
// The format is gRPC's xDS bootstrap format (gRFC A27 and its successors), so
// the file Istio or any other mesh injects for proxyless gRPC works unchanged:
//
//	cfg, err := bootstrap.FromEnv()
//	if errors.Is(err, bootstrap.ErrNoBootstrap) {
//		// no xDS configured: fall back to a static setup
//	}
//
// [FromEnv] looks at, in order, ROCKETMQ_XDS_BOOTSTRAP (a file path),
// ROCKETMQ_XDS_BOOTSTRAP_CONFIG (inline JSON), GRPC_XDS_BOOTSTRAP and
// GRPC_XDS_BOOTSTRAP_CONFIG; a file wins over inline JSON as in gRPC.
//
// Library settings live under the namespaced top-level key "rmqmesh", which
// gRPC ignores:
//
//	"rmqmesh": {"protocol": "delta", "resource_timeout": "15s"}
//
// Other unknown top-level keys are ignored, as gRPC does. Every error names its
// source (file or environment variable), the field and the problem, and quotes
// the offending JSON.
//
// The package does not load certificates or watch files: it only parses and
// validates the configuration.
package bootstrap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh"
)

// Environment variables read by [FromEnv], in order of precedence.
const (
	EnvRocketMQFile   = "ROCKETMQ_XDS_BOOTSTRAP"
	EnvRocketMQConfig = "ROCKETMQ_XDS_BOOTSTRAP_CONFIG"
	EnvGRPCFile       = "GRPC_XDS_BOOTSTRAP"
	EnvGRPCConfig     = "GRPC_XDS_BOOTSTRAP_CONFIG"
)

// ErrNoBootstrap is returned by [FromEnv] when none of the bootstrap
// environment variables is set, so callers can fall back to a default.
var ErrNoBootstrap = errors.New("bootstrap: no xDS bootstrap configured (set " + EnvRocketMQFile + " or " + EnvGRPCFile + ")")

// Server features understood by rmqmesh.
const (
	// FeatureIgnoreResourceDeletion makes the client keep serving a Listener
	// or Cluster that disappears from a state-of-the-world response (and any
	// resource removed in a delta response) instead of dropping it.
	FeatureIgnoreResourceDeletion = "ignore_resource_deletion"
	// FeatureXDSV3 is accepted for compatibility; rmqmesh only speaks xDS v3.
	FeatureXDSV3 = "xds_v3"
)

// Channel credential types understood by rmqmesh.
const (
	CredsInsecure = "insecure"
	CredsTLS      = "tls"
	// CredsGoogleDefault is gRPC's google_default: ALTS on Google Cloud
	// where available, TLS otherwise, with application default
	// credentials. Traffic Director bootstraps use it.
	CredsGoogleDefault = "google_default"
)

// Protocol selects the ADS variant.
type Protocol string

// ADS variants.
const (
	// ProtocolSotW is the state-of-the-world protocol (the default).
	ProtocolSotW Protocol = "sotw"
	// ProtocolDelta is the incremental protocol.
	ProtocolDelta Protocol = "delta"
)

// DefaultRefreshInterval is how often certificate files are read again
// when the bootstrap does not say (gRPC's file_watcher default).
const DefaultRefreshInterval = 10 * time.Minute

// DefaultResourceTimeout is the does-not-exist timeout used when the
// bootstrap does not set rmqmesh.resource_timeout.
const DefaultResourceTimeout = 15 * time.Second

// UserAgentName is the user_agent_name sent in the node.
const UserAgentName = "rmqmesh"

// Client features advertised in the node.
var clientFeatures = []string{"envoy.lb.does_not_support_overprovisioning"}

// Config is a parsed bootstrap configuration. It is immutable after parsing.
type Config struct {
	// Source describes where the configuration came from, e.g.
	// `file "/etc/xds.json"` or `env GRPC_XDS_BOOTSTRAP_CONFIG`.
	Source string
	// XDSServers are the management servers in priority order; the client
	// falls back to the next one when the previous is unreachable.
	XDSServers []*ServerConfig
	// NodeConfig identifies this client to the servers; see [Config.Node].
	NodeConfig NodeConfig
	// CertificateProviders maps instance names to provider configurations.
	CertificateProviders map[string]*CertProviderConfig
	// Authorities maps authority names (as used in xdstp:// names) to their
	// configuration.
	Authorities map[string]*Authority
	// ClientDefaultListenerResourceNameTemplate is the template for listener
	// names without an authority, "%s" by default.
	ClientDefaultListenerResourceNameTemplate string
	// Mesh holds the rmqmesh library settings (top-level key "rmqmesh").
	Mesh MeshSettings
}

// ServerConfig is one entry of xds_servers.
type ServerConfig struct {
	// ServerURI is the gRPC target of the server.
	ServerURI string
	// ChannelCreds is the first supported entry of channel_creds, as gRPC
	// picks it.
	ChannelCreds ChannelCreds
	// ServerFeatures lists the server_features as given.
	ServerFeatures []string
	// IgnoreResourceDeletion is true when server_features contains
	// "ignore_resource_deletion".
	IgnoreResourceDeletion bool
}

// ChannelCreds is the selected channel credentials of a server.
type ChannelCreds struct {
	// Type is CredsInsecure, CredsTLS or CredsGoogleDefault.
	Type string
	// Config is the raw JSON config object, or nil.
	Config json.RawMessage
	// TLS is the parsed config when Type is CredsTLS.
	TLS *TLSConfig
}

// TLSConfig is the config of "tls" channel credentials. Empty fields mean
// the system defaults (system roots, no client certificate).
type TLSConfig struct {
	CACertificateFile string
	CertificateFile   string
	PrivateKeyFile    string
	// RefreshInterval is how often the files are read again (gRFC A65),
	// 10 minutes by default.
	RefreshInterval time.Duration
}

// NodeConfig is the bootstrap "node" object.
type NodeConfig struct {
	ID       string
	Cluster  string
	Locality Locality
	// Metadata is the node metadata, or nil.
	Metadata *structpb.Struct
}

// Locality is the node's locality.
type Locality struct {
	Region, Zone, SubZone string
}

// CertProviderConfig is one entry of certificate_providers.
type CertProviderConfig struct {
	// PluginName is the provider plugin, e.g. "file_watcher".
	PluginName string
	// Config is the raw JSON config object.
	Config json.RawMessage
	// FileWatcher is the parsed config when PluginName is "file_watcher".
	FileWatcher *FileWatcherConfig
}

// FileWatcherConfig is the config of the "file_watcher" certificate provider.
type FileWatcherConfig struct {
	CertificateFile   string
	PrivateKeyFile    string
	CACertificateFile string
	// RefreshInterval is how often the files are read again,
	// DefaultRefreshInterval when not set.
	RefreshInterval time.Duration
}

// Authority is one entry of authorities.
type Authority struct {
	// ClientListenerResourceNameTemplate is the template for listener names
	// in this authority; without one in the bootstrap it is gRFC A47's
	// "xdstp://<authority>/envoy.config.listener.v3.Listener/%s".
	ClientListenerResourceNameTemplate string
	// XDSServers overrides the top-level servers for this authority when
	// not empty.
	XDSServers []*ServerConfig
}

// MeshSettings are the rmqmesh library settings.
type MeshSettings struct {
	// Protocol is the ADS variant, ProtocolSotW by default.
	Protocol Protocol
	// ResourceTimeout is the does-not-exist timeout, DefaultResourceTimeout
	// by default.
	ResourceTimeout time.Duration
}

// Node returns the node sent to management servers: the bootstrap node with
// user_agent_name "rmqmesh", user_agent_version [rmqmesh.Version] and the
// client features rmqmesh supports.
func (c *Config) Node() *corev3.Node {
	n := &corev3.Node{
		Id:                   c.NodeConfig.ID,
		Cluster:              c.NodeConfig.Cluster,
		UserAgentName:        UserAgentName,
		UserAgentVersionType: &corev3.Node_UserAgentVersion{UserAgentVersion: rmqmesh.Version},
		ClientFeatures:       slices.Clone(clientFeatures),
	}
	if l := c.NodeConfig.Locality; l != (Locality{}) {
		n.Locality = &corev3.Locality{Region: l.Region, Zone: l.Zone, SubZone: l.SubZone}
	}
	if c.NodeConfig.Metadata != nil {
		n.Metadata = c.NodeConfig.Metadata
	}
	return n
}

// FromEnv reads the bootstrap named by the environment (see the package
// documentation). It returns ErrNoBootstrap when no variable is set.
func FromEnv() (*Config, error) {
	return fromEnv(os.Getenv)
}

func fromEnv(getenv func(string) string) (*Config, error) {
	if p := getenv(EnvRocketMQFile); p != "" {
		return FromFile(p)
	}
	if s := getenv(EnvRocketMQConfig); s != "" {
		return Parse([]byte(s), "env "+EnvRocketMQConfig)
	}
	if p := getenv(EnvGRPCFile); p != "" {
		return FromFile(p)
	}
	if s := getenv(EnvGRPCConfig); s != "" {
		return Parse([]byte(s), "env "+EnvGRPCConfig)
	}
	return nil, ErrNoBootstrap
}

// FromFile reads and parses the bootstrap file at path.
func FromFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bootstrap (file %q): %w", path, err)
	}
	return Parse(data, fmt.Sprintf("file %q", path))
}

// Parse parses bootstrap JSON. source describes where data came from (for
// example `file "/etc/xds.json"`) and prefixes every error.
func Parse(data []byte, source string) (*Config, error) {
	p := &parser{source: source}
	cfg, err := p.parse(data)
	if err != nil {
		return nil, err
	}
	cfg.Source = source
	return cfg, nil
}

type parser struct {
	source string
}

// errorf builds `bootstrap (SOURCE): "FIELD" in WHERE PROBLEM: JSON`.
func (p *parser) errorf(field, where string, raw json.RawMessage, format string, args ...any) error {
	loc := fmt.Sprintf("%q", field)
	if where != "" {
		loc += " in " + where
	}
	msg := fmt.Sprintf(format, args...)
	if len(raw) > 0 {
		return fmt.Errorf("bootstrap (%s): %s %s: %s", p.source, loc, msg, quoteJSON(raw))
	}
	return fmt.Errorf("bootstrap (%s): %s %s", p.source, loc, msg)
}

// quoteJSON compacts raw and truncates it for error messages.
func quoteJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		b.Reset()
		b.Write(raw)
	}
	const max = 256
	s := b.String()
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// object decodes raw as a JSON object.
func (p *parser) object(field, where string, raw, parent json.RawMessage) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, p.errorf(field, where, parent, "must be a JSON object")
	}
	return m, nil
}

func (p *parser) str(obj map[string]json.RawMessage, field, where string, parent json.RawMessage) (string, error) {
	raw, ok := obj[field]
	if !ok || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", p.errorf(field, where, parent, "must be a string")
	}
	return s, nil
}

func (p *parser) parse(data []byte) (*Config, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("bootstrap (%s): invalid JSON: %w", p.source, err)
	}
	if top == nil {
		return nil, fmt.Errorf("bootstrap (%s): must be a JSON object: %s", p.source, quoteJSON(data))
	}
	cfg := &Config{
		ClientDefaultListenerResourceNameTemplate: "%s",
		Mesh: MeshSettings{Protocol: ProtocolSotW, ResourceTimeout: DefaultResourceTimeout},
	}
	raw, ok := top["xds_servers"]
	if !ok {
		return nil, fmt.Errorf("bootstrap (%s): %q is required", p.source, "xds_servers")
	}
	servers, err := p.servers(raw, "")
	if err != nil {
		return nil, err
	}
	if len(servers) == 0 {
		return nil, p.errorf("xds_servers", "", raw, "cannot be empty")
	}
	cfg.XDSServers = servers

	if raw, ok := top["node"]; ok && string(raw) != "null" {
		if cfg.NodeConfig, err = p.node(raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := top["certificate_providers"]; ok && string(raw) != "null" {
		if cfg.CertificateProviders, err = p.certProviders(raw); err != nil {
			return nil, err
		}
	}
	if cfg.ClientDefaultListenerResourceNameTemplate, err = p.str(top, "client_default_listener_resource_name_template", "", nil); err != nil {
		return nil, err
	}
	if cfg.ClientDefaultListenerResourceNameTemplate == "" {
		cfg.ClientDefaultListenerResourceNameTemplate = "%s"
	}
	if raw, ok := top["authorities"]; ok && string(raw) != "null" {
		if cfg.Authorities, err = p.authorities(raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := top["rmqmesh"]; ok && string(raw) != "null" {
		if cfg.Mesh, err = p.mesh(raw); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// servers parses an xds_servers array; prefix is the location of the array
// (e.g. `authorities["a"].`) for error messages.
func (p *parser) servers(raw json.RawMessage, prefix string) ([]*ServerConfig, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, p.errorf("xds_servers", strings.TrimSuffix(prefix, "."), raw, "must be a JSON array")
	}
	out := make([]*ServerConfig, 0, len(list))
	for i, sraw := range list {
		where := fmt.Sprintf("%sxds_servers[%d]", prefix, i)
		obj, err := p.object(where, "", sraw, sraw)
		if err != nil {
			return nil, err
		}
		sc := &ServerConfig{}
		if sc.ServerURI, err = p.str(obj, "server_uri", where, sraw); err != nil {
			return nil, err
		}
		if sc.ServerURI == "" {
			return nil, p.errorf("server_uri", where, sraw, "cannot be empty")
		}
		craw, ok := obj["channel_creds"]
		if !ok {
			return nil, p.errorf("channel_creds", where, sraw, "is required")
		}
		if sc.ChannelCreds, err = p.creds(craw, where, sraw); err != nil {
			return nil, err
		}
		if fraw, ok := obj["server_features"]; ok && string(fraw) != "null" {
			if err := json.Unmarshal(fraw, &sc.ServerFeatures); err != nil {
				return nil, p.errorf("server_features", where, sraw, "must be an array of strings")
			}
			sc.IgnoreResourceDeletion = slices.Contains(sc.ServerFeatures, FeatureIgnoreResourceDeletion)
		}
		out = append(out, sc)
	}
	return out, nil
}

func (p *parser) creds(raw json.RawMessage, where string, parent json.RawMessage) (ChannelCreds, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return ChannelCreds{}, p.errorf("channel_creds", where, parent, "must be a JSON array")
	}
	if len(list) == 0 {
		return ChannelCreds{}, p.errorf("channel_creds", where, parent, "cannot be empty")
	}
	var types []string
	for i, craw := range list {
		cwhere := fmt.Sprintf("%s.channel_creds[%d]", where, i)
		obj, err := p.object(cwhere, "", craw, craw)
		if err != nil {
			return ChannelCreds{}, err
		}
		typ, err := p.str(obj, "type", cwhere, craw)
		if err != nil {
			return ChannelCreds{}, err
		}
		if typ == "" {
			return ChannelCreds{}, p.errorf("type", cwhere, craw, "cannot be empty")
		}
		types = append(types, typ)
		cc := ChannelCreds{Type: typ}
		if c, ok := obj["config"]; ok && string(c) != "null" {
			if _, err := p.object("config", cwhere, c, craw); err != nil {
				return ChannelCreds{}, err
			}
			cc.Config = c
		}
		// gRPC uses the first type it supports and ignores the others.
		switch typ {
		case CredsInsecure, CredsGoogleDefault:
			return cc, nil
		case CredsTLS:
			t := &TLSConfig{RefreshInterval: DefaultRefreshInterval}
			if cc.Config != nil {
				cobj, _ := p.object("config", cwhere, cc.Config, craw)
				cfgWhere := cwhere + ".config"
				if t.CACertificateFile, err = p.str(cobj, "ca_certificate_file", cfgWhere, craw); err != nil {
					return ChannelCreds{}, err
				}
				if t.CertificateFile, err = p.str(cobj, "certificate_file", cfgWhere, craw); err != nil {
					return ChannelCreds{}, err
				}
				if t.PrivateKeyFile, err = p.str(cobj, "private_key_file", cfgWhere, craw); err != nil {
					return ChannelCreds{}, err
				}
				if (t.CertificateFile == "") != (t.PrivateKeyFile == "") {
					return ChannelCreds{}, p.errorf("certificate_file", cfgWhere, craw, "and \"private_key_file\" must be set together")
				}
				if t.RefreshInterval, err = p.refreshInterval(cobj, cfgWhere, craw); err != nil {
					return ChannelCreds{}, err
				}
			}
			cc.TLS = t
			return cc, nil
		}
	}
	return ChannelCreds{}, p.errorf("channel_creds", where, parent, "has no supported type (want %q, %q or %q, got %q)", CredsGoogleDefault, CredsInsecure, CredsTLS, types)
}

func (p *parser) node(raw json.RawMessage) (NodeConfig, error) {
	obj, err := p.object("node", "", raw, raw)
	if err != nil {
		return NodeConfig{}, err
	}
	var n NodeConfig
	if n.ID, err = p.str(obj, "id", "node", raw); err != nil {
		return NodeConfig{}, err
	}
	if n.Cluster, err = p.str(obj, "cluster", "node", raw); err != nil {
		return NodeConfig{}, err
	}
	if lraw, ok := obj["locality"]; ok && string(lraw) != "null" {
		lobj, err := p.object("locality", "node", lraw, raw)
		if err != nil {
			return NodeConfig{}, err
		}
		if n.Locality.Region, err = p.str(lobj, "region", "node.locality", lraw); err != nil {
			return NodeConfig{}, err
		}
		if n.Locality.Zone, err = p.str(lobj, "zone", "node.locality", lraw); err != nil {
			return NodeConfig{}, err
		}
		if n.Locality.SubZone, err = p.str(lobj, "sub_zone", "node.locality", lraw); err != nil {
			return NodeConfig{}, err
		}
	}
	if mraw, ok := obj["metadata"]; ok && string(mraw) != "null" {
		var m map[string]any
		if err := json.Unmarshal(mraw, &m); err != nil || m == nil {
			return NodeConfig{}, p.errorf("metadata", "node", raw, "must be a JSON object")
		}
		s, err := structpb.NewStruct(m)
		if err != nil {
			return NodeConfig{}, p.errorf("metadata", "node", raw, "cannot be converted: %v", err)
		}
		n.Metadata = s
	}
	return n, nil
}

func (p *parser) certProviders(raw json.RawMessage) (map[string]*CertProviderConfig, error) {
	obj, err := p.object("certificate_providers", "", raw, raw)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*CertProviderConfig, len(obj))
	for name, praw := range obj {
		where := fmt.Sprintf("certificate_providers[%q]", name)
		pobj, err := p.object(where, "", praw, praw)
		if err != nil {
			return nil, err
		}
		cp := &CertProviderConfig{}
		if cp.PluginName, err = p.str(pobj, "plugin_name", where, praw); err != nil {
			return nil, err
		}
		if cp.PluginName == "" {
			return nil, p.errorf("plugin_name", where, praw, "cannot be empty")
		}
		if c, ok := pobj["config"]; ok && string(c) != "null" {
			if _, err := p.object("config", where, c, praw); err != nil {
				return nil, err
			}
			cp.Config = c
		}
		if cp.PluginName == "file_watcher" {
			if cp.FileWatcher, err = p.fileWatcher(cp.Config, where+".config", praw); err != nil {
				return nil, err
			}
		}
		out[name] = cp
	}
	return out, nil
}

func (p *parser) fileWatcher(raw json.RawMessage, where string, parent json.RawMessage) (*FileWatcherConfig, error) {
	fw := &FileWatcherConfig{RefreshInterval: DefaultRefreshInterval}
	if raw == nil {
		return nil, p.errorf("config", strings.TrimSuffix(where, ".config"), parent, "is required for plugin \"file_watcher\"")
	}
	obj, _ := p.object("config", where, raw, parent)
	var err error
	if fw.CertificateFile, err = p.str(obj, "certificate_file", where, parent); err != nil {
		return nil, err
	}
	if fw.PrivateKeyFile, err = p.str(obj, "private_key_file", where, parent); err != nil {
		return nil, err
	}
	if fw.CACertificateFile, err = p.str(obj, "ca_certificate_file", where, parent); err != nil {
		return nil, err
	}
	if (fw.CertificateFile == "") != (fw.PrivateKeyFile == "") {
		return nil, p.errorf("certificate_file", where, parent, "and \"private_key_file\" must be set together")
	}
	if fw.CertificateFile == "" && fw.CACertificateFile == "" {
		return nil, p.errorf("config", strings.TrimSuffix(where, ".config"), parent, "must set \"certificate_file\" or \"ca_certificate_file\"")
	}
	if fw.RefreshInterval, err = p.refreshInterval(obj, where, parent); err != nil {
		return nil, err
	}
	return fw, nil
}

// refreshInterval parses the optional "refresh_interval" of obj: a
// protobuf JSON duration ("600s", "0.5s") as gRPC requires, positive,
// DefaultRefreshInterval when absent.
func (p *parser) refreshInterval(obj map[string]json.RawMessage, where string, parent json.RawMessage) (time.Duration, error) {
	raw, ok := obj["refresh_interval"]
	if !ok || string(raw) == "null" {
		return DefaultRefreshInterval, nil
	}
	var d durationpb.Duration
	if err := protojson.Unmarshal(raw, &d); err != nil || d.CheckValid() != nil || d.AsDuration() <= 0 {
		return 0, p.errorf("refresh_interval", where, parent, "must be a positive protobuf JSON duration such as \"600s\"")
	}
	return d.AsDuration(), nil
}

func (p *parser) authorities(raw json.RawMessage) (map[string]*Authority, error) {
	obj, err := p.object("authorities", "", raw, raw)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Authority, len(obj))
	for name, araw := range obj {
		where := fmt.Sprintf("authorities[%q]", name)
		aobj, err := p.object(where, "", araw, araw)
		if err != nil {
			return nil, err
		}
		a := &Authority{}
		if a.ClientListenerResourceNameTemplate, err = p.str(aobj, "client_listener_resource_name_template", where, araw); err != nil {
			return nil, err
		}
		if t := a.ClientListenerResourceNameTemplate; t != "" && !strings.HasPrefix(t, "xdstp://"+name+"/") {
			return nil, p.errorf("client_listener_resource_name_template", where, araw, "must start with %q", "xdstp://"+name+"/")
		}
		if a.ClientListenerResourceNameTemplate == "" {
			// gRFC A47's default for an authority without a template.
			a.ClientListenerResourceNameTemplate = "xdstp://" + name + "/envoy.config.listener.v3.Listener/%s"
		}
		if sraw, ok := aobj["xds_servers"]; ok && string(sraw) != "null" {
			if a.XDSServers, err = p.servers(sraw, where+"."); err != nil {
				return nil, err
			}
		}
		out[name] = a
	}
	return out, nil
}

func (p *parser) mesh(raw json.RawMessage) (MeshSettings, error) {
	m := MeshSettings{Protocol: ProtocolSotW, ResourceTimeout: DefaultResourceTimeout}
	obj, err := p.object("rmqmesh", "", raw, raw)
	if err != nil {
		return m, err
	}
	for k := range obj {
		if k != "protocol" && k != "resource_timeout" {
			return m, p.errorf(k, "rmqmesh", raw, "is not a known setting (want \"protocol\" or \"resource_timeout\")")
		}
	}
	proto, err := p.str(obj, "protocol", "rmqmesh", raw)
	if err != nil {
		return m, err
	}
	switch Protocol(proto) {
	case "":
	case ProtocolSotW, ProtocolDelta:
		m.Protocol = Protocol(proto)
	default:
		return m, p.errorf("protocol", "rmqmesh", raw, "must be %q or %q", ProtocolSotW, ProtocolDelta)
	}
	to, err := p.str(obj, "resource_timeout", "rmqmesh", raw)
	if err != nil {
		return m, err
	}
	if to != "" {
		d, err := time.ParseDuration(to)
		if err != nil || d <= 0 {
			return m, p.errorf("resource_timeout", "rmqmesh", raw, "must be a positive duration such as \"15s\"")
		}
		m.ResourceTimeout = d
	}
	return m, nil
}
