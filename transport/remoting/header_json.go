package remoting

import (
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// DecodeJSONHeader parses a JSON header. It accepts both the Go client's and
// fastjson's forms, skips unknown keys, and accepts extFields values that are JSON
// numbers or booleans as well as strings (keeping their text).
//
// The parser is hand-written because a header is decoded for every frame relayed and
// encoding/json into a map costs several times more; it handles exactly the JSON
// grammar and rejects anything else.
func DecodeJSONHeader(b []byte) (*Command, error) {
	// One copy of the whole header; unescaped keys and values are substrings of it,
	// so decoding costs a handful of allocations whatever the number of fields.
	p := jsonParser{b: b, s: string(b)}
	cmd := &Command{SerializeType: SerializeJSON, Style: StyleJava}
	sawJavaKey := false
	p.ws()
	if !p.consume('{') {
		return nil, p.errorf("header is not a JSON object")
	}
	p.ws()
	if p.consume('}') {
		return cmd, p.end()
	}
	first := true
	for {
		if !first {
			p.ws()
			if p.consume('}') {
				break
			}
			if !p.consume(',') {
				return nil, p.errorf("expected ',' or '}' in header object")
			}
			p.ws()
		}
		first = false
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if !p.consume(':') {
			return nil, p.errorf("expected ':' after header key %q", key)
		}
		p.ws()
		switch key {
		case "code":
			cmd.Code, err = p.int32Field(key)
		case "version":
			cmd.Version, err = p.int32Field(key)
		case "opaque":
			cmd.Opaque, err = p.int32Field(key)
		case "flag":
			cmd.Flag, err = p.int32Field(key)
		case "language":
			cmd.Language, err = p.nullableStr()
		case "remark":
			cmd.Remark, err = p.nullableStr()
		case "extFields":
			cmd.ExtFields, err = p.stringMap()
		case "serializeTypeCurrentRPC":
			sawJavaKey = true
			err = p.skip(0)
		default:
			err = p.skip(0)
		}
		if err != nil {
			return nil, err
		}
	}
	if !sawJavaKey {
		cmd.Style = StyleGo
	}
	return cmd, p.end()
}

type jsonParser struct {
	b []byte
	i int
	// s, when set, holds the same bytes as b; strings without escapes are then
	// returned as substrings of it instead of being copied.
	s string
	// what and sentinel describe the document for error messages; zero values mean
	// a JSON header ([ErrBadHeader]).
	what     string
	sentinel error
}

// maxJSONDepth bounds nesting in skipped values so hostile input cannot exhaust the
// stack.
const maxJSONDepth = 64

func (p *jsonParser) errorf(format string, args ...any) error {
	what, sentinel := p.what, p.sentinel
	if sentinel == nil {
		what, sentinel = "JSON header", ErrBadHeader
	}
	return fmt.Errorf("remoting: %s at byte %d: %s: %w", what, p.i, fmt.Sprintf(format, args...), sentinel)
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) consume(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonParser) end() error {
	p.ws()
	if p.i != len(p.b) {
		return p.errorf("trailing data after header object")
	}
	return nil
}

func (p *jsonParser) literal(lit string) bool {
	if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
		p.i += len(lit)
		return true
	}
	return false
}

// number returns the text of a JSON number.
func (p *jsonParser) number() ([]byte, error) {
	start := p.i
	p.consume('-')
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits {
		return nil, p.errorf("malformed number")
	}
	if p.consume('.') {
		frac := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if p.i == frac {
			return nil, p.errorf("malformed number")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		exp := p.i
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
		if p.i == exp {
			return nil, p.errorf("malformed number")
		}
	}
	return p.b[start:p.i], nil
}

func (p *jsonParser) int32Field(key string) (int32, error) {
	num, err := p.number()
	if err != nil {
		return 0, p.errorf("header key %q wants an integer", key)
	}
	v, err := strconv.ParseInt(string(num), 10, 32)
	if err != nil {
		return 0, p.errorf("header key %q: %q is not a 32-bit integer", key, num)
	}
	return int32(v), nil
}

func (p *jsonParser) nullableStr() (string, error) {
	if p.literal("null") {
		return "", nil
	}
	return p.str()
}

// str parses a JSON string. The common case, no escapes, costs at most one
// allocation, none when p.s is set.
func (p *jsonParser) str() (string, error) {
	if !p.consume('"') {
		return "", p.errorf("expected a string")
	}
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			var s string
			if len(p.s) == len(p.b) {
				s = p.s[start:p.i]
			} else {
				s = string(p.b[start:p.i])
			}
			p.i++
			return s, nil
		case c == '\\':
			return p.strSlow(start)
		case c < 0x20:
			return "", p.errorf("control character in string")
		}
		p.i++
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) strSlow(start int) (string, error) {
	out := make([]byte, 0, p.i-start+16)
	out = append(out, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", p.errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			break
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errorf("malformed \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate pairs with a following \u low surrogate; anything
				// else is U+FFFD and the following escape is read on its own, as
				// encoding/json does.
				r2 := utf8.RuneError
				at := p.i
				if p.literal(`\u`) {
					if lo, ok := p.hex4(); ok {
						r2 = utf16.DecodeRune(r, lo)
					}
					if r2 == utf8.RuneError {
						p.i = at
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", p.errorf("unknown escape '\\%c'", e)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *jsonParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}

// stringMap parses extFields: an object of strings (numbers and booleans kept as
// their text, nulls dropped), or null.
func (p *jsonParser) stringMap() (map[string]string, error) {
	if p.literal("null") {
		return nil, nil
	}
	if !p.consume('{') {
		return nil, p.errorf("extFields is not an object")
	}
	m := make(map[string]string, 16)
	p.ws()
	if p.consume('}') {
		return m, nil
	}
	for {
		p.ws()
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.ws()
		if !p.consume(':') {
			return nil, p.errorf("expected ':' after extFields key %q", k)
		}
		p.ws()
		if p.i >= len(p.b) {
			return nil, p.errorf("extFields value for %q missing", k)
		}
		switch c := p.b[p.i]; {
		case c == '"':
			v, err := p.str()
			if err != nil {
				return nil, err
			}
			m[k] = v
		case c == 't' && p.literal("true"):
			m[k] = "true"
		case c == 'f' && p.literal("false"):
			m[k] = "false"
		case c == 'n' && p.literal("null"):
		default:
			num, err := p.number()
			if err != nil {
				return nil, p.errorf("extFields value for %q is not a string, number or boolean", k)
			}
			m[k] = string(num)
		}
		p.ws()
		if p.consume('}') {
			return m, nil
		}
		if !p.consume(',') {
			return nil, p.errorf("expected ',' or '}' in extFields")
		}
	}
}

// skip consumes any JSON value.
func (p *jsonParser) skip(depth int) error {
	if depth > maxJSONDepth {
		return p.errorf("value nested deeper than %d", maxJSONDepth)
	}
	p.ws()
	if p.i >= len(p.b) {
		return p.errorf("value missing")
	}
	switch c := p.b[p.i]; c {
	case '"':
		_, err := p.str()
		return err
	case '{', '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.i++
		p.ws()
		if p.consume(closer) {
			return nil
		}
		for {
			if c == '{' {
				p.ws()
				if _, err := p.str(); err != nil {
					return err
				}
				p.ws()
				if !p.consume(':') {
					return p.errorf("expected ':' in object")
				}
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.ws()
			if p.consume(closer) {
				return nil
			}
			if !p.consume(',') {
				return p.errorf("expected ',' in %c%c", c, closer)
			}
		}
	case 't':
		if p.literal("true") {
			return nil
		}
	case 'f':
		if p.literal("false") {
			return nil
		}
	case 'n':
		if p.literal("null") {
			return nil
		}
	default:
		_, err := p.number()
		return err
	}
	return p.errorf("malformed literal")
}

// appendJSONHeader writes the header in c.Style. extFields keys are sorted so that
// the same command always encodes to the same bytes.
func (c *Command) appendJSONHeader(dst []byte) []byte {
	if c.Style == StyleJava {
		return c.appendJavaJSONHeader(dst)
	}
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	dst = append(dst, `,"language":`...)
	dst = appendJSONString(dst, c.Language)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	dst = append(dst, `,"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	dst = append(dst, `,"remark":`...)
	dst = appendJSONString(dst, c.Remark)
	dst = append(dst, `,"extFields":`...)
	dst = appendStringMap(dst, c.ExtFields)
	return append(dst, '}')
}

func (c *Command) appendJavaJSONHeader(dst []byte) []byte {
	dst = append(dst, `{"code":`...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	if c.ExtFields != nil {
		dst = append(dst, `,"extFields":`...)
		dst = appendStringMap(dst, c.ExtFields)
	}
	dst = append(dst, `,"flag":`...)
	dst = strconv.AppendInt(dst, int64(c.Flag), 10)
	dst = append(dst, `,"language":`...)
	dst = appendJSONString(dst, c.Language)
	dst = append(dst, `,"opaque":`...)
	dst = strconv.AppendInt(dst, int64(c.Opaque), 10)
	if c.Remark != "" {
		dst = append(dst, `,"remark":`...)
		dst = appendJSONString(dst, c.Remark)
	}
	dst = append(dst, `,"serializeTypeCurrentRPC":"JSON","version":`...)
	dst = strconv.AppendInt(dst, int64(c.Version), 10)
	return append(dst, '}')
}

func appendStringMap(dst []byte, m map[string]string) []byte {
	dst = append(dst, '{')
	var stack [32]string
	keys := stack[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		dst = appendJSONString(dst, m[k])
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string. Invalid UTF-8 is written through
// unchanged, as the Go client and fastjson do, so relayed bytes are not altered.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
