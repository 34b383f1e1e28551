package remoting

import (
	"fmt"
	"strconv"
)

// jsonKind is the type of a parsed JSON value.
type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

func (k jsonKind) String() string {
	switch k {
	case jsonNull:
		return "null"
	case jsonBool:
		return "boolean"
	case jsonNumber:
		return "number"
	case jsonString:
		return "string"
	case jsonArray:
		return "array"
	}
	return "object"
}

// jsonValue is a parsed JSON value that keeps object members in document order. It
// exists for the bodies fastjson writes with unquoted integer keys
// ({0:"127.0.0.1:10911"}), which encoding/json rejects.
type jsonValue struct {
	kind jsonKind
	text string // string contents, number text, or "true"/"false"
	arr  []jsonValue
	obj  []jsonMember
}

type jsonMember struct {
	key string
	val jsonValue
}

// parseFastjson parses b as one JSON value, additionally accepting unquoted integer
// object keys as fastjson writes them. Errors wrap [ErrBadBody] and name what.
func parseFastjson(b []byte, what string) (jsonValue, error) {
	p := jsonParser{b: b, what: what, sentinel: ErrBadBody}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return jsonValue{}, err
	}
	if err := p.end(); err != nil {
		return jsonValue{}, err
	}
	return v, nil
}

func (p *jsonParser) value(depth int) (jsonValue, error) {
	if depth > maxJSONDepth {
		return jsonValue{}, p.errorf("value nested deeper than %d", maxJSONDepth)
	}
	if p.i >= len(p.b) {
		return jsonValue{}, p.errorf("value missing")
	}
	switch c := p.b[p.i]; c {
	case '"':
		s, err := p.str()
		return jsonValue{kind: jsonString, text: s}, err
	case '{':
		p.i++
		v := jsonValue{kind: jsonObject, obj: []jsonMember{}}
		p.ws()
		if p.consume('}') {
			return v, nil
		}
		for {
			p.ws()
			var key string
			if p.i < len(p.b) && (p.b[p.i] == '-' || p.b[p.i] >= '0' && p.b[p.i] <= '9') {
				num, err := p.number()
				if err != nil {
					return jsonValue{}, err
				}
				key = string(num)
			} else {
				k, err := p.str()
				if err != nil {
					return jsonValue{}, err
				}
				key = k
			}
			p.ws()
			if !p.consume(':') {
				return jsonValue{}, p.errorf("expected ':' after key %q", key)
			}
			p.ws()
			mv, err := p.value(depth + 1)
			if err != nil {
				return jsonValue{}, err
			}
			v.obj = append(v.obj, jsonMember{key: key, val: mv})
			p.ws()
			if p.consume('}') {
				return v, nil
			}
			if !p.consume(',') {
				return jsonValue{}, p.errorf("expected ',' or '}' in object")
			}
		}
	case '[':
		p.i++
		v := jsonValue{kind: jsonArray, arr: []jsonValue{}}
		p.ws()
		if p.consume(']') {
			return v, nil
		}
		for {
			p.ws()
			ev, err := p.value(depth + 1)
			if err != nil {
				return jsonValue{}, err
			}
			v.arr = append(v.arr, ev)
			p.ws()
			if p.consume(']') {
				return v, nil
			}
			if !p.consume(',') {
				return jsonValue{}, p.errorf("expected ',' or ']' in array")
			}
		}
	case 't':
		if p.literal("true") {
			return jsonValue{kind: jsonBool, text: "true"}, nil
		}
	case 'f':
		if p.literal("false") {
			return jsonValue{kind: jsonBool, text: "false"}, nil
		}
	case 'n':
		if p.literal("null") {
			return jsonValue{kind: jsonNull}, nil
		}
	default:
		num, err := p.number()
		if err != nil {
			return jsonValue{}, err
		}
		return jsonValue{kind: jsonNumber, text: string(num)}, nil
	}
	return jsonValue{}, p.errorf("malformed literal")
}

// bodyErrorf builds errors that say where in a body a value was wrong.
type bodyErrorf func(path, format string, args ...any) error

func newBodyErrorf(what string) bodyErrorf {
	return func(path, format string, args ...any) error {
		return fmt.Errorf("remoting: %s: %s: %s: %w", what, path, fmt.Sprintf(format, args...), ErrBadBody)
	}
}

// asObject returns the members of an object; null is an empty object.
func (v jsonValue) asObject(path string, bad bodyErrorf) ([]jsonMember, error) {
	switch v.kind {
	case jsonObject:
		return v.obj, nil
	case jsonNull:
		return nil, nil
	}
	return nil, bad(path, "want an object, got a %s", v.kind)
}

// asArray returns the elements of an array; null is an empty array.
func (v jsonValue) asArray(path string, bad bodyErrorf) ([]jsonValue, error) {
	switch v.kind {
	case jsonArray:
		return v.arr, nil
	case jsonNull:
		return nil, nil
	}
	return nil, bad(path, "want an array, got a %s", v.kind)
}

// asString returns a string; null is "".
func (v jsonValue) asString(path string, bad bodyErrorf) (string, error) {
	switch v.kind {
	case jsonString:
		return v.text, nil
	case jsonNull:
		return "", nil
	}
	return "", bad(path, "want a string, got a %s", v.kind)
}

// asInt returns an integer from a number or a string holding one (fastjson accepts
// both); null is 0.
func (v jsonValue) asInt(path string, bits int, bad bodyErrorf) (int64, error) {
	switch v.kind {
	case jsonNull:
		return 0, nil
	case jsonNumber, jsonString:
		n, err := strconv.ParseInt(v.text, 10, bits)
		if err != nil {
			return 0, bad(path, "%q is not a %d-bit integer", v.text, bits)
		}
		return n, nil
	}
	return 0, bad(path, "want an integer, got a %s", v.kind)
}
