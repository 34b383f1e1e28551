package xdsclient

//lint:file-ignore SA1019 gRPC proxyless clients read the deprecated certificate provider and SAN fields, and Istio still sends them.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// SecurityConfig is a cluster's upstream TLS: its transport_socket's
// UpstreamTlsContext as gRPC proxyless clients read it (gRFC A29). Key
// material is never in the resource: it comes from the bootstrap's
// certificate_providers instances the context names, so the control plane
// says which files to trust and present, not what they contain.
//
// It is immutable once decoded.
type SecurityConfig struct {
	// RootInstance and RootCertName name the certificate provider instance
	// whose CA certificates verify the broker (ca_certificate_provider_instance,
	// or the deprecated validation_context_certificate_provider_instance).
	// RootInstance is "" only when SystemRoots is set.
	RootInstance, RootCertName string
	// SystemRoots verifies the broker against the system's roots
	// (system_root_certs, gRFC A82).
	SystemRoots bool
	// IdentityInstance and IdentityCertName name the instance whose
	// certificate and key the relay presents (tls_certificate_provider_instance
	// or the deprecated tls_certificate_certificate_provider_instance); ""
	// for no client certificate.
	IdentityInstance, IdentityCertName string
	// SANMatchers are match_subject_alt_names and
	// match_typed_subject_alt_names: the broker's certificate must have a
	// subject alternative name one of them matches. Empty accepts any
	// certificate the roots verify.
	SANMatchers []SANMatcher
	// SNI is the server name sent in the handshake. It is not verified:
	// SANMatchers are (as in Envoy and gRPC).
	SNI string
	// MinVersion and MaxVersion are tls_params' protocol versions as
	// crypto/tls constants; 0 means rmqmesh's default (TLS 1.2 and up).
	MinVersion, MaxVersion uint16
	// ALPN lists the protocols offered (alpn_protocols).
	ALPN []string
}

// SANType is the kind of subject alternative name a [SANMatcher] looks at.
type SANType uint8

// SAN types.
const (
	// SANAny matches DNS names, URIs, email addresses and IP addresses
	// (match_subject_alt_names).
	SANAny SANType = iota
	SANDNS
	SANURI
	SANEmail
	SANIP
)

var sanTypeNames = [...]string{"any", "DNS", "URI", "email", "IP"}

// String returns the type's name, e.g. "URI".
func (t SANType) String() string {
	if int(t) < len(sanTypeNames) {
		return sanTypeNames[t]
	}
	return fmt.Sprintf("SANType(%d)", int(t))
}

// SANMatcher is one validated subject alternative name matcher: an Envoy
// StringMatcher, restricted to one SAN type or not.
type SANMatcher struct {
	Type SANType
	// Exactly one of Exact, Prefix, Suffix, Contains and Regex is set.
	Exact, Prefix, Suffix, Contains string
	// Regex matches the whole SAN (RE2, as Envoy's safe_regex).
	Regex *regexp.Regexp
	// IgnoreCase applies to Exact, Prefix, Suffix and Contains.
	IgnoreCase bool
}

// Match reports whether the matcher accepts san of type typ. An exact
// matcher on a DNS name also accepts a certificate's wildcard name
// ("*.example.com" for "a.example.com"), as gRPC does.
func (m *SANMatcher) Match(typ SANType, san string) bool {
	if m.Type != SANAny && m.Type != typ {
		return false
	}
	if m.Regex != nil {
		return m.Regex.MatchString(san)
	}
	pat := m.Exact + m.Prefix + m.Suffix + m.Contains
	if m.IgnoreCase {
		san, pat = strings.ToLower(san), strings.ToLower(pat)
	}
	switch {
	case m.Prefix != "":
		return strings.HasPrefix(san, pat)
	case m.Suffix != "":
		return strings.HasSuffix(san, pat)
	case m.Contains != "":
		return strings.Contains(san, pat)
	}
	if san == pat {
		return true
	}
	return typ == SANDNS && strings.HasPrefix(san, "*.") && wildcardMatch(san, strings.ToLower(pat))
}

// wildcardMatch matches a certificate's "*.rest" DNS name against a name of
// one more label, case-insensitively (RFC 6125, one label, leftmost only).
func wildcardMatch(wildcard, name string) bool {
	wildcard = strings.ToLower(wildcard)
	_, rest, ok := strings.Cut(name, ".")
	return ok && rest != "" && !strings.HasPrefix(name, ".") && "*."+rest == wildcard
}

// String renders the matcher for logs and errors, e.g. `URI exact "spiffe://…"`.
func (m *SANMatcher) String() string {
	var s string
	switch {
	case m.Regex != nil:
		s = fmt.Sprintf("regex %q", m.Regex.String())
	case m.Prefix != "":
		s = fmt.Sprintf("prefix %q", m.Prefix)
	case m.Suffix != "":
		s = fmt.Sprintf("suffix %q", m.Suffix)
	case m.Contains != "":
		s = fmt.Sprintf("contains %q", m.Contains)
	default:
		s = fmt.Sprintf("exact %q", m.Exact)
	}
	if m.IgnoreCase {
		s += " (ignore case)"
	}
	if m.Type != SANAny {
		s = m.Type.String() + " " + s
	}
	return s
}

func (m *SANMatcher) equal(o *SANMatcher) bool {
	if (m.Regex == nil) != (o.Regex == nil) || m.Regex != nil && m.Regex.String() != o.Regex.String() {
		return false
	}
	return m.Type == o.Type && m.Exact == o.Exact && m.Prefix == o.Prefix && m.Suffix == o.Suffix &&
		m.Contains == o.Contains && m.IgnoreCase == o.IgnoreCase
}

// Equal reports whether s and o describe the same TLS setting, so a user
// can keep what it built from s when an update leaves it unchanged.
func (s *SecurityConfig) Equal(o *SecurityConfig) bool {
	if s == nil || o == nil {
		return s == o
	}
	return s.RootInstance == o.RootInstance && s.RootCertName == o.RootCertName && s.SystemRoots == o.SystemRoots &&
		s.IdentityInstance == o.IdentityInstance && s.IdentityCertName == o.IdentityCertName &&
		s.SNI == o.SNI && s.MinVersion == o.MinVersion && s.MaxVersion == o.MaxVersion &&
		slices.Equal(s.ALPN, o.ALPN) &&
		slices.EqualFunc(s.SANMatchers, o.SANMatchers, func(a, b SANMatcher) bool { return a.equal(&b) })
}

// Instances returns the certificate provider instance names s uses.
func (s *SecurityConfig) Instances() []string {
	var out []string
	for _, n := range []string{s.RootInstance, s.IdentityInstance} {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// TLS protocol versions, as crypto/tls numbers them; kept here so that this
// package does not import crypto/tls for two constants.
const (
	tlsVersion12 uint16 = 0x0303
	tlsVersion13 uint16 = 0x0304
)

// securityConfig validates an UpstreamTlsContext the way grpc-go does (gRFC
// A29), and NACKs what would weaken verification if ignored. Fields grpc-go
// ignores and that cannot weaken it (max_session_keys, allow_renegotiation,
// enforce_rsa_key_usage) are ignored here too.
func securityConfig(up *tlsv3.UpstreamTlsContext) (*SecurityConfig, error) {
	common := up.GetCommonTlsContext()
	if common == nil {
		return nil, errors.New("UpstreamTlsContext has no common_tls_context")
	}
	if up.GetAutoHostSni() || up.GetAutoSniSanValidation() {
		return nil, errors.New("auto_host_sni and auto_sni_san_validation are not supported: set sni and match_subject_alt_names")
	}
	sc := &SecurityConfig{SNI: up.GetSni(), ALPN: slices.Clone(common.GetAlpnProtocols())}
	switch {
	case common.GetCustomHandshaker() != nil:
		return nil, errors.New("common_tls_context.custom_handshaker is not supported")
	case common.GetKeyLog() != nil:
		return nil, errors.New("common_tls_context.key_log is not supported: it would write session keys to a file")
	case common.GetCustomTlsCertificateSelector() != nil:
		return nil, errors.New("common_tls_context.custom_tls_certificate_selector is not supported")
	}
	if err := tlsParams(common.GetTlsParams(), sc); err != nil {
		return nil, fmt.Errorf("common_tls_context.tls_params: %w", err)
	}
	if err := identity(common, sc); err != nil {
		return nil, err
	}
	if err := validation(common, sc); err != nil {
		return nil, err
	}
	if err := validateParts(up); err != nil {
		return nil, err
	}
	return sc, nil
}

// validateParts applies Envoy's proto rules (the generated ValidateAll) to
// every part of the context rmqmesh reads. Not to the whole: Envoy's rules
// require an SDS config in a combined_validation_context, which gRPC does
// not, and Istio sends proxyless clients a combined context without one.
func validateParts(up *tlsv3.UpstreamTlsContext) error {
	if len(up.GetSni()) > 255 {
		return fmt.Errorf("sni is %d bytes long; at most 255", len(up.GetSni()))
	}
	common := up.GetCommonTlsContext()
	parts := []interface{ ValidateAll() error }{
		common.GetTlsParams(), common.GetTlsCertificateProviderInstance(), common.GetValidationContext(),
		common.GetCombinedValidationContext().GetDefaultValidationContext(),
	}
	for _, p := range parts {
		if err := p.ValidateAll(); err != nil {
			return err
		}
	}
	return nil
}

func tlsParams(p *tlsv3.TlsParameters, sc *SecurityConfig) error {
	if p == nil {
		return nil
	}
	if len(p.GetCipherSuites())+len(p.GetEcdhCurves())+len(p.GetSignatureAlgorithms())+len(p.GetCompliancePolicies()) > 0 {
		return errors.New("only tls_minimum_protocol_version and tls_maximum_protocol_version are supported (cipher_suites, ecdh_curves, signature_algorithms and compliance_policies are Go's choice)")
	}
	version := func(field string, v tlsv3.TlsParameters_TlsProtocol) (uint16, error) {
		switch v {
		case tlsv3.TlsParameters_TLS_AUTO:
			return 0, nil
		case tlsv3.TlsParameters_TLSv1_2:
			return tlsVersion12, nil
		case tlsv3.TlsParameters_TLSv1_3:
			return tlsVersion13, nil
		}
		return 0, fmt.Errorf("%s %v is not supported: rmqmesh speaks TLS 1.2 and 1.3 only", field, v)
	}
	var err error
	if sc.MinVersion, err = version("tls_minimum_protocol_version", p.GetTlsMinimumProtocolVersion()); err != nil {
		return err
	}
	if sc.MaxVersion, err = version("tls_maximum_protocol_version", p.GetTlsMaximumProtocolVersion()); err != nil {
		return err
	}
	if sc.MinVersion != 0 && sc.MaxVersion != 0 && sc.MinVersion > sc.MaxVersion {
		return fmt.Errorf("tls_minimum_protocol_version %v is above tls_maximum_protocol_version %v", p.GetTlsMinimumProtocolVersion(), p.GetTlsMaximumProtocolVersion())
	}
	return nil
}

// identity reads the client certificate's provider instance: the current
// field first, then the deprecated one (Istio sends both).
func identity(common *tlsv3.CommonTlsContext, sc *SecurityConfig) error {
	switch {
	case common.GetTlsCertificateProviderInstance() != nil:
		pi := common.GetTlsCertificateProviderInstance()
		sc.IdentityInstance, sc.IdentityCertName = pi.GetInstanceName(), pi.GetCertificateName()
	case common.GetTlsCertificateCertificateProviderInstance() != nil:
		pi := common.GetTlsCertificateCertificateProviderInstance()
		sc.IdentityInstance, sc.IdentityCertName = pi.GetInstanceName(), pi.GetCertificateName()
	case len(common.GetTlsCertificates()) > 0:
		return errors.New("common_tls_context.tls_certificates is not supported: name a certificate provider instance in tls_certificate_provider_instance (key material comes from the bootstrap's certificate_providers, as in gRPC)")
	case len(common.GetTlsCertificateSdsSecretConfigs()) > 0:
		return errors.New("common_tls_context.tls_certificate_sds_secret_configs is not supported: use tls_certificate_provider_instance")
	case common.GetTlsCertificateCertificateProvider() != nil:
		return errors.New("common_tls_context.tls_certificate_certificate_provider is not supported: use tls_certificate_provider_instance")
	}
	if sc.IdentityInstance == "" && (common.GetTlsCertificateProviderInstance() != nil || common.GetTlsCertificateCertificateProviderInstance() != nil) {
		return errors.New("common_tls_context: the identity certificate provider instance has an empty instance_name")
	}
	return nil
}

// validation reads how the broker's certificate is verified. A context that
// would not verify it at all is NACKed: gRPC requires a root provider on the
// client side, and plaintext-grade TLS is not what the control plane asked for.
func validation(common *tlsv3.CommonTlsContext, sc *SecurityConfig) error {
	var vc *tlsv3.CertificateValidationContext
	switch t := common.GetValidationContextType().(type) {
	case *tlsv3.CommonTlsContext_ValidationContext:
		vc = t.ValidationContext
	case *tlsv3.CommonTlsContext_CombinedValidationContext:
		combined := t.CombinedValidationContext
		if combined.GetValidationContextSdsSecretConfig() != nil || combined.GetValidationContextCertificateProvider() != nil {
			return errors.New("combined_validation_context: only validation_context_certificate_provider_instance and default_validation_context are supported")
		}
		vc = combined.GetDefaultValidationContext()
		if pi := combined.GetValidationContextCertificateProviderInstance(); pi != nil {
			sc.RootInstance, sc.RootCertName = pi.GetInstanceName(), pi.GetCertificateName()
			if sc.RootInstance == "" {
				return errors.New("combined_validation_context.validation_context_certificate_provider_instance has an empty instance_name")
			}
		}
	case *tlsv3.CommonTlsContext_ValidationContextCertificateProviderInstance:
		sc.RootInstance, sc.RootCertName = t.ValidationContextCertificateProviderInstance.GetInstanceName(), t.ValidationContextCertificateProviderInstance.GetCertificateName()
		if sc.RootInstance == "" {
			return errors.New("validation_context_certificate_provider_instance has an empty instance_name")
		}
	case nil:
	default:
		return fmt.Errorf("common_tls_context: validation context %T is not supported (want validation_context, combined_validation_context or a certificate provider instance)", t)
	}
	if err := validationContext(vc, sc); err != nil {
		return fmt.Errorf("validation context: %w", err)
	}
	if sc.RootInstance == "" && !sc.SystemRoots {
		return errors.New("no root certificate provider instance and no system_root_certs: the broker's certificate would not be verified (set ca_certificate_provider_instance)")
	}
	return nil
}

func validationContext(vc *tlsv3.CertificateValidationContext, sc *SecurityConfig) error {
	if vc == nil {
		return nil
	}
	switch {
	case len(vc.GetVerifyCertificateSpki()) > 0:
		return errors.New("verify_certificate_spki is not supported")
	case len(vc.GetVerifyCertificateHash()) > 0:
		return errors.New("verify_certificate_hash is not supported")
	case vc.GetRequireSignedCertificateTimestamp().GetValue():
		return errors.New("require_signed_certificate_timestamp is not supported")
	case vc.GetCrl() != nil:
		return errors.New("crl is not supported")
	case vc.GetCustomValidatorConfig() != nil:
		return errors.New("custom_validator_config is not supported")
	case vc.GetAllowExpiredCertificate():
		return errors.New("allow_expired_certificate is not supported: expired broker certificates are refused")
	case vc.GetTrustChainVerification() != tlsv3.CertificateValidationContext_VERIFY_TRUST_CHAIN:
		return fmt.Errorf("trust_chain_verification %v is not supported: the chain is always verified", vc.GetTrustChainVerification())
	}
	if pi := vc.GetCaCertificateProviderInstance(); pi != nil {
		if pi.GetInstanceName() == "" {
			return errors.New("ca_certificate_provider_instance has an empty instance_name")
		}
		// The current field wins over the deprecated one, as in grpc-go.
		sc.RootInstance, sc.RootCertName = pi.GetInstanceName(), pi.GetCertificateName()
	}
	if vc.GetSystemRootCerts() != nil {
		if sc.RootInstance != "" {
			return errors.New("system_root_certs and a ca certificate provider instance are both set")
		}
		sc.SystemRoots = true
	}
	if vc.GetTrustedCa() != nil && sc.RootInstance == "" && !sc.SystemRoots {
		// gRPC ignores trusted_ca; ignoring it here would verify against
		// nothing the control plane named.
		return errors.New("trusted_ca is not supported: name a certificate provider instance in ca_certificate_provider_instance")
	}
	for i, m := range vc.GetMatchSubjectAltNames() {
		sm, err := sanMatcher(SANAny, m)
		if err != nil {
			return fmt.Errorf("match_subject_alt_names[%d]: %w", i, err)
		}
		sc.SANMatchers = append(sc.SANMatchers, sm)
	}
	for i, m := range vc.GetMatchTypedSubjectAltNames() {
		var typ SANType
		switch m.GetSanType() {
		case tlsv3.SubjectAltNameMatcher_DNS:
			typ = SANDNS
		case tlsv3.SubjectAltNameMatcher_URI:
			typ = SANURI
		case tlsv3.SubjectAltNameMatcher_EMAIL:
			typ = SANEmail
		case tlsv3.SubjectAltNameMatcher_IP_ADDRESS:
			typ = SANIP
		default:
			return fmt.Errorf("match_typed_subject_alt_names[%d]: san_type %v is not supported", i, m.GetSanType())
		}
		sm, err := sanMatcher(typ, m.GetMatcher())
		if err != nil {
			return fmt.Errorf("match_typed_subject_alt_names[%d]: %w", i, err)
		}
		sc.SANMatchers = append(sc.SANMatchers, sm)
	}
	return nil
}

func sanMatcher(typ SANType, m *matcherv3.StringMatcher) (SANMatcher, error) {
	sm := SANMatcher{Type: typ, IgnoreCase: m.GetIgnoreCase()}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		sm.Exact = p.Exact
		if sm.Exact == "" {
			return sm, errors.New("empty exact matcher: it would match no SAN")
		}
	case *matcherv3.StringMatcher_Prefix:
		sm.Prefix = p.Prefix
	case *matcherv3.StringMatcher_Suffix:
		sm.Suffix = p.Suffix
	case *matcherv3.StringMatcher_Contains:
		sm.Contains = p.Contains
	case *matcherv3.StringMatcher_SafeRegex:
		if m.GetIgnoreCase() {
			return sm, errors.New("ignore_case with safe_regex is not supported (Envoy rejects it)")
		}
		re, err := regexp.Compile(`^(?:` + p.SafeRegex.GetRegex() + `)$`)
		if err != nil {
			return sm, fmt.Errorf("invalid safe_regex %q: %w", p.SafeRegex.GetRegex(), err)
		}
		sm.Regex = re
	default:
		return sm, fmt.Errorf("unsupported match pattern %T", p)
	}
	if m.GetMatchPattern() != nil && sm.Regex == nil && sm.Exact+sm.Prefix+sm.Suffix+sm.Contains == "" {
		return sm, errors.New("empty prefix, suffix or contains pattern: it would match every SAN")
	}
	return sm, nil
}

// checkCertProviders NACKs a cluster whose TLS names a certificate provider
// instance the bootstrap does not define, or one that cannot supply what it
// is used for: gRPC fails such a cluster too, and accepting it would leave
// the cluster unusable without saying why to the control plane.
func checkCertProviders(sc *SecurityConfig, providers map[string]*bootstrap.CertProviderConfig) error {
	if sc == nil {
		return nil
	}
	check := func(field, name string, need func(*bootstrap.FileWatcherConfig) bool, what string) error {
		if name == "" {
			return nil
		}
		p, ok := providers[name]
		if !ok {
			have := make([]string, 0, len(providers))
			for n := range providers {
				have = append(have, n)
			}
			slices.Sort(have)
			return fmt.Errorf("transport_socket: %s %q is not in the bootstrap's certificate_providers (have %q)", field, name, have)
		}
		if p.FileWatcher == nil {
			return fmt.Errorf("transport_socket: %s %q has plugin %q; only \"file_watcher\" is supported", field, name, p.PluginName)
		}
		if !need(p.FileWatcher) {
			return fmt.Errorf("transport_socket: %s %q has no %s in the bootstrap", field, name, what)
		}
		return nil
	}
	if err := check("root certificate provider instance", sc.RootInstance, func(f *bootstrap.FileWatcherConfig) bool { return f.CACertificateFile != "" }, "ca_certificate_file"); err != nil {
		return err
	}
	return check("identity certificate provider instance", sc.IdentityInstance, func(f *bootstrap.FileWatcherConfig) bool { return f.CertificateFile != "" }, "certificate_file")
}
