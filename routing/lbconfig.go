package routing

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// Envoy's defaults for the settings lbConfig reads.
const (
	// defaultOverprovisioning is ClusterLoadAssignment.policy's
	// overprovisioning_factor default, in percent.
	defaultOverprovisioning = 140
	// defaultZoneMinSize is rmqmesh's zone_aware_lb_config.min_cluster_size
	// when the cluster sets none. Envoy's is 6, sized for fleets of HTTP
	// hosts; a RocketMQ cluster usually has two to four brokers, so Envoy's
	// default would switch zone preference off almost everywhere.
	defaultZoneMinSize = 1
)

// lbConfig is what a cluster and its ClusterLoadAssignment say about
// balancing writes. It is immutable after resolveCluster.
type lbConfig struct {
	// overprovisioning is the policy's overprovisioning_factor in percent.
	overprovisioning uint64
	// weightedPriorityHealth counts hosts by weight when computing a
	// priority's health (policy.weighted_priority_health).
	weightedPriorityHealth bool
	// localityWeighted is common_lb_config.locality_weighted_lb_config.
	localityWeighted bool
	// zonePercent is zone_aware_lb_config.routing_enabled (0–100) and
	// zoneMinSize its min_cluster_size.
	zonePercent uint64
	zoneMinSize uint64
	// subset is lb_subset_config, nil without one.
	subset *subsetConfig
}

func lbConfigOf(c *clusterv3.Cluster) lbConfig {
	lb := lbConfig{overprovisioning: defaultOverprovisioning, zonePercent: 100, zoneMinSize: defaultZoneMinSize}
	common := c.GetCommonLbConfig()
	lb.localityWeighted = common.GetLocalityWeightedLbConfig() != nil
	if z := common.GetZoneAwareLbConfig(); z != nil {
		if re := z.GetRoutingEnabled(); re != nil {
			lb.zonePercent = uint64(min(max(re.GetValue(), 0), 100))
		}
		if m := z.GetMinClusterSize(); m != nil {
			lb.zoneMinSize = m.GetValue()
		}
	}
	if sc := c.GetLbSubsetConfig(); sc != nil {
		lb.subset = subsetConfigOf(sc)
	}
	return lb
}

// applyPolicy reads the ClusterLoadAssignment's policy.
func (lb *lbConfig) applyPolicy(p *endpointv3.ClusterLoadAssignment_Policy) {
	if f := p.GetOverprovisioningFactor(); f != nil && f.GetValue() > 0 {
		lb.overprovisioning = uint64(f.GetValue())
	}
	lb.weightedPriorityHealth = p.GetWeightedPriorityHealth()
}

// useLocalityWeights reports whether locality weights may apply: Envoy's
// subset load balancer ignores them unless locality_weight_aware is set.
func (lb *lbConfig) useLocalityWeights() bool {
	return lb.subset == nil || lb.subset.localityWeightAware
}

// subsetConfig is a compiled lb_subset_config.
type subsetConfig struct {
	fallback      clusterv3.Cluster_LbSubsetConfig_LbSubsetFallbackPolicy
	defaultSubset *structpb.Struct
	selectors     []subsetSelector

	localityWeightAware bool
	scaleLocalityWeight bool
	panicModeAny        bool
	listAsAny           bool
}

type subsetSelector struct {
	keys         []string // sorted
	fallback     clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector_LbSubsetSelectorFallbackPolicy
	fallbackKeys []string
}

func subsetConfigOf(sc *clusterv3.Cluster_LbSubsetConfig) *subsetConfig {
	c := &subsetConfig{
		fallback:            sc.GetFallbackPolicy(),
		defaultSubset:       sc.GetDefaultSubset(),
		localityWeightAware: sc.GetLocalityWeightAware(),
		scaleLocalityWeight: sc.GetScaleLocalityWeight(),
		panicModeAny:        sc.GetPanicModeAny(),
		listAsAny:           sc.GetListAsAny(),
	}
	for _, s := range sc.GetSubsetSelectors() {
		keys := slices.Clone(s.GetKeys())
		sort.Strings(keys)
		c.selectors = append(c.selectors, subsetSelector{keys: keys, fallback: s.GetFallbackPolicy(), fallbackKeys: s.GetFallbackKeysSubset()})
	}
	return c
}

// selector returns the selector whose keys are exactly those of subset.
func (c *subsetConfig) selector(subset *structpb.Struct) *subsetSelector {
	keys := sortedKeys(subset)
	for i := range c.selectors {
		if slices.Equal(c.selectors[i].keys, keys) {
			return &c.selectors[i]
		}
	}
	return nil
}

func sortedKeys(s *structpb.Struct) []string {
	keys := make([]string, 0, len(s.GetFields()))
	for k := range s.GetFields() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// selectEndpoints returns the endpoints of cl that a route with the given
// subset (its metadata_match under envoy.lb) balances over, and how they
// were chosen when a fallback applied ("" otherwise). An empty result
// carries the reason in the error text.
//
// Without lb_subset_config the subset filters the endpoints and nothing
// falls back (rmqmesh applies metadata_match even where Envoy, without
// subsets configured, would ignore it). With it, Envoy's subset load
// balancer decides: a subset exists when a selector has exactly the route's
// keys and some endpoint has the route's values; otherwise the selector's
// fallback_policy, else the cluster's, chooses the endpoints.
func selectEndpoints(cl *cluster, subset *structpb.Struct) (eps []Endpoint, how string, reason string) {
	sc := cl.lb.subset
	if sc == nil {
		eps = filterEndpoints(cl.endpoints, subset, false)
		if len(eps) == 0 {
			return nil, "", "no endpoint in subset"
		}
		return eps, "", ""
	}
	return sc.resolve(cl.endpoints, subset, 0)
}

func (c *subsetConfig) resolve(all []Endpoint, subset *structpb.Struct, depth int) ([]Endpoint, string, string) {
	var sel *subsetSelector
	if len(subset.GetFields()) > 0 {
		if sel = c.selector(subset); sel != nil {
			if eps := filterEndpoints(all, subset, c.listAsAny); len(eps) > 0 {
				return eps, "", ""
			}
		}
	}
	why := "no subset_selectors entry has the route's keys"
	switch {
	case len(subset.GetFields()) == 0:
		why = "the route names no subset"
	case sel != nil:
		why = "no endpoint in subset"
	}
	if sel != nil {
		switch sel.fallback {
		case clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector_NO_FALLBACK:
			return nil, "", why + " (subset selector fallback_policy NO_FALLBACK)"
		case clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector_ANY_ENDPOINT:
			return slices.Clone(all), why + "; selector fallback_policy ANY_ENDPOINT: every endpoint", ""
		case clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector_DEFAULT_SUBSET:
			return c.defaultEndpoints(all, why+"; selector fallback_policy DEFAULT_SUBSET")
		case clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector_KEYS_SUBSET:
			reduced := keepKeys(subset, sel.fallbackKeys)
			// Each step drops keys, so this ends; an unchanged key set
			// would loop, so it falls through to the cluster's policy.
			if len(reduced.GetFields()) > 0 && len(reduced.GetFields()) < len(subset.GetFields()) && depth < 8 {
				eps, how, reason := c.resolve(all, reduced, depth+1)
				prefix := why + "; selector fallback_policy KEYS_SUBSET " + subsetText(reduced)
				if how != "" {
					how = prefix + "; " + how
				} else if len(eps) > 0 {
					how = prefix
				}
				if reason != "" {
					reason = prefix + ": " + reason
				}
				return eps, how, reason
			}
		}
	}
	switch c.fallback {
	case clusterv3.Cluster_LbSubsetConfig_ANY_ENDPOINT:
		return slices.Clone(all), why + "; fallback_policy ANY_ENDPOINT: every endpoint", ""
	case clusterv3.Cluster_LbSubsetConfig_DEFAULT_SUBSET:
		return c.defaultEndpoints(all, why+"; fallback_policy DEFAULT_SUBSET")
	}
	return nil, "", why + " (lb_subset_config fallback_policy NO_FALLBACK)"
}

// defaultEndpoints applies DEFAULT_SUBSET: the endpoints matching
// default_subset (every endpoint for an empty one); none behaves as
// NO_FALLBACK unless panic_mode_any.
func (c *subsetConfig) defaultEndpoints(all []Endpoint, why string) ([]Endpoint, string, string) {
	what := why + " " + subsetText(c.defaultSubset)
	if eps := filterEndpoints(all, c.defaultSubset, c.listAsAny); len(eps) > 0 {
		return eps, what, ""
	}
	if c.panicModeAny {
		return slices.Clone(all), what + " matches no endpoint; panic_mode_any: every endpoint", ""
	}
	return nil, "", what + " matches no endpoint, which is NO_FALLBACK"
}

// keepKeys returns the fields of s named in keys.
func keepKeys(s *structpb.Struct, keys []string) *structpb.Struct {
	out := &structpb.Struct{Fields: map[string]*structpb.Value{}}
	for _, k := range keys {
		if v, ok := s.GetFields()[k]; ok {
			out.Fields[k] = v
		}
	}
	return out
}

func filterEndpoints(all []Endpoint, subset *structpb.Struct, listAsAny bool) []Endpoint {
	var out []Endpoint
	for i := range all {
		if inSubset(&all[i], subset, listAsAny) {
			out = append(out, all[i])
		}
	}
	return out
}

// inSubset reports whether an endpoint's envoy.lb metadata holds every key of
// the subset with an equal value; with listAsAny, a list value matches when
// any of its elements does.
func inSubset(ep *Endpoint, subset *structpb.Struct, listAsAny bool) bool {
	for k, want := range subset.GetFields() {
		got, ok := ep.lb.GetFields()[k]
		if !ok {
			return false
		}
		if proto.Equal(got, want) {
			continue
		}
		if l, isList := got.GetKind().(*structpb.Value_ListValue); listAsAny && isList && slices.ContainsFunc(l.ListValue.GetValues(), func(v *structpb.Value) bool { return proto.Equal(v, want) }) {
			continue
		}
		return false
	}
	return true
}

// describe renders the settings in force for dumps, e.g.
// "overprovisioning 140%, locality weighted, subsets fallback ANY_ENDPOINT".
func (lb *lbConfig) describe() string {
	parts := []string{fmt.Sprintf("overprovisioning %d%%", lb.overprovisioning)}
	if lb.weightedPriorityHealth {
		parts = append(parts, "weighted priority health")
	}
	if lb.localityWeighted {
		parts = append(parts, "locality weighted")
	}
	if lb.zonePercent != 100 || lb.zoneMinSize != defaultZoneMinSize {
		parts = append(parts, fmt.Sprintf("zone routing %d%% from %d brokers", lb.zonePercent, lb.zoneMinSize))
	}
	if sc := lb.subset; sc != nil {
		parts = append(parts, "subsets fallback "+sc.fallback.String())
	}
	return strings.Join(parts, ", ")
}
