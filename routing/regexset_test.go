package routing

import (
	"regexp"
	"testing"
)

func TestSnapshot_RegexSetOptimization(t *testing.T) {
	tests := []struct {
		re      string
		wantSet bool
	}{
		{"10|310|320", true},
		{"1[01]", true},
		{"(10|11)?", true},
		{"3[0-2]0", true},
		{"abc", true},
		{"", true},
		{"(?i)abc", false},
		{"a*", false},
		{"[0-9]+", false},
		{"^a$", false},
		{"[a-z][a-z][a-z]", false},
		{".", false},
	}
	inputs := []string{"", "10", "11", "310", "320", "300", "3100", "1", "abc", "ABC", "a", "aa", "x", "^a$", "0", "01"}
	for _, tc := range tests {
		m := stringMatcher{kind: strRegex, pattern: tc.re, re: regexp.MustCompile(`^(?:` + tc.re + `)$`)}
		m.optimizeRegex()
		if got := m.kind == strSet; got != tc.wantSet {
			t.Errorf("regex %q: set optimization = %v, want %v", tc.re, got, tc.wantSet)
		}
		for _, in := range inputs {
			if got, want := m.match(in), m.re.MatchString(in); got != want {
				t.Errorf("regex %q on %q: match = %v, regexp says %v", tc.re, in, got, want)
			}
		}
	}
}
