package meshtest

import (
	"encoding/json"
	"sort"
	"sync"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// NameServer is the cluster's nameserver. It computes routes from the brokers'
// topics on every request, so a stopped broker leaves the routes at once (as a
// graceful shutdown unregisters it) and a restarted one comes back.
type NameServer struct {
	c   *Cluster
	srv *server

	mu       sync.Mutex
	errs     map[int32]faultError
	requests []Request
}

func newNameServer(c *Cluster) *NameServer {
	n := &NameServer{c: c, errs: map[int32]faultError{}}
	n.srv = newServer(c.log.With("role", "nameserver"), n.serve)
	return n
}

// Addr returns the nameserver's "127.0.0.1:port".
func (n *NameServer) Addr() string { return n.srv.addrString() }

// Requests returns the requests with the given code the nameserver received, in
// arrival order.
func (n *NameServer) Requests(code int32) []Request {
	n.mu.Lock()
	defer n.mu.Unlock()
	return withCode(n.requests, code)
}

// RequestCount returns how many requests with the given code arrived.
func (n *NameServer) RequestCount(code int32) int { return len(n.Requests(code)) }

func (n *NameServer) serve(cn *conn, req *remoting.Command) *remoting.Command {
	n.mu.Lock()
	n.requests = appendRetained(n.requests, newRequest(cn, req, n.c.clock.now()), n.c.opts.retention)
	fe, hasErr := n.errs[req.Code]
	n.mu.Unlock()
	if hasErr {
		return remoting.NewResponse(req, fe.code, fe.remark)
	}
	switch req.Code {
	case remoting.CodeGetRouteInfoByTopic:
		return n.route(req)
	case remoting.CodeGetBrokerClusterInfo:
		return n.clusterInfo(req)
	case remoting.CodeGetAllTopicListFromNameSrv:
		return n.allTopics(req)
	case remoting.CodeDeleteTopicInNameSrv:
		return n.deleteTopic(req)
	}
	// Apache's nameserver answers nothing to an unknown code; we answer 3 so a
	// client never hangs.
	return notSupported(req)
}

// route answers GET_ROUTEINFO_BY_TOPIC (105).
func (n *NameServer) route(req *remoting.Command) *remoting.Command {
	topic := req.Ext("topic")
	qds, bds := n.c.routeFor(topic)
	if len(qds) == 0 {
		return remoting.NewResponse(req, remoting.TopicNotExist, RemarkNoTopicRoute(topic))
	}
	rd := &remoting.TopicRouteData{FilterServerTable: map[string][]string{}}
	for _, q := range qds {
		rd.QueueDatas = append(rd.QueueDatas, remoting.QueueData{
			BrokerName: q.brokerName, ReadQueueNums: q.read, WriteQueueNums: q.write,
			Perm: q.perm, TopicSysFlag: q.sysFlag,
		})
	}
	for _, bd := range bds {
		rd.BrokerDatas = append(rd.BrokerDatas, remoting.BrokerData{
			Cluster: n.c.opts.clusterName, BrokerName: bd.name, BrokerAddrs: bd.addrs,
		})
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = rd.Encode(remoting.RouteKeyStyleFor(req))
	return resp
}

// clusterInfo answers GET_BROKER_CLUSTER_INFO (106).
func (n *NameServer) clusterInfo(req *remoting.Command) *remoting.Command {
	ci := &remoting.ClusterInfo{
		BrokerAddrTable:  map[string]remoting.BrokerData{},
		ClusterAddrTable: map[string][]string{},
	}
	for _, bd := range n.c.allBrokerAddrs() {
		ci.BrokerAddrTable[bd.name] = remoting.BrokerData{Cluster: n.c.opts.clusterName, BrokerName: bd.name, BrokerAddrs: bd.addrs}
		ci.ClusterAddrTable[n.c.opts.clusterName] = append(ci.ClusterAddrTable[n.c.opts.clusterName], bd.name)
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = ci.Encode()
	return resp
}

// allTopics answers GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206) as 4.9.8's
// DefaultRequestProcessor.getAllTopicListFromNameserver does with
// enableAllTopicList on (the default): every topic of RouteInfoManager's
// table, as TopicList's JSON (brokerAddr null, so absent).
func (n *NameServer) allTopics(req *remoting.Command) *remoting.Command {
	seen := map[string]bool{}
	list := []string{}
	for _, s := range n.c.sets {
		if !s.anyRegistered() {
			continue
		}
		for _, t := range s.routedTopics() {
			if !seen[t] {
				seen[t] = true
				list = append(list, t)
			}
		}
	}
	sort.Strings(list)
	body, err := json.Marshal(struct {
		TopicList []string `json:"topicList"`
	}{list})
	if err != nil {
		return remoting.NewResponse(req, remoting.SystemError, "meshtest: encoding the topic list: "+err.Error())
	}
	resp := remoting.NewResponse(req, remoting.Success, "")
	resp.Body = body
	return resp
}

// deleteTopic answers DELETE_TOPIC_IN_NAMESRV (216): RouteInfoManager.deleteTopic
// drops the topic's queue data of every broker; a broker routes it again when
// it registers the topic anew.
func (n *NameServer) deleteTopic(req *remoting.Command) *remoting.Command {
	topic := req.Ext("topic")
	for _, s := range n.c.sets {
		s.unroute(topic)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}
