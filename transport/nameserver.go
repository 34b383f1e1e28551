package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// RouteProvider answers route queries for the nameserver endpoint. Implementations
// may block until configuration arrives, but must honour ctx.
//
// Remarks the client sees say which component speaks. A provider's error text
// becomes the remark of the client's TOPIC_NOT_EXIST answer, which the client
// logs and an admin tool shows; it starts with the prefix of the rmqmesh
// package that decided, then names the topic and the reason:
//
//	mesh: topic "orders": listener "rmq-prod" unavailable: xdsclient: listener "rmq-prod": does not exist: ...
//	routing: topic "orders": no route in listener "rmq-prod" (code 10)
//
// The endpoint's own remarks (a malformed request, a request it does not
// serve, a provider that broke this contract) start with
// "transport: nameserver endpoint: ".
type RouteProvider interface {
	// TopicRoute returns the route the client should see for topic, or an
	// error whose text is the remark described above.
	TopicRoute(ctx context.Context, topic string) (*remoting.TopicRouteData, error)
}

// ClusterInfoProvider is optionally implemented by a RouteProvider to answer
// GET_BROKER_CLUSTER_INFO (106), which admin tools send.
type ClusterInfoProvider interface {
	ClusterInfo(ctx context.Context) (*remoting.ClusterInfo, error)
}

// NameServer is an in-process nameserver endpoint on a loopback address. It owns
// its listener and every connection accepted on it; Close releases all of them.
type NameServer struct {
	// immutable after construction
	provider     RouteProvider
	log          *slog.Logger
	routeTimeout time.Duration
	srv          *server

	ctx    context.Context // cancelled by Close so in-flight queries stop waiting
	cancel context.CancelFunc
}

// NewNameServer starts a nameserver endpoint that answers from provider. Of the
// options, [WithLogger], [WithListenAddress], [WithGuard], [WithMaxConnections]
// and [WithRouteTimeout] apply.
func NewNameServer(provider RouteProvider, opts ...Option) (*NameServer, error) {
	if provider == nil {
		return nil, errors.New("transport: nameserver endpoint needs a route provider")
	}
	o := newOptions(opts)
	n := &NameServer{
		provider:     provider,
		log:          o.log.With("component", "nameserver"),
		routeTimeout: o.routeTimeout,
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	srv, err := listen(o.listenAddr, &o, n.log, n.serveConn)
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("transport: nameserver endpoint: %w", err)
	}
	n.srv = srv
	n.log = srv.log
	return n, nil
}

// Addr returns the endpoint's host:port, for the client's NsResolver.
func (n *NameServer) Addr() string { return n.srv.Addr() }

// Close stops accepting, closes every connection and waits for the endpoint's
// goroutines to finish; route queries in flight see their context cancelled. It
// is safe to call more than once.
func (n *NameServer) Close() error {
	n.cancel()
	return n.srv.Close()
}

// serveConn reads requests from one client connection. Requests are answered in
// their own goroutines because a route query can wait for xDS while the client
// pipelines others on the same connection; serveConn returns once they are done.
func (n *NameServer) serveConn(c net.Conn) {
	var (
		writeMu sync.Mutex
		reqs    sync.WaitGroup
	)
	defer reqs.Wait()
	for {
		req, err := remoting.ReadCommand(c, remoting.DefaultMaxFrameSize)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
				n.log.Debug("closing client connection", "remote", c.RemoteAddr().String(), "err", err)
			}
			return
		}
		if req.IsResponse() {
			continue // nothing here sends requests to clients
		}
		reqs.Add(1)
		go func() {
			defer reqs.Done()
			resp := n.handle(req)
			if resp == nil {
				return
			}
			writeMu.Lock()
			defer writeMu.Unlock()
			if err := remoting.WriteCommand(c, resp); err != nil {
				n.log.Debug("writing response", "code", req.Code, "err", err)
			}
		}()
	}
}

func (n *NameServer) handle(req *remoting.Command) *remoting.Command {
	ctx, cancel := context.WithTimeout(n.ctx, n.routeTimeout)
	defer cancel()
	switch req.Code {
	case remoting.CodeGetRouteInfoByTopic:
		return n.handleRoute(ctx, req)
	case remoting.CodeGetBrokerClusterInfo:
		return n.handleClusterInfo(ctx, req)
	}
	if req.IsOneway() {
		return nil
	}
	return remoting.NewResponse(req, remoting.RequestCodeNotSupported,
		fmt.Sprintf("transport: nameserver endpoint: request code %s is not served in process", remoting.RequestCodeName(req.Code)))
}

// handleRoute answers GET_ROUTEINFO_BY_TOPIC (105).
func (n *NameServer) handleRoute(ctx context.Context, req *remoting.Command) *remoting.Command {
	topic := req.Ext("topic")
	if topic == "" {
		return remoting.NewResponse(req, remoting.SystemError, "transport: nameserver endpoint: GET_ROUTEINFO_BY_TOPIC without a topic")
	}
	route, err := n.provider.TopicRoute(ctx, topic)
	if err != nil {
		n.log.Debug("no route", "topic", topic, "err", err)
		// TOPIC_NOT_EXIST makes the client fall back to its default topic and keeps
		// its own error text generic; the remark is still there for wire-level tools.
		return remoting.NewResponse(req, remoting.TopicNotExist, err.Error())
	}
	if route == nil {
		// A provider bug, answered rather than allowed to panic the process from
		// this connection's goroutine.
		return remoting.NewResponse(req, remoting.SystemError, fmt.Sprintf("transport: nameserver endpoint: topic %q: route provider returned neither a route nor an error", topic))
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = route.Encode(remoting.RouteKeyStyleFor(req))
	return resp
}

// handleClusterInfo answers GET_BROKER_CLUSTER_INFO (106).
func (n *NameServer) handleClusterInfo(ctx context.Context, req *remoting.Command) *remoting.Command {
	p, ok := n.provider.(ClusterInfoProvider)
	if !ok {
		return remoting.NewResponse(req, remoting.RequestCodeNotSupported, "transport: nameserver endpoint: cluster info is not available from this mesh")
	}
	info, err := p.ClusterInfo(ctx)
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, err.Error())
	}
	if info == nil {
		return remoting.NewResponse(req, remoting.SystemError, "transport: nameserver endpoint: cluster info provider returned neither cluster info nor an error")
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = info.Encode()
	return resp
}
