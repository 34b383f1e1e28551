package remoting

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// DecodeRocketMQHeader parses a ROCKETMQ (binary) header:
//
//	int16 code | byte language | int16 version | int32 opaque | int32 flag |
//	int32 remarkLen | remark | int32 extLen | { int16 keyLen, key, int32 valLen, value }*
//
// An empty extFields block decodes to an empty, non-nil map: the format cannot tell
// empty from absent.
func DecodeRocketMQHeader(b []byte) (*Command, error) {
	r := binReader{b: b}
	cmd := &Command{SerializeType: SerializeRocketMQ, Style: StyleJava}
	cmd.Code = int32(int16(r.u16("code")))
	lang := r.u8("language")
	cmd.Version = int32(int16(r.u16("version")))
	cmd.Opaque = int32(r.u32("opaque"))
	cmd.Flag = int32(r.u32("flag"))
	remarkLen := r.length("remark length")
	cmd.Remark = string(r.bytes(remarkLen, "remark"))
	extLen := r.length("extFields length")
	ext := r.bytes(extLen, "extFields")
	if r.err != nil {
		return nil, r.err
	}
	name, ok := languageName(lang)
	if !ok {
		return nil, fmt.Errorf("remoting: ROCKETMQ header: language byte %d is not a known language: %w", lang, ErrBadHeader)
	}
	cmd.Language = name
	if r.i != len(b) {
		return nil, fmt.Errorf("remoting: ROCKETMQ header: %d trailing bytes after extFields: %w", len(b)-r.i, ErrBadHeader)
	}
	m, order, err := decodeBinaryExtFields(ext)
	if err != nil {
		return nil, err
	}
	cmd.ExtFields, cmd.extOrder = m, order
	return cmd, nil
}

func decodeBinaryExtFields(b []byte) (map[string]string, []string, error) {
	m := make(map[string]string)
	var order []string
	r := binReader{b: b}
	for r.i < len(b) && r.err == nil {
		kl := int(r.u16("extFields key length"))
		k := string(r.bytes(kl, "extFields key"))
		vl := r.length("extFields value length")
		v := string(r.bytes(vl, "extFields value"))
		if r.err != nil {
			break
		}
		if _, dup := m[k]; !dup {
			order = append(order, k)
		}
		m[k] = v
	}
	if r.err != nil {
		return nil, nil, r.err
	}
	return m, order, nil
}

// appendRocketMQHeader writes the binary header. Keys keep the order they were
// decoded in when the set is unchanged; otherwise they are written sorted.
func (c *Command) appendRocketMQHeader(dst []byte) ([]byte, error) {
	if c.Code < math.MinInt16 || c.Code > math.MaxInt16 {
		return dst, fmt.Errorf("remoting: code %d does not fit the ROCKETMQ header's int16: %w", c.Code, ErrBadHeader)
	}
	if c.Version < math.MinInt16 || c.Version > math.MaxInt16 {
		return dst, fmt.Errorf("remoting: version %d does not fit the ROCKETMQ header's int16: %w", c.Version, ErrBadHeader)
	}
	lang, ok := languageByte(c.Language)
	if !ok {
		return dst, fmt.Errorf("remoting: language %q has no ROCKETMQ code: %w", c.Language, ErrBadHeader)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(c.Code)))
	dst = append(dst, lang)
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(c.Version)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Opaque))
	dst = binary.BigEndian.AppendUint32(dst, uint32(c.Flag))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(c.Remark)))
	dst = append(dst, c.Remark...)
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	keys := c.extOrder
	if !sameKeys(keys, c.ExtFields) {
		keys = make([]string, 0, len(c.ExtFields))
		for k := range c.ExtFields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
	}
	for _, k := range keys {
		// Apache RocketMQ reads the key length as a signed short: a longer key
		// would come out negative and fail the whole request there.
		if len(k) > math.MaxInt16 {
			return dst, fmt.Errorf("remoting: extFields key %.32q... of %d bytes does not fit the ROCKETMQ header's int16: %w", k, len(k), ErrBadHeader)
		}
		v := c.ExtFields[k]
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	binary.BigEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
	return dst, nil
}

func sameKeys(order []string, m map[string]string) bool {
	if len(order) != len(m) {
		return false
	}
	for _, k := range order {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

// binReader reads big-endian fields and remembers the first error, naming the field
// that did not fit.
type binReader struct {
	b   []byte
	i   int
	err error
}

func (r *binReader) need(n int, field string) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b)-r.i < n {
		r.err = fmt.Errorf("remoting: ROCKETMQ header: %s needs %d bytes at offset %d, %d left: %w", field, n, r.i, len(r.b)-r.i, ErrTruncated)
		return false
	}
	return true
}

func (r *binReader) u8(field string) byte {
	if !r.need(1, field) {
		return 0
	}
	v := r.b[r.i]
	r.i++
	return v
}

func (r *binReader) u16(field string) uint16 {
	if !r.need(2, field) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.b[r.i:])
	r.i += 2
	return v
}

func (r *binReader) u32(field string) uint32 {
	if !r.need(4, field) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.b[r.i:])
	r.i += 4
	return v
}

// length reads an int32 length and rejects negative values.
func (r *binReader) length(field string) int {
	v := int32(r.u32(field))
	if r.err == nil && v < 0 {
		r.err = fmt.Errorf("remoting: ROCKETMQ header: %s is negative (%d): %w", field, v, ErrBadLength)
	}
	return int(v)
}

func (r *binReader) bytes(n int, field string) []byte {
	if !r.need(n, field) {
		return nil
	}
	v := r.b[r.i : r.i+n]
	r.i += n
	return v
}
