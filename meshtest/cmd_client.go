package meshtest

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// heartbeatBody is HeartbeatData as the clients write it.
type heartbeatBody struct {
	ClientID        string `json:"clientID"`
	ProducerDataSet []struct {
		GroupName string `json:"groupName"`
	} `json:"producerDataSet"`
	ConsumerDataSet []struct {
		GroupName           string             `json:"groupName"`
		ConsumeType         string             `json:"consumeType"`
		MessageModel        string             `json:"messageModel"`
		ConsumeFromWhere    string             `json:"consumeFromWhere"`
		SubscriptionDataSet []subscriptionData `json:"subscriptionDataSet"`
		UnitMode            bool               `json:"unitMode"`
	} `json:"consumerDataSet"`
}

// subscriptionData is one subscription of a consumer heartbeat.
type subscriptionData struct {
	Topic          string   `json:"topic"`
	SubString      string   `json:"subString"`
	TagsSet        []string `json:"tagsSet"`
	SubVersion     int64    `json:"subVersion"`
	ExpressionType string   `json:"expressionType"`
}

// consumerGroup is ConsumerGroupInfo: the group's client channels and the
// subscriptions of its latest heartbeat.
type consumerGroup struct {
	clients      map[string]*conn // clientID -> connection
	subs         map[string]subscriptionData
	consumeType  string
	messageModel string
	fromWhere    string
}

// clientInfo is one heartbeating client connection.
type clientInfo struct {
	clientID       string
	cn             *conn
	producerGroups map[string]bool
	consumerGroups map[string]bool
	last           time.Time
}

// handleHeartbeat answers HEART_BEAT (34): it registers the client's producer and
// consumer groups on this connection, creates the retry topics of clustering
// consumers and notifies a group's consumers when its membership changed.
func (b *Broker) handleHeartbeat(cn *conn, req *remoting.Command) *remoting.Command {
	var hb heartbeatBody
	if err := json.Unmarshal(req.Body, &hb); err != nil {
		return remoting.NewResponse(req, remoting.SystemError, "decode heartbeat body failed: "+err.Error())
	}
	id := hb.ClientID
	cn.clientID.Store(&id)
	var changed []string
	b.mu.Lock()
	ci := b.clients[id]
	if ci == nil || ci.cn != cn {
		ci = &clientInfo{clientID: id, cn: cn, producerGroups: map[string]bool{}, consumerGroups: map[string]bool{}}
		b.clients[id] = ci
	}
	ci.last = b.c.clock.now()
	for _, p := range hb.ProducerDataSet {
		g := b.producers[p.GroupName]
		if g == nil {
			g = map[string]*conn{}
			b.producers[p.GroupName] = g
		}
		g[id] = cn
		ci.producerGroups[p.GroupName] = true
	}
	var retryTopics []string
	for _, cd := range hb.ConsumerDataSet {
		g := b.consumers[cd.GroupName]
		if g == nil {
			g = &consumerGroup{clients: map[string]*conn{}}
			b.consumers[cd.GroupName] = g
		}
		if old, ok := g.clients[id]; !ok || old != cn {
			changed = append(changed, cd.GroupName)
		}
		g.clients[id] = cn
		g.consumeType, g.messageModel, g.fromWhere = cd.ConsumeType, cd.MessageModel, cd.ConsumeFromWhere
		g.subs = map[string]subscriptionData{}
		for _, s := range cd.SubscriptionDataSet {
			g.subs[s.Topic] = s
		}
		ci.consumerGroups[cd.GroupName] = true
		if cd.MessageModel != "BROADCASTING" {
			retryTopics = append(retryTopics, RetryTopicPrefix+cd.GroupName)
		}
	}
	if !b.c.notifying() {
		changed = nil
	}
	b.mu.Unlock()
	for _, cd := range hb.ConsumerDataSet {
		b.set.store.ensureGroup(cd.GroupName)
	}
	for _, t := range retryTopics {
		b.set.store.createTopicIfAbsent(&topicConfig{name: t, read: 1, write: 1, perm: permReadWrite})
	}
	// Notify, then answer, as Apache RocketMQ 4.9.8 does: its
	// ConsumerManager.registerConsumer sends the notifications while it
	// processes the heartbeat. A relay that closes a draining upstream once its
	// last request is answered then still relays them.
	for _, g := range changed {
		b.notifyConsumersChanged(g)
	}
	return remoting.NewResponse(req, remoting.Success, "")
}

// handleUnregister answers UNREGISTER_CLIENT (35).
func (b *Broker) handleUnregister(cn *conn, req *remoting.Command) *remoting.Command {
	id := req.Ext("clientID")
	var changed []string
	b.mu.Lock()
	if g := req.Ext("producerGroup"); g != "" {
		delete(b.producers[g], id)
		if len(b.producers[g]) == 0 {
			delete(b.producers, g)
		}
	}
	if g := req.Ext("consumerGroup"); g != "" {
		if b.removeConsumerLocked(g, id, nil) && b.c.notifying() {
			changed = append(changed, g)
		}
	}
	b.mu.Unlock()
	for _, g := range changed {
		b.notifyConsumersChanged(g)
	}
	return withExt(remoting.NewResponse(req, remoting.Success, ""))
}

// removeConsumerLocked removes clientID from group (only when on cn, if cn is not
// nil) and reports whether it was there.
func (b *Broker) removeConsumerLocked(group, clientID string, cn *conn) bool {
	g := b.consumers[group]
	if g == nil {
		return false
	}
	c, ok := g.clients[clientID]
	if !ok || (cn != nil && c != cn) {
		return false
	}
	delete(g.clients, clientID)
	if len(g.clients) == 0 {
		delete(b.consumers, group)
	}
	return true
}

// connClosed unregisters everything a closed connection registered, as the
// broker's channel-close event does, and notifies the remaining consumers.
func (b *Broker) connClosed(cn *conn) {
	var changed []string
	b.mu.Lock()
	for id, ci := range b.clients {
		if ci.cn == cn {
			delete(b.clients, id)
		}
	}
	for g, m := range b.producers {
		for id, c := range m {
			if c == cn {
				delete(m, id)
			}
		}
		if len(m) == 0 {
			delete(b.producers, g)
		}
	}
	notify := b.c.notifying()
	for g, cg := range b.consumers {
		for id, c := range cg.clients {
			if c == cn && b.removeConsumerLocked(g, id, cn) && notify {
				changed = append(changed, g)
			}
		}
	}
	b.mu.Unlock()
	if !b.srv.registered() {
		return
	}
	for _, g := range changed {
		b.notifyConsumersChanged(g)
	}
}

// notifyConsumersChanged sends NOTIFY_CONSUMER_IDS_CHANGED (40), oneway, to every
// consumer of group on this broker.
func (b *Broker) notifyConsumersChanged(group string) {
	b.mu.Lock()
	g := b.consumers[group]
	var conns []*conn
	if g != nil {
		for _, cn := range g.clients {
			conns = append(conns, cn)
		}
	}
	b.mu.Unlock()
	for _, cn := range conns {
		b.send(cn, remoting.CodeNotifyConsumerIDsChanged, map[string]string{"consumerGroup": group}, nil)
	}
}

// subscription returns the group's subscription of topic from the heartbeats.
func (b *Broker) subscription(group, topic string) (sub subscriptionData, found, groupFound bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.consumers[group]
	if g == nil {
		return sub, false, false
	}
	sub, found = g.subs[topic]
	return sub, found, true
}

// handleConsumerList answers GET_CONSUMER_LIST_BY_GROUP (38).
func (b *Broker) handleConsumerList(req *remoting.Command) *remoting.Command {
	group := req.Ext("consumerGroup")
	b.mu.Lock()
	var ids []string
	if g := b.consumers[group]; g != nil {
		for id := range g.clients {
			ids = append(ids, id)
		}
	}
	b.mu.Unlock()
	if len(ids) == 0 {
		return withExt(remoting.NewResponse(req, remoting.SystemError, RemarkNoConsumer(group)))
	}
	sort.Strings(ids)
	body, _ := json.Marshal(struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}{ids})
	resp := withExt(remoting.NewResponse(req, remoting.Success, ""))
	resp.Body = body
	return resp
}

// producerConn returns a connection of a producer group, as
// ProducerManager.getAvailableChannel does.
func (b *Broker) producerConn(group string) *conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := sortedKeys(b.producers[group])
	for _, id := range ids {
		if cn := b.producers[group][id]; !cn.isClosed() {
			return cn
		}
	}
	return nil
}
