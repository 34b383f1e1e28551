package xdsclient

//lint:file-ignore SA1019 control planes still send the deprecated fields; the validators must meet them.

import (
	"encoding/binary"
	"testing"
	"time"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// gen builds xDS resources from fuzz bytes: every choice a control plane
// can make (matcher kinds, weights, metadata types, TLS fields) is a byte
// the fuzzer mutates, so the validators meet well-formed protos with
// hostile contents rather than bytes that rarely parse.
type gen struct{ b []byte }

func (g *gen) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *gen) n(max int) int { return int(g.byte()) % max }

func (g *gen) bool() bool { return g.byte()&1 == 1 }

func (g *gen) u32() uint32 {
	var buf [4]byte
	for i := range buf {
		buf[i] = g.byte()
	}
	return binary.BigEndian.Uint32(buf[:])
}

// str takes a length byte and that many bytes; some strings come from a
// small vocabulary so that names meet and regexes compile.
func (g *gen) str() string {
	switch g.n(8) {
	case 0:
		return ""
	case 1:
		return []string{"orders", "c", "broker-a", "default", ".*", "a(", "spiffe://td/ns/x/sa/y", "::1", "10.0.0.1", "TBW102"}[g.n(10)]
	}
	n := g.n(24)
	if n > len(g.b) {
		n = len(g.b)
	}
	s := string(g.b[:n])
	g.b = g.b[n:]
	return s
}

func (g *gen) stringMatcher() *matcherv3.StringMatcher {
	m := &matcherv3.StringMatcher{IgnoreCase: g.bool()}
	switch g.n(6) {
	case 0:
		m.MatchPattern = &matcherv3.StringMatcher_Exact{Exact: g.str()}
	case 1:
		m.MatchPattern = &matcherv3.StringMatcher_Prefix{Prefix: g.str()}
	case 2:
		m.MatchPattern = &matcherv3.StringMatcher_Suffix{Suffix: g.str()}
	case 3:
		m.MatchPattern = &matcherv3.StringMatcher_Contains{Contains: g.str()}
	case 4:
		m.MatchPattern = &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: g.str()}}
	}
	return m
}

func (g *gen) headerMatcher() *routev3.HeaderMatcher {
	h := &routev3.HeaderMatcher{Name: g.str(), InvertMatch: g.bool()}
	switch g.n(6) {
	case 0:
		h.HeaderMatchSpecifier = &routev3.HeaderMatcher_ExactMatch{ExactMatch: g.str()}
	case 1:
		h.HeaderMatchSpecifier = &routev3.HeaderMatcher_PresentMatch{PresentMatch: g.bool()}
	case 2:
		h.HeaderMatchSpecifier = &routev3.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: int64(g.n(40)) - 20, End: int64(g.n(40)) - 20}}
	case 3:
		h.HeaderMatchSpecifier = &routev3.HeaderMatcher_StringMatch{StringMatch: g.stringMatcher()}
	case 4:
		h.HeaderMatchSpecifier = &routev3.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: &matcherv3.RegexMatcher{Regex: g.str()}}
	}
	return h
}

// value is a structpb value of a fuzzed kind, for metadata.
func (g *gen) value() *structpb.Value {
	switch g.n(5) {
	case 0:
		return structpb.NewStringValue(g.str())
	case 1:
		return structpb.NewNumberValue(float64(int32(g.u32())) / float64(1+g.n(4)))
	case 2:
		return structpb.NewBoolValue(g.bool())
	case 3:
		return structpb.NewNullValue()
	}
	return structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue(g.str())}})
}

func (g *gen) route() *rocketmqv3.Route {
	r := &rocketmqv3.Route{}
	if g.n(8) != 0 {
		r.Match = &rocketmqv3.RouteMatch{}
		if g.n(8) != 0 {
			r.Match.Topic = g.stringMatcher()
		}
		for range g.n(3) {
			r.Match.Headers = append(r.Match.Headers, g.headerMatcher())
		}
	}
	r.Route = &rocketmqv3.RouteAction{Cluster: g.str()}
	if g.bool() {
		fields := map[string]*structpb.Value{}
		for range g.n(3) {
			fields[g.str()] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
				wellknown.ReadQueueNumKey: g.value(), wellknown.WriteQueueNumKey: g.value(),
			}})
		}
		ns := wellknown.MeshMetadataNamespace
		if g.n(4) == 0 {
			ns = wellknown.SubsetMetadataNamespace
		}
		var q *structpb.Value = structpb.NewStructValue(&structpb.Struct{Fields: fields})
		if g.n(6) == 0 {
			q = g.value()
		}
		r.Route.MetadataMatch = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{ns: {Fields: map[string]*structpb.Value{wellknown.TopicQueuesKey: q}}}}
	}
	return r
}

func (g *gen) routeConfig() *rocketmqv3.RouteConfiguration {
	rc := &rocketmqv3.RouteConfiguration{Name: g.str()}
	for range g.n(4) {
		rc.Routes = append(rc.Routes, g.route())
	}
	return rc
}

func (g *gen) listener() *listenerv3.Listener {
	l := &listenerv3.Listener{Name: g.str()}
	proxy := &rocketmqv3.RocketmqProxy{StatPrefix: g.str()}
	if g.n(4) != 0 {
		proxy.RouteConfig = g.routeConfig()
	}
	a, _ := anypb.New(proxy)
	name := wellknown.RocketMQProxyFilter
	if g.n(8) == 0 {
		name = g.str()
	}
	f := &listenerv3.Filter{Name: name, ConfigType: &listenerv3.Filter_TypedConfig{TypedConfig: a}}
	if g.n(10) == 0 {
		f.ConfigType = nil
	}
	l.FilterChains = []*listenerv3.FilterChain{{Filters: []*listenerv3.Filter{f}}}
	if g.bool() {
		l.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: {Fields: map[string]*structpb.Value{wellknown.OnDemandRoutesKey: g.value()}}}}
	}
	return l
}

func (g *gen) instance() (string, string) {
	names := []string{"default", "roots", "missing", ""}
	return names[g.n(len(names))], g.str()
}

func (g *gen) upstreamTLS() *tlsv3.UpstreamTlsContext {
	ctx := &tlsv3.UpstreamTlsContext{Sni: g.str(), AutoHostSni: g.n(10) == 0}
	if g.n(10) == 0 {
		return ctx
	}
	common := &tlsv3.CommonTlsContext{}
	ctx.CommonTlsContext = common
	if g.n(4) == 0 {
		common.TlsParams = &tlsv3.TlsParameters{
			TlsMinimumProtocolVersion: tlsv3.TlsParameters_TlsProtocol(g.n(6)),
			TlsMaximumProtocolVersion: tlsv3.TlsParameters_TlsProtocol(g.n(6)),
		}
		if g.n(4) == 0 {
			common.TlsParams.CipherSuites = []string{g.str()}
		}
	}
	switch g.n(4) {
	case 0:
		i, c := g.instance()
		common.TlsCertificateProviderInstance = &tlsv3.CertificateProviderPluginInstance{InstanceName: i, CertificateName: c}
	case 1:
		i, c := g.instance()
		common.TlsCertificateCertificateProviderInstance = &tlsv3.CommonTlsContext_CertificateProviderInstance{InstanceName: i, CertificateName: c}
	case 2:
		common.TlsCertificates = []*tlsv3.TlsCertificate{{}}
	}
	vc := &tlsv3.CertificateValidationContext{AllowExpiredCertificate: g.n(10) == 0}
	switch g.n(4) {
	case 0:
		i, c := g.instance()
		vc.CaCertificateProviderInstance = &tlsv3.CertificateProviderPluginInstance{InstanceName: i, CertificateName: c}
	case 1:
		vc.SystemRootCerts = &tlsv3.CertificateValidationContext_SystemRootCerts{}
	case 2:
		vc.TrustedCa = &corev3.DataSource{Specifier: &corev3.DataSource_InlineString{InlineString: g.str()}}
	}
	for range g.n(3) {
		vc.MatchSubjectAltNames = append(vc.MatchSubjectAltNames, g.stringMatcher())
	}
	for range g.n(2) {
		vc.MatchTypedSubjectAltNames = append(vc.MatchTypedSubjectAltNames, &tlsv3.SubjectAltNameMatcher{
			SanType: tlsv3.SubjectAltNameMatcher_SanType(g.n(6)), Matcher: g.stringMatcher(),
		})
	}
	switch g.n(4) {
	case 0:
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContext{ValidationContext: vc}
	case 1:
		combined := &tlsv3.CommonTlsContext_CombinedCertificateValidationContext{DefaultValidationContext: vc}
		if g.bool() {
			i, c := g.instance()
			combined.ValidationContextCertificateProviderInstance = &tlsv3.CommonTlsContext_CertificateProviderInstance{InstanceName: i, CertificateName: c}
		}
		common.ValidationContextType = &tlsv3.CommonTlsContext_CombinedValidationContext{CombinedValidationContext: combined}
	case 2:
		i, c := g.instance()
		common.ValidationContextType = &tlsv3.CommonTlsContext_ValidationContextCertificateProviderInstance{
			ValidationContextCertificateProviderInstance: &tlsv3.CommonTlsContext_CertificateProviderInstance{InstanceName: i, CertificateName: c}}
	}
	return ctx
}

func (g *gen) cluster() *clusterv3.Cluster {
	c := &clusterv3.Cluster{Name: g.str()}
	if g.n(10) != 0 {
		c.ClusterDiscoveryType = &clusterv3.Cluster_Type{Type: clusterv3.Cluster_DiscoveryType(g.n(6) / 5 * 3)}
	}
	if g.n(10) != 0 {
		c.EdsClusterConfig = &clusterv3.Cluster_EdsClusterConfig{ServiceName: g.str(), EdsConfig: &corev3.ConfigSource{
			ConfigSourceSpecifier: &corev3.ConfigSource_Ads{Ads: &corev3.AggregatedConfigSource{}}}}
	}
	c.LbPolicy = clusterv3.Cluster_LbPolicy(g.n(8))
	if g.bool() {
		c.ConnectTimeout = durationpb.New(durationFrom(g.u32()))
	}
	if g.bool() {
		a, _ := anypb.New(g.upstreamTLS())
		name := "envoy.transport_sockets.tls"
		if g.n(8) == 0 {
			name = g.str()
		}
		c.TransportSocket = &corev3.TransportSocket{Name: name, ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}
	}
	if g.bool() {
		c.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: {Fields: map[string]*structpb.Value{wellknown.DataPathKey: g.value()}}}}
	}
	if g.n(6) == 0 {
		c.OutlierDetection = &clusterv3.OutlierDetection{MaxEjectionPercent: wrapperspb.UInt32(uint32(g.n(120)))}
	}
	return c
}

// durationFrom makes a duration, negative ones included, from fuzz bits.
func durationFrom(u uint32) time.Duration {
	return time.Duration(int64(int32(u)) * int64(time.Millisecond))
}

func (g *gen) assignment() *endpointv3.ClusterLoadAssignment {
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: g.str()}
	for range g.n(4) {
		loc := &endpointv3.LocalityLbEndpoints{Locality: &corev3.Locality{Zone: g.str()}, Priority: uint32(g.n(3))}
		if g.bool() {
			loc.LoadBalancingWeight = wrapperspb.UInt32(g.u32() >> uint(g.n(32)))
		}
		for range g.n(4) {
			sa := &corev3.SocketAddress{Address: g.str(), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: g.u32() >> uint(g.n(32))}}
			ep := &endpointv3.LbEndpoint{HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
				Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: sa}}}},
				HealthStatus: corev3.HealthStatus(g.n(7))}
			if g.bool() {
				ep.LoadBalancingWeight = wrapperspb.UInt32(g.u32() >> uint(g.n(32)))
			}
			if g.bool() {
				fields := map[string]*structpb.Value{}
				for _, k := range []string{wellknown.BrokerNameKey, wellknown.BrokerIDKey, wellknown.ClusterNameKey, wellknown.PermKey, wellknown.ReadQueueNumKey, wellknown.WriteQueueNumKey} {
					if g.n(4) != 0 {
						fields[k] = g.value()
					}
				}
				ep.Metadata = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.BrokerMetadataNamespace: {Fields: fields}}}
			}
			loc.LbEndpoints = append(loc.LbEndpoints, ep)
		}
		cla.Endpoints = append(cla.Endpoints, loc)
	}
	return cla
}

// fuzzProviders is the bootstrap the validators check TLS instance names
// against.
var fuzzProviders = map[string]*bootstrap.CertProviderConfig{
	"default": {PluginName: "file_watcher", FileWatcher: &bootstrap.FileWatcherConfig{CertificateFile: "c", PrivateKeyFile: "k", CACertificateFile: "ca"}},
	"roots":   {PluginName: "file_watcher", FileWatcher: &bootstrap.FileWatcherConfig{CACertificateFile: "ca"}},
}

// FuzzValidators builds listeners, route configurations, clusters (with
// upstream TLS) and endpoint assignments from fuzz bytes and runs the
// validators a control plane's answers meet: no panic; an accepted resource
// has its name and value, passes Envoy's proto rules where they apply, and
// decodes the same way twice; an accepted TLS cluster has a security
// configuration that verifies the broker.
func FuzzValidators(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		{0, 1, 1, 1, 1, 0, 0, 0, 2, 1},
		{3, 2, 1, 0, 1, 4, 1, 5, 1, 0, 1, 3, 0, 0, 1, 1, 9, 9, 9, 9},
		{1, 1, 1, 1, 2, 1, 1, 1, 1, 0, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 6, 1, 1, 2, 1, 1},
	} {
		for which := range uint8(4) {
			f.Add(which, seed)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		g := &gen{b: data}
		var (
			msg proto.Message
			rt  *resourceType
		)
		switch which % 4 {
		case 0:
			msg, rt = g.listener(), listenerType
		case 1:
			msg, rt = g.routeConfig(), routeConfigType
		case 2:
			msg, rt = g.cluster(), clusterType
		default:
			msg, rt = g.assignment(), endpointsType
		}
		a, err := anypb.New(msg)
		if err != nil {
			return
		}
		a.TypeUrl = rt.typeURL
		name, u, m, err := rt.decode(a)
		name2, _, _, err2 := rt.decode(a)
		if name != name2 || (err == nil) != (err2 == nil) {
			t.Fatalf("%s: two decodes disagree: %q %v / %q %v", rt.short, name, err, name2, err2)
		}
		if cu, ok := u.(*ClusterUpdate); ok && err == nil {
			err = checkCertProviders(cu.Security, fuzzProviders)
		}
		if err != nil {
			return
		}
		if name == "" || u == nil || m == nil {
			t.Fatalf("%s: accepted without name or value: %q %v", rt.short, name, u)
		}
		cu, ok := u.(*ClusterUpdate)
		if !ok {
			if err := m.(interface{ ValidateAll() error }).ValidateAll(); err != nil {
				t.Fatalf("%s %q accepted but Envoy's rules reject it: %v", rt.short, name, err)
			}
			return
		}
		if (cu.UpstreamTLS == nil) != (cu.Security == nil) {
			t.Fatalf("cluster %q: UpstreamTLS %v but Security %v", name, cu.UpstreamTLS, cu.Security)
		}
		if s := cu.Security; s != nil {
			if s.RootInstance == "" && !s.SystemRoots {
				t.Fatalf("cluster %q accepted with TLS that verifies nothing: %+v", name, s)
			}
			for _, inst := range s.Instances() {
				if fuzzProviders[inst] == nil {
					t.Fatalf("cluster %q accepted naming instance %q the bootstrap lacks", name, inst)
				}
			}
			for i := range s.SANMatchers {
				s.SANMatchers[i].Match(SANDNS, "a.rmq")
			}
		}
	})
}
