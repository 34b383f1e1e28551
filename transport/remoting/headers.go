package remoting

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Typed headers follow one pattern: a struct with a field per known extFields key
// and Extra for the rest, DecodeX(ext) that checks required fields and numbers, and
// Encode() that returns an extFields map with Extra merged back, so that a header
// decoded, changed and encoded keeps every key it did not touch. Required fields
// (@CFNotNull in Apache RocketMQ) and the fields the Go client always sends are
// always written; nullable ones only when set.

// extDecoder reads typed values from extFields and keeps the first error.
type extDecoder struct {
	header string
	ext    map[string]string
	err    error
}

func (d *extDecoder) get(key string, required bool) (string, bool) {
	v, ok := d.ext[key]
	if !ok && required && d.err == nil {
		d.err = fmt.Errorf("remoting: %s: required field %q missing: %w", d.header, key, ErrBadField)
	}
	return v, ok
}

func (d *extDecoder) bad(key, value, want string) {
	if d.err == nil {
		d.err = fmt.Errorf("remoting: %s: field %q: %q is not %s: %w", d.header, key, value, want, ErrBadField)
	}
}

func (d *extDecoder) str(key string, required bool) string {
	v, _ := d.get(key, required)
	return v
}

func (d *extDecoder) i32(key string, required bool) int32 {
	v, ok := d.get(key, required)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		d.bad(key, v, "a 32-bit integer")
	}
	return int32(n)
}

func (d *extDecoder) optI32(key string) *int32 {
	if _, ok := d.ext[key]; !ok {
		return nil
	}
	n := d.i32(key, false)
	return &n
}

func (d *extDecoder) i64(key string, required bool) int64 {
	v, ok := d.get(key, required)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		d.bad(key, v, "a 64-bit integer")
	}
	return n
}

// boolean accepts true and false in any case, as Java's Boolean.parseBoolean
// does for true; anything else is an error rather than Java's silent false.
func (d *extDecoder) boolean(key string, required bool) bool {
	v, ok := d.get(key, required)
	if !ok {
		return false
	}
	switch {
	case strings.EqualFold(v, "true"):
		return true
	case strings.EqualFold(v, "false"):
		return false
	}
	d.bad(key, v, "a boolean")
	return false
}

// extra returns the keys of ext not in known, or nil when there are none.
func (d *extDecoder) extra(known []string) map[string]string {
	var m map[string]string
	for k, v := range d.ext {
		if slices.Contains(known, k) {
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[k] = v
	}
	return m
}

// extEncoder builds an extFields map.
type extEncoder struct{ m map[string]string }

func newExtEncoder(extra map[string]string, fields int) extEncoder {
	m := make(map[string]string, fields+len(extra))
	for k, v := range extra {
		m[k] = v
	}
	return extEncoder{m: m}
}

func (e extEncoder) str(key, v string, always bool) {
	if always || v != "" {
		e.m[key] = v
	}
}

func (e extEncoder) i32(key string, v int32, always bool) {
	if always || v != 0 {
		e.m[key] = strconv.FormatInt(int64(v), 10)
	}
}

func (e extEncoder) optI32(key string, v *int32) {
	if v != nil {
		e.m[key] = strconv.FormatInt(int64(*v), 10)
	}
}

func (e extEncoder) i64(key string, v int64, always bool) {
	if always || v != 0 {
		e.m[key] = strconv.FormatInt(v, 10)
	}
}

func (e extEncoder) boolean(key string, v, always bool) {
	if always || v {
		e.m[key] = strconv.FormatBool(v)
	}
}

// SendMessageRequestHeader is the request header of SEND_MESSAGE (10) and
// SEND_REPLY_MESSAGE (324) with long field names, and of SEND_MESSAGE_V2 (310),
// SEND_BATCH_MESSAGE (320) and SEND_REPLY_MESSAGE_V2 (325) with one-letter names
// (see [DecodeSendMessageV2]).
type SendMessageRequestHeader struct {
	ProducerGroup string
	Topic         string
	// DefaultTopic is the template topic for auto-creation, [AutoCreateTopicKey].
	DefaultTopic          string
	DefaultTopicQueueNums int32
	// QueueID is the queue the producer chose; -1 lets the broker choose.
	QueueID       int32
	SysFlag       int32
	BornTimestamp int64
	Flag          int32
	// Properties is the raw property string (see ParseProperties).
	Properties     string
	ReconsumeTimes int32
	UnitMode       bool
	// MaxReconsumeTimes is nil when absent: the Go client always sends it, the Java
	// producer only for retried messages.
	MaxReconsumeTimes *int32
	Batch             bool
	// BrokerName is the target broker set; Java sends it, the Go client does not.
	BrokerName string
	// Extra holds extFields this type does not know, so they pass through unchanged.
	Extra map[string]string
}

// sendFields maps the long field names to the one-letter V2 names.
var sendFields = [...][2]string{
	{"producerGroup", "a"}, {"topic", "b"}, {"defaultTopic", "c"}, {"defaultTopicQueueNums", "d"},
	{"queueId", "e"}, {"sysFlag", "f"}, {"bornTimestamp", "g"}, {"flag", "h"}, {"properties", "i"},
	{"reconsumeTimes", "j"}, {"unitMode", "k"}, {"maxReconsumeTimes", "l"}, {"batch", "m"},
	{"brokerName", "n"},
}

var sendKeysLong, sendKeysV2 = func() ([]string, []string) {
	var long, short []string
	for _, f := range sendFields {
		long = append(long, f[0])
		short = append(short, f[1])
	}
	return long, short
}()

// DecodeSendMessageRequestHeader decodes the long-name form (codes 10 and 324).
// A missing required field or a malformed value is an error wrapping [ErrBadField].
func DecodeSendMessageRequestHeader(ext map[string]string) (*SendMessageRequestHeader, error) {
	return decodeSendHeader(ext, "SendMessageRequestHeader", sendKeysLong)
}

// DecodeSendMessageV2 decodes the one-letter form (codes 310, 320 and 325) into
// the same struct.
func DecodeSendMessageV2(ext map[string]string) (*SendMessageRequestHeader, error) {
	return decodeSendHeader(ext, "SendMessageRequestHeaderV2", sendKeysV2)
}

// DecodeSendHeader decodes the header of any send code in the form that code uses.
func DecodeSendHeader(code int32, ext map[string]string) (*SendMessageRequestHeader, error) {
	if UsesV2SendHeader(code) {
		return DecodeSendMessageV2(ext)
	}
	return DecodeSendMessageRequestHeader(ext)
}

// UsesV2SendHeader reports whether a send code carries the one-letter header.
func UsesV2SendHeader(code int32) bool {
	switch code {
	case CodeSendMessageV2, CodeSendBatchMessage, CodeSendReplyMessageV2:
		return true
	}
	return false
}

func decodeSendHeader(ext map[string]string, name string, k []string) (*SendMessageRequestHeader, error) {
	d := extDecoder{header: name, ext: ext}
	h := &SendMessageRequestHeader{
		ProducerGroup:         d.str(k[0], true),
		Topic:                 d.str(k[1], true),
		DefaultTopic:          d.str(k[2], true),
		DefaultTopicQueueNums: d.i32(k[3], true),
		QueueID:               d.i32(k[4], true),
		SysFlag:               d.i32(k[5], true),
		BornTimestamp:         d.i64(k[6], true),
		Flag:                  d.i32(k[7], true),
		Properties:            d.str(k[8], false),
		ReconsumeTimes:        d.i32(k[9], false),
		UnitMode:              d.boolean(k[10], false),
		MaxReconsumeTimes:     d.optI32(k[11]),
		Batch:                 d.boolean(k[12], false),
		BrokerName:            d.str(k[13], false),
		Extra:                 d.extra(k),
	}
	if d.err != nil {
		return nil, d.err
	}
	return h, nil
}

// Encode returns the long-name form (codes 10 and 324), Extra included.
func (h *SendMessageRequestHeader) Encode() map[string]string { return h.encode(sendKeysLong) }

// EncodeV2 returns the one-letter form (codes 310, 320 and 325), Extra included.
func (h *SendMessageRequestHeader) EncodeV2() map[string]string { return h.encode(sendKeysV2) }

// EncodeFor returns the form code uses.
func (h *SendMessageRequestHeader) EncodeFor(code int32) map[string]string {
	if UsesV2SendHeader(code) {
		return h.EncodeV2()
	}
	return h.Encode()
}

func (h *SendMessageRequestHeader) encode(k []string) map[string]string {
	e := newExtEncoder(h.Extra, len(k))
	e.str(k[0], h.ProducerGroup, true)
	e.str(k[1], h.Topic, true)
	e.str(k[2], h.DefaultTopic, true)
	e.i32(k[3], h.DefaultTopicQueueNums, true)
	e.i32(k[4], h.QueueID, true)
	e.i32(k[5], h.SysFlag, true)
	e.i64(k[6], h.BornTimestamp, true)
	e.i32(k[7], h.Flag, true)
	e.str(k[8], h.Properties, true)
	e.i32(k[9], h.ReconsumeTimes, true)
	e.boolean(k[10], h.UnitMode, true)
	e.optI32(k[11], h.MaxReconsumeTimes)
	e.boolean(k[12], h.Batch, true)
	e.str(k[13], h.BrokerName, false)
	return e.m
}
