package remoting

import (
	"fmt"
	"strconv"
	"strings"
)

// The run-time half of the typed headers declared in headers_typed.go: the
// generated DecodeX and Encode are straight-line calls to these helpers, one per
// field, so they cost what hand-written code would and need no reflection.

// extDecoder reads typed values from extFields and keeps the first error.
type extDecoder struct {
	header string
	ext    map[string]string
	err    error
	// found counts the keys read that were present: when it equals len(ext) there
	// are no unknown keys, and extra need not look.
	found int
}

func (d *extDecoder) get(key string, required bool) (string, bool) {
	v, ok := d.ext[key]
	if ok {
		d.found++
	} else if required && d.err == nil {
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
	return d.parseI32(key, v)
}

func (d *extDecoder) optI32(key string) *int32 {
	v, ok := d.get(key, false)
	if !ok {
		return nil
	}
	n := d.parseI32(key, v)
	return &n
}

func (d *extDecoder) parseI32(key, v string) int32 {
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		d.bad(key, v, "a 32-bit integer")
	}
	return int32(n)
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

// extra returns the keys of ext for which known is false, or nil when there are
// none. Call it after reading every field, so that found is complete.
func (d *extDecoder) extra(known func(string) bool) map[string]string {
	if d.found == len(d.ext) {
		return nil
	}
	m := make(map[string]string, len(d.ext)-d.found)
	for k, v := range d.ext {
		if !known(k) {
			m[k] = v
		}
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
