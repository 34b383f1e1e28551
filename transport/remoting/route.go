package remoting

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Permission bits of [QueueData.Perm] (Apache RocketMQ's PermName).
const (
	// PermPriority marks a priority topic.
	PermPriority int32 = 8
	// PermRead allows consumers to pull from the queues.
	PermRead int32 = 4
	// PermWrite allows producers to send to the queues.
	PermWrite int32 = 2
	// PermInherit lets a topic created from a default topic inherit its permissions.
	PermInherit int32 = 1
)

// MasterID is the brokerId of a broker set's master in [BrokerData.BrokerAddrs].
const MasterID int64 = 0

// TopicRouteData is the body of a GET_ROUTEINFO_BY_TOPIC (105) response.
type TopicRouteData struct {
	// OrderTopicConf is "brokerName:queueNums;..." for ordered topics, usually "".
	OrderTopicConf string
	// QueueDatas lists the queues per broker set, in the nameserver's order.
	QueueDatas []QueueData
	// BrokerDatas lists the broker sets, in the nameserver's order.
	BrokerDatas []BrokerData
	// FilterServerTable maps a broker address to its filter servers; never nil after
	// decoding.
	FilterServerTable map[string][]string
}

// QueueData describes the queues one broker set holds for a topic.
type QueueData struct {
	BrokerName     string
	ReadQueueNums  int32
	WriteQueueNums int32
	// Perm is a combination of PermRead, PermWrite, PermInherit and PermPriority.
	Perm         int32
	TopicSysFlag int32
}

// BrokerData describes one broker set: its cluster, name and the address of each
// member by brokerId (0 is the master).
type BrokerData struct {
	Cluster    string
	BrokerName string
	// BrokerAddrs maps brokerId to "host:port"; never nil after decoding.
	BrokerAddrs map[int64]string
}

// MasterAddr returns the master's address, or "" when the set has no master.
func (b *BrokerData) MasterAddr() string { return b.BrokerAddrs[MasterID] }

// RouteKeyStyle chooses how the brokerAddrs keys of an encoded route are written.
type RouteKeyStyle uint8

const (
	// RouteKeysFastjson writes unquoted integer keys, {0:"h:p"}, as the nameserver
	// answers requests with version < 401 (the Go client sends 317).
	RouteKeysFastjson RouteKeyStyle = iota
	// RouteKeysStandard writes standard JSON, {"0":"h:p"}.
	RouteKeysStandard
)

// RouteKeyStyleFor returns the key style Apache RocketMQ's nameserver uses to
// answer req: standard when req.Version >= 401 (V4_9_4) or when extFields has
// acceptStandardJsonOnly=true (in any case, as Java parses booleans), fastjson
// otherwise (also for a nil req).
func RouteKeyStyleFor(req *Command) RouteKeyStyle {
	if req == nil {
		return RouteKeysFastjson
	}
	if req.Version >= VersionV4_9_4 || strings.EqualFold(req.ExtFields["acceptStandardJsonOnly"], "true") {
		return RouteKeysStandard
	}
	return RouteKeysFastjson
}

// DecodeTopicRouteData parses a route body in either key style. Unknown keys are
// skipped. Errors wrap [ErrBadBody] and name the offending path, e.g.
// brokerDatas[1].brokerAddrs["x"].
func DecodeTopicRouteData(b []byte) (*TopicRouteData, error) {
	const what = "topic route data"
	bad := newBodyErrorf(what)
	v, err := parseFastjson(b, what)
	if err != nil {
		return nil, err
	}
	if v.kind != jsonObject {
		return nil, bad("top level", "want an object, got a %s", v.kind)
	}
	r := &TopicRouteData{FilterServerTable: map[string][]string{}}
	for _, m := range v.obj {
		switch m.key {
		case "orderTopicConf":
			r.OrderTopicConf, err = m.val.asString(m.key, bad)
		case "queueDatas":
			var arr []jsonValue
			if arr, err = m.val.asArray(m.key, bad); err != nil {
				break
			}
			r.QueueDatas = make([]QueueData, 0, len(arr))
			for i, e := range arr {
				var q QueueData
				if q, err = decodeQueueData(e, "queueDatas["+strconv.Itoa(i)+"]", bad); err != nil {
					break
				}
				r.QueueDatas = append(r.QueueDatas, q)
			}
		case "brokerDatas":
			var arr []jsonValue
			if arr, err = m.val.asArray(m.key, bad); err != nil {
				break
			}
			r.BrokerDatas = make([]BrokerData, 0, len(arr))
			for i, e := range arr {
				var bd BrokerData
				if bd, err = decodeBrokerData(e, "brokerDatas["+strconv.Itoa(i)+"]", bad); err != nil {
					break
				}
				r.BrokerDatas = append(r.BrokerDatas, bd)
			}
		case "filterServerTable":
			var members []jsonMember
			if members, err = m.val.asObject(m.key, bad); err != nil {
				break
			}
			for _, fm := range members {
				path := "filterServerTable[" + strconv.Quote(fm.key) + "]"
				var arr []jsonValue
				if arr, err = fm.val.asArray(path, bad); err != nil {
					break
				}
				list := make([]string, 0, len(arr))
				for i, e := range arr {
					var s string
					if s, err = e.asString(path+"["+strconv.Itoa(i)+"]", bad); err != nil {
						break
					}
					list = append(list, s)
				}
				if err != nil {
					break
				}
				r.FilterServerTable[fm.key] = list
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

func decodeQueueData(v jsonValue, path string, bad bodyErrorf) (QueueData, error) {
	var q QueueData
	if v.kind != jsonObject {
		return q, bad(path, "want an object, got a %s", v.kind)
	}
	var err error
	for _, m := range v.obj {
		p := path + "." + m.key
		var n int64
		switch m.key {
		case "brokerName":
			q.BrokerName, err = m.val.asString(p, bad)
		case "readQueueNums":
			n, err = m.val.asInt(p, 32, bad)
			q.ReadQueueNums = int32(n)
		case "writeQueueNums":
			n, err = m.val.asInt(p, 32, bad)
			q.WriteQueueNums = int32(n)
		case "perm":
			n, err = m.val.asInt(p, 32, bad)
			q.Perm = int32(n)
		case "topicSysFlag", "topicSynFlag":
			n, err = m.val.asInt(p, 32, bad)
			q.TopicSysFlag = int32(n)
		}
		if err != nil {
			return q, err
		}
	}
	return q, nil
}

func decodeBrokerData(v jsonValue, path string, bad bodyErrorf) (BrokerData, error) {
	bd := BrokerData{BrokerAddrs: map[int64]string{}}
	if v.kind != jsonObject {
		return bd, bad(path, "want an object, got a %s", v.kind)
	}
	var err error
	for _, m := range v.obj {
		p := path + "." + m.key
		switch m.key {
		case "cluster":
			bd.Cluster, err = m.val.asString(p, bad)
		case "brokerName":
			bd.BrokerName, err = m.val.asString(p, bad)
		case "brokerAddrs":
			var members []jsonMember
			if members, err = m.val.asObject(p, bad); err != nil {
				break
			}
			for _, am := range members {
				ap := p + "[" + strconv.Quote(am.key) + "]"
				id, perr := strconv.ParseInt(am.key, 10, 64)
				if perr != nil {
					return bd, bad(ap, "brokerId %q is not an integer", am.key)
				}
				var addr string
				if addr, err = am.val.asString(ap, bad); err != nil {
					break
				}
				bd.BrokerAddrs[id] = addr
			}
		}
		if err != nil {
			return bd, err
		}
	}
	return bd, nil
}

// Encode writes the route as compact JSON the way Apache RocketMQ's nameserver does:
// keys in fastjson's alphabetical order, brokerAddrs always present (even {}) with
// the brokerIds ascending so the master (0) comes first, IPv6 hosts bracketed
// ("[::1]:10911"), and filterServerTable always present. orderTopicConf is written
// only when non-empty, as fastjson omits nulls. The Go client hand-parses
// brokerAddrs, so the output never contains whitespace.
//
// A route decoded from the nameserver's body re-encodes byte for byte in the key
// style of the original.
func (r *TopicRouteData) Encode(style RouteKeyStyle) []byte {
	dst := make([]byte, 0, 128+160*len(r.BrokerDatas)+96*len(r.QueueDatas))
	dst = append(dst, `{"brokerDatas":[`...)
	for i := range r.BrokerDatas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendBrokerData(dst, &r.BrokerDatas[i], style)
	}
	dst = append(dst, `],"filterServerTable":`...)
	dst = appendFilterServerTable(dst, r.FilterServerTable)
	if r.OrderTopicConf != "" {
		dst = append(dst, `,"orderTopicConf":`...)
		dst = appendJSONString(dst, r.OrderTopicConf)
	}
	dst = append(dst, `,"queueDatas":[`...)
	for i, q := range r.QueueDatas {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"brokerName":`...)
		dst = appendJSONString(dst, q.BrokerName)
		dst = append(dst, `,"perm":`...)
		dst = strconv.AppendInt(dst, int64(q.Perm), 10)
		dst = append(dst, `,"readQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(q.ReadQueueNums), 10)
		dst = append(dst, `,"topicSysFlag":`...)
		dst = strconv.AppendInt(dst, int64(q.TopicSysFlag), 10)
		dst = append(dst, `,"writeQueueNums":`...)
		dst = strconv.AppendInt(dst, int64(q.WriteQueueNums), 10)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

func appendFilterServerTable(dst []byte, t map[string][]string) []byte {
	dst = append(dst, '{')
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ":["...)
		for j, s := range t[k] {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

func appendBrokerData(dst []byte, b *BrokerData, style RouteKeyStyle) []byte {
	dst = append(dst, `{"brokerAddrs":{`...)
	ids := make([]int64, 0, len(b.BrokerAddrs))
	for id := range b.BrokerAddrs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareBrokerIDs)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		if style == RouteKeysStandard {
			dst = append(dst, '"')
		}
		dst = strconv.AppendInt(dst, id, 10)
		if style == RouteKeysStandard {
			dst = append(dst, '"')
		}
		dst = append(dst, ':')
		dst = appendJSONString(dst, BracketAddr(b.BrokerAddrs[id]))
	}
	dst = append(dst, `},"brokerName":`...)
	dst = appendJSONString(dst, b.BrokerName)
	dst = append(dst, `,"cluster":`...)
	dst = appendJSONString(dst, b.Cluster)
	return append(dst, '}')
}

// compareBrokerIDs orders the master (0) first, then the other ids ascending.
func compareBrokerIDs(a, b int64) int {
	switch {
	case a == b:
		return 0
	case a == MasterID:
		return -1
	case b == MasterID:
		return 1
	case a < b:
		return -1
	}
	return 1
}

// BracketAddr returns addr with an IPv6 host put in brackets ("::1:10911" becomes
// "[::1]:10911"); anything else, including an already bracketed host, is returned
// unchanged. The Go client splits a broker address at its last colon and dials the
// rest, which only works for IPv6 in brackets.
func BracketAddr(addr string) string {
	if strings.HasPrefix(addr, "[") || strings.Count(addr, ":") < 2 {
		return addr
	}
	i := strings.LastIndexByte(addr, ':')
	host := addr[:i]
	if a, err := netip.ParseAddr(host); err != nil || !a.Is6() {
		return addr
	}
	return "[" + host + "]" + addr[i:]
}

// ClusterInfo is the body of a GET_BROKER_CLUSTER_INFO (106) response.
type ClusterInfo struct {
	// BrokerAddrTable maps brokerName to its broker set.
	BrokerAddrTable map[string]BrokerData
	// ClusterAddrTable maps a cluster name to its brokerNames.
	ClusterAddrTable map[string][]string

	// brokerOrder and clusterOrder keep the key order of a decoded body so that it
	// re-encodes byte for byte; keys not listed are written sorted after them.
	brokerOrder, clusterOrder []string
}

// DecodeClusterInfo parses a cluster-info body in either key style. Errors wrap
// [ErrBadBody] and name the offending path.
func DecodeClusterInfo(b []byte) (*ClusterInfo, error) {
	const what = "cluster info"
	bad := newBodyErrorf(what)
	v, err := parseFastjson(b, what)
	if err != nil {
		return nil, err
	}
	if v.kind != jsonObject {
		return nil, bad("top level", "want an object, got a %s", v.kind)
	}
	c := &ClusterInfo{BrokerAddrTable: map[string]BrokerData{}, ClusterAddrTable: map[string][]string{}}
	for _, m := range v.obj {
		switch m.key {
		case "brokerAddrTable":
			members, err := m.val.asObject(m.key, bad)
			if err != nil {
				return nil, err
			}
			for _, bm := range members {
				bd, err := decodeBrokerData(bm.val, "brokerAddrTable["+strconv.Quote(bm.key)+"]", bad)
				if err != nil {
					return nil, err
				}
				if _, dup := c.BrokerAddrTable[bm.key]; !dup {
					c.brokerOrder = append(c.brokerOrder, bm.key)
				}
				c.BrokerAddrTable[bm.key] = bd
			}
		case "clusterAddrTable":
			members, err := m.val.asObject(m.key, bad)
			if err != nil {
				return nil, err
			}
			for _, cm := range members {
				path := "clusterAddrTable[" + strconv.Quote(cm.key) + "]"
				arr, err := cm.val.asArray(path, bad)
				if err != nil {
					return nil, err
				}
				names := make([]string, 0, len(arr))
				for i, e := range arr {
					s, err := e.asString(path+"["+strconv.Itoa(i)+"]", bad)
					if err != nil {
						return nil, err
					}
					names = append(names, s)
				}
				if _, dup := c.ClusterAddrTable[cm.key]; !dup {
					c.clusterOrder = append(c.clusterOrder, cm.key)
				}
				c.ClusterAddrTable[cm.key] = names
			}
		}
	}
	return c, nil
}

// Encode writes the cluster info as compact JSON the way the nameserver does, with
// unquoted integer brokerAddrs keys (fastjson's form, used for every client version).
// A decoded body keeps its key order; other keys are written sorted.
func (c *ClusterInfo) Encode() []byte {
	dst := make([]byte, 0, 64+200*len(c.BrokerAddrTable))
	dst = append(dst, `{"brokerAddrTable":{`...)
	for i, name := range orderedKeys(c.brokerOrder, c.BrokerAddrTable) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name)
		dst = append(dst, ':')
		bd := c.BrokerAddrTable[name]
		dst = appendBrokerData(dst, &bd, RouteKeysFastjson)
	}
	dst = append(dst, `},"clusterAddrTable":{`...)
	for i, name := range orderedKeys(c.clusterOrder, c.ClusterAddrTable) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, name)
		dst = append(dst, ":["...)
		for j, s := range c.ClusterAddrTable[name] {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		dst = append(dst, ']')
	}
	return append(dst, "}}"...)
}

// orderedKeys returns the keys of m: first those of order still in m, then the rest
// sorted.
func orderedKeys[V any](order []string, m map[string]V) []string {
	keys := make([]string, 0, len(m))
	seen := make(map[string]bool, len(order))
	for _, k := range order {
		if _, ok := m[k]; ok && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	rest := len(keys)
	for k := range m {
		if !seen[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys[rest:])
	return keys
}
