package routing

import (
	"fmt"
	"sort"
	"sync/atomic"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// Input is everything a [Snapshot] is built from. NewSnapshot does not
// modify or keep references to the maps; it keeps references to the protos,
// which must not be modified afterwards.
type Input struct {
	// Listener is the listener name, used in error messages and dumps.
	Listener string
	// RouteConfig is the RocketmqProxy filter's inline route configuration;
	// the fallback for every topic. May be nil.
	RouteConfig *rocketmqv3.RouteConfiguration
	// TopicRoutes holds on-demand route configurations by topic. A topic's
	// own routes are tried first; when none of them matches, the inline
	// RouteConfig routes are tried.
	TopicRoutes map[string]*rocketmqv3.RouteConfiguration
	// Clusters holds the CDS clusters by name.
	Clusters map[string]*clusterv3.Cluster
	// Endpoints holds the EDS assignments by cluster name (a cluster's
	// eds_cluster_config.service_name is tried next, then its inline
	// load_assignment).
	Endpoints map[string]*endpointv3.ClusterLoadAssignment
	// Locality is the node's locality; without locality weights, writes
	// prefer brokers in the same region and zone.
	Locality *corev3.Locality
	// Versions holds resource versions by type or name, shown in dumps only.
	Versions map[string]string
	// InterceptAvailable says the caller runs the intercepting relay. Then a
	// cluster is served on [DataPathIntercept] unless it requests
	// [DataPathDirect]; without it every cluster is served direct, whatever
	// it requests. [Route.DataPath] and dumps say what is in force.
	InterceptAvailable bool
	// TLSRequired makes every cluster without a transport_socket invalid
	// (KindInvalidCluster), so that no route hands out, or relays to, a
	// broker reached in plaintext: the caller's guarantee against a control
	// plane that leaves TLS out.
	TLSRequired bool
}

// Snapshot is an immutable, compiled route table. All methods are safe for
// concurrent use and take no locks; methods on a nil *Snapshot return
// [KindNoSnapshot] errors.
type Snapshot struct {
	// All fields are immutable after NewSnapshot returns.
	listener string
	inline   *routeTable
	topics   map[string]*routeTable
	clusters map[string]*cluster
	locality Locality
	versions map[string]string
	// intercept is Input.InterceptAvailable.
	intercept bool
}

// Table holds the current [Snapshot]. Readers call Load on every request;
// the xDS watcher calls Store with a new snapshot on every update. The zero
// Table is ready to use and holds nil.
type Table struct {
	p atomic.Pointer[Snapshot]
}

// Load returns the current snapshot, nil before the first Store. It is a
// single atomic load.
func (t *Table) Load() *Snapshot { return t.p.Load() }

// Store replaces the current snapshot. Readers that loaded the previous one
// keep using it until they load again.
func (t *Table) Store(s *Snapshot) { t.p.Store(s) }

// routeTable is one compiled RouteConfiguration.
type routeTable struct {
	name   string
	routes []*Route
	// exact maps exact, case-sensitive topic patterns to route indexes;
	// fold maps lowercased exact ignore_case patterns; scan lists every
	// other route. All index lists are ascending, so merging them preserves
	// first-match-wins order.
	exact map[string][]int32
	fold  map[string][]int32
	scan  []int32
}

// Route is one compiled route. It is immutable and shared; the slices its
// methods return must not be modified.
type Route struct {
	// Immutable after construction.
	where   string // `route 2 in listener "l"`, for messages
	config  string
	index   int
	topic   stringMatcher
	headers []headerMatcher
	cluster string
	subset  *structpb.Struct
	queues  map[string]wellknown.TopicQueues // the topic's queue data, nil for none
	set     *endpointSet                     // nil when the cluster is unknown
	// defaultPath is the data path in force for a cluster that requests
	// none, for DataPath of a route to an unknown cluster.
	defaultPath DataPath
}

// Cluster returns the name of the routed xDS cluster.
func (r *Route) Cluster() string { return r.cluster }

// ExactTopic returns the topic the route's topic matcher names exactly and
// case-sensitively, or "" when it matches by any other rule (or every topic).
func (r *Route) ExactTopic() string {
	if r.topic.kind == strExact && !r.topic.ignoreCase {
		return r.topic.pattern
	}
	return ""
}

// Index returns the route's position in its route configuration.
func (r *Route) Index() int { return r.index }

// Config returns the name of the route configuration the route belongs to.
func (r *Route) Config() string { return r.config }

// Subset returns a copy of the route's metadata_match under "envoy.lb", nil
// when the route takes the whole cluster.
func (r *Route) Subset() map[string]any {
	if len(r.subset.GetFields()) == 0 {
		return nil
	}
	return r.subset.AsMap()
}

// DataPath returns the data path in force for the routed cluster:
// [DataPathDirect] or [DataPathIntercept], never [DataPathUnset]. A route to
// an unknown cluster gets the default of its snapshot.
func (r *Route) DataPath() DataPath {
	if r.set == nil {
		return r.defaultPath
	}
	return r.set.cluster.dataPath
}

// IsNameserver reports whether the routed cluster holds nameservers rather
// than brokers.
func (r *Route) IsNameserver() bool { return r.set != nil && r.set.cluster.nameservers }

// Brokers returns the brokers of the route's cluster subset, sorted by name,
// healthy or not. The slice is shared and must not be modified.
func (r *Route) Brokers() []BrokerGroup {
	if r.set == nil {
		return nil
	}
	return r.set.brokers
}

// Broker returns the broker with the given name in the route's subset.
func (r *Route) Broker(name string) (*BrokerGroup, bool) {
	if r.set == nil {
		return nil, false
	}
	i, ok := r.set.byName[name]
	if !ok {
		return nil, false
	}
	return &r.set.brokers[i], true
}

// Nameservers returns the nameserver endpoints of the route's cluster subset,
// healthy or not, in EDS order. The slice is shared and must not be modified.
func (r *Route) Nameservers() []Endpoint {
	if r.set == nil {
		return nil
	}
	return r.set.nameservers
}

// WritableBrokers returns the sorted names of the writable brokers in the
// route's subset. The slice is shared and must not be modified.
func (r *Route) WritableBrokers() []string {
	if r.set == nil {
		return nil
	}
	return r.set.writable
}

// ReadableBrokers returns the sorted names of the readable brokers in the
// route's subset. The slice is shared and must not be modified.
func (r *Route) ReadableBrokers() []string {
	if r.set == nil {
		return nil
	}
	return r.set.readable
}

// PickWriteBroker picks a writable broker of the route's subset by weight,
// r being a caller-supplied random number or hash; see
// [Snapshot.PickWriteBroker]. It does not allocate on success.
func (r *Route) PickWriteBroker(rnd uint64) (string, error) {
	if r.set != nil && r.set.err == nil && r.set.picker.ok() {
		return r.set.picker.pick(rnd), nil
	}
	return "", r.writeErr("")
}

// PickWriteBrokerByKey picks the writable broker of the route's subset for a
// sharding key, keyHash being [KeyHash] of the key: every producer with an
// equal snapshot picks the same broker for a key, the shares are those of
// PickWriteBroker, and when brokers join or leave only the keys they gain or
// lose move (weighted rendezvous hashing). avoid, if not "", is a broker to
// skip when another can take the key (the one a send just failed on). It
// does not allocate on success.
func (r *Route) PickWriteBrokerByKey(keyHash uint64, avoid string) (string, error) {
	if r.set != nil && r.set.err == nil && r.set.picker.ok() {
		return r.set.picker.pickKey(keyHash, avoid), nil
	}
	return "", r.writeErr("")
}

// WriteShares returns the probability of each broker of the route's subset
// taking a write picked by [Route.PickWriteBroker], as the package doc's
// rules compute it (brokers with no share are left out); nil when nothing
// is writable. It is for dumps and tests, not the data path.
func (r *Route) WriteShares() map[string]float64 {
	if r.set == nil || r.set.err != nil || !r.set.picker.ok() {
		return nil
	}
	return r.set.picker.shares()
}

// String describes the route, e.g.
// `route 0 in listener "l": topic exact:"orders", code exact:"10" -> cluster "c" {version="canary"}`.
func (r *Route) String() string {
	s := r.where + ": topic " + r.topic.String()
	for i := range r.headers {
		s += ", " + r.headers[i].String()
	}
	s += " -> cluster " + quote(r.cluster)
	if len(r.subset.GetFields()) > 0 {
		s += " " + subsetText(r.subset)
	}
	return s
}

// usableErr returns nil if the route's cluster subset has healthy
// endpoints, else an error naming the topic.
func (r *Route) usableErr(topic string) error {
	if r.set == nil {
		return topicErr(KindUnknownCluster, topic, r.cluster,
			fmt.Sprintf("%s names unknown cluster %q", r.where, r.cluster), nil)
	}
	if r.set.err != nil {
		e := *r.set.err
		return topicErr(e.Kind, topic, r.cluster, e.Msg+" ("+r.where+")", e.Err)
	}
	return nil
}

// writeErr explains why the route has no broker to write to.
func (r *Route) writeErr(topic string) error {
	if err := r.usableErr(topic); err != nil {
		return err
	}
	if r.set.cluster.nameservers {
		return r.nameserverErr(topic)
	}
	return topicErr(KindNoWritableBroker, topic, r.cluster,
		fmt.Sprintf("cluster %q%s: no writable broker (%s)", r.cluster, subsetSuffix(r.subset), r.where), nil)
}

func (r *Route) nameserverErr(topic string) error {
	return topicErr(KindWrongClusterType, topic, r.cluster,
		fmt.Sprintf("cluster %q holds nameservers, not brokers (%s)", r.cluster, r.where), nil)
}

func subsetSuffix(s *structpb.Struct) string {
	if len(s.GetFields()) == 0 {
		return ""
	}
	return " subset " + subsetText(s)
}

// NewSnapshot compiles the route configurations and resolves the clusters'
// endpoints. It fails only on route configurations that cannot be compiled
// (an invalid regex, an unsupported matcher); a route that names an unknown
// cluster, or a cluster with malformed or no usable endpoints, yields an
// error when a query matches that route.
func NewSnapshot(in Input) (*Snapshot, error) {
	s := &Snapshot{
		listener:  in.Listener,
		topics:    make(map[string]*routeTable, len(in.TopicRoutes)),
		clusters:  make(map[string]*cluster, len(in.Clusters)),
		locality:  localityOf(in.Locality),
		intercept: in.InterceptAvailable,
	}
	if len(in.Versions) > 0 {
		s.versions = make(map[string]string, len(in.Versions))
		for k, v := range in.Versions {
			s.versions[k] = v
		}
	}
	for name, c := range in.Clusters {
		if c == nil {
			continue
		}
		s.clusters[name] = resolveCluster(name, c, in.Endpoints, in.InterceptAvailable, in.TLSRequired)
	}
	hasLocal := s.locality.Region != "" || s.locality.Zone != ""
	sets := make(map[string]*endpointSet)
	b := func(clusterName string, subset *structpb.Struct, queues map[string]wellknown.TopicQueues) *endpointSet {
		cl, ok := s.clusters[clusterName]
		if !ok {
			return nil
		}
		if cl.nameservers {
			queues = nil // the nameservers' answer carries the real queue data
		}
		key := setKey(clusterName, subset, queues)
		if set, ok := sets[key]; ok {
			return set
		}
		set := newEndpointSet(cl, subset, queues, s.locality, hasLocal)
		sets[key] = set
		return set
	}
	var c compiler
	var err error
	s.inline, err = s.compileTable(&c, in.RouteConfig, fmt.Sprintf("listener %q", in.Listener), fmt.Sprintf("route config %q", in.RouteConfig.GetName()), b)
	if err != nil {
		return nil, err
	}
	for topic, rc := range in.TopicRoutes {
		if rc == nil {
			continue
		}
		where := fmt.Sprintf("route config %q of topic %q", rc.GetName(), topic)
		t, err := s.compileTable(&c, rc, where, where, b)
		if err != nil {
			return nil, err
		}
		s.topics[topic] = t
	}
	return s, nil
}

// compileTable compiles rc; where names it in query errors, cfg in build
// errors (which already name the listener).
func (s *Snapshot) compileTable(c *compiler, rc *rocketmqv3.RouteConfiguration, where, cfg string, set func(string, *structpb.Struct, map[string]wellknown.TopicQueues) *endpointSet) (*routeTable, error) {
	t := &routeTable{name: rc.GetName(), exact: make(map[string][]int32), fold: make(map[string][]int32)}
	for i, pr := range rc.GetRoutes() {
		fail := func(err error) (*routeTable, error) {
			return nil, &Error{Kind: KindInvalidConfig, Msg: fmt.Sprintf("routing: listener %q: %s: routes[%d]: %v", s.listener, cfg, i, err), Err: err}
		}
		r := &Route{
			where:   fmt.Sprintf("route %d in %s", i, where),
			config:  rc.GetName(),
			index:   i,
			cluster: pr.GetRoute().GetCluster(),
			subset:  pr.GetRoute().GetMetadataMatch().GetFilterMetadata()[wellknown.SubsetMetadataNamespace],

			defaultPath: dataPathInForce(DataPathUnset, s.intercept),
		}
		var err error
		if r.topic, err = c.stringMatcher(pr.GetMatch().GetTopic()); err != nil {
			return fail(fmt.Errorf("topic: %w", err))
		}
		for _, h := range pr.GetMatch().GetHeaders() {
			hm, err := c.headerMatcher(h)
			if err != nil {
				return fail(err)
			}
			r.headers = append(r.headers, hm)
		}
		if r.queues, err = wellknown.ParseTopicQueues(pr.GetRoute().GetMetadataMatch()); err != nil {
			return fail(fmt.Errorf("metadata_match: %w", err))
		}
		r.set = set(r.cluster, r.subset, r.queues)
		t.routes = append(t.routes, r)
		switch {
		case r.topic.kind == strExact && !r.topic.ignoreCase:
			t.exact[r.topic.pattern] = append(t.exact[r.topic.pattern], int32(i))
		case r.topic.kind == strExact:
			t.fold[r.topic.pattern] = append(t.fold[r.topic.pattern], int32(i))
		default:
			t.scan = append(t.scan, int32(i))
		}
	}
	return t, nil
}

// match returns the first route of t matching topic and headers, nil if
// none. Candidates come from the exact index, the ignore-case index and the
// scan list merged in route order, so the result is the same as a scan of
// every route.
func (t *routeTable) match(topic, code string, headers Headers) *Route {
	if t == nil {
		return nil
	}
	a := t.exact[topic]
	var f []int32
	if len(t.fold) > 0 {
		f = t.fold[asciiLower(topic)]
	}
	c := t.scan
	for len(a)+len(f)+len(c) > 0 {
		// Take the smallest head of the three ascending lists.
		var i int32
		switch {
		case len(a) > 0 && (len(f) == 0 || a[0] < f[0]) && (len(c) == 0 || a[0] < c[0]):
			i, a = a[0], a[1:]
		case len(f) > 0 && (len(c) == 0 || f[0] < c[0]):
			i, f = f[0], f[1:]
		default:
			i, c = c[0], c[1:]
		}
		r := t.routes[i]
		if r.matches(topic, code, headers) {
			return r
		}
	}
	return nil
}

func (r *Route) matches(topic, code string, headers Headers) bool {
	if !r.topic.match(topic) {
		return false
	}
	for i := range r.headers {
		if !r.headers[i].match(code, headers) {
			return false
		}
	}
	return true
}

// route returns the first matching route, the topic's own routes first,
// without checking that its cluster is usable.
func (s *Snapshot) route(topic string, code int32, headers Headers) *Route {
	cs := codeString(code)
	if t, ok := s.topics[topic]; ok {
		if r := t.match(topic, cs, headers); r != nil {
			return r
		}
	}
	return s.inline.match(topic, cs, headers)
}

func (s *Snapshot) noRouteErr(topic string, code int32) error {
	return topicErr(KindNoRoute, topic, "", fmt.Sprintf("no route in listener %q (code %d)", s.listener, code), nil)
}

func errNoSnapshot() error {
	return &Error{Kind: KindNoSnapshot, Msg: "routing: no route snapshot received yet"}
}

// Match returns the first route, in order, whose topic matcher matches topic
// and whose header matchers all match headers plus the synthetic
// [wellknown.CodeHeader] header carrying code in decimal, which overrides a
// header of that name in headers. A topic with its own route
// configuration (Input.TopicRoutes) is matched against it first, then
// against the listener's inline routes.
//
// The error is [KindNoRoute] when nothing matches, and [KindUnknownCluster],
// [KindInvalidCluster], [KindNoEndpoint] or [KindNoHealthyEndpoint] when the
// matched route cannot be used. Match does not allocate on success.
func (s *Snapshot) Match(topic string, code int32, headers map[string]string) (*Route, error) {
	return s.MatchHeaders(topic, code, MapHeaders(headers))
}

// MatchHeaders is [Snapshot.Match] with the request's fields read through
// headers, so that a relay holding them in a frame need not build a map. A nil
// headers has no fields. It does not allocate on success.
func (s *Snapshot) MatchHeaders(topic string, code int32, headers Headers) (*Route, error) {
	if s == nil {
		return nil, errNoSnapshot()
	}
	r := s.route(topic, code, headers)
	if r == nil {
		return nil, s.noRouteErr(topic, code)
	}
	if err := r.usableErr(topic); err != nil {
		return nil, err
	}
	return r, nil
}

// PickWriteBroker picks the broker a message for topic is written to, by
// weight, among the writable brokers of the route matched with code 10 (send)
// and no other headers. r is a caller-supplied random number or hash; equal
// r give equal picks on equal snapshots.
//
// Shares follow the rules in the package doc's "Semantics compared with
// Envoy and gRPC": Envoy's priority load with degraded brokers, locality
// weights as shares split by endpoint weights, else the node's zone. They
// are computed once per endpoint set when the snapshot is built:
// PickWriteBroker is O(log n) and does not allocate on success.
func (s *Snapshot) PickWriteBroker(topic string, r uint64) (string, error) {
	rt, err := s.Match(topic, remoting.CodeSendMessage, nil)
	if err != nil {
		return "", err
	}
	if !rt.set.picker.ok() {
		return "", rt.writeErr(topic)
	}
	return rt.set.picker.pick(r), nil
}

// PickWriteBrokerByKey is [Route.PickWriteBrokerByKey] on the route matched
// with code 10 (send) and no other headers: the broker for a message with a
// sharding key. keyHash is [KeyHash] of the key.
func (s *Snapshot) PickWriteBrokerByKey(topic string, keyHash uint64, avoid string) (string, error) {
	rt, err := s.Match(topic, remoting.CodeSendMessage, nil)
	if err != nil {
		return "", err
	}
	if !rt.set.picker.ok() {
		return "", rt.writeErr(topic)
	}
	return rt.set.picker.pickKey(keyHash, avoid), nil
}

// ReadableBrokers returns the sorted names of the brokers consumers of topic
// may read from: those of the route matched with code 11 (pull) that have a
// healthy or degraded member with the read permission. Priorities,
// localities and weights are ignored (every queue must be consumed). The
// result is a new slice,
// identical in every process holding an equal snapshot.
func (s *Snapshot) ReadableBrokers(topic string) ([]string, error) {
	rt, err := s.Match(topic, remoting.CodePullMessage, nil)
	if err != nil {
		return nil, err
	}
	if rt.set.cluster.nameservers {
		return nil, rt.nameserverErr(topic)
	}
	if len(rt.set.readable) == 0 {
		return nil, topicErr(KindNoReadableBroker, topic, rt.cluster,
			fmt.Sprintf("cluster %q%s: no readable broker (%s)", rt.cluster, subsetSuffix(rt.subset), rt.where), nil)
	}
	return append([]string(nil), rt.set.readable...), nil
}

// Listener returns the listener name the snapshot was built for.
func (s *Snapshot) Listener() string {
	if s == nil {
		return ""
	}
	return s.listener
}

// Topics returns the sorted topics that have their own route configuration.
func (s *Snapshot) Topics() []string {
	if s == nil {
		return nil
	}
	ts := make([]string, 0, len(s.topics))
	for t := range s.topics {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return ts
}
