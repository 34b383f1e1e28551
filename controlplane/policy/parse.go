package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/wellknown"
)

// Error is one problem in a policy file: where it is and what is wrong.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

// Error returns `policy: FILE:LINE: FIELD: MSG`.
func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("policy: %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("policy: %s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// maxErrors bounds how many problems one parse reports.
const maxErrors = 20

// maxFileSize bounds a policy file: a policy is a page, not a data set.
const maxFileSize = 4 << 20

// Load reads and parses the policy file at path.
func Load(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return Parse(path, b)
}

// Parse parses and validates a policy. name is used in messages. Every
// problem found (up to 20) is reported, each as an [*Error] naming the file,
// line and field; the policy is rejected whole if there is any.
func Parse(name string, data []byte) (p *Policy, err error) {
	defer func() {
		// The YAML library has panicked on odd input the fuzzer found; a
		// policy edit must never take the control plane down.
		if r := recover(); r != nil {
			p, err = nil, &Error{File: name, Line: 1, Msg: fmt.Sprintf("not valid policy YAML: the YAML decoder failed: %v", r)}
		}
	}()
	if len(data) > maxFileSize {
		return nil, &Error{File: name, Line: 1, Msg: fmt.Sprintf("file is %d bytes, more than the %d a policy may have", len(data), maxFileSize)}
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(name, err)
	}
	// Tags and aliases have no use in a policy, and aliases can expand a
	// small file into a huge one.
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		for _, k := range []struct {
			typ  ast.NodeType
			what string
		}{{ast.TagType, "tags"}, {ast.AliasType, "aliases"}} {
			if nodes := ast.Filter(k.typ, doc.Body); len(nodes) > 0 {
				return nil, &Error{File: name, Line: nodes[0].GetToken().Position.Line, Msg: "YAML " + k.what + " are not supported in a policy"}
			}
		}
	}
	var body ast.Node
	if len(f.Docs) > 1 {
		return nil, &Error{File: name, Line: f.Docs[1].GetToken().Position.Line, Msg: "more than one YAML document"}
	}
	if len(f.Docs) == 1 {
		body = f.Docs[0].Body
	}
	var raw rawPolicy
	if body != nil {
		if err := yaml.NodeToValue(body, &raw, yaml.DisallowUnknownField()); err != nil {
			return nil, yamlError(name, err)
		}
	}
	v := &validator{file: name, root: body}
	p = v.policy(&raw)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	p.Source, p.Digest = name, digest(data)
	return p, nil
}

func yamlError(file string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		return &Error{File: file, Line: ye.GetToken().Position.Line, Msg: "not valid policy YAML: " + strings.TrimSpace(ye.GetMessage())}
	}
	return &Error{File: file, Line: 1, Msg: "not valid policy YAML: " + err.Error()}
}

// The raw* types are the file's shape. Pointers tell "absent" from "empty".
type rawPolicy struct {
	Listeners []rawListener         `yaml:"listeners"`
	Clusters  []rawCluster          `yaml:"clusters"`
	Brokers   map[string]*rawBroker `yaml:"brokers"`
}

type rawListener struct {
	Name            string     `yaml:"name"`
	RouteConfigName string     `yaml:"route_config_name"`
	TopicRoutes     string     `yaml:"topic_routes"`
	RouteInfo       string     `yaml:"route_info"`
	Routes          []rawRoute `yaml:"routes"`
}

type rawRoute struct {
	Topic   *rawTopic         `yaml:"topic"`
	Codes   []int64           `yaml:"codes"`
	Cluster string            `yaml:"cluster"`
	Subset  map[string]string `yaml:"subset"`
}

type rawTopic struct {
	Exact  *string `yaml:"exact"`
	Prefix *string `yaml:"prefix"`
	Regex  *string `yaml:"regex"`
}

type rawCluster struct {
	Name             string                  `yaml:"name"`
	Brokers          *rawSelector            `yaml:"brokers"`
	DataPath         string                  `yaml:"data_path"`
	LostBrokers      string                  `yaml:"lost_brokers"`
	Queues           *rawQueues              `yaml:"queues"`
	ConnectTimeout   string                  `yaml:"connect_timeout"`
	Overrides        map[string]*rawOverride `yaml:"overrides"`
	OutlierDetection any                     `yaml:"outlier_detection"`
	CircuitBreakers  any                     `yaml:"circuit_breakers"`
	TLS              any                     `yaml:"tls"`
	SendFailover     any                     `yaml:"send_failover"`
}

type rawSelector struct {
	ClusterName string            `yaml:"cluster_name"`
	BrokerNames []string          `yaml:"broker_names"`
	Labels      map[string]string `yaml:"labels"`
}

type rawQueues struct {
	Read  int64 `yaml:"read"`
	Write int64 `yaml:"write"`
}

type rawOverride struct {
	Weight   *int64 `yaml:"weight"`
	Perm     string `yaml:"perm"`
	Region   string `yaml:"region"`
	Zone     string `yaml:"zone"`
	SubZone  string `yaml:"sub_zone"`
	Priority int64  `yaml:"priority"`
	Drain    bool   `yaml:"drain"`
}

type rawBroker struct {
	Labels  map[string]string `yaml:"labels"`
	Region  string            `yaml:"region"`
	Zone    string            `yaml:"zone"`
	SubZone string            `yaml:"sub_zone"`
}

// validator turns the raw policy into a Policy, collecting errors with their
// positions.
type validator struct {
	file string
	root ast.Node
	errs []error
}

// path is a field path: string keys and int indexes.
type path []any

func (p path) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case int:
			b.WriteString("[" + strconv.Itoa(e) + "]")
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		}
	}
	return b.String()
}

func (p path) with(e ...any) path { return append(slices.Clip(p), e...) }

func (v *validator) errorf(at path, format string, args ...any) {
	if len(v.errs) >= maxErrors {
		return
	}
	v.errs = append(v.errs, &Error{File: v.file, Line: v.line(at), Field: at.String(), Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) pos(at path) Pos { return Pos{File: v.file, Line: v.line(at), Field: at.String()} }

// line finds the line of the deepest node of at that exists: the key's line
// for a mapping entry, the item's for a sequence entry.
func (v *validator) line(at path) int {
	n, line := v.root, 1
	if n != nil {
		line = n.GetToken().Position.Line
	}
	for _, e := range at {
		n = unwrap(n)
		switch e := e.(type) {
		case string:
			m, ok := n.(*ast.MappingNode)
			var values []*ast.MappingValueNode
			if ok {
				values = m.Values
			} else if mv, ok := n.(*ast.MappingValueNode); ok {
				values = []*ast.MappingValueNode{mv}
			}
			found := false
			for _, mv := range values {
				if mv.Key != nil && keyText(mv.Key) == e {
					line, n, found = mv.Key.GetToken().Position.Line, mv.Value, true
					break
				}
			}
			if !found {
				return line
			}
		case int:
			s, ok := n.(*ast.SequenceNode)
			if !ok || e >= len(s.Values) {
				return line
			}
			n = s.Values[e]
			if t := unwrap(n).GetToken(); t != nil {
				line = t.Position.Line
			}
		}
	}
	return line
}

func unwrap(n ast.Node) ast.Node {
	for {
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
		case *ast.AnchorNode:
			n = t.Value
		default:
			return n
		}
	}
}

func keyText(k ast.MapKeyNode) string {
	if s, ok := k.(ast.ScalarNode); ok {
		return fmt.Sprint(s.GetValue())
	}
	return k.GetToken().Value
}

// nameRE is what listener, cluster and broker names may be: no "/", which
// separates the generated names (per-topic route configurations and
// per-topic-shape clusters), and nothing a log or URL would mangle.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:%-]*$`)

func (v *validator) policy(raw *rawPolicy) *Policy {
	p := &Policy{Brokers: map[string]BrokerInfo{}}
	root := path{}
	if len(raw.Listeners) == 0 {
		v.errorf(root.with("listeners"), "at least one listener is required")
	}
	clusterNames := map[string]bool{}
	for i := range raw.Clusters {
		if n := raw.Clusters[i].Name; n != "" {
			clusterNames[n] = true
		}
	}
	names, rcNames := map[string]bool{}, map[string]bool{}
	for i := range raw.Listeners {
		at := root.with("listeners", i)
		l := v.listener(at, &raw.Listeners[i], clusterNames)
		if l.Name != "" && names[l.Name] {
			v.errorf(at.with("name"), "listener %q is defined twice", l.Name)
		}
		if l.RouteConfigName != "" && rcNames[l.RouteConfigName] {
			v.errorf(at.with("route_config_name"), "route configuration %q is used by two listeners", l.RouteConfigName)
		}
		names[l.Name], rcNames[l.RouteConfigName] = true, true
		p.Listeners = append(p.Listeners, l)
	}
	seen := map[string]bool{}
	for i := range raw.Clusters {
		at := root.with("clusters", i)
		c := v.cluster(at, &raw.Clusters[i])
		if c.Name != "" && seen[c.Name] {
			v.errorf(at.with("name"), "cluster %q is defined twice", c.Name)
		}
		seen[c.Name] = true
		p.Clusters = append(p.Clusters, c)
	}
	for _, name := range slices.Sorted(maps.Keys(raw.Brokers)) {
		at := root.with("brokers", name)
		if !nameRE.MatchString(name) {
			v.errorf(at, "%q is not a broker name", name)
		}
		b := raw.Brokers[name]
		if b == nil {
			b = &rawBroker{}
		}
		v.labels(at.with("labels"), b.Labels)
		p.Brokers[name] = BrokerInfo{Labels: b.Labels, Region: b.Region, Zone: b.Zone, SubZone: b.SubZone, Pos: v.pos(at)}
	}
	return p
}

func (v *validator) listener(at path, raw *rawListener, clusters map[string]bool) Listener {
	l := Listener{Name: raw.Name, RouteConfigName: raw.RouteConfigName, Pos: v.pos(at)}
	if l.Name == "" {
		v.errorf(at.with("name"), "a listener needs a name (clients resolve xds:///NAME)")
	} else if !nameRE.MatchString(l.Name) {
		v.errorf(at.with("name"), "%q is not a valid name (letters, digits and ._:%%- only)", l.Name)
	}
	if l.RouteConfigName == "" {
		l.RouteConfigName = l.Name
	} else if !nameRE.MatchString(l.RouteConfigName) {
		v.errorf(at.with("route_config_name"), "%q is not a valid name (letters, digits and ._:%%- only)", l.RouteConfigName)
	}
	switch raw.TopicRoutes {
	case "", "on_demand":
		l.OnDemand = true
	case "inline":
	default:
		v.errorf(at.with("topic_routes"), "%q is not one of on_demand, inline", raw.TopicRoutes)
	}
	switch raw.RouteInfo {
	case "", "nameserver":
	case "synthesize":
		l.RouteInfo = RouteInfoSynthesize
	default:
		v.errorf(at.with("route_info"), "%q is not one of nameserver, synthesize", raw.RouteInfo)
	}
	if raw.RouteInfo != "" && l.OnDemand {
		v.errorf(at.with("route_info"), "applies to inline routes only (topic_routes: inline); on-demand routes always carry each topic's own queue data")
	}
	if len(raw.Routes) == 0 {
		v.errorf(at.with("routes"), "a listener needs at least one route")
	}
	for i := range raw.Routes {
		l.Routes = append(l.Routes, v.route(at.with("routes", i), &raw.Routes[i], clusters))
	}
	return l
}

func (v *validator) route(at path, raw *rawRoute, clusters map[string]bool) Route {
	r := Route{Cluster: raw.Cluster, Subset: raw.Subset, Pos: v.pos(at)}
	if t := raw.Topic; t != nil {
		set := 0
		for _, s := range []*string{t.Exact, t.Prefix, t.Regex} {
			if s != nil {
				set++
			}
		}
		switch {
		case set > 1:
			v.errorf(at.with("topic"), "set one of exact, prefix and regex, not %d", set)
		case t.Exact != nil:
			r.Topic = TopicMatch{Kind: resource.ExactTopic, Pattern: *t.Exact}
			if *t.Exact == "" {
				v.errorf(at.with("topic", "exact"), "an exact topic cannot be empty")
			}
		case t.Prefix != nil && *t.Prefix != "":
			r.Topic = TopicMatch{Kind: resource.PrefixTopic, Pattern: *t.Prefix}
		case t.Regex != nil:
			re, err := regexp.Compile("^(?:" + *t.Regex + ")$")
			if *t.Regex == "" || err != nil {
				v.errorf(at.with("topic", "regex"), "%q is not an RE2 regular expression: %v", *t.Regex, err)
			}
			r.Topic = TopicMatch{Kind: resource.RegexTopic, Pattern: *t.Regex, re: re}
		}
		// An empty prefix, or no matcher at all, is any topic.
	}
	for i, c := range raw.Codes {
		if c < 0 || c > math.MaxInt32 {
			v.errorf(at.with("codes", i), "%d is not a request code", c)
			continue
		}
		if slices.Contains(r.Codes, int32(c)) {
			v.errorf(at.with("codes", i), "code %d is listed twice", c)
		}
		r.Codes = append(r.Codes, int32(c))
	}
	switch {
	case r.Cluster == "":
		v.errorf(at.with("cluster"), "a route needs a cluster")
	case !clusters[r.Cluster]:
		v.errorf(at.with("cluster"), "no cluster named %q in clusters", r.Cluster)
	}
	for k := range r.Subset {
		if k == "" {
			v.errorf(at.with("subset"), "a subset key cannot be empty")
		}
	}
	return r
}

func (v *validator) cluster(at path, raw *rawCluster) Cluster {
	c := Cluster{Name: raw.Name, DataPath: raw.DataPath, Queues: DefaultQueues, Overrides: map[string]Override{}, Pos: v.pos(at)}
	switch {
	case c.Name == "":
		v.errorf(at.with("name"), "a cluster needs a name")
	case !nameRE.MatchString(c.Name):
		v.errorf(at.with("name"), "%q is not a valid name (letters, digits and ._:%%- only)", c.Name)
	}
	if s := raw.Brokers; s != nil {
		c.Select = Selector{ClusterName: s.ClusterName, BrokerNames: s.BrokerNames, Labels: s.Labels, NamesPos: v.pos(at.with("brokers", "broker_names"))}
		for i, n := range s.BrokerNames {
			if !nameRE.MatchString(n) {
				v.errorf(at.with("brokers", "broker_names", i), "%q is not a broker name", n)
			}
		}
		v.labels(at.with("brokers", "labels"), s.Labels)
	}
	switch c.DataPath {
	case "", "direct", "intercept":
	default:
		v.errorf(at.with("data_path"), "%q is not one of direct, intercept", c.DataPath)
	}
	switch raw.LostBrokers {
	case "", "withdraw":
	case "unhealthy":
		c.LostBrokers = LostUnhealthy
	default:
		v.errorf(at.with("lost_brokers"), "%q is not one of withdraw, unhealthy", raw.LostBrokers)
	}
	if q := raw.Queues; q != nil {
		if q.Read < 1 || q.Read > 1024 {
			v.errorf(at.with("queues", "read"), "%d is not a queue count in 1..1024", q.Read)
		}
		if q.Write < 1 || q.Write > 1024 {
			v.errorf(at.with("queues", "write"), "%d is not a queue count in 1..1024", q.Write)
		}
		c.Queues = Queues{Read: int(q.Read), Write: int(q.Write)}
	}
	if raw.ConnectTimeout != "" {
		d, err := time.ParseDuration(raw.ConnectTimeout)
		if err != nil || d <= 0 {
			v.errorf(at.with("connect_timeout"), "%q is not a positive duration such as 5s", raw.ConnectTimeout)
		}
		c.ConnectTimeout = d
	}
	for _, name := range slices.Sorted(maps.Keys(raw.Overrides)) {
		c.Overrides[name] = v.override(at.with("overrides", name), name, raw.Overrides[name])
	}
	if raw.OutlierDetection != nil {
		od := &clusterv3.OutlierDetection{}
		if v.envoyField(at.with("outlier_detection"), raw.OutlierDetection, od) {
			c.OutlierDetection = od
		}
	}
	if raw.CircuitBreakers != nil {
		cb := &clusterv3.CircuitBreakers{}
		if v.envoyField(at.with("circuit_breakers"), raw.CircuitBreakers, cb) {
			c.CircuitBreakers = cb
		}
	}
	if raw.SendFailover != nil {
		c.SendFailover = v.sendFailover(at.with("send_failover"), raw.SendFailover)
	}
	if raw.TLS != nil {
		tc := &tlsv3.UpstreamTlsContext{}
		if v.envoyField(at.with("tls"), raw.TLS, tc) {
			a, err := resource.DeterministicAny(tc)
			if err != nil {
				v.errorf(at.with("tls"), "%v", err)
			} else {
				c.TransportSocket = &corev3.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &corev3.TransportSocket_TypedConfig{TypedConfig: a}}
			}
		}
	}
	return c
}

func (v *validator) override(at path, broker string, raw *rawOverride) Override {
	o := Override{Pos: v.pos(at)}
	if !nameRE.MatchString(broker) {
		v.errorf(at, "%q is not a broker name", broker)
	}
	if raw == nil {
		return o
	}
	if w := raw.Weight; w != nil {
		if *w < 1 || *w > 1_000_000 {
			v.errorf(at.with("weight"), "%d is not a weight in 1..1000000 (use perm or drain to take a broker out)", *w)
		} else {
			o.Weight = uint32(*w)
		}
	}
	switch raw.Perm {
	case "":
	case "read-write":
		o.Perm = PermReadWrite
	case "read-only":
		o.Perm = PermReadOnly
	case "write-only":
		o.Perm = PermWriteOnly
	case "none":
		o.Perm = PermNone
	default:
		v.errorf(at.with("perm"), "%q is not one of read-write, read-only, write-only, none", raw.Perm)
	}
	if raw.Priority < 0 || raw.Priority > 128 {
		v.errorf(at.with("priority"), "%d is not a priority in 0..128", raw.Priority)
	} else {
		o.Priority = uint32(raw.Priority)
	}
	o.Region, o.Zone, o.SubZone, o.Drain = raw.Region, raw.Zone, raw.SubZone, raw.Drain
	return o
}

// reservedLabels are the broker metadata keys: a label with such a name
// would contradict what the nameservers say.
var reservedLabels = []string{wellknown.BrokerNameKey, wellknown.BrokerIDKey, wellknown.ClusterNameKey, wellknown.PermKey, wellknown.ReadQueueNumKey, wellknown.WriteQueueNumKey}

func (v *validator) labels(at path, labels map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if k == "" {
			v.errorf(at, "a label key cannot be empty")
		}
		if slices.Contains(reservedLabels, k) {
			v.errorf(at.with(k), "%q is broker metadata the nameservers provide, not a label", k)
		}
	}
}

// envoyField decodes a YAML value into an Envoy proto through its JSON form,
// and validates it with the proto's own rules.
// sendFailover checks a cluster's send_failover with the same function the
// xDS client validates the resulting knob with, so a policy the control plane
// accepts is never NACKed for it.
func (v *validator) sendFailover(at path, value any) *wellknown.SendFailover {
	b, err := json.Marshal(value)
	if err != nil {
		v.errorf(at, "%v", err)
		return nil
	}
	sv := &structpb.Value{}
	if err := protojson.Unmarshal(b, sv); err != nil {
		v.errorf(at, "%v", err)
		return nil
	}
	md := &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{wellknown.MeshMetadataNamespace: {Fields: map[string]*structpb.Value{wellknown.SendFailoverKey: sv}}}}
	f, err := wellknown.ParseSendFailover(md)
	if err != nil {
		prefix := fmt.Sprintf("filter_metadata[%q][%q]", wellknown.MeshMetadataNamespace, wellknown.SendFailoverKey)
		v.errorf(at, "%s", strings.TrimLeft(strings.TrimPrefix(err.Error(), prefix), ": "))
		return nil
	}
	return &f
}

func (v *validator) envoyField(at path, value any, m proto.Message) bool {
	b, err := json.Marshal(value)
	if err != nil {
		v.errorf(at, "%v", err)
		return false
	}
	if err := protojson.Unmarshal(b, m); err != nil {
		v.errorf(at, "not a valid %s: %v", m.ProtoReflect().Descriptor().FullName(), err)
		return false
	}
	if val, ok := m.(interface{ ValidateAll() error }); ok {
		if err := val.ValidateAll(); err != nil {
			v.errorf(at, "not a valid %s: %v", m.ProtoReflect().Descriptor().FullName(), err)
			return false
		}
	}
	return true
}

func itoa(n int) string { return strconv.Itoa(n) }
