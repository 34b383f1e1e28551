package remoting

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// FrameView reads a frame's header in place, for relays: the code, opaque and
// flag, and extFields values on demand, without decoding the header into a
// [Command] and without touching the body. Decoding a header into a Command costs
// a map and a string per field; a relay that forwards most frames unchanged needs
// three integers and one or two fields, and FrameView gets them without
// allocating.
//
// A view aliases the frame it was reset with: it is valid until the frame's bytes
// are reused. Edits that keep the header's length are made in place; others are
// written to a new frame with [FrameView.AppendEdited].
//
// The zero value is ready for [FrameView.Reset].
type FrameView struct {
	frame []byte // length field included
	st    SerializeType
	// Header fields.
	code, version, opaque, flag int32
	// hdrEnd is where the body starts.
	hdrEnd int
	// JSON: where the opaque's digits are, and extFields' object from '{' to
	// '}' inclusive (extEnd == 0 when extFields is absent or null; extNull
	// tells which, and where the literal is). ROCKETMQ: extStart and extEnd
	// bound the extFields block after its length field.
	opaqueAt, opaqueEnd int
	extStart, extEnd    int
	extNullAt           int // JSON: offset of a null extFields literal, 0 if none
	closeAt             int // JSON: offset of the header object's closing '}'
	// pairs indexes the extFields pairs Reset found, so that lookups do not
	// scan the header again; a header with more pairs is scanned instead.
	pairs  [maxIndexedPairs]extPair
	npairs int
	// escapedKeys is set when an extFields key holds a JSON escape: keys are
	// then unescaped to be compared, where otherwise their bytes are (nothing
	// the official clients or brokers write escapes a key).
	escapedKeys bool
}

// maxIndexedPairs covers every header the official clients and brokers write
// (a send request has 13 fields) with room for a few more.
const maxIndexedPairs = 24

// extPair is where one extFields key and value lie in the frame (JSON keys and
// string values with their quotes).
type extPair struct {
	keyStart, keyEnd, valStart, valEnd int32
}

// Frame header offsets: 4 bytes of frame length, then 4 of serialize type and
// header length, then the header.
const (
	frameHeaderAt = 8
	// ROCKETMQ header: code int16, language byte, version int16, then opaque.
	binOpaqueAt = frameHeaderAt + 5
)

// Reset points the view at frame, a whole frame with its length field, and reads
// its header. Any error wraps [ErrBadLength], [ErrUnknownSerializeType] or
// [ErrBadHeader] (and names the problem), as [DecodeFrame] would; the view is then
// unusable until the next successful Reset.
func (v *FrameView) Reset(frame []byte) error {
	*v = FrameView{}
	if len(frame) < frameHeaderAt {
		return fmt.Errorf("remoting: frame of %d bytes has no header length: %w", len(frame), ErrTruncated)
	}
	n := int64(int32(binary.BigEndian.Uint32(frame)))
	if n != int64(len(frame)-4) {
		return fmt.Errorf("remoting: frame length %d for %d bytes: %w", n, len(frame)-4, ErrBadLength)
	}
	word := binary.BigEndian.Uint32(frame[4:])
	st := SerializeType(word >> 24)
	hl := int(word & 0x00FFFFFF)
	if hl > len(frame)-frameHeaderAt {
		return fmt.Errorf("remoting: header length %d but only %d bytes follow: %w", hl, len(frame)-frameHeaderAt, ErrBadLength)
	}
	v.frame, v.st, v.hdrEnd = frame, st, frameHeaderAt+hl
	var err error
	switch st {
	case SerializeJSON:
		err = v.readJSON()
	case SerializeRocketMQ:
		err = v.readBinary()
	default:
		err = fmt.Errorf("remoting: serialize type byte %d: %w", byte(st), ErrUnknownSerializeType)
	}
	if err != nil {
		*v = FrameView{}
	}
	return err
}

// Frame returns the frame the view reads, length field included.
func (v *FrameView) Frame() []byte { return v.frame }

// Code returns the request or response code.
func (v *FrameView) Code() int32 { return v.code }

// Version returns the header's version.
func (v *FrameView) Version() int32 { return v.version }

// Opaque returns the opaque that pairs a response with its request.
func (v *FrameView) Opaque() int32 { return v.opaque }

// Flag returns the flag bits.
func (v *FrameView) Flag() int32 { return v.flag }

// IsResponse reports whether the response flag bit is set.
func (v *FrameView) IsResponse() bool { return v.flag&FlagResponse != 0 }

// IsOneway reports whether the oneway flag bit is set.
func (v *FrameView) IsOneway() bool { return v.flag&FlagOneway != 0 }

// SerializeType returns the header's encoding.
func (v *FrameView) SerializeType() SerializeType { return v.st }

// Body returns the body, aliasing the frame.
func (v *FrameView) Body() []byte { return v.frame[v.hdrEnd:] }

// HasExt reports whether extFields holds key (a JSON null counts as absent, as
// for [DecodeJSONHeader]).
func (v *FrameView) HasExt(key string) bool {
	_, _, ok := v.extValue(key)
	return ok
}

// AppendExt appends the value of extFields key to dst, unescaped, and reports
// whether the key is there. It does not allocate when dst has room.
func (v *FrameView) AppendExt(dst []byte, key string) ([]byte, bool) {
	start, end, ok := v.extValue(key)
	if !ok {
		return dst, false
	}
	if v.st == SerializeRocketMQ || v.frame[start] != '"' {
		return append(dst, v.frame[start:end]...), true // binary, or a JSON number or boolean
	}
	raw := v.frame[start+1 : end-1]
	for _, c := range raw {
		if c == '\\' {
			p := jsonParser{b: v.frame, i: start}
			s, err := p.str()
			if err != nil { // validated by Reset; cannot happen
				return dst, false
			}
			return append(dst, s...), true
		}
	}
	return append(dst, raw...), true
}

// Ext returns the value of extFields key; it allocates the string.
func (v *FrameView) Ext(key string) (string, bool) {
	b, ok := v.AppendExt(nil, key)
	return string(b), ok
}

// ExtRaw returns where the value of extFields key lies in the frame when it can
// be edited in place: a JSON string without escapes (the bytes between the
// quotes) or a ROCKETMQ value. ok is false otherwise. Writing other bytes of the
// same length there changes the value.
func (v *FrameView) ExtRaw(key string) (start, end int, ok bool) {
	start, end, ok = v.extValue(key)
	if !ok {
		return 0, 0, false
	}
	if v.st == SerializeRocketMQ {
		return start, end, true
	}
	if v.frame[start] != '"' {
		return 0, 0, false
	}
	for _, c := range v.frame[start+1 : end-1] {
		if c == '\\' {
			return 0, 0, false
		}
	}
	return start + 1, end - 1, true
}

// ExtEncoded returns the value of extFields key as the frame encodes it: a
// ROCKETMQ value's bytes, or a JSON value with its quotes and escapes. It
// aliases the frame and does not allocate: for scanning a value (a properties
// string, say) without decoding it.
func (v *FrameView) ExtEncoded(key string) ([]byte, bool) {
	start, end, ok := v.extValue(key)
	if !ok {
		return nil, false
	}
	return v.frame[start:end], true
}

// SetOpaqueInPlace changes the frame's opaque without moving any byte and reports
// whether it could: always for a ROCKETMQ header, and for a JSON header when the
// new number is no longer than the old one (the rest is padded with spaces,
// which JSON allows). Otherwise use [FrameView.AppendEdited].
func (v *FrameView) SetOpaqueInPlace(opaque int32) bool {
	if v.st == SerializeRocketMQ {
		binary.BigEndian.PutUint32(v.frame[binOpaqueAt:], uint32(opaque))
		v.opaque = opaque
		return true
	}
	var tmp [12]byte
	digits := strconv.AppendInt(tmp[:0], int64(opaque), 10)
	if len(digits) > v.opaqueEnd-v.opaqueAt {
		return false
	}
	n := copy(v.frame[v.opaqueAt:], digits)
	for i := v.opaqueAt + n; i < v.opaqueEnd; i++ {
		v.frame[i] = ' '
	}
	v.opaqueEnd = v.opaqueAt + n
	v.opaque = opaque
	return true
}

// ExtEdit sets one extFields key to a value: the key's value is replaced when it
// is there, and the pair added otherwise.
type ExtEdit struct {
	Key, Value string
}

// AppendEdited appends the frame with its opaque set to opaque and the edits
// applied to dst, and returns it; the view's own frame is not changed. Pairs
// added to a JSON header come first in extFields, pairs added to a ROCKETMQ header
// last; every other byte of the header and the body is copied as it is.
func (v *FrameView) AppendEdited(dst []byte, opaque int32, edits []ExtEdit) ([]byte, error) {
	if len(v.frame) == 0 {
		return dst, fmt.Errorf("remoting: editing a frame view that was not reset: %w", ErrBadHeader)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0)
	var err error
	if v.st == SerializeJSON {
		dst = v.appendEditedJSON(dst, opaque, edits)
	} else {
		dst, err = v.appendEditedBinary(dst, opaque, edits)
	}
	if err != nil {
		return dst[:start], err
	}
	hl := len(dst) - start - frameHeaderAt
	if hl > 0x00FFFFFF {
		return dst[:start], fmt.Errorf("remoting: edited header of %d bytes does not fit 24 bits: %w", hl, ErrBadLength)
	}
	dst = append(dst, v.Body()...)
	total := len(dst) - start - 4
	if int64(total) > math.MaxInt32 {
		return dst[:start], fmt.Errorf("remoting: edited frame of %d bytes: %w", total, ErrFrameTooLarge)
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(total))
	binary.BigEndian.PutUint32(dst[start+4:], uint32(v.st)<<24|uint32(hl))
	return dst, nil
}

func (v *FrameView) appendEditedJSON(dst []byte, opaque int32, edits []ExtEdit) []byte {
	f := v.frame
	// Segments of the header in order: up to the opaque, the opaque, up to
	// extFields (or its null, or the closing brace when absent), extFields.
	type cut struct{ at, end int }
	cuts := [3]cut{{v.opaqueAt, v.opaqueEnd}}
	switch {
	case v.extEnd > 0:
		cuts[1] = cut{v.extStart, v.extEnd + 1}
	case v.extNullAt > 0:
		cuts[1] = cut{v.extNullAt, v.extNullAt + 4}
	default:
		cuts[1] = cut{v.closeAt, v.closeAt}
	}
	// The opaque may come after extFields (fastjson sorts keys).
	if cuts[1].at < cuts[0].at {
		cuts[0], cuts[1] = cuts[1], cuts[0]
	}
	pos := frameHeaderAt
	for _, c := range cuts[:2] {
		dst = append(dst, f[pos:c.at]...)
		if c.at == v.opaqueAt {
			dst = strconv.AppendInt(dst, int64(opaque), 10)
		} else {
			dst = v.appendEditedExtJSON(dst, edits)
		}
		pos = c.end
	}
	return append(dst, f[pos:v.hdrEnd]...)
}

// appendEditedExtJSON writes extFields with the edits: added pairs first, then
// every existing pair with replaced values. An absent extFields is written as a
// new key before the header's closing brace.
func (v *FrameView) appendEditedExtJSON(dst []byte, edits []ExtEdit) []byte {
	absent := v.extEnd == 0 && v.extNullAt == 0
	if absent {
		if len(edits) == 0 {
			return dst
		}
		// The object has other keys: Reset requires an opaque.
		dst = append(dst, `,"extFields":`...)
	}
	if v.extNullAt > 0 && len(edits) == 0 {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	n := 0
	for _, e := range edits {
		if _, _, ok := v.extValue(e.Key); ok {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, e.Key)
		dst = append(dst, ':')
		dst = appendJSONString(dst, e.Value)
		n++
	}
	if v.extEnd == 0 {
		return append(dst, '}')
	}
	f := v.frame
	inner := f[v.extStart+1 : v.extEnd]
	if n > 0 && !onlySpace(inner) {
		dst = append(dst, ',')
	}
	pos := v.extStart + 1
	v.eachJSONExt(func(keyStart, keyEnd, valStart, valEnd int) bool {
		for _, e := range edits {
			if v.jsonKeyIs(keyStart, keyEnd, e.Key) {
				dst = append(dst, f[pos:valStart]...)
				dst = appendJSONString(dst, e.Value)
				pos = valEnd
				break
			}
		}
		return true
	})
	return append(dst, f[pos:v.extEnd+1]...)
}

func onlySpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

func (v *FrameView) appendEditedBinary(dst []byte, opaque int32, edits []ExtEdit) ([]byte, error) {
	f := v.frame
	// Everything up to the extFields length field, with the new opaque.
	lenAt := v.extStart - 4
	at := len(dst)
	dst = append(dst, f[frameHeaderAt:lenAt]...)
	binary.BigEndian.PutUint32(dst[at+binOpaqueAt-frameHeaderAt:], uint32(opaque))
	extLenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	pos := v.extStart
	var err error
	v.eachBinaryExt(func(keyStart, keyEnd, valStart, valEnd int) bool {
		for _, e := range edits {
			if string(f[keyStart:keyEnd]) == e.Key {
				dst = append(dst, f[pos:valStart-4]...)
				dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.Value)))
				dst = append(dst, e.Value...)
				pos = valEnd
				break
			}
		}
		return true
	})
	dst = append(dst, f[pos:v.extEnd]...)
	for _, e := range edits {
		if _, _, ok := v.extValue(e.Key); ok {
			continue
		}
		if len(e.Key) > math.MaxInt16 {
			err = fmt.Errorf("remoting: extFields key %.32q... of %d bytes does not fit the ROCKETMQ header's int16: %w", e.Key, len(e.Key), ErrBadHeader)
			break
		}
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(e.Key)))
		dst = append(dst, e.Key...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(e.Value)))
		dst = append(dst, e.Value...)
	}
	binary.BigEndian.PutUint32(dst[extLenAt:], uint32(len(dst)-extLenAt-4))
	return dst, err
}

// extValue finds extFields key: for JSON, the value's bytes with their quotes
// (or a number or boolean literal; a null counts as absent); for ROCKETMQ, the
// value's bytes. A key given twice has its last non-null value, as in a decoded
// Command.
func (v *FrameView) extValue(key string) (start, end int, ok bool) {
	if v.st == SerializeRocketMQ {
		v.eachBinaryExt(func(ks, ke, vs, ve int) bool {
			if string(v.frame[ks:ke]) == key {
				start, end, ok = vs, ve, true
			}
			return true
		})
		return start, end, ok
	}
	if v.extEnd == 0 {
		return 0, 0, false
	}
	if v.npairs <= maxIndexedPairs {
		// The last of a key's values counts, and a null is no value (as
		// DecodeJSONHeader reads them): look from the end.
		for i := v.npairs - 1; i >= 0; i-- {
			p := &v.pairs[i]
			if v.frame[p.valStart] != 'n' && v.jsonKeyIs(int(p.keyStart), int(p.keyEnd), key) {
				return int(p.valStart), int(p.valEnd), true
			}
		}
		return 0, 0, false
	}
	v.eachJSONExt(func(ks, ke, vs, ve int) bool {
		if v.frame[vs] != 'n' && v.jsonKeyIs(ks, ke, key) {
			start, end, ok = vs, ve, true
		}
		return true
	})
	return start, end, ok
}

// jsonKeyIs compares a JSON key (with its quotes) to key.
func (v *FrameView) jsonKeyIs(ks, ke int, key string) bool {
	raw := v.frame[ks+1 : ke-1]
	if len(raw) == len(key) && string(raw) == key {
		return true
	}
	if !v.escapedKeys {
		return false
	}
	for _, c := range raw {
		if c == '\\' {
			p := jsonParser{b: v.frame, i: ks}
			s, err := p.str()
			return err == nil && s == key
		}
	}
	return false
}

// eachJSONExt calls fn with the spans of every key (quotes included) and value
// of extFields, which Reset has validated, until fn returns false.
func (v *FrameView) eachJSONExt(fn func(keyStart, keyEnd, valStart, valEnd int) bool) {
	if v.npairs <= maxIndexedPairs {
		v.eachIndexed(fn)
		return
	}
	f := v.frame
	i := skipSpace(f, v.extStart+1, v.extEnd)
	for i < v.extEnd {
		ks := i
		ke, _ := scanJSONString(f, ks, v.extEnd)
		i = skipSpace(f, ke, v.extEnd) + 1 // ':'
		vs := skipSpace(f, i, v.extEnd)
		ve, _ := scanJSONValue(f, vs, v.extEnd, 0)
		if !fn(ks, ke, vs, ve) {
			return
		}
		i = skipSpace(f, ve, v.extEnd)
		if i < v.extEnd && f[i] == ',' {
			i = skipSpace(f, i+1, v.extEnd)
		}
	}
}

// eachBinaryExt calls fn with the spans of every key and value of a ROCKETMQ
// header's extFields block, which Reset has validated, until fn returns false.
func (v *FrameView) eachBinaryExt(fn func(keyStart, keyEnd, valStart, valEnd int) bool) {
	if v.npairs <= maxIndexedPairs {
		v.eachIndexed(fn)
		return
	}
	f := v.frame
	for i := v.extStart; i < v.extEnd; {
		kl := int(binary.BigEndian.Uint16(f[i:]))
		ks := i + 2
		vl := int(binary.BigEndian.Uint32(f[ks+kl:]))
		vs := ks + kl + 4
		if !fn(ks, ks+kl, vs, vs+vl) {
			return
		}
		i = vs + vl
	}
}

func (v *FrameView) eachIndexed(fn func(keyStart, keyEnd, valStart, valEnd int) bool) {
	for _, p := range v.pairs[:v.npairs] {
		if !fn(int(p.keyStart), int(p.keyEnd), int(p.valStart), int(p.valEnd)) {
			return
		}
	}
}

// index records one pair; past maxIndexedPairs it only counts, and lookups scan.
func (v *FrameView) index(ks, ke, vs, ve int) {
	if v.npairs < maxIndexedPairs {
		v.pairs[v.npairs] = extPair{int32(ks), int32(ke), int32(vs), int32(ve)}
	}
	v.npairs++
}

func (v *FrameView) readBinary() error {
	f, end := v.frame, v.hdrEnd
	need := func(at, n int, what string) error {
		if n < 0 || at+n > end {
			return fmt.Errorf("remoting: ROCKETMQ header: %s needs %d bytes at offset %d, %d left: %w", what, n, at-frameHeaderAt, end-at, ErrTruncated)
		}
		return nil
	}
	if err := need(frameHeaderAt, 17, "fixed fields"); err != nil {
		return err
	}
	h := f[frameHeaderAt:]
	v.code = int32(int16(binary.BigEndian.Uint16(h)))
	if _, ok := languageName(h[2]); !ok {
		return fmt.Errorf("remoting: ROCKETMQ header: language byte %d is not a known language: %w", h[2], ErrBadHeader)
	}
	v.version = int32(int16(binary.BigEndian.Uint16(h[3:])))
	v.opaque = int32(binary.BigEndian.Uint32(h[5:]))
	v.flag = int32(binary.BigEndian.Uint32(h[9:]))
	i := frameHeaderAt + 13
	remarkLen := int(int32(binary.BigEndian.Uint32(f[i:])))
	i += 4
	if err := need(i, remarkLen, "remark"); err != nil {
		return err
	}
	i += remarkLen
	if err := need(i, 4, "extFields length"); err != nil {
		return err
	}
	extLen := int(int32(binary.BigEndian.Uint32(f[i:])))
	i += 4
	if err := need(i, extLen, "extFields"); err != nil {
		return err
	}
	if i+extLen != end {
		return fmt.Errorf("remoting: ROCKETMQ header: %d trailing bytes after extFields: %w", end-i-extLen, ErrBadHeader)
	}
	v.extStart, v.extEnd = i, i+extLen
	for j := v.extStart; j < v.extEnd; {
		if err := need(j, 2, "extFields key length"); err != nil {
			return err
		}
		kl := int(binary.BigEndian.Uint16(f[j:]))
		j += 2
		if err := need(j, kl, "extFields key"); err != nil {
			return err
		}
		j += kl
		if err := need(j, 4, "extFields value length"); err != nil {
			return err
		}
		vl := int(int32(binary.BigEndian.Uint32(f[j:])))
		j += 4
		if err := need(j, vl, "extFields value"); err != nil {
			return err
		}
		v.index(j-4-kl, j-4, j, j+vl)
		j += vl
	}
	return nil
}

func (v *FrameView) readJSON() error {
	f, end := v.frame, v.hdrEnd
	bad := func(at int, format string, args ...any) error {
		return fmt.Errorf("remoting: JSON header at byte %d: %s: %w", at-frameHeaderAt, fmt.Sprintf(format, args...), ErrBadHeader)
	}
	i := skipSpace(f, frameHeaderAt, end)
	if i >= end || f[i] != '{' {
		return bad(i, "header is not a JSON object")
	}
	i = skipSpace(f, i+1, end)
	sawOpaque := false
	if i < end && f[i] == '}' {
		v.closeAt = i
	} else {
		for {
			ks := i
			ke, err := scanJSONString(f, ks, end)
			if err != nil {
				return bad(ks, "%v", err)
			}
			i = skipSpace(f, ke, end)
			if i >= end || f[i] != ':' {
				return bad(i, "expected ':' after a header key")
			}
			vs := skipSpace(f, i+1, end)
			ve, err := scanJSONValue(f, vs, end, 0)
			if err != nil {
				return bad(vs, "%v", err)
			}
			switch key := f[ks+1 : ke-1]; string(key) {
			case "code":
				v.code, err = jsonInt32(f[vs:ve])
			case "version":
				v.version, err = jsonInt32(f[vs:ve])
			case "opaque":
				v.opaque, err = jsonInt32(f[vs:ve])
				v.opaqueAt, v.opaqueEnd, sawOpaque = vs, ve, true
			case "flag":
				v.flag, err = jsonInt32(f[vs:ve])
			case "language", "remark":
				// DecodeJSONHeader reads them as strings: anything else
				// is a frame the relay must not pass on as valid.
				if f[vs] != '"' && string(f[vs:ve]) != "null" {
					err = syntaxError("not a string")
				}
			case "extFields":
				switch {
				case f[vs] == '{':
					v.extStart, v.extEnd = vs, ve-1
					err = v.indexExtObject(vs, ve)
				case ve-vs == 4 && string(f[vs:ve]) == "null":
					v.extNullAt = vs
				default:
					err = syntaxError("extFields is not an object")
				}
			}
			if err != nil {
				return bad(vs, "key %q: %v", f[ks+1:ke-1], err)
			}
			i = skipSpace(f, ve, end)
			if i < end && f[i] == '}' {
				v.closeAt = i
				break
			}
			if i >= end || f[i] != ',' {
				return bad(i, "expected ',' or '}' in header object")
			}
			i = skipSpace(f, i+1, end)
		}
	}
	if j := skipSpace(f, v.closeAt+1, end); j != end {
		return bad(j, "trailing data after header object")
	}
	if !sawOpaque {
		// Nothing writes a header without an opaque, and a relay cannot pair
		// responses without one.
		return bad(frameHeaderAt, "no opaque")
	}
	return nil
}

// indexExtObject checks that f[start:end], a JSON object, holds strings,
// numbers, booleans and nulls, what [DecodeJSONHeader] accepts, and indexes its
// pairs. A duplicate extFields key replaces what an earlier one indexed.
func (v *FrameView) indexExtObject(start, end int) error {
	f := v.frame
	v.npairs = 0
	i := skipSpace(f, start+1, end)
	if f[i] == '}' {
		return nil
	}
	for {
		i0 := i
		ke, err := scanJSONString(f, i, end)
		if err != nil {
			return err
		}
		i = skipSpace(f, ke, end)
		if i >= end || f[i] != ':' {
			return syntaxError("expected ':' after an extFields key")
		}
		vs := skipSpace(f, i+1, end)
		if vs >= end || f[vs] == '{' || f[vs] == '[' {
			return syntaxError("extFields value is not a string, number or boolean")
		}
		ve, err := scanJSONValue(f, vs, end, 0)
		if err != nil {
			return err
		}
		v.index(i0, ke, vs, ve)
		if bytes.IndexByte(f[i0+1:ke-1], '\\') >= 0 {
			v.escapedKeys = true
		}
		i = skipSpace(f, ve, end)
		if i < end && f[i] == '}' {
			return nil
		}
		if i >= end || f[i] != ',' {
			return syntaxError("expected ',' or '}' in extFields")
		}
		i = skipSpace(f, i+1, end)
	}
}

// syntaxError is what the JSON header scanners report; readJSON wraps it in
// a message with the package prefix, the byte offset and ErrBadHeader, so the
// scanners' own messages carry none.
type syntaxError string

func (e syntaxError) Error() string { return string(e) }

func jsonInt32(b []byte) (int32, error) {
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil {
		return 0, syntaxError(fmt.Sprintf("%q is not a 32-bit integer", b))
	}
	return int32(n), nil
}

func skipSpace(b []byte, i, end int) int {
	for i < end {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanJSONString returns the offset just past the JSON string at b[i], checking
// its escapes and that it holds no control characters.
func scanJSONString(b []byte, i, end int) (int, error) {
	if i >= end || b[i] != '"' {
		return i, syntaxError("expected a string")
	}
	for i++; i < end; i++ {
		c := b[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		switch {
		case c == '"':
			return i + 1, nil
		case c < 0x20:
			return i, syntaxError("control character in string")
		}
		i++
		if i >= end {
			break
		}
		switch b[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if end-i < 5 || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
				return i, syntaxError("malformed \\u escape")
			}
			i += 4
		default:
			return i, syntaxError(fmt.Sprintf("unknown escape '\\%c'", b[i]))
		}
	}
	return i, syntaxError("unterminated string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanJSONValue returns the offset just past the JSON value at b[i].
func scanJSONValue(b []byte, i, end, depth int) (int, error) {
	if depth > maxJSONDepth {
		return i, syntaxError(fmt.Sprintf("value nested deeper than %d", maxJSONDepth))
	}
	if i >= end {
		return i, syntaxError("value missing")
	}
	switch c := b[i]; c {
	case '"':
		return scanJSONString(b, i, end)
	case '{', '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1, end)
		if i < end && b[i] == closer {
			return i + 1, nil
		}
		for {
			if c == '{' {
				ke, err := scanJSONString(b, i, end)
				if err != nil {
					return ke, err
				}
				i = skipSpace(b, ke, end)
				if i >= end || b[i] != ':' {
					return i, syntaxError("expected ':' in object")
				}
				i = skipSpace(b, i+1, end)
			}
			ve, err := scanJSONValue(b, i, end, depth+1)
			if err != nil {
				return ve, err
			}
			i = skipSpace(b, ve, end)
			if i < end && b[i] == closer {
				return i + 1, nil
			}
			if i >= end || b[i] != ',' {
				return i, syntaxError(fmt.Sprintf("expected ',' in %c%c", c, closer))
			}
			i = skipSpace(b, i+1, end)
		}
	case 't', 'f', 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if lit[0] == c && end-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
				return i + len(lit), nil
			}
		}
		return i, syntaxError("malformed literal")
	}
	p := jsonParser{b: b[:end], i: i}
	if _, err := p.number(); err != nil {
		return i, syntaxError("malformed value")
	}
	return p.i, nil
}
