package controlplane_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/rmqmesh/rmqmesh/controlplane"
	"github.com/rmqmesh/rmqmesh/controlplane/policy"
	"github.com/rmqmesh/rmqmesh/controlplane/resource"
	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/wellknown"
	"github.com/rmqmesh/rmqmesh/xdsclient"
	"github.com/rmqmesh/rmqmesh/xdsclient/bootstrap"
)

// fastOpts poll often: tests wait for events, never for an interval.
func fastOpts() []controlplane.Option {
	return []controlplane.Option{
		controlplane.WithPollInterval(50 * time.Millisecond),
		controlplane.WithTopicRefresh(50 * time.Millisecond),
		controlplane.WithPolicyCheckInterval(20 * time.Millisecond),
	}
}

func startServer(t testing.TB, opts ...controlplane.Option) *controlplane.Server {
	t.Helper()
	s, err := controlplane.New(append(fastOpts(), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// writePolicy writes doc to a fresh policy file and returns its path.
func writePolicy(t testing.TB, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// replacePolicy swaps the file's content the way editors and ConfigMaps do:
// a new file renamed over the old one.
func replacePolicy(t testing.TB, path, doc string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func issueDoc(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("policy/testdata/issue14.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func xdsClient(t testing.TB, protocol string, servers ...string) *xdsclient.Client {
	t.Helper()
	type server struct {
		URI      string           `json:"server_uri"`
		Creds    []map[string]any `json:"channel_creds"`
		Features []string         `json:"server_features"`
	}
	doc := map[string]any{"node": map[string]any{"id": "test-node", "cluster": "test"}, "rmqmesh": map[string]any{"protocol": protocol}}
	var list []server
	for _, s := range servers {
		list = append(list, server{URI: s, Creds: []map[string]any{{"type": "insecure"}}, Features: []string{"xds_v3"}})
	}
	doc["xds_servers"] = list
	b, _ := json.Marshal(doc)
	cfg, err := bootstrap.Parse(b, "test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := xdsclient.New(cfg, xdsclient.WithBackoff(func(int) time.Duration { return 20 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// recorder records what a watcher is told.
type recorder[T any] struct {
	mu      sync.Mutex
	changes []T
	errs    []error
	signal  chan struct{}
}

func newRecorder[T any]() *recorder[T] { return &recorder[T]{signal: make(chan struct{}, 1)} }

func (r *recorder[T]) ResourceChanged(u T) { r.add(func() { r.changes = append(r.changes, u) }) }
func (r *recorder[T]) ResourceError(err error) {
	r.add(func() { r.errs = append(r.errs, err) })
}
func (r *recorder[T]) AmbientError(error) {}

func (r *recorder[T]) add(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder[T]) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.changes)
}

// wait waits until cond holds on the latest update.
func (r *recorder[T]) wait(t testing.TB, what string, cond func(T) bool) T {
	t.Helper()
	deadline := time.After(meshtest.DefaultTimeout)
	for {
		r.mu.Lock()
		var last T
		ok := len(r.changes) > 0
		if ok {
			last = r.changes[len(r.changes)-1]
		}
		errs := slices.Clone(r.errs)
		r.mu.Unlock()
		if ok && cond(last) {
			return last
		}
		select {
		case <-r.signal:
		case <-deadline:
			t.Fatalf("timed out waiting for %s (errors: %v)", what, errs)
		}
	}
}

// The server end to end at the xDS level, in both protocols: the listener,
// a topic's route, its cluster and endpoints with the cluster's brokers.
func TestServer_ServesTopicRoutesOnDemand(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 1), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("orders", 4))
			s := startServer(t, controlplane.WithNameservers(c.NameServerAddr()), controlplane.WithPolicyFile(writePolicy(t, issueDoc(t))))
			x := xdsClient(t, protocol, s.Addr())
			l := newRecorder[*xdsclient.ListenerUpdate]()
			defer x.WatchListener("rocketmq", l)()
			if u := l.wait(t, "listener", func(*xdsclient.ListenerUpdate) bool { return true }); !u.OnDemand || u.RouteConfigName != "rocketmq" {
				t.Errorf("listener: on demand %v, route config %q", u.OnDemand, u.RouteConfigName)
			}
			rc := newRecorder[*xdsclient.RouteConfigUpdate]()
			defer x.WatchRouteConfig(wellknown.TopicRouteName("rocketmq", "orders"), rc)()
			u := rc.wait(t, "route of orders", func(*xdsclient.RouteConfigUpdate) bool { return true })
			routes := u.RouteConfig.GetRoutes()
			if len(routes) != 1 || routes[0].GetRoute().GetCluster() != "default/r4w4p6" || routes[0].GetMatch().GetTopic().GetSafeRegex().GetRegex() != ".*" {
				t.Fatalf("routes of orders: %v", routes)
			}
			eps := newRecorder[*xdsclient.EndpointsUpdate]()
			defer x.WatchEndpoints("default/r4w4p6", eps)()
			e := eps.wait(t, "endpoints", func(*xdsclient.EndpointsUpdate) bool { return true })
			var got []string
			for _, g := range e.Assignment.GetEndpoints() {
				for _, ep := range g.GetLbEndpoints() {
					md := ep.GetMetadata().GetFilterMetadata()[wellknown.RocketMQProxyFilter].GetFields()
					got = append(got, fmt.Sprintf("%s/%v w%d p%v", md[wellknown.BrokerNameKey].GetStringValue(), md[wellknown.BrokerIDKey].GetNumberValue(),
						ep.GetLoadBalancingWeight().GetValue(), md[wellknown.PermKey].GetNumberValue()))
				}
			}
			if want := []string{"broker-a/0 w80 p6", "broker-a/1 w80 p6", "broker-b/0 w20 p4"}; !slices.Equal(got, want) {
				t.Errorf("endpoints %v, want %v", got, want)
			}
			// A topic change reaches the subscriber: broker-b grows to 8 queues.
			c.Broker("broker-b").CreateTopic("orders", 8)
			moved := rc.wait(t, "orders to move to a new layout", func(u *xdsclient.RouteConfigUpdate) bool {
				return strings.HasPrefix(u.RouteConfig.GetRoutes()[0].GetRoute().GetCluster(), "default/h")
			})
			if moved.Version == u.Version {
				t.Errorf("the route changed and kept its version %q", u.Version)
			}
			if !slices.Contains(heldTopics(t, s), "orders") {
				t.Error("orders is not held")
			}
		})
	}
}

func heldTopics(t testing.TB, s *controlplane.Server) []string {
	var out []string
	for _, rc := range s.Resources().RouteConfigs {
		_, topic, _ := wellknown.ParseTopicRouteName(rc.GetName())
		out = append(out, topic)
	}
	return out
}

// Two replicas over the same cluster and policy serve identical versions;
// a client whose replica goes away reconnects to another behind the same
// address and is told nothing new. (A client that lists replicas as fallback
// xds_servers stays on its cached resources when the first goes away, gRFC
// A71, and moves only for something it has no value of.)
func TestServer_ReplicasAgree(t *testing.T) {
	for _, protocol := range []string{"sotw", "delta"} {
		t.Run(protocol, func(t *testing.T) {
			c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 1), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("orders", 4))
			path := writePolicy(t, issueDoc(t))
			r1, err := controlplane.New(append(fastOpts(), controlplane.WithNameservers(c.NameServerAddr()), controlplane.WithPolicyFile(path))...)
			if err != nil {
				t.Fatal(err)
			}
			defer r1.Close()
			r2 := startServer(t, controlplane.WithNameservers(c.NameServerAddr()), controlplane.WithPolicyFile(path))

			x := xdsClient(t, protocol, r1.Addr())
			w := watchOrders(t, x)

			// r2 holds orders too (another client of it asks), and then the
			// two agree on every version.
			x2 := xdsClient(t, protocol, r2.Addr())
			rc2 := newRecorder[*xdsclient.RouteConfigUpdate]()
			defer x2.WatchRouteConfig(wellknown.TopicRouteName("rocketmq", "orders"), rc2)()
			rc2.wait(t, "route on replica 2", func(*xdsclient.RouteConfigUpdate) bool { return true })
			meshtest.WaitFor(t, "replicas to agree on versions", func() bool {
				v1, v2 := r1.Versions(), r2.Versions()
				return len(v1) == 4 && fmt.Sprint(v1) == fmt.Sprint(v2)
			})
			before := w.state()

			// A third replica takes over r1's address, as behind a load
			// balancer; the client's stream breaks and reconnects to it.
			addr := r1.Addr()
			r1.Close()
			r3 := startServer(t, controlplane.WithNameservers(c.NameServerAddr()), controlplane.WithPolicyFile(path), controlplane.WithListenAddress(addr))
			checkMovedQuietly(t, r3, protocol, w, before)
		})
	}
}

// ordersWatch is what a client of topic orders watches: the listener, the
// topic's route, and the route's cluster and endpoints.
type ordersWatch struct {
	x  *xdsclient.Client
	l  *recorder[*xdsclient.ListenerUpdate]
	rc *recorder[*xdsclient.RouteConfigUpdate]
	cl *recorder[*xdsclient.ClusterUpdate]
	ep *recorder[*xdsclient.EndpointsUpdate]
}

// watchOrders watches through x until each has a value.
func watchOrders(t testing.TB, x *xdsclient.Client) *ordersWatch {
	t.Helper()
	w := &ordersWatch{x: x, l: newRecorder[*xdsclient.ListenerUpdate](), rc: newRecorder[*xdsclient.RouteConfigUpdate](),
		cl: newRecorder[*xdsclient.ClusterUpdate](), ep: newRecorder[*xdsclient.EndpointsUpdate]()}
	t.Cleanup(x.WatchListener("rocketmq", w.l))
	t.Cleanup(x.WatchRouteConfig(wellknown.TopicRouteName("rocketmq", "orders"), w.rc))
	t.Cleanup(x.WatchCluster(shape, w.cl))
	t.Cleanup(x.WatchEndpoints(shape, w.ep))
	w.l.wait(t, "listener", func(*xdsclient.ListenerUpdate) bool { return true })
	w.rc.wait(t, "route", func(*xdsclient.RouteConfigUpdate) bool { return true })
	w.cl.wait(t, "cluster", func(*xdsclient.ClusterUpdate) bool { return true })
	w.ep.wait(t, "endpoints", func(*xdsclient.EndpointsUpdate) bool { return true })
	return w
}

// watchState is what the watchers were told so far and the versions the
// client holds.
type watchState struct {
	counts   []int
	versions map[string]string
}

func (w *ordersWatch) state() watchState {
	return watchState{counts: []int{w.l.count(), w.rc.count(), w.cl.count(), w.ep.count()}, versions: dumpVersions(w.x)}
}

// checkMovedQuietly waits until the client of w has moved to replica s and
// settled, then checks it was told nothing new: no watcher update, no
// version changed, the topic route not resent (its version is a content
// hash the client quotes) and, in delta, nothing resent at all.
func checkMovedQuietly(t *testing.T, s *controlplane.Server, protocol string, w *ordersWatch, before watchState) {
	t.Helper()
	meshtest.WaitFor(t, "the client to move and settle", func() bool {
		ct := clientTypes(s, "test-node")
		if len(ct) != 4 || len(ct["route"].Subscribed) != 1 {
			return false
		}
		// Nothing is held back any more, and whatever was pushed on the new
		// stream was ACKed, so a spurious update would have reached the
		// watchers.
		for _, typ := range ct {
			if typ.Held || typ.Pushes > 0 && typ.Acked != typ.LastPushed && protocol == "sotw" {
				return false
			}
		}
		return true
	})
	time.Sleep(200 * time.Millisecond) // a late push, if any, gets a chance to show
	moved := clientTypes(s, "test-node")
	if n := moved["route"].Pushes; n != 0 {
		t.Errorf("the new replica resent the topic route %d times", n)
	}
	if protocol == "delta" {
		for typ, ti := range moved {
			if ti.Pushes != 0 {
				t.Errorf("the new replica pushed %d %s responses to a client that holds them", ti.Pushes, typ)
			}
		}
	}
	after := w.state()
	if !slices.Equal(after.counts, before.counts) {
		t.Errorf("watchers were told of changes after moving: %v, before %v", after.counts, before.counts)
	}
	if !maps.Equal(after.versions, before.versions) {
		t.Errorf("versions changed on moving:\n before %v\n after  %v", before.versions, after.versions)
	}
}

func dumpVersions(x *xdsclient.Client) map[string]string {
	out := map[string]string{}
	for _, d := range x.Dump() {
		out[d.Name] = d.Version
	}
	return out
}

// logCounter counts log records whose message contains a string.
type logCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, b.String())
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
func (l *logCounter) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// Hot reload: a good edit applies, a bad one (not YAML, a broker nobody
// reports) is refused whole with file, line and field, logged once, and the
// last good policy keeps serving.
func TestServer_PolicyReload(t *testing.T) {
	c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("orders", 4))
	path := writePolicy(t, issueDoc(t))
	logs := &logCounter{}
	s := startServer(t, controlplane.WithNameservers(c.NameServerAddr()), controlplane.WithPolicyFile(path), controlplane.WithLogger(slog.New(logs)),
		controlplane.WithAdminAddress("127.0.0.1:0"))
	meshtest.WaitFor(t, "first sync", func() bool { return s.Health().OK })
	good := s.Policy().Digest

	weight := func() uint32 {
		for _, cla := range s.Resources().Endpoints {
			if cla.GetClusterName() != "default" {
				continue
			}
			for _, g := range cla.GetEndpoints() {
				for _, e := range g.GetLbEndpoints() {
					if e.GetMetadata().GetFilterMetadata()[wellknown.SubsetMetadataNamespace].GetFields()[wellknown.BrokerNameKey].GetStringValue() == "broker-b" {
						return e.GetLoadBalancingWeight().GetValue()
					}
				}
			}
		}
		return 0
	}
	meshtest.WaitFor(t, "broker-b weight 20", func() bool { return weight() == 20 })

	replacePolicy(t, path, strings.Replace(issueDoc(t), "weight: 20", "weight: 50", 1))
	meshtest.WaitFor(t, "broker-b weight 50 after the edit", func() bool { return weight() == 50 })
	edited := s.Policy().Digest
	if edited == good {
		t.Fatal("digest did not change")
	}

	for _, bad := range []struct{ doc, want string }{
		{"listeners: [\n", "policy.yaml:1: not valid policy YAML"},
		{strings.Replace(issueDoc(t), "broker-b: {", "broker-q: {", 1), `policy.yaml:13: clusters[0].overrides.broker-q: broker "broker-q" is not known to any nameserver`},
	} {
		before := logs.count("policy edit refused")
		replacePolicy(t, path, bad.doc)
		meshtest.WaitFor(t, "the edit to be refused", func() bool {
			h := s.Health()
			return h.Policy.Rejected != nil && h.Policy.Rejected.Digest == policy.Digest([]byte(bad.doc)) && h.OK
		})
		h := s.Health()
		if !strings.Contains(h.Policy.Rejected.Error, bad.want) {
			t.Errorf("refusal %q does not name %q", h.Policy.Rejected.Error, bad.want)
		}
		if s.Policy().Digest != edited || weight() != 50 {
			t.Errorf("the refused edit changed what is served")
		}
		time.Sleep(200 * time.Millisecond) // ten checks of the file
		if n := logs.count("policy edit refused") - before; n != 1 {
			t.Errorf("refusal logged %d times, want once", n)
		}
	}
	metrics := get(t, "http://"+s.AdminAddr()+"/metrics")
	for _, want := range []string{`rmqmesh_controlplane_policy_reloads_total{result="applied"} 1`, `rmqmesh_controlplane_policy_reloads_total{result="rejected"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	replacePolicy(t, path, issueDoc(t))
	meshtest.WaitFor(t, "the good policy again", func() bool { return s.Health().Policy.Rejected == nil && weight() == 20 })
}

func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// The admin endpoints: health, config dump with versions, clients with
// their subscriptions and NACK detail, metrics.
func TestServer_Admin(t *testing.T) {
	c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithBroker("broker-b", 0), meshtest.WithTopic("orders", 4))
	s := startServer(t, controlplane.WithNameservers(c.NameServerAddr()), controlplane.WithPolicyFile(writePolicy(t, issueDoc(t))),
		controlplane.WithAdminAddress("127.0.0.1:0"))
	admin := "http://" + s.AdminAddr()
	x := xdsClient(t, "delta", s.Addr())
	rc := newRecorder[*xdsclient.RouteConfigUpdate]()
	defer x.WatchRouteConfig(wellknown.TopicRouteName("rocketmq", "orders"), rc)()
	rc.wait(t, "route", func(*xdsclient.RouteConfigUpdate) bool { return true })

	var health controlplane.Health
	resp, err := http.Get(admin + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != 200 || !health.OK || health.Policy.Digest == "" || len(health.Discovery.NameServers) != 1 {
		t.Errorf("healthz %d: %+v", resp.StatusCode, health)
	}

	var dump map[string]struct {
		Version   string
		Resources []struct{ Name, Version string }
	}
	types := map[string]string{"listener": resource.ListenerType, "cluster": resource.ClusterType, "endpoint": resource.EndpointType, "route": resource.RouteConfigType}
	// Discovery keeps polling; wait for a dump taken between two builds.
	meshtest.WaitFor(t, "config_dump to show the served versions", func() bool {
		if err := json.Unmarshal([]byte(get(t, admin+"/config_dump")), &dump); err != nil {
			t.Fatal(err)
		}
		versions := s.Versions()
		for typ, url := range types {
			if dump[typ].Version == "" || dump[typ].Version != versions[url] {
				return false
			}
		}
		return true
	})
	if r := dump["route"].Resources; len(r) != 1 || r[0].Name != "rocketmq/orders" || r[0].Version == "" {
		t.Errorf("config_dump routes: %+v", r)
	}
	if body := get(t, admin+"/config_dump?type=cluster&name=default"); !strings.Contains(body, `"name": "default"`) || strings.Contains(body, "listener") {
		t.Errorf("filtered config_dump:\n%s", body)
	}

	// A NACK from a raw ADS stream is counted, shown with its detail.
	conn, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), meshtest.DefaultTimeout)
	defer cancel()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &discoveryv3.DiscoveryRequest{TypeUrl: resource.ListenerType, ResourceNames: []string{"rocketmq"}, Node: &corev3.Node{Id: "nacker"}}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resource.ListenerType, ResourceNames: []string{"rocketmq"},
		ResponseNonce: first.GetNonce(), ErrorDetail: &statuspb.Status{Code: 3, Message: "listener \"rocketmq\": I do not like it"}}); err != nil {
		t.Fatal(err)
	}
	meshtest.WaitFor(t, "the NACK to be recorded", func() bool {
		for _, ci := range s.Clients() {
			if ci.Node == "nacker" && ci.Types["listener"].LastNACK != nil {
				return strings.Contains(ci.Types["listener"].LastNACK.Detail, "I do not like it")
			}
		}
		return false
	})
	clients := get(t, admin+"/clients")
	for _, want := range []string{`"node": "test-node"`, `"protocol": "delta"`, `"rocketmq/orders"`, `"node": "nacker"`, "I do not like it"} {
		if !strings.Contains(clients, want) {
			t.Errorf("/clients lacks %s:\n%s", want, clients)
		}
	}
	metrics := get(t, admin+"/metrics")
	for _, want := range []string{
		`rmqmesh_controlplane_nacks_total{type="listener"} 1`,
		`rmqmesh_controlplane_topics_held 1`,
		`rmqmesh_controlplane_clients 2`,
		`rmqmesh_controlplane_pushes_total{type="route"}`,
		`rmqmesh_controlplane_discovery_requests_total{code="106",nameserver="` + c.NameServerAddr() + `"}`,
		`rmqmesh_controlplane_brokers{state="registered"} 2`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// When every nameserver fails the server keeps serving what it had, says so
// in /healthz and counts the failures.
func TestServer_NameserverDownKeepsLastGood(t *testing.T) {
	c := meshtest.RunCluster(t, meshtest.WithBroker("broker-a", 0), meshtest.WithTopic("orders", 4))
	s := startServer(t, controlplane.WithNameservers(c.NameServerAddr()), controlplane.WithPolicyFile(writePolicy(t, issueDoc(t))))
	meshtest.WaitFor(t, "first sync", func() bool { return s.Health().OK && len(s.Resources().Endpoints) > 0 })
	before := s.Versions()
	c.NameServer().Stop()
	meshtest.WaitFor(t, "the failure to show", func() bool {
		st := s.Health().Discovery.NameServers[0]
		return st.Failures >= 3 && st.LastError != ""
	})
	if after := s.Versions(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("versions changed while the nameserver was down: %v → %v", before, after)
	}
	if eps := s.Resources().Endpoints; len(eps) == 0 || len(eps[0].GetEndpoints()) == 0 {
		t.Error("endpoints dropped while the nameserver was down")
	}
}

func TestNew_Errors(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []controlplane.Option
		want string
	}{
		{"no nameserver", []controlplane.Option{controlplane.WithPolicyFile("policy/testdata/issue14.yaml")}, "no nameserver"},
		{"no policy", []controlplane.Option{controlplane.WithNameservers("127.0.0.1:1")}, "no policy"},
		{"bad policy", []controlplane.Option{controlplane.WithNameservers("127.0.0.1:1"), controlplane.WithPolicyFile(writePolicy(t, "listeners: 3\n"))}, "policy.yaml:1"},
		{"missing policy", []controlplane.Option{controlplane.WithNameservers("127.0.0.1:1"), controlplane.WithPolicyFile("/nonexistent/policy.yaml")}, "/nonexistent/policy.yaml"},
		{"bad listen address", []controlplane.Option{controlplane.WithNameservers("127.0.0.1:1"), controlplane.WithPolicyFile("policy/testdata/issue14.yaml"), controlplane.WithListenAddress("nowhere:-1")}, "xDS listener"},
	} {
		_, err := controlplane.New(c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}
}
