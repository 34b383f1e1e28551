package discovery

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"

	"github.com/rmqmesh/rmqmesh/transport/remoting"
)

// Broker is one broker member (a master or a replica) as the nameservers
// report it.
type Broker struct {
	// Cluster is the RocketMQ cluster name.
	Cluster string
	// Name is the brokerName, ID the brokerId (0 for the master).
	Name string
	ID   int64
	// Addr is "host:port".
	Addr string
	// Registered is false for a broker the nameservers reported once and no
	// longer do; Addr is then where it last was.
	Registered bool
}

// QueueData is a topic's queues on one broker name.
type QueueData struct {
	BrokerName        string
	Read, Write, Perm int
	SysFlag           int
}

// Topic is what the nameservers say of one topic.
type Topic struct {
	// Exists is false when they answered that no broker has it.
	Exists bool
	// Queues are sorted by broker name.
	Queues []QueueData
}

// Equal reports whether t and u say the same.
func (t Topic) Equal(u Topic) bool {
	return t.Exists == u.Exists && slices.Equal(t.Queues, u.Queues)
}

// Queue returns the queue data of broker name, if any.
func (t Topic) Queue(broker string) (QueueData, bool) {
	i, ok := slices.BinarySearchFunc(t.Queues, broker, func(q QueueData, n string) int { return cmp.Compare(q.BrokerName, n) })
	if !ok {
		return QueueData{}, false
	}
	return t.Queues[i], true
}

// View is what discovery knows of the cluster. It is immutable; the
// [Poller] replaces it as a whole.
type View struct {
	// Brokers sorted by name then id, lost ones included.
	Brokers []Broker
	// Topics holds the topics asked for that some nameserver has answered
	// about. A topic no nameserver answered about yet is missing.
	Topics map[string]Topic
	// Synced is false until some nameserver has answered a broker query.
	Synced bool
}

// Broker returns the broker with the given name and id.
func (v *View) Broker(name string, id int64) (Broker, bool) {
	i, ok := slices.BinarySearchFunc(v.Brokers, Broker{Name: name, ID: id}, compareBrokers)
	if !ok {
		return Broker{}, false
	}
	return v.Brokers[i], true
}

func compareBrokers(a, b Broker) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
}

// brokerKey identifies a broker member.
type brokerKey struct {
	name string
	id   int64
}

// mergeClusterInfo merges the answers of several nameservers, in order: the
// first to report a broker member wins. Each inconsistency is described in
// problems.
func mergeClusterInfo(answers []nsAnswer) (brokers map[brokerKey]Broker, problems []string) {
	brokers = map[brokerKey]Broker{}
	from := map[brokerKey]string{}
	byAddr := map[string]brokerKey{}
	for _, a := range answers {
		ci := a.info
		clusterOf := map[string]string{}
		for _, cluster := range slices.Sorted(maps.Keys(ci.ClusterAddrTable)) {
			for _, name := range ci.ClusterAddrTable[cluster] {
				if _, ok := ci.BrokerAddrTable[name]; !ok {
					problems = append(problems, fmt.Sprintf("nameserver %q lists broker %q in cluster %q but gives no addresses for it", a.addr, name, cluster))
					continue
				}
				clusterOf[name] = cluster
			}
		}
		for _, name := range slices.Sorted(maps.Keys(ci.BrokerAddrTable)) {
			bd := ci.BrokerAddrTable[name]
			if name == "" || (bd.BrokerName != "" && bd.BrokerName != name) {
				problems = append(problems, fmt.Sprintf("nameserver %q: broker entry %q names broker %q", a.addr, name, bd.BrokerName))
				continue
			}
			cluster := bd.Cluster
			if c, ok := clusterOf[name]; ok && cluster != c {
				if cluster != "" {
					problems = append(problems, fmt.Sprintf("nameserver %q puts broker %q in cluster %q and in %q", a.addr, name, cluster, c))
				} else {
					cluster = c
				}
			}
			ids := make([]int64, 0, len(bd.BrokerAddrs))
			for id := range bd.BrokerAddrs {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			for _, id := range ids {
				addr := bd.BrokerAddrs[id]
				if id < 0 {
					problems = append(problems, fmt.Sprintf("nameserver %q: broker %q has negative id %d", a.addr, name, id))
					continue
				}
				if err := checkAddr(addr); err != nil {
					problems = append(problems, fmt.Sprintf("nameserver %q: broker %q id %d: %v", a.addr, name, id, err))
					continue
				}
				key := brokerKey{name, id}
				if prev, ok := brokers[key]; ok {
					if prev.Addr != addr || prev.Cluster != cluster {
						problems = append(problems, fmt.Sprintf("nameservers %q and %q disagree on broker %q id %d: %s (cluster %q) and %s (cluster %q); keeping the first",
							from[key], a.addr, name, id, prev.Addr, prev.Cluster, addr, cluster))
					}
					continue
				}
				if other, ok := byAddr[addr]; ok {
					problems = append(problems, fmt.Sprintf("nameserver %q gives broker %q id %d the address %s of broker %q id %d; ignoring it",
						a.addr, name, id, addr, other.name, other.id))
					continue
				}
				brokers[key] = Broker{Cluster: cluster, Name: name, ID: id, Addr: addr, Registered: true}
				from[key], byAddr[addr] = a.addr, key
			}
		}
	}
	return brokers, problems
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %v", addr, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if host == "" || err != nil || n == 0 {
		return fmt.Errorf("address %q is not host:port", addr)
	}
	return nil
}

// topicFromRoute turns a route answer into a Topic, dropping (and
// describing) queue data the answer cannot back: brokers it gives no
// addresses for, negative counts.
func topicFromRoute(ns, topic string, rd *remoting.TopicRouteData) (Topic, []string) {
	var problems []string
	known := map[string]bool{}
	for _, bd := range rd.BrokerDatas {
		known[bd.BrokerName] = true
	}
	t := Topic{Exists: true}
	seen := map[string]bool{}
	for _, q := range rd.QueueDatas {
		switch {
		case !known[q.BrokerName]:
			problems = append(problems, fmt.Sprintf("nameserver %q: route of topic %q has queues on broker %q but no addresses for it", ns, topic, q.BrokerName))
			continue
		case q.ReadQueueNums < 0 || q.WriteQueueNums < 0 || q.Perm < 0:
			problems = append(problems, fmt.Sprintf("nameserver %q: route of topic %q: broker %q has negative queue counts or perm", ns, topic, q.BrokerName))
			continue
		case seen[q.BrokerName]:
			problems = append(problems, fmt.Sprintf("nameserver %q: route of topic %q lists broker %q twice", ns, topic, q.BrokerName))
			continue
		}
		seen[q.BrokerName] = true
		t.Queues = append(t.Queues, QueueData{BrokerName: q.BrokerName, Read: int(q.ReadQueueNums), Write: int(q.WriteQueueNums), Perm: int(q.Perm), SysFlag: int(q.TopicSysFlag)})
	}
	slices.SortFunc(t.Queues, func(a, b QueueData) int { return cmp.Compare(a.BrokerName, b.BrokerName) })
	return t, problems
}
