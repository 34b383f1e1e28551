package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// Policy is a validated policy file. It is immutable once returned by
// [Parse] or [Load].
type Policy struct {
	// Source names the file, for messages.
	Source string
	// Digest is a hash of the file's bytes: an unchanged file has the same
	// digest, so a reload of it is a no-op.
	Digest string
	// Listeners in file order.
	Listeners []Listener
	// Clusters in file order.
	Clusters []Cluster
	// Brokers holds labels and localities by broker name.
	Brokers map[string]BrokerInfo
}

// Listener is what clients resolving xds:///NAME get.
type Listener struct {
	Name string
	// RouteConfigName names the inline route configuration and the family
	// of per-topic ones; it defaults to Name.
	RouteConfigName string
	// OnDemand (topic_routes: on_demand, the default) serves a per-topic
	// route configuration for each topic a client asks for, built from the
	// nameservers' queue data for that topic; the listener itself then has
	// no inline routes. Without it (topic_routes: inline) the routes are in
	// the listener.
	OnDemand bool
	// RouteInfo says, for inline routes, where clients' route queries are
	// answered from.
	RouteInfo RouteInfo
	// Routes in match order.
	Routes []Route
	Pos    Pos
}

// RouteInfo says where the answer to a client's route query (code 105)
// comes from when routes are inline.
type RouteInfo uint8

const (
	// RouteInfoNameserver adds a first route sending code 105 to the
	// nameservers (rmqmesh forwards the query and applies the other routes
	// to the answer), so queue counts are each topic's own.
	RouteInfoNameserver RouteInfo = iota
	// RouteInfoSynthesize answers route queries from the clusters' endpoint
	// metadata alone, whose queue counts come from clusters[].queues: what
	// an Envoy sidecar does.
	RouteInfoSynthesize
)

// Route is one ordered route.
type Route struct {
	// Topic is how the route matches topics.
	Topic TopicMatch
	// Codes restricts the route to these request codes; empty is all.
	Codes []int32
	// Cluster is the policy cluster traffic goes to.
	Cluster string
	// Subset narrows the cluster to endpoints whose "envoy.lb" metadata has
	// these keys and values (broker keys or labels).
	Subset map[string]string
	Pos    Pos
}

// TopicMatch is a route's topic matcher.
type TopicMatch struct {
	Kind    resource.TopicMatchKind
	Pattern string
	re      *regexp.Regexp // compiled with ^(?:...)$, for RegexTopic
}

// Matches reports whether topic matches, as Envoy's StringMatcher would.
func (m TopicMatch) Matches(topic string) bool {
	switch m.Kind {
	case resource.ExactTopic:
		return topic == m.Pattern
	case resource.PrefixTopic:
		return strings.HasPrefix(topic, m.Pattern)
	case resource.RegexTopic:
		return m.re.MatchString(topic)
	}
	return true
}

// Cluster selects brokers and says how traffic reaches them.
type Cluster struct {
	Name string
	// Select chooses the brokers; every criterion set must hold.
	Select Selector
	// DataPath is "", "direct" or "intercept".
	DataPath string
	// LostBrokers says what becomes of a broker that stops registering.
	LostBrokers LostBrokers
	// Queues are the queue counts written into the cluster's endpoint
	// metadata when no topic's own counts apply (inline routes other than
	// those of an exact topic the nameservers know).
	Queues Queues
	// ConnectTimeout is the Envoy cluster's connect_timeout; 0 is the
	// default.
	ConnectTimeout time.Duration
	// Overrides by broker name.
	Overrides map[string]Override
	// Passed through as Envoy's fields; nil when unset.
	OutlierDetection *clusterv3.OutlierDetection
	CircuitBreakers  *clusterv3.CircuitBreakers
	TransportSocket  *corev3.TransportSocket
	// SendFailover is the cluster's rmqmesh send_failover knob, nil when
	// unset (the relay's defaults).
	SendFailover *wellknown.SendFailover
	Pos          Pos
}

// Selector chooses brokers. An empty selector chooses every broker.
type Selector struct {
	// ClusterName is the RocketMQ cluster name.
	ClusterName string
	// BrokerNames lists broker names.
	BrokerNames []string
	// Labels must all be among the broker's labels (the brokers section).
	Labels map[string]string
	// NamesPos is where BrokerNames is.
	NamesPos Pos
}

// LostBrokers is what a cluster does with a broker that stopped registering
// with the nameservers.
type LostBrokers uint8

const (
	// LostWithdraw drops its endpoints at the next poll (the default).
	LostWithdraw LostBrokers = iota
	// LostUnhealthy keeps its endpoints, marked UNHEALTHY, until the
	// control plane restarts.
	LostUnhealthy
)

// Queues are read and write queue counts.
type Queues struct{ Read, Write int }

// DefaultQueues are the counts of a cluster without queues: the broker's
// defaultTopicQueueNums.
var DefaultQueues = Queues{Read: 8, Write: 8}

// Perm is a permission override.
type Perm uint8

const (
	// PermUnset keeps what the nameservers say.
	PermUnset Perm = iota
	// PermReadWrite keeps what the nameservers say too; it exists so a file
	// can say so explicitly.
	PermReadWrite
	// PermReadOnly takes no writes.
	PermReadOnly
	// PermWriteOnly serves no reads.
	PermWriteOnly
	// PermNone takes neither.
	PermNone
)

// Mask returns the RocketMQ permission bits the override keeps.
func (p Perm) Mask() int {
	switch p {
	case PermReadOnly:
		return 4 | 1
	case PermWriteOnly:
		return 2 | 1
	case PermNone:
		return 1
	}
	return 7
}

// Override changes how one broker is served within a cluster.
type Override struct {
	// Weight is the endpoint weight; 0 leaves it unset (equal weights).
	Weight uint32
	// Perm narrows the broker's permission.
	Perm Perm
	// Locality replaces the brokers section's; empty parts are inherited.
	Region, Zone, SubZone string
	// Priority is the EDS priority of the broker's endpoints.
	Priority uint32
	// Drain marks the broker's endpoints DRAINING: rmqmesh sends it neither
	// writes nor reads. Make it read-only first to let consumers empty it.
	Drain bool
	Pos   Pos
}

// BrokerInfo is what the brokers section says of one broker name.
type BrokerInfo struct {
	Labels                map[string]string
	Region, Zone, SubZone string
	Pos                   Pos
}

// Pos is where something is in the policy file, for messages.
type Pos struct {
	File  string
	Line  int
	Field string
}

// String returns "file:line: field".
func (p Pos) String() string {
	return p.File + ":" + itoa(p.Line) + ": " + p.Field
}

// Listener returns the listener named name.
func (p *Policy) Listener(name string) (*Listener, bool) {
	for i := range p.Listeners {
		if p.Listeners[i].Name == name {
			return &p.Listeners[i], true
		}
	}
	return nil, false
}

// ListenerForRouteConfig returns the listener whose route configuration (or
// family of per-topic ones) is named rc.
func (p *Policy) ListenerForRouteConfig(rc string) (*Listener, bool) {
	for i := range p.Listeners {
		if p.Listeners[i].RouteConfigName == rc {
			return &p.Listeners[i], true
		}
	}
	return nil, false
}

// Cluster returns the cluster named name.
func (p *Policy) Cluster(name string) (*Cluster, bool) {
	for i := range p.Clusters {
		if p.Clusters[i].Name == name {
			return &p.Clusters[i], true
		}
	}
	return nil, false
}

// BrokerRef is a broker name the policy mentions, and where.
type BrokerRef struct {
	Name string
	Pos  Pos
}

// BrokerRefs lists every broker name the policy mentions: selectors,
// overrides and the brokers section, in file order of sections.
func (p *Policy) BrokerRefs() []BrokerRef {
	var out []BrokerRef
	for _, c := range p.Clusters {
		for _, n := range c.Select.BrokerNames {
			out = append(out, BrokerRef{n, c.Select.NamesPos})
		}
		for _, n := range slices.Sorted(maps.Keys(c.Overrides)) {
			out = append(out, BrokerRef{n, c.Overrides[n].Pos})
		}
	}
	for _, n := range slices.Sorted(maps.Keys(p.Brokers)) {
		out = append(out, BrokerRef{n, p.Brokers[n].Pos})
	}
	return out
}

// Digest returns the digest a policy parsed from b would have.
func Digest(b []byte) string { return digest(b) }

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// CheckBrokers returns an [*Error] for each broker name the policy mentions
// that known does not know, joined; nil when all are known. A control plane
// uses it to refuse an edit that names a broker no nameserver ever reported,
// most likely a typo.
func (p *Policy) CheckBrokers(known func(name string) bool) error {
	var errs []error
	reported := map[string]bool{}
	for _, r := range p.BrokerRefs() {
		if known(r.Name) || reported[r.Name+"\x00"+r.Pos.Field] {
			continue
		}
		reported[r.Name+"\x00"+r.Pos.Field] = true
		errs = append(errs, &Error{File: r.Pos.File, Line: r.Pos.Line, Field: r.Pos.Field,
			Msg: fmt.Sprintf("broker %q is not known to any nameserver", r.Name)})
	}
	return errors.Join(errs...)
}
