package policy_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/controlplane/policy"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
)

// The policy of issue 14, item 9, verbatim.
func TestLoad_IssuePolicyVerbatim(t *testing.T) {
	p, err := policy.Load("testdata/issue14.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Listeners) != 1 || p.Listeners[0].Name != "rocketmq" || p.Listeners[0].RouteConfigName != "rocketmq" || !p.Listeners[0].OnDemand {
		t.Errorf("listeners: %+v", p.Listeners)
	}
	r := p.Listeners[0].Routes[0]
	if r.Topic.Kind != resource.AnyTopic || r.Cluster != "default" {
		t.Errorf("route: %+v; want any topic to default", r)
	}
	for _, topic := range []string{"orders", "", "%RETRY%g", "TBW102"} {
		if !r.Topic.Matches(topic) {
			t.Errorf("the empty prefix does not match %q", topic)
		}
	}
	c, ok := p.Cluster("default")
	if !ok || c.Select.ClusterName != "DefaultCluster" {
		t.Fatalf("cluster default: %+v", c)
	}
	if o := c.Overrides["broker-a"]; o.Weight != 80 || o.Perm != policy.PermUnset {
		t.Errorf("broker-a: %+v", o)
	}
	if o := c.Overrides["broker-b"]; o.Weight != 20 || o.Perm != policy.PermReadOnly || o.Pos.Line != 13 {
		t.Errorf("broker-b: %+v; want weight 20, read-only, line 13", o)
	}
}

func TestLoad_FullExample(t *testing.T) {
	p, err := policy.Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := p.Listener("rocketmq-envoy")
	if l.OnDemand || l.RouteInfo != policy.RouteInfoSynthesize {
		t.Errorf("rocketmq-envoy: %+v", l)
	}
	if l, ok := p.ListenerForRouteConfig("rocketmq-routes"); !ok || l.Name != "rocketmq" {
		t.Errorf("ListenerForRouteConfig: %v %v", l, ok)
	}
	rocketmq, _ := p.Listener("rocketmq")
	if r := rocketmq.Routes[1]; r.Topic.Matches("xpay-1") || !r.Topic.Matches("pay-1") {
		t.Error("regex is not anchored at both ends")
	}
	c, _ := p.Cluster("default")
	if c.OutlierDetection.GetConsecutive_5Xx().GetValue() != 5 || c.OutlierDetection.GetBaseEjectionTime().AsDuration().Seconds() != 30 {
		t.Errorf("outlier detection: %v", c.OutlierDetection)
	}
	if f := c.SendFailover; f == nil || f.MaxAttempts != 2 || f.PerTryTimeout != 500*time.Millisecond || !f.Enabled || f.MoveKeyedSends {
		t.Errorf("send failover: %+v", f)
	}
	if c.CircuitBreakers.GetThresholds()[0].GetMaxRequests().GetValue() != 5000 {
		t.Errorf("circuit breakers: %v", c.CircuitBreakers)
	}
	if c.TransportSocket.GetName() != "envoy.transport_sockets.tls" || c.TransportSocket.GetTypedConfig() == nil {
		t.Errorf("tls: %v", c.TransportSocket)
	}
	if c.LostBrokers != policy.LostUnhealthy || c.Queues != (policy.Queues{Read: 4, Write: 4}) || c.ConnectTimeout.Seconds() != 2 {
		t.Errorf("cluster: %+v", c)
	}
	if o := c.Overrides["broker-c"]; !o.Drain || o.Perm != policy.PermNone {
		t.Errorf("broker-c: %+v", o)
	}
	if p.Brokers["broker-b"].Labels["version"] != "canary" || p.Brokers["broker-b"].Zone != "zone-b" {
		t.Errorf("brokers: %+v", p.Brokers)
	}
	var refs []string
	for _, r := range p.BrokerRefs() {
		refs = append(refs, r.Name)
	}
	if got := strings.Join(refs, ","); got != "broker-a,broker-b,broker-c,broker-b,broker-c,broker-b,broker-c" {
		t.Errorf("BrokerRefs: %s", got)
	}
}

// Every way a file can be wrong is reported with the file, the line and the
// field, and the policy is rejected.
func TestParse_Errors(t *testing.T) {
	const ok = "listeners:\n  - name: l\n    routes:\n      - cluster: c\nclusters:\n  - name: c\n"
	if _, err := policy.Parse("p.yaml", []byte(ok)); err != nil {
		t.Fatalf("base policy: %v", err)
	}
	for _, c := range []struct {
		name, doc string
		want      []string
	}{
		{"not YAML", "listeners: [\n  {name: x\n", []string{"p.yaml:", "not valid policy YAML"}},
		{"tabs", "listeners:\n\t- name: x\n", []string{"p.yaml:2", "not valid policy YAML"}},
		{"not a mapping", "- a\n- b\n", []string{"p.yaml:1", "not valid policy YAML"}},
		{"unknown field", ok + "    colour: blue\n", []string{"p.yaml:7", "unknown field \"colour\""}},
		{"two documents", ok + "---\n" + ok, []string{"p.yaml:8", "more than one YAML document"}},
		{"empty", "", []string{"p.yaml:1: listeners: at least one listener is required"}},
		{"no routes", "listeners:\n  - name: l\n", []string{"p.yaml:2: listeners[0].routes: a listener needs at least one route"}},
		{"unknown cluster", "listeners:\n  - name: l\n    routes:\n      - cluster: nope\n", []string{`p.yaml:4: listeners[0].routes[0].cluster: no cluster named "nope" in clusters`}},
		{"two matchers", strings.Replace(ok, "- cluster: c", "- {cluster: c, topic: {exact: a, prefix: b}}", 1), []string{"p.yaml:4: listeners[0].routes[0].topic: set one of exact, prefix and regex, not 2"}},
		{"bad regex", strings.Replace(ok, "- cluster: c", "- {cluster: c, topic: {regex: \"(\"}}", 1), []string{"p.yaml:4: listeners[0].routes[0].topic.regex:", "not an RE2 regular expression"}},
		{"empty exact", strings.Replace(ok, "- cluster: c", "- {cluster: c, topic: {exact: \"\"}}", 1), []string{"listeners[0].routes[0].topic.exact: an exact topic cannot be empty"}},
		{"bad code", strings.Replace(ok, "- cluster: c", "- {cluster: c, codes: [10, -1, 10]}", 1), []string{"routes[0].codes[1]: -1 is not a request code", "routes[0].codes[2]: code 10 is listed twice"}},
		{"duplicate listener", "listeners:\n  - {name: l, routes: [{cluster: c}]}\n  - {name: l, routes: [{cluster: c}]}\nclusters:\n  - name: c\n", []string{`p.yaml:3: listeners[1].name: listener "l" is defined twice`, `listeners[1].route_config_name: route configuration "l" is used by two listeners`}},
		{"bad topic_routes", strings.Replace(ok, "name: l\n", "name: l\n    topic_routes: sometimes\n", 1), []string{`p.yaml:3: listeners[0].topic_routes: "sometimes" is not one of on_demand, inline`}},
		{"route_info on demand", strings.Replace(ok, "name: l\n", "name: l\n    route_info: synthesize\n", 1), []string{"listeners[0].route_info: applies to inline routes only"}},
		{"slash in cluster name", "listeners:\n  - {name: l, routes: [{cluster: a/b}]}\nclusters:\n  - name: a/b\n", []string{`p.yaml:4: clusters[0].name: "a/b" is not a valid name`}},
		{"duplicate cluster", ok + "  - name: c\n", []string{`p.yaml:7: clusters[1].name: cluster "c" is defined twice`}},
		{"bad data path", ok + "    data_path: teleport\n", []string{`p.yaml:7: clusters[0].data_path: "teleport" is not one of direct, intercept`}},
		{"bad lost_brokers", ok + "    lost_brokers: forget\n", []string{`clusters[0].lost_brokers: "forget" is not one of withdraw, unhealthy`}},
		{"bad queues", ok + "    queues: {read: 0, write: 2000}\n", []string{"clusters[0].queues.read: 0 is not a queue count", "clusters[0].queues.write: 2000 is not a queue count"}},
		{"bad timeout", ok + "    connect_timeout: soon\n", []string{`clusters[0].connect_timeout: "soon" is not a positive duration`}},
		{"weight zero", ok + "    overrides:\n      broker-a: {weight: 0}\n", []string{"p.yaml:8: clusters[0].overrides.broker-a.weight: 0 is not a weight"}},
		{"bad perm", ok + "    overrides:\n      broker-a:\n        perm: readonly\n", []string{`p.yaml:9: clusters[0].overrides.broker-a.perm: "readonly" is not one of read-write, read-only, write-only, none`}},
		{"weight not a number", ok + "    overrides:\n      broker-a: {weight: heavy}\n", []string{"p.yaml:8", "not valid policy YAML"}},
		{"bad override name", ok + "    overrides:\n      \"broker a\": {weight: 1}\n", []string{`clusters[0].overrides.broker a: "broker a" is not a broker name`}},
		{"reserved label", ok + "    brokers: {labels: {perm: \"6\"}}\n", []string{`clusters[0].brokers.labels.perm: "perm" is broker metadata`}},
		{"bad outlier detection", ok + "    outlier_detection: {consecutive_5xx: many}\n", []string{"p.yaml:7: clusters[0].outlier_detection: not a valid envoy.config.cluster.v3.OutlierDetection"}},
		{"invalid outlier detection", ok + "    outlier_detection: {max_ejection_percent: 200}\n", []string{"clusters[0].outlier_detection: not a valid envoy.config.cluster.v3.OutlierDetection", "MaxEjectionPercent"}},
		{"zero failover attempts", ok + "    send_failover: {max_attempts: 0}\n", []string{`p.yaml:7: clusters[0].send_failover: ["max_attempts"] must be an integer in [1, 10]`}},
		{"negative per-try timeout", ok + "    send_failover: {per_try_timeout: -1s}\n", []string{`clusters[0].send_failover: ["per_try_timeout"] must be a positive duration such as "1s", not "-1s"`}},
		{"failover not a mapping", ok + "    send_failover: always\n", []string{`clusters[0].send_failover: must be a struct, not "always"`}},
		{"bad tls", ok + "    tls: {sni: [1]}\n", []string{"clusters[0].tls: not a valid envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"}},
		{"tag", ok + "    data_path: !custom direct\n", []string{"p.yaml:7", "YAML tags are not supported"}},
		{"alias", "listeners: [{name: l, routes: [{cluster: c}]}]\nclusters: [&c {name: c}, *c]\n", []string{"p.yaml:2", "YAML aliases are not supported"}},
		{"tag the decoder panicked on (fuzz)", "A: 0@\nclusters: !00000 00", []string{"p.yaml:2", "YAML tags are not supported"}},
		{"bad broker section", ok + "brokers:\n  broker-a: {labels: {cluster_name: x}}\n", []string{`p.yaml:8: brokers.broker-a.labels.cluster_name: "cluster_name" is broker metadata`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := policy.Parse("p.yaml", []byte(c.doc))
			if err == nil {
				t.Fatalf("accepted:\n%s", c.doc)
			}
			var pe *policy.Error
			if !errors.As(err, &pe) || pe.File != "p.yaml" || pe.Line < 1 {
				t.Errorf("error %v is not a *policy.Error with file and line", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParse_ManyErrorsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("listeners:\n")
	for range 50 {
		b.WriteString("  - {name: l, routes: [{cluster: nope}]}\n")
	}
	_, err := policy.Parse("p.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("accepted")
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 20 {
		t.Errorf("%d errors reported, want the first 20", n)
	}
}

func TestPolicy_DigestFollowsContent(t *testing.T) {
	b, err := os.ReadFile("testdata/issue14.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := policy.Parse("a", b)
	p2, _ := policy.Parse("b", b)
	p3, _ := policy.Parse("a", append(b, "\n# edited\n"...))
	if p1.Digest != p2.Digest || p1.Digest == p3.Digest {
		t.Errorf("digests %s %s %s: want equal for equal bytes, different otherwise", p1.Digest, p2.Digest, p3.Digest)
	}
}

func TestCheckBrokers(t *testing.T) {
	p, err := policy.Load("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"broker-a": true, "broker-b": true}
	err = p.CheckBrokers(func(n string) bool { return known[n] })
	if err == nil {
		t.Fatal("broker-c is unknown and was accepted")
	}
	for _, w := range []string{
		`testdata/full.yaml:30: clusters[0].overrides.broker-c: broker "broker-c" is not known to any nameserver`,
		`testdata/full.yaml:47: clusters[1].brokers.broker_names: broker "broker-c"`,
		`testdata/full.yaml:52: brokers.broker-c: broker "broker-c"`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), `"broker-a"`) {
		t.Errorf("known broker reported: %v", err)
	}
	known["broker-c"] = true
	if err := p.CheckBrokers(func(n string) bool { return known[n] }); err != nil {
		t.Errorf("all known: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/issue14.yaml", "testdata/full.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("listeners: [{name: l, routes: [{cluster: c, topic: {regex: 'a|b'}}]}]\nclusters: [{name: c}]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := policy.Parse("fuzz.yaml", b)
		if err != nil {
			var pe *policy.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *policy.Error", err)
			}
			return
		}
		if len(p.Listeners) == 0 {
			t.Fatal("accepted a policy without listeners")
		}
	})
}
