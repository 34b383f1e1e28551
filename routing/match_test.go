//lint:file-ignore SA1019 tests cover the deprecated legacy header matchers on purpose.

package routing

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	rocketmqv3 "github.com/envoyproxy/go-control-plane/contrib/envoy/extensions/filters/network/rocketmq_proxy/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	matcherv3 "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"

	"github.com/rmqmesh/rmqmesh/wellknown"
)

func TestSnapshot_TopicMatchers(t *testing.T) {
	sm := func(ignoreCase bool, p any) *matcherv3.StringMatcher {
		m := &matcherv3.StringMatcher{IgnoreCase: ignoreCase}
		switch p := p.(type) {
		case *matcherv3.StringMatcher_Exact:
			m.MatchPattern = p
		case *matcherv3.StringMatcher_Prefix:
			m.MatchPattern = p
		case *matcherv3.StringMatcher_Suffix:
			m.MatchPattern = p
		case *matcherv3.StringMatcher_Contains:
			m.MatchPattern = p
		case *matcherv3.StringMatcher_SafeRegex:
			m.MatchPattern = p
		}
		return m
	}
	ex := func(s string) any { return &matcherv3.StringMatcher_Exact{Exact: s} }
	pre := func(s string) any { return &matcherv3.StringMatcher_Prefix{Prefix: s} }
	suf := func(s string) any { return &matcherv3.StringMatcher_Suffix{Suffix: s} }
	con := func(s string) any { return &matcherv3.StringMatcher_Contains{Contains: s} }
	re := func(s string) any {
		return &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: s}}
	}
	tests := []struct {
		name    string
		matcher *matcherv3.StringMatcher
		match   []string
		noMatch []string
	}{
		{"nil matches any", nil, []string{"", "orders"}, nil},
		{"exact", sm(false, ex("orders")), []string{"orders"}, []string{"Orders", "orders2", "order", ""}},
		{"exact ignore_case", sm(true, ex("Orders")), []string{"orders", "ORDERS", "oRdErS"}, []string{"orders2", "order"}},
		{"prefix", sm(false, pre("ord")), []string{"ord", "orders"}, []string{"Orders", "or", "xorders"}},
		{"prefix ignore_case", sm(true, pre("ORD")), []string{"orders", "ORDERS"}, []string{"xord"}},
		{"empty prefix", sm(false, pre("")), []string{"", "anything"}, nil},
		{"suffix", sm(false, suf("-dlq")), []string{"orders-dlq"}, []string{"orders-DLQ", "dlq"}},
		{"suffix ignore_case", sm(true, suf("-DLQ")), []string{"orders-dlq", "x-Dlq"}, []string{"orders"}},
		{"contains", sm(false, con("der")), []string{"orders", "der"}, []string{"oRDERs", "de"}},
		{"contains ignore_case", sm(true, con("DER")), []string{"orders", "xDeRx"}, []string{"de"}},
		{"safe_regex full match", sm(false, re("ord(er)?s")), []string{"ords", "orders"}, []string{"xorders", "orders1", "Orders"}},
		{"safe_regex ignores ignore_case", sm(true, re("orders")), []string{"orders"}, []string{"ORDERS"}},
		{"safe_regex alternation is anchored", sm(false, re("a|b")), []string{"a", "b"}, []string{"ab", "xa"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a"}}})
			in.RouteConfig = rc("rc", rt(t, tc.matcher, "brokers", nil))
			s := mustSnapshot(t, in)
			for _, topic := range tc.match {
				if _, err := s.Match(topic, 10, nil); err != nil {
					t.Errorf("Match(%q) failed: %v, want a match", topic, err)
				}
			}
			for _, topic := range tc.noMatch {
				if _, err := s.Match(topic, 10, nil); KindOf(err) != KindNoRoute {
					t.Errorf("Match(%q) = %v, want a %v error", topic, err, KindNoRoute)
				}
			}
		})
	}
}

func TestSnapshot_HeaderMatchers(t *testing.T) {
	str := func(m *matcherv3.StringMatcher) *routev3.HeaderMatcher {
		return &routev3.HeaderMatcher{HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: m}}
	}
	tests := []struct {
		name    string
		h       *routev3.HeaderMatcher // Name is set to "tag" unless given
		headers []map[string]string    // each must match
		not     []map[string]string    // each must not match
	}{
		{
			name:    "string_match exact",
			h:       str(exact("blue")),
			headers: []map[string]string{{"tag": "blue"}},
			not:     []map[string]string{{"tag": "Blue"}, {"tag": "blue2"}, {}, nil},
		},
		{
			name:    "string_match prefix ignore_case",
			h:       str(&matcherv3.StringMatcher{IgnoreCase: true, MatchPattern: &matcherv3.StringMatcher_Prefix{Prefix: "BL"}}),
			headers: []map[string]string{{"tag": "blue"}, {"tag": "BLACK"}},
			not:     []map[string]string{{"tag": "abl"}, {}},
		},
		{
			name:    "string_match suffix",
			h:       str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Suffix{Suffix: "ue"}}),
			headers: []map[string]string{{"tag": "blue"}},
			not:     []map[string]string{{"tag": "blues"}},
		},
		{
			name:    "string_match contains",
			h:       str(&matcherv3.StringMatcher{MatchPattern: &matcherv3.StringMatcher_Contains{Contains: "lu"}}),
			headers: []map[string]string{{"tag": "blue"}},
			not:     []map[string]string{{"tag": "bleu"}},
		},
		{
			name:    "string_match safe_regex",
			h:       str(regex("b.*e")),
			headers: []map[string]string{{"tag": "blue"}, {"tag": "be"}},
			not:     []map[string]string{{"tag": "blues"}},
		},
		{
			name:    "legacy exact_match",
			h:       &routev3.HeaderMatcher{HeaderMatchSpecifier: &routev3.HeaderMatcher_ExactMatch{ExactMatch: "blue"}},
			headers: []map[string]string{{"tag": "blue"}},
			not:     []map[string]string{{"tag": "BLUE"}, {}},
		},
		{
			name:    "legacy prefix_match",
			h:       &routev3.HeaderMatcher{HeaderMatchSpecifier: &routev3.HeaderMatcher_PrefixMatch{PrefixMatch: "bl"}},
			headers: []map[string]string{{"tag": "blue"}},
			not:     []map[string]string{{"tag": "xblue"}},
		},
		{
			name:    "legacy suffix_match",
			h:       &routev3.HeaderMatcher{HeaderMatchSpecifier: &routev3.HeaderMatcher_SuffixMatch{SuffixMatch: "ue"}},
			headers: []map[string]string{{"tag": "blue"}},
			not:     []map[string]string{{"tag": "bluex"}},
		},
		{
			name:    "legacy contains_match",
			h:       &routev3.HeaderMatcher{HeaderMatchSpecifier: &routev3.HeaderMatcher_ContainsMatch{ContainsMatch: "lu"}},
			headers: []map[string]string{{"tag": "blue"}},
			not:     []map[string]string{{"tag": "bxue"}},
		},
		{
			name:    "legacy safe_regex_match",
			h:       &routev3.HeaderMatcher{HeaderMatchSpecifier: &routev3.HeaderMatcher_SafeRegexMatch{SafeRegexMatch: &matcherv3.RegexMatcher{Regex: "[a-z]+"}}},
			headers: []map[string]string{{"tag": "blue"}},
			not:     []map[string]string{{"tag": "blue1"}},
		},
		{
			name:    "present_match true",
			h:       &routev3.HeaderMatcher{HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}},
			headers: []map[string]string{{"tag": ""}, {"tag": "x"}},
			not:     []map[string]string{{}, {"other": "x"}},
		},
		{
			name:    "present_match false matches absence",
			h:       &routev3.HeaderMatcher{HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: false}},
			headers: []map[string]string{{}},
			not:     []map[string]string{{"tag": "x"}},
		},
		{
			name:    "present_match inverted",
			h:       &routev3.HeaderMatcher{InvertMatch: true, HeaderMatchSpecifier: &routev3.HeaderMatcher_PresentMatch{PresentMatch: true}},
			headers: []map[string]string{{}},
			not:     []map[string]string{{"tag": "x"}},
		},
		{
			name:    "no specifier means present",
			h:       &routev3.HeaderMatcher{},
			headers: []map[string]string{{"tag": "x"}},
			not:     []map[string]string{{}},
		},
		{
			name:    "invert_match on a value; a missing header still does not match",
			h:       &routev3.HeaderMatcher{InvertMatch: true, HeaderMatchSpecifier: &routev3.HeaderMatcher_ExactMatch{ExactMatch: "blue"}},
			headers: []map[string]string{{"tag": "red"}},
			not:     []map[string]string{{"tag": "blue"}, {}},
		},
		{
			name:    "treat_missing_header_as_empty",
			h:       &routev3.HeaderMatcher{TreatMissingHeaderAsEmpty: true, HeaderMatchSpecifier: &routev3.HeaderMatcher_StringMatch{StringMatch: regex("")}},
			headers: []map[string]string{{}, {"tag": ""}},
			not:     []map[string]string{{"tag": "x"}},
		},
		{
			name:    "range_match [10, 20)",
			h:       &routev3.HeaderMatcher{HeaderMatchSpecifier: &routev3.HeaderMatcher_RangeMatch{RangeMatch: &typev3.Int64Range{Start: 10, End: 20}}},
			headers: []map[string]string{{"tag": "10"}, {"tag": "19"}},
			not:     []map[string]string{{"tag": "20"}, {"tag": "9"}, {"tag": "x"}, {}},
		},
		{
			name:    "code header from the request code",
			h:       &routev3.HeaderMatcher{Name: wellknown.CodeHeader, HeaderMatchSpecifier: &routev3.HeaderMatcher_ExactMatch{ExactMatch: "10"}},
			headers: []map[string]string{{"code": "10"}, {"code": "11"}}, // the passed "code" is overridden by code 10
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.h
			if h.Name == "" {
				h.Name = "tag"
			}
			in := oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a"}}})
			in.RouteConfig = rc("rc", rt(t, exact("orders"), "brokers", nil, h))
			s := mustSnapshot(t, in)
			for _, hs := range tc.headers {
				if _, err := s.Match("orders", 10, hs); err != nil {
					t.Errorf("Match(headers %v) failed: %v, want a match", hs, err)
				}
				if _, err := s.MatchHeaders("orders", 10, lookupHeaders(hs)); err != nil {
					t.Errorf("MatchHeaders(headers %v) failed: %v, want a match", hs, err)
				}
			}
			for _, hs := range tc.not {
				if _, err := s.Match("orders", 10, hs); KindOf(err) != KindNoRoute {
					t.Errorf("Match(headers %v) = %v, want a %v error", hs, err, KindNoRoute)
				}
				if _, err := s.MatchHeaders("orders", 10, lookupHeaders(hs)); KindOf(err) != KindNoRoute {
					t.Errorf("MatchHeaders(headers %v) = %v, want a %v error", hs, err, KindNoRoute)
				}
			}
		})
	}
}

func TestSnapshot_InvalidConfig(t *testing.T) {
	tests := []struct {
		name    string
		route   *rocketmqv3.Route
		wantMsg string
	}{
		{
			name:    "bad topic regex",
			route:   rt(t, regex("(orders"), "brokers", nil),
			wantMsg: `routing: listener "rmq-prod": route config "rc": routes[1]: topic: safe_regex "(orders": `,
		},
		{
			name:    "bad header regex",
			route:   rt(t, exact("orders"), "brokers", nil, codeIn("[")),
			wantMsg: `routing: listener "rmq-prod": route config "rc": routes[1]: header "code": safe_regex "[": `,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a"}}})
			in.Listener = "rmq-prod"
			in.RouteConfig = rc("rc", rt(t, exact("ok"), "brokers", nil), tc.route)
			s, err := NewSnapshot(in)
			if s != nil || KindOf(err) != KindInvalidConfig {
				t.Fatalf("NewSnapshot() = %v, %v; want a %v error", s, err, KindInvalidConfig)
			}
			if !strings.HasPrefix(err.Error(), tc.wantMsg) {
				t.Errorf("NewSnapshot() error = %q, want prefix %q", err, tc.wantMsg)
			}
		})
	}
}

func TestSnapshot_FirstMatchWins(t *testing.T) {
	// Exact, ignore-case exact and scanned routes interleave; the index must
	// keep the configured order.
	in := oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a"}}})
	in.RouteConfig = rc("rc",
		rt(t, prefix("ord"), "brokers", nil, codeIn("11")),   // 0
		rt(t, exact("orders"), "brokers", nil, codeIn("10")), // 1
		rt(t, &matcherv3.StringMatcher{IgnoreCase: true, MatchPattern: &matcherv3.StringMatcher_Exact{Exact: "ORDERS"}}, "brokers", nil, codeIn("10|11|12")), // 2
		rt(t, exact("orders"), "brokers", nil), // 3
		rt(t, prefix(""), "brokers", nil),      // 4
	)
	s := mustSnapshot(t, in)
	tests := []struct {
		topic string
		code  int32
		want  int
	}{
		{"orders", 11, 0},
		{"orders", 10, 1},
		{"orders", 12, 2},
		{"ORDERS", 12, 2},
		{"Orders", 10, 2},
		{"orders", 13, 3},
		{"Orders", 13, 4},
		{"other", 10, 4},
		{"order", 11, 0},
	}
	for _, tc := range tests {
		r, err := s.Match(tc.topic, tc.code, nil)
		if err != nil {
			t.Errorf("Match(%q, %d) failed: %v", tc.topic, tc.code, err)
			continue
		}
		if r.Index() != tc.want {
			t.Errorf("Match(%q, %d) = route %d, want route %d", tc.topic, tc.code, r.Index(), tc.want)
		}
	}
}

// TestSnapshot_IndexEqualsScan checks the indexed match against a plain
// ordered scan on random route tables.
func TestSnapshot_IndexEqualsScan(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	topics := []string{"a", "b", "A", "ab", "ba", "abc", "B"}
	randMatcher := func() *matcherv3.StringMatcher {
		p := topics[rnd.IntN(len(topics))]
		m := &matcherv3.StringMatcher{IgnoreCase: rnd.IntN(3) == 0}
		switch rnd.IntN(5) {
		case 0, 1:
			m.MatchPattern = &matcherv3.StringMatcher_Exact{Exact: p}
		case 2:
			m.MatchPattern = &matcherv3.StringMatcher_Prefix{Prefix: p}
		case 3:
			m.MatchPattern = &matcherv3.StringMatcher_Suffix{Suffix: p}
		default:
			m.MatchPattern = &matcherv3.StringMatcher_SafeRegex{SafeRegex: &matcherv3.RegexMatcher{Regex: p + ".*"}}
		}
		return m
	}
	for iter := 0; iter < 200; iter++ {
		in := oneCluster(t, loc{eps: []ep{{addr: "10.0.0.1", broker: "broker-a"}}})
		cfg := rc("rc")
		for i := rnd.IntN(12); i >= 0; i-- {
			var hs []*routev3.HeaderMatcher
			if rnd.IntN(3) == 0 {
				hs = append(hs, codeIn(fmt.Sprint(10+rnd.IntN(2))))
			}
			cfg.Routes = append(cfg.Routes, rt(t, randMatcher(), "brokers", nil, hs...))
		}
		in.RouteConfig = cfg
		s := mustSnapshot(t, in)
		for _, topic := range topics {
			for _, code := range []int32{10, 11} {
				want := -1
				for i, r := range s.inline.routes {
					if r.matches(topic, codeString(code), nil) {
						want = i
						break
					}
				}
				got := -1
				if r, err := s.Match(topic, code, nil); err == nil {
					got = r.Index()
				}
				if got != want {
					t.Fatalf("iteration %d: Match(%q, %d) = route %d, want route %d (routes %v)", iter, topic, code, got, want, cfg.Routes)
				}
			}
		}
	}
}

// lookupHeaders is Headers backed by a lookup function, as a relay reading a
// frame provides them.
type lookupHeaders map[string]string

func (l lookupHeaders) Header(name string) (string, bool) {
	for k, v := range l {
		if k == name {
			return v, true
		}
	}
	return "", false
}
