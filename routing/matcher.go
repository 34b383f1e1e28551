//lint:file-ignore SA1019 the deprecated legacy header matchers (exact_match, …) are supported on purpose: control planes still send them.

package routing

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

func quote(s string) string { return strconv.Quote(s) }
func itoa(i int64) string   { return strconv.FormatInt(i, 10) }

// codeStrings holds the decimal form of small request codes so that matching
// on the code header does not allocate.
var codeStrings = func() [1024]string {
	var a [1024]string
	for i := range a {
		a[i] = strconv.Itoa(i)
	}
	return a
}()

func codeString(code int32) string {
	if code >= 0 && int(code) < len(codeStrings) {
		return codeStrings[code]
	}
	return strconv.FormatInt(int64(code), 10)
}

type stringKind uint8

const (
	strAny stringKind = iota // nil matcher: matches everything
	strExact
	strPrefix
	strSuffix
	strContains
	strRegex
	strSet // a safe_regex whose language is a small finite set of strings
	// strLine is the safe_regex ".*": every string without a newline (RE2's
	// "." does not match one). It is the catch-all topic route rmqmesh's
	// control plane writes (Envoy refuses an empty prefix), matched on every
	// send: answered without running the regex.
	strLine
	strAll // the safe_regex "(?s).*": every string
)

// stringMatcher is a compiled envoy.type.matcher.v3.StringMatcher.
// ignore_case is ASCII-only, as in Envoy, and has no effect on safe_regex.
type stringMatcher struct {
	kind       stringKind
	ignoreCase bool
	pattern    string
	re         *regexp.Regexp
	set        map[string]struct{} // strSet: the regex's whole language
}

// compiler compiles matchers for one NewSnapshot call, sharing compiled
// regexes between routes (large route tables repeat the same code matcher).
type compiler struct {
	regexes map[string]stringMatcher
}

// regex returns the compiled full-match regex for pattern.
func (c *compiler) regex(m *matcherv3.RegexMatcher) (stringMatcher, error) {
	if sm, ok := c.regexes[m.GetRegex()]; ok {
		return sm, nil
	}
	re, err := regexp.Compile(`^(?:` + m.GetRegex() + `)$`)
	if err != nil {
		return stringMatcher{}, fmt.Errorf("safe_regex %q: %w", m.GetRegex(), err)
	}
	sm := stringMatcher{kind: strRegex, pattern: m.GetRegex(), re: re}
	sm.optimizeRegex()
	if c.regexes == nil {
		c.regexes = make(map[string]stringMatcher)
	}
	c.regexes[m.GetRegex()] = sm
	return sm, nil
}

func (c *compiler) stringMatcher(m *matcherv3.StringMatcher) (stringMatcher, error) {
	if m == nil {
		return stringMatcher{kind: strAny}, nil
	}
	sm := stringMatcher{ignoreCase: m.GetIgnoreCase()}
	switch p := m.GetMatchPattern().(type) {
	case *matcherv3.StringMatcher_Exact:
		sm.kind, sm.pattern = strExact, p.Exact
	case *matcherv3.StringMatcher_Prefix:
		sm.kind, sm.pattern = strPrefix, p.Prefix
	case *matcherv3.StringMatcher_Suffix:
		sm.kind, sm.pattern = strSuffix, p.Suffix
	case *matcherv3.StringMatcher_Contains:
		sm.kind, sm.pattern = strContains, p.Contains
	case *matcherv3.StringMatcher_SafeRegex:
		// ignore_case has no effect on safe_regex.
		return c.regex(p.SafeRegex)
	case nil:
		return sm, fmt.Errorf("string matcher has no match pattern")
	default:
		return sm, fmt.Errorf("unsupported string matcher %T", p)
	}
	if sm.ignoreCase {
		sm.pattern = asciiLower(sm.pattern)
	}
	return sm, nil
}

func (m *stringMatcher) match(s string) bool {
	switch m.kind {
	case strAny:
		return true
	case strExact:
		if m.ignoreCase {
			return len(s) == len(m.pattern) && asciiEqualFoldLower(s, m.pattern)
		}
		return s == m.pattern
	case strPrefix:
		if m.ignoreCase {
			return len(s) >= len(m.pattern) && asciiEqualFoldLower(s[:len(m.pattern)], m.pattern)
		}
		return strings.HasPrefix(s, m.pattern)
	case strSuffix:
		if m.ignoreCase {
			return len(s) >= len(m.pattern) && asciiEqualFoldLower(s[len(s)-len(m.pattern):], m.pattern)
		}
		return strings.HasSuffix(s, m.pattern)
	case strContains:
		if m.ignoreCase {
			for i := 0; i+len(m.pattern) <= len(s); i++ {
				if asciiEqualFoldLower(s[i:i+len(m.pattern)], m.pattern) {
					return true
				}
			}
			return false
		}
		return strings.Contains(s, m.pattern)
	case strRegex:
		return m.re.MatchString(s)
	case strSet:
		_, ok := m.set[s]
		return ok
	case strLine:
		return strings.IndexByte(s, '\n') < 0
	case strAll:
		return true
	}
	return false
}

func (m *stringMatcher) String() string {
	var s string
	switch m.kind {
	case strAny:
		return "any"
	case strExact:
		s = "exact:" + quote(m.pattern)
	case strPrefix:
		s = "prefix:" + quote(m.pattern)
	case strSuffix:
		s = "suffix:" + quote(m.pattern)
	case strContains:
		s = "contains:" + quote(m.pattern)
	case strRegex, strSet, strLine, strAll:
		s = "safe_regex:" + quote(m.pattern)
	}
	if m.ignoreCase {
		s += " ignore_case"
	}
	return s
}

// asciiEqualFoldLower reports whether s equals lower (already ASCII
// lowercase) ignoring ASCII case. len(s) must equal len(lower).
func asciiEqualFoldLower(s, lower string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// asciiLower lowercases ASCII letters; it returns s itself (no allocation)
// when s has no upper-case ASCII letter.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

type headerKind uint8

const (
	hdrString headerKind = iota
	hdrPresent
	hdrRange
)

// headerMatcher is a compiled envoy.config.route.v3.HeaderMatcher, with
// Envoy's semantics: a missing header never matches a value, range or
// present:true matcher (inverted or not) unless treat_missing_header_as_empty
// is set; present_match:false matches a missing header.
type headerMatcher struct {
	name         string
	kind         headerKind
	str          stringMatcher
	present      bool
	start, end   int64 // range [start, end)
	invert       bool
	missingEmpty bool
}

func (c *compiler) headerMatcher(h *routev3.HeaderMatcher) (headerMatcher, error) {
	hm := headerMatcher{name: h.GetName(), invert: h.GetInvertMatch(), missingEmpty: h.GetTreatMissingHeaderAsEmpty()}
	if hm.name == "" {
		return hm, fmt.Errorf("header matcher has an empty name")
	}
	var err error
	switch s := h.GetHeaderMatchSpecifier().(type) {
	case nil:
		// Envoy: no specifier means "the header is present".
		hm.kind, hm.present = hdrPresent, true
	case *routev3.HeaderMatcher_PresentMatch:
		hm.kind, hm.present = hdrPresent, s.PresentMatch
	case *routev3.HeaderMatcher_RangeMatch:
		hm.kind, hm.start, hm.end = hdrRange, s.RangeMatch.GetStart(), s.RangeMatch.GetEnd()
	case *routev3.HeaderMatcher_StringMatch:
		hm.str, err = c.stringMatcher(s.StringMatch)
	case *routev3.HeaderMatcher_ExactMatch:
		hm.str = stringMatcher{kind: strExact, pattern: s.ExactMatch}
	case *routev3.HeaderMatcher_PrefixMatch:
		hm.str = stringMatcher{kind: strPrefix, pattern: s.PrefixMatch}
	case *routev3.HeaderMatcher_SuffixMatch:
		hm.str = stringMatcher{kind: strSuffix, pattern: s.SuffixMatch}
	case *routev3.HeaderMatcher_ContainsMatch:
		hm.str = stringMatcher{kind: strContains, pattern: s.ContainsMatch}
	case *routev3.HeaderMatcher_SafeRegexMatch:
		hm.str, err = c.regex(s.SafeRegexMatch)
	default:
		err = fmt.Errorf("unsupported header matcher %T", s)
	}
	if err != nil {
		return hm, fmt.Errorf("header %q: %w", hm.name, err)
	}
	return hm, nil
}

func (h *headerMatcher) match(code string, headers Headers) bool {
	var v string
	var ok bool
	if h.name == wellknown.CodeHeader {
		v, ok = code, true
	} else if headers != nil {
		v, ok = headers.Header(h.name)
	}
	if !ok {
		if !h.missingEmpty {
			if h.kind != hdrPresent {
				return false
			}
			return h.present == h.invert
		}
		v = ""
	}
	var m bool
	switch h.kind {
	case hdrPresent:
		m = h.present
	case hdrRange:
		n, err := strconv.ParseInt(v, 10, 64)
		m = err == nil && n >= h.start && n < h.end
	default:
		m = h.str.match(v)
	}
	return m != h.invert
}

func (h *headerMatcher) String() string {
	var s string
	switch h.kind {
	case hdrPresent:
		s = h.name + " present:" + strconv.FormatBool(h.present)
	case hdrRange:
		s = fmt.Sprintf("%s range:[%d,%d)", h.name, h.start, h.end)
	default:
		s = h.name + " " + h.str.String()
	}
	if h.invert {
		s = "!(" + s + ")"
	}
	if h.missingEmpty {
		s += " treat_missing_as_empty"
	}
	return s
}

// maxRegexSet bounds the language of a regex turned into a set lookup.
const maxRegexSet = 64

// optimizeRegex replaces a regex whose language is a small finite set of
// strings, such as the code matcher "10|310|320", by a set lookup, and the
// catch-all ".*" by a scan for a newline: same result, a fraction of the cost.
func (m *stringMatcher) optimizeRegex() {
	t, err := syntax.Parse(m.pattern, syntax.Perl)
	if err != nil {
		return
	}
	t = t.Simplify()
	// ".*", the catch-all, needs no regex: see strLine.
	star := t
	for star.Op == syntax.OpCapture {
		star = star.Sub[0]
	}
	if star.Op == syntax.OpStar && star.Sub[0].Op == syntax.OpAnyCharNotNL {
		m.kind = strLine
		return
	}
	if star.Op == syntax.OpStar && star.Sub[0].Op == syntax.OpAnyChar {
		m.kind = strAll
		return
	}
	words, ok := regexLanguage(t)
	if !ok {
		return
	}
	m.kind, m.set = strSet, make(map[string]struct{}, len(words))
	for _, w := range words {
		m.set[w] = struct{}{}
	}
}

// regexLanguage returns every string t matches if there are at most
// maxRegexSet of them and t has no case folding, anchors or other
// assertions.
func regexLanguage(t *syntax.Regexp) ([]string, bool) {
	switch t.Op {
	case syntax.OpEmptyMatch:
		return []string{""}, true
	case syntax.OpLiteral:
		if t.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []string{string(t.Rune)}, true
	case syntax.OpCapture:
		return regexLanguage(t.Sub[0])
	case syntax.OpQuest:
		w, ok := regexLanguage(t.Sub[0])
		return append(w, ""), ok && len(w) < maxRegexSet
	case syntax.OpCharClass:
		var w []string
		for i := 0; i+1 < len(t.Rune); i += 2 {
			for r := t.Rune[i]; r <= t.Rune[i+1]; r++ {
				if len(w) == maxRegexSet {
					return nil, false
				}
				w = append(w, string(r))
			}
		}
		return w, true
	case syntax.OpAlternate:
		var w []string
		for _, sub := range t.Sub {
			sw, ok := regexLanguage(sub)
			if !ok || len(w)+len(sw) > maxRegexSet {
				return nil, false
			}
			w = append(w, sw...)
		}
		return w, true
	case syntax.OpConcat:
		w := []string{""}
		for _, sub := range t.Sub {
			sw, ok := regexLanguage(sub)
			if !ok || len(w)*len(sw) > maxRegexSet {
				return nil, false
			}
			next := make([]string, 0, len(w)*len(sw))
			for _, a := range w {
				for _, b := range sw {
					next = append(next, a+b)
				}
			}
			w = next
		}
		return w, true
	}
	return nil, false
}
