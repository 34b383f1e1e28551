package xdsclient

//lint:file-ignore SA1019 the tests send the deprecated fields Istio and older control planes send.

import (
	"regexp"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/internal/testutil"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// istioContext is the UpstreamTlsContext Istio's control plane sends
// proxyless gRPC clients for ISTIO_MUTUAL: current and deprecated provider
// fields side by side, instance "default".
func istioContext(sans ...string) *tlsv3.UpstreamTlsContext {
	var m []*matcherv3.StringMatcher
	for _, s := range sans {
		m = append(m, &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}})
	}
	return &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsCertificateCertificateProviderInstance: &tlsv3.CommonTlsContext_CertificateProviderInstance{InstanceName: "default", CertificateName: "default"},
		TlsCertificateProviderInstance:            &tlsv3.CertificateProviderPluginInstance{InstanceName: "default", CertificateName: "default"},
		ValidationContextType: &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{
			ValidationContextCertificateProviderInstance: &tlsv3.CommonTlsContext_CertificateProviderInstance{InstanceName: "default", CertificateName: "ROOTCA"},
			DefaultValidationContext: &tlsv3.CertificateValidationContext{
				CaCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: "default", CertificateName: "ROOTCA"},
				MatchSubjectAltNames:          m,
			},
		}},
	}}
}

func clusterWithTLS(t *testing.T, ctx *tlsv3.UpstreamTlsContext) *clusterv3.Cluster {
	return clusterWith(func(c *clusterv3.Cluster) {
		c.TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: testutil.MustAny(t, ctx)}}
	})
}

func exactSAN(s string) *matcherv3.StringMatcher {
	return &matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Exact{Exact: s}}
}

// Issue 16 item 1: a cluster's UpstreamTlsContext is read as gRPC reads it,
// from the shape Istio sends and from the current fields alone.
func TestDecode_ClusterTLS(t *testing.T) {
	current := &tlsv3.UpstreamTlsContext{Sni: "broker.rmq", CommonTlsContext: &tlsv3.CommonTlsContext{
		TlsParams:                      &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_3},
		AlpnProtocols:                  []string{"rocketmq"},
		TlsCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: "id", CertificateName: "c"},
		ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			CaCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: "roots"},
			MatchSubjectAltNames:          []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: ".rmq"}, IgnoreCase: true}},
			MatchTypedSubjectAltNames: []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_URI, Matcher: &matcherv3.StringMatcher{
				MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: `spiffe://cluster\.local/ns/rmq/sa/.*`}}}}},
		}},
	}}
	tests := []struct {
		name string
		ctx  *tlsv3.UpstreamTlsContext
		want *SecurityConfig
	}{
		{"Istio ISTIO_MUTUAL", istioContext("spiffe://cluster.local/ns/rmq/sa/broker"), &SecurityConfig{
			RootInstance: "default", RootCertName: "ROOTCA", IdentityInstance: "default", IdentityCertName: "default",
			SANMatchers: []SANMatcher{{Exact: "spiffe://cluster.local/ns/rmq/sa/broker"}},
		}},
		{"current fields", current, &SecurityConfig{
			RootInstance: "roots", IdentityInstance: "id", IdentityCertName: "c", SNI: "broker.rmq", MinVersion: tlsVersion13, ALPN: []string{"rocketmq"},
			SANMatchers: []SANMatcher{{Suffix: ".rmq", IgnoreCase: true}, {Type: SANURI, Regex: regexp.MustCompile(`^(?:spiffe://cluster\.local/ns/rmq/sa/.*)$`)}},
		}},
		{"deprecated root only, no client certificate", &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContextCertificateProviderInstance{
				ValidationContextCertificateProviderInstance: &tlsv3.CommonTlsContext_CertificateProviderInstance{InstanceName: "roots"}},
		}}, &SecurityConfig{RootInstance: "roots"}},
		{"system roots", &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
				SystemRootCerts: &tlsv3.CertificateValidationContext_SystemRootCerts{}}},
		}}, &SecurityConfig{SystemRoots: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, u, _, err := clusterType.decode(testutil.MustAny(t, clusterWithTLS(t, tc.ctx)))
			if err != nil {
				t.Fatalf("decode() = %v, want the cluster accepted", err)
			}
			got := u.(*ClusterUpdate).Security
			if !got.Equal(tc.want) {
				t.Errorf("Security = %+v, want %+v", got, tc.want)
			}
			if u.(*ClusterUpdate).UpstreamTLS == nil {
				t.Error("UpstreamTLS is nil")
			}
		})
	}
}

// Issue 16 item 1: what gRPC rejects, and what would weaken verification if
// it were ignored, is NACKed with a detail naming the field.
func TestDecode_ClusterTLSRejects(t *testing.T) {
	withValidation := func(mut func(*tlsv3.CertificateValidationContext)) *tlsv3.UpstreamTlsContext {
		ctx := istioContext()
		mut(ctx.CommonTlsContext.GetCombinedValidationContext().DefaultValidationContext)
		return ctx
	}
	withCommon := func(mut func(*tlsv3.CommonTlsContext)) *tlsv3.UpstreamTlsContext {
		ctx := istioContext()
		mut(ctx.CommonTlsContext)
		return ctx
	}
	tests := []decodeErrorCase{
		{"no root", clusterType, clusterWithTLS(t, &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificateProviderInstance: &tlsv3.CertificateProviderPluginInstance{InstanceName: "id"},
		}}), "no root certificate provider instance and no system_root_certs"},
		{"inline certificates", clusterType, clusterWithTLS(t, &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			TlsCertificates: []*tlsv3.TlsCertificate{{CertificateChain: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: "/c.pem"}}}},
		}}), "tls_certificates is not supported"},
		{"trusted_ca only", clusterType, clusterWithTLS(t, &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
				TrustedCa: &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: "/ca.pem"}}}},
		}}), "trusted_ca is not supported"},
		{"SDS validation", clusterType, clusterWithTLS(t, &tlsv3.UpstreamTlsContext{CommonTlsContext: &tlsv3.CommonTlsContext{
			ValidationContextType: &tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig{ValidationContextSdsSecretConfig: &tlsv3.SdsSecretConfig{Name: "x"}},
		}}), "validation context *tlsv3.CommonTlsContext_ValidationContextSdsSecretConfig is not supported"},
		{"allow expired", clusterType, clusterWithTLS(t, withValidation(func(v *tlsv3.CertificateValidationContext) { v.AllowExpiredCertificate = true })), "allow_expired_certificate is not supported"},
		{"accept untrusted", clusterType, clusterWithTLS(t, withValidation(func(v *tlsv3.CertificateValidationContext) {
			v.TrustChainVerification = tlsv3.CertificateValidationContext_ACCEPT_UNTRUSTED
		})), "trust_chain_verification ACCEPT_UNTRUSTED is not supported"},
		{"SPKI pins", clusterType, clusterWithTLS(t, withValidation(func(v *tlsv3.CertificateValidationContext) {
			v.VerifyCertificateSpki = []string{"NvqYIYSbgK2vCJpQhObf77vv+bQWtc5ek5RIOwPiC9A="}
		})), "verify_certificate_spki is not supported"},
		{"CRL", clusterType, clusterWithTLS(t, withValidation(func(v *tlsv3.CertificateValidationContext) {
			v.Crl = &corev3.DataSource{Specifier: &corev3.DataSource_Filename{Filename: "/crl.pem"}}
		})), "crl is not supported"},
		{"bad SAN regex", clusterType, clusterWithTLS(t, withValidation(func(v *tlsv3.CertificateValidationContext) {
			v.MatchSubjectAltNames = []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: "a("}}}}
		})), `match_subject_alt_names[0]: invalid safe_regex "a("`},
		{"empty SAN prefix", clusterType, clusterWithTLS(t, withValidation(func(v *tlsv3.CertificateValidationContext) {
			v.MatchSubjectAltNames = []*matcherv3.StringMatcher{{MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: ""}}}
		})), "it would match every SAN"},
		{"other-name SAN", clusterType, clusterWithTLS(t, withValidation(func(v *tlsv3.CertificateValidationContext) {
			v.MatchTypedSubjectAltNames = []*tlsv3.SubjectAltNameMatcher{{SanType: tlsv3.SubjectAltNameMatcher_OTHER_NAME, Matcher: exactSAN("x"), Oid: "1.2.3"}}
		})), "san_type OTHER_NAME is not supported"},
		{"TLS 1.0", clusterType, clusterWithTLS(t, withCommon(func(c *tlsv3.CommonTlsContext) {
			c.TlsParams = &tlsv3.TlsParameters{TlsMinimumProtocolVersion: tlsv3.TlsParameters_TLSv1_0}
		})), "tls_minimum_protocol_version TLSv1_0 is not supported"},
		{"cipher suites", clusterType, clusterWithTLS(t, withCommon(func(c *tlsv3.CommonTlsContext) {
			c.TlsParams = &tlsv3.TlsParameters{CipherSuites: []string{"ECDHE-RSA-AES128-GCM-SHA256"}}
		})), "only tls_minimum_protocol_version and tls_maximum_protocol_version are supported"},
		{"key log", clusterType, clusterWithTLS(t, withCommon(func(c *tlsv3.CommonTlsContext) { c.KeyLog = &tlsv3.TlsKeyLog{Path: "/tmp/keys"} })), "key_log is not supported"},
		{"custom handshaker", clusterType, clusterWithTLS(t, withCommon(func(c *tlsv3.CommonTlsContext) {
			c.CustomHandshaker = &corev3.TypedExtensionConfig{Name: "h", TypedConfig: testutil.MustAny(t, &tlsv3.TlsKeyLog{})}
		})), "custom_handshaker is not supported"},
		{"auto SNI", clusterType, clusterWithTLS(t, func() *tlsv3.UpstreamTlsContext { c := istioContext(); c.AutoHostSni = true; return c }()), "auto_host_sni and auto_sni_san_validation are not supported"},
		{"socket matches", clusterType, clusterWith(func(c *clusterv3.Cluster) {
			c.TransportSocketMatches = []*clusterv3.Cluster_TransportSocketMatch{{Name: "m", TransportSocket: &corev3.TransportSocket{Name: "envoy.transport_sockets.tls"}}}
		}), "transport_socket_matches is not supported"},
		{"direct data path", clusterType, func() *clusterv3.Cluster {
			c := clusterWithTLS(t, istioContext())
			md, _ := structpb.NewStruct(map[string]any{wellknown.DataPathKey: wellknown.DataPathDirect})
			c.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: md}}
			return c
		}(), `only the "intercept" data path can speak TLS to brokers`},
		{"SCT required", clusterType, clusterWithTLS(t, withValidation(func(v *tlsv3.CertificateValidationContext) {
			v.RequireSignedCertificateTimestamp = wrapperspb.Bool(true)
		})), "require_signed_certificate_timestamp is not supported"},
	}
	checkDecodeErrors(t, tests)
}

// Issue 16 item 1: a TLS context naming a certificate provider instance the
// bootstrap lacks, or one without the file it needs, is NACKed by the
// client that has the bootstrap.
func TestCheckCertProviders(t *testing.T) {
	providers := map[string]*bootstrap.CertProviderConfig{
		"default":   {PluginName: "file_watcher", FileWatcher: &bootstrap.FileWatcherConfig{CertificateFile: "c", PrivateKeyFile: "k", CACertificateFile: "ca"}},
		"rootsonly": {PluginName: "file_watcher", FileWatcher: &bootstrap.FileWatcherConfig{CACertificateFile: "ca"}},
		"other":     {PluginName: "meshca"},
	}
	tests := []struct {
		sec  *SecurityConfig
		want string
	}{
		{&SecurityConfig{RootInstance: "default", IdentityInstance: "default"}, ""},
		{&SecurityConfig{RootInstance: "rootsonly"}, ""},
		{&SecurityConfig{SystemRoots: true}, ""},
		{nil, ""},
		{&SecurityConfig{RootInstance: "missing"}, `root certificate provider instance "missing" is not in the bootstrap's certificate_providers (have ["default" "other" "rootsonly"])`},
		{&SecurityConfig{RootInstance: "default", IdentityInstance: "rootsonly"}, `identity certificate provider instance "rootsonly" has no certificate_file`},
		{&SecurityConfig{RootInstance: "other"}, `has plugin "meshca"; only "file_watcher" is supported`},
	}
	for _, tc := range tests {
		err := checkCertProviders(tc.sec, providers)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkCertProviders(%+v) = %v, want %q", tc.sec, err, tc.want)
		}
	}
}

func TestSANMatcher_Match(t *testing.T) {
	tests := []struct {
		m    SANMatcher
		typ  SANType
		san  string
		want bool
	}{
		{SANMatcher{Exact: "spiffe://td/ns/a/sa/b"}, SANURI, "spiffe://td/ns/a/sa/b", true},
		{SANMatcher{Exact: "spiffe://td/ns/a/sa/b"}, SANURI, "spiffe://td/ns/a/sa/bb", false},
		{SANMatcher{Exact: "Broker.RMQ", IgnoreCase: true}, SANDNS, "broker.rmq", true},
		{SANMatcher{Exact: "Broker.RMQ"}, SANDNS, "broker.rmq", false},
		{SANMatcher{Exact: "a.rmq.local"}, SANDNS, "*.rmq.local", true},
		{SANMatcher{Exact: "a.b.rmq.local"}, SANDNS, "*.rmq.local", false},
		{SANMatcher{Exact: "a.rmq.local"}, SANURI, "*.rmq.local", false},
		{SANMatcher{Prefix: "spiffe://td/"}, SANURI, "spiffe://td/x", true},
		{SANMatcher{Suffix: ".rmq"}, SANDNS, "x.rmq", true},
		{SANMatcher{Contains: "broker"}, SANEmail, "broker@rmq", true},
		{SANMatcher{Type: SANIP, Exact: "10.0.0.1"}, SANIP, "10.0.0.1", true},
		{SANMatcher{Type: SANIP, Exact: "10.0.0.1"}, SANDNS, "10.0.0.1", false},
		{SANMatcher{Regex: regexp.MustCompile(`^(?:b.*)$`)}, SANDNS, "broker", true},
		{SANMatcher{Regex: regexp.MustCompile(`^(?:b.*)$`)}, SANDNS, "abroker", false},
	}
	for _, tc := range tests {
		if got := tc.m.Match(tc.typ, tc.san); got != tc.want {
			t.Errorf("%s .Match(%s, %q) = %v, want %v", tc.m.String(), tc.typ, tc.san, got, tc.want)
		}
	}
}

func TestSecurityConfig_Equal(t *testing.T) {
	a := &SecurityConfig{RootInstance: "r", SANMatchers: []SANMatcher{{Regex: regexp.MustCompile("^(?:x)$")}}}
	b := &SecurityConfig{RootInstance: "r", SANMatchers: []SANMatcher{{Regex: regexp.MustCompile("^(?:x)$")}}}
	c := &SecurityConfig{RootInstance: "r", SANMatchers: []SANMatcher{{Regex: regexp.MustCompile("^(?:y)$")}}}
	if !a.Equal(b) || a.Equal(c) || a.Equal(nil) || !(*SecurityConfig)(nil).Equal(nil) {
		t.Error("Equal disagrees with the fields")
	}
	if diff := cmp.Diff((&SecurityConfig{RootInstance: "r", IdentityInstance: "r"}).Instances(), []string{"r"}); diff != "" {
		t.Errorf("Instances() (-got +want):\n%s", diff)
	}
}
