package transport

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Offset commits while a master is away: an Apache RocketMQ 4.9.8 replica
// takes UPDATE_CONSUMER_OFFSET (ConsumerManageProcessor.updateConsumerOffset
// has no role check) and answers QUERY_CONSUMER_OFFSET from the same table, so
// a consumer reading from the replica keeps its place. But the replica's table
// is overwritten from the master's every 10 s once the master is back
// (SlaveSynchronize.syncConsumerOffset puts the master's whole table over its
// own), so a commit only the replica took is lost then — for a consumer that
// left meanwhile, its successor starts from the master's older offset. The
// relay therefore keeps the last commit per queue that went to a replica and
// delivers it to the master when the master takes requests again, unless the
// master already holds the same offset or a later one, or a commit for the
// queue has reached the master through the relay since.

// keptCommitTTL bounds how long a commit waits for its master.
const keptCommitTTL = time.Hour

// maxKeptCommits bounds the commits kept at once; the oldest goes first.
const maxKeptCommits = 1 << 16

// commitDeliveryInterval is how often the relay tries to deliver kept commits.
const commitDeliveryInterval = time.Second

// commitKey names one consumer queue's offset on one broker.
type commitKey struct {
	broker, group, topic string
	queue                int32
}

type keptCommit struct {
	frame  []byte // the commit as it went to the replica
	offset int64
	signer string // access key the commit was signed with, "" for none
	at     time.Time
}

// commitKeeper holds the kept commits and runs their delivery.
type commitKeeper struct {
	mu      sync.Mutex
	m       map[commitKey]keptCommit
	running bool
}

// trackCommit looks at an UPDATE_CONSUMER_OFFSET the relay forwarded to t:
// kept when t is a replica, and ending a kept one when t is the master.
func (r *Relay) trackCommit(c *Request, frame []byte) {
	if c.Target.BrokerID == 0 && r.KeptCommits() == 0 {
		return // the common case: nothing kept, nothing to end
	}
	key, offset, ok := commitOf(c.view)
	if !ok {
		return
	}
	key.broker = c.Target.Broker
	k := &r.commits
	k.mu.Lock()
	defer k.mu.Unlock()
	if c.Target.BrokerID == 0 {
		delete(k.m, key)
		return
	}
	if k.m == nil {
		k.m = make(map[commitKey]keptCommit)
	}
	if _, ok := k.m[key]; !ok && len(k.m) >= maxKeptCommits {
		k.dropOldestLocked()
	}
	k.m[key] = keptCommit{frame: append([]byte(nil), frame...), offset: offset, signer: signedBy(c), at: time.Now()}
	if !k.running {
		// Close waits for the delivery goroutine: it must not start once
		// Close has begun.
		r.mu.Lock()
		if !r.closed {
			k.running = true
			r.wg.Add(1)
			go r.deliverCommits()
		}
		r.mu.Unlock()
	}
}

func (k *commitKeeper) dropOldestLocked() {
	var oldest commitKey
	var at time.Time
	for key, kc := range k.m {
		if at.IsZero() || kc.at.Before(at) {
			oldest, at = key, kc.at
		}
	}
	delete(k.m, oldest)
}

// commitOf reads the queue and offset of an UPDATE_CONSUMER_OFFSET.
func commitOf(v *remoting.FrameView) (commitKey, int64, bool) {
	group, ok1 := v.Ext("consumerGroup")
	topic, ok2 := v.Ext("topic")
	q, ok3 := v.Ext("queueId")
	o, ok4 := v.Ext("commitOffset")
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return commitKey{}, 0, false
	}
	queue, err1 := strconv.ParseInt(q, 10, 32)
	offset, err2 := strconv.ParseInt(o, 10, 64)
	if err1 != nil || err2 != nil {
		return commitKey{}, 0, false
	}
	return commitKey{group: group, topic: topic, queue: int32(queue)}, offset, true
}

// deliverCommits tries to deliver the kept commits every
// commitDeliveryInterval, until none is left or the relay closes.
func (r *Relay) deliverCommits() {
	defer r.wg.Done()
	t := time.NewTicker(commitDeliveryInterval)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		if !r.deliverKeptCommits() {
			return
		}
	}
}

// deliverKeptCommits makes one delivery round and reports whether commits are
// left (when none is, the delivery goroutine ends: the next kept commit starts
// another).
func (r *Relay) deliverKeptCommits() bool {
	k := &r.commits
	k.mu.Lock()
	byBroker := map[string][]commitKey{}
	now := time.Now()
	for key, kc := range k.m {
		if now.Sub(kc.at) > keptCommitTTL {
			r.log.Warn("dropping an offset commit its master never came back for", "broker", key.broker, "group", key.group, "topic", key.topic, "queue", key.queue, "offset", kc.offset)
			delete(k.m, key)
			continue
		}
		byBroker[key.broker] = append(byBroker[key.broker], key)
	}
	if len(k.m) == 0 {
		k.running = false
		k.mu.Unlock()
		return false
	}
	k.mu.Unlock()
	brokers := make([]string, 0, len(byBroker))
	for b := range byBroker {
		brokers = append(brokers, b)
	}
	sort.Strings(brokers)
	for _, b := range brokers {
		q := Query{Code: remoting.CodeUpdateConsumerOffset, Kind: KindMaster, Broker: b}
		t, err := r.router.Route(&q)
		if err != nil || t.BrokerID != 0 || r.shunned(t) {
			continue // the master is not back yet
		}
		if down, _ := r.down.isDown(t.Addr); down {
			continue
		}
		if err := r.deliverTo(t, byBroker[b]); err != nil {
			r.log.Debug("kept offset commits not delivered yet", "broker", b, "addr", t.Addr, "err", err)
		}
	}
	return true
}

// deliverTo delivers the kept commits keys to master t over one connection of
// the relay's own.
func (r *Relay) deliverTo(t Target, keys []commitKey) error {
	timeout := r.o.dialTimeout
	if t.Policy != nil && t.Policy.ConnectTimeout > 0 {
		timeout = t.Policy.ConnectTimeout
	}
	nc, err := r.dialUpstream(t, timeout)
	if err != nil {
		r.down.failed(t.Addr, err)
		return err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(DefaultRouteTimeout))
	rt := &ownRoundTrip{nc: nc}
	delivered := 0
	for _, key := range keys {
		r.commits.mu.Lock()
		kc, ok := r.commits.m[key]
		r.commits.mu.Unlock()
		if !ok {
			continue
		}
		if ahead, err := r.masterAhead(rt, key, kc); err != nil {
			return err
		} else if !ahead {
			resp, err := rt.call(kc.frame)
			if err != nil {
				return err
			}
			if resp.Code != remoting.Success {
				return fmt.Errorf("the master answered the kept commit of %s/%s queue %d with %s (%q)", key.group, key.topic, key.queue, remoting.ResponseCodeName(resp.Code), resp.Remark)
			}
			delivered++
		}
		r.commits.mu.Lock()
		if cur, ok := r.commits.m[key]; ok && cur.at.Equal(kc.at) {
			delete(r.commits.m, key)
		}
		r.commits.mu.Unlock()
	}
	if delivered > 0 {
		r.log.Info("delivered offset commits a replica took while the master was away", "broker", t.Broker, "addr", t.Addr, "commits", delivered)
	}
	return nil
}

// masterAhead asks the master for the queue's offset: true when it already
// holds kc's offset or a later one. An answer that says nothing (an ACL
// refusal of the relay's unsigned query, say) counts as false.
func (r *Relay) masterAhead(rt *ownRoundTrip, key commitKey, kc keptCommit) (bool, error) {
	req := remoting.NewRequest(remoting.CodeQueryConsumerOffset, map[string]string{
		"consumerGroup": key.group, "topic": key.topic, "queueId": strconv.Itoa(int(key.queue)), "bname": key.broker,
	}, nil)
	if kc.signer != "" {
		creds, ok := r.credentialsFor(kc.signer)
		if !ok {
			return false, nil
		}
		sign(req, creds)
	}
	frame, err := req.EncodeFrame()
	if err != nil {
		return false, err
	}
	resp, err := rt.call(frame)
	if err != nil {
		return false, err
	}
	if resp.Code != remoting.Success {
		return false, nil
	}
	off, err := strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
	return err == nil && off >= kc.offset, nil
}

// ownRoundTrip sends the relay's own requests on one connection, one at a
// time.
type ownRoundTrip struct {
	nc     net.Conn
	opaque int32
	buf    []byte
}

func (rt *ownRoundTrip) call(frame []byte) (*remoting.Command, error) {
	rt.opaque--
	var err error
	if rt.buf, err = withOpaque(rt.buf[:0], frame, rt.opaque); err != nil {
		return nil, err
	}
	if _, err := rt.nc.Write(rt.buf); err != nil {
		return nil, err
	}
	for {
		resp, err := remoting.ReadCommand(rt.nc, remoting.DefaultMaxFrameSize)
		if err != nil {
			return nil, err
		}
		if resp.IsResponse() && resp.Opaque == rt.opaque {
			return resp, nil
		}
	}
}

// KeptCommits returns how many offset commits wait for their master.
func (r *Relay) KeptCommits() int {
	r.commits.mu.Lock()
	defer r.commits.mu.Unlock()
	return len(r.commits.m)
}
