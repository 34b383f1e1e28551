package meshtest

import (
	"encoding/json"
	"maps"
	"sort"
	"testing"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Request is one request a broker or the nameserver received.
type Request struct {
	Code int32
	// ClientID is the clientID of the connection's last heartbeat (or, for a
	// heartbeat, of its body), or the request's clientID field, or "".
	ClientID   string
	RemoteAddr string
	// LocalAddr is the broker address the request came in on (see
	// Broker.AddAddress).
	LocalAddr string
	// Opaque is the request's opaque as its sender set it. The official
	// clients count theirs up from 1; rmqmesh's relay gives the requests it
	// sends of its own accord (heartbeat copies and replays) negative ones.
	Opaque    int32
	ExtFields map[string]string
	// Body is the request body (shared; do not modify).
	Body []byte
	// Time is the cluster clock at arrival.
	Time time.Time
}

func newRequest(cn *conn, req *remoting.Command, now time.Time) Request {
	id := cn.ClientID()
	if req.Code == remoting.CodeHeartBeat {
		var hb struct {
			ClientID string `json:"clientID"`
		}
		if json.Unmarshal(req.Body, &hb) == nil && hb.ClientID != "" {
			id = hb.ClientID
		}
	}
	if id == "" {
		id = req.Ext("clientID")
	}
	return Request{
		Code:       req.Code,
		ClientID:   id,
		RemoteAddr: cn.remote,
		LocalAddr:  cn.local,
		Opaque:     req.Opaque,
		ExtFields:  maps.Clone(req.ExtFields),
		Body:       req.Body,
		Time:       now,
	}
}

func (b *Broker) record(cn *conn, req *remoting.Command) {
	r := newRequest(cn, req, b.c.clock.now())
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests = appendRetained(b.requests, r, b.c.opts.retention)
	switch r.Code {
	case remoting.CodeGetConsumerListByGroup:
		b.rebalanceCountLocked(cn, r.ExtFields["consumerGroup"]).asked++
	case remoting.CodeHeartBeat:
		b.heartbeats[heartbeatKey{cn, r.ClientID}]++
	}
}

// appendRetained appends r to a request log that keeps about its last keep
// entries (all when keep <= 0; see WithRetention). It trims in steps of a
// quarter of keep, into a new array so that the trimmed requests can go.
func appendRetained(log []Request, r Request, keep int) []Request {
	log = append(log, r)
	if keep <= 0 || len(log) <= keep+max(keep/4, 1) {
		return log
	}
	return append(make([]Request, 0, keep+keep/2), log[len(log)-keep:]...)
}

// Requests returns the requests with the given code this broker received, in
// arrival order.
func (b *Broker) Requests(code int32) []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return withCode(b.requests, code)
}

// withCode returns the requests of rs with the given code, in order.
func withCode(rs []Request, code int32) []Request {
	var out []Request
	for _, r := range rs {
		if r.Code == code {
			out = append(out, r)
		}
	}
	return out
}

// RequestCount returns how many requests with the given code this broker received.
func (b *Broker) RequestCount(code int32) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, r := range b.requests {
		if r.Code == code {
			n++
		}
	}
	return n
}

// SentRequests returns the requests with the given code this broker sent to
// clients — CHECK_TRANSACTION_STATE (39) and NOTIFY_CONSUMER_IDS_CHANGED (40) —
// in the order it wrote them; ClientID names the client of the connection each
// went to.
func (b *Broker) SentRequests(code int32) []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return withCode(b.sent, code)
}

// ResetRequests forgets every recorded request, received and sent.
func (b *Broker) ResetRequests() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requests = nil
	b.sent = nil
}

// Client describes a client connection that sent this broker a heartbeat.
type Client struct {
	ClientID       string
	RemoteAddr     string
	ProducerGroups []string
	ConsumerGroups []string
	LastHeartbeat  time.Time
}

// Clients returns the clients whose heartbeat this broker holds, by clientID.
func (b *Broker) Clients() []Client {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Client, 0, len(b.clients))
	for _, ci := range b.clients {
		out = append(out, Client{
			ClientID:       ci.clientID,
			RemoteAddr:     ci.cn.remote,
			ProducerGroups: sortedKeys(ci.producerGroups),
			ConsumerGroups: sortedKeys(ci.consumerGroups),
			LastHeartbeat:  ci.last,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClientID < out[j].ClientID })
	return out
}

// ConsumerIDs returns the clientIDs registered in a consumer group on this broker,
// sorted.
func (b *Broker) ConsumerIDs(group string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	g := b.consumers[group]
	if g == nil {
		return nil
	}
	return sortedKeys(g.clients)
}

// QueueLock is one queue lock held by a client of an orderly consumer group.
type QueueLock struct {
	Topic      string
	BrokerName string
	QueueID    int
	ClientID   string
	// Expired reports whether the lock outlived lockMaxLiveTime (60 s, scaled).
	Expired bool
}

// Locks returns the queue locks of group on this broker set, sorted by topic and
// queue.
func (b *Broker) Locks(group string) []QueueLock {
	return b.set.store.lockView(group, b.c.clock.now())
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CheckMessageCount reports through t.Errorf when topic does not hold exactly
// want messages across the cluster. It returns whether it matched.
func (c *Cluster) CheckMessageCount(t testing.TB, topic string, want int) bool {
	t.Helper()
	if got := len(c.Messages(topic)); got != want {
		t.Errorf("meshtest: topic %q holds %d messages, want %d", topic, got, want)
		return false
	}
	return true
}

// CheckBodies reports through t.Errorf every body of want missing from topic and
// every unexpected one, ignoring order.
func (c *Cluster) CheckBodies(t testing.TB, topic string, want ...string) bool {
	t.Helper()
	got := map[string]int{}
	for _, m := range c.Messages(topic) {
		got[string(m.Body)]++
	}
	ok := true
	for _, w := range want {
		if got[w] == 0 {
			t.Errorf("meshtest: topic %q has no message with body %q", topic, w)
			ok = false
			continue
		}
		got[w]--
	}
	for body, n := range got {
		if n > 0 {
			t.Errorf("meshtest: topic %q has %d unexpected message(s) with body %q", topic, n, body)
			ok = false
		}
	}
	return ok
}

// CheckConsumerOffset reports through t.Errorf when the committed offset of group
// on a queue differs from want or is missing.
func (c *Cluster) CheckConsumerOffset(t testing.TB, group, topic string, queueID int, want int64) bool {
	t.Helper()
	got, ok := c.ConsumerOffset(group, topic, queueID)
	if !ok {
		t.Errorf("meshtest: group %q has no committed offset on %q queue %d, want %d", group, topic, queueID, want)
		return false
	}
	if got != want {
		t.Errorf("meshtest: group %q offset on %q queue %d is %d, want %d", group, topic, queueID, got, want)
		return false
	}
	return true
}

// CheckRequested reports through t.Errorf when the broker received no request with
// the given code.
func (b *Broker) CheckRequested(t testing.TB, code int32) bool {
	t.Helper()
	if b.RequestCount(code) == 0 {
		t.Errorf("meshtest: broker %q id %d received no %s (%d) request", b.set.name, b.id, remoting.RequestCodeName(code), code)
		return false
	}
	return true
}
