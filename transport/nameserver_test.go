package transport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/rmqmesh/rmqmesh/meshtest"
	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// fakeProvider answers route queries from a function and records what it saw.
type fakeProvider struct {
	route func(ctx context.Context, topic string) (*remoting.TopicRouteData, error)

	mu     sync.Mutex
	topics []string
}

func (p *fakeProvider) TopicRoute(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
	p.mu.Lock()
	p.topics = append(p.topics, topic)
	p.mu.Unlock()
	return p.route(ctx, topic)
}

func (p *fakeProvider) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.topics...)
}

// clusterInfoProvider is a fakeProvider that also answers code 106.
type clusterInfoProvider struct {
	*fakeProvider
	info *remoting.ClusterInfo
}

func (p clusterInfoProvider) ClusterInfo(context.Context) (*remoting.ClusterInfo, error) {
	return p.info, nil
}

var _ transport.ClusterInfoProvider = clusterInfoProvider{}

// routeOf is the route the fake provider answers for topic: one broker set whose
// name carries the topic, with a master and a replica.
func routeOf(topic string) *remoting.TopicRouteData {
	return &remoting.TopicRouteData{
		QueueDatas: []remoting.QueueData{{BrokerName: "broker-" + topic, ReadQueueNums: 4, WriteQueueNums: 4, Perm: remoting.PermRead | remoting.PermWrite}},
		BrokerDatas: []remoting.BrokerData{{Cluster: "mesh", BrokerName: "broker-" + topic, BrokerAddrs: map[int64]string{
			0: "10.0.0.1:10911",
			1: "10.0.0.2:10911",
		}}},
		FilterServerTable: map[string][]string{},
	}
}

func staticProvider() *fakeProvider {
	return &fakeProvider{route: func(_ context.Context, topic string) (*remoting.TopicRouteData, error) {
		return routeOf(topic), nil
	}}
}

func startNameServer(t *testing.T, p transport.RouteProvider, opts ...transport.Option) *transport.NameServer {
	t.Helper()
	ns, err := transport.NewNameServer(p, opts...)
	if err != nil {
		t.Fatalf("NewNameServer: %v", err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return ns
}

// wireConn is a raw remoting connection to an endpoint.
type wireConn struct {
	t *testing.T
	c net.Conn
}

func dialWire(t *testing.T, addr string) *wireConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	_ = c.SetDeadline(time.Now().Add(meshtest.DefaultTimeout))
	t.Cleanup(func() { c.Close() })
	return &wireConn{t: t, c: c}
}

func (w *wireConn) send(reqs ...*remoting.Command) {
	w.t.Helper()
	var frames []byte
	for _, r := range reqs {
		var err error
		if frames, err = r.AppendFrame(frames); err != nil {
			w.t.Fatalf("encoding code %d: %v", r.Code, err)
		}
	}
	if _, err := w.c.Write(frames); err != nil {
		w.t.Fatalf("writing %d requests: %v", len(reqs), err)
	}
}

func (w *wireConn) read() *remoting.Command {
	w.t.Helper()
	resp, err := remoting.ReadCommand(w.c, 0)
	if err != nil {
		w.t.Fatalf("reading response: %v", err)
	}
	if !resp.IsResponse() {
		w.t.Fatalf("got a request (code %d) from the endpoint, want a response", resp.Code)
	}
	return resp
}

// roundTrip sends req and returns the response.
func (w *wireConn) roundTrip(req *remoting.Command) *remoting.Command {
	w.t.Helper()
	w.send(req)
	resp := w.read()
	if resp.Opaque != req.Opaque {
		w.t.Fatalf("response opaque %d, want %d", resp.Opaque, req.Opaque)
	}
	return resp
}

var opaqueSeq atomic.Int32

func routeRequest(topic string) *remoting.Command {
	req := remoting.NewRequest(remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
	req.Opaque = opaqueSeq.Add(1)
	return req
}

func TestNameServer_RouteInRequestedKeyStyle(t *testing.T) {
	ns := startNameServer(t, staticProvider())
	w := dialWire(t, ns.Addr())
	for _, tc := range []struct {
		name      string
		version   int32
		ext       map[string]string
		serialize remoting.SerializeType
		wantKeys  string // how brokerAddrs keys look in the body
	}{
		{name: "go client 317 gets fastjson keys", version: remoting.VersionGoClient, wantKeys: `{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}`},
		{name: "4.9.8 gets quoted keys", version: remoting.VersionV4_9_8, wantKeys: `{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}`},
		{name: "acceptStandardJsonOnly gets quoted keys", version: remoting.VersionGoClient, ext: map[string]string{"acceptStandardJsonOnly": "true"}, wantKeys: `{"0":"10.0.0.1:10911","1":"10.0.0.2:10911"}`},
		{name: "ROCKETMQ header is answered in kind", version: remoting.VersionGoClient, serialize: remoting.SerializeRocketMQ, wantKeys: `{0:"10.0.0.1:10911",1:"10.0.0.2:10911"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "orders-" + fmt.Sprint(tc.version)
			req := routeRequest(topic)
			req.Version = tc.version
			req.SerializeType = tc.serialize
			for k, v := range tc.ext {
				req.SetExt(k, v)
			}
			resp := w.roundTrip(req)
			if resp.Code != remoting.Success {
				t.Fatalf("code %d (%q), want success", resp.Code, resp.Remark)
			}
			if resp.SerializeType != tc.serialize {
				t.Errorf("response serialize type %v, want %v", resp.SerializeType, tc.serialize)
			}
			if !bytes.Contains(resp.Body, []byte(`"brokerAddrs":`+tc.wantKeys)) {
				t.Errorf("body %s does not carry brokerAddrs %s", resp.Body, tc.wantKeys)
			}
			got, err := remoting.DecodeTopicRouteData(resp.Body)
			if err != nil {
				t.Fatalf("DecodeTopicRouteData(%s): %v", resp.Body, err)
			}
			if diff := cmp.Diff(got, routeOf(topic)); diff != "" {
				t.Errorf("decoded route (-got +want):\n%s", diff)
			}
		})
	}
}

func TestNameServer_ProviderErrorIsTopicNotExistWithRemark(t *testing.T) {
	p := &fakeProvider{route: func(_ context.Context, topic string) (*remoting.TopicRouteData, error) {
		return nil, fmt.Errorf("rmqmesh: topic %q: no route in listener %q", topic, "rmq-test")
	}}
	ns := startNameServer(t, p)
	resp := dialWire(t, ns.Addr()).roundTrip(routeRequest("orders"))
	if resp.Code != remoting.TopicNotExist {
		t.Errorf("code %d, want TopicNotExist (%d)", resp.Code, remoting.TopicNotExist)
	}
	if want := `rmqmesh: topic "orders": no route in listener "rmq-test"`; resp.Remark != want {
		t.Errorf("remark %q, want %q", resp.Remark, want)
	}
	if len(resp.Body) != 0 {
		t.Errorf("error response has a body: %s", resp.Body)
	}
}

func TestNameServer_NilAnswersFromProvidersAreSystemErrors(t *testing.T) {
	p := clusterInfoProvider{fakeProvider: &fakeProvider{route: func(context.Context, string) (*remoting.TopicRouteData, error) {
		return nil, nil
	}}}
	ns := startNameServer(t, p)
	w := dialWire(t, ns.Addr())
	if resp := w.roundTrip(routeRequest("orders")); resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, `"orders"`) {
		t.Errorf("nil route: code %d remark %q, want SystemError naming the topic", resp.Code, resp.Remark)
	}
	req := remoting.NewRequest(remoting.CodeGetBrokerClusterInfo, nil, nil)
	req.Opaque = opaqueSeq.Add(1)
	if resp := w.roundTrip(req); resp.Code != remoting.SystemError || !strings.Contains(resp.Remark, "cluster info") {
		t.Errorf("nil cluster info: code %d remark %q, want SystemError naming cluster info", resp.Code, resp.Remark)
	}
}

func TestNameServer_RouteQueryWithoutTopicIsSystemError(t *testing.T) {
	p := staticProvider()
	ns := startNameServer(t, p)
	req := remoting.NewRequest(remoting.CodeGetRouteInfoByTopic, nil, nil)
	req.Opaque = 7
	resp := dialWire(t, ns.Addr()).roundTrip(req)
	if resp.Code != remoting.SystemError {
		t.Errorf("code %d, want SystemError (%d)", resp.Code, remoting.SystemError)
	}
	if !strings.Contains(resp.Remark, "without a topic") {
		t.Errorf("remark %q does not say the topic is missing", resp.Remark)
	}
	if got := p.asked(); len(got) != 0 {
		t.Errorf("provider was asked for %q", got)
	}
}

func TestNameServer_UnservedCodesAreNotSupported(t *testing.T) {
	ns := startNameServer(t, staticProvider())
	w := dialWire(t, ns.Addr())
	for _, tc := range []struct {
		code int32
		want string
	}{
		{remoting.CodeHeartBeat, "HEART_BEAT"},
		{remoting.CodeGetAllTopicListFromNameSrv, remoting.RequestCodeName(remoting.CodeGetAllTopicListFromNameSrv)},
		{98765, "98765"},
	} {
		req := remoting.NewRequest(tc.code, nil, nil)
		req.Opaque = opaqueSeq.Add(1)
		resp := w.roundTrip(req)
		if resp.Code != remoting.RequestCodeNotSupported {
			t.Errorf("code %d: answered %d, want RequestCodeNotSupported (%d)", tc.code, resp.Code, remoting.RequestCodeNotSupported)
		}
		if !strings.Contains(resp.Remark, tc.want) {
			t.Errorf("code %d: remark %q does not name %q", tc.code, resp.Remark, tc.want)
		}
	}
	// A oneway request with an unserved code gets no answer; the next request on
	// the connection is answered normally.
	oneway := remoting.NewRequest(98765, nil, nil)
	oneway.Opaque = opaqueSeq.Add(1)
	oneway.Flag |= remoting.FlagOneway
	w.send(oneway)
	next := routeRequest("after-oneway")
	if resp := w.roundTrip(next); resp.Code != remoting.Success {
		t.Errorf("request after a oneway: code %d (%q)", resp.Code, resp.Remark)
	}
}

func TestNameServer_ClusterInfo(t *testing.T) {
	t.Run("provider without cluster info", func(t *testing.T) {
		ns := startNameServer(t, staticProvider())
		req := remoting.NewRequest(remoting.CodeGetBrokerClusterInfo, nil, nil)
		req.Opaque = 1
		resp := dialWire(t, ns.Addr()).roundTrip(req)
		if resp.Code != remoting.RequestCodeNotSupported {
			t.Errorf("code %d, want RequestCodeNotSupported (%d)", resp.Code, remoting.RequestCodeNotSupported)
		}
		if !strings.Contains(resp.Remark, "cluster info") {
			t.Errorf("remark %q does not mention cluster info", resp.Remark)
		}
	})
	t.Run("provider with cluster info", func(t *testing.T) {
		info := &remoting.ClusterInfo{
			BrokerAddrTable:  map[string]remoting.BrokerData{"broker-a": {Cluster: "mesh", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "10.0.0.1:10911"}}},
			ClusterAddrTable: map[string][]string{"mesh": {"broker-a"}},
		}
		ns := startNameServer(t, clusterInfoProvider{staticProvider(), info})
		req := remoting.NewRequest(remoting.CodeGetBrokerClusterInfo, nil, nil)
		req.Opaque = 2
		resp := dialWire(t, ns.Addr()).roundTrip(req)
		if resp.Code != remoting.Success {
			t.Fatalf("code %d (%q), want success", resp.Code, resp.Remark)
		}
		got, err := remoting.DecodeClusterInfo(resp.Body)
		if err != nil {
			t.Fatalf("DecodeClusterInfo(%s): %v", resp.Body, err)
		}
		if diff := cmp.Diff(got.BrokerAddrTable, info.BrokerAddrTable); diff != "" {
			t.Errorf("brokerAddrTable (-got +want):\n%s", diff)
		}
		if diff := cmp.Diff(got.ClusterAddrTable, info.ClusterAddrTable); diff != "" {
			t.Errorf("clusterAddrTable (-got +want):\n%s", diff)
		}
	})
}

func TestNameServer_GarbageClosesOnlyThatConnection(t *testing.T) {
	ns := startNameServer(t, staticProvider())
	good := dialWire(t, ns.Addr())
	if resp := good.roundTrip(routeRequest("before")); resp.Code != remoting.Success {
		t.Fatalf("code %d (%q)", resp.Code, resp.Remark)
	}
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"unknown serialize type", []byte{0, 0, 0, 8, 7, 0, 0, 2, '{', '}', 0, 0}},
		{"header not JSON", []byte{0, 0, 0, 7, 0, 0, 0, 3, 'x', 'y', 'z'}},
		{"length below minimum", []byte{0, 0, 0, 1, 0}},
		{"frame too large", []byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := dialWire(t, ns.Addr())
			if _, err := bad.c.Write(tc.frame); err != nil {
				t.Fatalf("write: %v", err)
			}
			// The endpoint closes the connection without answering: EOF, or a
			// reset when the garbage had bytes it never read.
			if cmd, err := remoting.ReadCommand(bad.c, 0); err == nil {
				t.Fatalf("endpoint answered garbage with code %d (%q)", cmd.Code, cmd.Remark)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("reading from the garbage connection: %v, want the endpoint to close it", err)
			}
			// Connections opened before and after keep working.
			if resp := good.roundTrip(routeRequest("after-" + tc.name)); resp.Code != remoting.Success {
				t.Errorf("existing connection: code %d (%q)", resp.Code, resp.Remark)
			}
			if resp := dialWire(t, ns.Addr()).roundTrip(routeRequest("new")); resp.Code != remoting.Success {
				t.Errorf("new connection: code %d (%q)", resp.Code, resp.Remark)
			}
		})
	}
}

func TestNameServer_RouteTimeoutBoundsBlockingProvider(t *testing.T) {
	type seen struct {
		hasDeadline bool
		err         error
	}
	got := make(chan seen, 1)
	p := &fakeProvider{route: func(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
		_, ok := ctx.Deadline()
		<-ctx.Done()
		got <- seen{ok, ctx.Err()}
		return nil, fmt.Errorf("rmqmesh: topic %q: no configuration yet: %w", topic, ctx.Err())
	}}
	ns := startNameServer(t, p, transport.WithRouteTimeout(50*time.Millisecond))
	resp := dialWire(t, ns.Addr()).roundTrip(routeRequest("slow"))
	if resp.Code != remoting.TopicNotExist {
		t.Errorf("code %d, want TopicNotExist (%d)", resp.Code, remoting.TopicNotExist)
	}
	if !strings.Contains(resp.Remark, `"slow"`) || !strings.Contains(resp.Remark, context.DeadlineExceeded.Error()) {
		t.Errorf("remark %q does not name the topic and the deadline", resp.Remark)
	}
	s := <-got
	if !s.hasDeadline || !errors.Is(s.err, context.DeadlineExceeded) {
		t.Errorf("provider's context: deadline set %v, ended with %v; want a deadline that expired", s.hasDeadline, s.err)
	}
}

func TestNameServer_CloseReleasesEverything(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	entered := make(chan struct{})
	ended := make(chan error, 1)
	p := &fakeProvider{route: func(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
		close(entered)
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}}
	ns, err := transport.NewNameServer(p, transport.WithRouteTimeout(time.Hour))
	if err != nil {
		t.Fatalf("NewNameServer: %v", err)
	}
	addr := ns.Addr()
	// Idle connections and one request blocked in the provider.
	idle := dialWire(t, addr)
	busy := dialWire(t, addr)
	busy.send(routeRequest("blocked"))
	select {
	case <-entered:
	case <-time.After(meshtest.DefaultTimeout):
		t.Fatal("the provider was never asked")
	}

	closed := make(chan error, 1)
	go func() { closed <- ns.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(meshtest.DefaultTimeout):
		t.Fatal("Close did not return while a route query was blocked")
	}
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the blocked query ended with %v, want context.Canceled from Close", err)
	}
	if err := ns.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// Every connection is closed and nothing listens any more.
	for name, w := range map[string]*wireConn{"idle": idle, "busy": busy} {
		for {
			cmd, err := remoting.ReadCommand(w.c, 0)
			if err != nil {
				break
			}
			if name == "idle" {
				t.Errorf("idle connection got code %d after Close", cmd.Code)
			}
		}
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after Close", addr)
	}
	idle.c.Close()
	busy.c.Close()
}

func TestNameServer_PipelinedRequestsAnsweredByOpaque(t *testing.T) {
	const n = 64
	// Every query waits until all n have reached the provider: the endpoint must
	// answer pipelined requests concurrently, or the route timeout fails them.
	var arrived atomic.Int32
	all := make(chan struct{})
	p := &fakeProvider{route: func(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
			return routeOf(topic), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}}
	ns := startNameServer(t, p, transport.WithRouteTimeout(meshtest.DefaultTimeout))
	w := dialWire(t, ns.Addr())
	want := map[int32]string{}
	var reqs []*remoting.Command
	for i := range n {
		topic := fmt.Sprintf("t%02d", i)
		req := routeRequest(topic)
		if i%2 == 1 {
			req.Version = remoting.VersionV4_9_8
		}
		want[req.Opaque] = topic
		reqs = append(reqs, req)
	}
	w.send(reqs...) // one write: the frames arrive back to back
	for range n {
		resp := w.read()
		topic, ok := want[resp.Opaque]
		if !ok {
			t.Fatalf("response with unknown or repeated opaque %d", resp.Opaque)
		}
		delete(want, resp.Opaque)
		if resp.Code != remoting.Success {
			t.Errorf("opaque %d (%s): code %d (%q)", resp.Opaque, topic, resp.Code, resp.Remark)
			continue
		}
		r, err := remoting.DecodeTopicRouteData(resp.Body)
		if err != nil {
			t.Errorf("opaque %d: %v", resp.Opaque, err)
			continue
		}
		if got := r.BrokerDatas[0].BrokerName; got != "broker-"+topic {
			t.Errorf("opaque %d asked for %q but got the route of broker %q", resp.Opaque, topic, got)
		}
	}
	if len(want) != 0 {
		t.Errorf("unanswered opaques: %v", want)
	}
}

func TestNewNameServer_Errors(t *testing.T) {
	if ns, err := transport.NewNameServer(nil); err == nil {
		ns.Close()
		t.Error("NewNameServer(nil) succeeded")
	}
	ns, err := transport.NewNameServer(staticProvider(), transport.WithListenAddress("256.0.0.1:0"))
	if err == nil {
		ns.Close()
		t.Fatal("listening on a bad address succeeded")
	}
	if !strings.Contains(err.Error(), `"256.0.0.1:0"`) {
		t.Errorf("error %q does not name the address", err)
	}
}
