package routing

import (
	"regexp"
	"testing"
)

func TestSnapshot_RegexSetOptimization(t *testing.T) {
	tests := []struct {
		re       string
		wantSet  bool
		wantKind stringKind // when not a set: strRegex when not given
	}{
		{re: ".*", wantKind: strLine},
		{re: "(?s).*", wantKind: strAll},
		{re: "(.*)", wantKind: strLine},
		{re: ".+", wantKind: strRegex},
		{re: "a.*", wantKind: strRegex},
		{re: "10|310|320", wantSet: true},
		{re: "1[01]", wantSet: true},
		{re: "(10|11)?", wantSet: true},
		{re: "3[0-2]0", wantSet: true},
		{re: "abc", wantSet: true},
		{re: "", wantSet: true},
		{re: "(?i)abc", wantSet: false},
		{re: "a*", wantSet: false},
		{re: "[0-9]+", wantSet: false},
		{re: "^a$", wantSet: false},
		{re: "[a-z][a-z][a-z]", wantSet: false},
		{re: ".", wantSet: false},
	}
	inputs := []string{"", "10", "11", "310", "320", "300", "3100", "1", "abc", "ABC", "a", "aa", "x", "^a$", "0", "01", "a\nb", "\n", "%RETRY%g"}
	for _, tc := range tests {
		m := stringMatcher{kind: strRegex, pattern: tc.re, re: regexp.MustCompile(`^(?:` + tc.re + `)$`)}
		m.optimizeRegex()
		if got := m.kind == strSet; got != tc.wantSet {
			t.Errorf("regex %q: set optimization = %v, want %v", tc.re, got, tc.wantSet)
		}
		if want := tc.wantKind; !tc.wantSet {
			if want == strAny { // not given
				want = strRegex
			}
			if m.kind != want {
				t.Errorf("regex %q: matcher kind %d, want %d", tc.re, m.kind, want)
			}
		}
		if m.String() != "safe_regex:"+quote(tc.re) {
			t.Errorf("regex %q: shown as %s", tc.re, m.String())
		}
		for _, in := range inputs {
			if got, want := m.match(in), m.re.MatchString(in); got != want {
				t.Errorf("regex %q on %q: match = %v, regexp says %v", tc.re, in, got, want)
			}
		}
	}
}
