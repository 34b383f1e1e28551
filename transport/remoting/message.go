package remoting

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"math"
	"net/netip"
	"slices"
	"strings"
)

// Magic numbers of a stored message record (Apache RocketMQ's MessageDecoder).
const (
	// MessageMagicCode is v1, with a one-byte topic length; the only form Apache
	// RocketMQ 4.x writes.
	MessageMagicCode uint32 = 0xDAA320A7
	// MessageMagicCodeV2 has a two-byte topic length; RocketMQ 5 writes it for
	// topics longer than 127 bytes.
	MessageMagicCodeV2 uint32 = 0xDAA320AB
)

// Message sysFlag bits (Apache RocketMQ's MessageSysFlag).
const (
	// SysFlagCompressed marks a zlib-compressed body.
	SysFlagCompressed int32 = 0x1
	// SysFlagMultiTags marks a message with several tags.
	SysFlagMultiTags int32 = 0x2
	// SysFlagTransactionPrepared marks a half (prepared) transactional message.
	SysFlagTransactionPrepared int32 = 0x4
	// SysFlagTransactionCommit marks a committed transactional message.
	SysFlagTransactionCommit int32 = 0x8
	// SysFlagTransactionRollback marks a rolled-back transactional message.
	SysFlagTransactionRollback int32 = 0xC
	// SysFlagBornHostV6 marks a 16-byte born-host address.
	SysFlagBornHostV6 int32 = 0x10
	// SysFlagStoreHostV6 marks a 16-byte store-host address.
	SysFlagStoreHostV6 int32 = 0x20
)

// TransactionType returns the transaction bits of a sysFlag (0, prepared, commit or
// rollback).
func TransactionType(sysFlag int32) int32 { return sysFlag & SysFlagTransactionRollback }

// Message property names (Apache RocketMQ's MessageConst; the Go client's
// primitive package uses the same strings, except where noted).
const (
	PropertyKeys                      = "KEYS"
	PropertyTags                      = "TAGS"
	PropertyWaitStoreMsgOK            = "WAIT"
	PropertyDelayLevel                = "DELAY"
	PropertyRetryTopic                = "RETRY_TOPIC"
	PropertyRealTopic                 = "REAL_TOPIC"
	PropertyRealQueueID               = "REAL_QID"
	PropertyTransactionPrepared       = "TRAN_MSG"
	PropertyProducerGroup             = "PGROUP"
	PropertyMinOffset                 = "MIN_OFFSET"
	PropertyMaxOffset                 = "MAX_OFFSET"
	PropertyBuyerID                   = "BUYER_ID"
	PropertyOriginMessageID           = "ORIGIN_MESSAGE_ID"
	PropertyTransferFlag              = "TRANSFER_FLAG"
	PropertyCorrectionFlag            = "CORRECTION_FLAG"
	PropertyMQ2Flag                   = "MQ2_FLAG"
	PropertyReconsumeTime             = "RECONSUME_TIME"
	PropertyMsgRegion                 = "MSG_REGION"
	PropertyTraceSwitch               = "TRACE_ON"
	PropertyUniqKey                   = "UNIQ_KEY"
	PropertyMaxReconsumeTimes         = "MAX_RECONSUME_TIMES"
	PropertyConsumeStartTime          = "CONSUME_START_TIME"
	PropertyTransactionPreparedOffset = "TRAN_PREPARED_QUEUE_OFFSET"
	PropertyTransactionCheckTimes     = "TRANSACTION_CHECK_TIMES"
	PropertyCheckImmunityTime         = "CHECK_IMMUNITY_TIME_IN_SECONDS"
	PropertyInstanceID                = "INSTANCE_ID"
	PropertyCorrelationID             = "CORRELATION_ID"
	PropertyReplyTo                   = "REPLY_TO_CLIENT"
	PropertyMessageTTL                = "TTL"
	PropertyReplyArriveTime           = "ARRIVE_TIME"
	PropertyPushReplyTime             = "PUSH_REPLY_TIME"
	PropertyCluster                   = "CLUSTER"
	PropertyMessageType               = "MSG_TYPE"
	// PropertyShardingKey is the Go client's name for the ordering key; Apache
	// RocketMQ 5 names it PropertyShardingKeyJava.
	PropertyShardingKey     = "SHARDING_KEY"
	PropertyShardingKeyJava = "__SHARDINGKEY"
	PropertyTransactionID   = "__transactionId__"
)

// Property string separators.
const (
	// PropertyNameValueSeparator separates a property's name from its value.
	PropertyNameValueSeparator = '\x01'
	// PropertySeparator separates (and, in the Go client's form, ends) pairs.
	PropertySeparator = '\x02'
)

// Message is one record of an encoded message list: a PULL_MESSAGE FOUND body or a
// CHECK_TRANSACTION_STATE body.
type Message struct {
	StoreSize                 int32
	BodyCRC                   uint32
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	CommitLogOffset           int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	// Body is the body as stored: still compressed when SysFlag has
	// SysFlagCompressed (see UncompressedBody). It aliases the decoded buffer.
	Body  []byte
	Topic string
	// Properties is the raw "name\x01value\x02..." string exactly as on the wire,
	// so that re-encoding is byte-identical; see ParseProperties.
	Properties string
	// MagicV2 marks a record with MessageMagicCodeV2 (two-byte topic length).
	// Decoding sets it; AppendMessage writes v2 only when it is set.
	MagicV2 bool
}

// Property returns the value of one property, or "" when absent. It parses
// Properties on each call.
func (m *Message) Property(name string) string {
	return ParseProperties(m.Properties)[name]
}

// OffsetMsgID returns the message's offset message id, as the broker computes it.
func (m *Message) OffsetMsgID() string {
	return OffsetMsgID(m.StoreHost, m.CommitLogOffset)
}

// MaxUncompressedBody bounds what [Message.UncompressedBody] inflates, so that a
// small hostile body cannot exhaust memory.
const MaxUncompressedBody = 64 << 20

// UncompressedBody returns the body, inflated with zlib when SysFlag has
// SysFlagCompressed. Errors wrap [ErrBadBody].
func (m *Message) UncompressedBody() ([]byte, error) {
	if m.SysFlag&SysFlagCompressed == 0 {
		return m.Body, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(m.Body))
	if err != nil {
		return nil, fmt.Errorf("remoting: message at commit-log offset %d: compressed body: %v: %w", m.CommitLogOffset, err, ErrBadBody)
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, MaxUncompressedBody+1))
	if err != nil {
		return nil, fmt.Errorf("remoting: message at commit-log offset %d: compressed body: %v: %w", m.CommitLogOffset, err, ErrBadBody)
	}
	if len(out) > MaxUncompressedBody {
		return nil, fmt.Errorf("remoting: message at commit-log offset %d: body inflates beyond %d bytes: %w", m.CommitLogOffset, MaxUncompressedBody, ErrBadBody)
	}
	return out, nil
}

// Validate reports whether m can be encoded so that Apache RocketMQ reads it back:
// the topic fits a signed byte length (int16 with MagicV2), the properties a signed
// int16 length.
func (m *Message) Validate() error {
	maxTopic := math.MaxInt8
	if m.MagicV2 {
		maxTopic = math.MaxInt16
	}
	if len(m.Topic) > maxTopic {
		return fmt.Errorf("remoting: message topic of %d bytes exceeds %d: %w", len(m.Topic), maxTopic, ErrBadLength)
	}
	if len(m.Properties) > math.MaxInt16 {
		return fmt.Errorf("remoting: message properties of %d bytes exceed %d: %w", len(m.Properties), math.MaxInt16, ErrBadLength)
	}
	return nil
}

// msgReader reads big-endian body fields and remembers the first error.
type msgReader struct {
	b    []byte
	i    int
	what string // "message 2 at byte 345"
	err  error
}

func (r *msgReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("remoting: %s: %s: %w", r.what, fmt.Sprintf(format, args...), ErrBadBody)
	}
}

func (r *msgReader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 {
		r.err = fmt.Errorf("remoting: %s: %s length %d is negative: %w: %w", r.what, field, n, ErrBadBody, ErrBadLength)
		return nil
	}
	if len(r.b)-r.i < n {
		r.err = fmt.Errorf("remoting: %s: %s needs %d bytes at offset %d, %d left: %w: %w", r.what, field, n, r.i, len(r.b)-r.i, ErrBadBody, ErrTruncated)
		return nil
	}
	v := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return v
}

func (r *msgReader) u8(field string) uint8 {
	if v := r.take(1, field); v != nil {
		return v[0]
	}
	return 0
}

func (r *msgReader) u16(field string) uint16 {
	if v := r.take(2, field); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *msgReader) u32(field string) uint32 {
	if v := r.take(4, field); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *msgReader) u64(field string) uint64 {
	if v := r.take(8, field); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *msgReader) host(v6 bool, field string) netip.AddrPort {
	n := 4
	if v6 {
		n = 16
	}
	ip := r.take(n, field)
	port := int32(r.u32(field + " port"))
	if r.err != nil {
		return netip.AddrPort{}
	}
	if port < 0 || port > math.MaxUint16 {
		r.fail("%s port %d is out of range", field, port)
		return netip.AddrPort{}
	}
	addr, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(addr, uint16(port))
}

// DecodeMessages parses an encoded message list: records laid end to end, each
// starting with its total size and a magic code (v1, or v2 with its two-byte topic
// length). Hosts are 16-byte IPv6
// addresses when sysFlag has SysFlagBornHostV6 / SysFlagStoreHostV6. A compressed
// body is left compressed. Bodies alias b.
//
// Errors wrap [ErrBadBody] (and [ErrTruncated] or [ErrBadLength] when a length is at
// fault) and name the record and field.
func DecodeMessages(b []byte) ([]*Message, error) {
	var msgs []*Message
	for off := 0; off < len(b); {
		m, n, err := decodeMessage(b[off:], len(msgs), off)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
		off += n
	}
	return msgs, nil
}

func decodeMessage(b []byte, index, off int) (*Message, int, error) {
	what := fmt.Sprintf("message %d at byte %d", index, off)
	if len(b) < 4 {
		return nil, 0, fmt.Errorf("remoting: %s: %d bytes left, too few for a total size: %w: %w", what, len(b), ErrBadBody, ErrTruncated)
	}
	size := int32(binary.BigEndian.Uint32(b))
	switch {
	case size < 8:
		return nil, 0, fmt.Errorf("remoting: %s: total size %d is too small: %w: %w", what, size, ErrBadBody, ErrBadLength)
	case int64(size) > int64(len(b)):
		return nil, 0, fmt.Errorf("remoting: %s: total size %d but %d bytes left: %w: %w", what, size, len(b), ErrBadBody, ErrTruncated)
	}
	r := msgReader{b: b[:size], what: what}
	m := &Message{StoreSize: size}
	r.u32("total size")
	switch magic := r.u32("magic"); magic {
	case MessageMagicCode:
	case MessageMagicCodeV2:
		m.MagicV2 = true
	default:
		return nil, 0, fmt.Errorf("remoting: %s: magic code %#08x is neither %#08x nor %#08x: %w", what, magic, MessageMagicCode, MessageMagicCodeV2, ErrBadBody)
	}
	m.BodyCRC = r.u32("body CRC")
	m.QueueID = int32(r.u32("queueId"))
	m.Flag = int32(r.u32("flag"))
	m.QueueOffset = int64(r.u64("queueOffset"))
	m.CommitLogOffset = int64(r.u64("commitLogOffset"))
	m.SysFlag = int32(r.u32("sysFlag"))
	m.BornTimestamp = int64(r.u64("bornTimestamp"))
	m.BornHost = r.host(m.SysFlag&SysFlagBornHostV6 != 0, "bornHost")
	m.StoreTimestamp = int64(r.u64("storeTimestamp"))
	m.StoreHost = r.host(m.SysFlag&SysFlagStoreHostV6 != 0, "storeHost")
	m.ReconsumeTimes = int32(r.u32("reconsumeTimes"))
	m.PreparedTransactionOffset = int64(r.u64("preparedTransactionOffset"))
	bodyLen := int32(r.u32("body length"))
	if body := r.take(int(bodyLen), "body"); len(body) > 0 {
		m.Body = body
	}
	var topicLen int
	if m.MagicV2 {
		topicLen = int(int16(r.u16("topic length")))
	} else {
		topicLen = int(r.u8("topic length"))
	}
	m.Topic = string(r.take(topicLen, "topic"))
	propLen := int16(r.u16("properties length"))
	m.Properties = string(r.take(int(propLen), "properties"))
	if r.err != nil {
		return nil, 0, r.err
	}
	if r.i != int(size) {
		return nil, 0, fmt.Errorf("remoting: %s: total size %d but the fields take %d bytes: %w: %w", what, size, r.i, ErrBadBody, ErrBadLength)
	}
	return m, int(size), nil
}

// appendHost writes addr as 4 or 16 bytes and a 4-byte port.
func appendHost(dst []byte, addr netip.AddrPort, v6 bool) []byte {
	a := addr.Addr()
	switch {
	case v6 && a.IsValid():
		ip := a.As16()
		dst = append(dst, ip[:]...)
	case v6:
		dst = append(dst, make([]byte, 16)...)
	case a.Is4() || a.Is4In6():
		ip := a.Unmap().As4()
		dst = append(dst, ip[:]...)
	default:
		dst = append(dst, 0, 0, 0, 0)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(addr.Port()))
}

// hostFlags returns the sysFlag bits a host pair needs: an IPv6 address that is not
// an IPv4-mapped one needs 16 bytes.
func hostFlags(m *Message) int32 {
	var f int32
	if a := m.BornHost.Addr(); a.Is6() && !a.Is4In6() {
		f |= SysFlagBornHostV6
	}
	if a := m.StoreHost.Addr(); a.Is6() && !a.Is4In6() {
		f |= SysFlagStoreHostV6
	}
	return f
}

// BodyCRC returns the body checksum a broker stores: CRC32-IEEE masked to 31 bits,
// as Apache RocketMQ's UtilAll.crc32 computes it.
func BodyCRC(body []byte) uint32 { return crc32.ChecksumIEEE(body) & 0x7FFFFFFF }

// AppendMessage appends m as one record of an encoded message list. It computes the
// total size, the body CRC ([BodyCRC] of Body as stored) and writes the v1 magic
// code (v2 when m.MagicV2 is set), ignoring m.StoreSize and m.BodyCRC. The written sysFlag is m.SysFlag plus the
// IPv6 host bits any IPv6 host needs; a host whose bit is set but that holds an IPv4
// address is written IPv4-mapped. A zero host is written as zeros.
//
// The topic length is one byte and the properties length an int16: a message that
// fails [Message.Validate] produces a record Apache RocketMQ cannot read.
func AppendMessage(dst []byte, m *Message) []byte {
	start := len(dst)
	sysFlag := m.SysFlag | hostFlags(m)
	dst = append(dst, 0, 0, 0, 0)
	if m.MagicV2 {
		dst = binary.BigEndian.AppendUint32(dst, MessageMagicCodeV2)
	} else {
		dst = binary.BigEndian.AppendUint32(dst, MessageMagicCode)
	}
	dst = binary.BigEndian.AppendUint32(dst, BodyCRC(m.Body))
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.QueueID))
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.Flag))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.QueueOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.CommitLogOffset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(sysFlag))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.BornTimestamp))
	dst = appendHost(dst, m.BornHost, sysFlag&SysFlagBornHostV6 != 0)
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.StoreTimestamp))
	dst = appendHost(dst, m.StoreHost, sysFlag&SysFlagStoreHostV6 != 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.ReconsumeTimes))
	dst = binary.BigEndian.AppendUint64(dst, uint64(m.PreparedTransactionOffset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.Body)))
	dst = append(dst, m.Body...)
	if m.MagicV2 {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Topic)))
	} else {
		dst = append(dst, byte(len(m.Topic)))
	}
	dst = append(dst, m.Topic...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Properties)))
	dst = append(dst, m.Properties...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}

// ParseProperties splits a property string ("name\x01value\x02...", with or
// without a final \x02) into a map. Pairs without a \x01 or with an empty name are
// skipped, as Apache RocketMQ does; a later duplicate wins.
func ParseProperties(s string) map[string]string {
	m := make(map[string]string, strings.Count(s, "\x02")+1)
	for name, value := range propertyPairs(s) {
		m[name] = value
	}
	return m
}

// PropertyValue returns the value of property name in a property string (the
// form [ParseProperties] reads), without building the map: the relay reads the
// few properties it needs from every send this way. As with ParseProperties, a
// later duplicate wins.
func PropertyValue(s, name string) (string, bool) {
	var value string
	found := false
	for n, v := range propertyPairs(s) {
		if n == name {
			value, found = v, true
		}
	}
	return value, found
}

// propertyPairs yields the name and value of every pair of a property string
// that has a \x01 and a name, in order.
func propertyPairs(s string) iter.Seq2[string, string] {
	return func(yield func(name, value string) bool) {
		for len(s) > 0 {
			pair := s
			if i := strings.IndexByte(s, PropertySeparator); i >= 0 {
				pair, s = s[:i], s[i+1:]
			} else {
				s = ""
			}
			if name, value, ok := strings.Cut(pair, "\x01"); ok && name != "" && !yield(name, value) {
				return
			}
		}
	}
}

// FormatProperties writes properties in the Go client's form: keys sorted, each pair
// "name\x01value" terminated by \x02 (Java omits the final separator; both parse the
// same). The Go client writes its map in random order; sorting makes the output
// deterministic.
func FormatProperties(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	n := 0
	for k, v := range m {
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	var sb strings.Builder
	sb.Grow(n)
	for _, k := range keys {
		sb.WriteString(k)
		sb.WriteByte(PropertyNameValueSeparator)
		sb.WriteString(m[k])
		sb.WriteByte(PropertySeparator)
	}
	return sb.String()
}

// OffsetMsgID returns the offset message id of the message at commitLogOffset on
// storeHost, in upper-case hex: IP, port as 4 bytes and offset as 8 bytes, so 32
// digits for an IPv4 host and 56 for an IPv6 one.
func OffsetMsgID(storeHost netip.AddrPort, commitLogOffset int64) string {
	a := storeHost.Addr()
	var buf [28]byte
	var n int
	if a.Is4() || a.Is4In6() || !a.IsValid() {
		ip := a.Unmap()
		if ip.IsValid() {
			b4 := ip.As4()
			copy(buf[:], b4[:])
		}
		n = 4
	} else {
		b16 := a.As16()
		copy(buf[:], b16[:])
		n = 16
	}
	binary.BigEndian.PutUint32(buf[n:], uint32(storeHost.Port()))
	binary.BigEndian.PutUint64(buf[n+4:], uint64(commitLogOffset))
	return strings.ToUpper(hex.EncodeToString(buf[:n+12]))
}

// DecodeOffsetMsgID parses an offset message id of 32 (IPv4) or 56 (IPv6) hex
// digits in either case. Errors wrap [ErrBadField].
func DecodeOffsetMsgID(id string) (netip.AddrPort, int64, error) {
	if len(id) != 32 && len(id) != 56 {
		return netip.AddrPort{}, 0, fmt.Errorf("remoting: offset message id %q has %d hex digits, want 32 or 56: %w", id, len(id), ErrBadField)
	}
	raw, err := hex.DecodeString(id)
	if err != nil {
		return netip.AddrPort{}, 0, fmt.Errorf("remoting: offset message id %q is not hex: %w", id, ErrBadField)
	}
	n := len(raw) - 12
	port := binary.BigEndian.Uint32(raw[n:])
	if port > math.MaxUint16 {
		return netip.AddrPort{}, 0, fmt.Errorf("remoting: offset message id %q: port %d is out of range: %w", id, port, ErrBadField)
	}
	addr, _ := netip.AddrFromSlice(raw[:n])
	return netip.AddrPortFrom(addr, uint16(port)), int64(binary.BigEndian.Uint64(raw[n+4:])), nil
}

// BatchMessage is one member of a SEND_BATCH_MESSAGE (320) body.
type BatchMessage struct {
	Flag       int32
	Body       []byte
	Properties string
	// Magic and BodyCRC are written as given; both the Go and the Java client write 0.
	Magic   int32
	BodyCRC int32
	// TotalSize is the record size as decoded; AppendBatchMessage computes it.
	TotalSize int32
}

// DecodeBatch parses a batch body: records laid end to end, each
// totalSize | magic | bodyCRC | flag | bodyLen + body | int16 propertiesLen + properties.
// Bodies alias b. Errors wrap [ErrBadBody] and name the record and field.
func DecodeBatch(b []byte) ([]BatchMessage, error) {
	var out []BatchMessage
	for off := 0; off < len(b); {
		what := fmt.Sprintf("batch message %d at byte %d", len(out), off)
		rest := b[off:]
		if len(rest) < 4 {
			return nil, fmt.Errorf("remoting: %s: %d bytes left, too few for a total size: %w: %w", what, len(rest), ErrBadBody, ErrTruncated)
		}
		size := int32(binary.BigEndian.Uint32(rest))
		switch {
		case size < 4:
			return nil, fmt.Errorf("remoting: %s: total size %d is too small: %w: %w", what, size, ErrBadBody, ErrBadLength)
		case int64(size) > int64(len(rest)):
			return nil, fmt.Errorf("remoting: %s: total size %d but %d bytes left: %w: %w", what, size, len(rest), ErrBadBody, ErrTruncated)
		}
		r := msgReader{b: rest[:size], what: what}
		m := BatchMessage{TotalSize: size}
		r.u32("total size")
		m.Magic = int32(r.u32("magic"))
		m.BodyCRC = int32(r.u32("body CRC"))
		m.Flag = int32(r.u32("flag"))
		bodyLen := int32(r.u32("body length"))
		if body := r.take(int(bodyLen), "body"); len(body) > 0 {
			m.Body = body
		}
		propLen := int16(r.u16("properties length"))
		m.Properties = string(r.take(int(propLen), "properties"))
		if r.err != nil {
			return nil, r.err
		}
		if r.i != int(size) {
			return nil, fmt.Errorf("remoting: %s: total size %d but the fields take %d bytes: %w: %w", what, size, r.i, ErrBadBody, ErrBadLength)
		}
		out = append(out, m)
		off += int(size)
	}
	return out, nil
}

// FirstBatchProperties returns the property string of the first message of a
// batch body, aliasing b, without decoding the rest of the batch. Errors wrap
// [ErrBadBody] as [DecodeBatch]'s do.
func FirstBatchProperties(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("remoting: batch message 0: %d bytes, too few for a total size: %w: %w", len(b), ErrBadBody, ErrTruncated)
	}
	size := int32(binary.BigEndian.Uint32(b))
	switch {
	case size < 4:
		return nil, fmt.Errorf("remoting: batch message 0: total size %d is too small: %w: %w", size, ErrBadBody, ErrBadLength)
	case int64(size) > int64(len(b)):
		return nil, fmt.Errorf("remoting: batch message 0: total size %d but %d bytes left: %w: %w", size, len(b), ErrBadBody, ErrTruncated)
	}
	r := msgReader{b: b[:size], i: 16, what: "batch message 0"} // past size, magic, body CRC and flag
	if size < 16 {
		r.i = int(size)
	}
	r.take(int(int32(r.u32("body length"))), "body")
	props := r.take(int(int16(r.u16("properties length"))), "properties")
	if r.err != nil {
		return nil, r.err
	}
	return props, nil
}

// AppendBatchMessage appends m as one record of a batch body, computing the total
// size (m.TotalSize is ignored) and writing Magic and BodyCRC as given.
func AppendBatchMessage(dst []byte, m BatchMessage) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.Magic))
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.BodyCRC))
	dst = binary.BigEndian.AppendUint32(dst, uint32(m.Flag))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(m.Body)))
	dst = append(dst, m.Body...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.Properties)))
	dst = append(dst, m.Properties...)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start))
	return dst
}
