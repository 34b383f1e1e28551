package otel

import (
	"encoding/hex"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// metricKey is one combination of metric attributes. Sends and deliveries
// repeat a handful of them, so each gets its attribute set built once instead
// of sorted and hashed on every message.
type metricKey struct {
	op, dest, group, partition string
	// server is the broker: "host:port", or the hex address and port that
	// open an offset message id (decoded only when the set is built).
	server  string
	errType string
}

// metricSet is what a metricKey stands for.
type metricSet struct {
	server []attribute.KeyValue // server.address and server.port, for spans too
	set    attribute.Set
	rec    []metric.RecordOption
}

// maxMetricSets bounds the cache; past it, sets are built per call (the SDK's
// own cardinality limit applies to them either way).
const maxMetricSets = 4096

type metricSets struct {
	m sync.Map // metricKey → *metricSet
	n atomic.Int64
}

func (c *metricSets) get(k metricKey) *metricSet {
	if v, ok := c.m.Load(k); ok {
		return v.(*metricSet)
	}
	s := newMetricSet(k)
	if c.n.Load() < maxMetricSets {
		if v, loaded := c.m.LoadOrStore(k, s); loaded {
			return v.(*metricSet)
		}
		c.n.Add(1)
	}
	return s
}

func newMetricSet(k metricKey) *metricSet {
	s := &metricSet{server: serverAttrs(nil, k.server)}
	kvs := make([]attribute.KeyValue, 0, 9)
	kvs = append(kvs, semconv.MessagingSystemRocketMQ, semconv.MessagingOperationName(k.op), semconv.MessagingDestinationName(k.dest))
	if k.group != "" {
		kvs = append(kvs, semconv.MessagingConsumerGroupName(k.group))
	}
	if k.partition != "" {
		kvs = append(kvs, semconv.MessagingDestinationPartitionID(k.partition))
	}
	kvs = append(kvs, s.server...)
	if k.errType != "" {
		kvs = append(kvs, semconv.ErrorTypeKey.String(k.errType))
	}
	s.set = attribute.NewSet(kvs...)
	s.rec = []metric.RecordOption{metric.WithAttributeSet(s.set)}
	return s
}

// storeKey returns the part of an offset message id that names the broker
// that stored the message — its address and port, hex — or "". A batch's ids
// are comma-separated; they share the broker.
func storeKey(offsetMsgID string) string {
	id, _, _ := strings.Cut(offsetMsgID, ",")
	switch len(id) {
	case 32: // IPv4 (4) + port (4) + commit log offset (8)
		return id[:16]
	case 56: // IPv6 (16) + port (4) + offset (8)
		return id[:40]
	}
	return ""
}

// brokerAddr returns the broker a client saw as seen ("host:port" or a
// storeKey) as the resolver of [WithBrokerAddressResolver] names it, or seen
// itself when there is no resolver or it does not know the address.
func (t *Telemetry) brokerAddr(seen string) string {
	if t.resolveBroker == nil || seen == "" {
		return seen
	}
	var ap netip.AddrPort
	if strings.Contains(seen, ":") {
		var err error
		if ap, err = netip.ParseAddrPort(seen); err != nil {
			return seen
		}
	} else {
		var ok bool
		if ap, ok = decodeStoreKey(seen); !ok {
			return seen
		}
	}
	if real, ok := t.resolveBroker(ap); ok && real != "" {
		return real
	}
	return seen
}

// serverAttrs appends server.address and server.port for a broker given as
// "host:port" or as a storeKey.
func serverAttrs(dst []attribute.KeyValue, server string) []attribute.KeyValue {
	if server == "" {
		return dst
	}
	if !strings.Contains(server, ":") {
		ap, ok := decodeStoreKey(server)
		if !ok {
			return dst
		}
		return append(dst, semconv.ServerAddress(ap.Addr().String()), semconv.ServerPort(int(ap.Port())))
	}
	host, port, err := net.SplitHostPort(server)
	if err != nil || host == "" {
		return dst
	}
	dst = append(dst, semconv.ServerAddress(host))
	if p, err := strconv.Atoi(port); err == nil {
		dst = append(dst, semconv.ServerPort(p))
	}
	return dst
}

func decodeStoreKey(k string) (netip.AddrPort, bool) {
	var b [20]byte
	n, err := hex.Decode(b[:], []byte(k))
	if err != nil {
		return netip.AddrPort{}, false
	}
	port := func(p []byte) uint16 {
		return uint16(uint32(p[0])<<24 | uint32(p[1])<<16 | uint32(p[2])<<8 | uint32(p[3]))
	}
	switch n {
	case 8:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), port(b[4:8])), true
	case 20:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])), port(b[16:20])), true
	}
	return netip.AddrPort{}, false
}
