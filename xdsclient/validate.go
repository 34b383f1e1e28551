package xdsclient

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

// rocketmqProxyTypeURL is the type URL of the rocketmq_proxy filter config.
const rocketmqProxyTypeURL = "type.googleapis.com/envoy.extensions.filters.network.rocketmq_proxy.v3.RocketmqProxy"

// decodeListener validates a Listener carrying the rocketmq_proxy filter.
func decodeListener(a *anypb.Any) (string, update, proto.Message, error) {
	l := &listenerv3.Listener{}
	if err := unmarshalAny(a, ListenerTypeURL, l); err != nil {
		return "", nil, nil, err
	}
	name := l.GetName()
	if name == "" {
		return "", nil, nil, errors.New("listener has no name")
	}
	if err := l.ValidateAll(); err != nil {
		return name, nil, nil, err
	}
	proxy, err := findRocketMQFilter(l)
	if err != nil {
		return name, nil, nil, err
	}
	u := &ListenerUpdate{Name: name, Listener: l, Proxy: proxy, RouteConfig: proxy.GetRouteConfig(), RouteConfigName: proxy.GetRouteConfig().GetName()}
	if rc := proxy.GetRouteConfig(); rc != nil {
		if err := validateRouteConfig(rc); err != nil {
			return name, nil, nil, fmt.Errorf("inline route_config: %w", err)
		}
	}
	// After the inline routes, whose own checks name the route.
	if err := proxy.ValidateAll(); err != nil {
		return name, nil, nil, fmt.Errorf("%s filter: %w", wellknown.RocketMQProxyFilter, err)
	}
	if v, ok := l.GetMetadata().GetFilterMetadata()[wellknown.MeshMetadataNamespace].GetFields()[wellknown.OnDemandRoutesKey]; ok {
		b, isBool := v.GetKind().(*structpb.Value_BoolValue)
		if !isBool {
			return name, nil, nil, fmt.Errorf("filter_metadata[%q][%q] must be a bool, got %v", wellknown.MeshMetadataNamespace, wellknown.OnDemandRoutesKey, v)
		}
		u.OnDemand = b.BoolValue
	}
	if u.OnDemand && u.RouteConfigName == "" {
		return name, nil, nil, fmt.Errorf("filter_metadata[%q][%q] is set but the %s filter has no route_config.name", wellknown.MeshMetadataNamespace, wellknown.OnDemandRoutesKey, wellknown.RocketMQProxyFilter)
	}
	return name, u, l, nil
}

func findRocketMQFilter(l *listenerv3.Listener) (*rocketmqv3.RocketmqProxy, error) {
	chains := l.GetFilterChains()
	if dc := l.GetDefaultFilterChain(); dc != nil {
		chains = append(chains[:len(chains):len(chains)], dc)
	}
	for _, fc := range chains {
		for _, f := range fc.GetFilters() {
			tc := f.GetTypedConfig()
			if f.GetName() != wellknown.RocketMQProxyFilter && tc.GetTypeUrl() != rocketmqProxyTypeURL {
				continue
			}
			if tc == nil {
				return nil, fmt.Errorf("filter %q has no typed_config", f.GetName())
			}
			if tc.GetTypeUrl() != rocketmqProxyTypeURL {
				return nil, fmt.Errorf("filter %q: typed_config has type %q, want %q", f.GetName(), tc.GetTypeUrl(), rocketmqProxyTypeURL)
			}
			p := &rocketmqv3.RocketmqProxy{}
			if err := proto.Unmarshal(tc.GetValue(), p); err != nil {
				return nil, fmt.Errorf("filter %q: cannot decode typed_config: %w", f.GetName(), err)
			}
			return p, nil
		}
	}
	return nil, fmt.Errorf("no %q network filter", wellknown.RocketMQProxyFilter)
}

// decodeRouteConfig validates a per-topic RouteConfiguration.
func decodeRouteConfig(a *anypb.Any) (string, update, proto.Message, error) {
	rc := &rocketmqv3.RouteConfiguration{}
	if err := unmarshalAny(a, RouteConfigTypeURL, rc); err != nil {
		return "", nil, nil, err
	}
	if rc.GetName() == "" {
		return "", nil, nil, errors.New("route configuration has no name")
	}
	if err := validateRouteConfig(rc); err != nil {
		return rc.GetName(), nil, nil, err
	}
	return rc.GetName(), &RouteConfigUpdate{Name: rc.GetName(), RouteConfig: rc}, rc, nil
}

func validateRouteConfig(rc *rocketmqv3.RouteConfiguration) error {
	for i, r := range rc.GetRoutes() {
		if err := validateRoute(r); err != nil {
			return fmt.Errorf("routes[%d]: %w", i, err)
		}
	}
	return rc.ValidateAll()
}

func validateRoute(r *rocketmqv3.Route) error {
	if r.GetMatch() == nil {
		return errors.New("no match")
	}
	if r.GetMatch().GetTopic() == nil {
		return errors.New("match has no topic matcher")
	}
	if err := validateStringMatcher(r.GetMatch().GetTopic()); err != nil {
		return fmt.Errorf("topic matcher: %w", err)
	}
	for j, h := range r.GetMatch().GetHeaders() {
		if err := validateHeaderMatcher(h); err != nil {
			return fmt.Errorf("headers[%d]: %w", j, err)
		}
	}
	if r.GetRoute().GetCluster() == "" {
		return errors.New("route action has no cluster")
	}
	if _, err := wellknown.ParseTopicQueues(r.GetRoute().GetMetadataMatch()); err != nil {
		return fmt.Errorf("route metadata_match: %w", err)
	}
	return nil
}

func validateStringMatcher(m *matcherv3.StringMatcher) error {
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact, *matcherv3.StringMatcher_Prefix, *matcherv3.StringMatcher_Suffix, *matcherv3.StringMatcher_Contains:
		if _, isExact := p.(*matcherv3.StringMatcher_Exact); !isExact && m.GetPrefix()+m.GetSuffix()+m.GetContains() == "" {
			return errors.New("empty prefix, suffix or contains pattern")
		}
		return nil
	case *matcherv3.StringMatcher_SafeRegex:
		return validateRegex(p.SafeRegex)
	case nil:
		return errors.New("no match pattern")
	default:
		return fmt.Errorf("unsupported match pattern %T", p)
	}
}

func validateRegex(r *matcherv3.RegexMatcher) error {
	if r.GetRegex() == "" {
		return errors.New("empty safe_regex")
	}
	if _, err := regexp.Compile(r.GetRegex()); err != nil {
		return fmt.Errorf("invalid safe_regex %q: %w", r.GetRegex(), err)
	}
	return nil
}

// validateHeaderMatcher applies Envoy's rules: the name is any non-empty
// string without NUL, CR or LF (Envoy does not require an HTTP token), and
// patterns must compile.
func validateHeaderMatcher(h *routev3.HeaderMatcher) error {
	if err := h.ValidateAll(); err != nil {
		return err
	}
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case nil, *routev3.HeaderMatcher_ExactMatch, *routev3.HeaderMatcher_PresentMatch:
	case *routev3.HeaderMatcher_PrefixMatch:
		//lint:ignore SA1019 legacy matchers are still sent by control planes and Envoy accepts them.
		if s.PrefixMatch == "" {
			return fmt.Errorf("header %q: empty prefix_match", h.GetName())
		}
	case *routev3.HeaderMatcher_SuffixMatch:
		//lint:ignore SA1019 legacy matchers are still sent by control planes and Envoy accepts them.
		if s.SuffixMatch == "" {
			return fmt.Errorf("header %q: empty suffix_match", h.GetName())
		}
	case *routev3.HeaderMatcher_ContainsMatch:
		//lint:ignore SA1019 legacy matchers are still sent by control planes and Envoy accepts them.
		if s.ContainsMatch == "" {
			return fmt.Errorf("header %q: empty contains_match", h.GetName())
		}
	case *routev3.HeaderMatcher_SafeRegexMatch:
		//lint:ignore SA1019 legacy matchers are still sent by control planes and Envoy accepts them.
		if err := validateRegex(s.SafeRegexMatch); err != nil {
			return fmt.Errorf("header %q: %w", h.GetName(), err)
		}
	case *routev3.HeaderMatcher_RangeMatch:
		if s.RangeMatch.GetStart() >= s.RangeMatch.GetEnd() {
			return fmt.Errorf("header %q: range_match start %d must be below end %d", h.GetName(), s.RangeMatch.GetStart(), s.RangeMatch.GetEnd())
		}
	case *routev3.HeaderMatcher_StringMatch:
		if err := validateStringMatcher(s.StringMatch); err != nil {
			return fmt.Errorf("header %q: string_match: %w", h.GetName(), err)
		}
	default:
		return fmt.Errorf("header %q: unsupported matcher %T", h.GetName(), s)
	}
	return nil
}

// decodeCluster validates an EDS Cluster.
func decodeCluster(a *anypb.Any) (string, update, proto.Message, error) {
	c := &clusterv3.Cluster{}
	if err := unmarshalAny(a, ClusterTypeURL, c); err != nil {
		return "", nil, nil, err
	}
	name := c.GetName()
	if name == "" {
		return "", nil, nil, errors.New("cluster has no name")
	}
	if _, ok := c.GetClusterDiscoveryType().(*clusterv3.Cluster_Type); !ok || c.GetType() != clusterv3.Cluster_EDS {
		return name, nil, nil, fmt.Errorf("discovery type %v is not supported (want EDS)", c.GetClusterDiscoveryType())
	}
	if err := validateClusterProto(c); err != nil {
		return name, nil, nil, err
	}
	u := &ClusterUpdate{Name: name, Cluster: c, EDSServiceName: c.GetEdsClusterConfig().GetServiceName()}
	if u.EDSServiceName == "" {
		u.EDSServiceName = name
	}
	if err := parseClusterFields(c, u); err != nil {
		return name, nil, nil, err
	}
	// Only validated here: routing reads the knob when it compiles the
	// cluster, with the same function.
	if _, err := wellknown.ParseDataPath(c.GetMetadata()); err != nil {
		return name, nil, nil, err
	}
	return name, u, c, nil
}

// decodeEndpoints validates a ClusterLoadAssignment and its broker metadata.
func decodeEndpoints(a *anypb.Any) (string, update, proto.Message, error) {
	cla := &endpointv3.ClusterLoadAssignment{}
	if err := unmarshalAny(a, EndpointsTypeURL, cla); err != nil {
		return "", nil, nil, err
	}
	name := cla.GetClusterName()
	if name == "" {
		return "", nil, nil, errors.New("cluster load assignment has no cluster_name")
	}
	if err := validateAssignment(cla); err != nil {
		return name, nil, nil, err
	}
	if err := cla.ValidateAll(); err != nil {
		return name, nil, nil, err
	}
	return name, &EndpointsUpdate{Name: name, Assignment: cla}, cla, nil
}

type brokerKey struct {
	name string
	id   int64
}

// validateAssignment checks what Envoy's proto rules cannot: one endpoint
// per broker, contiguous priorities (gRPC), and the weight limits — the
// endpoint weights of a locality sum to at most 2^32-1 (Envoy), so do the
// locality weights of a priority (gRPC). A weight of 0 is rejected here,
// before the proto rules would, with a detail that says what Envoy and gRPC
// do with it: Envoy requires at least 1 for endpoints and localities; gRPC
// NACKs an endpoint with zero weight and ignores a locality with zero
// weight. rmqmesh follows the stricter rule, so a control plane that drains
// a broker by weight 0 learns it from the NACK instead of the broker taking
// writes.
func validateAssignment(cla *endpointv3.ClusterLoadAssignment) error {
	brokers := map[brokerKey]string{}
	localitySums := map[uint32]uint64{}
	for i, loc := range cla.GetEndpoints() {
		if w := loc.GetLoadBalancingWeight(); w != nil && w.GetValue() == 0 {
			return fmt.Errorf("endpoints[%d] (locality %s, priority %d): load_balancing_weight 0: Envoy requires at least 1 (gRPC would ignore the locality); leave the locality out to give it no traffic",
				i, localityText(loc.GetLocality()), loc.GetPriority())
		}
		localitySums[loc.GetPriority()] += uint64(loc.GetLoadBalancingWeight().GetValue())
		var endpointSum uint64
		for j, ep := range loc.GetLbEndpoints() {
			where := fmt.Sprintf("endpoints[%d].lb_endpoints[%d]", i, j)
			addr, err := validateAddress(ep.GetEndpoint().GetAddress())
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			if w := ep.GetLoadBalancingWeight(); w != nil && w.GetValue() == 0 {
				return fmt.Errorf("%s (%s): load_balancing_weight 0: Envoy requires at least 1 and gRPC NACKs an endpoint with zero weight; mark it DRAINING or leave it out to take it out of service", where, addr)
			}
			endpointSum += uint64(ep.GetLoadBalancingWeight().GetValue())
			key, isBroker, err := validateBrokerMetadata(ep.GetMetadata())
			if err != nil {
				return fmt.Errorf("%s (%s): %w", where, addr, err)
			}
			if isBroker {
				if prev, dup := brokers[key]; dup {
					return fmt.Errorf("%s (%s): duplicate broker (broker_name %q, broker_id %d), also at %s", where, addr, key.name, key.id, prev)
				}
				brokers[key] = addr
			}
		}
		if endpointSum > math.MaxUint32 {
			return fmt.Errorf("endpoints[%d]: endpoint weights sum to more than %d", i, uint32(math.MaxUint32))
		}
	}
	for p := range uint32(len(localitySums)) {
		sum, ok := localitySums[p]
		if !ok {
			return fmt.Errorf("priorities are not contiguous: priority %d is missing", p)
		}
		if sum > math.MaxUint32 {
			return fmt.Errorf("priority %d: locality weights sum to more than %d", p, uint32(math.MaxUint32))
		}
	}
	return nil
}

// localityText renders a locality as {region="r",zone="z"} for messages.
func localityText(l *corev3.Locality) string {
	var parts []string
	for _, f := range []struct{ k, v string }{{"region", l.GetRegion()}, {"zone", l.GetZone()}, {"sub_zone", l.GetSubZone()}} {
		if f.v != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", f.k, f.v))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func validateAddress(a *corev3.Address) (string, error) {
	sa := a.GetSocketAddress()
	if sa == nil {
		return "", errors.New("endpoint has no socket_address")
	}
	host := sa.GetAddress()
	if host == "" || strings.ContainsAny(host, " /") {
		return "", fmt.Errorf("invalid address %q", host)
	}
	if sa.GetResolverName() != "" {
		return "", fmt.Errorf("address %q: resolver_name %q is not supported", host, sa.GetResolverName())
	}
	if _, ok := sa.GetPortSpecifier().(*corev3.SocketAddress_PortValue); !ok {
		return "", fmt.Errorf("address %q: port_value is required", host)
	}
	port := sa.GetPortValue()
	if port == 0 || port > 65535 {
		return "", fmt.Errorf("address %q: invalid port %d", host, port)
	}
	return fmt.Sprintf("%s:%d", host, port), nil
}

// validateBrokerMetadata checks the broker metadata of an endpoint
// (wellknown.BrokerMetadataNamespace). An endpoint without broker_name is a
// nameserver.
func validateBrokerMetadata(md *corev3.Metadata) (brokerKey, bool, error) {
	fields := md.GetFilterMetadata()[wellknown.BrokerMetadataNamespace].GetFields()
	if len(fields) == 0 {
		return brokerKey{}, false, nil
	}
	var key brokerKey
	isBroker := false
	if v, ok := fields[wellknown.BrokerNameKey]; ok {
		s, isStr := v.GetKind().(*structpb.Value_StringValue)
		if !isStr || s.StringValue == "" {
			return key, false, fmt.Errorf("broker metadata %q must be a non-empty string, got %v", wellknown.BrokerNameKey, v)
		}
		key.name, isBroker = s.StringValue, true
	}
	if v, ok := fields[wellknown.ClusterNameKey]; ok {
		if _, isStr := v.GetKind().(*structpb.Value_StringValue); !isStr {
			return key, false, fmt.Errorf("broker metadata %q must be a string, got %v", wellknown.ClusterNameKey, v)
		}
	}
	intField := func(f string, min, max float64) (int64, bool, error) {
		v, ok := fields[f]
		if !ok {
			return 0, false, nil
		}
		n, isNum := v.GetKind().(*structpb.Value_NumberValue)
		if !isNum || n.NumberValue != math.Trunc(n.NumberValue) || n.NumberValue < min || n.NumberValue > max {
			return 0, true, fmt.Errorf("broker metadata %q must be an integer in [%v, %v], got %v", f, min, max, v)
		}
		return int64(n.NumberValue), true, nil
	}
	id, hasID, err := intField(wellknown.BrokerIDKey, 0, math.MaxInt32)
	if err != nil {
		return key, false, err
	}
	if isBroker && !hasID {
		return key, false, fmt.Errorf("broker %q has no %q metadata", key.name, wellknown.BrokerIDKey)
	}
	key.id = id
	if _, _, err := intField(wellknown.PermKey, 0, 7); err != nil {
		return key, false, err
	}
	if _, _, err := intField(wellknown.ReadQueueNumKey, 0, math.MaxInt32); err != nil {
		return key, false, err
	}
	if _, _, err := intField(wellknown.WriteQueueNumKey, 0, math.MaxInt32); err != nil {
		return key, false, err
	}
	return key, isBroker, nil
}
