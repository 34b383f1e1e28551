package routing

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// Defaults for broker metadata that an endpoint leaves out.
const (
	// DefaultPerm is the perm of a broker endpoint without
	// [wellknown.PermKey]: read and write.
	DefaultPerm = remoting.PermRead | remoting.PermWrite
	// DefaultQueueNums is the read and write queue count of a broker
	// endpoint without [wellknown.ReadQueueNumKey] /
	// [wellknown.WriteQueueNumKey] (the broker's defaultTopicQueueNums).
	DefaultQueueNums int32 = 8
)

// DataPath says how a client reaches the brokers of a cluster: what a
// cluster requests with its [wellknown.DataPathKey] knob, or what is in force.
type DataPath uint8

const (
	// DataPathUnset is what a cluster without the knob requests: rmqmesh
	// chooses, the intercept path where it runs the relay, direct otherwise.
	// It is never in force.
	DataPathUnset DataPath = iota
	// DataPathDirect hands the real broker addresses to the client.
	DataPathDirect
	// DataPathIntercept routes every broker RPC through in-process relays
	// that listen on virtual loopback addresses.
	DataPathIntercept
)

// String returns "unset", "direct" or "intercept".
func (d DataPath) String() string {
	switch d {
	case DataPathDirect:
		return wellknown.DataPathDirect
	case DataPathIntercept:
		return wellknown.DataPathIntercept
	case DataPathUnset:
		return "unset"
	}
	return "DataPath(" + strconv.Itoa(int(d)) + ")"
}

// MarshalText implements encoding.TextMarshaler (for dumps).
func (d DataPath) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// requestedDataPath reads a cluster's data path knob.
func requestedDataPath(c *clusterv3.Cluster) (DataPath, error) {
	v, err := wellknown.ParseDataPath(c.GetMetadata())
	switch {
	case err != nil:
		return DataPathUnset, err
	case v == wellknown.DataPathDirect:
		return DataPathDirect, nil
	case v == wellknown.DataPathIntercept:
		return DataPathIntercept, nil
	}
	return DataPathUnset, nil
}

// dataPathInForce is the path a cluster requesting requested is served on:
// intercept, the default, only where the caller runs the relay.
func dataPathInForce(requested DataPath, interceptAvailable bool) DataPath {
	if interceptAvailable && requested != DataPathDirect {
		return DataPathIntercept
	}
	return DataPathDirect
}

// Locality is the region/zone/sub-zone of an endpoint or of the node.
type Locality struct {
	Region  string `json:"region,omitempty"`
	Zone    string `json:"zone,omitempty"`
	SubZone string `json:"sub_zone,omitempty"`
}

func localityOf(l *corev3.Locality) Locality {
	return Locality{Region: l.GetRegion(), Zone: l.GetZone(), SubZone: l.GetSubZone()}
}

// Endpoint is one resolved endpoint of a cluster: a broker (BrokerName set)
// or a nameserver (BrokerName empty).
type Endpoint struct {
	// Address is "host:port", IPv6 hosts in brackets.
	Address string `json:"address"`
	// BrokerName, BrokerID, ClusterName, Perm, ReadQueueNums and
	// WriteQueueNums come from the endpoint metadata; ClusterName defaults
	// to the xDS cluster's name, Perm to [DefaultPerm] and the queue counts
	// to [DefaultQueueNums].
	BrokerName  string `json:"broker_name,omitempty"`
	BrokerID    int64  `json:"broker_id"`
	ClusterName string `json:"cluster_name,omitempty"`
	// Perm is a combination of [remoting.PermRead] and [remoting.PermWrite].
	Perm           int32 `json:"perm,omitempty"`
	ReadQueueNums  int32 `json:"read_queue_num,omitempty"`
	WriteQueueNums int32 `json:"write_queue_num,omitempty"`
	// Weight is the endpoint's load_balancing_weight (default 1). It splits
	// the share of the endpoint's locality (or, without locality weights,
	// of its priority) between its endpoints.
	Weight uint32 `json:"weight"`
	// LocalityWeight is the locality's load_balancing_weight, 0 if unset:
	// the locality's share of its priority (see the package doc).
	LocalityWeight uint32 `json:"locality_weight,omitempty"`
	// Locality and Priority are those of the endpoint's LocalityLbEndpoints.
	Locality Locality `json:"locality"`
	Priority uint32   `json:"priority,omitempty"`
	// Health is the EDS health status. Healthy is true for HEALTHY and
	// UNKNOWN, Degraded for DEGRADED; both may take traffic, a degraded
	// endpoint only when there are not enough healthy ones (Envoy's rule).
	Health   corev3.HealthStatus `json:"-"`
	Healthy  bool                `json:"healthy"`
	Degraded bool                `json:"degraded,omitempty"`

	lb       *structpb.Struct // envoy.lb metadata, for subset matching
	locality int              // index of the endpoint's LocalityLbEndpoints
}

// available reports whether the endpoint may take traffic at all: healthy
// or degraded.
func (e *Endpoint) available() bool { return e.Healthy || e.Degraded }

// Readable reports whether the endpoint is healthy or degraded, has the read
// permission bit and at least one read queue.
func (e *Endpoint) Readable() bool {
	return e.available() && e.Perm&remoting.PermRead != 0 && e.ReadQueueNums > 0
}

// Writable reports whether the endpoint is a healthy or degraded master
// (BrokerID 0) with the write permission bit and at least one write queue.
func (e *Endpoint) Writable() bool {
	return e.available() && e.writeEligible()
}

// writeEligible reports whether the endpoint's configuration lets it take
// writes, whatever its health: a master with the write bit and write queues.
// The write picker counts such endpoints as its hosts.
func (e *Endpoint) writeEligible() bool {
	return e.BrokerID == remoting.MasterID && e.Perm&remoting.PermWrite != 0 && e.WriteQueueNums > 0
}

// healthRank orders endpoints healthy, degraded, unavailable.
func (e *Endpoint) healthRank() int {
	switch {
	case e.Healthy:
		return 0
	case e.Degraded:
		return 1
	}
	return 2
}

// BrokerGroup is a RocketMQ broker: all endpoints that share a brokerName
// within one cluster (subset), the master (id 0) first.
type BrokerGroup struct {
	// Name is the brokerName.
	Name string `json:"broker_name"`
	// Members are sorted by BrokerID; among endpoints with the same id the
	// healthy ones come first, then lower priority, then EDS order.
	Members []Endpoint `json:"members"`
}

// Member returns the preferred endpoint with the given broker id: the first
// healthy one, else the first degraded one, else the first one.
func (g *BrokerGroup) Member(id int64) (*Endpoint, bool) {
	for i := range g.Members {
		if g.Members[i].BrokerID == id {
			return &g.Members[i], true
		}
	}
	return nil, false
}

// Master returns the preferred master endpoint (id 0), if any.
func (g *BrokerGroup) Master() (*Endpoint, bool) { return g.Member(0) }

// Writable reports whether the broker's master is writable.
func (g *BrokerGroup) Writable() bool {
	m, ok := g.Master()
	return ok && m.Writable()
}

// Readable reports whether any member is readable.
func (g *BrokerGroup) Readable() bool {
	for i := range g.Members {
		if g.Members[i].Readable() {
			return true
		}
	}
	return false
}

// head is the member whose cluster name and queue counts describe the group:
// the master if there is one, else the lowest id.
func (g *BrokerGroup) head() *Endpoint { return &g.Members[0] }

// cluster is a resolved xDS cluster.
type cluster struct {
	name        string
	requested   DataPath   // the cluster's knob
	dataPath    DataPath   // in force: direct or intercept
	err         error      // malformed endpoints or knobs (KindInvalidCluster)
	hasCLA      bool       // a ClusterLoadAssignment (or inline load_assignment) exists
	nameservers bool       // endpoints have no broker_name
	endpoints   []Endpoint // in EDS order
	lb          lbConfig
}

func resolveCluster(name string, c *clusterv3.Cluster, endpoints map[string]*endpointv3.ClusterLoadAssignment, interceptAvailable, tlsRequired bool) *cluster {
	cl := &cluster{name: name}
	requested, err := requestedDataPath(c)
	cl.requested, cl.dataPath = requested, dataPathInForce(requested, interceptAvailable)
	if err != nil {
		cl.err = err
		return cl
	}
	if tlsRequired && c.GetTransportSocket() == nil {
		cl.err = errors.New("no transport_socket, and this process requires TLS to every cluster")
		return cl
	}
	if c.GetTransportSocket() != nil && cl.dataPath == DataPathDirect {
		// Handing the client real addresses would make it connect in
		// plaintext where the control plane asked for TLS.
		cl.err = fmt.Errorf("transport_socket asks for TLS, which only the %s data path provides (the official client cannot speak TLS), but the cluster is served %s here", DataPathIntercept, DataPathDirect)
		return cl
	}
	cl.lb = lbConfigOf(c)
	cla, ok := endpoints[name]
	if !ok {
		if sn := c.GetEdsClusterConfig().GetServiceName(); sn != "" {
			cla, ok = endpoints[sn]
		}
	}
	if !ok && c.GetLoadAssignment() != nil {
		cla, ok = c.GetLoadAssignment(), true
	}
	if !ok || cla == nil {
		return cl
	}
	cl.hasCLA = true
	cl.lb.applyPolicy(cla.GetPolicy())
	brokers, nameservers := 0, 0
	for li, lle := range cla.GetEndpoints() {
		lbs := lle.GetLbEndpoints()
		//lint:ignore SA1019 the lb_config oneof form is still accepted by Envoy.
		if l := lle.GetLoadBalancerEndpoints(); l != nil {
			lbs = append(lbs[:len(lbs):len(lbs)], l.GetLbEndpoints()...)
		}
		for ei, lbe := range lbs {
			ep, err := resolveEndpoint(name, lle, lbe)
			ep.locality = li
			if err != nil {
				cl.err = fmt.Errorf("endpoints[%d].lb_endpoints[%d]: %w", li, ei, err)
				return cl
			}
			if ep.BrokerName == "" {
				nameservers++
			} else {
				brokers++
			}
			cl.endpoints = append(cl.endpoints, ep)
		}
	}
	if brokers > 0 && nameservers > 0 {
		cl.err = fmt.Errorf("mixes %d broker endpoints with %d endpoints without %q (nameservers)", brokers, nameservers, wellknown.BrokerNameKey)
		return cl
	}
	cl.nameservers = nameservers > 0
	return cl
}

func resolveEndpoint(clusterName string, lle *endpointv3.LocalityLbEndpoints, lbe *endpointv3.LbEndpoint) (Endpoint, error) {
	ep := Endpoint{
		Weight:   1,
		Locality: localityOf(lle.GetLocality()),
		Priority: lle.GetPriority(),
		Health:   lbe.GetHealthStatus(),
		lb:       lbe.GetMetadata().GetFilterMetadata()[wellknown.SubsetMetadataNamespace],
	}
	if w := lle.GetLoadBalancingWeight(); w != nil {
		ep.LocalityWeight = w.GetValue()
	}
	ep.Healthy = ep.Health == corev3.HealthStatus_HEALTHY || ep.Health == corev3.HealthStatus_UNKNOWN
	ep.Degraded = ep.Health == corev3.HealthStatus_DEGRADED
	sa := lbe.GetEndpoint().GetAddress().GetSocketAddress()
	if sa == nil || sa.GetAddress() == "" {
		return ep, fmt.Errorf("endpoint has no socket address")
	}
	ep.Address = net.JoinHostPort(sa.GetAddress(), strconv.FormatUint(uint64(sa.GetPortValue()), 10))
	if w := lbe.GetLoadBalancingWeight(); w != nil {
		// Envoy's proto requires at least 1 and gRPC NACKs "an endpoint with
		// zero weight": a broker weighted 0 is a mistake, not a drain.
		if w.GetValue() == 0 {
			return ep, fmt.Errorf("endpoint %q: load_balancing_weight 0 (Envoy and gRPC require at least 1; mark the endpoint DRAINING or remove it to take it out of service)", ep.Address)
		}
		ep.Weight = w.GetValue()
	}

	md := lbe.GetMetadata().GetFilterMetadata()
	rmq, lb := md[wellknown.BrokerMetadataNamespace].GetFields(), ep.lb.GetFields()
	get := func(k string) (*structpb.Value, bool) {
		if v, ok := rmq[k]; ok {
			return v, true
		}
		v, ok := lb[k]
		return v, ok
	}
	if v, ok := get(wellknown.BrokerNameKey); ok {
		s, ok := v.GetKind().(*structpb.Value_StringValue)
		if !ok {
			return ep, fmt.Errorf("endpoint %q: %q must be a string, not %s", ep.Address, wellknown.BrokerNameKey, valueText(v))
		}
		ep.BrokerName = s.StringValue
	}
	if ep.BrokerName == "" {
		return ep, nil // a nameserver
	}
	ep.ClusterName, ep.Perm, ep.ReadQueueNums, ep.WriteQueueNums = clusterName, DefaultPerm, DefaultQueueNums, DefaultQueueNums
	if v, ok := get(wellknown.ClusterNameKey); ok {
		s, ok := v.GetKind().(*structpb.Value_StringValue)
		if !ok {
			return ep, fmt.Errorf("endpoint %q: %q must be a string, not %s", ep.Address, wellknown.ClusterNameKey, valueText(v))
		}
		if s.StringValue != "" {
			ep.ClusterName = s.StringValue
		}
	}
	ints := []struct {
		key string
		dst func(int64)
		max int64
	}{
		{wellknown.BrokerIDKey, func(n int64) { ep.BrokerID = n }, math.MaxInt64},
		{wellknown.PermKey, func(n int64) { ep.Perm = int32(n) }, 7},
		{wellknown.ReadQueueNumKey, func(n int64) { ep.ReadQueueNums = int32(n) }, math.MaxInt32},
		{wellknown.WriteQueueNumKey, func(n int64) { ep.WriteQueueNums = int32(n) }, math.MaxInt32},
	}
	for _, f := range ints {
		v, ok := get(f.key)
		if !ok {
			continue
		}
		n, ok := intValue(v)
		if !ok || n < 0 || n > f.max {
			return ep, fmt.Errorf("endpoint %q: %q must be an integer in [0, %d], not %s", ep.Address, f.key, f.max, valueText(v))
		}
		f.dst(n)
	}
	return ep, nil
}

// intValue accepts integral numbers and decimal strings.
func intValue(v *structpb.Value) (int64, bool) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if f != math.Trunc(f) || math.IsInf(f, 0) || f > math.MaxInt64 || f < math.MinInt64 {
			return 0, false
		}
		return int64(f), true
	case *structpb.Value_StringValue:
		n, err := strconv.ParseInt(k.StringValue, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// valueText renders a structpb value as compact JSON (deterministic).
func valueText(v *structpb.Value) string {
	b, err := json.Marshal(v.AsInterface())
	if err != nil {
		return "?"
	}
	return string(b)
}

// subsetText renders a subset as `{k1="v1",k2=2}`, keys sorted; "{}" for the
// whole cluster.
func subsetText(s *structpb.Struct) string {
	keys := make([]string, 0, len(s.GetFields()))
	for k := range s.GetFields() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(valueText(s.GetFields()[k]))
	}
	b.WriteByte('}')
	return b.String()
}

// groupBrokers groups broker endpoints by brokerName, sorted by name; members
// sorted by id, healthy first, then degraded, then priority, then EDS order.
func groupBrokers(eps []Endpoint) []BrokerGroup {
	byName := make(map[string][]Endpoint)
	for _, ep := range eps {
		byName[ep.BrokerName] = append(byName[ep.BrokerName], ep)
	}
	groups := make([]BrokerGroup, 0, len(byName))
	for name, ms := range byName {
		sort.SliceStable(ms, func(i, j int) bool {
			a, b := &ms[i], &ms[j]
			if a.BrokerID != b.BrokerID {
				return a.BrokerID < b.BrokerID
			}
			if ra, rb := a.healthRank(), b.healthRank(); ra != rb {
				return ra < rb
			}
			return a.Priority < b.Priority
		})
		groups = append(groups, BrokerGroup{Name: name, Members: ms})
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	return groups
}
