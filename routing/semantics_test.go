package routing

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const degraded = corev3.HealthStatus_DEGRADED

// brokers returns n endpoints named prefix-0 … prefix-(n-1) with health h.
func brokers(prefix string, n int, h corev3.HealthStatus) []ep {
	out := make([]ep, n)
	for i := range out {
		out[i] = ep{addr: fmt.Sprintf("10.%d.%d.%d", len(prefix), i/250, i%250+1), broker: fmt.Sprintf("%s-%d", prefix, i), health: h}
	}
	return out
}

// checkShares compares the route's computed write shares with want, then the
// shares drawn over n deterministic picks, allowing five standard deviations
// of a binomial draw per broker.
func checkShares(t *testing.T, s *Snapshot, topic string, want map[string]float64) {
	t.Helper()
	r, err := s.Match(topic, 10, nil)
	if err != nil {
		t.Fatalf("Match(%q) failed: %v", topic, err)
	}
	computed := r.WriteShares()
	for b := range merge(computed, want) {
		if math.Abs(computed[b]-want[b]) > 1e-9 {
			t.Errorf("WriteShares()[%q] = %.6f, want %.6f", b, computed[b], want[b])
		}
	}
	const n = 200000
	got := pickShares(t, s, topic, n)
	names := map[string]bool{}
	for b := range got {
		names[b] = true
	}
	for b := range want {
		names[b] = true
	}
	var bad []string
	for b := range names {
		p := want[b]
		tol := 5*math.Sqrt(p*(1-p)/n) + 1e-9
		if math.Abs(got[b]-p) > tol {
			bad = append(bad, fmt.Sprintf("%s: got %.4f, want %.4f ± %.4f", b, got[b], p, tol))
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("write shares differ:\n  %s", strings.Join(bad, "\n  "))
	}
}

// uniform spreads share evenly over the named brokers.
func uniform(share float64, names ...string) map[string]float64 {
	m := map[string]float64{}
	for _, n := range names {
		m[n] = share / float64(len(names))
	}
	return m
}

func merge(ms ...map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, m := range ms {
		for k, v := range m {
			out[k] += v
		}
	}
	return out
}

// Issue 10 items 5–7 and issue 12 item 16: each case states the share every
// broker gets and the Envoy or gRPC rule it follows.
func TestSnapshot_WriteSharesFollowEnvoyAndGRPC(t *testing.T) {
	nodeZ1 := &corev3.Locality{Region: "r1", Zone: "z1"}
	// twoZones is one broker in each of two zones, without locality weights.
	twoZones := []loc{
		{region: "r1", zone: "z1", eps: []ep{{addr: "10.0.0.1", broker: "a"}}},
		{region: "r1", zone: "z2", eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
	}
	zoneAware := func(z *clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig) func(*Input) {
		return func(in *Input) {
			in.Clusters["brokers"].CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{
				LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig_{ZoneAwareLbConfig: z},
			}
		}
	}
	tests := []struct {
		name string
		rule string
		node *corev3.Locality
		locs []loc
		edit func(*Input) // cluster or assignment settings
		want map[string]float64
	}{
		{
			name: "locality weight zero",
			rule: "gRPC drops a locality with weight 0 (Envoy rejects it); the other locality takes everything",
			locs: []loc{
				{region: "r1", zone: "z1", weight: 1, eps: []ep{{addr: "10.0.0.1", broker: "a"}}},
				{region: "r1", zone: "z2", weight: 0, eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
				{region: "r1", zone: "z3", weight: 2, eps: []ep{{addr: "10.0.0.3", broker: "c"}}},
			},
			want: map[string]float64{"a": 1.0 / 3, "c": 2.0 / 3},
		},
		{
			name: "locality weight is the locality's share",
			rule: "Envoy locality weighted LB and gRPC weighted_target: a locality's weight is its share, whatever its size",
			locs: []loc{
				{region: "r1", zone: "z1", weight: 1, eps: []ep{{addr: "10.0.0.1", broker: "a1"}, {addr: "10.0.0.2", broker: "a2"}, {addr: "10.0.0.3", broker: "a3"}}},
				{region: "r1", zone: "z2", weight: 1, eps: []ep{{addr: "10.0.0.4", broker: "b"}}},
			},
			want: merge(uniform(0.5, "a1", "a2", "a3"), map[string]float64{"b": 0.5}),
		},
		{
			name: "endpoint weights split the locality's share",
			rule: "Envoy and gRPC: endpoint weights are relative within their locality",
			locs: []loc{
				{region: "r1", zone: "z1", weight: 1, eps: []ep{{addr: "10.0.0.1", broker: "a1", weight: 3}, {addr: "10.0.0.2", broker: "a2", weight: 1}}},
				{region: "r1", zone: "z2", weight: 1, eps: []ep{{addr: "10.0.0.3", broker: "b", weight: 100}}},
			},
			want: map[string]float64{"a1": 0.375, "a2": 0.125, "b": 0.5},
		},
		{
			name: "locality weights beat the node's zone",
			rule: "Envoy: zone aware routing does not apply with locality weighted LB",
			node: nodeZ1,
			locs: []loc{
				{region: "r1", zone: "z1", weight: 1, eps: []ep{{addr: "10.0.0.1", broker: "a"}}},
				{region: "r1", zone: "z2", weight: 99, eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
			},
			want: map[string]float64{"a": 0.01, "b": 0.99},
		},
		{
			name: "no locality weights: the node's zone",
			rule: "zone preference (rmqmesh's form of Envoy zone aware routing) when no locality weights are set",
			node: nodeZ1,
			locs: twoZones,
			want: map[string]float64{"a": 1},
		},
		{
			name: "locality partly unavailable",
			rule: "Envoy: effective locality weight = weight × min(100, 1.4 × available/total); Envoy's table: 50% healthy X (weight 1) vs Y (weight 2) gives 26/74",
			locs: []loc{
				{region: "r1", zone: "x", weight: 1, eps: []ep{{addr: "10.0.0.1", broker: "x1"}, {addr: "10.0.0.2", broker: "x2", health: unhealthy}}},
				{region: "r1", zone: "y", weight: 2, eps: []ep{{addr: "10.0.0.3", broker: "y"}}},
			},
			want: map[string]float64{"x1": 70.0 / 270, "y": 200.0 / 270},
		},
		{
			name: "priority spills by health",
			rule: "Envoy priority load: P0 with 1 of 2 hosts healthy has health 70 and takes 70%, P1 the rest",
			locs: []loc{
				{region: "r1", zone: "z1", priority: 0, eps: []ep{{addr: "10.0.0.1", broker: "a"}, {addr: "10.0.0.2", broker: "b", health: unhealthy}}},
				{region: "r1", zone: "z2", priority: 1, eps: []ep{{addr: "10.0.0.3", broker: "c"}}},
			},
			want: map[string]float64{"a": 0.7, "c": 0.3},
		},
		{
			name: "priority overprovisioned",
			rule: "Envoy priority load: 4 of 5 healthy is health 100 (80 × 1.4 capped), P1 gets nothing",
			locs: []loc{
				{priority: 0, eps: append(brokers("p", 4, healthy), ep{addr: "10.9.0.1", broker: "p-sick", health: unhealthy})},
				{priority: 1, eps: []ep{{addr: "10.9.0.2", broker: "q"}}},
			},
			want: uniform(1, "p-0", "p-1", "p-2", "p-3"),
		},
		{
			name: "degraded when not enough healthy",
			rule: "Envoy degraded hosts: 1 healthy + 1 degraded is health 70 and degraded 70: 70% healthy, 30% degraded",
			locs: []loc{{eps: []ep{{addr: "10.0.0.1", broker: "a"}, {addr: "10.0.0.2", broker: "b", health: degraded}}}},
			want: map[string]float64{"a": 0.7, "b": 0.3},
		},
		{
			name: "degraded by Envoy's table",
			rule: "Envoy degraded hosts table: 71%/29%/0% healthy/degraded/unhealthy gives 99% / 1%",
			locs: []loc{{eps: append(brokers("h", 71, healthy), brokers("d", 29, degraded)...)}},
			want: merge(uniform(0.99, brokerNames("h", 71)...), uniform(0.01, brokerNames("d", 29)...)),
		},
		{
			name: "degraded before lower priority healthy",
			rule: "Envoy: healthy load is assigned over every priority first, then degraded load",
			locs: []loc{
				{priority: 0, eps: []ep{{addr: "10.0.0.1", broker: "a"}, {addr: "10.0.0.2", broker: "b", health: degraded}}},
				{priority: 1, eps: []ep{{addr: "10.0.0.3", broker: "c"}}},
			},
			want: map[string]float64{"a": 0.7, "c": 0.3},
		},
		{
			name: "only degraded",
			rule: "Envoy degraded hosts: with no healthy host, degraded hosts take everything",
			locs: []loc{{eps: []ep{{addr: "10.0.0.1", broker: "a", health: degraded}, {addr: "10.0.0.2", broker: "b", health: unhealthy}}}},
			want: map[string]float64{"a": 1},
		},
		{
			name: "overprovisioning factor",
			rule: "Envoy: ClusterLoadAssignment.policy.overprovisioning_factor 100 makes 1 of 2 healthy a health of 50",
			locs: []loc{
				{priority: 0, eps: []ep{{addr: "10.0.0.1", broker: "a"}, {addr: "10.0.0.2", broker: "b", health: unhealthy}}},
				{priority: 1, eps: []ep{{addr: "10.0.0.3", broker: "c"}}},
			},
			edit: func(in *Input) {
				in.Endpoints["brokers"].Policy = &endpointv3.ClusterLoadAssignment_Policy{OverprovisioningFactor: wrapUint32(100)}
			},
			want: map[string]float64{"a": 0.5, "c": 0.5},
		},
		{
			name: "weighted priority health",
			rule: "Envoy: policy.weighted_priority_health counts weights: 3 of 4 healthy by weight is health 100",
			locs: []loc{
				{priority: 0, eps: []ep{{addr: "10.0.0.1", broker: "a", weight: 3}, {addr: "10.0.0.2", broker: "b", health: unhealthy}}},
				{priority: 1, eps: []ep{{addr: "10.0.0.3", broker: "c"}}},
			},
			edit: func(in *Input) {
				in.Endpoints["brokers"].Policy = &endpointv3.ClusterLoadAssignment_Policy{WeightedPriorityHealth: true}
			},
			want: map[string]float64{"a": 1},
		},
		{
			name: "locality_weighted_lb_config without weights",
			rule: "Envoy: locality weighted LB with no locality weights falls back to every host; no zone preference",
			node: nodeZ1,
			locs: twoZones,
			edit: func(in *Input) {
				in.Clusters["brokers"].CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{
					LocalityConfigSpecifier: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig_{LocalityWeightedLbConfig: &clusterv3.Cluster_CommonLbConfig_LocalityWeightedLbConfig{}},
				}
			},
			want: map[string]float64{"a": 0.5, "b": 0.5},
		},
		{
			name: "zone routing_enabled",
			rule: "Envoy: zone_aware_lb_config.routing_enabled 50% applies zone preference to half the picks",
			node: nodeZ1,
			locs: twoZones,
			edit: zoneAware(&clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig{RoutingEnabled: &typev3.Percent{Value: 50}}),
			want: map[string]float64{"a": 0.75, "b": 0.25},
		},
		{
			name: "zone min_cluster_size",
			rule: "Envoy: zone aware routing needs min_cluster_size hosts",
			node: nodeZ1,
			locs: twoZones,
			edit: zoneAware(&clusterv3.Cluster_CommonLbConfig_ZoneAwareLbConfig{MinClusterSize: wrapUint64(3)}),
			want: map[string]float64{"a": 0.5, "b": 0.5},
		},
		{
			name: "subsets ignore locality weights",
			rule: "Envoy: with lb_subset_config, locality weights apply only with locality_weight_aware",
			locs: []loc{
				{region: "r1", zone: "z1", weight: 3, eps: []ep{{addr: "10.0.0.1", broker: "a"}}},
				{region: "r1", zone: "z2", weight: 1, eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
			},
			edit: func(in *Input) {
				in.Clusters["brokers"].LbSubsetConfig = &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_ANY_ENDPOINT}
			},
			want: map[string]float64{"a": 0.5, "b": 0.5},
		},
		{
			name: "subsets with locality_weight_aware",
			rule: "Envoy: locality_weight_aware keeps locality weights in subsets",
			locs: []loc{
				{region: "r1", zone: "z1", weight: 3, eps: []ep{{addr: "10.0.0.1", broker: "a"}}},
				{region: "r1", zone: "z2", weight: 1, eps: []ep{{addr: "10.0.0.2", broker: "b"}}},
			},
			edit: func(in *Input) {
				in.Clusters["brokers"].LbSubsetConfig = &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_ANY_ENDPOINT, LocalityWeightAware: true}
			},
			want: map[string]float64{"a": 0.75, "b": 0.25},
		},
		{
			name: "subsets with scale_locality_weight",
			rule: "Envoy: scale_locality_weight scales a locality's weight by its share of hosts in the subset",
			locs: []loc{
				{region: "r1", zone: "z1", weight: 1, eps: []ep{{addr: "10.0.0.1", broker: "a1", lb: map[string]any{"v": "x"}}, {addr: "10.0.0.2", broker: "a2"}}},
				{region: "r1", zone: "z2", weight: 1, eps: []ep{{addr: "10.0.0.3", broker: "b", lb: map[string]any{"v": "x"}}}},
			},
			edit: func(in *Input) {
				in.Clusters["brokers"].LbSubsetConfig = &clusterv3.Cluster_LbSubsetConfig{
					SubsetSelectors:     []*clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector{{Keys: []string{"v"}}},
					LocalityWeightAware: true, ScaleLocalityWeight: true,
				}
				in.RouteConfig = rc("rc", rt(t, prefix(""), "brokers", map[string]any{"v": "x"}))
			},
			want: map[string]float64{"a1": 1.0 / 3, "b": 2.0 / 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("rule: %s", tc.rule)
			in := oneCluster(t, tc.locs...)
			in.Locality = tc.node
			if tc.edit != nil {
				tc.edit(&in)
			}
			checkShares(t, mustSnapshot(t, in), "orders", tc.want)
		})
	}
}

func brokerNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// Issue 10 item 4: Envoy rejects endpoint weights below 1 and gRPC NACKs "an
// endpoint with zero weight"; a snapshot built from such input (xdsclient NACKs
// it before) marks the cluster invalid instead of treating the weight as 1.
func TestSnapshot_EndpointWeightZeroIsInvalid(t *testing.T) {
	in := oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "a"}, {addr: "10.0.0.2", broker: "b"}}})
	in.Endpoints["brokers"].Endpoints[0].LbEndpoints[1].LoadBalancingWeight = wrapUint32(0)
	s := mustSnapshot(t, in)
	_, err := s.PickWriteBroker("orders", 1)
	if KindOf(err) != KindInvalidCluster || !strings.Contains(err.Error(), "load_balancing_weight") || !strings.Contains(err.Error(), "10.0.0.2") {
		t.Errorf("PickWriteBroker() error = %v, want kind %v naming the endpoint and load_balancing_weight", err, KindInvalidCluster)
	}
}

// subsetCluster is a cluster "brokers" with stable and canary brokers and the
// given lb_subset_config.
func subsetCluster(t *testing.T, cfg *clusterv3.Cluster_LbSubsetConfig, route map[string]any) Input {
	t.Helper()
	in := oneCluster(t, loc{eps: []ep{
		{addr: "10.0.0.1", broker: "s1", lb: map[string]any{"version": "stable"}},
		{addr: "10.0.0.2", broker: "s2", lb: map[string]any{"version": "stable", "zones": []any{"z1", "z2"}}},
		{addr: "10.0.0.3", broker: "c1", lb: map[string]any{"version": "canary", "stage": "beta"}},
	}})
	in.Clusters["brokers"].LbSubsetConfig = cfg
	in.RouteConfig = rc("rc", rt(t, prefix(""), "brokers", route))
	return in
}

// Issue 10 item 8: the cluster's lb_subset_config decides what a route whose
// subset matches no endpoint gets, as Envoy's subset load balancer does.
func TestSnapshot_SubsetFallbackPolicy(t *testing.T) {
	versionSel := []*clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector{{Keys: []string{"version"}}}
	tests := []struct {
		name    string
		rule    string
		cfg     *clusterv3.Cluster_LbSubsetConfig
		route   map[string]any
		want    map[string]float64
		wantErr Kind
	}{
		{
			name:  "ANY_ENDPOINT",
			rule:  "Envoy: no subset matches the route's metadata: balance over every endpoint",
			cfg:   &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_ANY_ENDPOINT, SubsetSelectors: versionSel},
			route: map[string]any{"version": "v9"},
			want:  uniform(1, "s1", "s2", "c1"),
		},
		{
			name:  "DEFAULT_SUBSET",
			rule:  "Envoy: no subset matches: balance over the endpoints matching default_subset",
			cfg:   &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_DEFAULT_SUBSET, DefaultSubset: mustStruct(t, map[string]any{"version": "stable"}), SubsetSelectors: versionSel},
			route: map[string]any{"version": "v9"},
			want:  uniform(1, "s1", "s2"),
		},
		{
			name:    "NO_FALLBACK",
			rule:    "Envoy: no subset matches: fail as if the cluster had no hosts",
			cfg:     &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_NO_FALLBACK, SubsetSelectors: versionSel},
			route:   map[string]any{"version": "v9"},
			wantErr: KindNoEndpoint,
		},
		{
			name:  "a matching subset is used",
			rule:  "Envoy: a subset with the route's exact keys and values exists",
			cfg:   &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_ANY_ENDPOINT, SubsetSelectors: versionSel},
			route: map[string]any{"version": "canary"},
			want:  map[string]float64{"c1": 1},
		},
		{
			name: "route without metadata takes the fallback",
			rule: "Envoy: with subsets configured, a route specifying no metadata initiates the fallback policy",
			cfg:  &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_DEFAULT_SUBSET, DefaultSubset: mustStruct(t, map[string]any{"version": "stable"}), SubsetSelectors: versionSel},
			want: uniform(1, "s1", "s2"),
		},
		{
			name:  "keys no selector defines",
			rule:  "Envoy: subsets exist only for the key sets of subset_selectors; other metadata falls back",
			cfg:   &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_DEFAULT_SUBSET, DefaultSubset: mustStruct(t, map[string]any{"version": "stable"}), SubsetSelectors: versionSel},
			route: map[string]any{"stage": "beta"},
			want:  uniform(1, "s1", "s2"),
		},
		{
			name: "selector fallback overrides",
			rule: "Envoy: a selector's own fallback_policy applies to routes with its keys",
			cfg: &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_NO_FALLBACK, SubsetSelectors: []*clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector{
				{Keys: []string{"version"}, FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector_ANY_ENDPOINT},
			}},
			route: map[string]any{"version": "v9"},
			want:  uniform(1, "s1", "s2", "c1"),
		},
		{
			name: "KEYS_SUBSET",
			rule: "Envoy: KEYS_SUBSET matches again with only fallback_keys_subset",
			cfg: &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_NO_FALLBACK, SubsetSelectors: []*clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector{
				{Keys: []string{"version", "stage"}, FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector_KEYS_SUBSET, FallbackKeysSubset: []string{"version"}},
				{Keys: []string{"version"}},
			}},
			route: map[string]any{"version": "canary", "stage": "gamma"},
			want:  map[string]float64{"c1": 1},
		},
		{
			name:    "DEFAULT_SUBSET that matches nothing",
			rule:    "Envoy: a default_subset matching no host behaves as NO_FALLBACK",
			cfg:     &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_DEFAULT_SUBSET, DefaultSubset: mustStruct(t, map[string]any{"version": "gone"}), SubsetSelectors: versionSel},
			route:   map[string]any{"version": "v9"},
			wantErr: KindNoEndpoint,
		},
		{
			name:  "list_as_any",
			rule:  "Envoy: list_as_any matches an endpoint whose value is a list holding the route's value",
			cfg:   &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_NO_FALLBACK, SubsetSelectors: []*clusterv3.Cluster_LbSubsetConfig_LbSubsetSelector{{Keys: []string{"zones"}}}, ListAsAny: true},
			route: map[string]any{"zones": "z2"},
			want:  map[string]float64{"s2": 1},
		},
		{
			name:  "panic_mode_any",
			rule:  "Envoy: panic_mode_any uses any host when the fallback subset is empty",
			cfg:   &clusterv3.Cluster_LbSubsetConfig{FallbackPolicy: clusterv3.Cluster_LbSubsetConfig_DEFAULT_SUBSET, DefaultSubset: mustStruct(t, map[string]any{"version": "gone"}), SubsetSelectors: versionSel, PanicModeAny: true},
			route: map[string]any{"version": "v9"},
			want:  uniform(1, "s1", "s2", "c1"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("rule: %s", tc.rule)
			s := mustSnapshot(t, subsetCluster(t, tc.cfg, tc.route))
			if tc.wantErr != KindUnknown {
				if _, err := s.PickWriteBroker("orders", 1); KindOf(err) != tc.wantErr || !strings.Contains(err.Error(), "fallback") {
					t.Errorf("PickWriteBroker() error = %v, want kind %v naming the fallback policy", err, tc.wantErr)
				}
				return
			}
			checkShares(t, s, "orders", tc.want)
		})
	}
}

func wrapUint32(v uint32) *wrapperspb.UInt32Value { return wrapperspb.UInt32(v) }

func wrapUint64(v uint64) *wrapperspb.UInt64Value { return wrapperspb.UInt64(v) }
