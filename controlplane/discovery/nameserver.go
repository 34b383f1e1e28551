package discovery

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/rmqmesh/rmqmesh/transport"
	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// ErrTopicNotExist is returned by [NameServer.TopicRoute] when the
// nameserver answers TOPIC_NOT_EXIST (17): it knows the topic on no broker.
var ErrTopicNotExist = errors.New("topic does not exist")

// NameServer is one nameserver, as discovery asks it.
type NameServer interface {
	// Addr names the nameserver in messages and metrics.
	Addr() string
	// ClusterInfo asks GET_BROKER_CLUSTER_INFO (106).
	ClusterInfo(ctx context.Context) (*remoting.ClusterInfo, error)
	// TopicRoute asks GET_ROUTEINFO_BY_TOPIC (105). A topic the nameserver
	// does not know gives an error wrapping [ErrTopicNotExist].
	TopicRoute(ctx context.Context, topic string) (*remoting.TopicRouteData, error)
}

// Remote returns a [NameServer] at addr ("host:port") that speaks the
// RocketMQ remoting protocol, one connection per request: discovery asks
// rarely enough that pooling would cost more than it saves.
func Remote(addr string) NameServer { return &remote{addr: addr} }

type remote struct {
	addr   string
	opaque atomic.Int32
}

func (r *remote) Addr() string { return r.addr }

func (r *remote) call(ctx context.Context, code int32, ext map[string]string) (*remoting.Command, error) {
	req := remoting.NewRequest(code, ext, nil)
	req.Opaque = r.opaque.Add(1)
	resp, err := transport.Call(ctx, r.addr, req)
	if err != nil {
		return nil, fmt.Errorf("discovery: nameserver %q: %w", r.addr, err)
	}
	return resp, nil
}

func (r *remote) ClusterInfo(ctx context.Context) (*remoting.ClusterInfo, error) {
	resp, err := r.call(ctx, remoting.CodeGetBrokerClusterInfo, nil)
	if err != nil {
		return nil, err
	}
	if resp.Code != remoting.Success {
		return nil, fmt.Errorf("discovery: nameserver %q: cluster info: code %d: %s", r.addr, resp.Code, resp.Remark)
	}
	ci, err := remoting.DecodeClusterInfo(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("discovery: nameserver %q: cluster info: %w", r.addr, err)
	}
	return ci, nil
}

func (r *remote) TopicRoute(ctx context.Context, topic string) (*remoting.TopicRouteData, error) {
	resp, err := r.call(ctx, remoting.CodeGetRouteInfoByTopic, map[string]string{"topic": topic})
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case remoting.Success:
	case remoting.TopicNotExist:
		return nil, fmt.Errorf("discovery: nameserver %q: topic %q: %w", r.addr, topic, ErrTopicNotExist)
	default:
		return nil, fmt.Errorf("discovery: nameserver %q: route of topic %q: code %d: %s", r.addr, topic, resp.Code, resp.Remark)
	}
	rd, err := remoting.DecodeTopicRouteData(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("discovery: nameserver %q: route of topic %q: %w", r.addr, topic, err)
	}
	return rd, nil
}
